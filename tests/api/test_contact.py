"""POST /api/v1/participants/{user_id}/contact and /contact/flagged with a real SMTP server (aiosmtpd on
loopback): what arrives, the contacts log, the cooldown and force, dry runs, a mail server that is down or
refuses the login, and that no address, token or password reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.participants import Participant, add_participant
from fitpipe.settings import Settings
from fitpipe_api.main import create_app
from tests.api.conftest import Tokens, auth
from tests.api.factories import Inbox, add_contact, body_of, free_port, scalar, smtp_server
from tests.conftest import role_url

pytestmark = pytest.mark.db
SENDER = "study-team@example.org"
USERNAME, PASSWORD = "fitpipe-mailer", "s3cret-Mail-pw"


def _client(database_url: str, port: int, **mail: Any) -> TestClient:
    settings = Settings(_env_file=None, mail_server="127.0.0.1", mail_port=port, mail_from=SENDER, **mail)
    return TestClient(create_app(settings, url=role_url(database_url, API)))


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_client(
    database_url: str, cohort: dict[str, Participant], tokens: Tokens, smtp: tuple[int, Inbox]
) -> Iterator[TestClient]:
    with _client(database_url, smtp[0]) as c:
        yield c


@pytest.fixture
def down_client(database_url: str, cohort: dict[str, Participant], tokens: Tokens) -> Iterator[TestClient]:
    """The app pointed at a port where nothing listens."""
    with _client(database_url, free_port()) as c:
        yield c


def _our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test SMTP server's own (aiosmtpd logs the whole conversation at DEBUG)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))


def _contacts(db: psycopg.Connection, user: str) -> list[tuple]:
    return db.execute(
        """SELECT c.status, c.reason, c.forced, c.error, t.name FROM contacts c JOIN participants p ON p.id = c.participant_id
           LEFT JOIN api_tokens t ON t.id = c.token_id WHERE p.external_id = %s ORDER BY c.id""",
        (user,),
    ).fetchall()


def _contact(client: TestClient, token: str, user: str = "A1", **body: object) -> Any:
    return client.post(f"/api/v1/participants/{user}/contact", json=body or None, headers=auth(token))


def test_the_email_reaches_the_participant_naming_the_reasons(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    r = _contact(mail_client, tokens.coordinator_a)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent"
    flags = mail_client.get("/api/v1/participants/A1", headers=auth(tokens.admin)).json()["flags"]
    assert r.json()["reasons"] == flags and flags  # default: the participant's flags
    [(rcpt, message)] = smtp[1].received
    assert rcpt == ["a1@example.org"] and message["To"] == "a1@example.org" and message["From"] == SENDER
    assert "Study a" in message["Subject"]
    body = body_of(message)
    assert "participant A1" in body and "study a" in body and body.count("What to do:") == len(flags)
    assert message["X-Fitpipe-Reason"] == ",".join(flags)
    assert _contacts(db, "A1") == [("sent", ",".join(flags), False, None, "ca")]


def test_a_named_reason_chooses_the_template(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox]
) -> None:
    r = _contact(mail_client, tokens.coordinator_a, reason="low_sleep")
    assert r.status_code == 200, r.text
    [(_, message)] = smtp[1].received
    assert message["Subject"] == "Study a: please wear your Fitbit at night"
    assert "sleep" in body_of(message) and message["X-Fitpipe-Reason"] == "low_sleep"


def test_a_second_email_within_the_cooldown_is_refused_unless_forced(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    first = _contact(mail_client, tokens.coordinator_a, reason="no_upload")
    again = _contact(mail_client, tokens.coordinator_a, reason="no_upload")
    assert again.status_code == 409, again.text
    sent_at = scalar(db, "SELECT max(sent_at) FROM contacts WHERE status = 'sent'")
    assert datetime.fromisoformat(again.json()["last_contacted"]) == sent_at
    assert datetime.fromisoformat(again.json()["retry_after"]) == sent_at + timedelta(hours=72)
    forced = _contact(mail_client, tokens.coordinator_a, reason="no_upload", force=True)
    assert (first.status_code, forced.status_code, forced.json()["forced"]) == (200, 200, True)
    assert len(smtp[1].received) == 2
    assert [(s, f) for s, _, f, _, _ in _contacts(db, "A1")] == [
        ("sent", False),
        ("refused", False),
        ("sent", True),
    ]


def test_a_study_can_shorten_the_cooldown(
    mail_client: TestClient,
    tokens: Tokens,
    smtp: tuple[int, Inbox],
    db: psycopg.Connection,
    cohort: dict[str, Participant],
) -> None:
    db.execute("""UPDATE studies SET settings = '{"contact": {"cooldown_hours": 1}}' WHERE name = 'a'""")
    add_contact(db, cohort["A1"], datetime.now(UTC) - timedelta(hours=2))
    assert _contact(mail_client, tokens.coordinator_a, reason="low_wear").status_code == 200


def test_analysts_cannot_contact_anyone(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    one = _contact(mail_client, tokens.analyst_a, reason="low_wear")
    many = mail_client.post(
        "/api/v1/contact/flagged", params={"study": "a", "dry_run": True}, headers=auth(tokens.analyst_a)
    )
    assert (one.status_code, many.status_code) == (403, 403)
    assert smtp[1].received == [] and scalar(db, "SELECT count(*) FROM contacts") == 0


def test_a_mail_server_that_is_down_is_reported_and_logged_as_failed(
    down_client: TestClient, tokens: Tokens, db: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = _contact(down_client, tokens.coordinator_a, reason="low_wear")
    assert r.status_code == 502, r.text
    assert r.json()["status"] == "failed" and "cannot connect to 127.0.0.1" in r.json()["detail"]
    [(status, reason, forced, error, _)] = _contacts(db, "A1")
    assert (status, reason) == ("failed", "low_wear") and "cannot connect" in error
    logs = _our_logs(caplog)
    assert "a1@example.org" not in logs and tokens.coordinator_a not in logs
    assert "status=failed" in logs  # the attempt is logged, without the address


def test_a_refused_login_is_reported_without_the_credentials(
    database_url: str,
    cohort: dict[str, Participant],
    tokens: Tokens,
    db: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(username=USERNAME, password=PASSWORD) as (port, inbox):
        with _client(database_url, port, mail_username=USERNAME, mail_password="wrong-" + PASSWORD) as c:
            bad = _contact(c, tokens.coordinator_a, reason="low_wear")
        with _client(database_url, port, mail_username=USERNAME, mail_password=PASSWORD) as c:
            good = _contact(c, tokens.coordinator_a, reason="low_wear")
    assert bad.status_code == 502 and "login" in bad.json()["detail"]
    assert good.status_code == 200 and inbox.logins and len(inbox.received) == 1
    stored = " ".join(str(row) for row in _contacts(db, "A1"))
    logs = _our_logs(caplog)
    assert "status=sent" in logs and "status=failed" in logs
    for secret in (PASSWORD, USERNAME, "a1@example.org", tokens.coordinator_a):
        assert secret not in logs and secret not in bad.text and secret not in stored


def test_starttls_against_a_server_without_it_is_reported_not_a_server_error(
    database_url: str, cohort: dict[str, Participant], tokens: Tokens, smtp: tuple[int, Inbox]
) -> None:
    with _client(database_url, smtp[0], mail_starttls=True) as c:
        r = _contact(c, tokens.coordinator_a, reason="low_wear")
    assert r.status_code == 502 and "STARTTLS" in r.text.upper()


def test_nothing_to_say_or_nowhere_to_send_is_a_conflict(
    mail_client: TestClient, tokens: Tokens, db: psycopg.Connection, smtp: tuple[int, Inbox]
) -> None:
    add_participant(db, "A3", "a", timezone="UTC")  # no email; just added: no flag yet but no_source
    db.execute(
        "INSERT INTO participant_sources (participant_id, source, status, last_success_at) "
        "SELECT id, 'inbox', 'active', now() FROM participants WHERE external_id = 'A3'"
    )
    quiet = _contact(mail_client, tokens.coordinator_a, "A3")
    assert quiet.status_code == 409 and "no flag" in quiet.json()["detail"]
    nowhere = _contact(mail_client, tokens.coordinator_a, "A3", reason="low_wear")
    assert nowhere.status_code == 409 and "no email address" in nowhere.json()["detail"]
    assert [s for s, *_ in _contacts(db, "A3")] == ["failed"] and smtp[1].received == []


def test_a_dry_run_shows_the_message_and_sends_nothing(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    r = _contact(mail_client, tokens.coordinator_a, reason="no_source", dry_run=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["would_be"], body["to"]) == ("preview", "sent", "a1@example.org")
    assert "participant A1" in body["body"] and body["subject"].startswith("Study a:")
    assert smtp[1].received == [] and _contacts(db, "A1") == []
    assert scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'contact_preview'") == 1


# --- the flagged participants of a study -------------------------------------------------------------------
FLAGGED = "/api/v1/contact/flagged"


def test_flagged_preview_lists_every_flagged_participant_and_sends_nothing(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    r = mail_client.post(FLAGGED, params={"study": "a", "dry_run": True}, headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    listed = {
        p["user_id"]: p
        for p in mail_client.get(
            "/api/v1/participants", params={"study": "a"}, headers=auth(tokens.admin)
        ).json()["participants"]
    }
    flagged = {u for u, p in listed.items() if p["flags"]}
    results = {x["user_id"]: x for x in r.json()["results"]}
    assert set(results) == flagged and flagged
    for user, x in results.items():
        assert x["to"] == listed[user]["email"] and f"participant {user}" in x["body"]
    assert r.json()["counts"]["preview"] == len(flagged)
    assert smtp[1].received == [] and scalar(db, "SELECT count(*) FROM contacts") == 0


def test_flagged_sends_to_each_and_then_respects_the_cooldown(
    mail_client: TestClient, tokens: Tokens, smtp: tuple[int, Inbox], db: psycopg.Connection
) -> None:
    first = mail_client.post(FLAGGED, params={"study": "a"}, headers=auth(tokens.coordinator_a)).json()
    sent_to = sorted(rcpt for rcpts, _ in smtp[1].received for rcpt in rcpts)
    users = sorted(x["user_id"] for x in first["results"])
    assert sent_to == sorted(f"{u.lower()}@example.org" for u in users) and users
    assert first["counts"]["sent"] == len(users)
    again = mail_client.post(FLAGGED, params={"study": "a"}, headers=auth(tokens.coordinator_a)).json()
    assert again["counts"] == {"sent": 0, "refused": len(users), "failed": 0, "preview": 0}
    assert len(smtp[1].received) == len(users)


def test_flagged_with_the_mail_server_down_reports_each_failure(
    down_client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    r = down_client.post(FLAGGED, params={"study": "a"}, headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and all(x["status"] == "failed" and "cannot connect" in x["error"] for x in results)
    assert scalar(db, "SELECT count(*) FROM contacts WHERE status = 'failed'") == len(results)


def test_flagged_of_another_study_is_not_found(mail_client: TestClient, tokens: Tokens) -> None:
    r = mail_client.post(FLAGGED, params={"study": "a", "dry_run": True}, headers=auth(tokens.coordinator_b))
    assert r.status_code == 404
