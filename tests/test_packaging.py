"""An installed wheel carries what fitpipe reads besides its code: the migrations (sql/ as fitpipe_sql) and
the chart's CRD and values (charts/fitpipe/ as fitpipe_chart), found with importlib.resources, not with
paths relative to a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed into a folder of its own (dependencies from this venv)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the source folder (build/, *.egg-info): build from a copy, not the checkout
    source = tmp / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", ".fitpipe", "build", "*.egg-info", "__pycache__", "tests", "bench", ".*_cache"
        ),
    )
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp.glob("fitpipe-*.whl")
    site = tmp / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return site


def _run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The wheel's copy comes first on the path; run outside the checkout so nothing is read from it.
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=site.parent, env=env
    )


def test_the_wheel_finds_its_migrations_and_its_crd(installed: Path) -> None:
    script = (
        "import fitpipe, fitpipe_operator.crd as crd\n"
        "from fitpipe.migrations import available_migrations\n"
        "print(fitpipe.__file__)\n"
        "print(' '.join(f'{m.version}:{m.checksum}' for m in available_migrations()))\n"
        "print(crd.CRD_FILE)\n"
        "print(crd.CRD_FILE.read_text() == crd.crd_yaml())\n"
    )
    result = _run(installed, "-c", script)
    assert result.returncode == 0, result.stderr[-3000:]
    module, migrations, crd_file, same = result.stdout.splitlines()
    assert Path(module).is_relative_to(installed)
    assert Path(crd_file).is_relative_to(installed) and same == "True"
    from fitpipe.migrations import available_migrations

    assert migrations == " ".join(f"{m.version}:{m.checksum}" for m in available_migrations())
    assert migrations.startswith("1:")


def test_the_wheels_cli_has_migrate(installed: Path) -> None:
    result = _run(installed, "-m", "fitpipe.cli", "migrate", "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("Usage: fitpipe migrate [OPTIONS]")
