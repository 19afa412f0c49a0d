"""Reads the challenge's wearipedia CSVs (synthetic Fitbit Charge 6 data, cells written as Python repr).

Heart-rate rows hold 86,400 points each and are read with numpy straight from the bytes; whatever
that fast path cannot read is parsed item by item, so one bad item is quarantined, not the file.

What becomes what:
  activity.csv                      steps (daily total)
  heart_rate.csv / hr.csv           heart_rate (1 s), resting_heart_rate, hr_zone_* (daily)
  spo2.csv                          spo2 (per minute)
  hrv.csv                           hrv_rmssd, hrv_coverage, hrv_hf, hrv_lf (per minute)
  breathing_rate.csv / br.csv       breathing_rate, breathing_rate_deep/_rem/_light (daily)
  active_zone_minutes.csv / azm.csv active_zone_minutes (every minute), azm_fat_burn/_cardio/_peak
                                    (only the minutes that carry the key)
Daily values are stamped at the start of the participant's local day (local midnight, or the first
instant of the day where clocks jump over midnight); everything else is floating local time
converted with the participant's zone, and a local time that does not exist there is quarantined.

Values: a number, nan and inf included, goes into the batch as it is (the loader quarantines NaN,
Inf and out-of-range values against the metric catalog). Anything that is not a number (None, text,
a cut-off item) is quarantined here with its raw text. Absent optional keys (restingHeartRate, a
sleep stage, a zone key) emit nothing; a missing required key (an HRV field, activeZoneMinutes) is
quarantined. A data cell that is empty, None or nan as a whole is pandas' mark of a missing day:
the row is skipped. A file that is empty, has the wrong header or ends inside a row is an InputError.

Quirks handled (see the formats notes): np.float64(…)/np.int64(…) wrappers; HRV minutes after
midnight that keep the evening's date (rolled to the next day when the clock steps back 12–24 h);
heartRateZones 'minutes' that the generator fills with counts of 1-second samples (four zones
summing to 86,400, read as seconds and divided by 60 when the total cannot be minutes); a trailing
user_id column (SampleBatch.participant); a UTF-8 byte-order mark.
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fitpipe.catalog import BY_NAME
from fitpipe.errors import InputError
from fitpipe_ingest.localtime import US_PER_DAY, US_PER_SECOND, local_to_utc_us
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected, SampleBatch
from fitpipe_ingest.sources.base import Plan
from fitpipe_ingest.tree import InputTree

__all__ = ["SOURCE", "WearipediaSource", "FILE_KINDS"]

_BOM = b"\xef\xbb\xbf"
_RAW_MAX = 200
"""Characters of raw text kept in a quarantine record."""
_MAX_CSV_FIELD = 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_HALF_DAY_US = US_PER_DAY // 2


# ---------------------------------------------------------------------------------------------------
# cells in Python repr


class _BadRow(Exception):
    """A whole row cannot be read; it becomes one quarantine record naming the line."""

    def __init__(self, field: str, reason: str, raw: str, kind: str = "malformed") -> None:
        super().__init__(reason)
        self.field, self.reason, self.raw, self.kind = field, reason, raw, kind


_NP_SCALAR = re.compile(r"\bnp\.(?:float|int|uint)(?:16|32|64)\(([^()]*)\)")
_BARE_NONFINITE = re.compile(r"(?<![\w'\"])(-?(?:nan|inf))(?![\w'\"])")


def _literal(text: str) -> Any:
    """A cell or item in Python repr as plain Python objects.

    numpy scalar wrappers are dropped and bare nan/inf become the strings 'nan'/'inf', which
    `ast.literal_eval` cannot read otherwise; `_to_float` turns them back into floats.
    """
    text = _NP_SCALAR.sub(r"\1", text)
    text = _BARE_NONFINITE.sub(r"'\1'", text)
    return ast.literal_eval(text)


def _literal_or_bad(text: str, field: str) -> Any:
    try:
        return _literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise _BadRow(field, f"not a Python literal ({_why(exc)})", text) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error at character {exc.offset}" if exc.offset else "syntax error"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class _NotANumber(ValueError):
    pass


def _to_float(value: object) -> float:
    """A cell value (repr text or a literal) as a float; nan/inf pass, None and text do not."""
    if value is None or value == "None":
        raise _NotANumber("no value (None)")
    if isinstance(value, bool):
        raise _NotANumber(f"a boolean, not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _NotANumber(f"not a number: {value!r}") from None
    raise _NotANumber(f"not a number: {type(value).__name__} {str(value)[:40]}")


_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def _parse_date(value: object, field: str) -> date:
    text = str(value).strip() if value is not None else ""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _BadRow(field, f"not a date (YYYY-MM-DD): {value!r}", str(value), kind="bad_timestamp")


def _day_local_us(day: date) -> int:
    return (day - _EPOCH_DATE).days * US_PER_DAY


@lru_cache(maxsize=4096)
def _day_start_utc_us(day: date, tz: ZoneInfo) -> int:
    """The first instant of a local day: local midnight, or the moment clocks jump past a missing midnight.

    A nonexistent wall time with fold=0 takes the offset in force before the jump, which lands
    exactly on the transition, so daily values are never lost to a zone whose clocks skip midnight.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return (start - _EPOCH) // timedelta(microseconds=1)


