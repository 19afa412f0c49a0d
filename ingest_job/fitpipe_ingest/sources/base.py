"""The interface every file-format source implements (one module per format, listed in the registry).

A source module defines a `SOURCE` object with:
  name         'wearipedia', 'takeout', 'fitabase', ...
  description  one line for `fitpipe ingest --help` and docs
  detect(tree) -> int              0 when the tree is not in this format, higher = more confident
  plan(tree)   -> Plan             the files it reads (in load order) and the files it does not know
  parse(tree, path, ctx) -> ParsedFile
                                   samples, sleep sessions and rejected records of one file;
                                   raises fitpipe.errors.InputError when the whole file is unreadable
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.tree import InputTree

__all__ = ["Plan", "FileSource"]


@dataclass
class Plan:
    files: list[str] = field(default_factory=list)
    """Files this source reads, in the order they should be loaded."""
    unknown: list[str] = field(default_factory=list)
    """Files it does not know: listed in the summary and skipped, never fatal."""


class FileSource(Protocol):
    name: str
    description: str

    def detect(self, tree: InputTree) -> int: ...

    def plan(self, tree: InputTree) -> Plan: ...

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile: ...
