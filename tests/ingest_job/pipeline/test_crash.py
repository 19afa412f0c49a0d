"""kill -9 of the daily job at random moments, then a rerun: the stored rows equal an uninterrupted run's."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe_ingest.synth.cohort import CohortOptions, write_cohort

pytestmark = [pytest.mark.db, pytest.mark.slow]

STUDY = "crash"
KILL_POINTS = 10

# What "the same rows" means: every table a load writes, in a stable order, without ids or wall-clock times.
DIGEST_QUERIES = {
    "samples": "SELECT p.external_id, s.metric_id, s.ts, s.value FROM samples s JOIN participants p ON p.id = s.participant_id",
    "rollup_1m": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1m",
    "rollup_1h": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1h",
    "rollup_1d": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1d",
    "sleep": "SELECT participant_id, start_time, end_time, local_date, is_main_sleep, minutes_asleep FROM sleep_sessions",
    "stages": "SELECT s.participant_id, s.start_time, st.start_time, st.seconds, st.level, st.is_short "
    "FROM sleep_stages st JOIN sleep_sessions s ON s.id = st.session_id",
    "cursors": "SELECT participant_id, source, metric_id, initial_value, last_value FROM ingest_cursors",
    "quarantine": "SELECT participant_id, source, file, record, field, reason FROM quarantine",
    "manifest": "SELECT participant_id, path, sha256, max_ts::text FROM ingest_files",
}


def digest(url: str) -> dict[str, tuple[int, str]]:
    out = {}
    with psycopg.connect(url) as conn:
        for name, query in DIGEST_QUERIES.items():
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ({query}) t"
            ).fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inbox")
    write_cohort(
        CohortOptions(
            participants=2,
            days=5,
            out=root / STUDY,
            format="takeout",
            seed=11,
            dense=True,
            start=date(2024, 3, 8),
            kinds=("excellent", "fair"),
            zones=("America/New_York", "Europe/London"),
        )
    )
    return root


@pytest.fixture
def fresh_db(pg_server_url: str, template_url: str) -> Iterator[Callable[[], str]]:
    created: list[str] = []

    def make() -> str:
        name = f"fitpipe_crash_{os.getpid()}_{len(created)}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        created.append(name)
        return make_conninfo(pg_server_url, dbname=name)

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _prepare(url: str, inbox: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        with (inbox / STUDY / "participants.csv").open() as fh:
            for row in csv.DictReader(fh):
                add_participant(conn, row["participant_id"], STUDY, timezone=row["timezone"])


def _run(url: str, inbox: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "FITPIPE_"))}
    env.update(DATABASE_URL=url, FITPIPE_INBOX=str(inbox), FITPIPE_HOME=str(inbox.parent / "home"))
    return subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_rerun_after_kill_9_at_random_points_converges_to_the_same_rows(
    inbox: Path, fresh_db: Callable[[], str]
) -> None:
    reference = fresh_db()
    _prepare(reference, inbox)
    started = time.monotonic()
    proc = _run(reference, inbox)
    _, err = proc.communicate(timeout=600)
    full_seconds = time.monotonic() - started
    assert proc.returncode == 0, err.decode()
    expected = digest(reference)
    assert expected["samples"][0] > 100_000, "the cohort should be big enough for kills to land mid-load"

    rng = random.Random(20261129)
    killed_mid_run = 0
    # The reference run's duration only estimates a killed run's: on a busy machine a run can finish
    # before its kill lands, so a miss is retried at a shorter delay (it still checks convergence).
    scale = 1.0
    point = 0
    while killed_mid_run < KILL_POINTS and point < 3 * KILL_POINTS:
        point += 1
        url = fresh_db()
        _prepare(url, inbox)
        proc = _run(url, inbox)
        delay = rng.uniform(0.05, 0.95) * full_seconds * scale
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        else:
            scale *= 0.5
        proc.wait(timeout=60)
        assert proc.stderr is not None
        proc.stderr.close()
        partial = digest(url)
        rerun = _run(url, inbox)
        _, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, (
            f"kill point {point} ({delay:.2f} s): rerun failed: {err.decode()[-2000:]}"
        )
        assert digest(url) == expected, f"kill point {point} ({delay:.2f} s): rows differ after the rerun"
        assert partial["samples"][0] <= expected["samples"][0]
        with psycopg.connect(url) as conn:
            statuses = [r[0] for r in conn.execute("SELECT status FROM ingest_runs ORDER BY id").fetchall()]
        assert statuses[-1] == "success"
        assert "running" not in statuses, "a killed run must be recognised as aborted by the next one"
    assert killed_mid_run == KILL_POINTS, f"only {killed_mid_run} kills landed while the job was running"
