"""Fitabase-style exports (`*_merged.csv`, the layout of Kaggle's "Fitbit Fitness Tracker Data"): a file source.

Reads heart rate, minute steps and calories, minute sleep logs and daily activity minutes of many participants.

Files and what they become
    heartrate_seconds_merged.csv    Id,Time,Value                 -> heart_rate
    minuteStepsNarrow_merged.csv    Id,ActivityMinute,Steps       -> steps (per minute)
    minuteCaloriesNarrow_merged.csv Id,ActivityMinute,Calories    -> calories (per minute)
    minuteSleep_merged.csv          Id,date,value,logId           -> sleep sessions (classic levels) + sleep_minutes
    dailyActivity_merged.csv        Id,ActivityDate,...           -> very/moderately/lightly active and sedentary minutes
    sleepDay_merged.csv             Id,SleepDay,...               -> read but redundant (see below)
Every other file (hourly*, daily{Steps,Calories,Intensities}, *Wide*, minuteMETs, weightLogInfo, ...) is
listed in Plan.unknown. A file may sit anywhere in the tree; Kaggle's copy holds two month folders.

Participants. Each row names its participant in `Id`; samples, sleep sessions and rejected rows carry
`str(Id)` (whitespace stripped), one SampleBatch per participant and metric. Ingested without
--participant, every Id must exist as a participant's external id in the study. Ingested for one
participant (ctx.participant set, the daily per-participant run), only rows whose Id equals that
participant's external id are read; rows of other Ids are skipped silently (they are the other
participants' data), so register each participant with their Fitabase Id as external id.

Time. Times are floating local wall-clock time (`M/D/YYYY h:mm:ss AM`; 24-hour and minute-only variants
are accepted too). ParseContext holds one time zone, so a whole export is read in one zone: the
participant's when ingesting for one participant, else the zone given to `fitpipe ingest --timezone`
(UTC by default). A study whose participants live in different zones should ingest per participant.
Local times that do not exist (clocks went forward) are rejected; repeated ones (clocks went back) are
resolved by order of appearance per participant (`fitpipe_ingest.localtime`).

Double counting. dailyActivity's TotalSteps and Calories are the day sums of the minute files. The
loader sums `steps` and `calories` into rollups whatever their resolution, so loading both would count
each day twice: daily steps (calories) are emitted only when no minuteStepsNarrow (minuteCaloriesNarrow)
file sits in the same folder (one folder = one export), i.e. for exports without minute data, at local
midnight. TotalDistance (km, stored in m) is always emitted at local midnight: Fitabase has no minute
distance file, so within an export it cannot double count.
sleepDay_merged.csv is the day sum of minuteSleep (TotalMinutesAsleep = minutes with value 1): beside a
minuteSleep file it is read for its header only and loads nothing; alone it gives sleep_minutes.

Sleep. minuteSleep rows are grouped by (Id, logId) into one SleepSession each: start = first minute,
end = last minute + 60 s, stages = runs of equal level (1 asleep, 2 restless, 3 awake) over consecutive
minutes, local_date = the local date of the last minute, is_main_sleep = the longest log of that
participant and local date, minutes_asleep = minutes with value 1, minutes_awake = minutes with 2 or 3.
Rows repeated with the same minute in a log count once. sleep_minutes of a date is the sum of
minutes_asleep of all its logs (naps included), like sleepDay's TotalMinutesAsleep.

Bad input. A line with the wrong number of fields, an empty line, an unreadable time, a non-numeric value
or an Id that cannot be a participant id becomes a Rejected record ('line N', 1-based, header = line 1,
with the field, the reason and the raw line; a line that is not UTF-8 too); the rest of the file loads.
An empty file, a wrong header, binary or UTF-16 data, or a file in which no line has the header's
number of fields or no line has a readable time raise InputError naming the file and what was expected.

Speed. The CSV is parsed by pyarrow with quoting off and every column read as text; times are parsed by
Arrow's strptime, numbers by Arrow casts, time zones by pandas, all vectorised. A 2.5 M-row, 91 MB
heart-rate file (Kaggle's size) parses in 0.7-1.9 s on two cores (1.3-3.8 M rows/s), peak memory ~0.7 GB.
Files with malformed lines take a slower path (numpy numbers the lines; ~1.5 s for the same file) and
only rejected rows are handled one by one. A ParsedFile holds a whole file, so memory grows with it
(~8x the file size at the peak): split multi-GB exports by participant or date range.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fitpipe.errors import InputError
from fitpipe_ingest.localtime import NAT, US_PER_DAY, US_PER_SECOND, local_to_utc_us, us_to_datetime
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected, SampleBatch, SleepSession, SleepStage
from fitpipe_ingest.sources.base import Plan
from fitpipe_ingest.tree import InputTree

__all__ = ["SOURCE", "FitabaseSource"]

log = logging.getLogger(__name__)

HEART_RATE = "heartrate_seconds_merged.csv"
MINUTE_STEPS = "minuteStepsNarrow_merged.csv"
MINUTE_CALORIES = "minuteCaloriesNarrow_merged.csv"
MINUTE_SLEEP = "minuteSleep_merged.csv"
DAILY_ACTIVITY = "dailyActivity_merged.csv"
SLEEP_DAY = "sleepDay_merged.csv"

# In load order. Names are matched case-insensitively (copies of the Kaggle set say SleepDay_merged.csv).
HEADERS: dict[str, tuple[str, ...]] = {
    HEART_RATE: ("Id", "Time", "Value"),
    MINUTE_STEPS: ("Id", "ActivityMinute", "Steps"),
    MINUTE_CALORIES: ("Id", "ActivityMinute", "Calories"),
    MINUTE_SLEEP: ("Id", "date", "value", "logId"),
    DAILY_ACTIVITY: (
        "Id",
        "ActivityDate",
        "TotalSteps",
        "TotalDistance",
        "VeryActiveMinutes",
        "FairlyActiveMinutes",
        "LightlyActiveMinutes",
        "SedentaryMinutes",
        "Calories",
    ),
    SLEEP_DAY: ("Id", "SleepDay", "TotalSleepRecords", "TotalMinutesAsleep", "TotalTimeInBed"),
}
_BY_LOWER = {name.lower(): name for name in HEADERS}

# The same rule as participants.external_id in sql/0001_core.sql: an Id that fails it cannot be stored.
_PARTICIPANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")
_DATE_FORMATS = ("%m/%d/%Y", *_TIME_FORMATS)
_TIME_SHAPE = "M/D/YYYY h:mm:ss AM/PM time"
_DATE_SHAPE = "M/D/YYYY date"
_FIRST_SECOND = -2_208_988_800  # 1900-01-01: earlier years come from two-digit years read as 00YY
_MINUTE_US = 60 * US_PER_SECOND
_SLEEP_LEVELS = {1: "asleep", 2: "restless", 3: "awake"}
_BOM = b"\xef\xbb\xbf"
_NOT_BLANK = re.compile(rb"\S")
_EPOCH_DATE = date(1970, 1, 1)


# --------------------------------------------------------------------------------------------- CSV


class _FastPathFailed(Exception):
    """pyarrow met a line with the wrong number of fields, or its rows are not the file's lines."""


