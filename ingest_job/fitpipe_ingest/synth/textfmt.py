"""Bulk text formatting with numpy: millions of records become one bytes object without a Python loop.

Each record is a row of a uint8 matrix (constant pieces broadcast, numeric fields as ASCII digits);
a mask drops the padding of variable-width fields, and `tobytes` of the masked matrix is the text.
Numbers come out exactly as Python's `repr` writes them, so files look like `json`/`repr` output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Field", "digits", "integer", "decimal", "fixed", "render", "utc_datetime_fields"]

_ZERO = ord("0")


@dataclass(frozen=True)
class Field:
    """An (n, width) uint8 block of characters and the mask of the ones that are written."""

    chars: np.ndarray
    keep: np.ndarray | None = None


_PAIRS = np.array([[ord(a), ord(b)] for a in "0123456789" for b in "0123456789"], dtype=np.uint8)
"""The two characters of 00..99: one division per two digits instead of one per digit."""


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) uint8 array."""
    values = np.asarray(values, dtype=np.int64)
    pairs = -(-width // 2)
    out = np.empty((values.size, 2 * pairs), dtype=np.uint8)
    rest = values
    for k in range(pairs - 1, -1, -1):
        rest, pair = np.divmod(rest, 100)
        out[:, 2 * k : 2 * k + 2] = _PAIRS[pair]
    return out[:, 2 * pairs - width :]


def fixed(values: np.ndarray, width: int) -> Field:
    """Zero-padded to `width` (times and dates: `07`, `2024`)."""
    return Field(digits(values, width))


def integer(values: np.ndarray, width: int | None = None) -> Field:
    """A non-negative integer without padding, as `str(int)` writes it."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("integer(): negative values are not supported")
    if width is None:
        width = len(str(int(values.max()))) if values.size else 1
    chars = digits(values, width)
    # a digit is written from the first non-zero one on; the last digit always
    significant = np.maximum.accumulate(chars != _ZERO, axis=1)
    significant[:, -1] = True
    return Field(chars, significant)


def decimal(values: np.ndarray, places: int) -> Field:
    """Non-negative floats rounded to `places` decimals, written as `repr(float)` writes the rounded value.

    `repr` prints the shortest text that reads back to the same double; for a value with at most
    15 significant digits that is the decimal itself without trailing zeros (and at least `.0`).
    """
    values = np.asarray(values, dtype=np.float64)
    scaled = np.rint(values * 10**places).astype(np.int64)
    whole, frac = np.divmod(scaled, 10**places)
    width = len(str(int(whole.max()))) if whole.size else 1
    if width + places > 15:
        raise ValueError(f"decimal(): {width + places} significant digits cannot round-trip through a double")
    head = integer(whole, width)
    tail = digits(frac, places)
    # keep fraction digits up to the last non-zero one; the first always (`73.0`)
    from_right = np.maximum.accumulate((tail != _ZERO)[:, ::-1], axis=1)[:, ::-1]
    from_right[:, 0] = True
    dot = np.full((values.size, 1), ord("."), dtype=np.uint8)
    ones = np.ones((values.size, 1), dtype=bool)
    assert head.keep is not None
    return Field(np.hstack([head.chars, dot, tail]), np.hstack([head.keep, ones, from_right]))


def render(n: int, pieces: Sequence[bytes | Field], separator: bytes = b"") -> bytes:
    """Concatenate, per record, the constant and field pieces; records joined by `separator`."""
    if n == 0:
        return b""
    if separator:
        pieces = [*pieces, separator]
    widths = [len(p) if isinstance(p, bytes) else p.chars.shape[1] for p in pieces]
    matrix = np.empty((n, sum(widths)), dtype=np.uint8)
    variable = any(isinstance(p, Field) and p.keep is not None for p in pieces)
    keep = np.ones(matrix.shape, dtype=bool) if variable else None
    at = 0
    for piece, width in zip(pieces, widths, strict=True):
        if isinstance(piece, bytes):
            matrix[:, at : at + width] = np.frombuffer(piece, dtype=np.uint8)
        else:
            if piece.chars.shape[0] != n:
                raise ValueError(f"render(): field has {piece.chars.shape[0]} rows, expected {n}")
            matrix[:, at : at + width] = piece.chars
            if keep is not None and piece.keep is not None:
                keep[:, at : at + width] = piece.keep
        at += width
    text = matrix[keep].tobytes() if keep is not None else matrix.tobytes()
    return text[: len(text) - len(separator)] if separator else text


def utc_datetime_fields(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """(year, month, day, hour, minute, second) arrays of UTC epoch seconds, computed once per day."""
    t = np.asarray(t, dtype=np.int64)
    days, sod = np.divmod(t, 86_400)
    unique_days, inverse = np.unique(days, return_inverse=True)
    stamps = unique_days.astype("datetime64[D]")
    years = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
    months = stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (stamps - stamps.astype("datetime64[M]")).astype(np.int64) + 1
    hour, rest = np.divmod(sod, 3600)
    minute, second = np.divmod(rest, 60)
    return years[inverse], months[inverse], mdays[inverse], hour, minute, second
