"""DELETE /api/v1/participants/{user_id}: admin only, audited under the token, everything of the person gone."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe_api.main import create_app
from fitpipe_ingest.load import PARTICIPANT_LOCK
from tests.api.conftest import PASSWORD, Cohort, People, Tokens, api_settings, auth
from tests.conftest import role_url
from tests.queries import one, scalar

pytestmark = pytest.mark.db


def test_admin_erases_a_participant_and_the_audit_log_names_the_token(
    client: TestClient, tokens: Tokens, cohort: Cohort, db: psycopg.Connection
) -> None:
    a1 = cohort["A1"]
    samples = scalar(db, "SELECT count(*) FROM samples WHERE participant_id = %s", (a1.id,))
    r = client.delete("/api/v1/participants/A1", params={"study": "a"}, headers=auth(tokens.admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["study"], body["user_id"], body["previously_erased_at"]) == ("a", "A1", None)
    assert body["erased_at"] is not None
    assert body["rows"]["samples"] == samples > 0
    assert body["total_rows"] == sum(body["rows"].values())
    for table in ("samples", "rollup_1m", "rollup_1h", "rollup_1d", "ingest_cursors", "ingest_files"):
        left = db.execute(f"SELECT count(*) FROM {table} WHERE participant_id = %s", (a1.id,)).fetchone()
        assert left == (0,), table
    token_id, detail, request = one(
        db, "SELECT token_id, detail, request_id FROM audit_log WHERE action = 'erase_participant'"
    )
    admin_id = db.execute("SELECT id FROM api_tokens WHERE name = 'admin'").fetchone()
    assert (token_id,) == admin_id and detail["via"] == "api" and request
    # the others are untouched, and A1 is still listed as a withdrawn tombstone without data
    assert db.execute(
        "SELECT count(*) FROM samples WHERE participant_id = %s", (cohort["B1"].id,)
    ).fetchone() != (0,)
    again = client.delete("/api/v1/participants/A1", params={"study": "a"}, headers=auth(tokens.admin))
    assert again.status_code == 200 and again.json()["previously_erased_at"] is not None
    assert again.json()["total_rows"] == 0


@pytest.mark.parametrize("who", ["coordinator_a", "analyst_a"])
def test_only_admins_may_erase(client: TestClient, tokens: Tokens, db: psycopg.Connection, who: str) -> None:
    r = client.delete("/api/v1/participants/A1", params={"study": "a"}, headers=auth(getattr(tokens, who)))
    assert r.status_code == 403 and "admin only" in r.json()["detail"]
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'erase_participant'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM samples").fetchone() != (0,)


def test_erase_needs_a_known_participant_and_its_study(client: TestClient, tokens: Tokens) -> None:
    admin = auth(tokens.admin)
    assert client.delete("/api/v1/participants/NOPE", params={"study": "a"}, headers=admin).status_code == 404
    assert client.delete("/api/v1/participants/A1", params={"study": "b"}, headers=admin).status_code == 404
    missing = client.delete("/api/v1/participants/A1", headers=admin)
    assert missing.status_code == 422
    assert client.delete("/api/v1/participants/A1", params={"study": "a"}).status_code == 401


@pytest.fixture
def people_api(database_url: str, people: People, tokens: Tokens) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(), url=role_url(database_url, API))) as c:
        yield c


def _session(api: TestClient, username: str) -> str:
    answer = api.post("/api/v1/auth/sign-in", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_a_signed_in_admin_erases_under_their_own_name_and_a_coordinator_cannot(
    people_api: TestClient, people: People, db: psycopg.Connection
) -> None:
    refused = people_api.delete(
        "/api/v1/participants/A1", params={"study": "a"}, headers=auth(_session(people_api, "cora"))
    )
    assert refused.status_code == 403 and "cora (coordinator)" in refused.json()["detail"]
    done = people_api.delete(
        "/api/v1/participants/A1", params={"study": "a"}, headers=auth(_session(people_api, "ada"))
    )
    assert done.status_code == 200, done.text
    user_id, session_id, token_id = one(
        db, "SELECT user_id, session_id, token_id FROM audit_log WHERE action = 'erase_participant'"
    )
    assert (user_id, token_id) == (people.ids["ada"], None) and session_id is not None


def test_an_erasure_longer_than_the_statement_timeout_still_completes(
    database_url: str, cohort: Cohort, tokens: Tokens, db: psycopg.Connection
) -> None:
    """Erasing a participant with years of 1 Hz data takes longer than an ordinary request may (the statement
    timeout): here it waits for a load of the same participant (the per-participant lock) for longer."""
    a1 = cohort["A1"]
    settings = api_settings(fitpipe_api_statement_timeout_seconds=0.3)
    with (
        TestClient(create_app(settings, url=role_url(database_url, API))) as api,
        psycopg.connect(database_url, autocommit=True) as loader,
    ):
        loader.execute("SELECT pg_advisory_lock(%s, %s)", (PARTICIPANT_LOCK, a1.id))  # a load under way
        release = threading.Timer(1.5, lambda: loader.execute("SELECT pg_advisory_unlock_all()"))
        release.start()
        try:
            r = api.delete("/api/v1/participants/A1", params={"study": "a"}, headers=auth(tokens.admin))
        finally:
            release.join()
        assert r.status_code == 200, r.text
        assert r.json()["rows"]["samples"] > 0
        # and the connection is back to the ordinary timeout for the next request
        slow = api.get("/api/v1/participants", params={"study": "a"}, headers=auth(tokens.admin))
        assert slow.status_code == 200
    assert db.execute("SELECT count(*) FROM samples WHERE participant_id = %s", (a1.id,)).fetchone() == (0,)
