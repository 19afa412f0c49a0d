"""Local days and UTC offsets for the synthetic cohort: every signal is built on a UTC second grid
that runs from one local midnight to the next, so files bounded by the local day fall out directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["local_midnight", "offsets", "local_naive", "utc_of_local", "PROBE_SECONDS"]

PROBE_SECONDS = 900
"""Offsets are probed every 15 min: every zone the cohort uses changes offset on a quarter hour."""


def local_midnight(zone: ZoneInfo, day: date) -> int:
    """UTC epoch seconds of `day` 00:00 in `zone` (midnight exists in every zone the cohort uses)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def offsets(zone: ZoneInfo, t0: int, n: int) -> np.ndarray:
    """UTC offset in seconds (int64) of each second t0 .. t0+n-1; DST changes land on their second."""
    probes = np.arange(t0 - t0 % PROBE_SECONDS, t0 + n + PROBE_SECONDS, PROBE_SECONDS, dtype=np.int64)
    values = np.array([_offset_seconds(zone, int(p)) for p in probes], dtype=np.int64)
    idx = (np.arange(t0, t0 + n, dtype=np.int64) - probes[0]) // PROBE_SECONDS
    return values[idx]


def _offset_seconds(zone: ZoneInfo, t: int) -> int:
    offset = datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return int(offset.total_seconds())


def local_naive(zone: ZoneInfo, t: int) -> datetime:
    """Floating local wall-clock time of UTC epoch second t (what Fitbit writes in local-time fields)."""
    return datetime.fromtimestamp(t, UTC).astimezone(zone).replace(tzinfo=None)


def utc_of_local(zone: ZoneInfo, value: datetime) -> int:
    """UTC epoch seconds of a naive local time (a skipped time moves forward with the clocks)."""
    return int(value.replace(tzinfo=zone).timestamp())
