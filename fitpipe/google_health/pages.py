"""Decoding `dataPoints` pages. Heart rate at 1 s is ~28 MB of JSON per participant and day, and building
every point's dicts (data source, civil time) costs more than everything else a sync does with it; for
the sample and interval types a msgspec schema keeps only the members the mapping reads (about 4× faster).
A page where some point lacks its physical time is decoded again in full (the mapping's civil-time fallback).
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec
import orjson

from fitpipe.google_health.datatypes import DATA_TYPES, DataType

__all__ = ["decode_page", "SLIM_MEMBERS"]

SLIM_MEMBERS: dict[str, tuple[str, ...]] = {
    "heart-rate": ("beatsPerMinute",),
    "heart-rate-variability": ("rootMeanSquareOfSuccessiveDifferencesMilliseconds",),
    "oxygen-saturation": ("percentage",),
    "steps": ("count",),
    "active-zone-minutes": ("activeZoneMinutes", "heartRateZone"),
}
"""Per high-volume type, the value members the mapping reads (besides the time)."""

_TIME = {
    "sample": ("sampleTime", "physicalTime", "utcOffset"),
    "interval": ("interval", "startTime", "startUtcOffset"),
}


def _decoder(data_type: DataType) -> tuple[msgspec.json.Decoder[Any], str, str]:
    stamp, instant, offset = _TIME[data_type.time]
    # TypedDicts built at run time (their keys depend on the data type), which mypy cannot follow:
    # msgspec decodes only these members and skips the rest of a page without building it.
    time_dict = TypedDict(f"{stamp}_slim", {instant: Any, offset: Any}, total=False)  # type: ignore[misc]
    member_dict = TypedDict(  # type: ignore[misc]
        f"{data_type.member}_slim",
        {stamp: time_dict, **{k: Any for k in SLIM_MEMBERS[data_type.name]}},
        total=False,
    )
    point = TypedDict("point", {data_type.member: member_dict}, total=False)  # type: ignore[misc]
    page = TypedDict("page", {"dataPoints": list[point], "nextPageToken": Any}, total=False)  # noqa: UP013
    return msgspec.json.Decoder(page), stamp, instant


_DECODERS: dict[str, tuple[msgspec.json.Decoder[Any], str, str]] = {
    t.name: _decoder(t) for t in DATA_TYPES if t.name in SLIM_MEMBERS
}


def decode_page(data_type: DataType, raw: bytes) -> Any:
    """The page as dicts; slim for the high-volume types unless a point needs its civil time."""
    slim = _DECODERS.get(data_type.name)
    if slim is not None:
        decoder, stamp, instant = slim
        try:
            page = decoder.decode(raw)
        except msgspec.ValidationError:
            return orjson.loads(raw)  # not the shape expected (a point that is not an object): map it in full
        points = page.get("dataPoints") or []
        member = data_type.member
        if all(isinstance(((p.get(member) or {}).get(stamp) or {}).get(instant), str) for p in points):
            return page
    return orjson.loads(raw)