@dataclass
class _Csv:
    """The data rows of one CSV file as Arrow text columns, with the line each row came from."""

    path: str
    body: memoryview
    """Everything after the header line (a view of the file's bytes: no copy of a large file)."""
    columns: dict[str, pa.ChunkedArray]
    line: np.ndarray
    """int64, 1-based line of each row (the header is line 1)."""
    rejected: list[Rejected]
    """Lines that are not rows: wrong field count, empty, stray carriage return."""
    _starts: np.ndarray | None = None

    def raw(self, line: int) -> str:
        """The text of a line of the file, without its line break."""
        if self._starts is None:
            arr = np.frombuffer(self.body, np.uint8)
            self._starts = np.concatenate([[0], np.flatnonzero(arr == 10) + 1])
        i = line - 2
        end = int(self._starts[i + 1]) if i + 1 < self._starts.size else len(self.body)
        return str(self.body[int(self._starts[i]) : end], "utf-8", "replace").rstrip("\r\n")

    def filter(self, keep: np.ndarray) -> None:
        if keep.all():
            return
        mask = pa.array(keep)
        self.columns = {name: col.filter(mask) for name, col in self.columns.items()}
        self.line = self.line[keep]


def _split_header(
    path: str, data: bytes, expected: tuple[str, ...]
) -> tuple[dict[str, int], int, memoryview]:
    """Check the header line; return the column index of each expected name, the field count and the body."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            "UTF-16 text, not a UTF-8 CSV", file=path, hint="re-export (or save from Excel) as CSV UTF-8"
        )
    skip = len(_BOM) if data.startswith(_BOM) else 0
    if b"\0" in data[:65536]:
        raise InputError(f"binary data, not a CSV file (expected the header {','.join(expected)})", file=path)
    if not _NOT_BLANK.search(data, skip):
        raise InputError(f"empty file (expected the header {','.join(expected)})", file=path)
    end = data.find(b"\n")
    end = len(data) if end < 0 else end
    header_bytes, body = data[skip:end], memoryview(data)[end + 1 :]
    try:
        header_text = header_bytes.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            "not UTF-8 text", file=path, line=1, hint="re-export the file as CSV UTF-8"
        ) from None
    header = [name.strip().strip('"').strip().lower() for name in header_text.split(",")]
    missing = [name for name in expected if name.lower() not in header]
    if missing:
        raise InputError(
            f"header is {header_text[:200]!r}; expected {','.join(expected)} (missing {', '.join(missing)})",
            file=path,
            line=1,
            hint=f"is this really Fitabase's {PurePosixPath(path).name}?",
        )
    return {name: header.index(name.lower()) for name in expected}, len(header), body


def _read_csv(tree: InputTree, path: str, expected: tuple[str, ...]) -> _Csv:
    data = tree.read_bytes(path)
    index, width, body = _split_header(path, data, expected)
    if not body:
        empty = pa.chunked_array([], pa.string())
        return _Csv(path, body, dict.fromkeys(expected, empty), np.zeros(0, np.int64), [])
    try:
        if np.frombuffer(body, np.uint8).max() >= 0x80 and not _is_utf8(body):  # Arrow's kernels need UTF-8
            raise _FastPathFailed
        table = _arrow_read(body, width, index)
        # pyarrow also ends a line at a lone CR: then its rows are not the file's lines
        if table.num_rows != data.count(b"\n", len(data) - len(body)) + (not data.endswith(b"\n")):
            raise _FastPathFailed
        lines = np.arange(2, table.num_rows + 2, dtype=np.int64)
        rejected: list[Rejected] = []
    except _FastPathFailed:
        table, lines, rejected = _read_line_by_line(path, body, width, index)
    columns = {name: table.column(name) for name in expected}
    if (
        data.find(b'"', len(data) - len(body)) >= 0
    ):  # Excel quotes fields when it saves; these values never hold commas
        columns = {name: pc.replace_substring(col, '"', "") for name, col in columns.items()}
    return _Csv(path, body, columns, lines, rejected)


def _is_utf8(data: bytes | memoryview) -> bool:
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _arrow_read(body: bytes | memoryview, width: int, index: dict[str, int]) -> pa.Table:
    names = [f"c{i}" for i in range(width)]

    def on_invalid_row(row: object) -> str:
        return "error"  # abandon the fast path: this line must be numbered and reported

    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body)),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                quote_char=False,
                escape_char=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=[names[i] for i in index.values()],
                column_types={names[i]: pa.string() for i in index.values()},
                strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _FastPathFailed from exc
    return table.rename_columns(list(index))


def _read_line_by_line(
    path: str, body: memoryview, width: int, index: dict[str, int]
) -> tuple[pa.Table, np.ndarray, list[Rejected]]:
    """Number every line with numpy, report the malformed ones and hand only the good ones to pyarrow."""
    arr = np.frombuffer(body, np.uint8)
    newlines = np.flatnonzero(arr == 10)
    ends = newlines if arr[-1] == 10 else np.append(newlines, len(body))
    starts = np.concatenate([[0], newlines + 1])[: ends.size]
    content_ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13))
    commas = np.flatnonzero(arr == 44)
    fields = np.searchsorted(commas, content_ends) - np.searchsorted(commas, starts) + 1
    bad = fields != width
    returns = np.flatnonzero(arr == 13)
    after = arr[np.minimum(returns + 1, arr.size - 1)]
    stray = returns[(after != 10) & (returns + 1 < arr.size)]  # a CR that does not end its line
    bad[np.searchsorted(starts, stray, side="right") - 1] = True
    not_utf8 = set()
    for i in np.unique(np.searchsorted(starts, np.flatnonzero(arr >= 0x80), side="right") - 1):
        if not _is_utf8(body[starts[i] : content_ends[i]]):
            not_utf8.add(int(i))
    bad[list(not_utf8)] = True
    rejected = []
    for i in np.flatnonzero(bad):
        raw = str(body[starts[i] : content_ends[i]], "utf-8", "replace")
        if not raw.strip():
            reason = "empty line"
        elif i in not_utf8:
            reason = "not UTF-8 text"
        elif "\r" in raw:
            reason = "carriage return inside the line"
        else:
            reason = f"{fields[i]} comma-separated fields, the header has {width}"
        rejected.append(
            Rejected(
                file=path,
                record=f"line {i + 2}",
                field="line",
                reason=reason,
                raw=raw,
                participant=_first_field_id(raw),
                kind="malformed",
            )
        )
    good = ~bad
    if not good.any():
        if any(r.reason != "empty line" for r in rejected):
            raise InputError(
                f"no line has the {width} fields of the header ({rejected[0].record}: {rejected[0].reason})",
                file=path,
                hint="check the delimiter (Fitabase writes commas) and that the header matches the rows",
            )
        return pa.table({name: pa.array([], pa.string()) for name in index}), np.zeros(0, np.int64), rejected
    spans = np.append(starts[1:], len(body)) - starts
    clean = arr[np.repeat(good, spans)].tobytes()
    if not clean.endswith(b"\n"):
        clean += b"\n"
    try:
        table = _arrow_read(clean, width, index)
    except _FastPathFailed as exc:  # pragma: no cover - every line left has `width` fields
        raise InputError(f"cannot be read as CSV: {exc.__cause__}", file=path) from None
    return table, np.flatnonzero(good).astype(np.int64) + 2, rejected


def _first_field_id(raw: str) -> str | None:
    first = raw.split(",", 1)[0].strip().strip('"')
    return first if _PARTICIPANT_ID.fullmatch(first) else None


# ------------------------------------------------------------------------------------ cell parsing


def _strptime(col: pa.ChunkedArray, fmt: str) -> np.ndarray:
    parsed = pc.strptime(col, format=fmt, unit="s", error_is_null=True)
    seconds = np.array(
        pc.fill_null(parsed.cast(pa.int64()), NAT).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    seconds[seconds < _FIRST_SECOND] = NAT
    return seconds


def _leading_month(col: pa.ChunkedArray) -> np.ndarray:
    """The number before the first '/' of each string (1-2 digits), read straight from Arrow's buffers."""
    arr = col.combine_chunks()
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, np.uint8) if data_buf is not None and data_buf.size else np.zeros(1, np.uint8)
    )
    start = offsets[:-1]
    length = offsets[1:] - start

    def digit(k: int) -> np.ndarray:
        return np.where(length > k, data[np.minimum(start + k, data.size - 1)], 0).astype(np.int64) - ord("0")

    d0, d1, d2 = digit(0), digit(1), digit(2)
    slash = ord("/") - ord("0")
    one = (d1 == slash) & (d0 >= 0) & (d0 <= 9)
    two = (d2 == slash) & (d0 >= 0) & (d0 <= 9) & (d1 >= 0) & (d1 <= 9)
    return np.where(one, d0, np.where(two, d0 * 10 + d1, -1))


