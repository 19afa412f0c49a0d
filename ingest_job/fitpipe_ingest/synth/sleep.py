"""Synthetic sleep: when each night happens, its stages in 30-second epochs, and the Fitbit sleep log it becomes.

Night j ends on local day j (Fitbit's `dateOfSleep`). Bedtime is the participant's usual bedtime
± 40 min (sd), 40 min later on Friday and Saturday nights; duration N(sleep_hours, 0.7 h) clipped to
3.5–11 h, with 0.6 h more at weekends. Stages follow ~95 min cycles (sd 12): light, deep, light, REM,
with deep shrinking (24 % of the first cycle, −8 points a cycle) and REM growing (10 %, +6 points)
through the night; a long wake (4–15 min) follows a cycle with p = 0.35; short wakes (30–180 s,
~4.3 an hour) interrupt light sleep; the night ends with 1–10 min awake. Naps (p = 0.06 a day,
13:00–16:30, 40–110 min) are "classic" logs (asleep/restless/awake), not main sleep.

The log mirrors Fitbit's: `levels.data` holds the long stages (short wakes folded into light),
`levels.shortData` the short wakes, and the summary counts and minutes include both; `duration` and
`timeInBed` are whole minutes (rounded down); `efficiency` is an approximation (Fitbit's formula is
not published): (minutes asleep + short-wake minutes) / time in bed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.synth.clock import local_naive, utc_of_local
from fitpipe_ingest.synth.profiles import Profile

__all__ = [
    "Sleep",
    "WAKE",
    "LIGHT",
    "DEEP",
    "REM",
    "ASLEEP",
    "RESTLESS",
    "AWAKE",
    "plan_night",
    "plan_nap",
    "stage_epochs",
    "sleep_log",
    "EPOCH",
]

EPOCH = 30
WAKE, LIGHT, DEEP, REM, ASLEEP, RESTLESS, AWAKE = range(7)
LEVEL_NAMES = ("wake", "light", "deep", "rem", "asleep", "restless", "awake")
SHORT_WAKE_MAX_EPOCHS = 6  # 3 min: Fitbit lists wakes up to 3 min in shortData
SHORT_WAKES_PER_HOUR = 4.3  # as in the real export (29 in a 6.7-h night)


@dataclass
class Sleep:
    """One sleep episode: a main night (stages) or a nap (classic)."""

    night: int
    """Index of the local day the sleep ends on (dateOfSleep - start)."""
    start: int
    """UTC epoch seconds."""
    epochs: np.ndarray
    """int8 stage code per 30-s epoch."""
    main: bool
    logged: bool = True
    """False when the device was worn but Fitbit recorded no log (the night still lowers heart rate)."""

    @property
    def end(self) -> int:
        return self.start + EPOCH * int(self.epochs.size)


def _aligned(seconds: float) -> int:
    return int(round(seconds / EPOCH)) * EPOCH


def plan_night(profile: Profile, zone: ZoneInfo, night: int) -> Sleep:
    """The main sleep that ends on local day `night` (its bedtime is usually the evening before)."""
    r = profile.stream("night", night)
    evening = profile.start + timedelta(days=night - 1)
    weekend = evening.weekday() in (4, 5)
    bed_hours = profile.bedtime_hour + r.normal(0, 0.67) + (0.67 if weekend else 0.0)
    hours = float(np.clip(r.normal(profile.sleep_hours + (0.6 if weekend else 0.0), 0.7), 3.5, 11.0))
    bedtime = datetime(evening.year, evening.month, evening.day) + timedelta(
        seconds=_aligned(bed_hours * 3600)
    )
    epochs = stage_epochs(r, _aligned(hours * 3600) // EPOCH)
    unlogged = r.random() < profile.adherence.sleep_unlogged_prob
    return Sleep(
        night=night, start=utc_of_local(zone, bedtime), epochs=epochs, main=True, logged=not unlogged
    )


def plan_nap(profile: Profile, zone: ZoneInfo, day: int) -> Sleep | None:
    r = profile.stream("nap", day)
    if r.random() >= 0.06:
        return None
    on = profile.start + timedelta(days=day)
    begin = datetime(on.year, on.month, on.day) + timedelta(seconds=_aligned(r.uniform(13, 16.5) * 3600))
    n = int(r.integers(80, 221))
    epochs = np.full(n, ASLEEP, dtype=np.int8)
    for _ in range(int(r.poisson(n / 40))):
        at = int(r.integers(0, n))
        epochs[at : at + int(r.integers(2, 7))] = RESTLESS
    if r.random() < 0.3:
        epochs[int(r.integers(0, n)) :][:2] = AWAKE
    return Sleep(night=day, start=utc_of_local(zone, begin), epochs=epochs, main=False)


def stage_epochs(r: np.random.Generator, n: int) -> np.ndarray:
    """Stage code per 30-s epoch for a night of n epochs (see the module docstring for the model)."""
    final_wake = int(r.integers(2, 21))
    body = max(n - final_wake, 1)
    parts: list[np.ndarray] = []
    if r.random() < 0.5:
        parts.append(np.full(int(r.integers(1, 3)), WAKE, dtype=np.int8))
    cycle = 0
    filled = sum(p.size for p in parts)
    while filled < body:
        length = max(40, int(r.normal(190, 24)))  # epochs: ~95 min
        deep = max(0.02, 0.24 - 0.08 * cycle)
        rem = min(0.35, 0.10 + 0.06 * cycle)
        light = 1.0 - deep - rem
        sizes = np.maximum(
            1, np.round(np.array([0.4 * light, deep, 0.6 * light, rem]) * length * r.uniform(0.8, 1.2, 4))
        )
        for code, size in zip((LIGHT, DEEP, LIGHT, REM), sizes.astype(int), strict=True):
            parts.append(np.full(size, code, dtype=np.int8))
        if r.random() < 0.35:
            parts.append(np.full(int(r.integers(8, 31)), WAKE, dtype=np.int8))
        cycle += 1
        filled = sum(p.size for p in parts)
    epochs = np.concatenate(parts)[:body]
    # short wakes interrupt light sleep only, so they never split a deep or REM period
    for _ in range(int(r.poisson(body / 120 * SHORT_WAKES_PER_HOUR))):
        size = int(r.integers(1, SHORT_WAKE_MAX_EPOCHS + 1))
        inner = np.flatnonzero(epochs[1 : body - size - 1] == LIGHT) + 1
        if inner.size == 0:
            break
        at = int(inner[r.integers(0, inner.size)])
        if np.all(epochs[at - 1 : at + size + 1] == LIGHT):
            epochs[at : at + size] = WAKE
    return np.concatenate([epochs, np.full(n - body, WAKE, dtype=np.int8)])


def _runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """(first epoch, length, code) of each run of equal codes."""
    if codes.size == 0:
        return []
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [codes.size]]))
    return [(int(s), int(n), int(codes[s])) for s, n in zip(starts, lengths, strict=True)]


def _stamp(zone: ZoneInfo, t: int) -> str:
    return local_naive(zone, t).strftime("%Y-%m-%dT%H:%M:%S.000")


def _entries(zone: ZoneInfo, start: int, runs: list[tuple[int, int, int]]) -> list[dict[str, object]]:
    return [
        {"dateTime": _stamp(zone, start + s * EPOCH), "level": LEVEL_NAMES[c], "seconds": n * EPOCH}
        for s, n, c in runs
    ]


def _minutes(epochs_by_level: dict[str, int], total_minutes: int, order: tuple[str, ...]) -> dict[str, int]:
    """Whole minutes per level that add up to time in bed (half minutes go to levels in `order`)."""
    minutes = {k: v // 2 for k, v in epochs_by_level.items()}
    for level in order:
        if sum(minutes.values()) >= total_minutes:
            break
        if epochs_by_level[level] % 2:
            minutes[level] += 1
    return minutes


def sleep_log(
    sleep: Sleep, zone: ZoneInfo, log_id: int, thirty_day_avg: dict[str, int] | None = None
) -> dict[str, object]:
    """The sleep as Fitbit's export writes one log (key order as in the real files)."""
    start_local = local_naive(zone, sleep.start)
    end_local = local_naive(zone, sleep.end)
    seconds = EPOCH * int(sleep.epochs.size)
    in_bed = seconds // 60
    runs = _runs(sleep.epochs)
    head: dict[str, object] = {
        "logId": log_id,
        "dateOfSleep": end_local.date().isoformat(),
        "startTime": start_local.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "endTime": end_local.strftime("%Y-%m-%dT%H:%M:%S.000"),
        "duration": in_bed * 60_000,
        "minutesToFallAsleep": 0,
    }
    if sleep.main:
        short = [
            (s, n, c)
            for s, n, c in runs
            if c == WAKE and n <= SHORT_WAKE_MAX_EPOCHS and s > 0 and s + n < sleep.epochs.size
        ]
        folded = sleep.epochs.copy()
        for s, n, _ in short:
            folded[s : s + n] = folded[s - 1]
        long_runs = _runs(folded)
        counts = {
            name: sum(1 for *_, c in runs if c == code)
            for code, name in ((DEEP, "deep"), (WAKE, "wake"), (LIGHT, "light"), (REM, "rem"))
        }
        epochs_by = {
            name: int(np.count_nonzero(sleep.epochs == code))
            for code, name in ((DEEP, "deep"), (WAKE, "wake"), (LIGHT, "light"), (REM, "rem"))
        }
        minutes = _minutes(epochs_by, in_bed, ("light", "deep", "rem", "wake"))
        asleep = minutes["deep"] + minutes["light"] + minutes["rem"]
        short_minutes = sum(n for _, n, _ in short) / 2
        avg = thirty_day_avg or {}
        head.update(
            minutesAsleep=asleep,
            minutesAwake=minutes["wake"],
            minutesAfterWakeup=0,
            timeInBed=in_bed,
            efficiency=int(min(100, round(100 * (asleep + short_minutes) / max(in_bed, 1)))),
            type="stages",
            infoCode=0,
            logType="auto_detected",
            levels={
                "summary": {
                    name: {
                        "count": counts[name],
                        "minutes": minutes[name],
                        "thirtyDayAvgMinutes": int(avg.get(name, 0)),
                    }
                    for name in ("deep", "wake", "light", "rem")
                },
                "data": _entries(zone, sleep.start, long_runs),
                "shortData": _entries(zone, sleep.start, short),
            },
            mainSleep=True,
        )
        return head
    last = runs[-1]
    after_wakeup = last[1] // 2 if last[2] != ASLEEP else 0
    epochs_by = {
        name: int(np.count_nonzero(sleep.epochs == code))
        for code, name in ((RESTLESS, "restless"), (AWAKE, "awake"), (ASLEEP, "asleep"))
    }
    minutes = _minutes(epochs_by, in_bed, ("asleep", "restless", "awake"))
    awake = minutes["restless"] + minutes["awake"] - after_wakeup
    head.update(
        minutesAsleep=minutes["asleep"],
        minutesAwake=awake,
        minutesAfterWakeup=after_wakeup,
        timeInBed=in_bed,
        efficiency=int(round(100 * minutes["asleep"] / max(minutes["asleep"] + awake, 1))),
        type="classic",
        infoCode=2,
        logType="auto_detected",
        levels={
            "summary": {
                "restless": {
                    "count": sum(1 for *_, c in runs if c == RESTLESS),
                    "minutes": minutes["restless"],
                },
                "awake": {"count": sum(1 for *_, c in runs if c == AWAKE), "minutes": minutes["awake"]},
                "asleep": {"count": 0, "minutes": minutes["asleep"]},
            },
            "data": _entries(zone, sleep.start, runs),
        },
        mainSleep=False,
    )
    return head
