"""Global Export Data per-sample JSON: heart_rate-DATE.json (1-5 s), steps-/calories-/distance-DATE.json (1 min).

All hold UTC times 'MM/DD/YY HH:MM:SS' (a heart-rate file spans one *local* day, so in UTC+7 it starts
at 17:00 UTC the day before; the monthly steps files likewise start at the local midnight). The
steps files' times match the Google-format steps CSV (ISO 'Z') to the minute, which settles UTC.
Distance is in centimetres (Fitbit's export unit) and is stored in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np

from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.json_arrays import (
    BadRecord,
    decode_typed,
    load_json_array,
    number,
    raw_json,
    read_json_bytes,
)
from fitpipe_ingest.sources.toolkit.stamps import StampText, parse_stamps
from fitpipe_ingest.tree import InputTree

__all__ = ["IntradaySpec", "parse_intraday", "GLOBAL_LAYOUT", "INTRADAY"]

GLOBAL_LAYOUT = "MM/DD/YY hh:mm:ss"


class _Bpm(msgspec.Struct, gc=False):
    bpm: float


class _HeartRecord(msgspec.Struct, gc=False):
    dateTime: str
    value: _Bpm


class _TextRecord(msgspec.Struct, gc=False):
    dateTime: str
    value: str | float


_HEART = msgspec.json.Decoder(list[_HeartRecord])
_TEXT = msgspec.json.Decoder(list[_TextRecord])


@dataclass(frozen=True)
class IntradaySpec:
    metric: str
    kind: str
    divisor: float = 1.0
    heart: bool = False
    """value is {"bpm": n, "confidence": c} rather than a number (or numeric string)."""


INTRADAY = {
    "heart_rate": IntradaySpec("heart_rate", "heart rate (Global Export JSON, UTC)", heart=True),
    "steps": IntradaySpec("steps", "steps per minute (Global Export JSON, UTC)"),
    "calories": IntradaySpec("calories", "calories per minute (Global Export JSON, UTC)"),
    "distance": IntradaySpec(
        "distance", "distance per minute (Global Export JSON, UTC, cm → m)", divisor=100.0
    ),
}


def _fast(data: bytes, spec: IntradaySpec) -> tuple[list[str], np.ndarray] | None:
    if spec.heart:
        hearts = decode_typed(data, _HEART)
        if hearts is None:
            return None
        return [r.dateTime for r in hearts], np.array([r.value.bpm for r in hearts], dtype=np.float64)
    texts = decode_typed(data, _TEXT)
    if texts is None:
        return None
    try:
        values = np.array([r.value for r in texts], dtype=np.float64)
    except ValueError:  # a non-numeric string somewhere: the careful path names it
        return None
    return [r.dateTime for r in texts], values


def _careful(
    records: list[object], spec: IntradaySpec, c: Collector
) -> tuple[list[str], np.ndarray, np.ndarray]:
    stamps: list[str] = []
    values: list[float] = []
    items: list[int] = []
    for k, rec in enumerate(records):
        try:
            if not isinstance(rec, dict):
                raise BadRecord("", f"record is a JSON {type(rec).__name__}, not an object", "malformed")
            stamp = rec.get("dateTime")
            if not isinstance(stamp, str):
                raise BadRecord(
                    "dateTime",
                    "dateTime is missing" if stamp is None else "dateTime is not text",
                    "missing_field" if stamp is None else "bad_timestamp",
                )
            value = rec.get("value")
            if spec.heart:
                if not isinstance(value, dict):
                    raise BadRecord("value.bpm", "value.bpm is missing", "missing_field")
                v = number(value.get("bpm"), "value.bpm")
            else:
                v = number(value, "value")
        except BadRecord as bad:
            c.reject(f"record {k}", bad.field, bad.reason, raw_json(rec), bad.kind)
            continue
        stamps.append(stamp)
        values.append(v)
        items.append(k)
    return stamps, np.array(values, dtype=np.float64), np.array(items, dtype=np.int64)


def parse_intraday(tree: InputTree, path: str, ctx: ParseContext, spec: IntradaySpec) -> ParsedFile:
    c = Collector(path, spec.kind, ctx)
    data = read_json_bytes(tree, path)
    records: list[object] | None = None
    fast = _fast(data, spec)
    if fast is not None:
        stamps, values = fast
        items = np.arange(len(stamps), dtype=np.int64)
        c.read(len(stamps))
    else:
        records = load_json_array(data, path)
        c.read(len(records))
        stamps, values, items = _careful(records, spec, c)
    us, bad = parse_stamps(StampText.from_strings(stamps), (GLOBAL_LAYOUT,))
    if bad.any():
        if records is None:
            records = load_json_array(data, path)
        for i in np.flatnonzero(bad):
            k = int(items[i])
            c.reject(
                f"record {k}",
                "dateTime",
                f"dateTime {stamps[i][:40]!r} is not a {GLOBAL_LAYOUT} time",
                raw_json(records[k]),
                "bad_timestamp",
            )
        keep = ~bad
        us, values, items = us[keep], values[keep], items[keep]
    c.add(
        spec.metric,
        us,
        values / spec.divisor if spec.divisor != 1.0 else values,
        item=items,
        time_field="dateTime",
    )
    return c.result()
