"""The per-minute files: active_zone_minutes.csv / azm.csv, hrv.csv and spo2.csv.

HRV minutes after midnight keep the evening's date (a generator bug): a step back of 12-24 h within a
night is rolled to the next day, so HRV and SpO2 name the same instants.
"""

from __future__ import annotations

import numpy as np

from fitpipe.localtime import US_PER_DAY
from fitpipe_ingest.records import RAW_LIMIT
from fitpipe_ingest.sources.wearipedia.cells import (
    HALF_DAY_US,
    BadRow,
    Out,
    Row,
    day_local_us,
    literal_or_bad,
    parse_date,
)
from fitpipe_ingest.sources.wearipedia.items import (
    DICT_ITEMS,
    SPO2_ITEMS,
    decode,
    emit_items,
    entries,
    list_bodies,
    local_times,
    read_items,
)

__all__ = ["AZM", "HRV", "read_active_zone_minutes", "read_hrv", "read_spo2"]


AZM: dict[str | None, tuple[str, bool]] = {
    "activeZoneMinutes": ("active_zone_minutes", True),
    "fatBurnActiveZoneMinutes": ("azm_fat_burn", False),
    "cardioActiveZoneMinutes": ("azm_cardio", False),
    "peakActiveZoneMinutes": ("azm_peak", False),
}


def read_active_zone_minutes(row: Row, out: Out) -> None:
    column = "activities-active-zone-minutes-intraday"
    head, bodies = list_bodies(row.cells[column], "minutes", column)
    first_item = 0
    for entry in entries(literal_or_bad(head, column), column, head):
        if "minutes" not in entry or not bodies:
            continue
        day = parse_date(entry.get("dateTime"), f"{column}.dateTime")
        got = read_items(decode(bodies.pop(0), column), DICT_ITEMS, row, first_item, column, out)
        local, keep = local_times(got, day_local_us(day), row, f"{column}.minute", out)
        emit_items(got, local, keep, AZM, row, column, f"{column}.minute", out)
        first_item += got.count


HRV: dict[str | None, tuple[str, bool]] = {
    "rmssd": ("hrv_rmssd", True),
    "coverage": ("hrv_coverage", True),
    "hf": ("hrv_hf", True),
    "lf": ("hrv_lf", True),
}


def read_hrv(row: Row, out: Out) -> None:
    head, bodies = list_bodies(row.cells["hrv"], "minutes", "hrv")
    first_item = 0
    for entry in entries(literal_or_bad(head, "hrv"), "hrv", head):
        if "minutes" not in entry or not bodies:
            continue
        day = parse_date(entry.get("dateTime"), "hrv.dateTime")
        got = read_items(decode(bodies.pop(0), "hrv"), DICT_ITEMS, row, first_item, "hrv", out)
        local, keep = local_times(got, day_local_us(day), row, "hrv.minute", out)
        _roll_past_midnight(local, keep)
        emit_items(got, local, keep, HRV, row, "hrv", "hrv.minute", out)
        first_item += got.count


def _roll_past_midnight(local: np.ndarray, keep: np.ndarray) -> None:
    """wearipedia writes a night's post-midnight HRV minutes with the evening's date: move them a day on.

    The sign of the bug is a step back in time of 12 to 24 hours between consecutive minutes of one
    night; smaller steps back are left alone (the loader keeps the last value of a duplicate).
    """
    idx = np.flatnonzero(keep)
    if idx.size < 2:
        return
    step = np.diff(local[idx])
    wrapped = (step <= -HALF_DAY_US) & (step > -US_PER_DAY)
    if wrapped.any():
        local[idx[1:]] += np.cumsum(wrapped) * US_PER_DAY


def read_spo2(row: Row, out: Out) -> None:
    day = parse_date(row.text("dateTime"), "dateTime")
    text = row.text("minutes").strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise BadRow(
            "minutes",
            "expected a list [...]" + (" (the row is cut off)" if text.startswith("[") else ""),
            text[-RAW_LIMIT:],
        )
    got = read_items(text[1:-1], SPO2_ITEMS, row, 0, "minutes", out)
    local, keep = local_times(got, day_local_us(day), row, "minutes.minute", out)
    emit_items(got, local, keep, {None: ("spo2", True)}, row, "minutes.value", "minutes.minute", out)
