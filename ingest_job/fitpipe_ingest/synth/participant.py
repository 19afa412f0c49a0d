"""One synthetic participant, simulated local day by local day on a UTC second grid.

`plan_participant` draws everything that is not a per-second signal (sleeps, naps, bouts, non-wear,
which sleeps Fitbit logged); `simulate_days` then builds each day's signals and yields a `Day` holding
what the writers need: the heart-rate samples, per-minute steps and zones, and the resting value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.synth.activity import Bout, plan_bout, steps_per_minute, zone_bounds, zone_of
from fitpipe_ingest.synth.clock import local_midnight, offsets
from fitpipe_ingest.synth.heart_rate import SignalState, confidence, sample_auto, signal
from fitpipe_ingest.synth.nightly import Nightly, measure_night
from fitpipe_ingest.synth.profiles import Profile
from fitpipe_ingest.synth.sleep import EPOCH, Sleep, plan_nap, plan_night
from fitpipe_ingest.synth.wear import Interval, day_episodes, night_off

__all__ = ["Plan", "Day", "LoggedSleep", "plan_participant", "simulate_days"]

RESTING_MIN_WORN_SECONDS = 4 * 3600
"""Fitbit reports no resting heart rate for a day worn less than this (our assumption)."""
WORN_MINUTE_SECONDS = 30
"""A minute counts as worn (steps, zones) when at least this many of its seconds are."""


@dataclass
class LoggedSleep:
    sleep: Sleep
    log_id: int
    date_of_sleep: date
    nightly: Nightly | None
    """Measurements of a main sleep (None for naps)."""
    thirty_day_avg: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    profile: Profile
    zone: ZoneInfo
    nights: dict[int, Sleep]
    naps: dict[int, Sleep]
    bouts: dict[int, Bout]
    nonwear: list[Interval]
    logged: list[LoggedSleep]
    """Sleep logs Fitbit made (fully worn, inside the exported days), in time order."""
    begin: int
    """UTC epoch seconds of the first local midnight."""
    end: int
    """UTC epoch seconds of the end of the last exported (synced) local day."""


@dataclass
class Day:
    index: int
    day: date
    t0: int
    n: int
    sample_t: np.ndarray
    """UTC epoch seconds of the reported heart-rate samples."""
    sample_local: np.ndarray
    """The same instants as floating local time (naive epoch seconds)."""
    hr: np.ndarray
    """float64 bpm at the samples (writers round for Takeout)."""
    confidence: np.ndarray
    minute_t: np.ndarray
    """UTC epoch seconds of each minute of the local day."""
    minute_local: np.ndarray
    worn_seconds: np.ndarray
    """Worn seconds in each minute."""
    steps: np.ndarray
    step_listed: np.ndarray
    """Minutes the Takeout steps file lists (worn; zero-step minutes only some of the time)."""
    zone: np.ndarray
    """0 out of range, 1 fat burn, 2 cardio, 3 peak: per minute, worn and awake minutes only (else 0)."""
    zone_minutes: np.ndarray
    """Worn minutes in each zone (4 counts, for the wearipedia heartRateZones)."""
    resting: float | None

    @property
    def worn_minutes(self) -> int:
        return int(np.count_nonzero(self.worn_seconds >= WORN_MINUTE_SECONDS))


def _log_id(profile: Profile, day: date, seq: int) -> int:
    # 11 digits growing ~10 M a day like Fitbit's, unique per (participant, night, sequence)
    return 40_000_000_000 + (day - date(2015, 1, 1)).days * 10_000_000 + profile.index * 10 + seq


def _overlaps(a: int, b: int, intervals: list[Interval]) -> bool:
    return any(s < b and a < e for s, e in intervals)


def plan_participant(profile: Profile) -> Plan:
    zone = ZoneInfo(profile.timezone)
    days = profile.visible_days
    begin = local_midnight(zone, profile.start)
    end = local_midnight(zone, profile.start + timedelta(days=days))
    nights = {j: plan_night(profile, zone, j) for j in range(days + 1)}
    naps = {d: nap for d in range(days) if (nap := plan_nap(profile, zone, d)) is not None}
    bouts = {d: bout for d in range(days) if (bout := plan_bout(profile, zone, d)) is not None}
    nonwear: list[Interval] = [iv for d in range(days) for iv in day_episodes(profile, zone, d)]
    nonwear += [iv for night in nights.values() if (iv := night_off(profile, night)) is not None]
    nonwear.sort()

    candidates = sorted([*nights.values(), *naps.values()], key=lambda s: s.start)
    logged: list[LoggedSleep] = []
    history: list[tuple[date, dict[str, int]]] = []
    for sleep in candidates:
        if (
            not sleep.logged
            or sleep.start < begin
            or sleep.end > end
            or _overlaps(sleep.start, sleep.end, nonwear)
        ):
            continue
        on = profile.start + timedelta(days=sleep.night)
        entry = LoggedSleep(
            sleep,
            _log_id(profile, on, 0 if sleep.main else 1),
            on,
            measure_night(profile, sleep) if sleep.main else None,
        )
        if sleep.main:
            recent = [m for d, m in history if 0 < (on - d).days <= 30]
            entry.thirty_day_avg = (
                {k: round(sum(m[k] for m in recent) / len(recent)) for k in ("deep", "wake", "light", "rem")}
                if recent
                else {}
            )
            counts = np.bincount(sleep.epochs, minlength=4)
            history.append(
                (
                    on,
                    {
                        "wake": int(counts[0]) // 2,
                        "light": int(counts[1]) // 2,
                        "deep": int(counts[2]) // 2,
                        "rem": int(counts[3]) // 2,
                    },
                )
            )
        logged.append(entry)
    return Plan(profile, zone, nights, naps, bouts, nonwear, logged, begin, end)


def _paint(target: np.ndarray, t0: int, start: int, end: int, values: np.ndarray | bool | int) -> None:
    """Write `values` (per second from `start`, or a scalar) into target's seconds [start, end)."""
    a, b = max(start, t0), min(end, t0 + target.size)
    if a >= b:
        return
    if isinstance(values, np.ndarray):
        target[a - t0 : b - t0] = values[a - start : b - start]
    else:
        target[a - t0 : b - t0] = values


