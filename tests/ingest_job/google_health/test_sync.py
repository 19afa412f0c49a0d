"""The nightly sync against the fake Google Health API over real HTTP and a real database: first sync,
nightly delta, late-synced data caught by the lag, a crash mid-sync and its resume, the bounded pool."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from fitpipe.google_health.datatypes import DATA_TYPES
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import NOW, at, enrol, grant
from tests.queries import scalar

from .conftest import rollup_count, run_sync, source_status, stored

pytestmark = pytest.mark.db

NY = -5 * 3600  # America/New_York in November


def _expected(points: list[dict], member: str, value: str) -> list[tuple[datetime, float]]:
    out = {}
    for p in points:
        m = p[member]
        t = m["sampleTime"]["physicalTime"] if "sampleTime" in m else m["interval"]["startTime"]
        out[at(t)] = float(m.get(value, 0))
    return sorted(out.items())


def _filter_starts(fake: FakeGoogleHealth, data_type: str, since: int = 0) -> list[datetime]:
    starts = []
    for r in fake.requests(path=f"/dataTypes/{data_type}/dataPoints")[since:]:
        match = re.search(r'>= "([^"]+)"', r.params["filter"])
        assert match, r.params
        value = match.group(1)
        starts.append(at(value) if value.endswith("Z") else datetime.fromisoformat(value).replace(tzinfo=UTC))
    return starts


def test_first_sync_loads_every_data_type_onto_the_catalog(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    fake.add_user("alice")
    grant(db, source.cipher, fake, p, "alice")
    start = NOW - timedelta(days=3)
    heart = hp.heart_rate(start, 3 * 1440, timedelta(minutes=1), offset_s=NY)
    steps = hp.steps(start, 3 * 1440, offset_s=NY)
    nights = [
        (datetime(2026, 11, d, 4, 30, tzinfo=UTC), datetime(2026, 11, d, 12, 0, tzinfo=UTC))
        for d in (9, 10, 11)
    ]
    fake.add_points("alice", "heart-rate", heart)
    fake.add_points("alice", "steps", steps)
    stages = [("LIGHT", 200), ("DEEP", 100), ("REM", 80), ("AWAKE", 70)]
    fake.add_points(
        "alice",
        "sleep",
        [hp.sleep(f"log{i}", "u", s, e, offset_s=NY, stages=stages) for i, (s, e) in enumerate(nights)],
    )
    fake.add_points("alice", "heart-rate-variability", hp.hrv(nights[0][0], 60, offset_s=NY))
    fake.add_points("alice", "oxygen-saturation", hp.spo2(nights[0][0], 300, offset_s=NY))
    fake.add_points(
        "alice",
        "active-zone-minutes",
        hp.zone_minutes(start + timedelta(hours=20), ["FAT_BURN", "CARDIO", "PEAK"]),
    )
    days = [date(2026, 11, d) for d in (9, 10, 11)]
    fake.add_points(
        "alice", "daily-heart-rate-variability", [hp.daily_hrv(d, 30.0 + i) for i, d in enumerate(days)]
    )
    fake.add_points(
        "alice", "daily-oxygen-saturation", [hp.daily_spo2(d, 96.0 + i) for i, d in enumerate(days)]
    )
    fake.add_points(
        "alice",
        "daily-respiratory-rate",
        [hp.daily_respiratory_rate(d, 14.0 + i) for i, d in enumerate(days)],
    )
    fake.add_points(
        "alice",
        "respiratory-rate-sleep-summary",
        [hp.respiratory_summary(e, NY, 14.0, 13.0, 15.0, 16.0) for _, e in nights],
    )

    report, summary = run_sync(database_url, source)

    assert [o.status for o in report.outcomes] == ["synced"]
    assert stored(db, p, "heart_rate") == _expected(heart, "heartRate", "beatsPerMinute")
    assert stored(db, p, "steps") == _expected(steps, "steps", "count")
    assert rollup_count(db, p, "heart_rate") == len(heart)
    for data_type in DATA_TYPES:
        for metric in data_type.metrics:
            assert stored(db, p, metric), f"{data_type.name} loaded nothing into {metric}"
    sleeps = db.execute(
        "SELECT local_date, is_main_sleep, minutes_asleep, source FROM sleep_sessions ORDER BY start_time"
    ).fetchall()
    asleep = sum(minutes for kind, minutes in stages if kind != "AWAKE")
    assert sleeps == [((e + timedelta(seconds=NY)).date(), True, asleep, "google_health") for _, e in nights]
    assert db.execute("SELECT count(*) FROM sleep_stages").fetchone() == (len(nights) * len(stages),)
    assert [v for _, v in stored(db, p, "sleep_minutes")] == [asleep] * len(nights)
    assert source_status(db, p) == ("active", None)
    fetched: dict[str, datetime] = dict(
        db.execute("SELECT data_type, fetched_until FROM google_health_sync").fetchall()
    )
    assert fetched == {t.name: NOW for t in DATA_TYPES}
    details: dict[str, Any] = summary.details()
    assert details["google_health"]["synced"] == 1
    assert details["metrics"]["heart_rate|google_health"]["new"] == len(heart)


def test_nightly_delta_fetches_only_from_the_cursor_minus_the_lag(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source.cipher, fake, p, "alice")
    first = hp.heart_rate(NOW - timedelta(days=6), 6 * 288, timedelta(minutes=5), offset_s=NY)
    fake.add_points("alice", "heart-rate", first)
    run_sync(database_url, source)
    before = len(fake.requests(path="/heart-rate/"))
    cursor = scalar(db, "SELECT max(last_value) FROM ingest_cursors WHERE source = 'google_health'")

    new = hp.heart_rate(NOW, 288, timedelta(minutes=5), offset_s=NY)
    fake.add_points("alice", "heart-rate", new)
    _, summary = run_sync(database_url, source, now=NOW + timedelta(days=1))

    lag_start = cursor - timedelta(days=3)
    local_floor = datetime.combine(lag_start.astimezone(p.zone).date(), datetime.min.time(), tzinfo=p.zone)
    starts = _filter_starts(fake, "heart-rate", before)
    assert starts and min(starts) == local_floor.astimezone(UTC)
    days = ((NOW + timedelta(days=1)).astimezone(p.zone).date() - local_floor.date()).days + 1
    assert (
        len(starts) == days
    )  # one request per local day (heart-rate windows are one day) from the floor to now
    counts = summary.by_metric()[("heart_rate", "google_health")]
    assert counts.new == len(new)
    assert stored(db, p, "heart_rate") == _expected(first + new, "heartRate", "beatsPerMinute")


def test_late_synced_data_inside_the_lag_is_caught_and_outside_it_is_not(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p, q = enrol(db, "P1", study="lagged"), enrol(db, "P2", study="unlagged")
    grant(db, source.cipher, fake, p, "alice")
    grant(db, source.cipher, fake, q, "bob")
    hole = (NOW - timedelta(days=2), NOW - timedelta(days=2) + timedelta(hours=6))
    full = hp.heart_rate(NOW - timedelta(days=4), 4 * 144, timedelta(minutes=10), offset_s=NY)
    early = [x for x in full if not hole[0] <= at(x["heartRate"]["sampleTime"]["physicalTime"]) < hole[1]]
    late = [x for x in full if x not in early]
    assert late and early
    for user in ("alice", "bob"):
        fake.add_points(user, "heart-rate", early)
    run_sync(database_url, source)
    assert len(stored(db, p, "heart_rate")) == len(stored(db, q, "heart_rate")) == len(early)

    for user in ("alice", "bob"):  # the watch uploads the missing hours a day later
        fake.add_points(user, "heart-rate", late)
    run_sync(database_url, source, now=NOW + timedelta(days=1), study="lagged", lag=timedelta(days=3))
    run_sync(database_url, source, now=NOW + timedelta(days=1), study="unlagged", lag=timedelta(0))

    assert stored(db, p, "heart_rate") == _expected(full, "heartRate", "beatsPerMinute")
    assert len(stored(db, q, "heart_rate")) == len(early), "without a lag the late hours are never fetched"


class SimulatedCrash(BaseException):
    """Like a kill: not an Exception, so nothing on the way catches it."""


def test_crash_mid_window_then_resume_stores_everything_exactly_once(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = enrol(db, "P1")
    grant(db, source.cipher, fake, p, "alice")
    heart = hp.heart_rate(NOW - timedelta(days=4), 4 * 720, timedelta(minutes=2), offset_s=NY)
    fake.add_points("alice", "heart-rate", heart)
    source.api.page_size = 250  # ~3 pages per local day: the crash hits between pages of a window
    real_get = source.api.get
    calls = {"n": 0}

    def crashing_get(path: str, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 8:
            raise SimulatedCrash
        return real_get(path, **kwargs)

    monkeypatch.setattr(source.api, "get", crashing_get)
    with pytest.raises(SimulatedCrash):
        run_sync(database_url, source, data_types=("heart-rate",))
    after_crash = stored(db, p, "heart_rate")
    assert 0 < len(after_crash) < len(heart)
    cursor = scalar(db, "SELECT last_value FROM ingest_cursors")
    assert cursor == after_crash[-1][0], "the cursor covers only what was stored"
    newest_first = [at(x["heartRate"]["sampleTime"]["physicalTime"]) for x in heart]
    assert [t for t, _ in after_crash] == sorted(t for t in newest_first if t <= cursor), (
        "whole windows, no holes"
    )

    monkeypatch.setattr(source.api, "get", real_get)
    _, summary = run_sync(database_url, source, lag=timedelta(0), data_types=("heart-rate",))

    assert stored(db, p, "heart_rate") == _expected(heart, "heartRate", "beatsPerMinute")
    assert rollup_count(db, p, "heart_rate") == len(heart)
    assert summary.by_metric()[("heart_rate", "google_health")].new == len(heart) - len(after_crash)


def test_participants_sync_concurrently_but_never_more_than_the_pool(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    people = [enrol(db, f"P{i}") for i in range(5)]
    for i, person in enumerate(people):
        grant(db, source.cipher, fake, person, f"user{i}")
        fake.add_points(f"user{i}", "steps", hp.steps(NOW - timedelta(days=2), 600))
    fake.request_delay = 0.2  # long enough that two workers overlap even on a busy machine
    report, _ = run_sync(database_url, source, data_types=("steps",))
    assert [o.status for o in report.outcomes] == ["synced"] * 5
    assert fake.max_users_in_flight == source.settings.fitpipe_google_concurrency == 2
