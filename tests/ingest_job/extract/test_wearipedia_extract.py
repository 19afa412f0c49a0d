"""`extract_wearipedia`: guards that run before anything is installed, an unreachable index, and a real extraction."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from fitpipe.errors import ConfigError, InputError
from fitpipe.settings import reset_settings_cache
from fitpipe_ingest.extract.wearipedia import extract_wearipedia, venv_dir
from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.wearipedia import FILE_KINDS, SOURCE
from fitpipe_ingest.tree import open_tree


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


@pytest.mark.slow
def test_real_extraction_writes_the_six_files_that_the_wearipedia_source_reads_whole(
    home: Path, tmp_path: Path
) -> None:
    """Creates the virtualenv and installs wearipedia from the package index (~1.5 min here, ~750 MB)."""
    progress: list[str] = []
    try:
        result = extract_wearipedia(tmp_path / "out", say=progress.append)
    except ConfigError as exc:
        if "cannot be reached" in exc.message:
            pytest.skip(
                f"needs the Python package index to install wearipedia: {exc.message.splitlines()[0]}"
            )
        raise
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(k.file_names[0] for k in FILE_KINDS)
    for kind in FILE_KINDS:
        header = (out / kind.file_names[0]).read_text().split("\n", 1)[0]
        assert header == ",".join(kind.columns)
    assert {f.name: (f.rows, f.rejected) for f in result.files} == {
        k.file_names[0]: (30, 0) for k in FILE_KINDS
    }
    assert {f.name: f.samples for f in result.files}["heart_rate.csv"] == 30 * 86_400 + 30 * 5
    assert result.seconds["install"] > 0 and (venv_dir() / ".fitpipe-ready").exists()

    tree, ctx = open_tree(out), ParseContext(ZoneInfo("America/New_York"))
    assert SOURCE.detect(tree) == 6
    hrv = SOURCE.parse(tree, "hrv.csv", ctx)
    spo2 = SOURCE.parse(tree, "spo2.csv", ctx)
    # wearipedia writes one window of minutes per night to both files, dating HRV's after-midnight
    # minutes a day early: once rolled over, the two must name the very same instants
    hrv_ts = next(b.ts for b in hrv.batches if b.metric == "hrv_rmssd")
    spo2_ts = next(b.ts for b in spo2.batches if b.metric == "spo2")
    assert np.array_equal(np.sort(hrv_ts), np.sort(spo2_ts))
    zones = [b for b in SOURCE.parse(tree, "heart_rate.csv", ctx).batches if b.metric.startswith("hr_zone_")]
    assert np.allclose(sum(b.value for b in zones), 1440)  # the generator's per-second counts, as minutes

    # the installed virtualenv is reused, and a seed gives the same files again
    again = [
        extract_wearipedia(tmp_path / f"again{i}", date(2024, 3, 1), date(2024, 3, 2), seed=7) for i in (1, 2)
    ]
    assert all(a.seconds["install"] == 0 for a in again)
    for kind in FILE_KINDS:
        name = kind.file_names[0]
        assert (tmp_path / "again1" / name).read_bytes() == (tmp_path / "again2" / name).read_bytes()
