"""The ingest collector on a real database: the batch job's runs and the participants' state become
Prometheus metrics at scrape time, and a database it cannot read costs one gauge, not the scrape.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from fitpipe.db import connect
from fitpipe.monitoring.ingest_collector import IngestCollector
from fitpipe.monitoring.metrics import INGEST_DURATION_BUCKETS
from tests.queries import scalar

pytestmark = pytest.mark.db

NOW = datetime.now(UTC)


def registry_for(database_url: str, **options: Any) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(IngestCollector(lambda: connect(database_url), **options))
    return registry


def add_run(
    db: psycopg.Connection,
    *,
    trigger: str = "run",
    status: str = "success",
    started: datetime,
    seconds: float | None = 60,
    errors: int = 0,
    details: dict[str, object] | None = None,
) -> None:
    finished = None if seconds is None else started + timedelta(seconds=seconds)
    db.execute(
        "INSERT INTO ingest_runs (trigger, status, started_at, finished_at, errors, details) VALUES (%s, %s, %s, %s, %s, %s)",
        (trigger, status, started, finished, errors, json.dumps(details or {})),
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_counters_sum_rows_quarantine_and_errors_over_every_run(
    db: psycopg.Connection, database_url: str
) -> None:
    # The loader's shape ("metric|source" keys) and the plain one (the key is the metric) both count.
    add_run(
        db,
        started=NOW - timedelta(days=2),
        details={
            "metrics": {
                "heart_rate|wearipedia": {
                    "metric": "heart_rate",
                    "source": "wearipedia",
                    "new": 1000,
                    "updated": 5,
                    "present": 70,
                }
            },
            "quarantine_reasons": {"out_of_range": 3, "bad_timestamp": 1},
            "files": {"loaded": 4, "failed": 0},
        },
    )
    add_run(
        db,
        status="partial",
        started=NOW - timedelta(days=1),
        errors=2,
        details={
            "metrics": {
                "heart_rate": {"source": "wearipedia", "new": 200},
                "steps": {"source": "takeout", "new": 40},
            },
            "quarantine_reasons": {"out_of_range": 2},
            "files": {"failed": 2},
        },
    )
    add_run(db, status="failed", started=NOW - timedelta(hours=2), errors=1, details={})
    add_run(db, status="aborted", started=NOW - timedelta(hours=1), details={})
    registry = registry_for(database_url)

    assert value(registry, "fitpipe_ingest_rows_total", metric="heart_rate", source="wearipedia") == 1205
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 40
    assert value(registry, "fitpipe_ingest_quarantined_total", reason="out_of_range") == 5
    assert value(registry, "fitpipe_ingest_quarantined_total", reason="bad_timestamp") == 1
    assert value(registry, "fitpipe_ingest_errors_total", kind="file") == 2
    assert value(registry, "fitpipe_ingest_errors_total", kind="run") == 1
    assert value(registry, "fitpipe_ingest_errors_total", kind="aborted") == 1
    for status in ("success", "partial", "failed", "aborted"):
        assert value(registry, "fitpipe_ingest_runs_total", trigger="run", status=status) == 1


def test_counters_survive_a_new_collector_like_an_api_restart(
    db: psycopg.Connection, database_url: str
) -> None:
    add_run(
        db, started=NOW - timedelta(hours=3), details={"metrics": {"steps": {"source": "takeout", "new": 7}}}
    )
    first = registry_for(database_url)
    assert value(first, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 7
    restarted = registry_for(database_url)
    assert value(restarted, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 7


def test_last_run_gauges_follow_the_newest_run_of_each_trigger(
    db: psycopg.Connection, database_url: str
) -> None:
    success_start = NOW - timedelta(days=2)
    add_run(db, started=success_start, seconds=300)
    add_run(db, status="partial", started=NOW - timedelta(days=1), seconds=120)
    add_run(db, status="failed", started=NOW - timedelta(hours=5), seconds=30)
    # NOW is fixed at import; a long session would age this run, so it is placed relative to this moment
    add_run(
        db, status="running", started=datetime.now(UTC) - timedelta(hours=3), seconds=None
    )  # still running
    add_run(db, trigger="ingest", started=NOW - timedelta(minutes=10), seconds=5)  # a manual ingest, later
    registry = registry_for(database_url)

    # The running run has no outcome yet: the status is the newest finished run's.
    assert value(registry, "fitpipe_ingest_last_run_status", trigger="run") == 0.0
    assert value(registry, "fitpipe_ingest_last_run_status", trigger="ingest") == 1.0
    success_end = (success_start + timedelta(seconds=300)).timestamp()
    assert value(registry, "fitpipe_ingest_last_success_timestamp_seconds", trigger="run") == pytest.approx(
        success_end
    )
    # ... but its elapsed time is what IngestSlow watches.
    running = value(registry, "fitpipe_ingest_last_run_duration_seconds", trigger="run")
    assert running == pytest.approx(3 * 3600, abs=120)
    assert value(registry, "fitpipe_ingest_last_run_duration_seconds", trigger="ingest") == pytest.approx(5)


def test_partial_run_reports_half(db: psycopg.Connection, database_url: str) -> None:
    add_run(db, status="partial", started=NOW - timedelta(hours=1))
    assert value(registry_for(database_url), "fitpipe_ingest_last_run_status", trigger="run") == 0.5


def test_duration_histogram_counts_finished_runs_into_buckets(
    db: psycopg.Connection, database_url: str
) -> None:
    durations = [30, 400, 5000]
    for i, seconds in enumerate(durations):
        add_run(
            db,
            status=("success", "partial", "failed")[i],
            started=NOW - timedelta(days=i + 1),
            seconds=seconds,
        )
    add_run(db, status="aborted", started=NOW - timedelta(days=9), seconds=99_999)  # no real duration
    add_run(db, status="running", started=NOW - timedelta(hours=1), seconds=None)
    registry = registry_for(database_url)

    for bound in INGEST_DURATION_BUCKETS:
        expected = sum(1 for d in durations if d <= bound)
        assert (
            value(registry, "fitpipe_ingest_duration_seconds_bucket", trigger="run", le=f"{bound:.1f}")
            == expected
        )
    assert value(registry, "fitpipe_ingest_duration_seconds_bucket", trigger="run", le="+Inf") == len(
        durations
    )
    assert value(registry, "fitpipe_ingest_duration_seconds_count", trigger="run") == len(durations)
    assert value(registry, "fitpipe_ingest_duration_seconds_sum", trigger="run") == pytest.approx(
        sum(durations)
    )


def _participant(
    db: psycopg.Connection,
    study_id: int,
    name: str,
    *,
    status: str = "active",
    created: datetime,
    newest_sample: datetime | None = None,
    reconsent: bool = False,
) -> None:
    row = db.execute(
        "INSERT INTO participants (study_id, external_id, status, created_at) VALUES (%s, %s, %s, %s) RETURNING id",
        (study_id, name, status, created),
    ).fetchone()
    assert row is not None
    if newest_sample is not None:
        db.execute(
            "INSERT INTO ingest_cursors (participant_id, source, metric_id, last_value) VALUES (%s, 'wearipedia', 1, %s)",
            (row[0], newest_sample),
        )
    if reconsent:
        db.execute(
            "INSERT INTO participant_sources (participant_id, source, status) VALUES (%s, 'google_health', 'needs_reconsent')",
            (row[0],),
        )


def _study(db: psycopg.Connection, name: str) -> int:
    row = db.execute("INSERT INTO studies (name) VALUES (%s) RETURNING id", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_participants_by_state_per_study(db: psycopg.Connection, database_url: str) -> None:
    alpha, _ = _study(db, "alpha"), _study(db, "beta")
    long_ago = NOW - timedelta(days=30)
    _participant(db, alpha, "p1", created=long_ago, newest_sample=NOW - timedelta(hours=2), reconsent=True)
    _participant(db, alpha, "p2", created=long_ago, newest_sample=NOW - timedelta(days=3))  # stopped syncing
    _participant(db, alpha, "p3", created=long_ago)  # never sent data
    _participant(db, alpha, "p4", created=NOW - timedelta(hours=1))  # just enrolled: still within the window
    _participant(db, alpha, "p5", status="withdrawn", created=long_ago)
    registry = registry_for(database_url)

    assert value(registry, "fitpipe_participants", study="alpha", state="active") == 4
    assert value(registry, "fitpipe_participants", study="alpha", state="not_syncing") == 2
    assert value(registry, "fitpipe_participants", study="alpha", state="needs_reconsent") == 1
    assert value(registry, "fitpipe_participants", study="beta", state="active") == 0
    # Without the adherence code there is no flagged count at all, rather than a made-up zero.
    assert value(registry, "fitpipe_participants", study="alpha", state="flagged") is None


def test_flagged_comes_from_the_adherence_seam(db: psycopg.Connection, database_url: str) -> None:
    _study(db, "alpha")
    _study(db, "beta")
    seen: list[psycopg.Connection] = []

    def flagged(conn: psycopg.Connection) -> dict[str, int]:
        seen.append(conn)
        return {"alpha": 3}

    registry = registry_for(database_url, flagged=flagged)
    assert value(registry, "fitpipe_participants", study="alpha", state="flagged") == 3
    assert value(registry, "fitpipe_participants", study="beta", state="flagged") == 0
    assert seen, "the seam was not called"


def test_not_syncing_window_is_configurable(db: psycopg.Connection, database_url: str) -> None:
    alpha = _study(db, "alpha")
    _participant(db, alpha, "p1", created=NOW - timedelta(days=30), newest_sample=NOW - timedelta(days=3))
    assert (
        value(
            registry_for(database_url, not_syncing_after=timedelta(days=7)),
            "fitpipe_participants",
            study="alpha",
            state="not_syncing",
        )
        == 0
    )


def test_token_refresh_failures_start_at_zero_for_every_study(
    db: psycopg.Connection, database_url: str
) -> None:
    _study(db, "alpha")
    _study(db, "beta")
    add_run(db, started=NOW - timedelta(days=1), details={"token_refresh_failures": {"alpha": 2}})
    add_run(db, started=NOW - timedelta(hours=1), details={"token_refresh_failures": {"alpha": 1}})
    registry = registry_for(database_url)
    assert value(registry, "fitpipe_token_refresh_failures_total", study="alpha") == 3
    assert value(registry, "fitpipe_token_refresh_failures_total", study="beta") == 0


def test_malformed_details_count_as_zero_and_do_not_break_the_scrape(
    db: psycopg.Connection, database_url: str
) -> None:
    add_run(
        db,
        started=NOW - timedelta(days=1),
        details={
            "metrics": ["not", "an", "object"],
            "quarantine_reasons": {"out_of_range": "many"},
            "files": {"failed": None},
            "token_refresh_failures": 5,
        },
    )
    add_run(
        db,
        started=NOW - timedelta(hours=1),
        details={
            "metrics": {"heart_rate": {"source": "wearipedia", "new": "12"}, "nonsense": {"new": 4}},
        },
    )
    registry = registry_for(database_url)
    assert value(registry, "fitpipe_database_up") == 1
    assert value(registry, "fitpipe_ingest_quarantined_total", reason="out_of_range") == 0
    assert value(registry, "fitpipe_ingest_rows_total", metric="heart_rate", source="wearipedia") == 0
    # A name outside the catalog never becomes a label value of its own.
    assert value(registry, "fitpipe_ingest_rows_total", metric="other", source="unknown") == 4


def test_unreachable_database_exports_database_up_zero_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = registry_for("postgresql://nobody@127.0.0.1:9/none")
    with caplog.at_level(logging.WARNING, logger="fitpipe.monitoring.ingest_collector"):
        first = generate_latest(registry).decode()
        generate_latest(registry)
    assert "fitpipe_database_up 0.0" in first
    assert "fitpipe_ingest_rows_total" not in first.replace("# HELP", "").replace("# TYPE", "")
    assert len(caplog.records) == 1


def test_collector_reads_as_the_api_role(db: psycopg.Connection, database_url: str) -> None:
    if db.execute("SELECT 1 FROM pg_roles WHERE rolname = 'fitpipe_api'").fetchone() is None:
        pytest.skip("the fitpipe_api role does not exist (migration 0002 not applied)")
    _study(db, "alpha")
    add_run(db, started=NOW - timedelta(hours=1))

    @contextmanager
    def as_api() -> Iterator[psycopg.Connection]:
        with connect(database_url, autocommit=True) as conn:
            conn.execute("SET ROLE fitpipe_api")
            yield conn

    registry = registry_for_connect(as_api)
    assert value(registry, "fitpipe_database_up") == 1
    assert value(registry, "fitpipe_ingest_last_run_status", trigger="run") == 1


def registry_for_connect(
    factory: Callable[[], AbstractContextManager[psycopg.Connection]],
) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(IngestCollector(factory))
    return registry


def test_ended_runs_are_read_once_and_later_changes_to_running_runs_are_seen(
    db: psycopg.Connection, database_url: str
) -> None:
    add_run(
        db, started=NOW - timedelta(days=1), details={"metrics": {"steps": {"source": "takeout", "new": 100}}}
    )
    add_run(
        db,
        status="running",
        started=NOW - timedelta(minutes=5),
        seconds=None,
        details={"metrics": {"steps": {"source": "takeout", "new": 10}}},
    )  # progress so far
    registry = registry_for(database_url)
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 110
    # The running run finishes with more rows; a third run starts.
    db.execute("""UPDATE ingest_runs SET status = 'success', finished_at = now(),
                  details = '{"metrics": {"steps": {"source": "takeout", "new": 50}}}' WHERE status = 'running'""")
    add_run(
        db,
        status="running",
        started=NOW,
        seconds=None,
        details={"metrics": {"steps": {"source": "takeout", "new": 1}}},
    )
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 151
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 151
    assert value(registry, "fitpipe_ingest_runs_total", trigger="run", status="success") == 2
    assert value(registry, "fitpipe_ingest_last_run_status", trigger="run") == 1.0


def test_deleting_runs_makes_the_collector_count_again(db: psycopg.Connection, database_url: str) -> None:
    for days in (3, 2, 1):
        add_run(
            db,
            started=NOW - timedelta(days=days),
            details={"metrics": {"steps": {"source": "takeout", "new": 5}}},
        )
    registry = registry_for(database_url)
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 15
    db.execute("DELETE FROM ingest_runs WHERE id = (SELECT min(id) FROM ingest_runs)")
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 10
    assert value(registry, "fitpipe_ingest_runs_total", trigger="run", status="success") == 2


def test_scrapes_after_the_first_stay_fast_with_years_of_runs(
    db: psycopg.Connection, database_url: str
) -> None:
    # 20,000 runs (years of daily runs and manual ingests) with per-metric details like the loader writes.
    details = json.dumps(
        {
            "metrics": {
                f"{m}|wearipedia": {"metric": m, "source": "wearipedia", "new": 86_400, "updated": 0}
                for m in ("heart_rate", "steps", "spo2", "hrv_rmssd", "calories", "distance")
            },
            "quarantine_reasons": {"out_of_range": 3},
            "files": {"failed": 0, "loaded": 1000},
        }
    )
    runs = 20_000
    db.execute(
        """INSERT INTO ingest_runs (trigger, status, started_at, finished_at, details)
           SELECT CASE WHEN i %% 4 = 0 THEN 'run' ELSE 'ingest' END, 'success',
                  now() - i * interval '1 hour', now() - i * interval '1 hour' + interval '20 minutes', %s
           FROM generate_series(1, %s::int) AS i""",
        (details, runs),
    )
    db.execute("ANALYZE ingest_runs")
    registry = registry_for(database_url)
    generate_latest(registry)  # reads every run once
    add_run(db, started=NOW, details={"metrics": {"steps": {"source": "takeout", "new": 1}}})
    start = time.perf_counter()
    generate_latest(registry)
    elapsed = time.perf_counter() - start
    assert (
        value(registry, "fitpipe_ingest_rows_total", metric="heart_rate", source="wearipedia")
        == runs * 86_400
    )
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="takeout") == 1
    # Re-reading 20,000 runs takes over a second here; reading the new ones, a few tens of milliseconds.
    assert elapsed < 0.3, f"a scrape took {elapsed:.2f} s"


def test_the_collector_reads_the_typed_counts_a_recorder_wrote_not_the_json(
    db: psycopg.Connection, database_url: str
) -> None:
    """A run recorded by this release's recorder: typed columns and rows (sql/0010). Its JSON says otherwise
    here on purpose: the collector must not read it."""
    with db.transaction():
        db.execute("SELECT set_config('fitpipe.run_counts', 'typed', true)")  # as RunRecorder writes
        run_id = scalar(
            db,
            """INSERT INTO ingest_runs (trigger, status, started_at, finished_at, errors, files_failed, details)
               VALUES ('run', 'partial', now() - interval '1 hour', now(), 3, 2, %s) RETURNING id""",
            (json.dumps({"metrics": {"steps": {"new": 999}}, "files": {"failed": 99}}),),
        )
        db.execute(
            """INSERT INTO ingest_run_metrics (run_id, metric, source, rows_new, rows_updated)
               VALUES (%s, 'heart_rate', 'takeout', 40, 2), (%s, 'sp02_typo', 'fitabase', 5, 0)""",
            (run_id, run_id),
        )
        db.execute(
            "INSERT INTO ingest_run_quarantine (run_id, reason, records) VALUES (%s, 'out_of_range', 7)",
            (run_id,),
        )
        db.execute(
            "INSERT INTO ingest_run_token_failures (run_id, study, failures) VALUES (%s, 'alpha', 4)",
            (run_id,),
        )
    _study(db, "alpha")
    registry = registry_for(database_url)
    assert value(registry, "fitpipe_ingest_rows_total", metric="heart_rate", source="takeout") == 42
    assert value(registry, "fitpipe_ingest_rows_total", metric="other", source="fitabase") == 5
    assert value(registry, "fitpipe_ingest_rows_total", metric="steps", source="unknown") is None
    assert value(registry, "fitpipe_ingest_quarantined_total", reason="out_of_range") == 7
    assert value(registry, "fitpipe_token_refresh_failures_total", study="alpha") == 4
    assert value(registry, "fitpipe_ingest_errors_total", kind="file") == 2
    assert value(registry, "fitpipe_ingest_errors_total", kind="run") == 1
