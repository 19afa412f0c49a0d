"""What a failing participant does to a sync: deferred with a reason, needs re-consent when the grant is gone,
counted in the run's details, and never stops the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from fitpipe.participants import Participant
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.sync import consented_participants
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock
from tests.fakes.google_health_fixtures import NOW, enrol, grant

from .conftest import run_sync, source_status, stored

pytestmark = pytest.mark.db


def _cohort(
    db: psycopg.Connection, source: GoogleHealthSource, fake: FakeGoogleHealth, n: int = 3
) -> list[Participant]:
    people = []
    for i in range(n):
        person = enrol(db, f"P{i}")
        grant(db, source.cipher, fake, person, f"user{i}")
        fake.add_points(f"user{i}", "steps", hp.steps(NOW - timedelta(days=1), 120))
        people.append(person)
    return people


def test_a_participant_that_keeps_failing_is_deferred_while_the_others_sync(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
    clock: VirtualClock,
) -> None:
    people = _cohort(db, source, fake)
    fake.inject("user1", *[503] * 50)
    report, summary = run_sync(database_url, source, data_types=("steps",))

    assert [o.status for o in report.outcomes] == ["synced", "deferred", "synced"]
    attempts = source.settings.fitpipe_google_max_attempts
    assert [r.status for r in fake.requests("user1")] == [503] * attempts, (
        "gave up after the configured tries"
    )
    status, error = source_status(db, people[1])
    assert status == "error" and "503" in (error or "") and "deferred to the next run" not in (error or "")
    assert (
        stored(db, people[0], "steps")
        and stored(db, people[2], "steps")
        and not stored(db, people[1], "steps")
    )
    details: dict[str, Any] = summary.details()
    assert details["google_health"]["deferred"] == 1
    assert report.failures == 1 and "P1" in report.error_lines()[0]
    # the waits between tries were exponential backoff with full jitter: each below base * 2^(try-1)
    policy = source.api.policy
    waits = clock.sleeps[-(attempts - 1) :]
    assert all(0 <= w <= policy.base * 2**i for i, w in enumerate(waits))

    fake.users["user1"].injected.clear()
    report, _ = run_sync(database_url, source, data_types=("steps",))
    assert [o.status for o in report.outcomes] == ["synced"] * 3, "deferred to the next run, which catches up"
    assert source_status(db, people[1]) == ("active", None)


def test_a_revoked_grant_needs_reconsent_is_counted_and_the_others_continue(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    people = _cohort(db, source, fake)
    db.execute(
        "UPDATE oauth_grants SET access_expires_at = now() - interval '1 minute'"
    )  # every token is due
    fake.revoke("user2")

    report, summary = run_sync(database_url, source, data_types=("steps",))

    assert [o.status for o in report.outcomes] == ["synced", "synced", "needs_reconsent"]
    status, error = source_status(db, people[2])
    assert status == "needs_reconsent" and "invalid_grant" in (error or "")
    assert db.execute(
        "SELECT revoked_at IS NOT NULL FROM oauth_grants WHERE participant_id = %s", (people[2].id,)
    ).fetchone() == (True,)
    assert summary.details()["token_refresh_failures"] == {"trial": 1}
    assert sorted((user, ok) for _, user, ok in fake.refreshes) == [
        ("user0", True),
        ("user1", True),
        ("user2", False),
    ]
    assert [p.external_id for p in consented_participants(db)] == ["P0", "P1"]

    requests_before = len(fake.log)
    report, summary = run_sync(database_url, source, data_types=("steps",))
    assert [o.participant.external_id for o in report.outcomes] == ["P0", "P1"]
    assert not [r for r in fake.log[requests_before:] if r.user == "user2"], (
        "no more calls for a revoked grant"
    )
    assert summary.details()["token_refresh_failures"] == {}


def test_a_data_type_the_participant_stopped_sharing_is_skipped_and_the_rest_syncs(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    (person,) = _cohort(db, source, fake, n=1)
    fake.add_points("user0", "heart-rate", hp.heart_rate(NOW - timedelta(hours=2), 50))
    activity_only = tuple(s for s in fake.users["user0"].scopes if "activity" in s)
    fake.users["user0"].scopes = activity_only  # unticked at Google after consenting

    report, _ = run_sync(database_url, source, data_types=("heart-rate", "steps"))

    assert [(o.status, o.skipped) for o in report.outcomes] == [("synced", ["heart-rate"])]
    assert stored(db, person, "steps") and not stored(db, person, "heart_rate")
    assert source_status(db, person) == ("active", None)


def test_a_notification_for_a_type_not_shared_is_dropped_not_retried_every_night(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    from fitpipe.google_health.notifications import Notification, queue_notifications

    (person,) = _cohort(db, source, fake, n=1)
    activity_only = [s for s in fake.users["user0"].scopes if "activity" in s]
    db.execute("UPDATE oauth_grants SET scopes = %s", (activity_only,))  # the person shared activity only
    hid = fake.users["user0"].health_user_id
    queue_notifications(db, [Notification(hid, "heart-rate", "UPSERT", NOW - timedelta(hours=2), NOW)])

    report, _ = run_sync(database_url, source)

    assert [o.status for o in report.outcomes] == ["synced"]
    assert not fake.requests("user0", path="/heart-rate/")
    assert db.execute(
        "SELECT count(*) FROM google_health_notifications WHERE pulled_at IS NULL"
    ).fetchone() == (0,)
