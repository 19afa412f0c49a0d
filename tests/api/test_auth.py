"""Signing in and out through /api/v1/auth on the real database: a session acts as its person (their role
and studies, now), is audited under them, ends on sign-out, expiry, idleness or a disabled account; wrong
passwords lock the account; an auth proxy's signin token can start sessions and do nothing else."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.tokens import create_token
from fitpipe.users import disable_user, enable_user
from fitpipe_api.main import create_app
from tests.api.conftest import PASSWORD, People, Tokens, api_settings, auth
from tests.api.factories import Inbox, scalar, smtp_server
from tests.conftest import role_url

pytestmark = pytest.mark.db


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def api(database_url: str, people: People, tokens: Tokens, smtp: tuple[int, Inbox]) -> Iterator[TestClient]:
    settings = api_settings(mail_server="127.0.0.1", mail_port=smtp[0], fitpipe_signin_max_failures=3)
    with TestClient(create_app(settings, url=role_url(database_url, API))) as c:
        yield c


def sign_in(api: TestClient, username: str, password: str = PASSWORD) -> Any:
    return api.post("/api/v1/auth/sign-in", json={"username": username, "password": password})


def session(api: TestClient, username: str) -> str:
    answer = sign_in(api, username)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def audit_rows(db: psycopg.Connection, action: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT user_id, session_id, token_id, detail FROM audit_log WHERE action = %s ORDER BY id", (action,)
    ).fetchall()


def test_a_session_acts_as_its_person_and_every_read_is_audited_under_them(
    api: TestClient, db: psycopg.Connection, people: People
) -> None:
    answer = sign_in(api, "  Cora ")  # user names are case-insensitive, blanks ignored
    assert answer.status_code == 201
    body = answer.json()
    assert body["token"].startswith("fps_")
    assert body["idle_timeout_seconds"] == 30 * 60
    assert body["person"] == {
        "username": "cora",
        "name": "cora",
        "role": "coordinator",
        "all_studies": False,
        "studies": ["a"],
        "can_contact": True,
        "sees_emails": True,
    }
    token = body["token"]
    me = api.get("/api/v1/auth/me", headers=auth(token)).json()
    assert me == body["person"]
    listed = api.get("/api/v1/participants", params={"study": "a"}, headers=auth(token))
    assert listed.status_code == 200
    assert sorted(p["user_id"] for p in listed.json()["participants"]) == ["A1", "A2"]
    assert api.get("/api/v1/participants/B1", headers=auth(token)).status_code == 404  # study b: invisible
    assert api.get("/api/v1/participants/A1", headers=auth(token)).status_code == 200
    session_id = scalar(db, "SELECT id FROM user_sessions WHERE user_id = %s", (people.ids["cora"],))
    [(user_id, sid, token_id, detail)] = audit_rows(db, "sign_in")
    assert (user_id, sid, token_id, detail) == (people.ids["cora"], session_id, None, {"via": "password"})
    reads = db.execute(
        "SELECT action, user_id, session_id, token_id FROM audit_log WHERE action LIKE 'read%%' "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1"
    ).fetchall()
    assert reads == [
        ("read_participant", people.ids["cora"], session_id, None),
        ("read_participants", people.ids["cora"], session_id, None),
    ]


def test_an_analyst_session_cannot_email_and_sees_no_addresses(
    api: TestClient, db: psycopg.Connection, smtp: tuple[int, Inbox]
) -> None:
    token = session(api, "anna")
    refused = api.post("/api/v1/participants/A1/contact", json={"force": True}, headers=auth(token))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "anna (analyst) cannot contact participants"
    flagged = api.post("/api/v1/contact/flagged", params={"study": "a"}, headers=auth(token))
    assert flagged.status_code == 403
    assert smtp[1].received == []
    assert scalar(db, "SELECT count(*) FROM contacts") == 0
    people = api.get("/api/v1/participants", params={"study": "a"}, headers=auth(token)).json()
    assert {p.get("email") for p in people["participants"]} == {None}


def test_an_email_sent_by_a_person_is_recorded_under_them(
    api: TestClient, db: psycopg.Connection, people: People, smtp: tuple[int, Inbox]
) -> None:
    token = session(api, "cora")
    sent = api.post("/api/v1/participants/A2/contact", json={"reason": "no_upload"}, headers=auth(token))
    assert sent.status_code == 200, sent.text
    assert [r for r, _ in smtp[1].received] == [["a2@example.org"]]
    assert db.execute("SELECT user_id, token_id, status FROM contacts").fetchall() == [
        (people.ids["cora"], None, "sent")
    ]
    [(user_id, _, token_id, _)] = audit_rows(db, "contact")
    assert (user_id, token_id) == (people.ids["cora"], None)


def test_wrong_password_and_unknown_user_get_the_same_answer_and_are_audited_without_secrets(
    api: TestClient, db: psycopg.Connection, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = sign_in(api, "cora", "not the password at all")
    unknown = sign_in(api, "nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == "wrong user name or password"
    refusals = [(u, d) for u, _, _, d in audit_rows(db, "sign_in_refused")]
    assert refusals == [
        (people.ids["cora"], {"via": "password", "reason": "wrong_password"}),
        (None, {"via": "password", "reason": "unknown_user"}),
    ]
    token = session(api, "cora")
    everything = str(db.execute("SELECT array_agg(a::text) FROM audit_log a").fetchone())
    for secret in ("not the password at all", PASSWORD, token, "nobody"):
        assert secret not in everything
        assert secret not in caplog.text


def test_repeated_wrong_passwords_lock_the_account_until_the_lock_ends(
    api: TestClient, db: psycopg.Connection, people: People
) -> None:
    assert [sign_in(api, "cora", "wrong password!").status_code for _ in range(2)] == [401, 401]
    locked = sign_in(api, "cora", "wrong password!")  # the third (max_failures=3 here)
    assert locked.status_code == 423
    assert locked.json()["detail"].startswith("too many wrong passwords: the account is locked until ")
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    right_but_locked = sign_in(api, "cora")
    assert right_but_locked.status_code == 423  # no password is checked while locked
    assert [d["reason"] for _, _, _, d in audit_rows(db, "sign_in_refused")] == [
        "wrong_password",
        "wrong_password",
        "locked",
        "locked",
    ]
    assert sign_in(api, "anna").status_code == 201  # other accounts are not affected
    db.execute("UPDATE users SET locked_until = now() - interval '1 second' WHERE username = 'cora'")
    assert sign_in(api, "cora").status_code == 201
    assert scalar(db, "SELECT failed_attempts FROM users WHERE username = 'cora'") == 0


def test_a_success_resets_the_count_of_wrong_passwords(api: TestClient) -> None:
    for _ in range(2):
        assert sign_in(api, "cora", "wrong password!").status_code == 401
    assert sign_in(api, "cora").status_code == 201
    for _ in range(2):
        assert sign_in(api, "cora", "wrong password!").status_code == 401
    assert sign_in(api, "cora").status_code == 201


def test_an_admin_unlocks_a_locked_account(api: TestClient, db: psycopg.Connection) -> None:
    for _ in range(3):
        sign_in(api, "cora", "wrong password!")
    assert sign_in(api, "cora").status_code == 423
    enable_user(db, "cora")
    assert sign_in(api, "cora").status_code == 201


def test_sign_out_ends_the_session(api: TestClient, db: psycopg.Connection, people: People) -> None:
    token = session(api, "cora")
    assert api.post("/api/v1/auth/sign-out", headers=auth(token)).status_code == 204
    after = api.get("/api/v1/auth/me", headers=auth(token))
    assert after.status_code == 401
    assert "session has ended" in after.json()["detail"]
    assert db.execute("SELECT end_reason FROM user_sessions").fetchall() == [("signed_out",)]
    assert [u for u, _, _, _ in audit_rows(db, "sign_out")] == [people.ids["cora"]]


def test_sign_out_with_an_api_token_is_a_conflict_not_a_revocation(api: TestClient, tokens: Tokens) -> None:
    answer = api.post("/api/v1/auth/sign-out", headers=auth(tokens.coordinator_a))
    assert answer.status_code == 409
    assert api.get("/api/v1/auth/me", headers=auth(tokens.coordinator_a)).json()["username"] is None


@pytest.mark.parametrize(
    "expire",
    [
        "UPDATE user_sessions SET expires_at = now() - interval '1 second'",
        "UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes'",
    ],
    ids=["past its lifetime", "idle too long"],
)
def test_an_expired_or_idle_session_is_refused(api: TestClient, db: psycopg.Connection, expire: str) -> None:
    token = session(api, "cora")
    assert api.get("/api/v1/auth/me", headers=auth(token)).status_code == 200
    db.execute(expire)
    assert api.get("/api/v1/participants", headers=auth(token)).status_code == 401


def test_use_keeps_a_session_alive(api: TestClient, db: psycopg.Connection) -> None:
    token = session(api, "cora")
    db.execute("UPDATE user_sessions SET last_seen_at = now() - interval '29 minutes'")
    assert api.get("/api/v1/auth/me", headers=auth(token)).status_code == 200
    idle = scalar(db, "SELECT now() - last_seen_at FROM user_sessions")
    assert idle.total_seconds() < 60


def test_disabling_a_user_ends_their_sessions_and_refuses_sign_in(
    api: TestClient, db: psycopg.Connection
) -> None:
    token = session(api, "cora")
    _, ended = disable_user(db, "cora")
    assert ended == 1
    assert api.get("/api/v1/auth/me", headers=auth(token)).status_code == 401
    disabled = sign_in(api, "cora")
    assert disabled.status_code == 403
    assert disabled.json()["detail"] == "this account is disabled"
    assert sign_in(api, "cora", "wrong password!").json()["detail"] == "wrong user name or password"


def test_a_role_change_applies_to_open_sessions(api: TestClient, db: psycopg.Connection) -> None:
    token = session(api, "cora")
    db.execute("UPDATE users SET role = 'analyst' WHERE username = 'cora'")
    assert api.post("/api/v1/contact/flagged", params={"study": "a"}, headers=auth(token)).status_code == 403
    db.execute("DELETE FROM user_studies WHERE user_id = (SELECT id FROM users WHERE username = 'cora')")
    assert api.get("/api/v1/participants/A1", headers=auth(token)).status_code == 404


def test_a_signin_token_starts_sessions_for_people_and_reads_nothing(
    api: TestClient, db: psycopg.Connection, people: People, tokens: Tokens
) -> None:
    signin_id, broker = create_token(db, name="dashboard proxy", role="signin", studies=[])
    started = api.post(
        "/api/v1/auth/proxy-sign-in", json={"identity": "Cora@Hospital.example"}, headers=auth(broker)
    )
    assert started.status_code == 201, started.text
    assert started.json()["person"]["username"] == "cora"
    person = started.json()["token"]
    assert api.get("/api/v1/participants/A1", headers=auth(person)).status_code == 200
    assert db.execute("SELECT via FROM user_sessions").fetchall() == [("proxy",)]
    [(user_id, _, _, detail)] = audit_rows(db, "sign_in")
    assert (user_id, detail) == (people.ids["cora"], {"via": "proxy", "signin_token": signin_id})

    by_name = api.post(
        "/api/v1/auth/proxy-sign-in", json={"identity": "bob", "match": "username"}, headers=auth(broker)
    )
    assert by_name.status_code == 201
    unknown = api.post("/api/v1/auth/proxy-sign-in", json={"identity": "eve@x.org"}, headers=auth(broker))
    assert unknown.status_code == 403
    assert "no fitpipe account for 'eve@x.org'" in unknown.json()["detail"]
    assert api.get("/api/v1/participants", headers=auth(broker)).status_code == 403
    assert api.get("/api/v1/auth/me", headers=auth(broker)).status_code == 403
    not_a_broker = api.post(
        "/api/v1/auth/proxy-sign-in", json={"identity": "cora@hospital.example"}, headers=auth(tokens.admin)
    )
    assert not_a_broker.status_code == 403
    disable_user(db, "cora")
    assert (
        api.post(
            "/api/v1/auth/proxy-sign-in", json={"identity": "cora@hospital.example"}, headers=auth(broker)
        ).status_code
        == 403
    )


def test_a_login_body_that_is_not_valid_is_a_422_naming_the_field(api: TestClient) -> None:
    answer = api.post("/api/v1/auth/sign-in", json={"username": "cora"})
    assert answer.status_code == 422
    assert "password" in answer.text