def _fmt_local(local_us: int) -> str:
    return (_EPOCH_NAIVE + timedelta(microseconds=int(local_us))).isoformat()


# ---------------------------------------------------------------------------------------------------
# what a file yields, gathered row by row


@dataclass
class _Points:
    local_us: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    line: list[np.ndarray] = field(default_factory=list)
    item: list[np.ndarray] = field(default_factory=list)


@dataclass
class _Daily:
    ts: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    item: list[int] = field(default_factory=list)


class _Collector:
    """Samples and quarantine records of one file; `finish` converts local times and builds the batches."""

    def __init__(self, file: str, tz: ZoneInfo) -> None:
        self.file = file
        self.tz = tz
        self.points: dict[tuple[str, str | None], _Points] = {}
        self.daily: dict[tuple[str, str | None], _Daily] = {}
        self.time_field: dict[str, str] = {}
        self.rejected: list[Rejected] = []

    def reject(
        self, record: str, field: str, reason: str, raw: str, participant: str | None, kind: str
    ) -> None:
        self.rejected.append(
            Rejected(self.file, record, field, reason, raw[:_RAW_MAX], participant=participant, kind=kind)
        )

    def reject_at(self, row: _Row, item: int | None, field: str, reason: str, raw: str, kind: str) -> None:
        self.reject(row.where(item), field, reason, raw, row.participant, kind)

    def add_daily(
        self, metric: str, day: date, value: float, line: int, item: int, participant: str | None
    ) -> None:
        d = self.daily.setdefault((metric, participant), _Daily())
        d.ts.append(_day_start_utc_us(day, self.tz))
        d.value.append(value)
        d.line.append(line)
        d.item.append(item)

    def add_points(
        self,
        metric: str,
        local_us: np.ndarray,
        value: np.ndarray,
        line: int,
        item: np.ndarray,
        participant: str | None,
        time_field: str,
    ) -> None:
        if local_us.size == 0:
            return
        p = self.points.setdefault((metric, participant), _Points())
        p.local_us.append(local_us)
        p.value.append(value)
        p.line.append(np.full(local_us.size, line, dtype=np.int32))
        p.item.append(item)
        self.time_field[metric] = time_field

    def finish(self, kind: str) -> ParsedFile:
        batches: list[SampleBatch] = []
        for (metric, participant), d in self.daily.items():
            batches.append(
                SampleBatch(
                    metric,
                    np.array(d.ts, dtype=np.int64),
                    np.array(d.value, dtype=np.float64),
                    self.file,
                    line=np.array(d.line),
                    item=np.array(d.item),
                    participant=participant,
                )
            )
        for (metric, participant), p in self.points.items():
            local_us = np.concatenate(p.local_us)
            value = np.concatenate(p.value)
            line = np.concatenate(p.line)
            item = np.concatenate(p.item)
            utc_us, missing = local_to_utc_us(local_us, self.tz)
            if missing.any():
                for i in np.flatnonzero(missing):
                    self.reject(
                        f"line {int(line[i])}, item {int(item[i])}",
                        self.time_field[metric],
                        f"local time {_fmt_local(local_us[i])} does not exist in {self.tz.key} (clocks went forward)",
                        f"{_fmt_local(local_us[i])} {metric}={value[i]!r}",
                        participant,
                        "nonexistent_local_time",
                    )
                keep = ~missing
                utc_us, value, line, item = utc_us[keep], value[keep], line[keep], item[keep]
            if utc_us.size:
                batches.append(
                    SampleBatch(
                        metric, utc_us, value, self.file, line=line, item=item, participant=participant
                    )
                )
        samples = sum(len(b) for b in batches)
        return ParsedFile(
            self.file,
            kind,
            batches=batches,
            rejected=self.rejected,
            records_read=samples + len(self.rejected),
        )


