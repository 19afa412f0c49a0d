"""What a run counted, stored typed (sql/0010_run_outcomes.sql): the recorder writes columns and rows itself,
a run the previous release's ingest job records as JSON only gets them from the triggers, and the runs
recorded before the migration get them from its backfill."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from fitpipe.migrations import available_migrations, migrate, schema_version
from fitpipe_ingest.counts import FileResult, IngestSummary, MetricCounts
from fitpipe_ingest.pipeline.runs import RunRecorder
from tests.conftest import role_passwords
from tests.queries import scalar

pytestmark = pytest.mark.db

_names = count()

# What the previous releases wrote into ingest_runs.details (IngestSummary.details()), odd values included.
OLD_DETAILS = {
    "metrics": {
        "heart_rate|wearipedia": {
            "metric": "heart_rate",
            "source": "wearipedia",
            "read": 10,
            "new": 7,
            "updated": 1,
        },
        "heart_rate": {
            "source": "wearipedia",
            "new": 2,
        },  # the plain shape of older runs: the key is the metric
        "steps": {"new": "12"},  # not a number: 0, as the collector always counted it
        "broken": ["not", "an", "object"],
    },
    "quarantine_reasons": {"out_of_range": 3, "bad_timestamp": 1.0, "odd": None},
    "files": {"loaded": 4, "unchanged": 2, "failed": 1, "skipped": "x"},
    "sleep": {"new": 5, "present": 6},
    "token_refresh_failures": {"alpha": 2},
    "failed_files": [{"file": "a.csv", "error": "broken"}],
}


def _typed(conn: psycopg.Connection, run_id: int) -> dict[str, object]:
    columns = conn.execute(
        """SELECT files_unchanged, files_unknown, files_skipped, files_failed, sleep_new, sleep_present
           FROM ingest_runs WHERE id = %s""",
        (run_id,),
    ).fetchone()
    metrics = conn.execute(
        """SELECT metric, source, rows_read, rows_new, rows_updated, rows_present, rows_duplicate, rows_quarantined
           FROM ingest_run_metrics WHERE run_id = %s ORDER BY 1, 2""",
        (run_id,),
    ).fetchall()
    reasons = conn.execute(
        "SELECT reason, records FROM ingest_run_quarantine WHERE run_id = %s ORDER BY 1", (run_id,)
    ).fetchall()
    tokens = conn.execute(
        "SELECT study, failures FROM ingest_run_token_failures WHERE run_id = %s ORDER BY 1", (run_id,)
    ).fetchall()
    return {"columns": columns, "metrics": metrics, "reasons": reasons, "tokens": tokens}


OLD_TYPED = {
    "columns": (2, 0, 0, 1, 5, 6),
    "metrics": [
        ("heart_rate", "wearipedia", 10, 9, 1, 0, 0, 0),  # both keys of one (metric, source) summed
        ("steps", "unknown", 0, 0, 0, 0, 0, 0),
    ],
    "reasons": [("bad_timestamp", 1), ("odd", 0), ("out_of_range", 3)],
    "tokens": [("alpha", 2)],
}


def test_the_recorder_stores_what_a_run_counted_as_typed_columns_and_rows(
    db: psycopg.Connection, ingest_database_url: str
) -> None:
    summary = IngestSummary(participants={"P1"})
    summary.add_counts(
        "takeout", {"heart_rate": MetricCounts(read=100, new=90, updated=2, present=8, duplicates=3)}
    )
    summary.add_counts("fitabase", {"steps": MetricCounts(read=5, new=5, quarantined=1)})
    summary.files = [
        FileResult("a.csv", "heart_rate", "takeout", quarantined=2, quarantine_kinds=Counter(out_of_range=2)),
        FileResult("b.csv", "steps", "fitabase", sleep_new=1, sleep_present=4),
        FileResult("c.csv", "x", "takeout", status="unchanged"),
        FileResult("d.bin", "x", "none", status="unknown"),
        FileResult("e.csv", "x", "takeout", status="failed", error="truncated"),
    ]
    summary.extra["token_refresh_failures"] = {"alpha": 1}
    with RunRecorder(ingest_database_url, "run") as run:  # the ingest job's own login
        run.progress(summary)
        summary.files[0].quarantine_kinds["bad_timestamp"] += 1  # counts grow while the run goes on
        run.finish(summary, "partial")
    assert _typed(db, run.id) == {
        "columns": (1, 1, 0, 1, 1, 4),
        "metrics": [("heart_rate", "takeout", 100, 90, 2, 8, 3, 0), ("steps", "fitabase", 5, 5, 0, 0, 0, 1)],
        "reasons": [("bad_timestamp", 1), ("out_of_range", 2)],
        "tokens": [("alpha", 1)],
    }
    # the JSON stays for the previous release's API (its collector reads it) until a contract step
    details = scalar(db, "SELECT details FROM ingest_runs WHERE id = %s", (run.id,))
    assert details["files"]["failed"] == 1 and details["metrics"]["heart_rate|takeout"]["new"] == 90


def test_a_run_the_previous_release_records_as_json_only_gets_typed_counts_from_the_triggers(
    db: psycopg.Connection, ingest_database_url: str
) -> None:
    with psycopg.connect(ingest_database_url, autocommit=True) as ingest:  # as the previous job did it
        row = ingest.execute("INSERT INTO ingest_runs (trigger) VALUES ('run') RETURNING id").fetchone()
        assert row is not None
        run_id = int(row[0])
        ingest.execute(
            "UPDATE ingest_runs SET status = 'partial', errors = 1, details = %s WHERE id = %s",
            (json.dumps(OLD_DETAILS), run_id),
        )
        # a later write of the same run replaces its counts, it does not add them up
        ingest.execute("UPDATE ingest_runs SET details = %s WHERE id = %s", (json.dumps(OLD_DETAILS), run_id))
    assert _typed(db, run_id) == OLD_TYPED


@pytest.fixture
def schema_9(pg_server_url: str, tmp_path: Path) -> Iterator[str]:
    """A new database at schema 0009, the release before the typed run outcomes."""
    name = f"fitpipe_test_outcomes_{os.getpid()}_{next(_names)}"
    url = make_conninfo(pg_server_url, dbname=name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    older = tmp_path / "sql"
    older.mkdir()
    for m in available_migrations():
        if m.version < 10:
            (older / m.path.name).write_bytes(m.path.read_bytes())
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, older, passwords=role_passwords(pg_server_url))
            assert schema_version(conn) == 9
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_migration_backfills_the_runs_recorded_before_it(schema_9: str, pg_server_url: str) -> None:
    with psycopg.connect(schema_9, autocommit=True) as conn:
        old = scalar(
            conn,
            "INSERT INTO ingest_runs (trigger, status, details) VALUES ('run', 'partial', %s) RETURNING id",
            (json.dumps(OLD_DETAILS),),
        )
        empty = scalar(
            conn,
            "INSERT INTO ingest_runs (trigger, status, details) VALUES ('run', 'failed', '{}') RETURNING id",
        )
        malformed = scalar(
            conn,
            "INSERT INTO ingest_runs (trigger, status, details) VALUES ('run', 'success', %s) RETURNING id",
            (json.dumps({"metrics": 5, "quarantine_reasons": [1], "files": {"failed": 1e30}, "sleep": "x"}),),
        )
        applied = migrate(conn, passwords=role_passwords(pg_server_url))
        assert [m.version for m in applied] == [10] and not applied[0].requires_code  # an expand step
        assert _typed(conn, old) == OLD_TYPED
        nothing = {"columns": (0, 0, 0, 0, 0, 0), "metrics": [], "reasons": [], "tokens": []}
        assert _typed(conn, empty) == nothing
        assert (
            _typed(conn, malformed) == nothing
        )  # what cannot be a count counts as 0, never a failed migration
