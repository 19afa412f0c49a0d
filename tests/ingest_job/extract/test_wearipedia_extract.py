"""`extract_wearipedia`: the guards that run before anything is installed, and what an unreachable index says."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from fitpipe.errors import ConfigError, InputError
from fitpipe.settings import reset_settings_cache
from ingest_job.extract.wearipedia import extract_wearipedia, venv_dir


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FITPIPE_HOME", str(tmp_path / "home"))
    reset_settings_cache()
    yield tmp_path / "home"
    reset_settings_cache()


def test_the_virtualenv_lives_under_fitpipe_home_named_after_the_pinned_version(home: Path) -> None:
    assert venv_dir() == home.resolve() / "venvs" / "wearipedia-0.1.7"


def test_an_end_before_the_start_is_refused_before_anything_is_installed(home: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="before the start date"):
        extract_wearipedia(tmp_path / "out", date(2024, 1, 30), date(2024, 1, 1))
    assert not home.exists() and not (tmp_path / "out").exists()


def test_a_python_wearipedia_does_not_support_is_refused_with_a_hint(home: Path, tmp_path: Path) -> None:
    # a stand-in interpreter that answers the version question like Python 3.13 would
    python313 = tmp_path / "python3.13"
    python313.write_text("#!/bin/sh\necho 3.13\n")
    python313.chmod(0o755)
    with pytest.raises(ConfigError, match=r"needs Python 3\.10-3\.12; .* is 3\.13") as err:
        extract_wearipedia(tmp_path / "out", python=python313)
    assert err.value.hint and "--python" in err.value.hint
    assert not venv_dir().exists()


@pytest.mark.slow
def test_an_unreachable_package_index_says_so_and_what_to_do(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no pip configuration, no local wheels, an index on a closed port: what a machine offline sees
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    progress: list[str] = []
    with pytest.raises(ConfigError, match="cannot be reached") as err:
        extract_wearipedia(tmp_path / "out", python=Path(sys.executable), say=progress.append)
    assert err.value.hint and "PIP_INDEX_URL" in err.value.hint
    assert any("creating the virtualenv" in line for line in progress)
    # the half-made virtualenv is not taken for a ready one: the next run starts it again
    assert not (venv_dir() / ".fitpipe-ready").exists()
    assert not list((tmp_path / "out").glob("*.csv"))
