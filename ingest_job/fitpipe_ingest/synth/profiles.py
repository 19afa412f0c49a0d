"""Who is in the synthetic cohort: per-participant physiology, habits and adherence (how they wear the device).

Adherence kinds and their parameters (probabilities are per local day unless stated):

| kind       | charging            | night off | left at home | daytime gap            | sleep not logged | other |
|------------|---------------------|-----------|--------------|------------------------|------------------|-------|
| excellent  | 0.85, 30–60 min     | 0.02      | 0.00         | 0.05, 0.3–1 h          | 0.03             |       |
| good       | 0.85, 40–90 min     | 0.08      | 0.03         | 0.25, 0.5–2 h          | 0.06             |       |
| fair       | 0.85, 45–90 min     | 0.25      | 0.08         | 0.60, 2–5 h            | 0.10             |       |
| poor       | 0.70, 45–90 min     | 0.55      | 0.15         | 1.00, 6–10 h           | 0.15             |       |
| dropout    | as good             |           |              |                        |                  | stops wearing for good on day k (7–35, at most days−3) |
| late_sync  | as good             |           |              |                        |                  | the latest 1–3 days are not in the export yet |
| no_data    | never wears it: listed in participants.csv, no folder                                  |

Expected wear (share of the day with heart rate): excellent ≈ 95 %, good ≈ 88 %, fair ≈ 70–75 %,
poor ≈ 40–50 %; so poor participants trip "adherence < 70 %" and, with nights off and unlogged
sleep, "fewer than 5 of the last 7 nights with sleep"; dropouts and 3-day late syncs trip "no upload
in 48 h"; no_data is the "no data source yet" participant.

Physiology per participant: resting heart rate 50–80 bpm (lower with more daily steps), maximum
220 − age (age 22–70), bedtime 21:30–00:30 local (±40 min a day, 40 min later on Fri/Sat nights),
sleep 6.3–8.3 h (sd 0.7 h), 4,000–12,000 steps a day, exercise on 15–60 % of days, nightly HRV
(RMSSD 20–75 ms, lower with a higher resting heart rate), SpO2 94–97.5 %, breathing 12–17 /min.

Assignment: the first 20 participants get the mix in `_MIX` (so even 3 participants span excellent,
poor and no data), later ones cycle through it without the no-data kind; the kinds are then shuffled
over the ids with the seed. Time zones go round `ZONES` in id order (P0001 New York, P0002 London, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from fitpipe_ingest.synth.seeds import stream

__all__ = ["Adherence", "Profile", "ADHERENCE", "KINDS", "ZONES", "plan_cohort", "participant_id"]

ZONES: tuple[str, ...] = (
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Australia/Sydney",
)


@dataclass(frozen=True)
class Adherence:
    charging_prob: float
    charging_minutes: tuple[int, int]
    night_off_prob: float
    day_home_prob: float
    gap_prob: float
    gap_hours: tuple[float, float]
    sleep_unlogged_prob: float


ADHERENCE: dict[str, Adherence] = {
    "excellent": Adherence(0.85, (30, 60), 0.02, 0.00, 0.05, (0.3, 1.0), 0.03),
    "good": Adherence(0.85, (40, 90), 0.08, 0.03, 0.25, (0.5, 2.0), 0.06),
    "fair": Adherence(0.85, (45, 90), 0.25, 0.08, 0.60, (2.0, 5.0), 0.10),
    "poor": Adherence(0.70, (45, 90), 0.55, 0.15, 1.00, (6.0, 10.0), 0.15),
}
ADHERENCE["dropout"] = ADHERENCE["good"]
ADHERENCE["late_sync"] = ADHERENCE["good"]
ADHERENCE["no_data"] = ADHERENCE["good"]  # never used: no data is generated

KINDS: tuple[str, ...] = tuple(ADHERENCE)

# fmt: off
_MIX: tuple[str, ...] = (
    "excellent", "poor", "no_data", "good", "late_sync", "fair", "dropout", "excellent", "good", "poor",
    "excellent", "good", "fair", "late_sync", "excellent", "good", "dropout", "poor", "good", "no_data",
)
# fmt: on


@dataclass(frozen=True)
class Profile:
    index: int
    """0-based position in the cohort; keys the participant's random streams."""
    participant_id: str
    timezone: str
    email: str
    kind: str
    start: date
    days: int
    seed: int
    age: int
    resting_hr: float
    max_hr: float
    bedtime_hour: float
    """Usual bedtime in local hours after midnight of the evening's date (23.5 = 23:30, 24.5 = 00:30)."""
    sleep_hours: float
    steps_per_day: float
    exercise_prob: float
    hrv_rmssd: float
    spo2: float
    breathing_rate: float
    dropout_day: int | None
    """0-based day index from which the device is never worn again."""
    sync_lag_days: int
    """The latest days missing from the export (not synced yet)."""

    @property
    def adherence(self) -> Adherence:
        return ADHERENCE[self.kind]

    @property
    def has_data(self) -> bool:
        return self.kind != "no_data"

    def stream(self, component: str, day: int) -> np.random.Generator:
        """The random stream of `component` on local day `day` (0-based), keyed by the calendar date so a
        longer range or a later run leaves earlier days as they were."""
        return stream(self.seed, component, self.index, (self.start + timedelta(days=day)).toordinal())

    @property
    def visible_days(self) -> int:
        """Days from the start that are in the export (the rest has not synced yet)."""
        return max(0, self.days - self.sync_lag_days)


