"""The files committed under monitoring/ for plain Prometheus are what the code generates, and the
Prometheus configuration that loads them is valid for the real promtool.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fitpipe.monitoring.generated import alertmanager_yaml, rules_yaml
from fitpipe.settings import Settings
from tests.prometheus_tools import Tool

REPO = Path(__file__).resolve().parents[3]
FOLDER = REPO / "monitoring"
REGENERATE = (
    "regenerate with `fitpipe monitoring rules > monitoring/rules.yml` and "
    "`fitpipe monitoring alertmanager-config > monitoring/alertmanager.yml` (MAIL_* unset)"
)


def test_committed_rules_are_the_generated_rules() -> None:
    assert (FOLDER / "rules.yml").read_text() == rules_yaml(), REGENERATE


def test_committed_alertmanager_config_is_the_generated_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAIL_"):
            monkeypatch.delenv(name)
    assert (FOLDER / "alertmanager.yml").read_text() == alertmanager_yaml(Settings()), REGENERATE


@pytest.mark.monitoring
def test_local_prometheus_config_and_its_rules_pass_promtool(promtool: Tool) -> None:
    out = promtool("check", "config", FOLDER / "prometheus.yml").stdout
    assert "SUCCESS: 1 rule files found" in out
    assert "is valid prometheus config file syntax" in out
