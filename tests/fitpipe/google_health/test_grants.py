"""Grants and access tokens against the fake token endpoint: concurrent refreshes with single-use refresh
tokens, the new refresh token stored before use, Google's refresh that keeps the refresh token, encryption at
rest bound to the row. (A 401 answered by one refresh, and a token endpoint outage, during a sync:
tests/ingest_job/google_health/test_sync_tokens.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from fitpipe.errors import ConfigError
from fitpipe.google_health.grants import TokenSource
from fitpipe.google_health.oauth import OAuthClient
from fitpipe.google_health.tokens import TokenCipher
from fitpipe.participants import Participant
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import enrol, expire_access_tokens, grant
from tests.queries import scalar

pytestmark = pytest.mark.db


@pytest.fixture
def rotating(fake: FakeGoogleHealth) -> Iterator[FakeGoogleHealth]:
    """Fitbit's rule: every refresh returns a new refresh token and the old one stops working."""
    fake.rotate_refresh_tokens = True
    yield fake


def _stored_refresh_token(db: psycopg.Connection, cipher: TokenCipher, p: Participant) -> str:
    row = db.execute("SELECT refresh_token FROM oauth_grants WHERE participant_id = %s", (p.id,)).fetchone()
    assert row is not None
    return cipher.decrypt(row[0], f"oauth_grants/google_health/{p.id}/refresh_token")


def test_concurrent_refreshes_spend_the_refresh_token_once_and_share_the_result(
    db: psycopg.Connection,
    database_url: str,
    rotating: FakeGoogleHealth,
    cipher: TokenCipher,
    oauth: OAuthClient,
) -> None:
    p = enrol(db, "P1")
    grant(db, cipher, rotating, p, "alice")
    expire_access_tokens(db)
    rotating.refresh_delay = (
        0.3  # both threads are inside access_token() while the first refresh is in flight
    )
    start = threading.Barrier(4)
    tokens: list[str] = []

    def refresh() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            tokens.append(TokenSource(conn, cipher, oauth, p.id).access_token())

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [ok for _, _, ok in rotating.refreshes] == [True], "one refresh; the others waited and reused it"
    assert len(set(tokens)) == 1 and len(tokens) == 4
    assert _stored_refresh_token(db, cipher, p) in rotating.users["alice"].refresh_tokens, (
        "the live one is stored"
    )
    expire_access_tokens(db)
    TokenSource(db, cipher, oauth, p.id).access_token()
    assert [ok for _, _, ok in rotating.refreshes] == [True, True], "the stored refresh token still works"


def test_a_rotated_refresh_token_is_stored_before_the_access_token_is_used(
    db: psycopg.Connection,
    database_url: str,
    rotating: FakeGoogleHealth,
    cipher: TokenCipher,
    oauth: OAuthClient,
) -> None:
    p = enrol(db, "P1")
    grant(db, cipher, rotating, p, "alice")
    before = _stored_refresh_token(db, cipher, p)
    expire_access_tokens(db)
    with psycopg.connect(database_url, autocommit=True) as conn:
        TokenSource(conn, cipher, oauth, p.id).access_token()
        # the process dies here, before any use of the new access token
    after = _stored_refresh_token(db, cipher, p)
    assert after != before and before not in rotating.users["alice"].refresh_tokens
    expire_access_tokens(db)
    TokenSource(db, cipher, oauth, p.id).access_token()
    assert [ok for _, _, ok in rotating.refreshes] == [True, True]


def test_google_refresh_without_a_new_refresh_token_keeps_the_stored_one(
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    cipher: TokenCipher,
    oauth: OAuthClient,
) -> None:
    p = enrol(db, "P1")
    grant(db, cipher, fake, p, "alice")
    before = _stored_refresh_token(db, cipher, p)
    version = scalar(db, "SELECT version FROM oauth_grants")
    expire_access_tokens(db)
    token = TokenSource(db, cipher, oauth, p.id).access_token()
    assert token in fake.issued and _stored_refresh_token(db, cipher, p) == before
    assert db.execute("SELECT version FROM oauth_grants").fetchone() == (version + 1,)


def test_tokens_are_encrypted_at_rest_and_bound_to_their_row(
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    cipher: TokenCipher,
    oauth: OAuthClient,
) -> None:
    p, q = enrol(db, "P1"), enrol(db, "P2")
    grant(db, cipher, fake, p, "alice")
    grant(db, cipher, fake, q, "bob")
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
    expire_access_tokens(db)
    with pytest.raises(ConfigError, match="belongs to another row"):
        TokenSource(db, cipher, oauth, q.id).access_token()
