"""`fitpipe extract wearipedia`: options reach the library and its errors become a message and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.errors import InputError
from fitpipe.settings import reset_settings_cache


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FITPIPE_HOME", str(tmp_path / "home"))
    reset_settings_cache()
    yield tmp_path / "home"
    reset_settings_cache()


def test_end_before_start_exits_with_the_input_error_code_and_message(home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "extract",
            "wearipedia",
            "--out",
            str(tmp_path / "out"),
            "--start",
            "2024-01-30",
            "--end",
            "2024-01-01",
        ],
    )
    assert result.exit_code == InputError.exit_code
    assert "error: the end date 2024-01-01 is before the start date 2024-01-30" in result.output


def test_out_is_required(home: Path) -> None:
    result = CliRunner().invoke(cli, ["extract", "wearipedia"])
    assert result.exit_code == 2
    assert "Missing option '--out'" in result.output


def test_a_date_that_is_not_iso_is_refused_by_the_option(home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["extract", "wearipedia", "--out", str(tmp_path), "--start", "01/02/2024"]
    )
    assert result.exit_code == 2
    assert "--start" in result.output
