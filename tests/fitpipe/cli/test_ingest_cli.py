"""The ingest-side commands end to end on a real database: exit codes and what they print."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from tests.queries import scalar

pytestmark = pytest.mark.db

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "wearipedia" / "challenge"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_db_url_prints_the_external_database(fitpipe_env: Path, database_url: str) -> None:
    code, out = run("db", "url")
    assert (code, out.strip()) == (0, database_url)
    code, out = run("db", "url", "--redacted")
    assert code == 0 and "***" in out and database_url not in out


def test_db_start_refuses_when_an_external_database_is_configured(fitpipe_env: Path) -> None:
    code, out = run("db", "start")
    assert code == 2
    assert "DATABASE_URL or DB_HOST is set" in out


def test_migrate_is_idempotent(fitpipe_env: Path) -> None:
    code, out = run("migrate")
    assert code == 0
    assert "nothing to do" in out


def test_participants_add_then_list(fitpipe_env: Path) -> None:
    assert run("participants", "add", "P1", "--study", "s1", "--timezone", "Europe/London")[0] == 0
    code, out = run("participants", "add", "P1", "--study", "s1", "--timezone", "Europe/London")
    assert code == 0 and "already present, unchanged" in out
    code, out = run("participants", "add", "P1", "--study", "s1", "--timezone", "Asia/Tokyo")
    assert code == 5 and "different timezone" in out
    code, out = run("participants", "list")
    assert code == 0
    assert "P1" in out and "Europe/London" in out and "none yet" in out
    assert "1 participant(s)" in out


def test_ingest_unknown_participant_exits_4_with_a_hint(fitpipe_env: Path) -> None:
    code, out = run("ingest", str(FIXTURE), "--participant", "nobody", "--study", "s1")
    assert code == 4
    assert "unknown participant nobody in study s1" in out
    assert "fitpipe participants add nobody" in out


def test_ingest_prints_a_summary_and_a_rerun_adds_nothing(fitpipe_env: Path, database_url: str) -> None:
    run("participants", "add", "P1", "--study", "s1", "--timezone", "America/New_York")
    code, out = run("ingest", str(FIXTURE), "--participant", "P1")
    assert code == 0, out
    with psycopg.connect(database_url) as conn:
        stored = scalar(conn, "SELECT count(*) FROM samples WHERE metric_id = 1")
    assert stored > 0
    heart_rate_line = next(line for line in out.splitlines() if "heart_rate" in line and "wearipedia" in line)
    assert f"{stored:,}" in heart_rate_line
    assert "6 loaded" in out

    code, out = run("ingest", str(FIXTURE), "--participant", "P1")
    assert code == 0
    assert "0 loaded, 6 unchanged (skipped)" in out

    code, out = run("ingest", str(FIXTURE), "--participant", "P1", "--full")
    assert code == 0
    assert "nothing new: every sample was already stored" in out

    code, out = run("runs")
    assert code == 0
    assert out.count("success") == 3


def test_run_loads_every_inbox_and_reports_participants_without_data(
    fitpipe_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from fitpipe.settings import reset_settings_cache

    inbox = tmp_path / "inbox"
    shutil.copytree(FIXTURE, inbox / "s1" / "P1")
    monkeypatch.setenv("FITPIPE_INBOX", str(inbox))
    reset_settings_cache()
    run("participants", "add", "P1", "--study", "s1")
    run("participants", "add", "P2", "--study", "s1")
    code, out = run("run")
    assert code == 0, out
    assert "participants: 2 active, 1 without data yet, 0 failed" in out
    code, out = run("participants", "list")
    assert "wearipedia:active" in out


def test_schedule_refuses_a_bad_cron_expression(fitpipe_env: Path) -> None:
    code, out = run("schedule", "--cron", "every night")
    assert code == 6
    assert "not a valid cron expression" in out


def test_run_reads_only_the_google_health_api_when_told_so(
    fitpipe_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from fitpipe.settings import reset_settings_cache

    inbox = tmp_path / "inbox"
    shutil.copytree(FIXTURE, inbox / "s1" / "P1")
    monkeypatch.setenv("FITPIPE_INBOX", str(inbox))
    monkeypatch.setenv("FITPIPE_INGEST_SOURCE", "googleHealthApi")
    reset_settings_cache()
    run("participants", "add", "P1", "--study", "s1")
    code, out = run("run")
    assert code == 0, out
    assert "daily run: no inbox, Google Health API" in out
    assert "0 loaded" in out
