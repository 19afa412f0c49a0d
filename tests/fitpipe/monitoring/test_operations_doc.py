"""docs/operations.md keeps up with the code: a runbook section per alert, every metric family and every
threshold with its default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fitpipe.monitoring.alerts import THRESHOLDS, alert_names, rule_groups
from fitpipe.monitoring.metrics import FAMILIES

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors() -> set[str]:
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", DOC.read_text(), re.M)}


@pytest.mark.parametrize("name", alert_names())
def test_every_alert_has_a_runbook_section(name: str) -> None:
    groups: list[dict[str, Any]] = rule_groups()
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    url = rules[name]["annotations"]["runbook_url"]
    path, _, anchor = url.partition("#")
    assert path == "docs/operations.md"
    assert anchor in anchors(), f"docs/operations.md has no section '### {name}'"


def test_every_metric_family_is_in_the_reference() -> None:
    text = DOC.read_text()
    missing = [f.name for f in FAMILIES if f"| `{f.name}` | {f.kind} |" not in text]
    assert not missing, f"add to the metrics reference: {missing}"


def test_every_threshold_is_documented_with_its_default() -> None:
    text = DOC.read_text()
    missing = [t.name for t in THRESHOLDS if f"| `{t.name}` | {t.default:g} | {t.unit} |" not in text]
    assert not missing, f"add to the thresholds table: {missing}"
