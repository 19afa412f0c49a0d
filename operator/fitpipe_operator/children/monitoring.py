"""The prometheus-operator objects of a pipeline (ServiceMonitor on the API's /metrics, PrometheusRule,
optional AlertmanagerConfig mailing alerts) and the Grafana dashboard ConfigMaps.

A Prometheus selects ServiceMonitors and PrometheusRules by label (a stock kube-prometheus-stack:
`release: <its release>`), so they carry the operator's monitoring labels (default
`release: kube-prometheus-stack`) overlaid with `spec.monitoring.labels`. prometheus-operator routes an
AlertmanagerConfig only the alerts of its own namespace (it adds a `namespace` matcher to its route and
inhibition rules): the alert rules keep that label. Routing mirrors monitoring/alertmanager.yml:
critical alerts mailed at once, warnings grouped, a pipeline's warnings muted while its critical fires."""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from fitpipe.errors import ConfigError, InputError
from fitpipe.monitoring.alertmanager import SUBJECT, TEXT
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["DEFAULT_MONITORING_LABELS", "monitoring_children", "alert_rule_groups", "grafana_dashboards"]

COMPONENT = "monitoring"
MONITORING_API = "monitoring.coreos.com/v1"
# What a kube-prometheus-stack installed as release `kube-prometheus-stack` selects by default.
DEFAULT_MONITORING_LABELS: Mapping[str, str] = {"release": "kube-prometheus-stack"}


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


def _equal(label: str, value: str) -> dict[str, str]:
    return {"name": label, "value": value, "matchType": "="}


def _alertmanager_config(
    name: str, namespace: str, spec: dict[str, Any], extra: dict[str, str]
) -> dict[str, Any]:
    mail = spec["monitoring"]["alertmanager"]

    def email(send_resolved: bool) -> dict[str, Any]:
        config: dict[str, Any] = {
            "to": mail["to"],
            "from": mail["from"],
            "smarthost": mail["smarthost"],
            "requireTLS": mail["requireTLS"],
            "sendResolved": send_resolved,
            # The same mail as the local Alertmanager sends (monitoring/alertmanager.yml).
            "headers": [{"key": "Subject", "value": SUBJECT}],
            "text": TEXT,
        }
        if mail.get("authUsername"):
            config["authUsername"] = mail["authUsername"]
            if spec["smtp"].get("secretName"):
                config["authPassword"] = {"name": spec["smtp"]["secretName"], "key": "password"}
        return config

    critical, warning = _equal("severity", "critical"), _equal("severity", "warning")
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": metadata(name, namespace, COMPONENT, child(name, "alerts"), extra_labels=extra),
        "spec": {
            # prometheus-operator adds a `namespace` matcher: this route sees only this namespace's alerts.
            "route": {
                "receiver": "email-warning",
                "matchers": [_equal("fitpipe_pipeline", name)],
                "groupBy": ["alertname", "fitpipe_pipeline", "study"],
                "groupWait": "30s",
                "groupInterval": "5m",
                "repeatInterval": "12h",
                "routes": [
                    # At once, and again every 4 hours while it lasts.
                    {
                        "receiver": "email-critical",
                        "matchers": [critical],
                        "groupWait": "10s",
                        "repeatInterval": "4h",
                    },
                    # Grouped: warnings that start within two minutes go out in one mail, once a day.
                    {
                        "receiver": "email-warning",
                        "matchers": [warning],
                        "groupWait": "2m",
                        "groupInterval": "5m",
                        "repeatInterval": "24h",
                    },
                ],
            },
            "receivers": [
                {"name": "email-critical", "emailConfigs": [email(True)]},
                {"name": "email-warning", "emailConfigs": [email(False)]},
            ],
            "inhibitRules": [
                # A critical alert of this pipeline mutes its warnings about the same study (alerts
                # without a study, ingest and API, count as one).
                {
                    "sourceMatch": [critical, _equal("fitpipe_pipeline", name)],
                    "targetMatch": [warning, _equal("fitpipe_pipeline", name)],
                    "equal": ["study"],
                },
                # A failed or stale daily load explains participants looking out of sync.
                {
                    "sourceMatch": [
                        critical,
                        _equal("component", "ingest"),
                        _equal("fitpipe_pipeline", name),
                    ],
                    "targetMatch": [
                        warning,
                        _equal("component", "participants"),
                        _equal("fitpipe_pipeline", name),
                    ],
                },
            ],
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


def monitoring_children(
    name: str,
    namespace: str,
    spec: dict[str, Any],
    monitoring_labels: Mapping[str, str] = DEFAULT_MONITORING_LABELS,
) -> list[dict[str, Any]]:
    monitoring = spec["monitoring"]
    extra = {**monitoring_labels, **(monitoring.get("labels") or {})}
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
        out.append(_alertmanager_config(name, namespace, spec, extra))
    if monitoring["grafanaDashboards"]["enabled"]:
        for filename, dashboard in sorted((grafana_dashboards() or {}).items()):
            out.append(_dashboard_configmap(name, namespace, filename, dashboard))
    return out
