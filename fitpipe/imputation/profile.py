"""The participant's own daily heart-rate profile: per local time-of-day slot, the median across days.

Each day's mean in a slot (default 30 min), then the median of those across days, which resists the
odd run or fever day; a slot seen on few days is shrunk
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
        values: np.ndarray = self.values[minute_of_day]
        return values


FLAT_PROFILE = DayProfile(np.zeros(1440), np.zeros(1), np.inf)
MIN_PRIOR_DAYS, MAX_PRIOR_DAYS = 0.5, 100.0
_PROBE_US = 15 * MINUTE_US


def local_minutes(t_us: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(minute of the local day 0..1439, local day number) of each UTC µs timestamp; DST-aware.

    The zone's offset is looked up once per quarter hour of the stretch (every zone changes offset on
    a quarter hour), not per timestamp.
    """
    t = np.asarray(t_us, dtype=np.int64)
    if t.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = int(t.min()) // _PROBE_US
    probes = np.arange(first, int(t.max()) // _PROBE_US + 1, dtype=np.int64) * _PROBE_US
    utc = pd.DatetimeIndex(probes.astype("datetime64[us]"), tz="UTC")
    offset_us = utc.tz_convert(timezone).tz_localize(None).asi8 - utc.tz_localize(None).asi8
    local_minute = (t + offset_us[t // _PROBE_US - first]) // MINUTE_US
    return local_minute % 1440, local_minute // 1440


def _prior_days(daily: np.ndarray, days: np.ndarray) -> float:
    """Empirical-Bayes shrinkage: day-to-day variance within a slot over the variance of the rhythm itself.

    A participant whose days look alike (regular sleep) gets a small prior and keeps their profile after a
    few days; one whose days differ (a run at a different hour every day) gets a large one and a flat profile.
    `daily`: (days, slots) slot means, NaN where a day has no data in a slot.
    """
    repeated = days >= 2
    if not repeated.any():
        return MAX_PRIOR_DAYS
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.nanvar(daily[:, repeated], axis=0, ddof=1)
        noise = float(np.mean(within))
        seen = days > 0
        means = np.nanmean(daily[:, seen], axis=0)
    signal = float(np.var(means, ddof=1)) - float(np.mean(noise / days[seen])) if means.size > 1 else 0.0
    if not np.isfinite(signal) or signal <= 0:
        return MAX_PRIOR_DAYS
    return float(np.clip(noise / signal, MIN_PRIOR_DAYS, MAX_PRIOR_DAYS))


def fit_day_profile(
    minute_of_day: np.ndarray,
    day: np.ndarray,
    deviation: np.ndarray,
    slot_minutes: int,
    prior_days: float | None,
) -> DayProfile:
    """Profile of `deviation` (bpm around the participant's level) from observed minutes only: per slot,
    the median across days of each day's mean in that slot.

    prior_days: the shrinkage (a slot seen on n days keeps n / (n + prior_days) of its deviation);
    None estimates it from the data (`_prior_days`).
    """
    if deviation.size == 0:
        return FLAT_PROFILE
    slots = 1440 // slot_minutes
    day0 = int(day.min())
    n_days = int(day.max()) - day0 + 1
    key = (day - day0) * slots + minute_of_day // slot_minutes
    count = np.bincount(key, minlength=n_days * slots)
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = (np.bincount(key, deviation, minlength=n_days * slots) / count).reshape(n_days, slots)
    days = (count.reshape(n_days, slots) > 0).sum(axis=0).astype(np.float64)
    seen = days > 0
    median = np.zeros(slots)
    median[seen] = np.nanmedian(daily[:, seen], axis=0)
    prior = prior_days if prior_days is not None else _prior_days(daily, days)
    shrunk = np.where(days > 0, median * days / np.maximum(days + prior, 1e-12), 0.0)
    centres = np.arange(slots) * slot_minutes + (slot_minutes - 1) / 2
    values = np.interp(np.arange(1440), centres, shrunk, period=1440)
    return DayProfile(values, days, prior)
