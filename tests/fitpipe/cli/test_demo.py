"""`fitpipe demo --no-serve` end to end on a small cohort: synthesized, enrolled, ingested, summarised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.passwords import verify_password
from tests.queries import one, scalar

pytestmark = pytest.mark.db


def test_demo_loads_a_cohort_that_ends_yesterday_and_a_second_run_adds_nothing(
    fitpipe_env: Path, database_url: str
) -> None:
    first = CliRunner().invoke(cli, ["demo", "--no-serve", "--participants", "3", "--days", "3"])
    assert first.exit_code == 0, first.output
    assert "enrolled 3 participants in study 'demo'" in first.output
    assert "What is stored" in first.output and "heart_rate" in first.output
    password = _printed_password(first.output)
    assert _verifies(database_url, password), "the printed demo password does not sign in"
    with psycopg.connect(database_url) as conn:
        participants = scalar(conn, "SELECT count(*) FROM participants")
        samples, newest = one(conn, "SELECT count(*), max(ts) FROM samples WHERE metric_id = 1")
    assert participants == 3
    assert samples > 1000
    assert datetime.now(UTC) - newest < timedelta(days=2), "the demo cohort should reach the present"

    again = CliRunner().invoke(cli, ["demo", "--no-serve", "--participants", "3", "--days", "3"])
    assert again.exit_code == 0, again.output
    assert "using the cohort already in" in again.output
    renewed = _printed_password(again.output)
    assert renewed != password and _verifies(database_url, renewed) and not _verifies(database_url, password)
    with psycopg.connect(database_url) as conn:
        assert scalar(conn, "SELECT count(*) FROM samples WHERE metric_id = 1") == samples


def _printed_password(output: str) -> str:
    lines = output.splitlines()
    assert "Sign in to the dashboard (`fitpipe serve api` and `fitpipe serve dashboard`) as 'demo':" in lines
    [password] = [line.split(": ", 1)[1] for line in lines if line.startswith("  password: ")]
    return password


def _verifies(database_url: str, password: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT u.password_hash, u.role, s.name FROM users u JOIN user_studies us ON us.user_id = u.id "
            "JOIN studies s ON s.id = us.study_id WHERE u.username = 'demo'"
        ).fetchone()
    assert row is not None and row[1:] == ("coordinator", "demo")
    return verify_password(row[0], password)
