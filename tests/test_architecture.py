"""The floors of docs/architecture.md hold (import-linter contracts in pyproject.toml), and the contracts do
catch what they forbid: each case plants one forbidden import, lazy ones included, in a copy of the code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "fitpipe": REPO / "fitpipe",
    "fitpipe_ingest": REPO / "ingest_job" / "fitpipe_ingest",
    "fitpipe_api": REPO / "api" / "fitpipe_api",
    "fitpipe_dashboard": REPO / "dashboard" / "fitpipe_dashboard",
    "fitpipe_operator": REPO / "operator" / "fitpipe_operator",
}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_code_keeps_every_import_contract(tmp_path: Path) -> None:
    result = _lint(REPO, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("code")
    for name, folder in PACKAGES.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        ("fitpipe_api/routes/health.py", "from fitpipe_ingest.load import LoadOptions", "read side"),
        ("fitpipe_dashboard/client.py", "import psycopg", "never the database"),
        ("fitpipe/participants.py", "from fitpipe.cli.output import say", "only the CLI imports the CLI"),
        ("fitpipe/db.py", "from fitpipe_ingest.records import SampleBatch", "Floors"),
        ("fitpipe_ingest/load.py", "from fitpipe_ingest.pipeline import RunOutcome", "Ingest job"),
        (
            "fitpipe_ingest/sources/fitabase/daily.py",
            "from fitpipe_ingest.sources.takeout import source",
            "stands alone",
        ),
        ("fitpipe_operator/render.py", "from fitpipe_api import main", "Floors"),
        # a circle hidden in a function, the way metrics.py and its collectors once closed one
        (
            "fitpipe/monitoring/metrics.py",
            "def _wire() -> None:\n    from fitpipe.monitoring.pool import PoolCollector  # noqa",
            "No import circles",
        ),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    code_copy: Path, tmp_path: Path, module: str, planted: str, broken: str
) -> None:
    target = code_copy / module
    original = target.read_text()
    target.write_text(original + "\n\n" + planted + "\n")
    try:
        result = _lint(code_copy, tmp_path)
    finally:
        target.write_text(original)
    assert result.returncode != 0, result.stdout[-3000:]
    broken_lines = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(broken in line for line in broken_lines), result.stdout[-3000:]
