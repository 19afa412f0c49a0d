"""Checking a batch against the metric catalog and the plausible time window, and removing duplicate timestamps,
before anything is written.

Invalid samples become quarantine records naming file, position and reason: no timestamp, a time
outside the plausible window (years 0001, 1700, 2200, 9999 are device clock or parser errors, and a
stored one would make later rows look "already present"), NaN/Inf, a value outside the metric's valid
range. Duplicate timestamps within one input keep the last value read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from fitpipe.catalog import Metric
from fitpipe.localtime import NAT, datetime_to_us, us_to_datetime
from fitpipe_ingest.records import Rejected, SampleBatch

__all__ = ["CleanBatch", "TimeWindow", "clean_batch"]


@dataclass(frozen=True)
class TimeWindow:
    """The instants a sample may have: [start, end]."""

    start: date
    end: datetime

    @property
    def start_us(self) -> int:
        return datetime_to_us(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC))

    @property
    def end_us(self) -> int:
        return datetime_to_us(self.end)

    future: timedelta = timedelta(days=1)
    """How far the end lies after now (for messages: the end itself moves with the clock)."""

    def describe(self) -> str:
        hours = self.future.total_seconds() / 3600
        return f"from {self.start.isoformat()} to {hours:g} h after now"

    @classmethod
    def default(cls, now: datetime | None = None) -> TimeWindow:
        return cls(date(2000, 1, 1), (now or datetime.now(UTC)) + timedelta(days=1))


@dataclass
class CleanBatch:
    ts: np.ndarray
    """Sorted, unique int64 microseconds."""
    value: np.ndarray
    read: int
    duplicates: int
    rejected: list[Rejected]


def _fmt_value(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _instant(us: int) -> str:
    try:
        return us_to_datetime(us).strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")
    except OverflowError:  # beyond what datetime holds: still a number to show
        return f"{us} µs since 1970"


def clean_batch(
    batch: SampleBatch, metric: Metric, participant: str | None, window: TimeWindow | None = None
) -> CleanBatch:
    ts, value = batch.ts, batch.value
    rejected: list[Rejected] = []
    window = window or TimeWindow.default()

    no_time = ts == NAT
    outside = ~no_time & ((ts < window.start_us) | (ts > window.end_us))
    not_finite = ~np.isfinite(value)
    out_of_range = ~not_finite & ((value < metric.min_value) | (value > metric.max_value))
    bad = no_time | outside | not_finite | out_of_range
    if bad.any():
        for i in np.flatnonzero(bad):
            field = batch.time_field
            if no_time[i]:
                reason, kind = "no valid timestamp", "bad_timestamp"
            elif outside[i]:
                reason = (
                    f"{_instant(int(ts[i]))} is outside the plausible time window, {window.describe()} "
                    "(FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)"
                )
                kind = "outside_window"
            elif not_finite[i]:
                field, reason, kind = (
                    "value",
                    f"value is {float(value[i])!r}, not a finite number",
                    "not_a_number",
                )
            else:
                field = "value"
                reason = (
                    f"{_fmt_value(value[i])} {metric.unit} is outside the valid range "
                    f"{metric.min_value:g}..{metric.max_value:g} of {metric.name}"
                )
                kind = "out_of_range"
            rejected.append(
                Rejected(
                    file=batch.file,
                    record=batch.locate(int(i)),
                    field=field,
                    reason=reason,
                    raw=f"{metric.name} at {_instant(int(ts[i])) if not no_time[i] else 'no time'}: {float(value[i])!r}",
                    participant=participant,
                    kind=kind,
                )
            )
        keep = ~bad
        ts, value = ts[keep], value[keep]

    read = int(batch.ts.size)
    if ts.size > 1 and not (np.diff(ts) > 0).all():
        order = np.argsort(ts, kind="stable")
        ts, value = ts[order], value[order]
        last_of_run = np.empty(ts.size, dtype=bool)
        last_of_run[:-1] = ts[1:] != ts[:-1]
        last_of_run[-1] = True
        duplicates = int(ts.size - last_of_run.sum())
        if duplicates:
            ts, value = ts[last_of_run], value[last_of_run]
    else:
        duplicates = 0
    return CleanBatch(
        ts=np.ascontiguousarray(ts),
        value=np.ascontiguousarray(value),
        read=read,
        duplicates=duplicates,
        rejected=rejected,
    )
