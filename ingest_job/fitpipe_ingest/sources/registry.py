"""The list of file-format sources and the plan of an input: which source reads which file.

A new wearable format is one package plus one line here. With `--format auto` every file goes to the
first source (in this order) that claims it, so one input may mix formats and layouts; a file nobody
claims is listed as not known, with what it looked like.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from fitpipe.errors import UnknownFormatError
from fitpipe_ingest.sources.base import FileSource, is_documentation
from fitpipe_ingest.tree import InputTree

__all__ = ["SOURCE_MODULES", "get_source", "all_sources", "detect_source", "TreePlan", "plan_tree"]

SOURCE_MODULES: dict[str, str] = {
    "takeout": "fitpipe_ingest.sources.takeout",
    "fitabase": "fitpipe_ingest.sources.fitabase",
    "wearipedia": "fitpipe_ingest.sources.wearipedia",
    "long_csv": "fitpipe_ingest.sources.long_csv",
}
"""In the order files are offered to them: the most specific file names first."""


def get_source(name: str) -> FileSource:
    try:
        module = importlib.import_module(SOURCE_MODULES[name])
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}", hint="use one of: auto, " + ", ".join(SOURCE_MODULES)
        ) from None
    return module.SOURCE


def all_sources() -> list[FileSource]:
    return [get_source(name) for name in SOURCE_MODULES]


@dataclass
class TreePlan:
    groups: list[tuple[FileSource, list[str]]] = field(default_factory=list)
    """Each source with its files, in load order."""
    unknown: list[str] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(len(paths) for _, paths in self.groups)


def plan_tree(tree: InputTree, fmt: str = "auto", exclude: set[str] | None = None) -> TreePlan:
    """Which source reads which file of the tree (but the files in `exclude`: known unchanged, say)."""
    sources = all_sources() if fmt == "auto" else [get_source(fmt)]
    claimed: dict[str, list[str]] = {s.name: [] for s in sources}
    plan = TreePlan()
    for path in tree.paths():
        if exclude and path in exclude:
            continue
        if is_documentation(path):
            plan.documentation.append(path)
            continue
        owner = next((s for s in sources if s.claims(tree, path)), None)
        if owner is None:
            plan.unknown.append(path)
        else:
            claimed[owner.name].append(path)
    plan.groups = [(s, s.load_order(claimed[s.name])) for s in sources if claimed[s.name]]
    return plan


def detect_source(tree: InputTree) -> FileSource:
    """The source that reads most of the tree's files (for a tree of one format)."""
    plan = plan_tree(tree)
    if not plan.groups:
        sample = ", ".join(tree.paths()[:8]) or "no files"
        raise UnknownFormatError(
            f"{tree.label}: no known format recognised (it holds: {sample})",
            hint="pass --format wearipedia|takeout|fitabase|long_csv, or check that this is the export's top folder",
        )
    return max(plan.groups, key=lambda group: len(group[1]))[0]
