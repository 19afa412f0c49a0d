"""GET /api/v1/participants and /participants/{user_id}: status, flags and newest data of participants loaded
relative to now; email visibility per role; the per-study authorization matrix of every route taking an id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.participants import Participant, add_participant
from fitpipe_api.adherence import flagged_counts
from tests.api.conftest import Tokens, auth
from tests.api.factories import (
    add_contact,
    add_night,
    add_source,
    load_samples,
    local_midnight,
    scalar,
    set_enrolment,
    today_in,
    worn_seconds,
)

pytestmark = pytest.mark.db
URL = "/api/v1/participants"


def _enrol(db: psycopg.Connection, user: str, days_ago: int, **kwargs: Any) -> tuple[Participant, datetime]:
    p, _ = add_participant(db, user, "a", timezone="UTC", email=f"{user.lower()}@example.org", **kwargs)
    start = local_midnight(today_in("UTC") - timedelta(days=days_ago), "UTC")
    set_enrolment(db, p, start)
    return p, start


@pytest.fixture
def fresh(db: psycopg.Connection) -> dict[str, Participant]:
    """Study a, loaded relative to now: G1 fine, S1 stopped 3 days ago, N1 never connected, R1 needs re-consent."""
    now = datetime.now(UTC)
    g1, start = _enrol(db, "G1", 3)
    ts = worn_seconds(start, now - timedelta(minutes=30), 20)
    load_samples(db, g1, "heart_rate", ts, np.full(len(ts), 70.0))
    add_source(db, g1, last_success_at=now - timedelta(hours=1))
    for back in range(1, 4):
        add_night(db, g1, today_in("UTC") - timedelta(days=back))
    s1, start = _enrol(db, "S1", 5)
    ts = worn_seconds(start, now - timedelta(days=3), 20)
    load_samples(db, s1, "heart_rate", ts, np.full(len(ts), 65.0))
    add_source(db, s1, last_success_at=now - timedelta(days=3))
    n1, _ = _enrol(db, "N1", 2)
    r1, start = _enrol(db, "R1", 1)
    ts = worn_seconds(start, now - timedelta(minutes=30), 30)
    load_samples(db, r1, "heart_rate", ts, np.full(len(ts), 80.0))
    add_source(db, r1, status="needs_reconsent", last_success_at=now - timedelta(hours=2))
    return {"G1": g1, "S1": s1, "N1": n1, "R1": r1}


def _by_user(body: dict) -> dict[str, dict]:
    return {p["user_id"]: p for p in body["participants"]}


def test_the_list_shows_each_participants_flags(
    client: TestClient, tokens: Tokens, fresh: dict[str, Participant]
) -> None:
    r = client.get(URL, params={"study": "a"}, headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    people = _by_user(r.json())
    assert people["G1"]["flags"] == []
    assert people["S1"]["flags"] == ["no_upload", "low_sleep", "low_wear"]
    assert people["S1"]["flag_details"]["no_upload"]["tripped_by"] == ["latest_sample", "last_sync"]
    assert people["N1"]["flags"] == ["no_source", "no_upload", "low_wear"]
    assert people["N1"]["flag_details"]["no_upload"]["tripped_by"] == [
        "latest_sample"
    ]  # no source: no sync to judge
    assert people["R1"]["flags"] == ["no_source"]
    assert (people["G1"]["source_status"], people["N1"]["source_status"], people["R1"]["source_status"]) == (
        "active",
        "none",
        "needs_reconsent",
    )
    assert people["A1"]["source_status"] == "manual"  # loaded by hand, without a source row


def test_newest_sample_and_last_sync_are_the_stored_ones(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fresh: dict[str, Participant]
) -> None:
    people = _by_user(client.get(URL, params={"study": "a"}, headers=auth(tokens.admin)).json())
    for user in ("G1", "S1", "A1"):
        newest = scalar(db, 'SELECT max("timestamp") FROM raw_data WHERE user_id = %s', (user,))
        assert datetime.fromisoformat(people[user]["latest_sample"]) == newest
    synced = scalar(
        db, "SELECT last_success_at FROM participant_sources WHERE participant_id = %s", (fresh["S1"].id,)
    )
    assert datetime.fromisoformat(people["S1"]["last_sync"]) == synced
    assert people["N1"]["latest_sample"] is None and people["N1"]["last_sync"] is None


def test_adherence_of_the_list_counts_wear_to_yesterday(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fresh: dict[str, Participant]
) -> None:
    s1 = _by_user(client.get(URL, params={"study": "a"}, headers=auth(tokens.admin)).json())["S1"]
    yesterday_end = local_midnight(today_in("UTC"), "UTC")
    minutes = scalar(
        db,
        """SELECT count(DISTINCT date_trunc('minute', "timestamp")) FROM raw_data
           WHERE user_id = 'S1' AND metric_name = 'heart_rate' AND "timestamp" < %s""",
        (yesterday_end,),
    )
    assert s1["adherence"]["wear_minutes"] == minutes
    assert s1["adherence"]["enrolled_minutes"] == 5 * 1440
    assert s1["adherence"]["adherence_pct"] == pytest.approx(
        100 * minutes / (5 * 1440), abs=0.0051
    )  # rounded to 2 decimals


def test_emails_are_shown_to_coordinators_and_hidden_from_analysts(
    client: TestClient, tokens: Tokens, fresh: dict[str, Participant]
) -> None:
    coordinator = client.get(URL, params={"study": "a"}, headers=auth(tokens.coordinator_a))
    assert _by_user(coordinator.json())["G1"]["email"] == "g1@example.org"
    for path in (URL, f"{URL}/G1"):
        r = client.get(path, params={"study": "a"}, headers=auth(tokens.analyst_a))
        assert r.status_code == 200, r.text
        assert "@example.org" not in r.text
        assert "email" not in (r.json() if path != URL else r.json()["participants"][0])


def test_the_detail_has_sources_recent_contacts_and_days(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fresh: dict[str, Participant]
) -> None:
    now = datetime.now(UTC)
    add_contact(db, fresh["S1"], now - timedelta(days=2), reason="no_upload")
    add_contact(db, fresh["S1"], now - timedelta(hours=1), status="refused", reason="no_upload,low_wear")
    r = client.get(f"{URL}/S1", headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == "s1@example.org" and body["study"] == "a"
    assert [(s["source"], s["status"]) for s in body["sources"]] == [("google_health", "active")]
    assert [(c["status"], c["reasons"]) for c in body["contacts"]] == [
        ("refused", ["no_upload", "low_wear"]),
        ("sent", ["no_upload"]),
    ]
    assert datetime.fromisoformat(body["last_contacted"]) == scalar(
        db,
        "SELECT max(sent_at) FROM contacts WHERE participant_id = %s AND status = 'sent'",
        (fresh["S1"].id,),
    )
    assert len(body["days"]["date"]) == 5 and body["days"]["wear_minutes"][-1] == 0  # stopped 3 days ago


def test_without_a_study_a_token_lists_only_its_own_studies(client: TestClient, tokens: Tokens) -> None:
    a = client.get(URL, headers=auth(tokens.coordinator_a)).json()
    assert {p["study"] for p in a["participants"]} == {"a"}
    everyone = client.get(URL, headers=auth(tokens.admin)).json()
    assert {p["study"] for p in everyone["participants"]} == {"a", "b"}


def test_reads_are_audited(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fresh: dict[str, Participant]
) -> None:
    client.get(f"{URL}/G1", headers={**auth(tokens.analyst_a), "X-Request-ID": "p-1"})
    client.get(URL, params={"study": "a"}, headers={**auth(tokens.analyst_a), "X-Request-ID": "p-2"})
    rows = db.execute(
        "SELECT client_request_id, action, participant_id FROM audit_log WHERE client_request_id IN ('p-1', 'p-2')"
    ).fetchall()
    assert ("p-1", "read_participant", fresh["G1"].id) in rows
    listed = {pid for rid, action, pid in rows if rid == "p-2" and action == "read_participants"}
    assert listed == {
        r[0]
        for r in db.execute(
            "SELECT id FROM participants WHERE study_id = %s", (fresh["G1"].study_id,)
        ).fetchall()
    }


# --- every route that takes a participant id: another study's participant does not exist -------------------
ID_ROUTES = [
    ("GET", "/api/v1/participants/{user}", None),
    ("POST", "/api/v1/participants/{user}/contact", {"reason": "low_wear", "dry_run": True}),
    ("GET", "/api/v1/adherence?study={study}&user_id={user}", None),
    ("GET", "/api/v1/timeseries?user_id={user}&metric=heart_rate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
@pytest.mark.parametrize(
    ("token", "user", "study"),
    [("coordinator_b", "A1", "a"), ("coordinator_a", "B1", "b"), ("coordinator_a", "nobody", "a")],
)
def test_a_participant_of_another_study_is_not_found(
    client: TestClient,
    tokens: Tokens,
    method: str,
    path: str,
    body: dict[str, object] | None,
    token: str,
    user: str,
    study: str,
) -> None:
    r = client.request(
        method, path.format(user=user, study=study), json=body, headers=auth(getattr(tokens, token))
    )
    assert r.status_code == 404, r.text
    assert "@" not in r.text


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES[:2])
def test_another_studys_participant_looks_exactly_like_an_unknown_one(
    client: TestClient, tokens: Tokens, method: str, path: str, body: dict[str, object] | None
) -> None:
    other = client.request(method, path.format(user="A1"), json=body, headers=auth(tokens.coordinator_b))
    unknown = client.request(method, path.format(user="Z9"), json=body, headers=auth(tokens.coordinator_b))
    assert (other.status_code, other.json()["detail"].replace("A1", "?")) == (
        unknown.status_code,
        unknown.json()["detail"].replace("Z9", "?"),
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/participants", "/api/v1/participants/A1", "/api/v1/adherence?study=a"]
)
def test_requests_without_a_token_are_refused(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


def test_the_monitoring_count_of_flagged_participants_agrees_with_the_list(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fresh: dict[str, Participant]
) -> None:
    people = client.get(URL, headers=auth(tokens.admin)).json()["participants"]
    want: dict[str, int] = {}
    for p in people:
        want[p["study"]] = want.get(p["study"], 0) + bool(p["flags"])
    assert flagged_counts(db) == want
    assert want["a"] >= 3  # S1, N1, R1 at least
