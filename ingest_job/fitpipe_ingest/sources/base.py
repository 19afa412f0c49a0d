"""The interface every file-format source implements (one package per format, listed in the registry).

A source claims files one by one, by name and, where a name alone could mislead, by content, wherever
they sit in the input (any folder depth, inside archives); so an input may mix layouts and formats.
A source package defines a `SOURCE` object, a subclass of FileSource with:
  name         'wearipedia', 'takeout', 'fitabase', ...
  description  one line for `fitpipe ingest --help` and docs
  claims(tree, path) -> bool          whether the file is one this source reads
  load_order(paths) -> list[str]      its files in the order they should be loaded
  parse(tree, path, ctx) -> ParsedFile
                                   samples, sleep sessions and rejected records of one file;
                                   raises fitpipe.errors.InputError when the whole file is unreadable
  parse_pieces(tree, path, ctx)    the same in pieces, for files too big to hold (default: one piece)
Bad lines and records never raise: they become Rejected records (see sources/toolkit).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.tree import InputTree

__all__ = ["Plan", "FileSource", "is_documentation"]


@dataclass
class Plan:
    files: list[str] = field(default_factory=list)
    """Files this source reads, in the order they should be loaded."""
    unknown: list[str] = field(default_factory=list)
    """Files it does not read: listed in the summary with what they looked like, never fatal."""
    documentation: list[str] = field(default_factory=list)
    """README files of the exports: neither read nor reported."""


def is_documentation(path: str) -> bool:
    """The README .txt files exporters put beside the data (Fitbit writes one per folder)."""
    name = PurePosixPath(path).name.lower()
    return name.endswith(".txt") and "readme" in name


class FileSource:
    name: str = ""
    description: str = ""

    def claims(self, tree: InputTree, path: str) -> bool:
        raise NotImplementedError

    def load_order(self, paths: list[str]) -> list[str]:
        return sorted(paths)

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        raise NotImplementedError

    def parse_pieces(self, tree: InputTree, path: str, ctx: ParseContext) -> Iterator[ParsedFile]:
        """The file's records in pieces that each fit in memory; a piece's line numbers are the file's."""
        yield self.parse(tree, path, ctx)

    def plan(self, tree: InputTree) -> Plan:
        """What this source would read of a whole tree, by itself."""
        plan = Plan()
        for path in tree.paths():
            if is_documentation(path):
                plan.documentation.append(path)
            elif self.claims(tree, path):
                plan.files.append(path)
            else:
                plan.unknown.append(path)
        plan.files = self.load_order(plan.files)
        return plan

    def detect(self, tree: InputTree) -> int:
        """How many files of the tree this source reads (0: none)."""
        return len(self.plan(tree).files)
