"""The files of a Fitbit export that fitpipe reads, by name pattern, and the order to load them.

A file is recognised by its name wherever it sits, at any depth and in any mix of layouts: Google
Takeout (`Takeout/Fitbit/Global Export Data/`, the per-topic folders such as `Heart Rate Variability/`,
and the 2025-26 CSV folders `Physical Activity_GoogleData/`, `Health Fitness Data_GoogleData/`), the
legacy account archive (`MyFitbitData/<name>/user-site-export/*.json`, older exports' `Physical
Activity/` and `Sleep/`), one folder per metric (`user-site-export/heart_rate/heart_rate-….json`), or
one file given alone. The names carry dates or fixed words no other format uses; each parser checks
the content (the JSON shape, the CSV header) and fails the file with what it expected when it differs.
Fitbit's README .txt files describe the columns; they are documentation, neither read nor reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["Family", "FAMILIES", "family_of", "load_order_key"]

_DATE = r"\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class Family:
    name: str
    pattern: re.Pattern[str]


def _f(name: str, pattern: str) -> Family:
    return Family(name, re.compile(pattern))


FAMILIES: tuple[Family, ...] = (
    _f("heart_rate_json", rf"heart_rate-{_DATE}\.json"),
    _f("steps_json", rf"steps-{_DATE}\.json"),
    _f("calories_json", rf"calories-{_DATE}\.json"),
    _f("distance_json", rf"distance-{_DATE}\.json"),
    _f("resting_heart_rate_json", rf"resting_heart_rate-{_DATE}\.json"),
    _f("time_in_heart_rate_zones_json", rf"time_in_heart_rate_zones-{_DATE}\.json"),
    _f("sedentary_minutes_json", rf"sedentary_minutes-{_DATE}\.json"),
    _f("lightly_active_minutes_json", rf"lightly_active_minutes-{_DATE}\.json"),
    _f("moderately_active_minutes_json", rf"moderately_active_minutes-{_DATE}\.json"),
    _f("very_active_minutes_json", rf"very_active_minutes-{_DATE}\.json"),
    _f("sleep_json", rf"sleep-{_DATE}\.json"),
    _f("oxygen_variation", rf"estimated_oxygen_variation-{_DATE}\.csv"),
    _f("hrv_details", rf"Heart Rate Variability Details - {_DATE}\.csv"),
    _f("hrv_daily", r"Daily Heart Rate Variability Summary - \d{4}-\d{2}-\(?\d{2}\)?\.csv"),
    _f("respiratory_daily", rf"Daily Respiratory Rate Summary - {_DATE}\.csv"),
    _f("respiratory_summary", rf"Respiratory Rate Summary - {_DATE}\.csv"),
    _f("spo2_minute", rf"Minute SpO2 - {_DATE}\.csv"),
    _f("spo2_daily", rf"Daily SpO2 - {_DATE}(-{_DATE})?\.csv"),
    _f("azm_fitbit", rf"Active Zone Minutes - {_DATE}\.csv"),
    _f("computed_temperature", rf"Computed Temperature - {_DATE}\.csv"),
    _f("sleep_score", r"sleep_score\.csv"),
    _f("user_sleeps", rf"UserSleeps(_{_DATE})?\.csv"),
    _f("user_sleep_stages", rf"UserSleepStages(_{_DATE})?\.csv"),
    _f("google_heart_rate", rf"heart_rate_{_DATE}\.csv"),
    _f("azm_google", rf"active_zone_minutes_{_DATE}\.csv"),
    _f("google_steps", rf"steps_{_DATE}\.csv"),
    _f("google_spo2", rf"oxygen_saturation_{_DATE}\.csv"),
    _f("google_hrv", rf"heart_rate_variability_{_DATE}\.csv"),
    _f("google_spo2_daily", rf"daily_oxygen_saturation_{_DATE}\.csv"),
    _f("google_resting_heart_rate", rf"daily_resting_heart_rate(_{_DATE})?\.csv"),
    _f("google_respiratory_summary", rf"respiratory_rate_sleep_summary_{_DATE}\.csv"),
)

_FIRST_DATE = re.compile(r"(\d{4})-(\d{2})-\(?(\d{2})\)?")


def family_of(path: str) -> Family | None:
    name = PurePosixPath(path).name
    return next((family for family in FAMILIES if family.pattern.fullmatch(name)), None)


def load_order_key(path: str) -> tuple[str, str]:
    """By the (first) date in the file name, then by path: chronological within each metric's files;
    files without a date (whole-history files) come first."""
    match = _FIRST_DATE.search(PurePosixPath(path).name)
    return ("-".join(match.groups()) if match else "", path)
