"""The pipeline's knobs, read from the one settings object: load options per source, file rules, tree limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fitpipe.settings import Settings, get_settings
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.pipeline.files import FileRules
from fitpipe_ingest.tree import TreeLimits

__all__ = ["RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    full: bool = False
    """Re-read files loaded before and merge every row."""
    run_id: int | None = None
    settings: Settings | None = None

    @property
    def _settings(self) -> Settings:
        return self.settings or get_settings()

    def load_options(self) -> Callable[[str], LoadOptions]:
        s = self._settings
        return lambda source: LoadOptions(
            source=source,
            lag=s.ingest_lag,
            full=self.full,
            run_id=self.run_id,
            chunk_rows=s.fitpipe_chunk_rows,
            plausible_start=s.fitpipe_ingest_plausible_start,
            plausible_future=s.plausible_future,
        )

    def file_rules(self) -> FileRules:
        s = self._settings
        return FileRules(
            max_rejected_share=s.fitpipe_ingest_max_rejected_share,
            hold_bytes=s.fitpipe_ingest_hold_bytes,
            chunk_bytes=s.fitpipe_ingest_chunk_bytes,
            full=self.full,
        )

    def tree_limits(self) -> TreeLimits:
        s = self._settings
        return TreeLimits(
            max_file_bytes=s.fitpipe_ingest_max_file_bytes,
            max_archive_bytes=s.fitpipe_ingest_max_archive_bytes,
            max_ratio=s.fitpipe_ingest_max_compression_ratio,
            max_depth=s.fitpipe_ingest_max_archive_depth,
        )
