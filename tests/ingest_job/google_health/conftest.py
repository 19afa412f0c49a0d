"""Fixtures of the Google Health source tests: the fake API on loopback, settings pointing at it, a source
on a virtual clock, participants with stored grants."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest

from fitpipe.google_health.client import Identity
from fitpipe.google_health.grants import store_grant
from fitpipe.google_health.oauth import TokenResponse
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.tokens import generate_key
from fitpipe.localtime import parse_rfc3339 as parse_instant
from fitpipe.participants import Participant, add_participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.run import SyncOptions, SyncReport
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.sync import sync_google_health
from tests.fakes.google_health import FakeGoogleHealth, VirtualClock

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


@pytest.fixture
def source(settings: GoogleHealthSettings, clock: VirtualClock) -> Iterator[GoogleHealthSource]:
    src = GoogleHealthSource.create(settings, clock=clock, rng=random.Random(7))
    try:
        yield src
    finally:
        src.close()


def enrol(
    db: psycopg.Connection, name: str, timezone: str = "America/New_York", study: str = "trial"
) -> Participant:
    participant, _ = add_participant(db, name, study, timezone=timezone)
    return participant


def grant(
    db: psycopg.Connection,
    source: GoogleHealthSource,
    fake: FakeGoogleHealth,
    participant: Participant,
    user: str,
) -> None:
    """Store a grant as the OAuth callback would (the consent screen itself is tested with the API)."""
    if user not in fake.users:
        fake.add_user(user)
    answer = fake.issue_tokens(user)
    u = fake.users[user]
    from pydantic import SecretStr

    store_grant(
        db,
        source.cipher,
        participant.id,
        TokenResponse(
            SecretStr(answer["access_token"]),
            answer["expires_in"],
            SecretStr(answer["refresh_token"]),
            tuple(answer["scope"].split()),
        ),
        Identity(u.health_user_id, u.legacy_user_id, None),
    )


def run_sync(
    url: str,
    source: GoogleHealthSource,
    now: datetime = NOW,
    lag: timedelta = timedelta(days=3),
    study: str | None = None,
    **kwargs: Any,
) -> tuple[SyncReport, IngestSummary]:
    summary = IngestSummary()
    report = sync_google_health(
        url, summary=summary, source=source, study=study, options=SyncOptions(lag=lag, now=now, **kwargs)
    )  # type: ignore[arg-type]
    return report, summary


def stored(db: psycopg.Connection, participant: Participant, metric: str) -> list[tuple[datetime, float]]:
    return [
        (r[0], r[1])
        for r in db.execute(
            """SELECT s.ts, s.value FROM samples s JOIN metrics m ON m.id = s.metric_id
           WHERE s.participant_id = %s AND m.name = %s ORDER BY s.ts""",
            (participant.id, metric),
        ).fetchall()
    ]


def rollup_count(db: psycopg.Connection, participant: Participant, metric: str) -> int:
    row = db.execute(
        """SELECT coalesce(sum(r.count), 0) FROM rollup_1h r JOIN metrics m ON m.id = r.metric_id
                        WHERE r.participant_id = %s AND m.name = %s""",
        (participant.id, metric),
    ).fetchone()
    assert row is not None
    return int(row[0])


def source_status(db: psycopg.Connection, participant: Participant) -> tuple[str, str | None]:
    row = db.execute(
        "SELECT status, last_error FROM participant_sources WHERE participant_id = %s AND source = 'google_health'",
        (participant.id,),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def at(text: str) -> datetime:
    """An RFC 3339 text of a point as an aware datetime."""
    instant = parse_instant(text)
    assert instant is not None, text
    return instant


def max_in_window(stamps: list[float], window: float) -> int:
    """The most stamps inside any half-open span of `window` seconds."""
    arr = np.sort(np.asarray(stamps))
    if arr.size == 0:
        return 0
    return int((np.searchsorted(arr, arr + window, side="left") - np.arange(arr.size)).max())
