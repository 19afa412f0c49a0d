"""Active Zone Minutes per minute, in both layouts of the export.

Fitbit's 'Active Zone Minutes (AZM)/Active Zone Minutes - DATE.csv' has date_time,heart_zone_id,
total_minutes with local times and FAT_BURN/CARDIO/PEAK; Google's 'Physical Activity_GoogleData/
active_zone_minutes_DATE.csv' has timestamp,heart rate zone,total minutes with UTC times and
'fat burn'/'cardio'/'peak'. Each row feeds active_zone_minutes and the azm_<zone> metric of its zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.takeout.csv_series import Clock, place_rows
from fitpipe_ingest.sources.takeout.csv_specs import UTC, WALL
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.tree import InputTree

__all__ = ["AZM_LAYOUTS", "parse_zone_minutes"]

_ZONE_METRIC = {
    "fat burn": "azm_fat_burn",
    "fat_burn": "azm_fat_burn",
    "cardio": "azm_cardio",
    "peak": "azm_peak",
}


@dataclass(frozen=True)
class _Layout:
    kind: str
    time: str
    zone: str
    minutes: str
    layouts: tuple[str, ...]
    clock: Clock


AZM_LAYOUTS = {
    "fitbit": _Layout(
        "active zone minutes (Fitbit CSV, local time)",
        "date_time",
        "heart_zone_id",
        "total_minutes",
        WALL,
        "wall",
    ),
    "google": _Layout(
        "active zone minutes (Google CSV, UTC)", "timestamp", "heart rate zone", "total minutes", UTC, "utc"
    ),
}


def parse_zone_minutes(tree: InputTree, path: str, ctx: ParseContext, layout_name: str) -> ParsedFile:
    layout = AZM_LAYOUTS[layout_name]
    c = Collector(path, layout.kind, ctx)
    t = c.read_csv(tree, (layout.time, layout.zone, layout.minutes))
    ts, use = place_rows(t, c, layout.time, layout.layouts, layout.clock, ctx)
    minutes, not_number = t.numbers(layout.minutes)
    c.reject_cells(
        t, np.flatnonzero(use & not_number), layout.minutes, "{cell} is not a number", "not_a_number"
    )
    use &= ~not_number
    zones = np.array([_ZONE_METRIC.get(z.strip().lower(), "") for z in t.text(layout.zone)], dtype=object)
    unknown = use & (zones == "")
    c.reject_cells(
        t,
        np.flatnonzero(unknown),
        layout.zone,
        "unknown heart-rate zone {cell} (expected fat burn, cardio or peak)",
        "malformed",
    )
    use &= ~unknown
    rows = np.flatnonzero(use)
    c.add("active_zone_minutes", ts[rows], minutes[rows], line=t.lines[rows], time_field=layout.time)
    for metric in ("azm_fat_burn", "azm_cardio", "azm_peak"):
        zone_rows = rows[zones[rows] == metric]
        c.add(metric, ts[zone_rows], minutes[zone_rows], line=t.lines[zone_rows], time_field=layout.time)
    return c.result()
