"""What the two web components (API and dashboard) share: a Deployment whose replicas spread across
nodes, and a Service whose port is named `http` (the ServiceMonitor scrapes the API's)."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.pods import pod_spec
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["deployment", "service"]


def deployment(
    name: str,
    namespace: str,
    spec: dict[str, Any],
    component: str,
    containers: list[dict[str, Any]],
    *,
    replicas: int | None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`replicas` None leaves the field to whoever scales the Deployment (a HorizontalPodAutoscaler)."""
    meta = metadata(name, namespace, component, child(name, component))
    body: dict[str, Any] = {"selector": {"matchLabels": selector(name, component)}}
    if replicas is not None:
        body["replicas"] = replicas
    body["template"] = {
        "metadata": {"labels": dict(meta["labels"])},
        "spec": pod_spec(
            spec,
            containers,
            restart_policy="Always",
            volumes=volumes,
            affinity={
                # Replicas on different nodes, so one node's loss leaves the service up.
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": selector(name, component)},
                            },
                        }
                    ]
                }
            },
        ),
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": body}


def service(name: str, namespace: str, component: str, block: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, component, child(name, component)),
        "spec": {
            "type": block["service"]["type"],
            "selector": selector(name, component),
            "ports": [
                {"name": "http", "port": block["service"]["port"], "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }
