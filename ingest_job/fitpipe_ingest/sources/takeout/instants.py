"""Placing the export's times on the UTC axis: wall-clock times in the participant's zone, and local days.

Daily values are stored at the first instant of the participant's local day, the same instant the
database uses as that day's rollup bucket (PostgreSQL reads a midnight that falls in a DST gap with
the offset before the gap, i.e. the instant the gap starts, and an ambiguous one as standard time).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.localtime import local_to_utc_us

__all__ = ["wall_clock_to_utc", "day_starts_utc", "US_PER_DAY"]

US_PER_DAY = 86_400_000_000
_UTC_KEYS = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu"}


def wall_clock_to_utc(local_us: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """(UTC µs, mask of wall-clock times that do not exist in `tz` because clocks went forward)."""
    return local_to_utc_us(np.asarray(local_us, dtype=np.int64), tz)


def day_starts_utc(days: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC µs of the first instant of each local day (days counted from 1970-01-01)."""
    import pandas as pd  # here, not at import: keeps pandas out of the API process

    days = np.asarray(days, dtype=np.int64)
    local = days * US_PER_DAY
    if days.size == 0 or tz.key in _UTC_KEYS:
        return local
    unique, inverse = np.unique(days, return_inverse=True)
    idx = pd.DatetimeIndex((unique * US_PER_DAY).view("datetime64[us]"))
    aware = idx.tz_localize(tz, ambiguous=np.zeros(unique.size, dtype=bool), nonexistent="shift_forward")
    utc = np.asarray(aware.tz_convert("UTC").tz_localize(None).as_unit("us").asi8, dtype=np.int64)
    return utc[inverse]
