"""Scale and disruption (issue 14.6): the API's HorizontalPodAutoscaler takes `replicas` over from the
operator; PodDisruptionBudgets keep all but one replica of the API and dashboard through a drain."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe.errors import InputError
from fitpipe_operator.handover import owns_replicas
from fitpipe_operator.render import render
from tests.operator.conftest import GOOGLE

NS = "trial-a"


def of(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_autoscaling_renders_an_hpa_and_leaves_replicas_to_it() -> None:
    spec = {
        **GOOGLE,
        "api": {
            "replicas": 3,
            "autoscaling": {"minReplicas": 2, "maxReplicas": 8, "targetCPUUtilization": 60},
        },
    }
    manifests = render("trial-a", NS, spec)
    (hpa,) = of(manifests, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "trial-a-api",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 60,
    }
    api = of(manifests, "Deployment")["trial-a-api"]
    assert "replicas" not in api["spec"]
    assert "replicas" in of(manifests, "Deployment")["trial-a-dashboard"]["spec"]


def test_without_autoscaling_the_operator_sets_replicas_and_renders_no_hpa() -> None:
    manifests = render("trial-a", NS, {**GOOGLE, "api": {"replicas": 4}})
    assert of(manifests, "Deployment")["trial-a-api"]["spec"]["replicas"] == 4
    assert not of(manifests, "HorizontalPodAutoscaler")


@pytest.mark.parametrize(
    ("spec", "budgets"),
    [
        ({}, {"trial-a-api"}),  # 2 API replicas by default, 1 dashboard
        ({"api": {"replicas": 1}}, set()),
        ({"api": {"replicas": 1}, "dashboard": {"replicas": 3}}, {"trial-a-dashboard"}),
        ({"api": {"replicas": 1, "autoscaling": {"minReplicas": 2, "maxReplicas": 4}}}, {"trial-a-api"}),
        ({"api": {"replicas": 5, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}}}, set()),
        ({"dashboard": {"enabled": False, "replicas": 3}}, {"trial-a-api"}),
    ],
)
def test_a_disruption_budget_for_each_component_with_more_than_one_replica(
    spec: dict[str, Any], budgets: set[str]
) -> None:
    found = of(render("trial-a", NS, {**GOOGLE, **spec}), "PodDisruptionBudget")
    assert set(found) == budgets
    for name, budget in found.items():
        component = name.removeprefix("trial-a-")
        assert budget["spec"]["maxUnavailable"] == 1
        assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_min_replicas_above_max_is_refused() -> None:
    with pytest.raises(InputError) as refused:
        render("trial-a", NS, {**GOOGLE, "api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}})
    assert refused.value.field == "spec.api.autoscaling.minReplicas"


def test_replicas_ownership_is_read_from_managed_fields() -> None:
    def entry(manager: str, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {"manager": manager, "operation": operation, "fieldsV1": {"f:spec": fields}}

    applied = {
        "metadata": {
            "managedFields": [entry("fitpipe-operator", "Apply", {"f:replicas": {}, "f:template": {}})]
        }
    }
    assert owns_replicas(applied)
    released = {
        "metadata": {
            "managedFields": [
                entry("fitpipe-operator", "Apply", {"f:template": {}}),
                entry("kube-controller-manager", "Update", {"f:replicas": {}}),
            ]
        }
    }
    assert not owns_replicas(released)
    updated = {"metadata": {"managedFields": [entry("fitpipe-operator", "Update", {"f:replicas": {}})]}}
    assert not owns_replicas(updated)  # only what the operator applied is its to hand over
