"""What one file yields while a source reads it: sample batches, sleep sessions, rejected records; the one
place where wall-clock times become instants and daily values get their day's start.

Record locators: 'line N' for CSV (1-based, the header is line 1), 'line N, item K' for lists inside a
CSV cell, 'record K' for JSON arrays (K is the 0-based array index, the number SampleBatch.item carries).
A streamed file hands its records over piece by piece (`take`); the wall clocks keep their state from
piece to piece, so a repeated DST hour that straddles two pieces resolves as in a file read whole.
"""

from __future__ import annotations

from collections.abc import Hashable
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe.catalog import BY_NAME
from fitpipe.localtime import WallClock, day_starts_utc
from fitpipe_ingest.records import (
    ParseContext,
    ParsedFile,
    Rejected,
    SampleBatch,
    SleepSession,
    concat_batches,
)
from fitpipe_ingest.sources.toolkit.csv_reader import CsvTable, read_csv
from fitpipe_ingest.sources.toolkit.text import short
from fitpipe_ingest.tree import InputTree

__all__ = ["Collector"]


class Collector:
    def __init__(self, path: str, kind: str, ctx: ParseContext) -> None:
        self.path = path
        self.kind = kind
        self.ctx = ctx
        self._clocks: dict[Hashable, WallClock] = {}
        self._reset()

    def _reset(self) -> None:
        self._batches: list[SampleBatch] = []
        self.rejected: list[Rejected] = []
        self.sleep: list[SleepSession] = []
        self.records = 0
        self.others: dict[str, int] = {}
        """Rows of other participants passed over (ingesting for one participant), per id."""

    @property
    def zone(self) -> ZoneInfo:
        return self.ctx.timezone

    def pass_over(self, participant: str, rows: int = 1) -> None:
        """Rows of another participant, neither read nor counted (ingesting for one participant)."""
        self.others[participant] = self.others.get(participant, 0) + rows

    def read(self, records: int) -> None:
        """Count records read (samples, sleep logs, rejected) for the file's rejected share."""
        self.records += int(records)

    def reject(
        self,
        record: str,
        field: str,
        reason: str,
        raw: str,
        kind: str = "",
        participant: str | None = None,
    ) -> None:
        self.rejected.append(
            Rejected(self.path, record, field, reason, raw, participant=participant, kind=kind)
        )

    def read_csv(self, tree: InputTree, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
        """The file as one CSV table; its malformed lines are rejected and every line counts as read."""
        table = read_csv(tree.read_bytes(self.path), self.path, columns, optional)
        self.add_table(table)
        return table

    def add_table(self, table: CsvTable) -> None:
        """Count a table's rows and malformed lines as read; reject the malformed lines."""
        self.read(len(table) + len(table.rejected))
        self.rejected.extend(table.rejected)

    def reject_cells(
        self,
        table: CsvTable,
        rows: np.ndarray,
        column: str,
        reason: str,
        kind: str,
        participant: str | None = None,
    ) -> None:
        """Reject table rows for one cell each; `reason` may quote the cell as {cell} (shortened)."""
        cells = table.columns[column]
        for r in np.asarray(rows, dtype=np.int64).tolist():
            self.reject(
                f"line {int(table.lines[r])}",
                column,
                reason.format(cell=short(cells[r].as_py())),
                table.raw(r),
                kind,
                participant,
            )

    def to_utc(self, local_us: np.ndarray, series: Hashable = None) -> tuple[np.ndarray, np.ndarray]:
        """(UTC µs, mask of wall-clock times that do not exist in the participant's zone) of one series,
        in reading order; each series (a participant's column, say) keeps its own clock."""
        clock = self._clocks.get(series)
        if clock is None:
            clock = self._clocks[series] = WallClock(self.zone)
        return clock.to_utc(local_us)

    def add(
        self,
        metric: str,
        ts: np.ndarray,
        value: np.ndarray,
        *,
        line: np.ndarray | None = None,
        item: np.ndarray | None = None,
        participant: str | None = None,
        time_field: str = "time",
    ) -> None:
        """Samples at UTC instants (int64 µs); time_field names where the times came from."""
        if metric not in BY_NAME:  # a programming error, not an input problem
            raise ValueError(f"{metric!r} is not a catalog metric")
        if len(ts) == 0:
            return
        self._batches.append(
            SampleBatch(
                metric,
                ts,
                value,
                self.path,
                line=line,
                item=item,
                participant=participant,
                time_field=time_field,
            )
        )

    def add_daily(
        self,
        metric: str,
        days: np.ndarray,
        value: np.ndarray,
        *,
        line: np.ndarray | None = None,
        item: np.ndarray | None = None,
        participant: str | None = None,
        time_field: str = "date",
    ) -> None:
        """Daily values of local days (counted from 1970-01-01), stored at each day's first instant."""
        days = np.asarray(days, dtype=np.int64)
        self.add(
            metric,
            day_starts_utc(days, self.zone),
            value,
            line=line,
            item=item,
            participant=participant,
            time_field=time_field,
        )

    def add_sleep(self, session: SleepSession) -> None:
        self.sleep.append(session)

    def take(self) -> ParsedFile:
        """Everything gathered since the last take, one batch per (metric, participant) in order of appearance."""
        groups: dict[tuple[str, str | None], list[SampleBatch]] = {}
        for batch in self._batches:
            groups.setdefault((batch.metric, batch.participant), []).append(batch)
        parsed = ParsedFile(
            file=self.path,
            kind=self.kind,
            batches=[concat_batches(parts) for parts in groups.values()],
            sleep=self.sleep,
            rejected=self.rejected,
            records_read=self.records,
            others=self.others,
        )
        self._reset()
        return parsed

    result = take