def simulate_days(plan: Plan, dense: bool) -> Iterator[Day]:
    """Each exported local day in order; `dense` reports every worn second instead of device-like sampling."""
    profile, zone = plan.profile, plan.zone
    state = SignalState()
    deviation = 0.0
    for d in range(profile.visible_days):
        on = profile.start + timedelta(days=d)
        t0 = local_midnight(zone, on)
        n = local_midnight(zone, on + timedelta(days=1)) - t0
        nmin = n // 60
        r = profile.stream("day", d)
        deviation = 0.7 * deviation + r.normal(0, 1.5 * np.sqrt(1 - 0.7**2))
        resting_today = profile.resting_hr + deviation

        worn = np.ones(n, dtype=bool)
        for s, e in plan.nonwear:
            if s < t0 + n and t0 < e:
                _paint(worn, t0, s, e, False)
        seconds = t0 + np.arange(n, dtype=np.int64)
        off = offsets(zone, t0, n)
        local = seconds + off
        minute_t, minute_local = seconds[::60], local[::60]
        empty = np.zeros(0, dtype=np.int64)
        if not worn.any():
            yield Day(
                d,
                on,
                t0,
                n,
                empty,
                empty,
                np.zeros(0),
                empty,
                minute_t,
                minute_local,
                np.zeros(nmin, dtype=np.int64),
                np.zeros(nmin, dtype=np.int64),
                np.zeros(nmin, dtype=bool),
                np.zeros(nmin, dtype=np.int8),
                np.zeros(4, dtype=np.int64),
                None,
            )
            continue

        stage = np.full(n, -1, dtype=np.int8)
        for sleep in (plan.nights.get(d), plan.nights.get(d + 1), plan.naps.get(d)):
            if sleep is not None:
                _paint(stage, t0, sleep.start, sleep.end, np.repeat(sleep.epochs, EPOCH))
        local_hour = (local % 86_400) / 3600.0
        awake_minute = (stage.reshape(nmin, 60) < 0).mean(axis=1) >= 0.5
        bout = plan.bouts.get(d)
        in_bout = np.zeros(n, dtype=bool)
        bout_target = np.full(n, np.nan)
        if bout is not None:
            _paint(in_bout, t0, bout.start, bout.end, True)
            in_bout &= stage < 0
            bout_target[in_bout] = resting_today + bout.intensity * (profile.max_hr - resting_today)
        steps = steps_per_minute(
            profile,
            d,
            (minute_local % 86_400) // 3600,
            awake_minute,
            np.asarray(in_bout.reshape(nmin, 60).any(axis=1)),
            bout.cadence if bout else 0.0,
        )
        steps_by_second = np.repeat(steps, 60)
        hr = signal(r, local_hour, stage, steps_by_second, bout_target, resting_today, state)
        hr = np.clip(hr, 38.0, profile.max_hr + 5)

        worn_seconds = worn.reshape(nmin, 60).sum(axis=1)
        worn_minute = worn_seconds >= WORN_MINUTE_SECONDS
        minute_hr = hr.reshape(nmin, 60).mean(axis=1)
        zone_all = zone_of(minute_hr, zone_bounds(profile, resting_today))
        zone_minutes = np.bincount(zone_all[worn_minute], minlength=4).astype(np.int64)
        zone_code = np.where(worn_minute & awake_minute, zone_all, 0).astype(np.int8)
        listed = worn_minute & ((steps > 0) | (r.random(nmin) < np.where(awake_minute, 0.55, 0.1)))
        steps = np.where(worn_minute, steps, 0)

        resting = float(resting_today + r.normal(0, 0.6)) if worn.sum() >= RESTING_MIN_WORN_SECONDS else None
        # sampling has its own stream so dense and device-like output share every other value
        sampling = profile.stream("sampling", d)
        active = (steps_by_second > 0) | in_bout
        idx = np.flatnonzero(worn) if dense else sample_auto(sampling, worn, active)
        yield Day(
            d,
            on,
            t0,
            n,
            seconds[idx],
            local[idx],
            hr[idx],
            confidence(sampling, active[idx]),
            minute_t,
            minute_local,
            worn_seconds,
            steps,
            listed,
            zone_code,
            zone_minutes,
            resting,
        )
