"""The files of a Fitbit export that fitpipe reads, by folder and name pattern, and the order to load them.

The export's top folder may be 'Takeout/Fitbit/', 'Fitbit/' or absent: a file is recognised by its
folder name and file name alone (by its name alone when it sits at the top of the input, as when
one file is ingested by itself). Older exports kept the Global Export JSON files in 'Physical Activity/'
and 'Sleep/' (or 'user-site-export/' before Takeout); those folders are accepted for them too. Fitbit's README .txt files describe the columns; they are listed
as documentation, neither read nor reported as unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["Family", "FAMILIES", "family_of", "is_documentation", "load_order_key"]

_DATE = r"\d{4}-\d{2}-\d{2}"
_GLOBAL = ("Global Export Data", "Physical Activity", "Sleep", "user-site-export")
_HRV = ("Heart Rate Variability",)
_SPO2 = ("Oxygen Saturation (SpO2)",)
_GOOGLE_ACTIVITY = ("Physical Activity_GoogleData",)
_GOOGLE_HEALTH = ("Health Fitness Data_GoogleData",)


@dataclass(frozen=True)
class Family:
    name: str
    folders: tuple[str, ...]
    pattern: re.Pattern[str]


def _f(name: str, folders: tuple[str, ...], pattern: str) -> Family:
    return Family(name, folders, re.compile(pattern))


FAMILIES: tuple[Family, ...] = (
    _f("heart_rate_json", _GLOBAL, rf"heart_rate-{_DATE}\.json"),
    _f("steps_json", _GLOBAL, rf"steps-{_DATE}\.json"),
    _f("calories_json", _GLOBAL, rf"calories-{_DATE}\.json"),
    _f("distance_json", _GLOBAL, rf"distance-{_DATE}\.json"),
    _f("resting_heart_rate_json", _GLOBAL, rf"resting_heart_rate-{_DATE}\.json"),
    _f("time_in_heart_rate_zones_json", _GLOBAL, rf"time_in_heart_rate_zones-{_DATE}\.json"),
    _f("sedentary_minutes_json", _GLOBAL, rf"sedentary_minutes-{_DATE}\.json"),
    _f("lightly_active_minutes_json", _GLOBAL, rf"lightly_active_minutes-{_DATE}\.json"),
    _f("moderately_active_minutes_json", _GLOBAL, rf"moderately_active_minutes-{_DATE}\.json"),
    _f("very_active_minutes_json", _GLOBAL, rf"very_active_minutes-{_DATE}\.json"),
    _f("sleep_json", _GLOBAL, rf"sleep-{_DATE}\.json"),
    _f("oxygen_variation", _GLOBAL, rf"estimated_oxygen_variation-{_DATE}\.csv"),
    _f("hrv_details", _HRV, rf"Heart Rate Variability Details - {_DATE}\.csv"),
    _f("hrv_daily", _HRV, r"Daily Heart Rate Variability Summary - \d{4}-\d{2}-\(?\d{2}\)?\.csv"),
    _f("respiratory_daily", _HRV, rf"Daily Respiratory Rate Summary - {_DATE}\.csv"),
    _f("respiratory_summary", _HRV, rf"Respiratory Rate Summary - {_DATE}\.csv"),
    _f("spo2_minute", _SPO2, rf"Minute SpO2 - {_DATE}\.csv"),
    _f("spo2_daily", _SPO2, rf"Daily SpO2 - {_DATE}(-{_DATE})?\.csv"),
    _f("azm_fitbit", ("Active Zone Minutes (AZM)",), rf"Active Zone Minutes - {_DATE}\.csv"),
    _f("computed_temperature", ("Temperature",), rf"Computed Temperature - {_DATE}\.csv"),
    _f("sleep_score", ("Sleep Score", "Sleep"), r"sleep_score\.csv"),
    _f("user_sleeps", _GOOGLE_HEALTH, rf"UserSleeps(_{_DATE})?\.csv"),
    _f("user_sleep_stages", _GOOGLE_HEALTH, rf"UserSleepStages(_{_DATE})?\.csv"),
    _f("google_heart_rate", _GOOGLE_ACTIVITY, rf"heart_rate_{_DATE}\.csv"),
    _f("azm_google", _GOOGLE_ACTIVITY, rf"active_zone_minutes_{_DATE}\.csv"),
    _f("google_steps", _GOOGLE_ACTIVITY, rf"steps_{_DATE}\.csv"),
    _f("google_spo2", _GOOGLE_ACTIVITY, rf"oxygen_saturation_{_DATE}\.csv"),
    _f("google_hrv", _GOOGLE_ACTIVITY, rf"heart_rate_variability_{_DATE}\.csv"),
    _f("google_spo2_daily", _GOOGLE_ACTIVITY, rf"daily_oxygen_saturation_{_DATE}\.csv"),
    _f("google_resting_heart_rate", _GOOGLE_ACTIVITY, rf"daily_resting_heart_rate(_{_DATE})?\.csv"),
    _f("google_respiratory_summary", _GOOGLE_ACTIVITY, rf"respiratory_rate_sleep_summary_{_DATE}\.csv"),
)

_FIRST_DATE = re.compile(r"(\d{4})-(\d{2})-\(?(\d{2})\)?")


def family_of(path: str) -> Family | None:
    p = PurePosixPath(path)
    folder = p.parent.name
    for family in FAMILIES:
        if (folder in family.folders or folder == "") and family.pattern.fullmatch(p.name):
            return family
    return None


def is_documentation(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return name.endswith(".txt") and "readme" in name


def load_order_key(path: str) -> tuple[str, str]:
    """By the (first) date in the file name, then by path: chronological within each metric's files;
    files without a date (whole-history files) come first."""
    match = _FIRST_DATE.search(PurePosixPath(path).name)
    return ("-".join(match.groups()) if match else "", path)
