"""The metric catalog: the one list of what fitpipe stores, with units, resolutions and valid ranges.

Parsers map their inputs onto these names; `fitpipe migrate` copies the list into the `metrics`
table; the API, dashboard, alerts and docs read it from here. Ids are stored in every sample row,
so an id, once released, never changes meaning: add new metrics at the end with a new id.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

from fitpipe.errors import NotFoundError

__all__ = ["Metric", "METRICS", "BY_NAME", "BY_ID", "get_metric"]

Aggregation = Literal["mean", "sum"]
_SECONDS = re.compile(r"([0-9]{1,4})s")


@dataclass(frozen=True, slots=True)
class Metric:
    id: int
    name: str
    unit: str
    resolution: str
    """Native resolution of the usual source, as text: '1s', '1min', '5min', '1d', 'night'."""
    min_value: float
    max_value: float
    aggregation: Aggregation
    """How a bucket of this metric is read: 'mean' (heart rate) or 'sum' (steps, minutes)."""
    description: str
    daily: bool = False
    """One value per local day, stored at the participant's local midnight."""

    @property
    def rollup_1m(self) -> bool:
        """Whether rollup_1m keeps per-minute rows of this metric: only when it is sampled more often than once
        a minute (heart rate). For the others a sample already is a minute, and data_1m, the API and the
        hour/day rollups read the samples themselves (sql/0008_storage.sql states the same rule)."""
        match = _SECONDS.fullmatch(self.resolution)
        return not self.daily and match is not None and int(match.group(1)) < 60

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _m(*args: object, **kwargs: object) -> Metric:
    return Metric(*args, **kwargs)  # type: ignore[arg-type]


METRICS: tuple[Metric, ...] = (
    _m(1, "heart_rate", "bpm", "1s", 25, 250, "mean", "Heart rate from the optical sensor."),
    _m(
        2,
        "resting_heart_rate",
        "bpm",
        "1d",
        25,
        150,
        "mean",
        "Resting heart rate Fitbit computes per day.",
        daily=True,
    ),
    _m(3, "spo2", "%", "1min", 50, 100, "mean", "Blood oxygen saturation during sleep."),
    _m(
        4,
        "hrv_rmssd",
        "ms",
        "5min",
        0,
        600,
        "mean",
        "Heart-rate variability: RMSSD of beat intervals during sleep.",
    ),
    _m(
        5,
        "hrv_coverage",
        "ratio",
        "5min",
        0,
        1.1,
        "mean",
        "Share of the HRV window with usable beat data (devices report slightly above 1).",
    ),
    _m(6, "hrv_hf", "ms^2", "5min", 0, 1e6, "mean", "HRV high-frequency power (0.15-0.4 Hz)."),
    _m(7, "hrv_lf", "ms^2", "5min", 0, 1e6, "mean", "HRV low-frequency power (0.04-0.15 Hz)."),
    _m(
        8,
        "breathing_rate",
        "breaths/min",
        "night",
        4,
        40,
        "mean",
        "Breathing rate over the whole main sleep.",
        daily=True,
    ),
    _m(
        9,
        "breathing_rate_deep",
        "breaths/min",
        "night",
        4,
        40,
        "mean",
        "Breathing rate in deep sleep.",
        daily=True,
    ),
    _m(
        10,
        "breathing_rate_rem",
        "breaths/min",
        "night",
        4,
        40,
        "mean",
        "Breathing rate in REM sleep.",
        daily=True,
    ),
    _m(
        11,
        "breathing_rate_light",
        "breaths/min",
        "night",
        4,
        40,
        "mean",
        "Breathing rate in light sleep.",
        daily=True,
    ),
    _m(
        12,
        "active_zone_minutes",
        "min",
        "1min",
        0,
        2,
        "sum",
        "Active zone minutes earned in the minute (cardio and peak count 2).",
    ),
    _m(13, "azm_fat_burn", "min", "1min", 0, 1, "sum", "Minutes in the fat-burn heart-rate zone."),
    _m(14, "azm_cardio", "min", "1min", 0, 2, "sum", "Active zone minutes in the cardio zone."),
    _m(15, "azm_peak", "min", "1min", 0, 2, "sum", "Active zone minutes in the peak zone."),
    _m(
        16,
        "steps",
        "steps",
        "1min",
        0,
        100_000,
        "sum",
        "Steps in the interval (per minute; per day where a source only has daily totals).",
    ),
    _m(17, "calories", "kcal", "1min", 0, 20_000, "sum", "Energy expenditure in the interval."),
    _m(18, "distance", "m", "1min", 0, 200_000, "sum", "Distance covered in the interval."),
    _m(
        19,
        "skin_temperature",
        "°C",
        "night",
        -10,
        10,
        "mean",
        "Nightly skin temperature relative to the personal baseline.",
        daily=True,
    ),
    _m(
        20,
        "sleep_minutes",
        "min",
        "night",
        0,
        1440,
        "sum",
        "Minutes asleep in the night's sleep sessions (assigned to the local day it ends).",
        daily=True,
    ),
    _m(
        21,
        "sleep_efficiency",
        "%",
        "night",
        0,
        100,
        "mean",
        "Sleep efficiency of the main sleep.",
        daily=True,
    ),
    _m(
        22,
        "hr_zone_out_of_range",
        "min",
        "1d",
        0,
        1440,
        "sum",
        "Minutes below the fat-burn heart-rate zone.",
        daily=True,
    ),
    _m(
        23,
        "hr_zone_fat_burn",
        "min",
        "1d",
        0,
        1440,
        "sum",
        "Minutes in the fat-burn heart-rate zone.",
        daily=True,
    ),
    _m(
        24,
        "hr_zone_cardio",
        "min",
        "1d",
        0,
        1440,
        "sum",
        "Minutes in the cardio heart-rate zone.",
        daily=True,
    ),
    _m(25, "hr_zone_peak", "min", "1d", 0, 1440, "sum", "Minutes in the peak heart-rate zone.", daily=True),
    _m(26, "spo2_daily", "%", "night", 50, 100, "mean", "Average SpO2 of the night.", daily=True),
    _m(27, "hrv_daily_rmssd", "ms", "night", 0, 600, "mean", "Nightly HRV (RMSSD) summary.", daily=True),
    _m(
        28,
        "oxygen_variation",
        "index",
        "1min",
        -100,
        100,
        "mean",
        "Estimated oxygen variation (breathing disturbances) per minute; signed.",
    ),
    _m(29, "sedentary_minutes", "min", "1d", 0, 1440, "sum", "Sedentary minutes of the day.", daily=True),
    _m(
        30,
        "lightly_active_minutes",
        "min",
        "1d",
        0,
        1440,
        "sum",
        "Lightly active minutes of the day.",
        daily=True,
    ),
    _m(
        31,
        "moderately_active_minutes",
        "min",
        "1d",
        0,
        1440,
        "sum",
        "Moderately (fairly) active minutes of the day.",
        daily=True,
    ),
    _m(32, "very_active_minutes", "min", "1d", 0, 1440, "sum", "Very active minutes of the day.", daily=True),
    _m(
        33,
        "sleep_score",
        "score",
        "night",
        0,
        100,
        "mean",
        "Fitbit's overall sleep score of the night.",
        daily=True,
    ),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
BY_ID: dict[int, Metric] = {m.id: m for m in METRICS}
assert len(BY_NAME) == len(METRICS) == len(BY_ID), "metric names and ids must be unique"


def get_metric(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        raise NotFoundError(
            f"unknown metric {name!r}",
            hint="known metrics: " + ", ".join(sorted(BY_NAME)),
        ) from None
