"""Floating local times (what Fitbit files mostly hold) to UTC instants, in the participant's time zone.

Vectorised with pandas. A local time that does not exist (the hour skipped when clocks go forward)
cannot be placed and is reported; a local time that exists twice (the hour repeated when clocks go
back) is resolved by order of appearance: the first pass is daylight time, the repeat standard time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["local_to_utc_us", "us_to_datetime", "datetime_to_us", "US_PER_SECOND", "US_PER_DAY", "NAT"]

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
NAT = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us_to_datetime(us: int) -> datetime:
    """Unix microseconds to an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=int(us))


def datetime_to_us(value: datetime) -> int:
    """An aware datetime to Unix microseconds."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def local_to_utc_us(local_us: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Convert naive local wall-clock microseconds (since 1970-01-01 local) to UTC microseconds.

    Returns (utc_us, nonexistent_mask). Entries under the mask are set to NAT and must be rejected
    by the caller ("local time does not exist in <zone> (clocks went forward)").
    """
    local_us = np.asarray(local_us, dtype=np.int64)
    if local_us.size == 0:
        return local_us.copy(), np.zeros(0, dtype=bool)
    if tz.key in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
        return local_us.copy(), np.zeros(local_us.shape, dtype=bool)
    import pandas as pd  # only here: keeps pandas out of processes that never convert local times (the API)

    idx = pd.DatetimeIndex(local_us.view("datetime64[us]"))
    try:
        aware = idx.tz_localize(tz, ambiguous="infer", nonexistent="NaT")
    except Exception:  # pytz/pandas raise AmbiguousTimeError or ValueError when order cannot tell
        aware = idx.tz_localize(tz, ambiguous=_dst_by_appearance(local_us, idx, tz), nonexistent="NaT")
    missing = np.asarray(aware.isna())
    utc = aware.tz_convert("UTC").tz_localize(None).asi8 if aware.unit == "us" else None
    if utc is None:
        utc = aware.tz_convert("UTC").tz_localize(None).as_unit("us").asi8
    utc = np.asarray(utc, dtype=np.int64).copy()
    utc[missing] = NAT
    return utc, missing


def _dst_by_appearance(local_us: np.ndarray, idx: pd.DatetimeIndex, tz: ZoneInfo) -> np.ndarray:
    """For ambiguous times: daylight time until the series steps back in time, standard time after."""
    ambiguous = np.asarray(idx.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").isna())
    is_dst = np.ones(local_us.shape, dtype=bool)
    if not ambiguous.any():
        return is_dst
    stepped_back = np.concatenate([[False], np.diff(local_us) < 0])
    # once the series steps back inside an ambiguous stretch, later ambiguous times are the repeat
    seen_back = np.cumsum(stepped_back & ambiguous) > 0
    is_dst[ambiguous & seen_back] = False
    return is_dst
