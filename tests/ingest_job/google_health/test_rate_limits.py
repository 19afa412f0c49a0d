"""The API's budgets and retry rules, checked on the fake's request log (stamped with the shared virtual clock):
at most 300 requests per participant in any minute, a project budget across participants, Retry-After
honoured in a storm of 429s, and a participant told to wait too long deferred without holding the others."""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
import pytest

from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock
from tests.fakes.google_health_fixtures import NOW, enrol, grant, max_in_window

from .conftest import run_sync, stored

pytestmark = pytest.mark.db

DAY_OF_HEART_RATE = hp.heart_rate(NOW - timedelta(days=1), 8640, timedelta(seconds=10))
PAGE = 25  # 8,640 points in pages of 25: 346 requests, more than one minute's budget


def test_one_participant_never_gets_more_than_300_requests_in_any_minute(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1", timezone="UTC")
    grant(db, source.cipher, fake, p, "alice")
    fake.add_points("alice", "heart-rate", DAY_OF_HEART_RATE)
    source.api.page_size = PAGE

    report, _ = run_sync(database_url, source, data_types=("heart-rate",))

    sent = fake.requests("alice")
    assert len(sent) > 300 and {r.status for r in sent} == {200}, "the fake's own quota never had to refuse"
    stamps = [r.at for r in sent]
    assert max_in_window(stamps, 60.0) == 300
    assert stamps[-1] - stamps[0] >= 60.0, "the requests past the 300th waited for the window to move"
    assert len(stored(db, p, "heart_rate")) == len(DAY_OF_HEART_RATE)
    assert report.api["rate_limited"] == 0


def test_budgets_are_per_participant_and_the_project_budget_binds_them_all(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    settings: GoogleHealthSettings,
    clock: VirtualClock,
) -> None:
    one_at_a_time = settings.model_copy(update={"fitpipe_google_concurrency": 1})
    roomy = GoogleHealthSource.create(one_at_a_time, clock=clock, rng=random.Random(1))
    tight = GoogleHealthSource.create(
        one_at_a_time.model_copy(update={"fitpipe_google_project_rpm": 120}),
        clock=clock,
        rng=random.Random(1),
    )
    try:
        for i, study in enumerate(("roomy", "roomy", "tight", "tight")):
            person = enrol(db, f"P{i}", timezone="UTC", study=study)
            grant(db, roomy.cipher, fake, person, f"user{i}")
            fake.add_points(f"user{i}", "heart-rate", DAY_OF_HEART_RATE[:2000])
        for src in (roomy, tight):
            src.api.page_size = 10  # 200 requests per participant

        run_sync(database_url, roomy, study="roomy", data_types=("heart-rate",))
        first, second = fake.requests("user0"), fake.requests("user1")
        assert first[-1].at - first[0].at == 0 and second[-1].at - second[0].at == 0, (
            "200 requests each fit in each participant's own budget: nobody waited"
        )

        run_sync(database_url, tight, study="tight", data_types=("heart-rate",))
        both = [r.at for r in fake.requests("user2") + fake.requests("user3")]
        assert len(both) > 2 * 120 and max_in_window(both, 60.0) == 120
    finally:
        roomy.close()
        tight.close()


def test_a_storm_of_429s_is_ridden_out_honouring_retry_after(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1", timezone="UTC")
    grant(db, source.cipher, fake, p, "alice")
    fake.add_points("alice", "steps", hp.steps(NOW - timedelta(hours=5), 300))
    fake.inject("alice", 429, 429, 429, retry_after="30")
    fake.inject("alice", 429)  # and one without Retry-After: backoff with jitter alone

    report, _ = run_sync(database_url, source, data_types=("steps",))

    assert [o.status for o in report.outcomes] == ["synced"]
    sent = fake.requests("alice")
    assert [r.status for r in sent[:5]] == [429, 429, 429, 429, 200]
    gaps = [b.at - a.at for a, b in zip(sent, sent[1:5], strict=False)]
    assert all(g >= 30 for g in gaps[:3]), gaps
    assert 0 <= gaps[3] <= source.api.policy.base * 2**3
    assert report.api["rate_limited"] == 4
    assert len(stored(db, p, "steps")) == 300


def test_a_retry_after_beyond_the_limit_defers_the_participant_at_once(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
    clock: VirtualClock,
) -> None:
    a, b = enrol(db, "P1"), enrol(db, "P2")
    grant(db, source.cipher, fake, a, "alice")
    grant(db, source.cipher, fake, b, "bob")
    for user in ("alice", "bob"):
        fake.add_points(user, "steps", hp.steps(NOW - timedelta(hours=5), 60))
    fake.inject("alice", 429, retry_after="3600")
    start = clock.monotonic()

    report, _ = run_sync(database_url, source, data_types=("steps",))

    assert [(o.participant.external_id, o.status) for o in report.outcomes] == [
        ("P1", "deferred"),
        ("P2", "synced"),
    ]
    assert "retry after 3600 s" in (report.outcomes[0].message or "")
    assert len(fake.requests("alice")) == 1
    assert clock.monotonic() - start < 60, "nobody sat out the hour"
