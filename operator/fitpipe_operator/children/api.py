"""The read API (`fitpipe serve api`): a Deployment logging in as `fitpipe_api` (never the superuser),
with readiness on /readyz (which accepts a range of schema versions, so old pods stay ready during an
upgrade) and liveness on /healthz, and its Service; the ServiceMonitor scrapes its /metrics."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.pods import container, fitpipe_env
from fitpipe_operator.children.web import deployment, service

__all__ = ["COMPONENT", "API_PORT", "api_children"]

COMPONENT = "api"
API_PORT = 8000


def api_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    block = spec["api"]
    main = container(
        spec,
        "api",
        ["serve", "api", "--host", "0.0.0.0", "--port", str(API_PORT)],
        fitpipe_env(name, spec, database="api"),
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
    # With autoscaling the HorizontalPodAutoscaler owns `replicas` (children/scaling.py).
    replicas = None if block.get("autoscaling") else block["replicas"]
    return [
        deployment(name, namespace, spec, COMPONENT, [main], replicas=replicas),
        service(name, namespace, COMPONENT, block),
    ]