@dataclass
class _Row:
    line: int
    cells: dict[str, bytes]
    participant: str | None

    def text(self, column: str) -> str:
        try:
            return self.cells[column].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadRow(
                column, f"not UTF-8 text (byte {exc.start})", repr(self.cells[column][:80])
            ) from None

    def where(self, item: int | None = None) -> str:
        return f"line {self.line}" if item is None or item < 0 else f"line {self.line}, item {item}"


# ---------------------------------------------------------------------------------------------------
# intraday lists: one fast numpy path for heart rate, one careful item-by-item path for everything


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


_HR_ITEMS = _Layout(re.compile(r"\{'time': '" + _TIME + r"', 'value': " + _SCALAR + r"\}"), "time")
_SPO2_ITEMS = _Layout(re.compile(r"\{'value': " + _SCALAR + r", 'minute': '" + _TIME + r"'\}"), "minute")
_DICT_ITEMS = _Layout(re.compile(r"\{'minute': '" + _TIME + r"', 'value': " + _INNER + r"\}"), "minute")


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
class _Items:
    """Items of one intraday list read by the careful path: their times and values, in item order."""

    index: list[int] = field(default_factory=list)
    time: list[str] = field(default_factory=list)
    value: list[object] = field(default_factory=list)
    count: int = 0
    """Items in the list, read or quarantined."""


