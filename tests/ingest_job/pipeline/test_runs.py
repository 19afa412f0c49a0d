"""The run recorder on the real database: an exception leaving its block is recorded by the recorder itself
(failed, or aborted for Ctrl-C/SIGTERM and a lost database) with the counts that did commit."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from fitpipe_ingest.counts import FileResult, IngestSummary, MetricCounts
from fitpipe_ingest.pipeline.errors import DatabaseLost
from fitpipe_ingest.pipeline.runs import RunRecorder, latest_runs

pytestmark = pytest.mark.db


def _committed() -> IngestSummary:
    summary = IngestSummary()
    summary.files.append(FileResult("a.csv", "heart_rate", "fitabase", read=7))
    summary.add_counts("fitabase", {"heart_rate": MetricCounts(read=7, new=5, present=2)})
    return summary


def _row(url: str, run_id: int) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status, files, rows_read, rows_new, rows_present, error, finished_at IS NOT NULL"
            " FROM ingest_runs WHERE id = %s",
            (run_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_an_error_in_the_block_is_recorded_failed_with_the_committed_counts(database_url: str) -> None:
    summary = IngestSummary()
    with (
        pytest.raises(RuntimeError, match="the source broke"),
        RunRecorder(database_url, "run", summary) as run,
    ):
        summary.merge(_committed())
        raise RuntimeError("the source broke")
    assert _row(database_url, run.id) == ("failed", 1, 7, 5, 2, "RuntimeError: the source broke", True)


def test_ctrl_c_in_the_block_is_recorded_aborted(database_url: str) -> None:
    with pytest.raises(KeyboardInterrupt), RunRecorder(database_url, "ingest", _committed()) as run:
        raise KeyboardInterrupt
    status, _, _, rows_new, _, error, finished = _row(database_url, run.id)
    assert (status, rows_new, finished) == ("aborted", 5, True)
    assert error == "interrupted (Ctrl-C or SIGTERM) before it finished"


def test_a_lost_connection_is_recorded_aborted_and_raised_as_one_database_lost(database_url: str) -> None:
    with pytest.raises(DatabaseLost) as raised, RunRecorder(database_url, "run", _committed()) as run:
        raise psycopg.OperationalError("server closed the connection unexpectedly")
    assert raised.value.__suppress_context__
    status, _, _, rows_new, _, error, _ = _row(database_url, run.id)
    assert (status, rows_new) == ("aborted", 5)
    assert error.startswith("the database went away during the run (server closed the connection")


def test_a_finished_run_is_not_recorded_again_by_a_later_error(database_url: str) -> None:
    with pytest.raises(ValueError), RunRecorder(database_url, "backfill", _committed()) as run:
        run.finish(run.summary, "success")
        raise ValueError("after the end")
    assert _row(database_url, run.id)[:2] == ("success", 1)


def test_latest_runs_lists_the_newest_first(database_url: str) -> None:
    with RunRecorder(database_url, "ingest", _committed()) as first:
        first.finish(first.summary, "success")
    with RunRecorder(database_url, "run") as second:
        second.finish(second.summary, "failed", "x" * 100)
    with psycopg.connect(database_url) as conn:
        rows = latest_runs(conn, 2)
    assert [(r.id, r.trigger, r.status) for r in rows] == [
        (second.id, "run", "failed"),
        (first.id, "ingest", "success"),
    ]
    assert rows[0].error == "x" * 60 and rows[1].rows_new == 5 and rows[1].took is not None
