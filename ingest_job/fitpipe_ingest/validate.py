"""Checking a batch against the metric catalog and removing duplicate timestamps, before anything is written.

Invalid samples (no timestamp, NaN/Inf, outside the metric's valid range) become quarantine records
naming file, position and reason. Duplicate timestamps within one input keep the last value read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitpipe.catalog import Metric
from fitpipe_ingest.localtime import NAT
from fitpipe_ingest.records import Rejected, SampleBatch

__all__ = ["CleanBatch", "clean_batch"]


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


def clean_batch(batch: SampleBatch, metric: Metric, participant: str | None) -> CleanBatch:
    ts, value = batch.ts, batch.value
    rejected: list[Rejected] = []

    no_time = ts == NAT
    not_finite = ~np.isfinite(value)
    out_of_range = ~not_finite & ((value < metric.min_value) | (value > metric.max_value))
    bad = no_time | not_finite | out_of_range
    if bad.any():
        for i in np.flatnonzero(bad):
            if no_time[i]:
                field, reason, kind = "time", "no valid timestamp", "bad_timestamp"
            elif not_finite[i]:
                field, reason, kind = "value", f"value is {value[i]!r}, not a finite number", "not_a_number"
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
                    raw=f"{metric.name} ts_us={int(ts[i]) if not no_time[i] else 'none'} value={value[i]!r}",
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
