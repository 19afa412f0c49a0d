"""The participant's own daily heart-rate profile: the median across days of each local time-of-day slot.

Medians per slot (default 30 min) are robust to the odd run or fever day; a slot seen on few days is
shrunk toward flat, so two days of data cannot pretend to know someone's rhythm; slot values are
interpolated (circularly, across midnight) to every minute of the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fitpipe.imputation.options import MINUTE_US

__all__ = ["DayProfile", "fit_day_profile", "local_minutes", "FLAT_PROFILE"]


@dataclass(frozen=True)
class DayProfile:
    values: np.ndarray
    """1,440 bpm deviations from the participant's level, by local minute of day."""
    days: np.ndarray
    """Days of data behind each slot."""

    def at(self, minute_of_day: np.ndarray) -> np.ndarray:
        return self.values[minute_of_day]


FLAT_PROFILE = DayProfile(np.zeros(1440), np.zeros(1))


def local_minutes(t_us: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(minute of the local day 0..1439, local day number) of each UTC µs timestamp; DST-aware."""
    utc = pd.DatetimeIndex(np.asarray(t_us, dtype=np.int64).astype("datetime64[us]"), tz="UTC")
    offset_min = (utc.tz_convert(timezone).tz_localize(None).asi8 - utc.tz_localize(None).asi8) // MINUTE_US
    local = np.asarray(t_us, dtype=np.int64) // MINUTE_US + offset_min
    return (local % 1440).astype(np.int64), (local // 1440).astype(np.int64)


def fit_day_profile(minute_of_day: np.ndarray, day: np.ndarray, deviation: np.ndarray, slot_minutes: int,
                    prior_days: float) -> DayProfile:
    """Profile of `deviation` (bpm around the participant's level) from observed minutes only."""
    if deviation.size == 0:
        return FLAT_PROFILE
    slots = 1440 // slot_minutes
    slot = minute_of_day // slot_minutes
    median = pd.Series(deviation).groupby(slot).median().reindex(range(slots)).to_numpy()
    days = np.bincount(np.unique(day * slots + slot) % slots, minlength=slots).astype(np.float64)
    shrunk = np.where(np.isnan(median), 0.0, median) * days / (days + prior_days)
    centres = np.arange(slots) * slot_minutes + (slot_minutes - 1) / 2
    values = np.interp(np.arange(1440), centres, shrunk, period=1440)
    return DayProfile(values, days)
