"""The ingest job's login on the real database: real loads succeed (new hypertable chunks, rollups,
quarantine, sleep, the merge of overlapping data), and it cannot see API tokens, the audit log or contacts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from fitpipe.participants import Participant, add_participant
from fitpipe.tokens import create_token
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.pipeline.files import FileRules, ingest_path
from fitpipe_ingest.pipeline.runs import RunRecorder

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def ingest(ingest_database_url: str, db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    create_token(db, name="t", role="admin", studies=[], all_studies=True)
    db.execute("INSERT INTO audit_log (action) VALUES ('read_timeseries')")
    with psycopg.connect(ingest_database_url, autocommit=True) as conn:
        yield conn


def _refused(conn: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)  # fixed test statements


def test_ingest_cannot_read_tokens_people_sessions_audit_or_contacts(ingest: psycopg.Connection) -> None:
    assert ingest.execute("SELECT session_user").fetchone() == ("fitpipe_ingest",)
    for table in ("api_tokens", "api_token_studies", "audit_log", "contacts", "users", "user_sessions"):
        _refused(ingest, f"SELECT count(*) FROM {table}")
    _refused(ingest, "SELECT code_verifier FROM oauth_states")


def test_ingest_cannot_change_enrolment_tokens_or_the_audit_log(ingest: psycopg.Connection) -> None:
    for statement in (
        "INSERT INTO audit_log (action) VALUES ('forged')",
        "UPDATE participants SET email = 'x@example.org'",
        "INSERT INTO studies (name) VALUES ('mine')",
        "DELETE FROM samples",
        "TRUNCATE samples",
        "UPDATE api_tokens SET revoked_at = NULL",
        "SET ROLE fitpipe_owner",
        "SET session_replication_role = replica",
    ):
        _refused(ingest, statement)


def _load(conn: psycopg.Connection, path: Path, who: Participant | None, run_id: int, **kw: Any) -> None:
    summary = ingest_path(
        conn,
        path,
        participant=who,
        options_for=lambda source: LoadOptions(source=source, lag=timedelta(hours=72), run_id=run_id, **kw),
        timezone=ZoneInfo("UTC"),
        rules=FileRules(max_rejected_share=1.0),  # the fixtures are traps: their bad rows are quarantined
        study="s1" if who is None else None,
    )
    assert not summary.failed, summary.failed


def _chunks(db: psycopg.Connection) -> dict[str, tuple[str, bool, bool]]:
    """Every hypertable chunk: (owner, ingest may insert, api may select)."""
    rows = db.execute(
        """SELECT c.oid::regclass::text, c.relowner::regrole::text,
                  has_table_privilege('fitpipe_ingest', c.oid, 'INSERT'), has_table_privilege('fitpipe_api', c.oid, 'SELECT')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = '_timescaledb_internal' AND c.relname LIKE '\\_hyper\\_%' AND c.relkind = 'r'"""
    ).fetchall()
    return {name: (owner, ins, sel) for name, owner, ins, sel in rows}


def test_real_loads_as_the_ingest_role_create_chunks_rollups_quarantine_and_sleep(
    ingest: psycopg.Connection, ingest_database_url: str, db: psycopg.Connection, timescaledb_loaded: bool
) -> None:
    who, _ = add_participant(db, "P1", "s1", timezone="UTC")
    for name in ("1503960366", "2022484408"):  # the Fitabase export names its participants
        add_participant(db, name, "s1")
    before = _chunks(db)
    with RunRecorder(ingest_database_url, "ingest") as run:
        _load(ingest, FIXTURES / "wearipedia" / "challenge", who, run.id)
        _load(ingest, FIXTURES / "fitabase" / "export", None, run.id)
        _load(ingest, FIXTURES / "fitabase" / "bad", None, run.id)  # bad lines: quarantined, not fatal
        # the same export again, re-read in full: the overlap goes through the staging merge
        _load(ingest, FIXTURES / "wearipedia" / "challenge", who, run.id, full=True)
        run.finish(IngestSummary(), "success")
    counts = db.execute(
        """SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM rollup_1m), (SELECT count(*) FROM rollup_1h),
                  (SELECT count(*) FROM rollup_1d), (SELECT count(*) FROM quarantine),
                  (SELECT count(*) FROM sleep_sessions), (SELECT count(*) FROM ingest_files),
                  (SELECT count(*) FROM ingest_cursors), (SELECT status FROM ingest_runs WHERE id = %s)""",
        (run.id,),
    ).fetchone()
    assert counts is not None
    samples, r1m, r1h, r1d, quarantined, sleeps, files, cursors, status = counts
    assert min(samples, r1m, r1h, r1d, quarantined, sleeps, files, cursors) > 0, counts
    assert status == "success"
    if timescaledb_loaded:
        new = {k: v for k, v in _chunks(db).items() if k not in before}
        assert new, "the loads should have created hypertable chunks"
        # created by fitpipe_ingest's inserts, owned by the hypertable's owner, with the hypertable's grants
        assert set(new.values()) == {("fitpipe_owner", True, True)}
