"""Runs that end early, on the real database: the database going away (one line, exit 3) and SIGTERM (a CronJob
stopped). Either way the run is recorded as aborted at once, with the counts of what committed, and a
rerun converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest

from fitpipe.participants import add_participant
from tests.ingest_job.exports import fitabase_heart_rate
from tests.queries import one, scalar

pytestmark = [pytest.mark.db, pytest.mark.slow]


def scalar_at(url: str, query: LiteralString) -> Any:
    with psycopg.connect(url) as conn:
        return scalar(conn, query)


@pytest.fixture
def inbox(fitpipe_env: Path, database_url: str, tmp_path: Path) -> Path:
    """40 participants with 60,000 heart-rate rows each: long enough to be interrupted mid-run."""
    root = tmp_path / "inbox"
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i in range(40):
            add_participant(conn, f"Q{i:02d}", "s1", timezone="UTC")
            folder = root / "s1" / f"Q{i:02d}"
            folder.mkdir(parents=True)
            fitabase_heart_rate(
                folder / "heartrate_seconds_merged.csv", {f"Q{i:02d}": (datetime(2024, 1, 1), 60_000)}
            )
    return root


def interrupt_mid_run(
    url: str, home: Path, inbox: Path, interrupt: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "FITPIPE_"))}
    env.update(DATABASE_URL=url, FITPIPE_INBOX=str(inbox), FITPIPE_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while scalar_at(url, "SELECT count(*) FROM samples") == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run stored nothing in two minutes"
            time.sleep(0.05)
        interrupt(proc)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err.decode()


def test_the_database_going_away_mid_run_exits_3_with_one_line_and_marks_the_run_aborted(
    fitpipe_env: Path, database_url: str, inbox: Path
) -> None:
    def kill_connections(proc: subprocess.Popen[bytes]) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    code, err = interrupt_mid_run(database_url, fitpipe_env, inbox, kill_connections)
    assert code == 3, err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and error_lines[0].startswith(
        "error: the database went away during the run"
    ), err
    assert scalar_at(database_url, "SELECT status FROM ingest_runs") == "aborted"
    assert scalar_at(database_url, "SELECT rows_new FROM ingest_runs") == scalar_at(
        database_url, "SELECT count(*) FROM samples"
    ), "the record keeps the counts of what committed"


def test_sigterm_mid_run_records_the_run_aborted_at_once_and_a_rerun_converges(
    fitpipe_env: Path, database_url: str, inbox: Path
) -> None:
    code, err = interrupt_mid_run(
        database_url, fitpipe_env, inbox, lambda proc: proc.send_signal(signal.SIGTERM)
    )
    assert code == 128 + signal.SIGTERM, err
    with psycopg.connect(database_url) as conn:
        status, error, rows_new = one(conn, "SELECT status, error, rows_new FROM ingest_runs")
        stored = scalar(conn, "SELECT count(*) FROM samples")
    assert (status, rows_new) == ("aborted", stored) and stored < 40 * 60_000
    assert error.startswith("interrupted (Ctrl-C or SIGTERM) before it finished")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "FITPIPE_"))}
    env.update(DATABASE_URL=database_url, FITPIPE_INBOX=str(inbox), FITPIPE_HOME=str(fitpipe_env))
    rerun = subprocess.run(
        [sys.executable, "-m", "fitpipe.cli", "run"], env=env, capture_output=True, check=False
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert scalar_at(database_url, "SELECT count(*) FROM samples") == 40 * 60_000
