"""The list of file-format sources and format detection. A new wearable format is one module plus one line here."""

from __future__ import annotations

import importlib

from fitpipe.errors import UnknownFormatError
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.tree import InputTree

__all__ = ["SOURCE_MODULES", "get_source", "all_sources", "detect_source"]

SOURCE_MODULES: dict[str, str] = {
    "wearipedia": "fitpipe_ingest.sources.wearipedia",
    "takeout": "fitpipe_ingest.sources.takeout",
    "fitabase": "fitpipe_ingest.sources.fitabase",
    "long_csv": "fitpipe_ingest.sources.long_csv",
}


def get_source(name: str) -> FileSource:
    try:
        module = importlib.import_module(SOURCE_MODULES[name])
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}", hint="use one of: auto, " + ", ".join(SOURCE_MODULES)
        ) from None
    return module.SOURCE  # type: ignore[no-any-return]


def all_sources() -> list[FileSource]:
    return [get_source(name) for name in SOURCE_MODULES]


def detect_source(tree: InputTree) -> FileSource:
    scored = sorted(((src.detect(tree), src.name, src) for src in all_sources()), key=lambda t: -t[0])
    best = scored[0] if scored else None
    if best is None or best[0] <= 0:
        sample = ", ".join(tree.paths()[:8]) or "no files"
        raise UnknownFormatError(
            f"{tree.label}: no known format recognised (it holds: {sample})",
            hint="pass --format wearipedia|takeout|fitabase|long_csv, or check that this is the export's top folder",
        )
    return best[2]
