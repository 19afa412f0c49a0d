"""Synthetic daytime activity: exercise bouts, steps per minute and active-zone minutes.

Exercise: on a share of days (`Profile.exercise_prob`) one bout starting 06:30–19:30 local, 20–70 min,
at 55–90 % of heart-rate reserve (Karvonen), running/brisk walking at 110–165 steps/min (a fifth are
cycling: no steps). Walking while awake comes in 5-min spells whose probability follows the hour of
day (commute, lunch and evening peaks), scaled so the expected day totals `Profile.steps_per_day`;
a walking minute has 15–115 steps. Asleep or not worn: no steps.
Zones as Fitbit's personal ones on heart-rate reserve: fat burn from 50 %, cardio from 70 %, peak from
85 %; a worn, awake minute whose mean heart rate is in a zone earns 1 (fat burn) or 2 (cardio, peak).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.synth.clock import utc_of_local
from fitpipe_ingest.synth.profiles import Profile

__all__ = ["Bout", "plan_bout", "steps_per_minute", "zone_of", "zone_bounds", "FAT_BURN", "CARDIO", "PEAK"]

OUT_OF_RANGE, FAT_BURN, CARDIO, PEAK = range(4)

# share of awake 5-min spells spent walking, by local hour 0..23 (before scaling to the day's steps)
# fmt: off
_HOURLY = np.array([0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.12, 0.16, 0.08, 0.07, 0.08,
                    0.14, 0.10, 0.07, 0.07, 0.09, 0.15, 0.14, 0.09, 0.06, 0.04, 0.03, 0.02])
# fmt: on
_MEAN_WALK_STEPS = 65.0


@dataclass(frozen=True)
class Bout:
    start: int
    """UTC epoch seconds."""
    end: int
    intensity: float
    """Share of heart-rate reserve the bout holds."""
    cadence: float
    """Steps per minute (0 for cycling)."""


def plan_bout(profile: Profile, zone: ZoneInfo, day: int) -> Bout | None:
    r = profile.stream("bout", day)
    go, at, minutes, intensity, cadence, cycling = (
        r.random(),
        r.uniform(6.5, 19.5),
        r.uniform(20, 70),
        r.uniform(0.55, 0.9),
        r.uniform(110, 165),
        r.random(),
    )
    if go >= profile.exercise_prob:
        return None
    on = profile.start + timedelta(days=day)
    start = utc_of_local(zone, datetime(on.year, on.month, on.day) + timedelta(seconds=int(at * 3600)))
    return Bout(start, start + int(minutes * 60), intensity, 0.0 if cycling < 0.2 else cadence)


def steps_per_minute(
    profile: Profile,
    day: int,
    local_hour: np.ndarray,
    awake: np.ndarray,
    bout_minutes: np.ndarray,
    cadence: float,
) -> np.ndarray:
    """Steps in each minute of the local day (int64); `local_hour`, `awake` and `bout_minutes` are per minute."""
    r = profile.stream("steps", day)
    n = local_hour.size
    spells = -(-n // 5)
    # expected steps = sum over awake minutes of p(hour) * scale * mean steps; solve for the scale
    p = _HOURLY[local_hour]
    scale = profile.steps_per_day / max(float((p * awake).sum()) * _MEAN_WALK_STEPS, 1.0)
    walking_spell = r.random(spells) < np.minimum(p[::5] * scale, 0.95)
    walking = np.repeat(walking_spell, 5)[:n] & (r.random(n) < 0.85) & awake
    steps = np.where(walking, r.integers(15, 116, n), 0)
    bout_steps = (
        np.rint(cadence + r.normal(0, 6, n)).astype(np.int64) if cadence else np.zeros(n, dtype=np.int64)
    )
    return np.where(bout_minutes & awake, bout_steps, steps).astype(np.int64)


def zone_bounds(profile: Profile, resting: float) -> tuple[float, float, float]:
    """Lower bounds (bpm) of fat burn, cardio and peak on the heart-rate reserve."""
    reserve = profile.max_hr - resting
    return resting + 0.5 * reserve, resting + 0.7 * reserve, resting + 0.85 * reserve


def zone_of(mean_hr: np.ndarray, bounds: tuple[float, float, float]) -> np.ndarray:
    """0 out of range, 1 fat burn, 2 cardio, 3 peak (NaN: out of range)."""
    hr = np.nan_to_num(mean_hr, nan=0.0)
    return np.searchsorted(np.asarray(bounds), hr, side="right").astype(np.int8)
