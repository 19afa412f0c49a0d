"""Every rendered child against real schemas: built-in kinds against Kubernetes' published OpenAPI schemas
(strict: unknown fields are errors), prometheus-operator kinds against models generated from its CRDs,
and the alert rules through Prometheus' own `promtool check rules`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1, v1alpha1
from pydantic import BaseModel, ValidationError

from fitpipe_operator.render import render
from tests.operator.conftest import VARIANTS

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas the package ships.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
MONITORING_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): v1alpha1.AlertmanagerConfig,
}


def builtin(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if not m["apiVersion"].startswith("monitoring.coreos.com/")]


def monitoring(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["apiVersion"].startswith("monitoring.coreos.com/")]


def check_monitoring(manifest: dict[str, Any]) -> None:
    """Validate with the generated model, then require the round trip to keep every field: the models
    ignore unknown fields, so a misspelt field shows up as one missing from the dump."""
    model = MONITORING_MODELS[(manifest["apiVersion"], manifest["kind"])]
    parsed = model.model_validate(manifest)
    assert parsed.model_dump(by_alias=True, exclude_none=True, mode="json") == manifest


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_children_pass_kubernetes_strict_schemas(
    variant: tuple[str, dict[str, Any]], version: str
) -> None:
    _, spec = variant
    manifests = builtin(render("trial-a", "trial-a", spec))
    assert manifests
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_strict_schemas_catch_a_misspelt_field() -> None:
    cronjob = next(m for m in render("trial-a", "trial-a", VARIANTS["minimal"]) if m["kind"] == "CronJob")
    cronjob["spec"]["concurrencyPolicyy"] = "Forbid"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, KUBERNETES_VERSIONS[-1], strict=True)


def test_monitoring_children_match_prometheus_operator_models(variant: tuple[str, dict[str, Any]]) -> None:
    _, spec = variant
    for manifest in monitoring(render("trial-a", "trial-a", spec)):
        check_monitoring(manifest)


def test_every_monitoring_kind_is_checked() -> None:
    kinds = {
        (m["apiVersion"], m["kind"]) for m in monitoring(render("trial-a", "trial-a", VARIANTS["example"]))
    }
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in kinds
    assert ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig") in kinds
    assert kinds <= set(MONITORING_MODELS)


@pytest.mark.parametrize(
    ("kind", "spoil"),
    [
        ("ServiceMonitor", lambda m: m["spec"]["endpoints"][0].update(intervall="30s")),
        ("AlertmanagerConfig", lambda m: m["spec"]["route"]["matchers"][0].update(matchType="==")),
    ],
)
def test_monitoring_models_catch_spoilt_objects(kind: str, spoil: Any) -> None:
    manifest = next(m for m in render("trial-a", "trial-a", VARIANTS["example"]) if m["kind"] == kind)
    spoil(manifest)
    with pytest.raises((AssertionError, ValidationError)):
        check_monitoring(manifest)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return path


def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    rules = [m for m in render("trial-a", "trial-a", VARIANTS["disposable"]) if m["kind"] == "PrometheusRule"]
    if not rules:
        pytest.skip("fitpipe.monitoring.alerts is not in this build")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, sort_keys=False))
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in rules[0]["spec"]["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "Broken", "expr": "sum(("}]}]})
    )
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
