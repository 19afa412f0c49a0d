"""The kind end-to-end run (tests/e2e/kind.sh) where a container engine and the kind tools exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("kind.sh")


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
def test_pipeline_comes_up_ingests_enforces_its_network_policies_and_loads_its_alert_rules_on_kind() -> None:
    if not docker_available():
        pytest.skip("no container engine (docker) available")
    missing = [tool for tool in ("kind", "kubectl", "helm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    version = subprocess.run(["kind", "version"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"v(\d+)\.(\d+)", version)
    if found is None or (int(found[1]), int(found[2])) < (0, 24):
        pytest.skip(
            f"kind >= 0.24 is needed (its kindnet enforces NetworkPolicies), found: {version.strip()}"
        )
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "kind.sh: all steps passed" in result.stdout
