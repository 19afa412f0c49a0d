"""Fixtures of the ingest job's Google Health tests (the sync, backfills, the daily run): a source on the
shared virtual clock, and what a sync stored. The fake API, its settings and grants are shared with the
connector's tests (tests/fakes/google_health_fixtures.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.participants import Participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.run import SyncOptions, SyncReport
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.sync import sync_google_health
from tests.fakes.google_health import VirtualClock
from tests.fakes.google_health_fixtures import NOW


@pytest.fixture
def source(settings: GoogleHealthSettings, clock: VirtualClock) -> Iterator[GoogleHealthSource]:
    src = GoogleHealthSource.create(settings, clock=clock, rng=random.Random(7))
    try:
        yield src
    finally:
        src.close()


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
    )
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
