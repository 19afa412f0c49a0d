"""Scale and disruption: a HorizontalPodAutoscaler (autoscaling/v2, CPU) for the API when
`api.autoscaling` is set, and a PodDisruptionBudget for the API and the dashboard whenever they run more
than one replica, so a node drain never takes the last one down."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.naming import child, metadata, selector

__all__ = ["scaling_children", "least_replicas"]


def least_replicas(spec: dict[str, Any], component: str) -> int:
    """The fewest replicas the component runs with (the autoscaler's minimum when it scales the API)."""
    if component == "api" and spec["api"].get("autoscaling"):
        return int(spec["api"]["autoscaling"]["minReplicas"])
    block = spec[component]
    return int(block["replicas"]) if component == "api" or block["enabled"] else 0


def _autoscaler(name: str, namespace: str, scaling: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace, "api", child(name, "api")),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": child(name, "api")},
            "minReplicas": scaling["minReplicas"],
            "maxReplicas": scaling["maxReplicas"],
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling["targetCPUUtilization"],
                        },
                    },
                }
            ],
        },
    }


def _budget(name: str, namespace: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace, component, child(name, component)),
        "spec": {
            # One pod at a time may be evicted; the others keep serving.
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(name, component)},
            # A pod that never became ready (a bad rollout) may be evicted all the same, or it would
            # block every drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def scaling_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if spec["api"].get("autoscaling"):
        out.append(_autoscaler(name, namespace, spec["api"]["autoscaling"]))
    for component in ("api", "dashboard"):
        if least_replicas(spec, component) > 1:
            out.append(_budget(name, namespace, component))
    return out