def _read_items(
    body: str, layout: _Layout, row: _Row, first_item: int, column: str, out: _Collector
) -> _Items:
    texts = _split_items(body)
    got = _Items(count=len(texts))
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
            obj = _literal(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            out.reject_at(row, k, column, f"unreadable item ({_why(exc)})", text, "malformed")
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


def _local_times(
    got: _Items, day_us: int, row: _Row, field_name: str, out: _Collector
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
                    local[i] = (datetime.fromisoformat(t) - _EPOCH_NAIVE) // timedelta(microseconds=1)
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
    got: _Items,
    keep: np.ndarray,
    key: str | None,
    row: _Row,
    field_name: str,
    out: _Collector,
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
            values.append(_to_float(raw))
        except _NotANumber as exc:
            out.reject_at(row, got.index[i], field_name, str(exc), str(raw), "not_a_number")
            continue
        positions.append(int(i))
    return np.array(positions, dtype=np.int64), np.array(values, dtype=np.float64)


def _emit_items(
    got: _Items,
    local: np.ndarray,
    keep: np.ndarray,
    metrics: Mapping[str | None, tuple[str, bool]],
    row: _Row,
    column: str,
    time_field: str,
    out: _Collector,
) -> None:
    """Emit each metric of the items: metrics maps a value key (None: the scalar value) to (metric, required)."""
    index = np.array(got.index, dtype=np.int32)
    for key, (metric, required) in metrics.items():
        field_name = column if key is None else f"{column}.{key}"
        pos, vals = _values(got, keep, key, row, field_name, out, required)
        out.add_points(metric, local[pos], vals, row.line, index[pos], row.participant, time_field)


# The exact text wearipedia writes around each heart-rate value: {'time': 'HH:MM:SS', 'value': <v>}
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
class _FastHeartRate:
    seconds: np.ndarray
    values: np.ndarray
    items: np.ndarray
    none_items: np.ndarray


def _read_heart_rate_fast(body: bytes) -> _FastHeartRate | None:
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
    return _FastHeartRate(secs, values, items, none_items)


# ---------------------------------------------------------------------------------------------------
# the six files


def _list_bodies(cell: bytes, key: str, column: str) -> tuple[str, list[bytes]]:
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
            raise _BadRow(
                column,
                f"the '{key}' list is not closed: the row is cut off",
                cell[-_RAW_MAX:].decode("utf-8", "replace"),
            )
        parts.append(cell[pos:a])
        bodies.append(cell[a:b])
        pos = b
    parts.append(cell[pos:])
    return _decode(b"".join(parts), column), bodies


def _decode(data: bytes, column: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRow(
            column, f"not UTF-8 text (byte {exc.start})", repr(data[max(0, exc.start - 40) : exc.start + 40])
        ) from None


def _entries(obj: Any, column: str, text: str) -> list[dict[str, Any]]:
    if not isinstance(obj, list) or not all(isinstance(e, dict) for e in obj):
        raise _BadRow(column, "expected a list of dicts", text)
    return obj


def _read_activity(row: _Row, out: _Collector) -> None:
    day = _parse_date(row.text("dateTime"), "dateTime")
    raw = row.text("value").strip()
    try:
        value = _to_float(raw)
    except _NotANumber as exc:
        raise _BadRow("value", str(exc), raw, kind="not_a_number") from None
    out.add_daily("steps", day, value, row.line, -1, row.participant)


_BREATHING = {
    "fullSleepSummary": "breathing_rate",
    "deepSleepSummary": "breathing_rate_deep",
    "remSleepSummary": "breathing_rate_rem",
    "lightSleepSummary": "breathing_rate_light",
}


def _read_breathing_rate(row: _Row, out: _Collector) -> None:
    text = row.text("br")
    for k, entry in enumerate(_entries(_literal_or_bad(text, "br"), "br", text)):
        day = _parse_date(entry.get("dateTime"), "br.dateTime")
        summaries = entry.get("value")
        if not isinstance(summaries, dict):
            out.reject_at(row, k, "br.value", "missing 'value'", str(entry), "missing_field")
            continue
        for key, metric in _BREATHING.items():
            stage = summaries.get(key)
            if not isinstance(stage, dict) or "breathingRate" not in stage:
                continue
            try:
                out.add_daily(metric, day, _to_float(stage["breathingRate"]), row.line, k, row.participant)
            except _NotANumber as exc:
                out.reject_at(
                    row, k, f"br.{key}.breathingRate", str(exc), str(stage["breathingRate"]), "not_a_number"
                )


_HR_ZONES = {
    "out of range": "hr_zone_out_of_range",
    "fat burn": "hr_zone_fat_burn",
    "cardio": "hr_zone_cardio",
    "peak": "hr_zone_peak",
}
_MINUTES_PER_DAY = 1440


def _read_heart_rate(row: _Row, out: _Collector) -> None:
    column = "heart_rate_day"
    head, bodies = _list_bodies(row.cells[column], "dataset", column)
    next_item = 0
    for k, entry in enumerate(_entries(_literal_or_bad(head, column), column, head)):
        summaries = entry.get("activities-heart")
        if not isinstance(summaries, list) or not summaries or not isinstance(summaries[0], dict):
            raise _BadRow(column, "missing 'activities-heart'", head)
        day = _parse_date(summaries[0].get("dateTime"), f"{column}.dateTime")
        intraday = entry.get("activities-heart-intraday")
        dataset_type = intraday.get("datasetType") if isinstance(intraday, dict) else None
        for summary in summaries:
            _heart_rate_summary(summary, day, dataset_type, row, k, out)
        if isinstance(intraday, dict) and "dataset" in intraday and bodies:
            next_item = _heart_rate_points(bodies.pop(0), day, row, next_item, out)


def _heart_rate_summary(
    summary: Any, day: date, dataset_type: object, row: _Row, k: int, out: _Collector
) -> None:
    value = summary.get("value") if isinstance(summary, dict) else None
    if not isinstance(value, dict):
        return
    if "restingHeartRate" in value:
        try:
            out.add_daily(
                "resting_heart_rate", day, _to_float(value["restingHeartRate"]), row.line, k, row.participant
            )
        except _NotANumber as exc:
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
        metric = _HR_ZONES.get(str(zone.get("name", "")).strip().lower()) if isinstance(zone, dict) else None
        if metric is None or "minutes" not in zone:
            continue
        try:
            zones.append((metric, _to_float(zone["minutes"])))
        except _NotANumber as exc:
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


def _heart_rate_points(body: bytes, day: date, row: _Row, first_item: int, out: _Collector) -> int:
    """Emit one dataset's heart rate; returns the item number after its last item."""
    day_us = _day_local_us(day)
    fast = _read_heart_rate_fast(body) if body else None
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
    got = _read_items(_decode(body, "heart_rate_day"), _HR_ITEMS, row, first_item, "heart_rate_day", out)
    local, keep = _local_times(got, day_us, row, "heart_rate_day.time", out)
    _emit_items(
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


_AZM: dict[str | None, tuple[str, bool]] = {
    "activeZoneMinutes": ("active_zone_minutes", True),
    "fatBurnActiveZoneMinutes": ("azm_fat_burn", False),
    "cardioActiveZoneMinutes": ("azm_cardio", False),
    "peakActiveZoneMinutes": ("azm_peak", False),
}


def _read_active_zone_minutes(row: _Row, out: _Collector) -> None:
    column = "activities-active-zone-minutes-intraday"
    head, bodies = _list_bodies(row.cells[column], "minutes", column)
    first_item = 0
    for entry in _entries(_literal_or_bad(head, column), column, head):
        if "minutes" not in entry or not bodies:
            continue
        day = _parse_date(entry.get("dateTime"), f"{column}.dateTime")
        got = _read_items(_decode(bodies.pop(0), column), _DICT_ITEMS, row, first_item, column, out)
        local, keep = _local_times(got, _day_local_us(day), row, f"{column}.minute", out)
        _emit_items(got, local, keep, _AZM, row, column, f"{column}.minute", out)
        first_item += got.count


_HRV: dict[str | None, tuple[str, bool]] = {
    "rmssd": ("hrv_rmssd", True),
    "coverage": ("hrv_coverage", True),
    "hf": ("hrv_hf", True),
    "lf": ("hrv_lf", True),
}


def _read_hrv(row: _Row, out: _Collector) -> None:
    head, bodies = _list_bodies(row.cells["hrv"], "minutes", "hrv")
    first_item = 0
    for entry in _entries(_literal_or_bad(head, "hrv"), "hrv", head):
        if "minutes" not in entry or not bodies:
            continue
        day = _parse_date(entry.get("dateTime"), "hrv.dateTime")
        got = _read_items(_decode(bodies.pop(0), "hrv"), _DICT_ITEMS, row, first_item, "hrv", out)
        local, keep = _local_times(got, _day_local_us(day), row, "hrv.minute", out)
        _roll_past_midnight(local, keep)
        _emit_items(got, local, keep, _HRV, row, "hrv", "hrv.minute", out)
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
    wrapped = (step <= -_HALF_DAY_US) & (step > -US_PER_DAY)
    if wrapped.any():
        local[idx[1:]] += np.cumsum(wrapped) * US_PER_DAY


def _read_spo2(row: _Row, out: _Collector) -> None:
    day = _parse_date(row.text("dateTime"), "dateTime")
    text = row.text("minutes").strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise _BadRow(
            "minutes",
            "expected a list [...]" + (" (the row is cut off)" if text.startswith("[") else ""),
            text[-_RAW_MAX:],
        )
    got = _read_items(text[1:-1], _SPO2_ITEMS, row, 0, "minutes", out)
    local, keep = _local_times(got, _day_local_us(day), row, "minutes.minute", out)
    _emit_items(got, local, keep, {None: ("spo2", True)}, row, "minutes.value", "minutes.minute", out)


# ---------------------------------------------------------------------------------------------------
# files, headers, rows


@dataclass(frozen=True)
class FileKind:
    """One wearipedia CSV: the names it is saved under, the columns it must have and its row reader."""

    name: str
    file_names: tuple[str, ...]
    columns: tuple[str, ...]
    read_row: Callable[[_Row, _Collector], None]

    def describe(self) -> str:
        return f"{self.name} (wearipedia CSV)"


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("activity", ("activity.csv",), ("dateTime", "value"), _read_activity),
    FileKind("heart_rate", ("heart_rate.csv", "hr.csv"), ("heart_rate_day",), _read_heart_rate),
    FileKind("spo2", ("spo2.csv",), ("dateTime", "minutes"), _read_spo2),
    FileKind("hrv", ("hrv.csv",), ("hrv",), _read_hrv),
    FileKind("breathing_rate", ("breathing_rate.csv", "br.csv"), ("br",), _read_breathing_rate),
    FileKind(
        "active_zone_minutes",
        ("active_zone_minutes.csv", "azm.csv"),
        ("activities-active-zone-minutes-intraday",),
        _read_active_zone_minutes,
    ),
)
_BY_FILE_NAME = {name: kind for kind in FILE_KINDS for name in kind.file_names}
_USER_ID = "user_id"
_NO_DATA = (b"", b"None", b"nan", b"NaN")
"""What pandas writes for a missing cell: the row holds no data (not an error)."""

# every metric named above must be in the catalog; a typo fails at import, not at load time
assert {
    "steps",
    "heart_rate",
    "resting_heart_rate",
    "spo2",
    *_BREATHING.values(),
    *_HR_ZONES.values(),
    *(m for m, _ in _AZM.values()),
    *(m for m, _ in _HRV.values()),
} <= BY_NAME.keys()


def _kind_of(path: str) -> FileKind | None:
    return _BY_FILE_NAME.get(PurePosixPath(path).name.lower())


def _split_csv_line(line: bytes) -> list[bytes]:
    """The cells of one CSV line. pandas quotes a cell only when needed, so a line has 0 or 2 quotes
    almost always and is split without the csv module (which needs 2 s for a 140 MB heart-rate file)."""
    quotes = line.count(b'"')
    if quotes == 0:
        return line.split(b",")
    if quotes == 2:
        p = line.index(b'"')
        e = line.index(b'"', p + 1)
        before, after = line[:p], line[e + 1 :]
        if (not before or before.endswith(b",")) and (not after or after.startswith(b",")):
            cells = before[:-1].split(b",") if before else []
            cells.append(line[p + 1 : e])
            if after:
                cells.extend(after[1:].split(b","))
            return cells
    csv.field_size_limit(_MAX_CSV_FIELD)
    try:
        text = line.decode("utf-8")
        return [c.encode("utf-8") for c in next(csv.reader([text], strict=True))]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _BadRow(
            "",
            f"not a CSV row ({exc}): quotes do not pair up, the row may be cut off",
            line[-_RAW_MAX:].decode("utf-8", "replace"),
        ) from None


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    number = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            end = len(data)
        number += 1
        line = data[pos:end]
        yield number, line[:-1] if line.endswith(b"\r") else line
        pos = end + 1


def _header(data: bytes, path: str) -> list[str]:
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            "the header is not UTF-8 text",
            file=path,
            line=1,
            hint="this is not a CSV written by pandas; re-run `fitpipe extract wearipedia`",
        ) from None
    return next(csv.reader([text]), [])


def _check_header(columns: list[str], kind: FileKind, path: str) -> None:
    missing = [c for c in kind.columns if c not in columns]
    if missing:
        raise InputError(
            f"unexpected header {','.join(columns)!r}: a wearipedia {kind.name} file has the column(s) "
            f"{', '.join(kind.columns)} (and optionally {_USER_ID})",
            file=path,
            line=1,
            hint="check that the file was saved with pd.DataFrame(data).to_csv(index=False) under its own name",
        )


class WearipediaSource:
    name = "wearipedia"
    description = "CSVs written by the challenge notebook from wearipedia's synthetic Fitbit Charge 6 data"

    def detect(self, tree: InputTree) -> int:
        """20 per file with a wearipedia name and header, 1 per file with the name only; 0: not this format."""
        score = 0
        for path in tree.paths():
            kind = _kind_of(path)
            if kind is None:
                continue
            with tree.open(path) as fh:
                first = fh.readline(4096)
            columns = next(
                csv.reader([first.removeprefix(_BOM).decode("utf-8", "replace").rstrip("\r\n")]), []
            )
            score += 20 if all(c in columns for c in kind.columns) else 1
        return score

    def plan(self, tree: InputTree) -> Plan:
        order = {kind.name: i for i, kind in enumerate(FILE_KINDS)}
        known: list[tuple[int, str]] = []
        unknown: list[str] = []
        for path in tree.paths():
            kind = _kind_of(path)
            if kind is None:
                unknown.append(path)
            else:
                known.append((order[kind.name], path))
        return Plan(files=[path for _, path in sorted(known)], unknown=unknown)

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        kind = _kind_of(path)
        if kind is None:
            raise InputError(
                "not a wearipedia file name",
                file=path,
                hint="wearipedia files are named " + ", ".join(sorted(_BY_FILE_NAME)),
            )
        data = tree.read_bytes(path).removeprefix(_BOM)
        if not data or data.isspace():
            raise InputError(
                "the file is empty",
                file=path,
                hint="re-copy it, or write it again with `fitpipe extract wearipedia`",
            )
        columns = _header(data, path)
        _check_header(columns, kind, path)
        where = {column: columns.index(column) for column in kind.columns}
        user_col = columns.index(_USER_ID) if _USER_ID in columns else None
        out = _Collector(path, ctx.timezone)
        # pandas ends every file with a newline: a last line without one that cannot be read was cut off
        cut_line = None if data.endswith(b"\n") else data.count(b"\n") + 1
        lines = _lines(data)
        next(lines)  # the header
        for number, line in lines:
            if not line or line.isspace():
                continue
            participant = None
            try:
                cells = _split_csv_line(line)
                if user_col is not None and user_col < len(cells):
                    participant = _participant(cells[user_col])
                if any(i >= len(cells) for i in where.values()):
                    raise _BadRow(
                        kind.columns[-1],
                        f"the row has {len(cells)} cells, the header {len(columns)}",
                        line[-_RAW_MAX:].decode("utf-8", "replace"),
                    )
                if cells[where[kind.columns[-1]]].strip() in _NO_DATA:
                    continue
                kind.read_row(_Row(number, {c: cells[i] for c, i in where.items()}, participant), out)
            except _BadRow as bad:
                if number == cut_line:
                    raise InputError(
                        f"the file ends inside line {number} ({bad.reason}): it looks truncated",
                        file=path,
                        line=number,
                        hint="copy the file again; pandas ends every file it writes with a newline",
                    ) from None
                out.reject(
                    f"line {number}",
                    bad.field or ",".join(kind.columns),
                    bad.reason,
                    bad.raw,
                    participant,
                    bad.kind,
                )
        return out.finish(kind.describe())


def _participant(cell: bytes) -> str | None:
    text = cell.decode("utf-8", "replace").strip()
    return None if text in ("", "None", "nan") else text


SOURCE = WearipediaSource()
