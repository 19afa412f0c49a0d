"""Intraday lists inside a cell ({'time': …, 'value': …} items): cut out of the cell, read item by item,
placed on the row's day; one bad item is quarantined as `line N, item K`, never its row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from fitpipe.localtime import US_PER_SECOND
from fitpipe_ingest.records import RAW_LIMIT
from fitpipe_ingest.sources.wearipedia.cells import (
    EPOCH_NAIVE,
    BadRow,
    NotANumber,
    Out,
    Row,
    literal,
    to_float,
    why,
)

__all__ = [
    "DICT_ITEMS",
    "HR_ITEMS",
    "SPO2_ITEMS",
    "Items",
    "decode",
    "emit_items",
    "entries",
    "list_bodies",
    "local_times",
    "read_items",
]


_TIME = r"(?P<t>(?:\d{4}-\d\d-\d\dT)?\d\d:\d\d:\d\d)(?:\.\d{1,6})?"
_SCALAR = r"(?P<np>np\.\w+\()?(?P<v>[^,{}()']*)(?(np)\))"
_INNER = r"\{(?P<d>[^{}]*)\}"
_KEY_VALUE = re.compile(r"'(\w+)': (np\.\w+\()?([^,{}()']*)(?(2)\))")
_TIME_TEXT = re.compile(r"(?:\d{4}-\d\d-\d\dT)?\d\d:\d\d:\d\d")


@dataclass(frozen=True)
class _Layout:
    """How one item of an intraday list is written, e.g. {'time': 'HH:MM:SS', 'value': 73.0}."""

    pattern: re.Pattern[str]
    time_key: str


HR_ITEMS = _Layout(re.compile(r"\{'time': '" + _TIME + r"', 'value': " + _SCALAR + r"\}"), "time")
SPO2_ITEMS = _Layout(re.compile(r"\{'value': " + _SCALAR + r", 'minute': '" + _TIME + r"'\}"), "minute")
DICT_ITEMS = _Layout(re.compile(r"\{'minute': '" + _TIME + r"', 'value': " + _INNER + r"\}"), "minute")


@lru_cache(maxsize=1024)
def _inner_dict(text: str) -> dict[str, str] | None:
    """ "'a': 1, 'b': np.float64(2.5)" as {'a': '1', 'b': '2.5'}; None when it is not that simple."""
    pairs = _KEY_VALUE.findall(text)
    if len(pairs) != text.count(":"):
        return None
    return {key: value for key, _, value in pairs}


_BRACE = re.compile(r"[{}]")


def _split_items(body: str) -> list[str]:
    """The top-level {...} items of a list body; stray text between them is kept as an item of its own."""
    items: list[str] = []
    depth = start = last_end = 0
    for m in _BRACE.finditer(body):
        if m.group() == "{":
            if depth == 0:
                if body[last_end : m.start()].strip(", \t"):
                    items.append(body[last_end : m.start()].strip(", \t"))
                start = m.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                items.append(body[start : m.end()])
                last_end = m.end()
    if depth > 0:
        items.append(body[start:])
    elif body[last_end:].strip(", \t"):
        items.append(body[last_end:].strip(", \t"))
    return items


@dataclass
class Items:
    """Items of one intraday list read by the careful path: their times and values, in item order."""

    index: list[int] = field(default_factory=list)
    time: list[str] = field(default_factory=list)
    value: list[object] = field(default_factory=list)
    count: int = 0
    """Items in the list, read or quarantined."""


def read_items(body: str, layout: _Layout, row: Row, first_item: int, column: str, out: Out) -> Items:
    texts = _split_items(body)
    got = Items(count=len(texts))
    for k, text in enumerate(texts, start=first_item):
        m = layout.pattern.fullmatch(text)
        if m is not None:
            inner = m.groupdict().get("d")
            value: object = m["v"] if inner is None else _inner_dict(inner)
            if value is not None:
                got.index.append(k)
                got.time.append(m["t"])
                got.value.append(value)
                continue
        try:
            obj = literal(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            out.reject_at(row, k, column, f"unreadable item ({why(exc)})", text, "malformed")
            continue
        if not isinstance(obj, dict) or layout.time_key not in obj or "value" not in obj:
            out.reject_at(row, k, column, f"item lacks '{layout.time_key}' or 'value'", text, "missing_field")
            continue
        stamp = obj[layout.time_key]
        if not isinstance(stamp, str) or _TIME_TEXT.fullmatch(stamp.split(".")[0]) is None:
            out.reject_at(
                row, k, f"{column}.{layout.time_key}", f"not a time: {stamp!r}", text, "bad_timestamp"
            )
            continue
        got.index.append(k)
        got.time.append(stamp.split(".")[0])
        got.value.append(obj["value"])
    return got


def local_times(
    got: Items, day_us: int, row: Row, field_name: str, out: Out
) -> tuple[np.ndarray, np.ndarray]:
    """Local microseconds of each item ('HH:MM:SS' on the row's day, or a full ISO time) and a keep mask."""
    n = len(got.time)
    local = np.zeros(n, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    clock = [i for i, t in enumerate(got.time) if len(t) == 8]
    if clock:
        secs, valid = _clock_seconds([got.time[i] for i in clock])
        idx = np.array(clock)
        local[idx] = day_us + secs * US_PER_SECOND
        ok[idx] = valid
    full = [i for i, t in enumerate(got.time) if len(t) != 8]
    if full:
        texts = [got.time[i] for i in full]
        try:
            stamps = np.array(texts, dtype="datetime64[s]").astype(np.int64) * US_PER_SECOND
            local[np.array(full)] = stamps
        except ValueError:  # one bad date among them: find it
            for i, t in zip(full, texts, strict=True):
                try:
                    local[i] = (datetime.fromisoformat(t) - EPOCH_NAIVE) // timedelta(microseconds=1)
                except ValueError:
                    ok[i] = False
    for bad in np.flatnonzero(~ok):
        out.reject_at(
            row,
            got.index[bad],
            field_name,
            f"not a valid time: {got.time[bad]!r}",
            got.time[bad],
            "bad_timestamp",
        )
    return local, ok


def _clock_seconds(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """'HH:MM:SS' strings (digits already checked) as seconds of the day, and which are valid times."""
    d = np.array(texts, dtype="U8").view(np.uint32).reshape(-1, 8).astype(np.int64) - 48
    hours, minutes, seconds = d[:, 0] * 10 + d[:, 1], d[:, 3] * 10 + d[:, 4], d[:, 6] * 10 + d[:, 7]
    valid = (hours < 24) & (minutes < 60) & (seconds < 60)
    return hours * 3600 + minutes * 60 + seconds, valid


def _values(
    got: Items,
    keep: np.ndarray,
    key: str | None,
    row: Row,
    field_name: str,
    out: Out,
    required: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(positions in `got`, float values) of one key of each kept item; non-numbers are quarantined."""
    positions: list[int] = []
    values: list[float] = []
    for i in np.flatnonzero(keep):
        raw = got.value[i]
        if key is not None:
            if not isinstance(raw, dict):
                out.reject_at(row, got.index[i], field_name, "value is not a dict", str(raw), "malformed")
                continue
            if key not in raw:
                if required:
                    out.reject_at(
                        row, got.index[i], field_name, f"missing key '{key}'", str(raw), "missing_field"
                    )
                continue
            raw = raw[key]
        try:
            values.append(to_float(raw))
        except NotANumber as exc:
            out.reject_at(row, got.index[i], field_name, str(exc), str(raw), "not_a_number")
            continue
        positions.append(int(i))
    return np.array(positions, dtype=np.int64), np.array(values, dtype=np.float64)


def emit_items(
    got: Items,
    local: np.ndarray,
    keep: np.ndarray,
    metrics: Mapping[str | None, tuple[str, bool]],
    row: Row,
    column: str,
    time_field: str,
    out: Out,
) -> None:
    """Emit each metric of the items: metrics maps a value key (None: the scalar value) to (metric, required)."""
    index = np.array(got.index, dtype=np.int32)
    for key, (metric, required) in metrics.items():
        field_name = column if key is None else f"{column}.{key}"
        pos, vals = _values(got, keep, key, row, field_name, out, required)
        out.add_points(metric, local[pos], vals, row.line, index[pos], row.participant, time_field)


def list_bodies(cell: bytes, key: str, column: str) -> tuple[str, list[bytes]]:
    """Cut every `'key': [ ... ]` list out of a cell: (the rest as text, the list bodies as bytes).

    The rest is small and read with `ast`; the bodies (86,400 items for heart rate) are read apart.
    Items hold no lists, so the first ']' after the opening closes the list.
    """
    marker = f"'{key}': [".encode()
    parts: list[bytes] = []
    bodies: list[bytes] = []
    pos = 0
    while (a := cell.find(marker, pos)) >= 0:
        a += len(marker)
        b = cell.find(b"]", a)
        if b < 0:
            raise BadRow(
                column,
                f"the '{key}' list is not closed: the row is cut off",
                cell[-RAW_LIMIT:].decode("utf-8", "replace"),
            )
        parts.append(cell[pos:a])
        bodies.append(cell[a:b])
        pos = b
    parts.append(cell[pos:])
    return decode(b"".join(parts), column), bodies


def decode(data: bytes, column: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRow(
            column, f"not UTF-8 text (byte {exc.start})", repr(data[max(0, exc.start - 40) : exc.start + 40])
        ) from None


def entries(obj: Any, column: str, text: str) -> list[dict[str, Any]]:
    if not isinstance(obj, list) or not all(isinstance(e, dict) for e in obj):
        raise BadRow(column, "expected a list of dicts", text)
    return obj
