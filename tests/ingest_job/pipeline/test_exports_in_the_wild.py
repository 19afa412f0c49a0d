"""Exports as users bring them, through `fitpipe ingest` / `fitpipe run` on the real database: the defects a new
user met (issue #10's "Why"), each with what must be stored, quarantined and printed instead."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.settings import reset_settings_cache
from tests.ingest_job.exports import fitabase_heart_rate, legacy_account_export, long_csv, write_zip

pytestmark = pytest.mark.db


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def scalar(url: str, query: str, *params: object) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def rows(url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def study(fitpipe_env: Path, database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "2022484408", "s1", timezone="America/New_York")
        add_participant(conn, "P1", "s1", timezone="America/New_York")
        add_participant(conn, "P2", "s1", timezone="Europe/London")
    return database_url


def test_a_fitabase_file_with_crlf_and_a_trailing_blank_line_loads_every_sample(
    study: str, tmp_path: Path
) -> None:
    written = fitabase_heart_rate(
        tmp_path / "heartrate_seconds_merged.csv", {"2022484408": (datetime(2016, 4, 12, 7, 21), 17_666)}
    )
    code, out = invoke("ingest", str(tmp_path), "--participant", "2022484408", "--study", "s1")
    assert code == 0, out
    assert scalar(study, "SELECT count(*) FROM samples") == written == 17_666
    assert rows(study, "SELECT file, record, reason FROM quarantine") == []
    assert "1 loaded" in out


def test_a_fitabase_file_without_a_row_of_the_participant_is_loud_not_loaded_empty(
    study: str, tmp_path: Path
) -> None:
    """Registered as P1 while Fitabase calls them 2022484408: every row is skipped as another participant's."""
    fitabase_heart_rate(
        tmp_path / "heartrate_seconds_merged.csv", {"2022484408": (datetime(2016, 4, 12, 7, 21), 17_666)}
    )
    code, out = invoke("ingest", str(tmp_path), "--participant", "P1", "--study", "s1")
    assert code == 6, out
    assert "nothing was loaded" in out
    assert "none of its 17,666 rows is participant P1's" in out and "2022484408" in out
    assert scalar(study, "SELECT count(*) FROM samples") == 0
    assert rows(study, "SELECT status FROM ingest_runs") == [("failed",)]


def test_a_legacy_export_with_one_folder_per_metric_loads_like_the_flat_one(
    study: str, tmp_path: Path
) -> None:
    days = [date(2016, 9, 28), date(2016, 9, 29), date(2016, 9, 30), date(2016, 10, 1)]
    flat = legacy_account_export(tmp_path / "flat", days, per_metric_folders=False)
    nested = legacy_account_export(tmp_path / "nested", days, per_metric_folders=True)
    assert len(flat) == len(nested) == 24
    code, out = invoke("ingest", str(tmp_path / "flat"), "--participant", "P1")
    assert code == 0, out
    code, out = invoke("ingest", str(tmp_path / "nested"), "--participant", "P2")
    assert code == 0, out
    assert "24 loaded" in out and "0 not known" in out
    per_metric = """SELECT m.name, count(*), sum(s.value) FROM samples s JOIN metrics m ON m.id = s.metric_id
                    JOIN participants p ON p.id = s.participant_id WHERE p.external_id = %s GROUP BY 1 ORDER BY 1"""
    expected = rows(study, per_metric, "P1")
    assert [name for name, *_ in expected] == [
        "calories",
        "distance",
        "heart_rate",
        "resting_heart_rate",
        "sedentary_minutes",
        "steps",
    ]
    assert rows(study, per_metric, "P2") == expected


