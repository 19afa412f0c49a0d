"""Cells written as Python repr by pandas (single quotes, None, np.float64(…)/np.int64(…)): literals, numbers,
dates, and the row a cell belongs to; plus `Out`, what one file yields while its rows are read."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from fitpipe.localtime import US_PER_DAY
from fitpipe_ingest.records import ParsedFile
from fitpipe_ingest.sources.toolkit.collector import Collector

__all__ = [
    "BadRow",
    "NotANumber",
    "Out",
    "Row",
    "EPOCH_NAIVE",
    "HALF_DAY_US",
    "day_local_us",
    "fmt_local",
    "literal",
    "literal_or_bad",
    "parse_date",
    "to_float",
    "why",
]

_EPOCH_DATE = date(1970, 1, 1)
EPOCH_NAIVE = datetime(1970, 1, 1)
HALF_DAY_US = US_PER_DAY // 2


class BadRow(Exception):
    """A whole row cannot be read; it becomes one quarantine record naming the line."""

    def __init__(self, field: str, reason: str, raw: str, kind: str = "malformed") -> None:
        super().__init__(reason)
        self.field, self.reason, self.raw, self.kind = field, reason, raw, kind


_NP_SCALAR = re.compile(r"\bnp\.(?:float|int|uint)(?:16|32|64)\(([^()]*)\)")
_BARE_NONFINITE = re.compile(r"(?<![\w'\"])(-?(?:nan|inf))(?![\w'\"])")


def literal(text: str) -> Any:
    """A cell or item in Python repr as plain Python objects.

    numpy scalar wrappers are dropped and bare nan/inf become the strings 'nan'/'inf', which
    `ast.literal_eval` cannot read otherwise; `to_float` turns them back into floats.
    """
    text = _NP_SCALAR.sub(r"\1", text)
    text = _BARE_NONFINITE.sub(r"'\1'", text)
    return ast.literal_eval(text)


def literal_or_bad(text: str, field: str) -> Any:
    try:
        return literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise BadRow(field, f"not a Python literal ({why(exc)})", text) from None


def why(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error at character {exc.offset}" if exc.offset else "syntax error"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class NotANumber(ValueError):
    pass


def to_float(value: object) -> float:
    """A cell value (repr text or a literal) as a float; nan/inf pass, None and text do not."""
    if value is None or value == "None":
        raise NotANumber("no value (None)")
    if isinstance(value, bool):
        raise NotANumber(f"a boolean, not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise NotANumber(f"not a number: {value!r}") from None
    raise NotANumber(f"not a number: {type(value).__name__} {str(value)[:40]}")


_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def parse_date(value: object, field: str) -> date:
    text = str(value).strip() if value is not None else ""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise BadRow(field, f"not a date (YYYY-MM-DD): {value!r}", str(value), kind="bad_timestamp")


def day_local_us(day: date) -> int:
    return (day - _EPOCH_DATE).days * US_PER_DAY


def fmt_local(local_us: int) -> str:
    return (EPOCH_NAIVE + timedelta(microseconds=int(local_us))).isoformat()


@dataclass
class Row:
    line: int
    cells: dict[str, bytes]
    participant: str | None

    def text(self, column: str) -> str:
        try:
            return self.cells[column].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRow(
                column, f"not UTF-8 text (byte {exc.start})", repr(self.cells[column][:80])
            ) from None

    def where(self, item: int | None = None) -> str:
        return f"line {self.line}" if item is None or item < 0 else f"line {self.line}, item {item}"


class Out:
    """What one file yields, gathered row by row: daily values are kept until `finish` places them all at
    their days' starts in one pass; intraday points are placed as each list is read (the toolkit's clocks
    keep each series' order)."""

    def __init__(self, collector: Collector) -> None:
        self.c = collector
        self.daily: dict[tuple[str, str | None], tuple[list[int], list[float], list[int], list[int]]] = {}

    def reject(
        self, record: str, field: str, reason: str, raw: str, participant: str | None, kind: str
    ) -> None:
        self.c.reject(record, field, reason, raw, kind, participant)

    def reject_at(self, row: Row, item: int | None, field: str, reason: str, raw: str, kind: str) -> None:
        self.reject(row.where(item), field, reason, raw, row.participant, kind)

    def add_daily(
        self, metric: str, day: date, value: float, line: int, item: int, participant: str | None
    ) -> None:
        days, values, lines, items = self.daily.setdefault((metric, participant), ([], [], [], []))
        days.append((day - _EPOCH_DATE).days)
        values.append(value)
        lines.append(line)
        items.append(item)

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
        """Points at wall-clock times of the participant's zone; a time the clocks skipped is quarantined."""
        if local_us.size == 0:
            return
        utc, missing = self.c.to_utc(local_us, series=(metric, participant))
        for i in np.flatnonzero(missing).tolist():
            when = fmt_local(int(local_us[i]))
            self.reject(
                f"line {line}, item {int(item[i])}",
                time_field,
                f"local time {when} does not exist in {self.c.zone.key} (clocks went forward)",
                f"{when} {metric}={value[i]!r}",
                participant,
                "nonexistent_local_time",
            )
        keep = ~missing
        lines = np.full(int(keep.sum()), line, dtype=np.int32)
        self.c.add(metric, utc[keep], value[keep], line=lines, item=item[keep], participant=participant)

    def finish(self) -> ParsedFile:
        for (metric, participant), (days, values, lines, items) in self.daily.items():
            self.c.add_daily(
                metric,
                np.array(days, dtype=np.int64),
                np.array(values, dtype=np.float64),
                line=np.array(lines),
                item=np.array(items),
                participant=participant,
            )
        parsed = self.c.take()
        parsed.records_read = sum(len(b) for b in parsed.batches) + len(parsed.rejected)
        return parsed
