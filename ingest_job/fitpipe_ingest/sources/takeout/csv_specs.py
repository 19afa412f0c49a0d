"""The time-series CSV files of a Fitbit export, Fitbit-format and Google-format, as CsvSeriesSpec data.

Time semantics were checked against the real export in ../shared/realdata (see docs in csv_series):
Minute SpO2, Google heart_rate/steps/oxygen_saturation 'Z' times are UTC (they match the UTC JSON
and the sleep windows); Google heart_rate_variability and respiratory_rate_sleep_summary carry a 'Z'
but equal Fitbit's local times to the second, as does Sleep Score's 'Z'; they are read as wall clock.
"""

from __future__ import annotations

import numpy as np

from fitpipe_ingest.sources.takeout.csv_series import Column, CsvSeriesSpec

__all__ = ["CSV_SERIES", "WALL", "UTC", "ANY", "FALSE_Z"]

WALL = ("YYYY-MM-DDThh:mm:ss", "YYYY-MM-DDThh:mm", "YYYY-MM-DDThh:mm:ss.fff")
UTC = ("YYYY-MM-DDThh:mm:ssZ", "YYYY-MM-DDThh:mmZ", "YYYY-MM-DDThh:mm:ss.fffZ")
ANY = ("YYYY-MM-DD", *WALL, *UTC)
FALSE_Z = (*WALL, *UTC)
EOV = ("MM/DD/YY hh:mm:ss",)


def _negative(v: np.ndarray) -> np.ndarray:
    return v < 0


def _zero_or_less(v: np.ndarray) -> np.ndarray:
    return v <= 0


_SPO2_FLOOR = "50.0 is the floor the device writes when it has no valid SpO2 reading"

CSV_SERIES: dict[str, CsvSeriesSpec] = {
    "hrv_details": CsvSeriesSpec(
        "HRV per 5 minutes of sleep (Fitbit CSV, local time)",
        "timestamp",
        WALL,
        "wall",
        (
            Column("rmssd", "hrv_rmssd"),
            Column("coverage", "hrv_coverage"),
            Column("low_frequency", "hrv_lf"),
            Column("high_frequency", "hrv_hf"),
        ),
    ),
    # the file name's date is the evening the night starts; the row's own date (the morning) is used
    "hrv_daily": CsvSeriesSpec(
        "nightly HRV summary (Fitbit CSV)",
        "timestamp",
        ANY,
        "day",
        (Column("rmssd", "hrv_daily_rmssd", absent=_zero_or_less),),
    ),
    "respiratory_daily": CsvSeriesSpec(
        "nightly breathing rate (Fitbit CSV)",
        "timestamp",
        ANY,
        "day",
        (Column("daily_respiratory_rate", "breathing_rate", absent=_negative),),
    ),
    "respiratory_summary": CsvSeriesSpec(
        "breathing rate per sleep stage (Fitbit CSV, wake-up local time)",
        "timestamp",
        WALL,
        "wake_day",
        (
            Column("full_sleep_breathing_rate", "breathing_rate", absent=_negative),
            Column("deep_sleep_breathing_rate", "breathing_rate_deep", absent=_negative),
            Column("light_sleep_breathing_rate", "breathing_rate_light", absent=_negative),
            Column("rem_sleep_breathing_rate", "breathing_rate_rem", absent=_negative),
        ),
    ),
    "spo2_minute": CsvSeriesSpec(
        "SpO2 per minute of sleep (Fitbit CSV, UTC)",
        "timestamp",
        UTC,
        "utc",
        (Column("value", "spo2", sentinel=50.0, sentinel_reason=_SPO2_FLOOR),),
    ),
    "spo2_daily": CsvSeriesSpec(
        "nightly SpO2 (Fitbit CSV)",
        "timestamp",
        ANY,
        "day",
        (Column("average_value", "spo2_daily"),),
    ),
    "oxygen_variation": CsvSeriesSpec(
        "estimated oxygen variation per minute (Global Export CSV, local time)",
        "timestamp",
        EOV,
        "wall",
        (Column("Infrared to Red Signal Ratio", "oxygen_variation"),),
    ),
    "sleep_score": CsvSeriesSpec(
        "sleep score per night (Fitbit CSV, wake-up local time)",
        "timestamp",
        FALSE_Z,
        "wake_day",
        (Column("overall_score", "sleep_score"),),
    ),
    "google_heart_rate": CsvSeriesSpec(
        "heart rate (Google CSV, UTC)",
        "timestamp",
        UTC,
        "utc",
        (Column("beats per minute", "heart_rate"),),
    ),
    "google_steps": CsvSeriesSpec(
        "steps per minute (Google CSV, UTC)",
        "timestamp",
        UTC,
        "utc",
        (Column("steps", "steps"),),
    ),
    "google_spo2": CsvSeriesSpec(
        "SpO2 per minute of sleep (Google CSV, UTC)",
        "timestamp",
        UTC,
        "utc",
        (Column("oxygen saturation percentage", "spo2", sentinel=50.0, sentinel_reason=_SPO2_FLOOR),),
    ),
    "google_hrv": CsvSeriesSpec(
        "HRV per 5 minutes of sleep (Google CSV, local time despite 'Z')",
        "timestamp",
        FALSE_Z,
        "wall",
        (Column("root mean square of successive differences milliseconds", "hrv_rmssd"),),
    ),
    "google_spo2_daily": CsvSeriesSpec(
        "nightly SpO2 (Google CSV)",
        "timestamp",
        ANY,
        "day",
        (Column("average percentage", "spo2_daily"),),
    ),
    "google_resting_heart_rate": CsvSeriesSpec(
        "resting heart rate per day (Google CSV)",
        "timestamp",
        ANY,
        "day",
        (Column("beats per minute", "resting_heart_rate", absent=_zero_or_less),),
    ),
    # the header says "milli breaths per minute" but the values are breaths per minute (15.8), equal
    # to Fitbit's own respiratory summary; a file that really held milli-breaths would be quarantined
    # as out of range rather than stored wrong
    "google_respiratory_summary": CsvSeriesSpec(
        "breathing rate per sleep stage (Google CSV, wake-up local time despite 'Z')",
        "timestamp",
        FALSE_Z,
        "wake_day",
        (
            Column("full sleep stats - milli breaths per minute", "breathing_rate", absent=_negative),
            Column("deep sleep stats - milli breaths per minute", "breathing_rate_deep", absent=_negative),
            Column("light sleep stats - milli breaths per minute", "breathing_rate_light", absent=_negative),
            Column("rem sleep stats - milli breaths per minute", "breathing_rate_rem", absent=_negative),
        ),
    ),
}
