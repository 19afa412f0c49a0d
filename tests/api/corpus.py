"""Hostile values a client may send, shared by the corpus test (tests/api/test_hostile_input.py) and the
schemathesis dictionaries (tests/api/test_openapi_fuzz.py): dates outside what Python or PostgreSQL hold,
impossible dates, odd offsets, non-finite and huge numbers, long and non-ASCII strings."""

from __future__ import annotations

__all__ = ["DATES", "NUMBERS", "STRINGS"]

DATES = [
    "1900-01-01",
    "0001-01-01",
    "0001-01-02",
    "9999-12-30",
    "9999-12-31",
    "0000-01-01",
    "10000-01-01",
    "-0001-01-01",
    "2024-02-30",
    "2023-02-29",
    "2024-13-01",
    "2024-00-10",
    "2024-1-1",
    "20240101",
    "2024-W01-1",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00+23:59",
    "2024-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00+00:00:01",
    "2024-03-10T02:30:00",
    "2024-01-01T25:00:00Z",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01 00:00:00+00:00",
    "",
    " ",
    "\x00",
    "2024-01-01\x00",
    "٢٠٢٤-٠١-٠١",
    "２０２４-０１-０１",
    "NaN",
    "inf",
    "1e309",
    "-1",
    "x" * 3000,
]
NUMBERS = ["1e309", "-1e309", "NaN", "inf", "-0", "1.5", "0x10", "", "٣", "9" * 40, "-9223372036854775809"]
STRINGS = ["é" * 70, "a" * 3000, "\x00", "../..", "a b", "' OR 1=1 --", "\u202e\u0000\ud7ff", "🙂"]
