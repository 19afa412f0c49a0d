"""`fitpipe run` after the inbox pass pulls every consented participant from the fake API; a revoked grant shows
as needs_reconsent in the Prometheus metrics the API exports, and the run carries the refresh failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from fitpipe.cli import cli
from fitpipe.db import connect
from fitpipe.google_health.settings import get_google_health_settings, reset_google_health_settings
from fitpipe.google_health.tokens import generate_key
from fitpipe.monitoring.ingest_collector import IngestCollector
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import enrol, grant
from tests.queries import one

from .conftest import source_status, stored

pytestmark = pytest.mark.db


@pytest.fixture
def live_env(fake: FakeGoogleHealth, fitpipe_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FITPIPE_TOKEN_KEY", generate_key())
    monkeypatch.setenv("FITPIPE_INBOX", str(fitpipe_env / "inbox"))
    reset_google_health_settings()
    yield fitpipe_env
    reset_google_health_settings()


def test_the_daily_run_syncs_consented_participants_and_counts_a_revoked_grant(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    live_env: Path,
) -> None:
    source = GoogleHealthSource.create(get_google_health_settings())  # the key the run will read
    try:
        synced, revoked = enrol(db, "P1"), enrol(db, "P2")
        enrol(db, "P3")  # no grant: inbox only, untouched by the live pass
        grant(db, source.cipher, fake, synced, "alice")
        grant(db, source.cipher, fake, revoked, "bob")
    finally:
        source.close()
    now = datetime.now(UTC)
    fake.add_points("alice", "steps", hp.steps(now - timedelta(hours=2), 60))
    db.execute(
        "UPDATE oauth_grants SET access_expires_at = now() - interval '1 minute' WHERE participant_id = %s",
        (revoked.id,),
    )
    fake.revoke("bob")

    result = CliRunner().invoke(cli, ["run"])

    assert result.exit_code == 0, result.output
    assert (
        "google health: 2 consented, 1 synced, 0 deferred to the next run, 1 need re-consent" in result.output
    )
    assert len(stored(db, synced, "steps")) == 60
    assert source_status(db, revoked)[0] == "needs_reconsent"
    status, details = one(db, "SELECT status, details FROM ingest_runs ORDER BY id DESC LIMIT 1")
    assert status == "success" and details["token_refresh_failures"] == {"trial": 1}
    assert details["google_health"]["synced"] == 1 and details["metrics"]["steps|google_health"]["new"] == 60

    registry = CollectorRegistry()
    registry.register(IngestCollector(lambda: connect(database_url)))
    assert registry.get_sample_value("fitpipe_token_refresh_failures_total", {"study": "trial"}) == 1
    assert (
        registry.get_sample_value("fitpipe_participants", {"study": "trial", "state": "needs_reconsent"}) == 1
    )


def test_a_daily_run_without_the_oauth_client_reports_the_consented_participants_it_skipped(
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    live_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = GoogleHealthSource.create(get_google_health_settings())
    try:
        grant(db, source.cipher, fake, enrol(db, "P1"), "alice")
    finally:
        source.close()
    monkeypatch.delenv("GOOGLE_CLIENT_SECRET")
    reset_google_health_settings()

    result = CliRunner().invoke(cli, ["run"])

    assert result.exit_code != 0
    assert "1 consented participant(s) not synced: the Google OAuth client is not configured" in result.output
    assert db.execute("SELECT status FROM ingest_runs").fetchone() == ("failed",)
