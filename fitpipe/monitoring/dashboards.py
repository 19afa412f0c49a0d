"""fitpipe's Grafana dashboards (application, API, infrastructure), kept as the JSON Grafana exports in
dashboards/, and the ConfigMaps that ship them to kube-prometheus-stack's Grafana dashboard sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

__all__ = ["load_dashboards", "panel_queries", "dashboard_configmaps", "SIDECAR_LABEL"]

SIDECAR_LABEL = {"grafana_dashboard": "1"}
"""The label kube-prometheus-stack's Grafana sidecar looks for (its default `sidecar.dashboards.label`)."""


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Dashboards by name (the JSON file's stem: application, api, infrastructure)."""
    folder = resources.files("fitpipe.monitoring") / "dashboards"
    dashboards = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            dashboards[entry.name.removesuffix(".json")] = json.loads(entry.read_text())
    return dashboards


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel, as written (with Grafana's $variables)."""
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", ""), target["expr"]


def dashboard_configmaps(
    namespace: str | None = None, labels: Mapping[str, str] | None = None, prefix: str = "fitpipe-dashboard-"
) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, labelled for the Grafana sidecar (plus `labels`)."""
    maps = []
    for name, dashboard in load_dashboards().items():
        metadata: dict[str, Any] = {"name": prefix + name, "labels": {**SIDECAR_LABEL, **(labels or {})}}
        if namespace:
            metadata["namespace"] = namespace
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {f"fitpipe-{name}.json": json.dumps(dashboard, indent=1)},
            }
        )
    return maps
