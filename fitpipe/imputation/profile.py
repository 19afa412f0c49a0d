"""The participant's own daily heart-rate profile: the median across days of each local time-of-day slot.

Medians per slot (default 30 min) resist the odd run or fever day; a slot seen on few days is shrunk
toward flat by how alike the participant's days are, so a few days cannot pretend to know someone's
rhythm; slot values are interpolated (circularly, across midnight) to every minute of the day.
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
    prior_days: float
    """The shrinkage applied: a slot seen on n days kept n / (n + prior_days) of its deviation."""

    def at(self, minute_of_day: np.ndarray) -> np.ndarray:
        return self.values[minute_of_day]


FLAT_PROFILE = DayProfile(np.zeros(1440), np.zeros(1), np.inf)
MIN_PRIOR_DAYS, MAX_PRIOR_DAYS = 0.5, 100.0


def local_minutes(t_us: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(minute of the local day 0..1439, local day number) of each UTC µs timestamp; DST-aware."""
    utc = pd.DatetimeIndex(np.asarray(t_us, dtype=np.int64).astype("datetime64[us]"), tz="UTC")
    offset_min = (utc.tz_convert(timezone).tz_localize(None).asi8 - utc.tz_localize(None).asi8) // MINUTE_US
    local = np.asarray(t_us, dtype=np.int64) // MINUTE_US + offset_min
    return (local % 1440).astype(np.int64), (local // 1440).astype(np.int64)


def _prior_days(day_slot_median: np.ndarray, slot_of: np.ndarray, days: np.ndarray) -> float:
    """Empirical-Bayes shrinkage: day-to-day variance within a slot over the variance of the rhythm itself.

    A participant whose days look alike (regular sleep) gets a small prior and keeps their profile after a
    few days; one whose days differ (a run at a different hour every day) gets a large one and a flat profile.
    """
    frame = pd.DataFrame({"slot": slot_of, "m": day_slot_median})
    by_slot = frame.groupby("slot")["m"]
    within = by_slot.var(ddof=1).dropna()
    within = within[days[within.index] >= 2]
    if within.empty:
        return MAX_PRIOR_DAYS
    noise = float(within.mean())
    means = by_slot.mean()
    signal = float(means.var(ddof=1)) - float(np.mean(noise / days[means.index]))
    if not np.isfinite(signal) or signal <= 0:
        return MAX_PRIOR_DAYS
    return float(np.clip(noise / signal, MIN_PRIOR_DAYS, MAX_PRIOR_DAYS))


def fit_day_profile(minute_of_day: np.ndarray, day: np.ndarray, deviation: np.ndarray, slot_minutes: int,
                    prior_days: float | None) -> DayProfile:
    """Profile of `deviation` (bpm around the participant's level) from observed minutes only.

    prior_days: the shrinkage (a slot seen on n days keeps n / (n + prior_days) of its deviation);
    None estimates it from the data (`_prior_days`).
    """
    if deviation.size == 0:
        return FLAT_PROFILE
    slots = 1440 // slot_minutes
    slot = minute_of_day // slot_minutes
    key = (day - day.min()) * slots + slot
    per_day = pd.Series(deviation).groupby(key).median()
    day_slot = per_day.index.to_numpy() % slots
    days = np.bincount(day_slot, minlength=slots).astype(np.float64)
    median = pd.Series(deviation).groupby(slot).median().reindex(range(slots)).to_numpy()
    prior = prior_days if prior_days is not None else _prior_days(per_day.to_numpy(), day_slot, days)
    shrunk = np.where(np.isnan(median), 0.0, median) * days / (days + prior)
    centres = np.arange(slots) * slot_minutes + (slot_minutes - 1) / 2
    values = np.interp(np.arange(1440), centres, shrunk, period=1440)
    return DayProfile(values, days, prior)
