"""The prometheus-operator objects of a pipeline (ServiceMonitor on the API's /metrics, PrometheusRule,
optional AlertmanagerConfig mailing alerts) and the Grafana dashboard ConfigMaps."""

from __future__ import annotations

import copy
import importlib
import json
import re
from types import ModuleType
from typing import Any

from fitpipe.errors import ConfigError, InputError
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["monitoring_children", "alert_rule_groups", "grafana_dashboards"]

COMPONENT = "monitoring"
MONITORING_API = "monitoring.coreos.com/v1"


def _optional_module(module: str) -> ModuleType | None:
    # The rules and dashboards live in fitpipe.monitoring; a build without them renders no rules.
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def alert_rule_groups(name: str, namespace: str, thresholds: dict[str, float]) -> list[dict[str, Any]] | None:
    """fitpipe's alert rules with this pipeline's thresholds, reading only this pipeline's series (the
    labels Prometheus gives targets of its ServiceMonitor), each alert labelled with the pipeline."""
    alerts = _optional_module("fitpipe.monitoring.alerts")
    if alerts is None:
        return None
    selector = f'namespace="{namespace}", service="{child(name, "api")}"'
    try:
        groups = copy.deepcopy(alerts.rule_groups(dict(thresholds) or None, selector=selector))
    except ConfigError as exc:
        raise InputError(exc.message, field="spec.monitoring.thresholds", hint=exc.hint) from None
    for group in groups:
        for rule in group.get("rules", []):
            if "alert" in rule:
                rule.setdefault("labels", {})["fitpipe_pipeline"] = name
    return list(groups)


def grafana_dashboards() -> dict[str, dict[str, Any]] | None:
    dashboards = _optional_module("fitpipe.monitoring.dashboards")
    load = getattr(dashboards, "load_dashboards", None)
    if load is None:
        return None
    return dict(load())


def _service_monitor(
    name: str, namespace: str, spec: dict[str, Any], extra: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": metadata(name, namespace, COMPONENT, child(name, "api"), extra_labels=extra),
        "spec": {
            "selector": {"matchLabels": selector(name, "api")},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": spec["monitoring"]["serviceMonitor"]["interval"],
                }
            ],
        },
    }


def _alertmanager_config(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    mail = spec["monitoring"]["alertmanager"]
    email: dict[str, Any] = {
        "to": mail["to"],
        "from": mail["from"],
        "smarthost": mail["smarthost"],
        "requireTLS": mail["requireTLS"],
        "sendResolved": True,
    }
    if mail.get("authUsername"):
        email["authUsername"] = mail["authUsername"]
    if spec["smtp"].get("secretName"):
        email["authPassword"] = {"name": spec["smtp"]["secretName"], "key": "password"}
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": metadata(name, namespace, COMPONENT, child(name, "email")),
        "spec": {
            # prometheus-operator adds a namespace matcher, so this route sees only this namespace's alerts.
            "route": {
                "receiver": "email",
                "groupBy": ["alertname", "fitpipe_pipeline"],
                "matchers": [{"name": "fitpipe_pipeline", "value": name, "matchType": "="}],
                "groupWait": "30s",
                "groupInterval": "5m",
                "repeatInterval": "12h",
            },
            "receivers": [{"name": "email", "emailConfigs": [email]}],
        },
    }


def _dashboard_configmap(
    name: str, namespace: str, filename: str, dashboard: dict[str, Any]
) -> dict[str, Any]:
    stem = re.sub(r"[^a-z0-9-]+", "-", filename.rsplit(".", 1)[0].lower()).strip("-")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            name,
            namespace,
            COMPONENT,
            child(name, f"grafana-{stem}")[:63].rstrip("-"),
            extra_labels={"grafana_dashboard": "1"},
            annotations={"grafana_folder": "fitpipe"},
        ),
        "data": {
            filename if filename.endswith(".json") else f"{filename}.json": json.dumps(dashboard, indent=1)
        },
    }


def monitoring_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    monitoring = spec["monitoring"]
    extra = dict(monitoring.get("labels") or {})
    out: list[dict[str, Any]] = []
    if monitoring["serviceMonitor"]["enabled"]:
        out.append(_service_monitor(name, namespace, spec, extra))
    if monitoring["prometheusRule"]["enabled"]:
        groups = alert_rule_groups(name, namespace, monitoring.get("thresholds") or {})
        if groups is not None:
            out.append(
                {
                    "apiVersion": MONITORING_API,
                    "kind": "PrometheusRule",
                    "metadata": metadata(name, namespace, COMPONENT, name, extra_labels=extra),
                    "spec": {"groups": groups},
                }
            )
    if monitoring["alertmanager"]["enabled"]:
        out.append(_alertmanager_config(name, namespace, spec))
    if monitoring["grafanaDashboards"]["enabled"]:
        for filename, dashboard in sorted((grafana_dashboards() or {}).items()):
            out.append(_dashboard_configmap(name, namespace, filename, dashboard))
    return out
