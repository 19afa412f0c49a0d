"""`fitpipe synth`: exit codes and what it reports."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from fitpipe.cli import cli


def _synth(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["synth", *args])
    return result.exit_code, result.output


def test_synth_writes_the_cohort_and_names_who_has_no_data(tmp_path: Path) -> None:
    code, output = _synth("-n", "3", "-d", "2", "--format", "takeout", "--out", str(tmp_path), "--seed", "3")
    assert code == 0, output
    with open(tmp_path / "participants.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    without = [r["participant_id"] for r in rows if r["profile"] == "no_data"]
    assert len(rows) == 3 and len(without) == 1
    assert f"no data (listed in participants.csv, no folder): {without[0]}" in output
    assert f"wrote 2 participants × 2 days (takeout) to {tmp_path}" in output
    assert output.count("[1/2] ") == 1 and output.count("[2/2] ") == 1  # plain progress lines off a terminal


def test_synth_writes_into_the_study_inbox_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fitpipe.settings import reset_settings_cache

    monkeypatch.setenv("FITPIPE_INBOX", str(tmp_path))
    reset_settings_cache()
    try:
        code, output = _synth("-n", "1", "-d", "1", "--format", "wearipedia", "--study", "trial7")
    finally:
        reset_settings_cache()
    assert code == 0, output
    assert sorted(p.name for p in (tmp_path / "trial7" / "P0001").iterdir()) == [
        "active_zone_minutes.csv",
        "activity.csv",
        "breathing_rate.csv",
        "heart_rate.csv",
        "hrv.csv",
        "spo2.csv",
    ]


def test_synth_refuses_to_mix_with_an_earlier_run(tmp_path: Path) -> None:
    assert _synth("-n", "1", "-d", "1", "--format", "takeout", "--out", str(tmp_path))[0] == 0
    code, output = _synth("-n", "1", "-d", "1", "--format", "takeout", "--out", str(tmp_path))
    assert code == 5
    assert "already holds a synthetic cohort" in output and "--overwrite" in output
    assert _synth("-n", "1", "-d", "1", "--format", "takeout", "--out", str(tmp_path), "--overwrite")[0] == 0


def test_synth_rejects_an_unknown_format(tmp_path: Path) -> None:
    code, output = _synth("-n", "1", "-d", "1", "--format", "fitabase", "--out", str(tmp_path))
    assert code == 2 and "fitabase" in output
