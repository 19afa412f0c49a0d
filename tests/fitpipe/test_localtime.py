"""Wall clock to UTC and the one day-start rule: the same instants as PostgreSQL gives the participant's local
midnight (the rollup_1d bucket). (That every source stores a daily value there:
tests/ingest_job/sources/test_day_starts.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from fitpipe.localtime import NAT, WallClock, day_starts_utc, local_to_utc_us

NEW_YORK = ZoneInfo("America/New_York")


def local(text: str) -> int:
    return int(np.datetime64(text, "us").astype(np.int64))


def utc(text: str) -> int:
    return local(text)


def test_a_repeated_hour_is_daylight_time_then_standard_time_in_the_order_read() -> None:
    first, back = local("2024-11-03T01:30:00"), local("2024-11-03T01:10:00")
    got, missing = local_to_utc_us(np.array([first, local("2024-11-03T01:59:00"), back]), NEW_YORK)
    assert got.tolist() == [
        utc("2024-11-03T05:30:00"),
        utc("2024-11-03T05:59:00"),
        utc("2024-11-03T06:10:00"),
    ]
    assert not missing.any()


def test_the_order_carries_from_call_to_call_as_when_a_file_is_read_in_chunks() -> None:
    clock = WallClock(NEW_YORK)
    a, _ = clock.to_utc(np.array([local("2024-11-03T01:50:00")]))
    b, _ = clock.to_utc(np.array([local("2024-11-03T01:05:00")]))  # stepped back: the repeat
    c, _ = clock.to_utc(np.array([local("2024-11-03T01:20:00")]))
    assert [a[0], b[0], c[0]] == [
        utc("2024-11-03T05:50:00"),
        utc("2024-11-03T06:05:00"),
        utc("2024-11-03T06:20:00"),
    ]


def test_each_year_s_repeated_hour_is_judged_on_its_own() -> None:
    times = ["2023-11-05T01:30:00", "2023-11-05T01:10:00", "2024-11-03T01:30:00"]
    got, _ = local_to_utc_us(np.array([local(t) for t in times]), NEW_YORK)
    assert got.tolist() == [
        utc("2023-11-05T05:30:00"),
        utc("2023-11-05T06:10:00"),
        utc("2024-11-03T05:30:00"),
    ]


def test_a_time_the_clocks_skip_is_not_placed() -> None:
    got, missing = local_to_utc_us(
        np.array([local("2024-03-10T02:30:00"), local("2024-03-10T03:00:00")]), NEW_YORK
    )
    assert missing.tolist() == [True, False] and got[0] == NAT and got[1] == utc("2024-03-10T07:00:00")


DAYS = [
    ("America/Santiago", "2024-09-08"),  # midnight skipped: the day starts at 01:00
    ("America/Havana", "2024-11-03"),  # midnight repeated (01:00 back to 00:00)
    ("America/New_York", "2024-03-10"),
    ("Asia/Bangkok", "2025-07-17"),
    ("UTC", "2024-01-01"),
]


@pytest.mark.db
def test_a_day_starts_where_postgresql_puts_the_local_midnight(db: psycopg.Connection) -> None:
    for zone, day in DAYS:
        number = (date.fromisoformat(day) - date(1970, 1, 1)).days
        [ours] = day_starts_utc(np.array([number]), ZoneInfo(zone)).tolist()
        row = db.execute(
            "SELECT (%s::date::timestamp AT TIME ZONE %s), (date_trunc('day', %s::date::timestamp AT TIME ZONE %s "
            "AT TIME ZONE %s) AT TIME ZONE %s)",
            (day, zone, day, zone, zone, zone),
        ).fetchone()
        assert row is not None
        expected = int((row[0] - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
        assert ours == expected, (zone, day)
        assert row[1] == row[0], "the rollup's day bucket is the same instant"
    santiago = day_starts_utc(
        np.array([(date(2024, 9, 8) - date(1970, 1, 1)).days]), ZoneInfo("America/Santiago")
    )
    assert santiago.tolist() == [utc("2024-09-08T04:00:00")]
