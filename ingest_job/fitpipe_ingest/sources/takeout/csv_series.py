"""CSV files that are plain time series, described as data: which column holds the time, how to read
it, and which column feeds which catalog metric. One generic parser reads them all.

How a time column is read ("clock"):
  utc       the time is UTC as written ('…Z' that really is UTC);
  wall      wall-clock time in the participant's zone (Fitbit's local times, and Google-format files
            whose 'Z' is false: their times equal Fitbit's local ones to the second);
  day       the value belongs to the local day written; the time of day is ignored;
  wake_day  one row per sleep, stamped with its wake-up wall-clock time: one value per local day,
            from the row that wakes up last that day (the main sleep in every export seen).
Per column, a vendor's "no value" marker (-1.0 breathing rate, 0.0 nightly RMSSD) is skipped without
a quarantine entry; a device floor value that means "invalid reading" (SpO2 50.0) is rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fitpipe.localtime import US_PER_DAY, day_starts_utc
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import CsvTable
from fitpipe_ingest.tree import InputTree

__all__ = ["Clock", "Column", "CsvSeriesSpec", "parse_csv_series", "place_rows"]

Clock = Literal["utc", "wall", "day", "wake_day"]


@dataclass(frozen=True)
class Column:
    header: str
    metric: str
    scale: float = 1.0
    absent: Callable[[np.ndarray], np.ndarray] | None = None
    """Mask of values that mean "no value": skipped, not quarantined."""
    sentinel: float | None = None
    """A value the device writes for an invalid reading: rejected with `sentinel_reason`."""
    sentinel_reason: str = ""


@dataclass(frozen=True)
class CsvSeriesSpec:
    kind: str
    time: str
    layouts: tuple[str, ...]
    clock: Clock
    columns: tuple[Column, ...]


def place_rows(
    t: CsvTable, c: Collector, time: str, layouts: tuple[str, ...], clock: Clock, ctx: ParseContext
) -> tuple[np.ndarray, np.ndarray]:
    """(UTC µs per row, mask of rows to use); rows with unusable times are rejected here."""
    us, bad = t.stamps(time, layouts)
    expected = layouts[0] if len(layouts) == 1 else f"{layouts[0]} (or {len(layouts) - 1} similar layouts)"
    c.reject_cells(t, np.flatnonzero(bad), time, "{cell} is not a time like " + expected, "bad_timestamp")
    use = ~bad
    if clock == "utc":
        return us, use
    if clock == "wall":
        utc, gap = c.to_utc(np.where(use, us, 0), series=time)
        gap &= use
        c.reject_cells(
            t,
            np.flatnonzero(gap),
            time,
            "local time {cell} does not exist in " + ctx.timezone.key + " (clocks went forward)",
            "nonexistent_local_time",
        )
        return utc, use & ~gap
    days = us // US_PER_DAY
    if clock == "wake_day":
        rows = np.flatnonzero(use)
        order = rows[np.lexsort((us[rows], days[rows]))]
        last = np.ones(order.size, dtype=bool)
        last[:-1] = days[order[1:]] != days[order[:-1]]
        use = np.zeros_like(use)
        use[order[last]] = True
    return day_starts_utc(days, ctx.timezone), use


def parse_csv_series(tree: InputTree, path: str, ctx: ParseContext, spec: CsvSeriesSpec) -> ParsedFile:
    c = Collector(path, spec.kind, ctx)
    t = c.read_csv(tree, (spec.time, *(col.header for col in spec.columns)))
    ts, use = place_rows(t, c, spec.time, spec.layouts, spec.clock, ctx)
    for col in spec.columns:
        values, not_number = t.numbers(col.header)
        c.reject_cells(
            t, np.flatnonzero(use & not_number), col.header, "{cell} is not a number", "not_a_number"
        )
        keep = use & ~not_number
        if col.absent is not None:
            keep &= ~col.absent(values)
        if col.sentinel is not None:
            sentinel = keep & (values == col.sentinel)
            c.reject_cells(t, np.flatnonzero(sentinel), col.header, col.sentinel_reason, "sentinel_value")
            keep &= ~sentinel
        rows = np.flatnonzero(keep)
        c.add(col.metric, ts[rows], values[rows] * col.scale, line=t.lines[rows], time_field=spec.time)
    return c.result()
