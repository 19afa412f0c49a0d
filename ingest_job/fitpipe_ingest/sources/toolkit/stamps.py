"""Fixed-layout timestamp text to microseconds, vectorised with numpy: exports hold millions of them.

A layout spells every character: Y M D h m s f are digits of year, month, day, hour, minute, second
and fraction; any other character must appear as written (so 'Z' or '+0000' suffixes are literals,
and whether the time is UTC or wall clock is the caller's business). A string is read with the first
layout of its length that it fits.

Two-digit years are read the way Fitbit wrote them: Fitbit devices exist since 2008 and no file holds
a date after next year, so YY is 20YY when that is no later than next year, else 19YY (`12/31/99` is
1999, which the loader's plausible time window then refuses; it is never 2099).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

__all__ = ["StampText", "parse_stamps", "US_PER_DAY"]

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_DIGIT_FIELDS = "YMDhmsf"


@dataclass(frozen=True)
class StampText:
    """Many short strings in one byte buffer: string i is buf[starts[i] : starts[i] + lengths[i]]."""

    buf: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_strings(cls, texts: Sequence[str]) -> StampText:
        joined = "\n".join(texts)
        if joined.isascii():
            lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        else:  # byte lengths differ from character lengths; such strings fail every layout anyway
            lengths = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int64, count=len(texts))
        buf = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
        starts = np.zeros(len(texts), dtype=np.int64)
        if len(texts) > 1:
            np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return cls(buf, starts, lengths)

    @classmethod
    def from_arrow(cls, array: object) -> StampText:
        """From a pyarrow StringArray without nulls (zero-copy views of its buffers)."""
        import pyarrow as pa

        arr = array if isinstance(array, pa.StringArray) else pa.array(array, type=pa.string())
        assert isinstance(arr, pa.StringArray)
        _, offsets_buf, data_buf = arr.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1].astype(
            np.int64
        )
        buf = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        return cls(buf, offsets[:-1], np.diff(offsets))


@dataclass(frozen=True)
class _Layout:
    length: int
    digits: dict[str, tuple[int, ...]]
    literals: tuple[tuple[int, int], ...]


@lru_cache(maxsize=64)
def _compile(layout: str) -> _Layout:
    digits: dict[str, list[int]] = {}
    literals = []
    for pos, ch in enumerate(layout):
        if ch in _DIGIT_FIELDS:
            digits.setdefault(ch, []).append(pos)
        else:
            literals.append((pos, ord(ch)))
    for need in "YMD":
        if need not in digits:
            raise ValueError(f"layout {layout!r} has no {need}")
    return _Layout(len(layout), {k: tuple(v) for k, v in digits.items()}, tuple(literals))


def _number(d: np.ndarray, columns: list[int]) -> np.ndarray:
    out = d[:, columns[0]].astype(np.int32)
    for col in columns[1:]:
        out = out * 10 + d[:, col]
    return out


def _days_from_civil(y: np.ndarray, mo: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm, vectorised)."""
    y = y - (mo <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (mo + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _parse_layout(m: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    ok = np.ones(m.shape[0], dtype=bool)
    for pos, code in layout.literals:
        ok &= m[:, pos] == code
    digit_cols = [p for ps in layout.digits.values() for p in ps]
    d = m[:, digit_cols] - np.uint8(48)  # wraps around below '0', so one comparison checks both ends
    ok &= (d <= 9).all(axis=1)
    d[~ok] = 0
    cols = {p: i for i, p in enumerate(digit_cols)}
    fields = {k: _number(d, [cols[p] for p in ps]) for k, ps in layout.digits.items()}
    zeros = np.zeros(m.shape[0], dtype=np.int32)
    year = fields["Y"]
    if len(layout.digits["Y"]) == 2:
        year = year + np.where(year <= (date.today().year + 1) % 100, 2000, 1900).astype(np.int32)
    month, day = fields["M"], fields["D"]
    hour, minute, second = fields.get("h", zeros), fields.get("m", zeros), fields.get("s", zeros)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (hour <= 23) & (minute <= 59) & (second <= 59)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= day <= _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    seconds = _days_from_civil(year.astype(np.int64), month, day) * 86_400 + (
        hour * 3600 + minute * 60 + second
    )
    us = seconds * US_PER_SECOND
    if "f" in layout.digits:
        places = len(layout.digits["f"])
        frac = fields["f"].astype(np.int64)
        us += frac * 10 ** (6 - places) if places <= 6 else frac // 10 ** (places - 6)
    us[~ok] = 0
    return us, ~ok


def parse_stamps(text: StampText, layouts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(int64 µs as written, mask of strings that fit no layout or name no real date and time)."""
    n = text.lengths.size
    us = np.zeros(n, dtype=np.int64)
    bad = np.ones(n, dtype=bool)
    for layout in map(_compile, layouts):
        rows = np.flatnonzero(bad & (text.lengths == layout.length))
        if rows.size == 0:
            continue
        m = text.buf[text.starts[rows, None] + np.arange(layout.length)]
        us[rows], bad[rows] = _parse_layout(m, layout)
    return us, bad