def participant_id(index: int) -> str:
    return f"P{index + 1:04d}"


def _kinds(n: int, seed: int) -> list[str]:
    with_data = [k for k in _MIX if k != "no_data"]
    kinds = [_MIX[i] if i < len(_MIX) else with_data[(i - len(_MIX)) % len(with_data)] for i in range(n)]
    order = stream(seed, "kinds").permutation(n)
    return [kinds[i] for i in order]


def plan_cohort(
    participants: int,
    days: int,
    start: date,
    seed: int,
    *,
    kinds: list[str] | None = None,
    zones: list[str] | None = None,
) -> list[Profile]:
    """The cohort for a seed; `kinds`/`zones` override the mix (tests pin who is where)."""
    if kinds is not None and len(kinds) != participants:
        raise ValueError(f"plan_cohort(): {len(kinds)} kinds for {participants} participants")
    chosen = kinds if kinds is not None else _kinds(participants, seed)
    profiles = []
    for i, kind in enumerate(chosen):
        if kind not in ADHERENCE:
            raise ValueError(f"unknown adherence kind {kind!r}; known: {', '.join(KINDS)}")
        r = stream(seed, "profile", i)
        pid = participant_id(i)
        zone = (zones or ZONES)[i % len(zones or ZONES)]
        steps = float(r.uniform(4_000, 12_000))
        age = int(r.integers(22, 71))
        # fitter people (more steps) have lower resting heart rate; clipped to the 50–80 brief
        resting = float(min(80.0, max(50.0, 78 - (steps - 4_000) / 8_000 * 18 + r.normal(0, 4))))
        dropout = None
        if kind == "dropout":
            dropout = min(int(r.integers(7, 36)), max(1, days - 3))
        profiles.append(
            Profile(
                index=i,
                participant_id=pid,
                timezone=zone,
                email=f"{pid.lower()}@example.org",
                kind=kind,
                start=start,
                days=days,
                seed=seed,
                age=age,
                resting_hr=round(resting, 1),
                max_hr=float(220 - age),
                bedtime_hour=float(r.uniform(21.5, 24.5)),
                sleep_hours=float(r.uniform(6.3, 8.3)),
                steps_per_day=steps,
                exercise_prob=float(r.uniform(0.15, 0.6)),
                hrv_rmssd=float(max(20.0, min(75.0, 110 - resting + r.normal(0, 8)))),
                spo2=float(r.uniform(94.0, 97.5)),
                breathing_rate=float(r.uniform(12.0, 17.0)),
                dropout_day=dropout,
                sync_lag_days=int(r.integers(1, 4)) if kind == "late_sync" else 0,
            )
        )
    return profiles
