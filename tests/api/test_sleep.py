"""GET /api/v1/sleep: sessions with stages, by local date, per-study access."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe_ingest.records import SleepSession, SleepStage
from fitpipe_ingest.sleep_store import store_sleep
from tests.api.conftest import Cohort, Tokens, auth

pytestmark = pytest.mark.db


@pytest.fixture
def night(db: psycopg.Connection, cohort: Cohort) -> datetime:
    start = datetime(2024, 1, 2, 4, 30, tzinfo=UTC)  # 23:30 in New York
    stages = [
        SleepStage(start, 1800, "light"),
        SleepStage(start + timedelta(minutes=30), 3600, "deep"),
        SleepStage(start + timedelta(minutes=50), 60, "wake", is_short=True),
    ]
    session = SleepSession(
        start,
        start + timedelta(hours=1, minutes=30),
        date(2024, 1, 2),
        True,
        "sleep.json",
        "record 0",
        minutes_asleep=88,
        efficiency=95,
        sleep_type="stages",
        stages=stages,
    )
    with db.cursor() as cur:
        store_sleep(cur, [(cohort["A1"].id, session)], "test")
    return start


def test_sessions_come_with_their_stages(client: TestClient, tokens: Tokens, night: datetime) -> None:
    r = client.get("/api/v1/sleep", params={"user_id": "A1"}, headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "America/New_York"
    [session] = body["sessions"]
    assert session["local_date"] == "2024-01-02" and session["minutes_asleep"] == 88
    assert session["stages"]["level"] == ["light", "deep", "wake"]
    assert session["stages"]["seconds"] == [1800, 3600, 60]
    assert session["stages"]["is_short"] == [False, False, True]


def test_a_date_range_without_nights_is_empty(client: TestClient, tokens: Tokens, night: datetime) -> None:
    r = client.get(
        "/api/v1/sleep",
        params={"user_id": "A1", "start_date": "2023-01-01", "end_date": "2023-01-07"},
        headers=auth(tokens.admin),
    )
    assert r.status_code == 200 and r.json()["sessions"] == []


def test_other_studies_cannot_read_it(client: TestClient, tokens: Tokens, night: datetime) -> None:
    r = client.get("/api/v1/sleep", params={"user_id": "A1"}, headers=auth(tokens.coordinator_b))
    assert r.status_code == 404
