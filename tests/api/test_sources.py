"""Consent and webhooks of the Google Health source through the API, against the fake Google over real HTTP:
consent link → Google's consent screen → callback stores the grant → the nightly sync can pull; the webhook
handshake; a signed notification queued and turned into a targeted pull."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import httpx2  # what starlette's TestClient answers with
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fitpipe.google_health.datatypes import BY_NAME
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.tokens import generate_key
from fitpipe.google_health.windows import filter_for, window_of
from fitpipe_api.routes.sources import RedactCallbackQuery, google_health_settings
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.backfill import pull_notified
from fitpipe_ingest.google_health.run import SyncOptions
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.sync import sync_google_health
from tests.api.conftest import Tokens, auth
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import settings_for

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)
HOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def fake() -> Iterator[FakeGoogleHealth]:
    server = FakeGoogleHealth().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gsettings(fake: FakeGoogleHealth) -> GoogleHealthSettings:
    return settings_for(
        fake,
        google_health_webhook_secret=HOOK_SECRET,
        google_health_webhook_public_keys=fake.public_key_pem(),
    )


def _app(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


@pytest.fixture
def api(client: TestClient, gsettings: GoogleHealthSettings) -> Iterator[TestClient]:
    overrides = _app(client).dependency_overrides
    overrides[google_health_settings] = lambda: gsettings
    yield client
    overrides.clear()


def _consent(api: TestClient, fake: FakeGoogleHealth, token: str, user_id: str = "A1") -> httpx2.Response:
    link = api.get(f"/api/v1/participants/{user_id}/connect", headers=auth(token))
    assert link.status_code == 200, link.text
    consent_screen = httpx.get(link.json()["authorization_url"], follow_redirects=False)
    assert consent_screen.status_code == 302
    return api.get(consent_screen.headers["location"])


def test_consent_link_then_callback_stores_a_grant_the_sync_can_use(
    api: TestClient,
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    tokens: Tokens,
    gsettings: GoogleHealthSettings,
) -> None:
    fake.add_user("alice")
    fake.consenting = "alice"

    def participant() -> dict:
        return api.get("/api/v1/participants/A2", headers=auth(tokens.coordinator_a)).json()

    assert participant()["flag_details"]["no_source"]["message"] == "no data source yet"
    link = api.get("/api/v1/participants/A2/connect", headers=auth(tokens.coordinator_a)).json()
    assert link["authorization_url"].startswith(gsettings.google_oauth_authorize_url)
    assert (
        "access_type=offline" in link["authorization_url"]
        and "code_challenge_method=S256" in link["authorization_url"]
    )
    page = _consent(api, fake, tokens.coordinator_a, "A2")

    assert page.status_code == 200 and "Connected" in page.text
    row = db.execute("SELECT health_user_id, scopes, revoked_at FROM oauth_grants").fetchone()
    assert row == (fake.users["alice"].health_user_id, list(fake.users["alice"].scopes), None)
    assert [(s["source"], s["status"]) for s in participant()["sources"]] == [("google_health", "configured")]
    assert db.execute("SELECT action FROM audit_log WHERE action LIKE 'consent%' ORDER BY id").fetchall() == [
        ("consent_link",),
        ("consent_link",),
        ("consent_granted",),
    ]

    fake.add_points("alice", "steps", hp.steps(NOW - timedelta(hours=3), 120))
    source = GoogleHealthSource.create(gsettings, rng=random.Random(0))
    try:
        report = sync_google_health(
            database_url,
            summary=IngestSummary(),
            source=source,
            options=SyncOptions(now=NOW, data_types=("steps",)),
        )
    finally:
        source.close()
    assert [(o.participant.external_id, o.status) for o in report.outcomes] == [("A2", "synced")]
    assert db.execute(
        "SELECT count(*) FROM samples s JOIN metrics m ON m.id = s.metric_id WHERE m.name = 'steps'"
    ).fetchone() == (120,)
    after = participant()
    assert after["source_status"] == "active" and "no_source" not in after["flags"]


def test_a_consent_link_works_once_and_refusals_explain_themselves(
    api: TestClient,
    db: psycopg.Connection,
    fake: FakeGoogleHealth,
    tokens: Tokens,
) -> None:
    fake.add_user("alice")
    fake.consenting = None  # the person clicks "Cancel"
    declined = _consent(api, fake, tokens.coordinator_a)
    assert declined.status_code == 400 and "did not allow access" in declined.text

    fake.consenting = "alice"
    link = api.get("/api/v1/participants/A1/connect", headers=auth(tokens.coordinator_a)).json()[
        "authorization_url"
    ]
    callback = httpx.get(link, follow_redirects=False).headers["location"]
    assert api.get(callback).status_code == 200
    again = api.get(callback)
    assert again.status_code == 400 and "used already" in again.text
    assert api.get("/api/v1/oauth/google-health/callback?state=made-up&code=x").status_code == 400

    other = _consent(api, fake, tokens.coordinator_a, "A2")  # the same Google account for another participant
    assert other.status_code == 400 and "already linked to another participant" in other.text
    assert db.execute("SELECT count(*) FROM oauth_grants").fetchone() == (1,)


def test_only_roles_that_manage_participants_get_consent_links(api: TestClient, tokens: Tokens) -> None:
    assert api.get("/api/v1/participants/A1/connect", headers=auth(tokens.analyst_a)).status_code == 403
    assert api.get("/api/v1/participants/A1/connect", headers=auth(tokens.coordinator_b)).status_code == 404
    assert api.get("/api/v1/participants/A1/connect").status_code == 401


def test_without_the_oauth_client_the_source_is_not_enabled(client: TestClient, tokens: Tokens) -> None:
    unconfigured = GoogleHealthSettings.model_validate(
        {"google_client_id": None, "google_client_secret": None, "fitpipe_token_key": generate_key()}
    )
    _app(client).dependency_overrides[google_health_settings] = lambda: unconfigured
    answer = client.get("/api/v1/participants/A1/connect", headers=auth(tokens.admin))
    assert answer.status_code == 404 and "GOOGLE_CLIENT_ID" in answer.json()["detail"]
    assert client.post("/api/v1/webhooks/google-health", json={"type": "verification"}).status_code == 404


def test_webhook_verification_needs_the_configured_secret(api: TestClient) -> None:
    body = {"type": "verification"}
    assert (
        api.post(
            "/api/v1/webhooks/google-health", json=body, headers={"Authorization": HOOK_SECRET}
        ).status_code
        == 201
    )
    assert api.post("/api/v1/webhooks/google-health", json=body).status_code == 401
    assert (
        api.post("/api/v1/webhooks/google-health", json=body, headers={"Authorization": "guess"}).status_code
        == 403
    )


def test_a_signed_notification_is_queued_once_and_pulled_in_a_targeted_pull(
    api: TestClient,
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    tokens: Tokens,
    gsettings: GoogleHealthSettings,
) -> None:
    fake.add_user("alice")
    fake.consenting = "alice"
    assert _consent(api, fake, tokens.coordinator_a).status_code == 200
    old = NOW - timedelta(days=20)  # far behind any nightly window: only the notification brings it in
    fake.add_points("alice", "steps", hp.steps(old, 30))
    body = json.dumps(fake.notification("alice", "steps", old, old + timedelta(minutes=30))).encode()
    url = "/api/v1/webhooks/google-health"
    assert api.post(url, content=body).status_code == 401, "unsigned"
    assert (
        api.post(url, content=body, headers={"GOOGLE-HEALTH-API-SIGNATURE": fake.sign(b"other")}).status_code
        == 401
    )
    for header in (
        "GOOGLE-HEALTH-API-SIGNATURE",
        "X-HEALTHAPI-SIGNATURE",
    ):  # a redelivery is not queued twice
        assert api.post(url, content=body, headers={header: fake.sign(body)}).status_code == 204
    two = json.dumps(
        [
            fake.notification("alice", "sleep", old, old + timedelta(hours=8)),
            {"data": {"dataType": "weight", "healthUserId": "x"}},
        ]
    ).encode()
    assert (
        api.post(url, content=two, headers={"GOOGLE-HEALTH-API-SIGNATURE": fake.sign(two)}).status_code == 204
    )
    pending = db.execute(
        "SELECT data_type, start_time FROM google_health_notifications WHERE pulled_at IS NULL ORDER BY 1"
    )
    assert pending.fetchall() == [("sleep", old), ("steps", old)]

    source = GoogleHealthSource.create(gsettings, rng=random.Random(0))
    try:
        report = pull_notified(
            database_url, summary=IngestSummary(), source=source, options=SyncOptions(now=NOW)
        )
    finally:
        source.close()

    assert [o.status for o in report.outcomes] == ["synced"]
    zone = ZoneInfo("America/New_York")  # A1's
    window = window_of(BY_NAME["steps"], old.astimezone(zone).date(), zone)
    assert [r.params["filter"] for r in fake.requests("alice", path="/steps/")] == [filter_for(window, NOW)]
    first = db.execute(
        "SELECT min(s.ts), count(*) FROM samples s JOIN metrics m ON m.id = s.metric_id "
        "WHERE m.name = 'steps'"
    ).fetchone()
    assert first == (old, 30)
    assert db.execute(
        "SELECT count(*) FROM google_health_notifications WHERE pulled_at IS NULL"
    ).fetchone() == (0,)


def test_no_token_code_or_secret_reaches_the_logs(
    api: TestClient,
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    tokens: Tokens,
    gsettings: GoogleHealthSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.rotate_refresh_tokens = True
    for user in ("alice", "bob"):
        fake.add_user(user)
        fake.add_points(user, "steps", hp.steps(NOW - timedelta(hours=3), 60))
    fake.consenting = "alice"
    link = api.get("/api/v1/participants/A1/connect", headers=auth(tokens.coordinator_a)).json()[
        "authorization_url"
    ]
    assert _consent(api, fake, tokens.coordinator_a).status_code == 200
    fake.consenting = "bob"
    assert _consent(api, fake, tokens.coordinator_a, "A2").status_code == 200
    db.execute(
        "UPDATE oauth_grants SET access_expires_at = now() - interval '1 minute'"
    )  # refreshes (rotating)
    fake.revoke("bob")  # invalid_grant
    source = GoogleHealthSource.create(gsettings, rng=random.Random(0))
    try:
        sync_google_health(database_url, summary=IngestSummary(), source=source, options=SyncOptions(now=NOW))
        fake.expire_access_tokens()  # a 401 and a refresh mid-sync
        sync_google_health(database_url, summary=IngestSummary(), source=source, options=SyncOptions(now=NOW))
    finally:
        source.close()
    body = json.dumps(fake.notification("alice", "steps", NOW, NOW)).encode()
    api.post(
        "/api/v1/webhooks/google-health", content=body, headers={"X-HEALTHAPI-SIGNATURE": fake.sign(body)}
    )
    api.post(
        "/api/v1/webhooks/google-health",
        json={"type": "verification"},
        headers={"Authorization": HOOK_SECRET},
    )

    state = parse_qs(urlsplit(link).query)["state"][0]
    assert gsettings.fitpipe_token_key is not None
    secrets = [
        *fake.issued,
        fake.client_secret,
        HOOK_SECRET,
        state,
        gsettings.fitpipe_token_key.get_secret_value(),
    ]
    assert len(fake.refreshes) >= 3 and any(not ok for _, _, ok in fake.refreshes)
    # the participant's browser (the test client, the consent screen) is not fitpipe: its request lines are left out
    ours = [
        r.getMessage()
        for r in caplog.records
        if "http://testserver/" not in r.getMessage() and "/o/oauth2/v2/auth" not in r.getMessage()
    ]
    assert any("access token refreshed" in m for m in ours) and any("invalid_grant" in m for m in ours)
    stored_text = " ".join(
        str(v)
        for row in db.execute(
            "SELECT last_error FROM participant_sources UNION ALL SELECT revoke_reason FROM oauth_grants "
            "UNION ALL SELECT detail::text FROM audit_log"
        )
        for v in row
    )
    for secret in secrets:
        assert not [m for m in ours if secret in m], "a secret reached the log"
        assert secret not in stored_text


def test_the_access_log_line_of_the_callback_hides_code_and_state() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "10.0.0.1:5555",
            "GET",
            "/api/v1/oauth/google-health/callback?state=abc&code=4/xyz&scope=s",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactCallbackQuery().filter(record)
    assert (
        record.getMessage()
        == '10.0.0.1:5555 - "GET /api/v1/oauth/google-health/callback?state=***&code=***&scope=s HTTP/1.1" 200'
    )
