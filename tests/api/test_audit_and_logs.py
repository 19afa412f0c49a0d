"""Audit and logs you can trust: X-Request-ID accepted only within its length and character set (else replaced),
the audit row keeping both the client's and the server's id; quarantine reads audited; ingest runs visible per
study; contacts and refusals in the server's default log, as JSON lines off a terminal."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.participants import Participant
from fitpipe_api.logs import JsonFormatter, RequestIdFilter
from fitpipe_api.main import create_app
from tests.api.conftest import Tokens, api_settings, auth
from tests.api.factories import smtp_server
from tests.api.server import serve_api
from tests.conftest import role_url

pytestmark = pytest.mark.db
SERVER_ID = re.compile(r"[0-9a-f]{32}")


def _audit(db: psycopg.Connection, action: str) -> list[tuple]:
    return db.execute(
        "SELECT request_id, client_request_id, participant_id FROM audit_log WHERE action = %s ORDER BY id",
        (action,),
    ).fetchall()


# --- request ids --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rid", ["3f2c8a9e-1b7d-4c55-9e0a-6d1f2b3c4d5e", "01HZX3K8Q9V7", "req.42:retry_1", "x" * 128]
)
def test_an_acceptable_request_id_is_kept_beside_the_servers_own(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, rid: str
) -> None:
    r = client.get("/api/v1/participants/A1", headers={**auth(tokens.admin), "X-Request-ID": rid})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == rid
    [(server, client_id, _)] = _audit(db, "read_participant")
    assert client_id == rid and SERVER_ID.fullmatch(server)


@pytest.mark.parametrize(
    "rid",
    ["x" * 129, "z" * 200_000, "has space", "semi;colon", "quote'", "tab\there", "é", "<script>", ""],
)
def test_any_other_request_id_is_replaced_by_the_servers(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, rid: str
) -> None:
    r = client.get(
        "/api/v1/participants/A1",
        headers=[
            (b"Authorization", auth(tokens.admin)["Authorization"].encode()),
            (b"X-Request-ID", rid.encode()),
        ],
    )
    assert r.status_code == 200
    [(server, client_id, _)] = _audit(db, "read_participant")
    assert client_id is None and SERVER_ID.fullmatch(server)
    assert r.headers["X-Request-ID"] == server  # what the response names finds the audit row


def test_two_request_ids_are_refused_and_no_id_is_shared_between_requests(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    headers = [
        ("Authorization", auth(tokens.admin)["Authorization"]),
        ("X-Request-ID", "a"),
        ("X-Request-ID", "b"),
    ]
    client.get("/api/v1/participants/A1", headers=headers)
    client.get("/api/v1/participants/A1", headers={**auth(tokens.admin), "X-Request-ID": "same"})
    client.get("/api/v1/participants/A1", headers={**auth(tokens.admin), "X-Request-ID": "same"})
    rows = _audit(db, "read_participant")
    assert [c for _, c, _ in rows] == [None, "same", "same"]
    assert len({s for s, _, _ in rows}) == 3  # a client can repeat its id, never the server's


def test_the_audit_log_refuses_an_unbounded_client_id_from_any_writer(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO audit_log (action, request_id, client_request_id) VALUES ('x', 'r', %s)",
            ("y" * 129,),
        )


# --- quarantine and ingest runs ----------------------------------------------------------------------------


def _quarantine(db: psycopg.Connection, participant_id: int | None, run_id: int | None, record: str) -> None:
    db.execute(
        """INSERT INTO quarantine (participant_id, source, file, record, field, reason, raw, run_id)
           VALUES (%s, 'takeout', 'hr.json', %s, 'bpm', 'outside valid range', '{"bpm": 900}', %s)""",
        (participant_id, record, run_id),
    )


def test_reading_the_quarantine_is_audited_per_participant(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, cohort: dict[str, Participant]
) -> None:
    _quarantine(db, cohort["A1"].id, None, "line 1")
    _quarantine(db, cohort["B1"].id, None, "line 2")
    _quarantine(db, None, None, "line 3")
    body = client.get(
        "/api/v1/quarantine", headers={**auth(tokens.coordinator_a), "X-Request-ID": "q-1"}
    ).json()
    assert [r["user_id"] for r in body["records"]] == ["A1"]
    client.get("/api/v1/quarantine", headers={**auth(tokens.admin), "X-Request-ID": "q-2"})
    rows = db.execute(
        "SELECT client_request_id, participant_id, detail->>'records' FROM audit_log WHERE action = 'read_quarantine'"
        " ORDER BY id"
    ).fetchall()
    by_request = {rid: {(pid, n) for r, pid, n in rows if r == rid} for rid in ("q-1", "q-2")}
    assert by_request["q-1"] == {(cohort["A1"].id, "1")}
    assert by_request["q-2"] == {(cohort["A1"].id, "3"), (cohort["B1"].id, "3"), (None, "3")}


def _run(db: psycopg.Connection, status: str, details: dict, **counts: int) -> int:
    row = db.execute(
        """INSERT INTO ingest_runs (trigger, status, finished_at, participants, files, rows_new, rows_quarantined,
                                    errors, error, details)
           VALUES ('run', %s, now(), %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            status,
            counts.get("participants", 0),
            counts.get("files", 0),
            counts.get("rows_new", 0),
            counts.get("rows_quarantined", 0),
            counts.get("errors", 0),
            "B1/hr.json: broken" if counts.get("errors") else None,
            json.dumps(details),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_ingest_runs_are_shown_per_study_to_the_tokens_of_that_study(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, cohort: dict[str, Participant]
) -> None:
    both = _run(
        db,
        "partial",
        {
            "studies": {
                "a": {"participants": 2, "files": 3, "rows_new": 100, "rows_quarantined": 1, "errors": 0},
                "b": {"participants": 1, "files": 1, "rows_new": 7, "rows_quarantined": 0, "errors": 1},
            },
            "metrics": {"heart_rate|takeout": {"new": 107}},
        },
        participants=3,
        files=4,
        rows_new=107,
        rows_quarantined=1,
        errors=1,
    )
    only_b = _run(
        db, "success", {"metrics": {"heart_rate|takeout": {"new": 5}}}, participants=1, files=2, rows_new=5
    )
    db.execute(
        "INSERT INTO ingest_files (participant_id, source, path, size, sha256, run_id) VALUES (%s, 't', 'x', 1, 'h', %s),"
        " (%s, 't', 'y', 1, 'h', %s)",
        (cohort["B1"].id, only_b, cohort["B1"].id, only_b),
    )
    _quarantine(db, cohort["B1"].id, only_b, "line 9")
    nothing = _run(db, "failed", {}, errors=1)

    seen_a = client.get("/api/v1/ingest/runs", headers=auth(tokens.analyst_a)).json()["runs"]
    assert [r["id"] for r in seen_a] == [nothing, both]  # not the run of study b alone
    failed, run = seen_a
    # a run that failed before touching any study: that it failed, and nothing else
    assert failed["status"] == "failed" and failed["studies"] == {}
    assert failed["error"] == "1 error(s); details are visible to admins"
    assert {failed[k] for k in ("participants", "files", "rows_new", "rows_quarantined")} == {None}
    assert run["studies"] == {
        "a": {"participants": 2, "files": 3, "rows_new": 100, "rows_quarantined": 1, "errors": 0}
    }
    assert (run["participants"], run["files"], run["rows_new"], run["rows_quarantined"]) == (2, 3, 100, 1)
    assert run["rows_read"] is None  # not recorded per study: not guessed
    assert run["details"] == {} and "B1" not in json.dumps(run)
    assert run["error"] == "details are visible to admins"  # partial, but no error in study a

    seen_b = client.get("/api/v1/ingest/runs", headers=auth(tokens.coordinator_b)).json()["runs"]
    assert [r["id"] for r in seen_b] == [nothing, only_b, both]
    assert seen_b[1]["studies"] == {
        "b": {"participants": 1, "files": 2, "rows_quarantined": 1}
    }  # from its traces
    assert seen_b[2]["error"] == "1 error(s); details are visible to admins"  # study b's one error

    seen_all = client.get("/api/v1/ingest/runs", headers=auth(tokens.admin)).json()["runs"]
    assert [r["id"] for r in seen_all] == [nothing, only_b, both]
    assert set(seen_all[2]["studies"]) == {"a", "b"} and seen_all[2]["rows_new"] == 107
    assert seen_all[2]["error"] == "B1/hr.json: broken"


# --- the server's log ----------------------------------------------------------------------------------------


def _json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not JSON: {line[:300]}")
    return out


def test_contacts_and_refusals_are_in_the_default_log_as_json_lines(
    database_url: str, cohort: dict[str, Participant], tokens: Tokens, tmp_path: Path
) -> None:
    with (
        smtp_server() as (port, inbox),
        serve_api(database_url, tmp_path / "home", {"MAIL_PORT": str(port)}) as server,
    ):
        post = lambda token, rid: httpx.post(  # noqa: E731
            server.url + "/api/v1/participants/A1/contact",
            json={"reason": "low_wear"},
            headers={**auth(token), "X-Request-ID": rid},
            timeout=30,
        )
        assert post(tokens.coordinator_a, "c-1").status_code == 200
        assert post(tokens.coordinator_a, "c-2").status_code == 409  # within the cooldown
        assert post(tokens.analyst_a, "c-3").status_code == 403
        assert post("fp_not-a-token", "c-4").status_code == 401
        assert len(inbox.received) == 1
        lines = _json_lines(server.log_path)
    by_client_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line.get("client_request_id"):
            by_client_id.setdefault(line["client_request_id"], []).append(line)
    sent = [x for x in by_client_id["c-1"] if x["message"].startswith("contact ")]
    assert sent and "status=sent" in sent[0]["message"] and sent[0]["level"] == "INFO"
    assert SERVER_ID.fullmatch(sent[0]["request_id"])
    refused = [x for x in by_client_id["c-2"] if x["message"].startswith("contact ")]
    assert refused and "status=refused" in refused[0]["message"]
    for rid, status in (("c-2", 409), ("c-3", 403), ("c-4", 401)):
        [answer] = [x for x in by_client_id[rid] if x.get("event") == "answer"]
        assert answer["status"] == status and answer["level"] == "INFO"
        assert answer["route"] == "/api/v1/participants/{user_id}/contact"
    text = server.log_path.read_text()
    assert "a1@example.org" not in text and tokens.coordinator_a not in text  # no address, no token


def test_an_unexpected_exception_is_logged_with_its_traceback_under_the_requests_ids(
    database_url: str, tokens: Tokens
) -> None:
    """A 500 can be traced: its answer line holds the traceback and the ids the client was sent (uvicorn's own
    "Exception in ASGI application" line is written after the request's ids are gone)."""
    app = create_app(api_settings(), url=role_url(database_url, API))

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("a bug on purpose")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    answers = logging.getLogger("fitpipe_api.answers")
    answers.addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.get("/test-only/boom", headers={"X-Request-ID": "boom-1"})
    finally:
        answers.removeHandler(handler)
    assert r.status_code == 500
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["level"] == "ERROR" and line["status"] == 500 and line["route"] == "/test-only/boom"
    assert line["client_request_id"] == "boom-1" and SERVER_ID.fullmatch(line["request_id"])
    assert "RuntimeError: a bug on purpose" in line["exc_info"] and "Traceback" in line["exc_info"]