def test_a_200_kib_field_costs_one_line_and_the_run_goes_on(
    study: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "s1" / "P1").mkdir(parents=True)
    (inbox / "s1" / "P2").mkdir(parents=True)
    big = "x" * (200 * 1024)
    long_csv(
        inbox / "s1" / "P1" / "drop.csv",
        [
            ("P1", "heart_rate", "2024-01-01T00:00:00Z", "70"),
            ("P1", "heart_rate", "2024-01-01T00:00:01Z", "71"),
            ("P1", "heart_rate", "2024-01-01T00:00:02Z", big),
            ("P1", "heart_rate", "2024-01-01T00:00:03Z", "73"),
        ],
        extra=["", big, "", ""],
    )
    long_csv(inbox / "s1" / "P2" / "drop.csv", [("P2", "heart_rate", "2024-01-01T00:00:00Z", "80")])
    monkeypatch.setenv("FITPIPE_INBOX", str(inbox))
    reset_settings_cache()
    code, out = invoke("run")
    assert code == 0, out
    assert "Traceback" not in out
    stored = rows(
        study,
        "SELECT p.external_id, s.value FROM samples s JOIN participants p ON p.id = s.participant_id ORDER BY 1, s.ts",
    )
    assert stored == [("P1", 70.0), ("P1", 71.0), ("P1", 73.0), ("P2", 80.0)]
    [(file, record, field, reason, raw)] = rows(
        study, "SELECT file, record, field, reason, raw FROM quarantine"
    )
    assert (file, record, field) == ("drop.csv", "line 4", "value")
    assert reason.startswith("'xxxxxxxx") and "is not a number" in reason
    assert len(raw) == 1000 and raw.startswith("P1,heart_rate,2024-01-01T00:00:02Z,xxx")
    assert rows(study, "SELECT status, participants, rows_new FROM ingest_runs WHERE trigger = 'run'") == [
        ("success", 2, 4)
    ]


@pytest.mark.parametrize("year", ["0001", "1700", "2200", "9999"])
def test_timestamps_in_implausible_years_are_quarantined_not_stored(
    study: str, tmp_path: Path, year: str
) -> None:
    long_csv(
        tmp_path / "drop.csv",
        [
            ("P1", "heart_rate", "2024-01-01T00:00:00Z", "70"),
            ("P1", "heart_rate", f"{year}-01-01T00:00:00Z", "71"),
            ("P1", "heart_rate", "2024-01-01T00:00:02Z", "72"),
        ],
    )
    code, out = invoke("ingest", str(tmp_path), "--participant", "P1")
    assert code == 0, out
    assert scalar(study, "SELECT count(*) FROM samples") == 2
    [(record, field, reason)] = rows(study, "SELECT record, field, reason FROM quarantine")
    assert (record, field) == ("line 3", "timestamp")
    assert "outside the plausible time window" in reason


def test_a_two_digit_year_99_is_1999_and_outside_the_window(study: str, tmp_path: Path) -> None:
    folder = tmp_path / "Takeout" / "Fitbit" / "Global Export Data"
    folder.mkdir(parents=True)
    (folder / "heart_rate-2024-01-01.json").write_text(
        json.dumps(
            [
                {"dateTime": "01/01/24 05:00:00", "value": {"bpm": 62, "confidence": 2}},
                {"dateTime": "12/31/99 23:59:59", "value": {"bpm": 63, "confidence": 2}},
                {"dateTime": "01/01/24 05:00:10", "value": {"bpm": 64, "confidence": 2}},
            ]
        )
    )
    code, out = invoke("ingest", str(tmp_path), "--participant", "P1")
    assert code == 0, out
    assert scalar(study, "SELECT count(*) FROM samples") == 2
    [(record, reason)] = rows(study, "SELECT record, reason FROM quarantine")
    assert record == "record 1" and "1999-12-31" in reason and "outside the plausible time window" in reason


def test_a_grown_file_that_once_held_a_far_future_row_loads_its_new_rows(study: str, tmp_path: Path) -> None:
    first = [("P1", "heart_rate", f"2024-01-01T00:00:{s:02d}Z", str(60 + s)) for s in range(10)]
    first.append(("P1", "heart_rate", "2200-01-01T00:00:00Z", "70"))
    long_csv(tmp_path / "drop.csv", first)
    assert invoke("ingest", str(tmp_path), "--participant", "P1")[0] == 0
    grown = first + [("P1", "heart_rate", f"2024-01-01T00:01:{s:02d}Z", str(80 + s)) for s in range(10)]
    long_csv(tmp_path / "drop.csv", grown)
    code, out = invoke("ingest", str(tmp_path), "--participant", "P1")
    assert code == 0, out
    assert scalar(study, "SELECT count(*) FROM samples") == 20
    assert scalar(study, "SELECT max(ts) FROM samples").year == 2024


