"""The Google Health API data types fitpipe pulls: JSON member, how points are placed in time, the filter
field, the OAuth scope that grants them, the window a sync fetches at once, and the catalog metrics fed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fitpipe.errors import InputError

__all__ = [
    "DataType",
    "DATA_TYPES",
    "BY_NAME",
    "SCOPES",
    "SCOPE_PREFIX",
    "get_data_type",
    "data_types_for_scopes",
]

SCOPE_PREFIX = "https://www.googleapis.com/auth/googlehealth."
ACTIVITY = SCOPE_PREFIX + "activity_and_fitness.readonly"
HEALTH = SCOPE_PREFIX + "health_metrics_and_measurements.readonly"
SLEEP = SCOPE_PREFIX + "sleep.readonly"
SCOPES: tuple[str, ...] = (ACTIVITY, HEALTH, SLEEP)
"""Read-only scopes fitpipe asks for; nothing else."""

TimeKind = Literal["sample", "interval", "date", "sleep"]


@dataclass(frozen=True)
class DataType:
    name: str
    """Path segment, kebab-case: heart-rate."""
    member: str
    """The point's JSON member, lowerCamelCase: heartRate."""
    time: TimeKind
    """sample: sampleTime; interval: interval.startTime; date: a civil date; sleep: filtered by interval end."""
    scope: str
    window_days: int
    """Local days fetched and loaded as one unit: bounds memory and the work a crash can lose."""
    metrics: tuple[str, ...]
    max_page_size: int = 10_000

    @property
    def field(self) -> str:
        """The snake_case name filters use: heart_rate."""
        return self.name.replace("-", "_")

    @property
    def filter_path(self) -> str:
        """The field path a physical-time (or date) filter compares."""
        return {
            "sample": f"{self.field}.sample_time.physical_time",
            "interval": f"{self.field}.interval.start_time",
            "date": f"{self.field}.date",
            "sleep": f"{self.field}.interval.end_time",  # the API refuses start-time filters on sleep
        }[self.time]


DATA_TYPES: tuple[DataType, ...] = (
    DataType("heart-rate", "heartRate", "sample", HEALTH, 1, ("heart_rate",)),
    DataType("heart-rate-variability", "heartRateVariability", "sample", HEALTH, 7, ("hrv_rmssd",)),
    DataType(
        "daily-heart-rate-variability", "dailyHeartRateVariability", "date", HEALTH, 30, ("hrv_daily_rmssd",)
    ),
    DataType("oxygen-saturation", "oxygenSaturation", "sample", HEALTH, 7, ("spo2",)),
    DataType("daily-oxygen-saturation", "dailyOxygenSaturation", "date", HEALTH, 30, ("spo2_daily",)),
    DataType("daily-respiratory-rate", "dailyRespiratoryRate", "date", HEALTH, 30, ("breathing_rate",)),
    DataType(
        "respiratory-rate-sleep-summary",
        "respiratoryRateSleepSummary",
        "sample",
        HEALTH,
        30,
        ("breathing_rate_deep", "breathing_rate_light", "breathing_rate_rem"),
    ),
    DataType(
        "active-zone-minutes",
        "activeZoneMinutes",
        "interval",
        ACTIVITY,
        7,
        ("active_zone_minutes", "azm_fat_burn", "azm_cardio", "azm_peak"),
    ),
    DataType("steps", "steps", "interval", ACTIVITY, 7, ("steps",)),
    DataType("sleep", "sleep", "sleep", SLEEP, 30, ("sleep_minutes",), max_page_size=25),
)

BY_NAME: dict[str, DataType] = {t.name: t for t in DATA_TYPES}


def get_data_type(name: str) -> DataType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise InputError(
            f"unknown Google Health data type {name!r}",
            field="data type",
            hint="use one of: " + ", ".join(BY_NAME),
        ) from None


def data_types_for_scopes(scopes: list[str] | tuple[str, ...]) -> list[DataType]:
    granted = set(scopes)
    return [t for t in DATA_TYPES if t.scope in granted]
