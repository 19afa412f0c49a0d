"""No duplicated minute data: rollup_1m keeps only sub-minute metrics; data_1m, the API's 1-minute reads and
the hour/day rollups of per-minute metrics come from their samples, and equal a brute-force aggregation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from fitpipe.catalog import BY_NAME, METRICS
from fitpipe.migrations import available_migrations, migrate, sync_catalog
from fitpipe.participants import Participant, add_participant
from fitpipe.storage import detect_edition
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch
from tests.ingest_job.minute_checks import check_minute_layers

pytestmark = pytest.mark.db

TZ = "America/New_York"
T0 = pd.Timestamp("2024-03-09T00:00:00Z")  # the US DST change (03-10) falls inside the data


def _load(
    conn: psycopg.Connection, p: Participant, metric: str, ts: pd.DatetimeIndex, values: np.ndarray, path: str
) -> None:
    us = ts.as_unit("us").asi8.astype(np.int64)
    load_parsed_file(
        conn,
        ParsedFile(path, "test", [SampleBatch(metric, us, np.asarray(values, dtype=np.float64), path)]),
        {None: p},
        FileIdentity(path, 1, path),
        LoadOptions(source="test", lag=timedelta(hours=1)),
    )


@pytest.fixture
def person(db: psycopg.Connection) -> Participant:
    return add_participant(db, "M1", "minutes", timezone=TZ)[0]


def test_only_sub_minute_metrics_keep_rollup_1m_rows() -> None:
    assert [m.name for m in METRICS if m.rollup_1m] == ["heart_rate"]
    assert not BY_NAME["steps"].rollup_1m and not BY_NAME["hrv_rmssd"].rollup_1m
    assert not BY_NAME["resting_heart_rate"].rollup_1m


def test_catalog_flag_is_copied_into_metrics(db: psycopg.Connection) -> None:
    stored: dict[str, bool] = dict(db.execute("SELECT name, rollup_1m FROM metrics").fetchall())
    assert stored == {m.name: m.rollup_1m for m in METRICS}


def test_steps_are_stored_once_and_every_minute_layer_is_exact(
    db: psycopg.Connection, person: Participant
) -> None:
    ts = pd.date_range(T0, T0 + pd.Timedelta(days=3), freq="min", inclusive="left")
    steps = (np.arange(ts.size) * 7) % 23
    _load(db, person, "steps", ts[: ts.size // 2], steps[: ts.size // 2], "a.csv")  # fast path
    _load(db, person, "steps", ts[ts.size // 2 :], steps[ts.size // 2 :], "b.csv")  # fast path, next to it
    assert db.execute("SELECT count(*) FROM rollup_1m").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM samples").fetchone() == (ts.size,)
    check_minute_layers(db, "steps")


def test_changed_and_late_steps_recompute_hours_and_days(db: psycopg.Connection, person: Participant) -> None:
    ts = pd.date_range(T0, T0 + pd.Timedelta(days=2), freq="min", inclusive="left")
    _load(db, person, "steps", ts, np.full(ts.size, 10.0), "a.csv")
    changed = ts[100:400]
    _load(db, person, "steps", changed, np.full(changed.size, 99.0), "b.csv")  # merge path, updates
    late = pd.date_range(
        T0 + pd.Timedelta(days=2), T0 + pd.Timedelta(days=2, hours=3), freq="min", inclusive="left"
    )
    _load(
        db, person, "steps", pd.DatetimeIndex(ts[-5:].append(late)), np.full(5 + late.size, 3.0), "c.csv"
    )  # overlaps: merge
    assert db.execute("SELECT count(*) FROM rollup_1m").fetchone() == (0,)
    check_minute_layers(db, "steps")


def test_off_minute_samples_and_two_in_one_minute_stay_exact(
    db: psycopg.Connection, person: Participant
) -> None:
    # Interval starts of a live source need not fall on whole minutes; two may share one.
    ts = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in (30, 45, 61, 125, 3599, 3600, 3630, 86_399)])
    _load(db, person, "steps", ts, np.array([1, 2, 3, 4, 5, 6, 7, 8.0]), "a.csv")
    more = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in (10, 50, 3610)])
    _load(db, person, "steps", more, np.array([20, 30, 40.0]), "b.csv")  # merge path into those minutes
    check_minute_layers(db, "steps")
    # appending inside an already stored minute (fast path: nothing stored inside the new batch's span)
    tail = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in (86_399.5, 86_430, 86_500)])
    _load(db, person, "steps", tail, np.array([1, 1, 1.0]), "c.csv")
    check_minute_layers(db, "steps")


def test_heart_rate_keeps_its_minute_rollup(db: psycopg.Connection, person: Participant) -> None:
    ts = pd.date_range(T0, T0 + pd.Timedelta(hours=5), freq="5s", inclusive="left")
    _load(db, person, "heart_rate", ts, 60 + (np.arange(ts.size) % 30), "hr.json")
    assert db.execute("SELECT count(*) FROM rollup_1m").fetchone() == (5 * 60,)
    check_minute_layers(db, "heart_rate")


def test_data_1m_by_user_and_metric_reads_one_index_range(
    db: psycopg.Connection, person: Participant
) -> None:
    ts = pd.date_range(T0, T0 + pd.Timedelta(days=4), freq="min", inclusive="left")
    _load(db, person, "steps", ts, np.ones(ts.size), "a.csv")
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "EXPLAIN SELECT * FROM data_1m WHERE user_id = 'M1' AND metric_name = 'steps' "
            "AND bucket >= '2024-03-09T06:00Z' AND bucket < '2024-03-09T07:00Z'"
        )
    )
    assert "Seq Scan on samples" not in plan and "Seq Scan on _hyper" not in plan, plan
    if detect_edition(
        db
    ).timescaledb:  # time_bucket: the bucket filter becomes a range of ts, other days excluded
        assert "ts >= " in plan and plan.count("Index Scan using _hyper") <= 2, plan
    got = db.execute(
        "SELECT count(*), sum(count) FROM data_1m WHERE user_id = 'M1' AND metric_name = 'steps' "
        "AND bucket >= '2024-03-09T06:00Z' AND bucket < '2024-03-09T07:00Z'"
    ).fetchone()
    assert got == (60, 60)


def test_migration_0008_deletes_minute_copies_and_data_1m_answers_the_same(
    pg_server_url: str, tmp_path: Path
) -> None:
    """A database written before 0008 held per-minute rollup rows of steps; after 0008 they are gone and
    data_1m reads the same numbers from the samples."""
    name = f"fitpipe_pre8_{datetime.now(UTC):%H%M%S%f}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(pg_server_url, dbname=name)
    try:
        old = tmp_path / "sql"
        old.mkdir()
        for m in available_migrations():
            if m.version < 8:
                (old / m.path.name).write_bytes(m.path.read_bytes())
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, old)  # the schema as it was, catalog without the rollup_1m column
            conn.execute("INSERT INTO studies (name) VALUES ('pre8')")
            row = conn.execute(
                "INSERT INTO participants (study_id, external_id) SELECT id, 'OLD' FROM studies RETURNING id"
            ).fetchone()
            assert row is not None
            pid = int(row[0])
            ts = pd.date_range(T0, T0 + pd.Timedelta(hours=2), freq="min", inclusive="left")
            conn.execute(
                "INSERT INTO samples (ts, value, participant_id, metric_id) "
                "SELECT t, extract(minute FROM t), %s, %s FROM unnest(%s::timestamptz[]) t",
                (pid, BY_NAME["steps"].id, list(ts.to_pydatetime())),
            )
            # what the loader before 0008 kept: one rollup_1m row per minute of steps
            conn.execute(
                "INSERT INTO rollup_1m SELECT date_bin('1 minute', ts, '2000-01-03'), sum(value), min(value), "
                "max(value), participant_id, count(*), 1, metric_id FROM samples GROUP BY 1, participant_id, metric_id"
            )
            before = conn.execute(
                "SELECT bucket, count, sum, min, max, minutes FROM data_1m ORDER BY bucket"
            ).fetchall()
            assert len(before) == 120
            migrate(conn)
            assert conn.execute("SELECT count(*) FROM rollup_1m").fetchone() == (0,)
            after = conn.execute(
                "SELECT bucket, count, sum, min, max, minutes FROM data_1m ORDER BY bucket"
            ).fetchall()
            assert after == before
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_metric_crossing_one_minute_gets_its_rollup_rows_built_or_dropped(
    db: psycopg.Connection, person: Participant
) -> None:
    ts = pd.date_range(T0, T0 + pd.Timedelta(hours=1), freq="20s", inclusive="left")
    _load(db, person, "heart_rate", ts, np.full(ts.size, 70.0), "hr.json")
    _load(db, person, "steps", ts[::3], np.full(ts.size // 3, 5.0), "steps.csv")
    # as if the catalog had said the opposite until now: sync_catalog repairs rollup_1m both ways
    db.execute("UPDATE metrics SET rollup_1m = NOT rollup_1m WHERE name IN ('heart_rate', 'steps')")
    db.execute("DELETE FROM rollup_1m")
    sync_catalog(db)
    got: dict[str, int] = dict(
        db.execute(
            "SELECT m.name, count(r.*) FROM metrics m LEFT JOIN rollup_1m r ON r.metric_id = m.id "
            "WHERE m.name IN ('heart_rate', 'steps') GROUP BY 1"
        ).fetchall()
    )
    assert got == {"heart_rate": 60, "steps": 0}
    check_minute_layers(db, "heart_rate")
