"""The FitbitPipeline custom resource definition as Python data: its openAPIV3Schema (every field typed,
bounded and defaulted), printer columns, and the CRD manifest the Helm chart ships in crds/."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "GROUP",
    "VERSION",
    "KIND",
    "PLURAL",
    "API_VERSION",
    "CRD_FILE",
    "openapi_schema",
    "spec_schema",
    "crd_manifest",
    "crd_yaml",
    "write_chart_crd",
    "jsonschema_of",
]

GROUP = "fitpipe.io"
VERSION = "v1alpha1"
KIND = "FitbitPipeline"
PLURAL = "fitbitpipelines"
SINGULAR = "fitbitpipeline"
SHORT_NAMES = ["fbp"]
API_VERSION = f"{GROUP}/{VERSION}"

# The chart's copy of the CRD; tests check it equals crd_yaml() so the two never drift.
CRD_FILE = Path(__file__).resolve().parents[2] / "charts" / "fitpipe" / "crds" / f"{PLURAL}.{GROUP}.yaml"

# Kubernetes quantities (resource.Quantity) in the forms people write: 500m, 2, 1.5, 512Mi, 20Gi, 1e3.
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$"
# Five cron fields as CronJob accepts them (numbers, *, ranges, steps, lists, month/day names, ?), or a macro.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|hourly)"
    r"|[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/?-]+\s+[0-9A-Za-z*,/-]+\s+[0-9A-Za-z*,/?-]+)$"
)
# IANA zone names (Europe/Berlin, America/Argentina/Buenos_Aires, UTC, Etc/GMT+5).
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
# Prometheus durations as prometheus-operator accepts them (30s, 1m, 1h30m).
DURATION_PATTERN = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
# A DNS-1123 subdomain: what Kubernetes accepts as the name of a Secret, PVC or StorageClass.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Children names append at most 22 characters (`-migrate-<8 hex>` plus a CronJob's 11-character job suffix).
MAX_NAME_LENGTH = 40


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _integer(description: str, *, minimum: int, maximum: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
    }
    if default is not None:
        schema["default"] = default
    return schema


def _boolean(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def _object(
    description: str,
    properties: dict[str, Any],
    *,
    required: list[str] | None = None,
    defaulted: bool = True,
    rules: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    # `default: {}` makes the API server (and apply_defaults) fill the nested defaults even when the
    # user leaves the whole block out, so `spec: {}` is a complete, working pipeline. The API server
    # checks each rule against that bare `{}` when the CRD is created: rules guard fields with has().
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if defaulted:
        schema["default"] = {}
    if rules:
        schema["x-kubernetes-validations"] = rules
    return schema


def _quantity(description: str) -> dict[str, Any]:
    # maxLength bounds the cost the API server estimates for CEL rules reading it.
    return _string(description, pattern=QUANTITY_PATTERN, maxLength=64)


def _secret_name(description: str) -> dict[str, Any]:
    return _string(description, pattern=OBJECT_NAME_PATTERN, maxLength=253)


def _resources(description: str, requests: dict[str, str], limits: dict[str, str]) -> dict[str, Any]:
    def amounts(what: str, default: dict[str, str]) -> dict[str, Any]:
        schema = _object(
            what,
            {"cpu": _quantity("CPU, e.g. 500m or 2."), "memory": _quantity("Memory, e.g. 512Mi or 4Gi.")},
            defaulted=False,
        )
        schema["default"] = default
        return schema

    return _object(
        description,
        {
            "requests": amounts("What the scheduler reserves.", requests),
            "limits": amounts("The ceiling.", limits),
        },
    )


def _service(description: str, port: int) -> dict[str, Any]:
    return _object(
        description,
        {
            "type": _string(
                "How the Service is exposed.",
                enum=["ClusterIP", "NodePort", "LoadBalancer"],
                default="ClusterIP",
            ),
            "port": _integer("The Service port.", minimum=1, maximum=65535, default=port),
        },
    )


def _thresholds() -> dict[str, Any]:
    # The alert rules' own thresholds, so a typo is refused by the API server, not at rule time.
    from fitpipe.monitoring.alerts import THRESHOLDS

    properties = {}
    for threshold in THRESHOLDS:
        schema: dict[str, Any] = {
            "type": "number",
            "description": f"{threshold.description} Default {threshold.default:g} ({threshold.unit}).",
            "minimum": threshold.minimum,
        }
        if threshold.maximum is not None:
            schema["maximum"] = threshold.maximum
        properties[threshold.name] = schema
    return _object("Alert thresholds; unset ones keep fitpipe's defaults.", properties)


def spec_schema() -> dict[str, Any]:
    """The schema of `.spec`: what a user writes."""
    image = _object(
        "The fitpipe image every component runs (migration Job, ingest CronJob, API, dashboard).",
        {
            "repository": _string("Image repository.", default="ghcr.io/fitpipe/fitpipe", minLength=1),
            "tag": _string("Image tag.", default="0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
            "digest": _string(
                "Optional digest; when set it pins the image instead of the tag.",
                pattern=r"^sha256:[a-f0-9]{64}$",
            ),
            "pullPolicy": _string(
                "Image pull policy.", enum=["Always", "IfNotPresent", "Never"], default="IfNotPresent"
            ),
            "pullSecrets": {
                "type": "array",
                "description": "Names of image pull Secrets in this namespace.",
                "items": _secret_name("A Secret of type kubernetes.io/dockerconfigjson."),
                "maxItems": 8,
            },
        },
    )
    timescaledb = _object(
        "The TimescaleDB instance (a one-replica StatefulSet with its own volume).",
        {
            "image": _string(
                "TimescaleDB image. The default is the full (community-licensed) edition, which has compression "
                "and continuous aggregates; the Apache-only edition lacks both.",
                default="timescale/timescaledb-ha:pg15",
                minLength=1,
            ),
            "storage": _object(
                "The database volume.",
                {
                    "size": _quantity(
                        "Volume size; `fitpipe estimate` tells what a study needs. It may grow later (the "
                        "operator grows the claim; the StorageClass must allow volume expansion), never shrink."
                    )
                    | {"default": "20Gi"},
                    "storageClassName": _secret_name(
                        "StorageClass of the volume; the cluster default if unset. Fixed once the pipeline exists."
                    ),
                    "deleteWithPipeline": _boolean(
                        "Delete the volume (and the generated credentials that open it) when the "
                        "FitbitPipeline is deleted. Off by default: study data outlives its pipeline. "
                        "It may be switched either way at any time; what holds when the pipeline is deleted counts.",
                        False,
                    ),
                },
                rules=[
                    {
                        # Transition rules (oldSelf): checked on update only.
                        "rule": "has(self.storageClassName) == has(oldSelf.storageClassName) && "
                        "(!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",
                        "message": "timescaledb.storage.storageClassName cannot change once the pipeline exists: "
                        "the data would have to move to a new volume (back it up, restore it into a new pipeline)",
                    },
                    {
                        "rule": "!has(self.size) || !has(oldSelf.size) || "
                        "quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0",
                        "message": "timescaledb.storage.size cannot shrink: a volume only grows",
                    },
                ],
            ),
            "resources": _resources(
                "CPU and memory of the database.", {"cpu": "500m", "memory": "2Gi"}, {"memory": "4Gi"}
            ),
            "credentialsSecret": _secret_name(
                "An existing Secret with keys `username` and `password`. When unset, the operator generates "
                "`<name>-db-credentials` once and never rotates it."
            ),
        },
    )
    ingest = _object(
        "The daily delta load (a CronJob running `fitpipe run`).",
        {
            "schedule": _string("Cron schedule.", pattern=CRON_PATTERN, default="0 1 * * *"),
            "timeZone": _string(
                "IANA time zone of the schedule, and the default zone of participants' local times.",
                pattern=TIMEZONE_PATTERN,
                default="UTC",
            ),
            "suspend": _boolean("Pause scheduling (a running load finishes).", False),
            "lagHours": {
                "type": "number",
                "description": "Re-read window behind each cursor, for devices that sync late.",
                "minimum": 0,
                "maximum": 720,
                "default": 72,
            },
            "successfulJobsHistoryLimit": _integer("Finished loads kept.", minimum=0, maximum=100, default=3),
            "failedJobsHistoryLimit": _integer("Failed loads kept.", minimum=0, maximum=100, default=3),
            "backoffLimit": _integer("Retries of a failed load.", minimum=0, maximum=10, default=2),
            "activeDeadlineSeconds": _integer(
                "A load running longer than this is stopped.", minimum=60, maximum=604800, default=21600
            ),
            "source": _object(
                "Where the wearable data comes from.",
                {
                    "type": _string(
                        "`googleHealthApi` pulls each participant's data with their stored token; `inbox` loads "
                        "the files dropped into a volume (wearipedia CSVs, Takeout, Fitabase).",
                        enum=["googleHealthApi", "inbox"],
                        default="googleHealthApi",
                    ),
                    "inboxClaimName": _secret_name(
                        "PersistentVolumeClaim holding the inbox (`<study>/<participant>/…`); needed for `inbox`."
                    ),
                },
                rules=[
                    {
                        "rule": "!has(self.type) || self.type != 'inbox' || has(self.inboxClaimName)",
                        "message": "source.type inbox needs source.inboxClaimName",
                    }
                ],
            ),
            "resources": _resources(
                "CPU and memory of each load.", {"cpu": "500m", "memory": "1Gi"}, {"memory": "4Gi"}
            ),
        },
    )
    api = _object(
        "The read API (`fitpipe serve api`), which also exports the ingest metrics at /metrics.",
        {
            "replicas": _integer("Replicas.", minimum=0, maximum=50, default=2),
            "resources": _resources(
                "CPU and memory per replica.", {"cpu": "250m", "memory": "512Mi"}, {"memory": "1Gi"}
            ),
            "service": _service("The API Service.", 8000),
        },
    )
    dashboard = _object(
        "The trial manager's dashboard (`fitpipe serve dashboard`); it reads the API, never the database.",
        {
            "enabled": _boolean("Run the dashboard.", True),
            "replicas": _integer("Replicas.", minimum=0, maximum=20, default=1),
            "resources": _resources(
                "CPU and memory per replica.", {"cpu": "250m", "memory": "512Mi"}, {"memory": "1Gi"}
            ),
            "service": _service("The dashboard Service.", 8050),
        },
    )
    monitoring = _object(
        "Prometheus-operator objects (need its CRDs, e.g. from kube-prometheus-stack) and Grafana dashboards.",
        {
            "serviceMonitor": _object(
                "Scrape the API's /metrics (which includes the ingest job's metrics).",
                {
                    "enabled": _boolean("Create the ServiceMonitor.", True),
                    "interval": _string("Scrape interval.", pattern=DURATION_PATTERN, default="30s"),
                },
            ),
            "prometheusRule": _object(
                "The alert rules (stale or failed loads, API errors and latency, database down).",
                {"enabled": _boolean("Create the PrometheusRule.", True)},
            ),
            "thresholds": _thresholds(),
            "labels": {
                "type": "object",
                "description": "Labels on the ServiceMonitor, PrometheusRule and AlertmanagerConfig, over the "
                "operator's (the chart's `monitoringLabels`, default `release: kube-prometheus-stack`), so "
                "Prometheus selects them (kube-prometheus-stack selects `release: <its release name>`).",
                "additionalProperties": {"type": "string", "maxLength": 63},
                "maxProperties": 16,
            },
            "grafanaDashboards": _object(
                'ConfigMaps labelled `grafana_dashboard: "1"` for Grafana\'s dashboard sidecar.',
                {"enabled": _boolean("Create the dashboard ConfigMaps.", True)},
            ),
            "alertmanager": _object(
                "An AlertmanagerConfig that mails this pipeline's alerts: critical ones at once, warnings "
                "grouped, warnings muted while a critical alert of the pipeline fires (authenticating with "
                "the SMTP Secret's `password` when authUsername is set).",
                {
                    "enabled": _boolean("Create the AlertmanagerConfig.", False),
                    "to": _string(
                        "Recipients, comma-separated (e.g. admin@wearipedia.com, trial-a-oncall@example.org).",
                        pattern=r"^[^@\s,]+@[^@\s,]+(\s*,\s*[^@\s,]+@[^@\s,]+)*$",
                        maxLength=1000,
                    ),
                    "from": _string("Sender address.", pattern=r"^[^@\s]+@[^@\s]+$"),
                    "smarthost": _string("SMTP server as host:port.", pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$"),
                    "authUsername": _string("SMTP login; the password is the SMTP Secret's `password` key."),
                    "requireTLS": _boolean("Require STARTTLS.", True),
                },
                rules=[
                    {
                        "rule": "!has(self.enabled) || !self.enabled || "
                        "(has(self.to) && has(self.from) && has(self.smarthost))",
                        "message": "alertmanager.enabled needs to, from and smarthost",
                    }
                ],
            ),
        },
    )
    return _object(
        "The desired state of one study's pipeline.",
        {
            "study": _string(
                "The study this pipeline loads (FITPIPE_DEFAULT_STUDY); one pipeline per study.",
                default="default",
                pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
            ),
            "image": image,
            "timescaledb": timescaledb,
            "ingest": ingest,
            "api": api,
            "dashboard": dashboard,
            "monitoring": monitoring,
            "smtp": _object(
                "Mail for reports and alerts.",
                {
                    "secretName": _secret_name(
                        "Secret with keys server, port, username, password, from, starttls, ssl_tls "
                        "(MAIL_* of every component; all keys optional)."
                    )
                },
            ),
            "googleHealth": _object(
                "The Google Health API OAuth client.",
                {"secretName": _secret_name("Secret with keys client_id and client_secret.")},
            ),
            "apiToken": _object(
                "The token the dashboard presents to the API.",
                {
                    "secretName": _secret_name(
                        "Secret with key `token`, holding a service token made with `fitpipe token create`. "
                        "When unset the dashboard reads `<name>-api-token` if it exists."
                    )
                },
            ),
            "tokenKey": _object(
                "The key that encrypts participants' stored Google tokens.",
                {
                    "secretName": _secret_name(
                        "Secret with key `key`; generated once as `<name>-token-key` when unset. Losing it "
                        "means re-consenting every participant: back it up with the database."
                    )
                },
            ),
        },
        rules=[
            {
                "rule": "!has(self.ingest) || !has(self.ingest.source) || !has(self.ingest.source.type) || "
                "self.ingest.source.type != 'googleHealthApi' || "
                "(has(self.googleHealth) && has(self.googleHealth.secretName))",
                "message": "ingest.source.type googleHealthApi needs googleHealth.secretName",
            }
        ],
    )


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer"},
        },
    }


def status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What the operator observed.",
        # kopf keeps its own bookkeeping under status; unknown fields must survive pruning.
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "observedGeneration": {"type": "integer"},
            "conditions": {
                "type": "array",
                "items": _condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "errors": {
                "type": "array",
                "description": "One line per child the last pass could not apply (what the API server said).",
                "items": {"type": "string"},
            },
            "lastIngest": {
                "type": "object",
                "properties": {
                    "job": {"type": "string"},
                    "startTime": {"type": "string", "format": "date-time"},
                    "completionTime": {"type": "string", "format": "date-time"},
                    "result": {"type": "string", "enum": ["Running", "Succeeded", "Failed"]},
                },
            },
        },
    }


def openapi_schema() -> dict[str, Any]:
    """The whole object's openAPIV3Schema, as the API server enforces it."""
    return {
        "type": "object",
        "description": "One study's wearable-data pipeline: TimescaleDB, daily ingest, API, dashboard, monitoring.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "x-kubernetes-validations": [
            {
                "rule": f"self.metadata.name.size() <= {MAX_NAME_LENGTH}",
                "message": f"metadata.name must be at most {MAX_NAME_LENGTH} characters "
                "(children append suffixes and must stay within 63)",
            }
        ],
    }


