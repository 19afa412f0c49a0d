"""Fitabase cells: local times (`M/D/YYYY h:mm:ss AM` and variants) parsed by Arrow, numbers, and `Rows`, the rows
of one CSV table (or chunk) that belong to the participants being ingested.

Times are read vectorised: Arrow's strptime with the shape real exports use, then the other accepted
shapes for what is left; Arrow rolls 2/30 over to 3/1, so early days of a month are checked against
the month written in the text. A year before 1900 (a two-digit year read as 00YY) is unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fitpipe.localtime import NAT, US_PER_SECOND
from fitpipe_ingest.records import ParseContext, Rejected
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import CsvTable
from fitpipe_ingest.sources.toolkit.text import short

__all__ = ["DATE_FORMATS", "DATE_SHAPE", "TIME_FORMATS", "TIME_SHAPE", "Rows", "encode"]

# The same rule as participants.external_id in sql/0001_core.sql: an Id that fails it cannot be stored.
_PARTICIPANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")
DATE_FORMATS = ("%m/%d/%Y", *TIME_FORMATS)
TIME_SHAPE = "M/D/YYYY h:mm:ss AM/PM time"
DATE_SHAPE = "M/D/YYYY date"
_FIRST_SECOND = -2_208_988_800  # 1900-01-01: earlier years come from two-digit years read as 00YY


def _strptime(col: pa.Array, fmt: str) -> np.ndarray:
    parsed = pc.strptime(col, format=fmt, unit="s", error_is_null=True)
    seconds = np.array(
        pc.fill_null(parsed.cast(pa.int64()), NAT).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    seconds[seconds < _FIRST_SECOND] = NAT
    return seconds


def _leading_month(col: pa.Array) -> np.ndarray:
    """The number before the first '/' of each string (1-2 digits), read straight from Arrow's buffers."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
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


