"""Fixtures and helpers shared by the tests of the Google Health connector (tests/fitpipe/google_health), of
the ingest job's sync (tests/ingest_job/google_health) and of the API's consent and webhook routes: the fake
API on loopback on a virtual clock, settings pointing at it, participants with stored grants.

A pytest plugin: tests/conftest.py registers it (`pytest_plugins`), so its fixtures are everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import pytest
from pydantic import SecretStr

from fitpipe.google_health.client import Identity
from fitpipe.google_health.grants import store_grant
from fitpipe.google_health.oauth import TokenResponse
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.tokens import TokenCipher, generate_key
from fitpipe.localtime import parse_rfc3339
from fitpipe.participants import Participant, add_participant
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock

__all__ = ["NOW", "at", "enrol", "expire_access_tokens", "grant", "max_in_window", "settings_for"]

NOW = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)
"""A night after the Fitbit Web API was switched off (30 Oct 2026)."""


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock: VirtualClock) -> Iterator[FakeGoogleHealth]:
    server = FakeGoogleHealth(clock=clock).start()
    try:
        yield server
    finally:
        server.stop()


def settings_for(fake: FakeGoogleHealth, **extra: Any) -> GoogleHealthSettings:
    """Settings pointing at the fake, with a fresh token key."""
    values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
    return GoogleHealthSettings.model_validate(values | {"fitpipe_token_key": generate_key()} | extra)


@pytest.fixture
def settings(fake: FakeGoogleHealth) -> GoogleHealthSettings:
    return settings_for(fake, fitpipe_google_concurrency=2)


def enrol(
    db: psycopg.Connection, name: str, timezone: str = "America/New_York", study: str = "trial"
) -> Participant:
    participant, _ = add_participant(db, name, study, timezone=timezone)
    return participant


def grant(
    db: psycopg.Connection,
    cipher: TokenCipher,
    fake: FakeGoogleHealth,
    participant: Participant,
    user: str,
) -> None:
    """Store a grant as the OAuth callback would (the consent screen itself is tested with the API)."""
    if user not in fake.users:
        fake.add_user(user)
    answer = fake.issue_tokens(user)
    u = fake.users[user]
    store_grant(
        db,
        cipher,
        participant.id,
        TokenResponse(
            SecretStr(answer["access_token"]),
            answer["expires_in"],
            SecretStr(answer["refresh_token"]),
            tuple(answer["scope"].split()),
        ),
        Identity(u.health_user_id, u.legacy_user_id, None),
    )


def expire_access_tokens(db: psycopg.Connection) -> None:
    """Every stored access token expired a second ago (the next use refreshes it)."""
    db.execute("UPDATE oauth_grants SET access_expires_at = now() - interval '1 second'")


def at(text: str) -> datetime:
    """An RFC 3339 text of a point as an aware datetime."""
    instant = parse_rfc3339(text)
    assert instant is not None, text
    return instant


def max_in_window(stamps: list[float], window: float) -> int:
    """The most stamps inside any half-open span of `window` seconds."""
    arr = np.sort(np.asarray(stamps))
    if arr.size == 0:
        return 0
    return int((np.searchsorted(arr, arr + window, side="left") - np.arange(arr.size)).max())
