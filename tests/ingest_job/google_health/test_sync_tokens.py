"""Access tokens during a sync: a token the API refuses is refreshed once and the request retried; a token
endpoint outage is retried, then defers the participant without asking for reconsent. (The grants themselves:
tests/fitpipe/google_health/test_grants.py.)"""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
import pytest

from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock
from tests.fakes.google_health_fixtures import NOW, enrol, expire_access_tokens, grant

from .conftest import run_sync, source_status

pytestmark = pytest.mark.db


def test_an_access_token_the_api_refuses_is_refreshed_once_and_the_request_retried(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source.cipher, fake, p, "alice")
    fake.add_points("alice", "steps", hp.steps(NOW - timedelta(hours=2), 60))
    fake.expire_access_tokens()  # the database still thinks the token is good for an hour

    report, _ = run_sync(database_url, source, data_types=("steps",))

    assert [o.status for o in report.outcomes] == ["synced"]
    assert [r.status for r in fake.requests("alice")][:1] == [200]
    assert [r.status for r in fake.log if "/dataPoints" in r.path][0] == 401
    assert len(fake.refreshes) == 1


def test_a_token_endpoint_outage_is_retried_then_defers_without_asking_for_reconsent(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    settings: GoogleHealthSettings,
    clock: VirtualClock,
) -> None:
    source = GoogleHealthSource.create(settings, clock=clock, rng=random.Random(3))
    try:
        p, q = enrol(db, "P1"), enrol(db, "P2")
        grant(db, source.cipher, fake, p, "alice")
        grant(db, source.cipher, fake, q, "bob")
        expire_access_tokens(db)
        db.execute(
            "UPDATE oauth_grants SET access_expires_at = now() + interval '1 hour' WHERE participant_id = %s",
            (q.id,),
        )
        fake.token_failures.extend([503, 503])  # the first refresh survives two 503s
        report, _ = run_sync(database_url, source, data_types=("steps",))
        assert [o.status for o in report.outcomes] == ["synced", "synced"]

        expire_access_tokens(db)
        fake.token_failures.extend([503] * settings.fitpipe_google_max_attempts * 2)
        report, summary = run_sync(database_url, source, data_types=("steps",))
        assert [o.status for o in report.outcomes] == ["deferred", "deferred"]
        assert source_status(db, p)[0] == "error", "an outage is not a revoked grant"
        assert summary.details()["token_refresh_failures"] == {"trial": 2}
    finally:
        source.close()
