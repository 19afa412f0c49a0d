"""Grants and access tokens against the fake token endpoint: concurrent refreshes with single-use refresh
tokens, the new refresh token stored before use, a 401 answered by one refresh, encryption at rest."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from fitpipe.google_health.grants import TokenSource
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.participants import Participant
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock

from .conftest import NOW, enrol, grant, run_sync, source_status

pytestmark = pytest.mark.db


@pytest.fixture
def rotating(fake: FakeGoogleHealth) -> Iterator[FakeGoogleHealth]:
    """Fitbit's rule: every refresh returns a new refresh token and the old one stops working."""
    fake.rotate_refresh_tokens = True
    yield fake


def _stored_refresh_token(db: psycopg.Connection, source: GoogleHealthSource, p: Participant) -> str:
    row = db.execute("SELECT refresh_token FROM oauth_grants WHERE participant_id = %s", (p.id,)).fetchone()
    assert row is not None
    return source.cipher.decrypt(row[0], f"oauth_grants/google_health/{p.id}/refresh_token")


def _expire(db: psycopg.Connection) -> None:
    db.execute("UPDATE oauth_grants SET access_expires_at = now() - interval '1 second'")


def test_concurrent_refreshes_spend_the_refresh_token_once_and_share_the_result(
    db: psycopg.Connection,
    database_url: str,
    rotating: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source, rotating, p, "alice")
    _expire(db)
    rotating.refresh_delay = (
        0.3  # both threads are inside access_token() while the first refresh is in flight
    )
    start = threading.Barrier(4)
    tokens: list[str] = []

    def refresh() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            tokens.append(TokenSource(conn, source.cipher, source.oauth, p.id).access_token())

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [ok for _, _, ok in rotating.refreshes] == [True], "one refresh; the others waited and reused it"
    assert len(set(tokens)) == 1 and len(tokens) == 4
    assert _stored_refresh_token(db, source, p) in rotating.users["alice"].refresh_tokens, (
        "the live one is stored"
    )
    _expire(db)
    TokenSource(db, source.cipher, source.oauth, p.id).access_token()
    assert [ok for _, _, ok in rotating.refreshes] == [True, True], "the stored refresh token still works"


def test_a_rotated_refresh_token_is_stored_before_the_access_token_is_used(
    db: psycopg.Connection,
    database_url: str,
    rotating: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source, rotating, p, "alice")
    before = _stored_refresh_token(db, source, p)
    _expire(db)
    with psycopg.connect(database_url, autocommit=True) as conn:
        TokenSource(conn, source.cipher, source.oauth, p.id).access_token()
        # the process dies here, before any use of the new access token
    after = _stored_refresh_token(db, source, p)
    assert after != before and before not in rotating.users["alice"].refresh_tokens
    _expire(db)
    TokenSource(db, source.cipher, source.oauth, p.id).access_token()
    assert [ok for _, _, ok in rotating.refreshes] == [True, True]


def test_google_refresh_without_a_new_refresh_token_keeps_the_stored_one(
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source, fake, p, "alice")
    before = _stored_refresh_token(db, source, p)
    version = db.execute("SELECT version FROM oauth_grants").fetchone()
    _expire(db)
    token = TokenSource(db, source.cipher, source.oauth, p.id).access_token()
    assert token in fake.issued and _stored_refresh_token(db, source, p) == before
    assert db.execute("SELECT version FROM oauth_grants").fetchone() == (version[0] + 1,)  # type: ignore[index]


def test_an_access_token_the_api_refuses_is_refreshed_once_and_the_request_retried(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p = enrol(db, "P1")
    grant(db, source, fake, p, "alice")
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
        grant(db, source, fake, p, "alice")
        grant(db, source, fake, q, "bob")
        _expire(db)
        db.execute(
            "UPDATE oauth_grants SET access_expires_at = now() + interval '1 hour' WHERE participant_id = %s",
            (q.id,),
        )
        fake.token_failures.extend([503, 503])  # the first refresh survives two 503s
        report, _ = run_sync(database_url, source, data_types=("steps",))
        assert [o.status for o in report.outcomes] == ["synced", "synced"]

        _expire(db)
        fake.token_failures.extend([503] * settings.fitpipe_google_max_attempts * 2)
        report, summary = run_sync(database_url, source, data_types=("steps",))
        assert [o.status for o in report.outcomes] == ["deferred", "deferred"]
        assert source_status(db, p)[0] == "error", "an outage is not a revoked grant"
        assert summary.details()["token_refresh_failures"] == {"trial": 2}
    finally:
        source.close()


def test_tokens_are_encrypted_at_rest_and_bound_to_their_row(
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
) -> None:
    p, q = enrol(db, "P1"), enrol(db, "P2")
    grant(db, source, fake, p, "alice")
    grant(db, source, fake, q, "bob")
    raw = b"".join(
        bytes(r[0]) + bytes(r[1]) for r in db.execute("SELECT refresh_token, access_token FROM oauth_grants")
    )
    for token in fake.issued:
        assert token.encode() not in raw
    # a ciphertext moved to another participant's row does not decrypt there
    db.execute(
        """UPDATE oauth_grants SET refresh_token = (SELECT refresh_token FROM oauth_grants WHERE participant_id = %s)
                  WHERE participant_id = %s""",
        (p.id, q.id),
    )
    _expire(db)
    from fitpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="belongs to another row"):
        TokenSource(db, source.cipher, source.oauth, q.id).access_token()
