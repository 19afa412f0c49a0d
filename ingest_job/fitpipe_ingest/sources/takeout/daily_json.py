"""Global Export Data daily JSON: activity minutes, resting heart rate and time in heart-rate zones.

Each record's dateTime ('MM/DD/YY 00:00:00') names a local day; its values are stored at the first
instant of that day in the participant's zone. Fitbit writes a resting heart rate of 0.0 with a null
date for days it could not estimate one: those are absent values, skipped without a quarantine entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from fitpipe.localtime import US_PER_DAY, day_starts_utc
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.takeout.intraday_json import GLOBAL_LAYOUT
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.json_arrays import (
    BadRecord,
    load_json_array,
    number,
    raw_json,
    read_json_bytes,
)
from fitpipe_ingest.sources.toolkit.stamps import StampText, parse_stamps
from fitpipe_ingest.tree import InputTree

__all__ = ["DAILY", "parse_daily"]

Extractor = Callable[[object], dict[str, float]]

_ZONES = {
    "BELOW_DEFAULT_ZONE_1": "hr_zone_out_of_range",
    "IN_DEFAULT_ZONE_1": "hr_zone_fat_burn",
    "IN_DEFAULT_ZONE_2": "hr_zone_cardio",
    "IN_DEFAULT_ZONE_3": "hr_zone_peak",
}


def _plain(metric: str) -> Extractor:
    def extract(value: object) -> dict[str, float]:
        return {metric: number(value, "value")}

    return extract


def _resting(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise BadRecord("value", "value is not an object with date/value/error", "malformed")
    bpm = number(value.get("value"), "value.value")
    if value.get("date") is None and bpm == 0.0:
        return {}
    return {"resting_heart_rate": bpm}


def _zones(value: object) -> dict[str, float]:
    zones = value.get("valuesInZones") if isinstance(value, dict) else None
    if not isinstance(zones, dict):
        raise BadRecord("value.valuesInZones", "value.valuesInZones is missing", "missing_field")
    # custom zones (IN_CUSTOM_ZONE_*) have no catalog metric and are left out
    return {
        metric: number(zones[key], f"value.valuesInZones.{key}")
        for key, metric in _ZONES.items()
        if key in zones
    }


DAILY: dict[str, tuple[str, Extractor]] = {
    "sedentary_minutes": ("sedentary minutes per day (Global Export JSON)", _plain("sedentary_minutes")),
    "lightly_active_minutes": (
        "lightly active minutes per day (Global Export JSON)",
        _plain("lightly_active_minutes"),
    ),
    "moderately_active_minutes": (
        "moderately active minutes per day (Global Export JSON)",
        _plain("moderately_active_minutes"),
    ),
    "very_active_minutes": (
        "very active minutes per day (Global Export JSON)",
        _plain("very_active_minutes"),
    ),
    "resting_heart_rate": ("resting heart rate per day (Global Export JSON)", _resting),
    "time_in_heart_rate_zones": ("minutes in heart-rate zones per day (Global Export JSON)", _zones),
}


def parse_daily(tree: InputTree, path: str, ctx: ParseContext, family: str) -> ParsedFile:
    kind, extract = DAILY[family]
    c = Collector(path, kind, ctx)
    records = load_json_array(read_json_bytes(tree, path), path)
    c.read(len(records))
    stamps: list[str] = []
    rows: list[tuple[int, dict[str, float]]] = []
    for k, rec in enumerate(records):
        try:
            if not isinstance(rec, dict):
                raise BadRecord("", f"record is a JSON {type(rec).__name__}, not an object", "malformed")
            stamp = rec.get("dateTime")
            if not isinstance(stamp, str):
                raise BadRecord("dateTime", "dateTime is missing", "missing_field")
            values = extract(rec.get("value"))
        except BadRecord as problem:
            c.reject(f"record {k}", problem.field, problem.reason, raw_json(rec), problem.kind)
            continue
        if values:
            stamps.append(stamp)
            rows.append((k, values))
    us, bad = parse_stamps(StampText.from_strings(stamps), (GLOBAL_LAYOUT,))
    day_start = day_starts_utc(us // US_PER_DAY, ctx.timezone)
    per_metric: dict[str, tuple[list[int], list[float], list[int]]] = defaultdict(lambda: ([], [], []))
    for i, (k, values) in enumerate(rows):
        if bad[i]:
            c.reject(
                f"record {k}",
                "dateTime",
                f"dateTime {stamps[i][:40]!r} is not a {GLOBAL_LAYOUT} date",
                raw_json(records[k]),
                "bad_timestamp",
            )
            continue
        for metric, v in values.items():
            ts, vals, items = per_metric[metric]
            ts.append(int(day_start[i]))
            vals.append(v)
            items.append(k)
    for metric, (ts, vals, items) in per_metric.items():
        c.add(
            metric, np.array(ts, dtype=np.int64), np.array(vals), item=np.array(items), time_field="dateTime"
        )
    return c.result()