def _parse_with(col: pa.ChunkedArray, formats: tuple[str, ...]) -> np.ndarray:
    seconds = np.full(len(col), NAT, dtype=np.int64)
    for fmt in formats:
        todo = np.flatnonzero(seconds == NAT)
        if not todo.size:
            break
        seconds[todo] = _strptime(col if todo.size == len(col) else col.take(pa.array(todo)), fmt)
    # Arrow rolls 2/30 over to 3/1 (at most to the 3rd): for early days, check the month written in the text
    month, day = _month_day(seconds // 86_400)
    early = np.flatnonzero((seconds != NAT) & (day <= 3))
    if early.size:
        wrong = month[early] != _leading_month(col.take(pa.array(early)))
        seconds[early[wrong]] = NAT
    return seconds


def _month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Month and day of month of days since 1970-01-01 (H. Hinnant's civil_from_days, in integers: fast)."""
    z = days + 719_468
    doe = z - np.floor_divide(z, 146_097) * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return np.where(mp < 10, mp + 3, mp - 9), doy - (153 * mp + 2) // 5 + 1


def _local_seconds(col: pa.ChunkedArray, formats: tuple[str, ...]) -> np.ndarray:
    """Wall-clock seconds since 1970-01-01 (local) for each cell; NAT where unreadable."""
    seconds = _parse_with(col, formats[:1])  # the shape real exports use: one Arrow pass
    bad = np.flatnonzero(seconds == NAT)
    if bad.size:
        rest = pc.utf8_trim_whitespace(col.take(pa.array(bad)))
        seconds[bad] = _parse_with(rest, formats)
    return seconds


def _numbers(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """float64 values and a mask of cells that hold a number."""
    try:
        values = pc.cast(col, pa.float64())
        return values.to_numpy(zero_copy_only=False), np.ones(len(col), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    trimmed = pc.utf8_trim_whitespace(col)
    ok = pc.match_substring_regex(trimmed, _NUMBER)
    values = pc.cast(pc.if_else(ok, trimmed, pa.scalar(None, pa.string())), pa.float64())
    return pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False), ok.to_numpy(zero_copy_only=False)


def _encode(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int64 per row) and the distinct strings they stand for."""
    encoded = pc.dictionary_encode(col).unify_dictionaries()
    if not encoded.num_chunks:
        return np.zeros(0, np.int64), []
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]).astype(
        np.int64
    )
    return codes, encoded.chunk(0).dictionary.to_pylist()


# ------------------------------------------------------------------------------------------- rows


class _Rows:
    """The rows of a file that belong to the participants being ingested; a rejected row is dropped."""

    def __init__(self, csv: _Csv, ctx: ParseContext) -> None:
        self.csv, self.ctx = csv, ctx
        codes, values = _encode(csv.columns["Id"])
        self.names: list[str] = []
        remap = []  # " 123" and "123" are one participant; -1: no participant id at all
        for value in values:
            name = value.strip()
            if not _PARTICIPANT_ID.fullmatch(name):
                remap.append(-1)
            else:
                if name not in self.names:
                    self.names.append(name)
                remap.append(self.names.index(name))
        code = np.asarray(remap, dtype=np.int64)[codes] if codes.size else codes
        self.rejected = list(csv.rejected)
        if ctx.participant is not None:
            wanted = self.names.index(ctx.participant) if ctx.participant in self.names else -2
            keep = (code == wanted) | (code == -1)  # a row without a readable Id might be ours: report it
            if not keep.all():
                log.info("%s: %d rows of other participants skipped", csv.path, int((~keep).sum()))
            csv.filter(keep)
            code = code[keep]
            self.rejected = [r for r in self.rejected if r.participant in (None, ctx.participant)]
        self.code = code
        """Per row, the index of its participant in `names` (-1: none)."""
        self.alive = np.ones(code.size, dtype=bool)
        self.reject(code == -1, "Id", self._id_problem, "")  # kind from the reason: missing or malformed

    def cell(self, column: str, i: int) -> str:
        return str(self.csv.columns[column][i].as_py())

    def raw(self, i: int) -> str:
        return self.csv.raw(int(self.csv.line[i]))

    def participant(self, i: int) -> str | None:
        return self.names[self.code[i]] if self.code[i] >= 0 else None

    def reject(
        self, mask: np.ndarray, column: str, reason: Callable[[int], str], kind: str, *, drop: bool = True
    ) -> None:
        """Report the alive rows under mask; with drop, each row once (for its first problem) and no further."""
        for i in np.flatnonzero(mask & self.alive):
            why = reason(int(i))
            blank = why == "empty line"
            self.rejected.append(
                Rejected(
                    file=self.csv.path,
                    record=f"line {int(self.csv.line[i])}",
                    field="line" if blank else column,
                    reason=why,
                    raw=self.raw(int(i)),
                    participant=self.participant(int(i)),
                    kind="malformed" if blank else kind,
                )
            )
        if drop:
            self.alive &= ~mask

    def _id_problem(self, i: int) -> str:
        value = self.cell("Id", i).strip()
        if value:
            return f"Id {value!r} cannot be a participant id (letters, digits and _ . @ -, first a letter or digit)"
        return "missing Id" if self.raw(i).strip() else "empty line"

    def local_us(
        self, column: str, formats: tuple[str, ...], shape: str, *, days: bool = False
    ) -> np.ndarray:
        """Wall-clock microseconds of each row (of its local midnight with days); unreadable rows are rejected."""
        readable_before = int(self.alive.sum())
        n_rejected = len(self.rejected)
        seconds = _local_seconds(self.csv.columns[column], formats)
        self.reject(seconds == NAT, column, lambda i: self._time_problem(column, i, shape), "bad_timestamp")
        if readable_before and not self.alive.any():
            first = self.rejected[n_rejected]
            raise InputError(
                f"no line has a readable {column} ({first.record}: {first.reason})",
                file=self.csv.path,
                hint=f"Fitabase writes each {shape} as the participant's local wall-clock time",
            )
        if days:
            seconds = np.where(seconds == NAT, NAT, seconds - seconds % 86_400)
        return np.where(seconds == NAT, NAT, seconds * US_PER_SECOND)

    def _time_problem(self, column: str, i: int, shape: str) -> str:
        value = self.cell(column, i)
        return f"missing {column}" if not value.strip() else f"{value!r} is not a {shape}"

    def numbers(self, column: str, *, drop: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """float64 values of a column and the mask of cells holding a number; the others are rejected."""
        values, ok = _numbers(self.csv.columns[column])
        self.reject(~ok, column, lambda i: self._number_problem(column, i), "not_a_number", drop=drop)
        return values, ok

    def _number_problem(self, column: str, i: int) -> str:
        value = self.cell(column, i)
        return f"missing {column}" if not value.strip() else f"{value!r} is not a number"

    def to_utc(self, local_us: np.ndarray, column: str, what: str = "local time") -> np.ndarray:
        """UTC microseconds per row, converted per participant (so DST repeats are resolved in each one's order)."""
        utc = np.full(local_us.size, NAT, dtype=np.int64)
        gap = np.zeros(local_us.size, dtype=bool)
        for _, idx in self.by_participant():
            utc[idx], missing = local_to_utc_us(local_us[idx], self.ctx.timezone)
            gap[idx[missing]] = True
        zone = self.ctx.timezone.key
        self.reject(
            gap,
            column,
            lambda i: f"{what} {self.cell(column, i).strip()} does not exist in {zone} (clocks went forward)",
            "nonexistent_local_time",
        )
        return utc

    def by_participant(self, mask: np.ndarray | None = None) -> Iterator[tuple[str, np.ndarray]]:
        """(participant, indices of its alive rows under mask, in file order)."""
        rows = np.flatnonzero(self.alive if mask is None else self.alive & mask)
        codes = self.code[rows]
        # exports are sorted by Id; when one is not, a stable sort keeps each participant's file order
        if np.any(codes[1:] < codes[:-1]):
            order = np.argsort(codes, kind="stable")
            codes, rows = codes[order], rows[order]
        bounds = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        for part in np.split(rows, bounds):
            if part.size:
                yield self.names[self.code[part[0]]], part

    def parsed(
        self, kind: str, batches: list[SampleBatch], sleep: list[SleepSession] | None = None
    ) -> ParsedFile:
        sleep = sleep or []
        read = sum(len(b) for b in batches) + len(sleep) + len(self.rejected)
        return ParsedFile(
            file=self.csv.path,
            kind=kind,
            batches=batches,
            sleep=sleep,
            rejected=self.rejected,
            records_read=read,
        )


# ------------------------------------------------------------------------------------------ files


def _parse_series(tree: InputTree, path: str, ctx: ParseContext, name: str, metric: str) -> ParsedFile:
    _, time_col, value_col = HEADERS[name]
    rows = _Rows(_read_csv(tree, path, HEADERS[name]), ctx)
    local = rows.local_us(time_col, _TIME_FORMATS, _TIME_SHAPE)
    values, _ = rows.numbers(value_col)
    utc = rows.to_utc(local, time_col)
    batches = [
        SampleBatch(
            metric=metric, ts=utc[idx], value=values[idx], file=path, line=rows.csv.line[idx], participant=who
        )
        for who, idx in rows.by_participant()
    ]
    return rows.parsed(f"{metric} (Fitabase {name})", batches)


def _parse_daily(
    tree: InputTree, path: str, ctx: ParseContext, name: str, columns: dict[str, tuple[str, float]], kind: str
) -> ParsedFile:
    """One value per row and metric, at the local midnight of the row's date; a bad cell loses only its metric."""
    date_col = HEADERS[name][1]
    rows = _Rows(_read_csv(tree, path, HEADERS[name]), ctx)
    days = rows.local_us(date_col, _DATE_FORMATS, _DATE_SHAPE, days=True)
    midnight = rows.to_utc(days, date_col, "local midnight of")
    batches = []
    for metric, (column, scale) in columns.items():
        values, ok = rows.numbers(column, drop=False)
        batches += [
            SampleBatch(
                metric=metric,
                ts=midnight[idx],
                value=values[idx] * scale,
                file=path,
                line=rows.csv.line[idx],
                participant=who,
            )
            for who, idx in rows.by_participant(ok)
        ]
    return rows.parsed(kind, batches)


def _parse_daily_activity(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    columns = {
        "very_active_minutes": ("VeryActiveMinutes", 1.0),
        "moderately_active_minutes": ("FairlyActiveMinutes", 1.0),
        "lightly_active_minutes": ("LightlyActiveMinutes", 1.0),
        "sedentary_minutes": ("SedentaryMinutes", 1.0),
    }
    beside = _names_beside(tree, path)
    left = []
    for metric, column, minute_file in (
        ("steps", "TotalSteps", MINUTE_STEPS),
        ("calories", "Calories", MINUTE_CALORIES),
    ):
        if minute_file.lower() in beside:
            left.append(metric)  # the minute file holds the same day, minute by minute: one of them only
        else:
            columns[metric] = (column, 1.0)
    columns["distance"] = ("TotalDistance", 1000.0)  # kilometres; no Fitabase file has distance per minute
    note = f"; daily {' and '.join(left)} left to the minute files" if left else ""
    return _parse_daily(
        tree, path, ctx, DAILY_ACTIVITY, columns, f"daily activity (Fitabase {DAILY_ACTIVITY}{note})"
    )


def _parse_sleep_day(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    if MINUTE_SLEEP.lower() in _names_beside(tree, path):
        with tree.open(path) as fh:  # the header tells a wrong file; the rows are not needed
            _split_header(path, fh.read(4096).split(b"\n", 1)[0] + b"\n", HEADERS[SLEEP_DAY])
        return ParsedFile(
            file=path, kind=f"sleep day totals (redundant: {MINUTE_SLEEP} beside it is loaded instead)"
        )
    return _parse_daily(
        tree,
        path,
        ctx,
        SLEEP_DAY,
        {"sleep_minutes": ("TotalMinutesAsleep", 1.0)},
        f"sleep_minutes (Fitabase {SLEEP_DAY}; no {MINUTE_SLEEP} beside it)",
    )


def _parse_minute_sleep(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    rows = _Rows(_read_csv(tree, path, HEADERS[MINUTE_SLEEP]), ctx)
    local = rows.local_us("date", _TIME_FORMATS, _TIME_SHAPE)
    levels, _ = rows.numbers("value")
    rows.reject(
        ~np.isin(levels, list(_SLEEP_LEVELS)),
        "value",
        lambda i: f"sleep value {rows.cell('value', i)!r} is not 1 (asleep), 2 (restless) or 3 (awake)",
        "out_of_range",
    )
    log_ids = pc.utf8_trim_whitespace(rows.csv.columns["logId"])
    rows.reject(
        pc.equal(log_ids, "").to_numpy(zero_copy_only=False),
        "logId",
        lambda i: "missing logId",
        "missing_field",
    )
    utc = rows.to_utc(local, "date")
    log_code, log_names = _encode(log_ids)

    sessions: list[SleepSession] = []
    first_lines: list[int] = []
    for who, idx in rows.by_participant():
        mine = []
        for log_index in np.unique(log_code[idx]):
            members = idx[log_code[idx] == log_index]
            mine.append(_session(members, utc, local, levels, path, who, str(log_names[log_index])))
            first_lines.append(int(rows.csv.line[members].min()))
        _mark_main_sleep(mine)
        sessions += mine
    batches = _sleep_minutes(rows, sessions, first_lines)
    return rows.parsed(f"sleep logs (Fitabase {MINUTE_SLEEP})", batches, sessions)


def _session(
    members: np.ndarray,
    utc: np.ndarray,
    local: np.ndarray,
    levels: np.ndarray,
    path: str,
    who: str,
    log_id: str,
) -> SleepSession:
    """One log's minutes (row indices, any order) as a session whose stages merge runs of one level."""
    members = members[np.lexsort((members, utc[members]))]
    ts = utc[members]
    last_of_minute = np.append(ts[1:] != ts[:-1], True)  # a minute written twice: the later line wins
    members, ts = members[last_of_minute], ts[last_of_minute]
    level = levels[members].astype(np.int64)
    ends = np.append(np.minimum(ts[:-1] + _MINUTE_US, ts[1:]), ts[-1] + _MINUTE_US)
    new_run = np.ones(ts.size, dtype=bool)
    new_run[1:] = (level[1:] != level[:-1]) | (ts[1:] != ends[:-1])  # a level change or a gap in the minutes
    firsts = np.flatnonzero(new_run)
    lasts = np.append(firsts[1:], ts.size) - 1
    stages = [
        SleepStage(
            start=us_to_datetime(int(ts[a])),
            seconds=int((ends[b] - ts[a]) // US_PER_SECOND),
            level=_SLEEP_LEVELS[int(level[a])],
        )
        for a, b in zip(firsts, lasts, strict=True)
    ]
    asleep = int((level == 1).sum())
    return SleepSession(
        start=us_to_datetime(int(ts[0])),
        end=us_to_datetime(int(ends[-1])),
        local_date=_EPOCH_DATE + timedelta(days=int(local[members].max() // US_PER_DAY)),
        is_main_sleep=False,
        file=path,
        record=f"logId {log_id}",
        minutes_asleep=asleep,
        minutes_awake=int(level.size) - asleep,
        sleep_type="classic",
        log_id=log_id,
        stages=stages,
        participant=who,
    )


def _mark_main_sleep(sessions: list[SleepSession]) -> None:
    """Per local date, the longest log is the main sleep (ties: longer asleep, then the earlier one)."""
    best: dict[date, SleepSession] = {}
    for s in sessions:
        if s.local_date not in best or _length(s) > _length(best[s.local_date]):
            best[s.local_date] = s
    for s in best.values():
        s.is_main_sleep = True


def _length(s: SleepSession) -> tuple[timedelta, int, float]:
    return s.end - s.start, s.minutes_asleep or 0, -s.start.timestamp()


def _sleep_minutes(rows: _Rows, sessions: list[SleepSession], first_lines: list[int]) -> list[SampleBatch]:
    """sleep_minutes per participant and local date: minutes asleep of all logs ending that date."""
    days: dict[str, dict[date, list[int]]] = {}
    for s, line in zip(sessions, first_lines, strict=True):
        total = days.setdefault(s.participant or "", {}).setdefault(s.local_date, [0, line])
        total[0] += s.minutes_asleep or 0
        total[1] = min(total[1], line)
    batches = []
    zone = rows.ctx.timezone
    for who, totals in days.items():
        local = np.array([(d - _EPOCH_DATE).days * US_PER_DAY for d in totals], dtype=np.int64)
        utc, missing = local_to_utc_us(local, zone)
        minutes = np.array([t[0] for t in totals.values()], dtype=np.float64)
        lines = np.array([t[1] for t in totals.values()], dtype=np.int64)
        for d, line in zip(np.array(list(totals))[missing], lines[missing], strict=True):
            rows.rejected.append(
                Rejected(
                    file=rows.csv.path,
                    record=f"line {line}",
                    field="date",
                    raw=rows.csv.raw(int(line)),
                    participant=who,
                    reason=f"local midnight of {d} does not exist in {zone.key} (clocks went forward)",
                    kind="nonexistent_local_time",
                )
            )
        keep = ~missing
        batches.append(
            SampleBatch(
                metric="sleep_minutes",
                ts=utc[keep],
                value=minutes[keep],
                file=rows.csv.path,
                line=lines[keep],
                participant=who,
            )
        )
    return batches


def _names_beside(tree: InputTree, path: str) -> set[str]:
    """Lower-case names of the files in the same folder as path: one export."""
    folder = PurePosixPath(path).parent
    return {PurePosixPath(p).name.lower() for p in tree.paths() if PurePosixPath(p).parent == folder}


_PARSERS: dict[str, Callable[[InputTree, str, ParseContext], ParsedFile]] = {
    HEART_RATE: lambda tree, path, ctx: _parse_series(tree, path, ctx, HEART_RATE, "heart_rate"),
    MINUTE_STEPS: lambda tree, path, ctx: _parse_series(tree, path, ctx, MINUTE_STEPS, "steps"),
    MINUTE_CALORIES: lambda tree, path, ctx: _parse_series(tree, path, ctx, MINUTE_CALORIES, "calories"),
    MINUTE_SLEEP: _parse_minute_sleep,
    DAILY_ACTIVITY: _parse_daily_activity,
    SLEEP_DAY: _parse_sleep_day,
}


# ----------------------------------------------------------------------------------------- source


def _known(path: str) -> str | None:
    return _BY_LOWER.get(PurePosixPath(path).name.lower())


class FitabaseSource:
    name = "fitabase"
    description = "Fitabase *_merged.csv exports (heart rate, minute steps/calories/sleep, daily activity), many participants by Id"

    def detect(self, tree: InputTree) -> int:
        paths = tree.paths()
        known = {_known(p) for p in paths} - {None}
        if known:
            return 50 + 10 * len(known)
        # only files this source does not read, but Fitabase's all the same: claim them so they are listed
        return 5 if any(PurePosixPath(p).name.lower().endswith("_merged.csv") for p in paths) else 0

    def plan(self, tree: InputTree) -> Plan:
        order = {name: i for i, name in enumerate(HEADERS)}
        files: list[str] = []
        unknown: list[str] = []
        for path in tree.paths():
            (files if _known(path) else unknown).append(path)
        files.sort(key=lambda p: (order[_known(p) or ""], p))
        return Plan(files=files, unknown=unknown)

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        name = _known(path)
        if name is None:
            raise InputError(
                "not a file of a Fitabase export that fitpipe reads",
                file=path,
                hint="fitpipe reads " + ", ".join(HEADERS),
            )
        return _PARSERS[name](tree, path, ctx)


SOURCE = FitabaseSource()
