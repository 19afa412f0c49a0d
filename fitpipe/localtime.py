"""Floating local times (what Fitbit files mostly hold) to UTC instants, in the participant's time zone, and the
one rule for where a local day starts.

Vectorised with pandas. A local time that does not exist (the hour skipped when clocks go forward)
cannot be placed and is reported; a local time that exists twice (the hour repeated when clocks go
back) is resolved by order of appearance: the first pass is daylight time, and once the series steps
back in time inside that repeated hour, standard time. `WallClock` keeps that order across calls, so a
file read in chunks resolves a repeated hour that straddles two chunks like a file read whole.

A daily value belongs at the first instant of its local day: local midnight, or, where clocks jump
over midnight (America/Santiago on 2024-09-08), the instant the jump ends; an ambiguous midnight is
read as standard time. That is how PostgreSQL places the participant's local midnight, which is the
bucket of rollup_1d, so a day's value and its daily rollup bucket are the same instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "WallClock",
    "local_to_utc_us",
    "day_starts_utc",
    "us_to_datetime",
    "datetime_to_us",
    "rfc3339_to_us",
    "parse_rfc3339",
    "US_PER_SECOND",
    "US_PER_DAY",
    "NAT",
]

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
NAT = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_KEYS = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu", "Etc/Universal", "Etc/Zulu"}


def us_to_datetime(us: int) -> datetime:
    """Unix microseconds to an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=int(us))


def datetime_to_us(value: datetime) -> int:
    """An aware datetime to Unix microseconds."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def rfc3339_to_us(texts: list[str | None]) -> np.ndarray:
    """RFC 3339 texts → UTC µs (NAT where unreadable), vectorised."""
    import pandas as pd  # here, not at import: keeps pandas out of the API process

    if not texts:
        return np.zeros(0, dtype=np.int64)
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601", errors="coerce")
    us = parsed.dt.as_unit("us").astype("int64").to_numpy(copy=True)
    us[parsed.isna().to_numpy()] = NAT
    return us


def parse_rfc3339(text: object) -> datetime | None:
    """One RFC 3339 text → an aware UTC datetime, or None when it is not one."""
    if not isinstance(text, str):
        return None
    us = rfc3339_to_us([text])[0]
    return None if us == NAT else us_to_datetime(int(us))


class WallClock:
    """Converts one series of wall-clock times to UTC, call after call, in the order they were read."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._last: int | None = None
        """The last local time of the previous call: a step back at the start of the next call counts."""
        self._repeating: set[int] = set()
        """Local days whose repeated hour has already been stepped back into (standard time from then on)."""

    def to_utc(self, local_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(UTC µs, mask of local times that do not exist in the zone; NAT there, to be rejected by the caller)."""
        local_us = np.asarray(local_us, dtype=np.int64)
        if local_us.size == 0 or self.tz.key in _UTC_KEYS:
            if local_us.size:
                self._last = int(local_us[-1])
            return local_us.copy(), np.zeros(local_us.shape, dtype=bool)
        import pandas as pd  # only here: keeps pandas out of processes that never convert local times (the API)

        idx = pd.DatetimeIndex(local_us.view("datetime64[us]"))
        placed = idx.tz_localize(self.tz, ambiguous="NaT", nonexistent="NaT")
        utc = _utc_us(placed)
        unplaced = np.flatnonzero(utc == NAT)
        missing = np.zeros(local_us.shape, dtype=bool)
        if unplaced.size:
            sub = idx[unplaced]
            as_dst = _utc_us(
                sub.tz_localize(self.tz, ambiguous=np.ones(unplaced.size, bool), nonexistent="NaT")
            )
            gap = as_dst == NAT
            missing[unplaced[gap]] = True
            ambiguous = unplaced[~gap]
            if ambiguous.size:
                is_dst = self._dst_by_appearance(local_us, ambiguous)
                utc[ambiguous] = _utc_us(idx[ambiguous].tz_localize(self.tz, ambiguous=is_dst))
        self._last = int(local_us[-1])
        return utc, missing

    def _dst_by_appearance(self, local_us: np.ndarray, ambiguous: np.ndarray) -> np.ndarray:
        previous = np.empty(local_us.size, dtype=np.int64)
        previous[1:] = local_us[:-1]
        previous[0] = local_us[0] if self._last is None else self._last
        stepped_back = (local_us < previous)[ambiguous]
        day = local_us[ambiguous] // US_PER_DAY
        is_dst = np.ones(ambiguous.size, dtype=bool)
        for d in np.unique(day):
            mine = np.flatnonzero(day == d)
            seen = np.cumsum(stepped_back[mine]) > 0
            if int(d) in self._repeating:
                seen[:] = True
            is_dst[mine] = ~seen
            if seen.any():
                self._repeating.add(int(d))
        return is_dst


def _utc_us(aware: pd.DatetimeIndex) -> np.ndarray:
    """UTC µs of a tz-aware DatetimeIndex, NAT where it holds NaT."""
    naive = aware.tz_convert("UTC").tz_localize(None)
    return np.asarray(naive.as_unit("us").asi8, dtype=np.int64).copy()


def local_to_utc_us(local_us: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Convert naive local wall-clock microseconds (since 1970-01-01 local) of one series to UTC microseconds.

    Returns (utc_us, nonexistent_mask). Entries under the mask are set to NAT and must be rejected
    by the caller ("local time does not exist in <zone> (clocks went forward)").
    """
    return WallClock(tz).to_utc(local_us)


def day_starts_utc(days: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC µs of the first instant of each local day (days counted from 1970-01-01): the one day-start rule."""
    days = np.asarray(days, dtype=np.int64)
    local = days * US_PER_DAY
    if days.size == 0 or tz.key in _UTC_KEYS:
        return local
    import pandas as pd

    unique, inverse = np.unique(days, return_inverse=True)
    idx = pd.DatetimeIndex((unique * US_PER_DAY).view("datetime64[us]"))
    aware = idx.tz_localize(tz, ambiguous=np.zeros(unique.size, dtype=bool), nonexistent="shift_forward")
    return _utc_us(aware)[inverse]
