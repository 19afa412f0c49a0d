"""heart_rate.csv / hr.csv: 1-second heart rate, resting heart rate and the daily heart-rate zones.

A row holds 86,400 items (~4.7 MB): they are read with numpy straight from the bytes (the fast path);
whatever that path cannot read is read item by item (items.py), so one bad item costs only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fitpipe.localtime import US_PER_SECOND
from fitpipe_ingest.sources.wearipedia.cells import (
    BadRow,
    NotANumber,
    Out,
    Row,
    day_local_us,
    literal_or_bad,
    parse_date,
    to_float,
)
from fitpipe_ingest.sources.wearipedia.items import (
    HR_ITEMS,
    decode,
    emit_items,
    entries,
    list_bodies,
    local_times,
    read_items,
)

__all__ = ["HR_ZONES", "FastHeartRate", "read_heart_rate", "read_heart_rate_fast"]


_HR_PIECES = ((0, b"{'time': '"), (12, b":"), (15, b":"), (18, b"', 'value': "))
_HR_DIGITS = (10, 11, 13, 14, 16, 17)
_HR_PREFIX = 30
_NP_WRAPPERS = (b"np.float64(", b"np.int64(")


def _bytes_at(buf: np.ndarray, positions: np.ndarray, pattern: bytes) -> np.ndarray:
    """Whether `pattern` starts at each position (positions must leave room for it)."""
    if positions.size == 0:
        return np.zeros(0, dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(buf, len(pattern))
    return (windows[positions] == np.frombuffer(pattern, dtype=np.uint8)).all(axis=1)


@dataclass
class FastHeartRate:
    seconds: np.ndarray
    values: np.ndarray
    items: np.ndarray
    none_items: np.ndarray


def read_heart_rate_fast(body: bytes) -> FastHeartRate | None:
    """Every item of a heart-rate dataset at numpy speed, or None when any item departs from the exact layout.

    Items are found by their braces and checked against the fixed 30-byte prefix; the value texts
    (numpy wrappers stripped) are packed end to end and parsed by Arrow's string-to-double cast,
    about 30 ns a value against 300 ns for float() or np.fromstring.
    """
    buf = np.frombuffer(body, dtype=np.uint8)
    opens = np.flatnonzero(buf == 0x7B)
    closes = np.flatnonzero(buf == 0x7D)
    n = opens.size
    if n == 0 or closes.size != n or opens[0] != 0 or closes[-1] != buf.size - 1:
        return None
    if not ((closes - opens > _HR_PREFIX).all() and (opens[1:] == closes[:-1] + 3).all()):
        return None
    if not _bytes_at(buf, closes[:-1] + 1, b", ").all():
        return None
    if not all(_bytes_at(buf, opens + offset, piece).all() for offset, piece in _HR_PIECES):
        return None
    d = [buf[opens + k].astype(np.int64) - 48 for k in _HR_DIGITS]
    if any(((x < 0) | (x > 9)).any() for x in d):
        return None
    hours, minutes, seconds = d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]
    if ((hours > 23) | (minutes > 59) | (seconds > 59)).any():
        return None
    start = opens + _HR_PREFIX
    end = closes.copy()
    wrapped = np.flatnonzero(buf[start] == 0x6E)  # 'n'
    for wrapper in _NP_WRAPPERS:
        cand = wrapped[end[wrapped] - start[wrapped] > len(wrapper)]
        hit = cand[_bytes_at(buf, start[cand], wrapper) & (buf[end[cand] - 1] == 0x29)]
        start[hit] += len(wrapper)
        end[hit] -= 1
    four = np.flatnonzero(end - start == 4)
    none_items = four[_bytes_at(buf, start[four], b"None")]
    keep = np.ones(n, dtype=bool)
    keep[none_items] = False
    items = np.flatnonzero(keep)
    start, end = start[items], end[items]
    # value bytes end to end: a run mask from the (start, end) bounds, then one compress
    bounds = np.empty(2 * items.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, buf.size
    bounds[1:-1:2], bounds[2:-1:2] = start, end
    inside = np.repeat(np.arange(2 * items.size + 1) % 2 == 1, np.diff(bounds))
    offsets = np.zeros(items.size + 1, dtype=np.int32)
    np.cumsum(end - start, out=offsets[1:])
    texts = pa.StringArray.from_buffers(items.size, pa.py_buffer(offsets), pa.py_buffer(buf[inside]))
    try:
        values = pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # some value is not a number: the careful path names it
        return None
    secs = (hours * 3600 + minutes * 60 + seconds)[items]
    return FastHeartRate(secs, values, items, none_items)


HR_ZONES = {
    "out of range": "hr_zone_out_of_range",
    "fat burn": "hr_zone_fat_burn",
    "cardio": "hr_zone_cardio",
    "peak": "hr_zone_peak",
}
_MINUTES_PER_DAY = 1440


def read_heart_rate(row: Row, out: Out) -> None:
    column = "heart_rate_day"
    head, bodies = list_bodies(row.cells[column], "dataset", column)
    next_item = 0
    for k, entry in enumerate(entries(literal_or_bad(head, column), column, head)):
        summaries = entry.get("activities-heart")
        if not isinstance(summaries, list) or not summaries or not isinstance(summaries[0], dict):
            raise BadRow(column, "missing 'activities-heart'", head)
        day = parse_date(summaries[0].get("dateTime"), f"{column}.dateTime")
        intraday = entry.get("activities-heart-intraday")
        dataset_type = intraday.get("datasetType") if isinstance(intraday, dict) else None
        for summary in summaries:
            _heart_rate_summary(summary, day, dataset_type, row, k, out)
        if isinstance(intraday, dict) and "dataset" in intraday and bodies:
            next_item = _heart_rate_points(bodies.pop(0), day, row, next_item, out)


def _heart_rate_summary(summary: Any, day: date, dataset_type: object, row: Row, k: int, out: Out) -> None:
    value = summary.get("value") if isinstance(summary, dict) else None
    if not isinstance(value, dict):
        return
    if "restingHeartRate" in value:
        try:
            out.add_daily(
                "resting_heart_rate", day, to_float(value["restingHeartRate"]), row.line, k, row.participant
            )
        except NotANumber as exc:
            out.reject_at(
                row,
                k,
                "heart_rate_day.restingHeartRate",
                str(exc),
                str(value["restingHeartRate"]),
                "not_a_number",
            )
    zones: list[tuple[str, float]] = []
    for zone in value.get("heartRateZones") or []:
        metric = HR_ZONES.get(str(zone.get("name", "")).strip().lower()) if isinstance(zone, dict) else None
        if metric is None or "minutes" not in zone:
            continue
        try:
            zones.append((metric, to_float(zone["minutes"])))
        except NotANumber as exc:
            out.reject_at(
                row,
                k,
                f"heart_rate_day.heartRateZones.{zone['name']}.minutes",
                str(exc),
                str(zone["minutes"]),
                "not_a_number",
            )
    # wearipedia counts 1-second samples per zone (the four sum to 86,400): no day has that many minutes
    as_seconds = dataset_type == "second" and sum(v for _, v in zones) > _MINUTES_PER_DAY
    for metric, minutes in zones:
        out.add_daily(metric, day, minutes / 60 if as_seconds else minutes, row.line, k, row.participant)


def _heart_rate_points(body: bytes, day: date, row: Row, first_item: int, out: Out) -> int:
    """Emit one dataset's heart rate; returns the item number after its last item."""
    day_us = day_local_us(day)
    fast = read_heart_rate_fast(body) if body else None
    if fast is not None:
        for i in fast.none_items:
            out.reject_at(
                row, first_item + int(i), "heart_rate_day.value", "no value (None)", "None", "not_a_number"
            )
        out.add_points(
            "heart_rate",
            day_us + fast.seconds * US_PER_SECOND,
            fast.values,
            row.line,
            (first_item + fast.items).astype(np.int32),
            row.participant,
            "heart_rate_day.time",
        )
        return first_item + int(fast.items.size + fast.none_items.size)
    got = read_items(decode(body, "heart_rate_day"), HR_ITEMS, row, first_item, "heart_rate_day", out)
    local, keep = local_times(got, day_us, row, "heart_rate_day.time", out)
    emit_items(
        got,
        local,
        keep,
        {None: ("heart_rate", True)},
        row,
        "heart_rate_day.value",
        "heart_rate_day.time",
        out,
    )
    return first_item + got.count