def test_a_stored_far_future_maximum_never_makes_new_rows_count_as_present(
    study: str, tmp_path: Path
) -> None:
    """A manifest written by an older version, before the window existed, says the file reached 2200."""
    rows_ = [("P1", "heart_rate", f"2024-01-01T00:00:{s:02d}Z", str(60 + s)) for s in range(10)]
    long_csv(tmp_path / "drop.csv", rows_)
    assert invoke("ingest", str(tmp_path), "--participant", "P1")[0] == 0
    with psycopg.connect(study, autocommit=True) as conn:
        conn.execute("""UPDATE ingest_files SET max_ts = '{"heart_rate": 7258118400000000}'::jsonb""")
        conn.execute("UPDATE ingest_cursors SET last_value = '9999-01-01T00:00:00Z'")
    rows_ += [("P1", "heart_rate", f"2024-01-01T00:01:{s:02d}Z", str(80 + s)) for s in range(10)]
    long_csv(tmp_path / "drop.csv", rows_)
    code, out = invoke("ingest", str(tmp_path), "--participant", "P1")
    assert code == 0, out
    assert scalar(study, "SELECT count(*) FROM samples") == 20
    assert scalar(study, "SELECT max(last_value) FROM ingest_cursors").year == 2024


def test_a_symlink_in_the_input_is_not_followed_and_is_reported(study: str, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("participant,metric,timestamp,value\nP1,heart_rate,SECRET-LINE,70\n")
    inbox = tmp_path / "input"
    inbox.mkdir()
    long_csv(inbox / "drop.csv", [("P1", "heart_rate", "2024-01-01T00:00:00Z", "70")])
    (inbox / "linked.csv").symlink_to(secret)
    code, out = invoke("ingest", str(inbox), "--participant", "P1")
    assert code == 0, out
    assert "linked.csv" in out and "symbolic link" in out and "not followed" in out
    assert scalar(study, "SELECT count(*) FROM samples") == 1
    assert scalar(study, "SELECT count(*) FROM quarantine WHERE raw LIKE %s", "%SECRET%") == 0


def test_zip_members_with_absolute_or_parent_paths_are_reported(study: str, tmp_path: Path) -> None:
    good = b"participant,metric,timestamp,value\nP1,heart_rate,2024-01-01T00:00:00Z,70\n"
    write_zip(tmp_path / "drop.zip", {"drop.csv": good, "../../evil.csv": good, "/etc/evil2.csv": good})
    code, out = invoke("ingest", str(tmp_path / "drop.zip"), "--participant", "P1")
    assert code == 0, out
    assert "../../evil.csv" in out and "/etc/evil2.csv" in out and "unsafe path" in out
    assert scalar(study, "SELECT count(*) FROM samples") == 1


def test_a_daily_value_whose_local_midnight_does_not_exist_starts_at_the_days_first_instant(
    fitpipe_env: Path, database_url: str, tmp_path: Path
) -> None:
    """America/Santiago skips 2024-09-08 00:00-01:00: every source stores the day at 04:00 UTC."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "4020332650", "s1", timezone="America/Santiago")
    (tmp_path / "dailyActivity_merged.csv").write_text(
        "Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes,"
        "LightlyActiveMinutes,SedentaryMinutes,Calories\r\n4020332650,9/8/2024,8000,5.5,10,20,200,700,2000\r\n"
    )
    code, out = invoke("ingest", str(tmp_path), "--participant", "4020332650")
    assert code == 0, out
    assert rows(database_url, "SELECT reason FROM quarantine") == []
    stamps = rows(database_url, "SELECT DISTINCT ts AT TIME ZONE 'UTC' FROM samples")
    assert stamps == [(datetime(2024, 9, 8, 4, 0),)]