def _month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Month and day of month of days since 1970-01-01 (H. Hinnant's civil_from_days, in integers: fast)."""
    z = days + 719_468
    doe = z - np.floor_divide(z, 146_097) * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return np.where(mp < 10, mp + 3, mp - 9), doy - (153 * mp + 2) // 5 + 1


def _parse_with(col: pa.Array, formats: tuple[str, ...]) -> np.ndarray:
    seconds = np.full(len(col), NAT, dtype=np.int64)
    for fmt in formats:
        todo = np.flatnonzero(seconds == NAT)
        if not todo.size:
            break
        seconds[todo] = _strptime(col if todo.size == len(col) else col.take(pa.array(todo)), fmt)
    month, day = _month_day(seconds // 86_400)
    early = np.flatnonzero((seconds != NAT) & (day <= 3))
    if early.size:
        wrong = month[early] != _leading_month(col.take(pa.array(early)))
        seconds[early[wrong]] = NAT
    return seconds


def local_seconds(col: pa.Array, formats: tuple[str, ...]) -> np.ndarray:
    """Wall-clock seconds since 1970-01-01 (local) for each cell; NAT where unreadable."""
    seconds = _parse_with(col, formats[:1])  # the shape real exports use: one Arrow pass
    bad = np.flatnonzero(seconds == NAT)
    if bad.size:
        rest = pc.utf8_trim_whitespace(col.take(pa.array(bad)))
        seconds[bad] = _parse_with(rest, formats)
    return seconds


def encode(col: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int64 per row) and the distinct strings they stand for."""
    encoded = pc.dictionary_encode(col)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def first_field_id(raw: str) -> str | None:
    first = raw.split(",", 1)[0].strip().strip('"')
    return first if _PARTICIPANT_ID.fullmatch(first) else None


class Rows:
    """The rows of a table that belong to the participants being ingested; a rejected row is dropped.

    Ingested for one participant, rows of other Ids are neither read nor counted (Collector.pass_over counts
    them per Id, so a file holding none of theirs can say whose it is); rows without a readable Id are
    reported to whoever is ingested, since they might be theirs.
    """

    def __init__(self, table: CsvTable, c: Collector) -> None:
        self.t, self.c = table, c
        ctx: ParseContext = c.ctx
        codes, values = encode(table.columns["Id"])
        self.names: list[str] = []
        remap = []  # " 123" and "123" are one participant; -1: no participant id at all
        for value in values:
            name = value.strip().strip('"').strip()
            if not _PARTICIPANT_ID.fullmatch(name):
                remap.append(-1)
            else:
                if name not in self.names:
                    self.names.append(name)
                remap.append(self.names.index(name))
        code = np.asarray(remap, dtype=np.int64)[codes] if codes.size else codes
        rejected = [
            Rejected(r.file, r.record, r.field, r.reason, r.raw, first_field_id(r.raw), r.kind)
            for r in table.rejected
        ]
        if ctx.participant is not None:
            wanted = self.names.index(ctx.participant) if ctx.participant in self.names else -2
            keep = (code == wanted) | (code == -1)  # a row without a readable Id might be ours: report it
            if not keep.all():
                for other, n in zip(*np.unique(code[~keep], return_counts=True), strict=True):
                    c.pass_over(self.names[int(other)], int(n))
                self.t = table.take(np.flatnonzero(keep))
                code = code[keep]
            rejected = [r for r in rejected if r.participant in (None, ctx.participant)]
        c.read(len(self.t) + len(rejected))
        c.rejected.extend(rejected)
        self.code = code
        """Per row, the index of its participant in `names` (-1: none)."""
        self.alive = np.ones(code.size, dtype=bool)
        self.reject(code == -1, "Id", self._id_problem, "")  # kind from the reason: missing or malformed

    @property
    def lines(self) -> np.ndarray:
        return self.t.lines

    def cell(self, column: str, i: int) -> str:
        return self.t.cell(column, i)

    def participant(self, i: int) -> str | None:
        return self.names[self.code[i]] if self.code[i] >= 0 else None

    def reject(
        self, mask: np.ndarray, column: str, reason: Callable[[int], str], kind: str, *, drop: bool = True
    ) -> None:
        """Report the alive rows under mask; with drop, each row once (for its first problem) and no further."""
        for i in np.flatnonzero(mask & self.alive).tolist():
            self.c.reject(
                f"line {int(self.t.lines[i])}", column, reason(i), self.t.raw(i), kind, self.participant(i)
            )
        if drop:
            self.alive &= ~mask

    def _id_problem(self, i: int) -> str:
        value = self.cell("Id", i).strip()
        if value:
            return f"Id {short(value)} cannot be a participant id (letters, digits and _ . @ -, first a letter or digit)"
        return "missing Id"

    def local_seconds(self, column: str, formats: tuple[str, ...], shape: str) -> np.ndarray:
        """Wall-clock seconds of each row; unreadable rows are rejected."""
        seconds = local_seconds(self.t.columns[column], formats)
        self.reject(
            seconds == NAT, column, lambda i: self.t.problem(column, i, f"a {shape}"), "bad_timestamp"
        )
        return seconds

    def numbers(self, column: str, *, drop: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """float64 values of a column and the mask of cells holding a number; the others are rejected."""
        values, bad = self.t.numbers(column)
        self.reject(bad, column, lambda i: self.t.problem(column, i, "a number"), "not_a_number", drop=drop)
        return values, ~bad

    def to_utc(self, seconds: np.ndarray, column: str) -> np.ndarray:
        """UTC µs per row, each participant's rows converted in file order (so DST repeats resolve per person)."""
        local = np.where(seconds == NAT, 0, seconds * US_PER_SECOND)
        utc = np.full(local.size, NAT, dtype=np.int64)
        gap = np.zeros(local.size, dtype=bool)
        for who, idx in self.by_participant():
            utc[idx], missing = self.c.to_utc(local[idx], series=who)
            gap[idx[missing]] = True
        zone = self.c.zone.key
        self.reject(
            gap,
            column,
            lambda i: (
                f"local time {self.cell(column, i).strip()} does not exist in {zone} (clocks went forward)"
            ),
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
