"""The two web components, API and dashboard: a Deployment with probes and resources spread across
nodes, and a Service whose port is named `http` (the ServiceMonitor scrapes the API's)."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.pods import api_token_env, api_url, container, fitpipe_env, pod_spec
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["api_children", "dashboard_children"]

API_PORT = 8000
DASHBOARD_PORT = 8050


def _deployment(
    name: str,
    namespace: str,
    spec: dict[str, Any],
    component: str,
    block: dict[str, Any],
    main: dict[str, Any],
) -> dict[str, Any]:
    meta = metadata(name, namespace, component, child(name, component))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": block["replicas"],
            "selector": {"matchLabels": selector(name, component)},
            "template": {
                "metadata": {"labels": dict(meta["labels"])},
                "spec": pod_spec(
                    spec,
                    [main],
                    restart_policy="Always",
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
            },
        },
    }


def _service(name: str, namespace: str, component: str, block: dict[str, Any]) -> dict[str, Any]:
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


def api_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    block = spec["api"]
    main = container(
        spec,
        "api",
        ["serve", "api", "--host", "0.0.0.0", "--port", str(API_PORT)],
        fitpipe_env(name, spec),
        block["resources"],
        ports=[{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}],
        readinessProbe={
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        livenessProbe={
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
    )
    return [_deployment(name, namespace, spec, "api", block, main), _service(name, namespace, "api", block)]


def dashboard_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    block = spec["dashboard"]
    if not block["enabled"]:
        return []
    env = fitpipe_env(name, spec, database=False, mail=False, google=False) + [
        {"name": "FITPIPE_API_URL", "value": api_url(name, namespace, spec)},
        api_token_env(name, spec),
    ]
    main = container(
        spec,
        "dashboard",
        ["serve", "dashboard", "--host", "0.0.0.0", "--port", str(DASHBOARD_PORT)],
        env,
        block["resources"],
        ports=[{"name": "http", "containerPort": DASHBOARD_PORT, "protocol": "TCP"}],
        readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
        livenessProbe={"tcpSocket": {"port": "http"}, "initialDelaySeconds": 10, "periodSeconds": 20},
    )
    return [
        _deployment(name, namespace, spec, "dashboard", block, main),
        _service(name, namespace, "dashboard", block),
    ]
