"""What one takeout file yields, gathered while parsing: sample batches per metric and rejected records.

Record locators: 'line N' for CSV (1-based, the header is line 1) and 'record K' for JSON arrays
(K is the 0-based array index, the same number SampleBatch.item carries for its samples).
"""

from __future__ import annotations

import numpy as np

from fitpipe.catalog import BY_NAME
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected, SampleBatch, SleepSession

__all__ = ["Collector", "RAW_LIMIT"]

RAW_LIMIT = 1000


class Collector:
    def __init__(self, path: str, kind: str, ctx: ParseContext) -> None:
        self.path = path
        self.ctx = ctx
        self.parsed = ParsedFile(file=path, kind=kind)

    def read(self, records: int) -> None:
        self.parsed.records_read += int(records)

    def reject(self, record: str, field: str, reason: str, raw: str, kind: str = "") -> None:
        self.parsed.rejected.append(
            Rejected(
                file=self.path, record=record, field=field, reason=reason, raw=raw[:RAW_LIMIT], kind=kind
            )
        )

    def add(
        self,
        metric: str,
        ts: np.ndarray,
        value: np.ndarray,
        *,
        line: np.ndarray | None = None,
        item: np.ndarray | None = None,
    ) -> None:
        if metric not in BY_NAME:  # a programming error, not an input problem
            raise ValueError(f"{metric!r} is not a catalog metric")
        if len(ts) == 0:
            return
        self.parsed.batches.append(SampleBatch(metric, ts, value, self.path, line=line, item=item))

    def add_sleep(self, session: SleepSession) -> None:
        self.parsed.sleep.append(session)

    def result(self) -> ParsedFile:
        return self.parsed
