"""Fixtures running the real Prometheus tools (promtool, amtool, Alertmanager) from Debian's packages
`prometheus` and `prometheus-alertmanager`; tests that need one skip, naming it, when it is missing.

A pytest plugin (tests/conftest.py registers it): the monitoring catalog's tests and the API's /metrics tests
both run promtool.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Tool = Callable[..., subprocess.CompletedProcess[str]]

HINT = "install Debian's prometheus and prometheus-alertmanager (scripts/install-system-deps.sh)"


def _tool(name: str) -> Tool:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed: {HINT}")

    def run(
        *args: str | Path, cwd: Path | None = None, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [path, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd, input=input
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{name} {' '.join(map(str, args))} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def promtool() -> Tool:
    return _tool("promtool")


@pytest.fixture
def amtool() -> Tool:
    return _tool("amtool")


@pytest.fixture
def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"the Alertmanager binary is not installed: {HINT}")