def crd_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "fitpipe", "app.kubernetes.io/part-of": "fitpipe"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": SINGULAR, "shortNames": SHORT_NAMES},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": openapi_schema()},
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "Schedule", "type": "string", "jsonPath": ".spec.ingest.schedule"},
                        {"name": "Last Ingest", "type": "date", "jsonPath": ".status.lastIngest.startTime"},
                        {"name": "Result", "type": "string", "jsonPath": ".status.lastIngest.result"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def crd_yaml() -> str:
    header = "# Generated by `fitpipe operator crd` from operator/fitpipe_operator/crd.py; do not edit.\n"
    return header + yaml.safe_dump(crd_manifest(), sort_keys=False, width=120)


def write_chart_crd(path: Path = CRD_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(crd_yaml())
    return path


def jsonschema_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The openAPIV3Schema as plain JSON Schema, so jsonschema judges a document as the API server does
    with strict field validation (kubectl's default): unknown fields are errors, not silently pruned.
    The `x-kubernetes-*` extensions are dropped; their CEL rules are checked by render() instead."""
    out = copy.deepcopy(schema)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            open_ended = node.get("x-kubernetes-preserve-unknown-fields", False)
            if "properties" in node and "additionalProperties" not in node and not open_ended:
                node["additionalProperties"] = False
            for key in [k for k in node if k.startswith("x-kubernetes-")]:
                del node[key]
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(out)
    return out
