"""The FitbitPipeline custom resource definition as Python data: its openAPIV3Schema (every field typed,
bounded and defaulted), printer columns, and the CRD manifest the Helm chart ships in crds/."""

from __future__ import annotations

import copy
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from fitpipe_operator.images import DIGEST_PATTERN, Defaults, defaults
from fitpipe_operator.schema_blocks import (
    api_autoscaling,
    backup,
    dashboard_auth,
    dashboard_ingress,
    image_reference,
    network_policy,
    secret_revisions,
)
from fitpipe_operator.schema_types import (
    CRON_PATTERN,
    DURATION_PATTERN,
    TIMEZONE_PATTERN,
    boolean,
    integer,
    obj,
    quantity,
    resources,
    secret_name,
    service,
    string,
)

__all__ = [
    "GROUP",
    "VERSION",
    "KIND",
    "PLURAL",
    "API_VERSION",
    "CHART",
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

# The Helm chart this fitpipe was installed with: charts/fitpipe/ shipped as the resource package
# fitpipe_chart (setup.py); a folder on disk, as fitpipe is installed unzipped (a wheel, or editable).
CHART = Path(str(files("fitpipe_chart")))
# The chart's copy of the CRD; tests check it equals crd_yaml() so the two never drift.
CRD_FILE = CHART / "crds" / f"{PLURAL}.{GROUP}.yaml"

# Children names append at most 22 characters (`-migrate-<8 hex>` plus a CronJob's 11-character job suffix).
MAX_NAME_LENGTH = 40


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
    return obj("Alert thresholds; unset ones keep fitpipe's defaults.", properties)


def spec_schema(images: Defaults | None = None) -> dict[str, Any]:
    """The schema of `.spec`: what a user writes; default images from images.json unless given."""
    images = images or defaults()
    image_digest = string(
        "Optional digest; when set it pins the image and the tag is only informational. Release builds "
        "default it (docs/kubernetes.md#release-builds).",
        pattern=DIGEST_PATTERN,
    )
    if images.digest:
        image_digest["default"] = images.digest
    image = obj(
        "The fitpipe image every component runs (migration Job, ingest CronJob, API, dashboard).",
        {
            "repository": string("Image repository.", default=images.repository, minLength=1),
            "tag": string("Image tag.", default=images.tag, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
            "digest": image_digest,
            "pullPolicy": string(
                "Image pull policy.", enum=["Always", "IfNotPresent", "Never"], default="IfNotPresent"
            ),
            "pullSecrets": {
                "type": "array",
                "description": "Names of image pull Secrets in this namespace.",
                "items": secret_name("A Secret of type kubernetes.io/dockerconfigjson."),
                "maxItems": 8,
            },
        },
    )
    timescaledb = obj(
        "The TimescaleDB instance (a one-replica StatefulSet with its own volume).",
        {
            "image": image_reference(
                "TimescaleDB image, `repository:tag` or pinned `repository:tag@sha256:...`. The default is "
                "the full (community-licensed) edition, which has compression and continuous aggregates "
                "(the Apache-only edition lacks both), and pgBackRest for spec.backup.",
                images.timescaledb,
            ),
            "storage": obj(
                "The database volume.",
                {
                    "size": quantity(
                        "Volume size; `fitpipe estimate` tells what a study needs. It may grow later (the "
                        "operator grows the claim; the StorageClass must allow volume expansion), never shrink."
                    )
                    | {"default": "20Gi"},
                    "storageClassName": secret_name(
                        "StorageClass of the volume; the cluster default if unset. Fixed once the pipeline exists."
                    ),
                    "deleteWithPipeline": boolean(
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
            "resources": resources(
                "CPU and memory of the database.", {"cpu": "500m", "memory": "2Gi"}, {"memory": "4Gi"}
            ),
            "credentialsSecret": secret_name(
                "An existing Secret with keys `username` and `password`. When unset, the operator generates "
                "`<name>-db-credentials` once and never rotates it."
            ),
        },
    )
    ingest = obj(
        "The daily delta load (a CronJob running `fitpipe run`).",
        {
            "schedule": string("Cron schedule.", pattern=CRON_PATTERN, default="0 1 * * *"),
            "timeZone": string(
                "IANA time zone of the schedule, and the default zone of participants' local times.",
                pattern=TIMEZONE_PATTERN,
                default="UTC",
            ),
            "suspend": boolean("Pause scheduling (a running load finishes).", False),
            "lagHours": {
                "type": "number",
                "description": "Re-read window behind each cursor, for devices that sync late.",
                "minimum": 0,
                "maximum": 720,
                "default": 72,
            },
            "successfulJobsHistoryLimit": integer("Finished loads kept.", minimum=0, maximum=100, default=3),
            "failedJobsHistoryLimit": integer("Failed loads kept.", minimum=0, maximum=100, default=3),
            "backoffLimit": integer("Retries of a failed load.", minimum=0, maximum=10, default=2),
            "activeDeadlineSeconds": integer(
                "A load running longer than this is stopped.", minimum=60, maximum=604800, default=21600
            ),
            "source": obj(
                "Where the wearable data comes from.",
                {
                    "type": string(
                        "`googleHealthApi` pulls each participant's data with their stored token; `inbox` loads "
                        "the files dropped into a volume (wearipedia CSVs, Takeout, Fitabase).",
                        enum=["googleHealthApi", "inbox"],
                        default="googleHealthApi",
                    ),
                    "inboxClaimName": secret_name(
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
            "resources": resources(
                "CPU and memory of each load.", {"cpu": "500m", "memory": "1Gi"}, {"memory": "4Gi"}
            ),
        },
    )
    api = obj(
        "The read API (`fitpipe serve api`), which also exports the ingest metrics at /metrics.",
        {
            "replicas": integer(
                "Replicas (ignored with autoscaling). Above 1, a PodDisruptionBudget keeps all but one up "
                "while nodes are drained.",
                minimum=0,
                maximum=50,
                default=2,
            ),
            "autoscaling": api_autoscaling(),
            "resources": resources(
                "CPU and memory per replica.", {"cpu": "250m", "memory": "512Mi"}, {"memory": "1Gi"}
            ),
            "service": service("The API Service.", 8000),
        },
    )
    dashboard = obj(
        "The trial manager's dashboard (`fitpipe serve dashboard`); it reads the API, never the database.",
        {
            "enabled": boolean("Run the dashboard.", True),
            "replicas": integer(
                "Replicas. Above 1, a PodDisruptionBudget keeps all but one up while nodes are drained.",
                minimum=0,
                maximum=20,
                default=1,
            ),
            "resources": resources(
                "CPU and memory per replica.", {"cpu": "250m", "memory": "512Mi"}, {"memory": "1Gi"}
            ),
            "service": service("The dashboard Service.", 8050, external_tls=True),
            "auth": dashboard_auth(images.oauth2_proxy),
            "ingress": dashboard_ingress(),
        },
    )
    monitoring = obj(
        "Prometheus-operator objects (need its CRDs, e.g. from kube-prometheus-stack) and Grafana dashboards.",
        {
            "serviceMonitor": obj(
                "Scrape the API's /metrics (which includes the ingest job's metrics).",
                {
                    "enabled": boolean("Create the ServiceMonitor.", True),
                    "interval": string("Scrape interval.", pattern=DURATION_PATTERN, default="30s"),
                },
            ),
            "prometheusRule": obj(
                "The alert rules (stale or failed loads, API errors and latency, database down).",
                {"enabled": boolean("Create the PrometheusRule.", True)},
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
            "grafanaDashboards": obj(
                'ConfigMaps labelled `grafana_dashboard: "1"` for Grafana\'s dashboard sidecar.',
                {"enabled": boolean("Create the dashboard ConfigMaps.", True)},
            ),
            "alertmanager": obj(
                "An AlertmanagerConfig that mails this pipeline's alerts: critical ones at once, warnings "
                "grouped, warnings muted while a critical alert of the pipeline fires (authenticating with "
                "the SMTP Secret's `password` when authUsername is set).",
                {
                    "enabled": boolean("Create the AlertmanagerConfig.", False),
                    "to": string(
                        "Recipients, comma-separated (e.g. admin@wearipedia.com, trial-a-oncall@example.org).",
                        pattern=r"^[^@\s,]+@[^@\s,]+(\s*,\s*[^@\s,]+@[^@\s,]+)*$",
                        maxLength=1000,
                    ),
                    "from": string("Sender address.", pattern=r"^[^@\s]+@[^@\s]+$"),
                    "smarthost": string("SMTP server as host:port.", pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$"),
                    "authUsername": string("SMTP login; the password is the SMTP Secret's `password` key."),
                    "requireTLS": boolean("Require STARTTLS.", True),
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
    return obj(
        "The desired state of one study's pipeline.",
        {
            "study": string(
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
            "networkPolicy": network_policy(),
            "backup": backup(),
            "secretRevisions": secret_revisions(),
            "smtp": obj(
                "Mail for reports and alerts.",
                {
                    "secretName": secret_name(
                        "Secret with keys server, port, username, password, from, starttls, ssl_tls "
                        "(MAIL_* of every component; all keys optional)."
                    )
                },
            ),
            "googleHealth": obj(
                "The Google Health API OAuth client.",
                {"secretName": secret_name("Secret with keys client_id and client_secret.")},
            ),
            "apiToken": obj(
                "The dashboard's own API token, used only with dashboard.auth.mode oidc: a `signin` token, "
                "which can start sessions for the people the proxy vouches for and do nothing else.",
                {
                    "secretName": secret_name(
                        "Secret with key `token` (`fitpipe token create --role signin`). When unset: "
                        "`<name>-api-token`. In oidc mode the dashboard does not start until it exists."
                    )
                },
            ),
            "tokenKey": obj(
                "The key that encrypts participants' stored Google tokens.",
                {
                    "secretName": secret_name(
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
            "generatedSecrets": {
                "type": "object",
                "description": "How many times the operator created each generated Secret (a Secret deleted "
                "and created anew has new values: the workloads reading it roll, the migration Job re-runs).",
                "additionalProperties": {"type": "integer"},
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


def openapi_schema(images: Defaults | None = None) -> dict[str, Any]:
    """The whole object's openAPIV3Schema, as the API server enforces it."""
    return {
        "type": "object",
        "description": "One study's wearable-data pipeline: TimescaleDB, daily ingest, API, dashboard, monitoring.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(images),
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


def crd_manifest(images: Defaults | None = None) -> dict[str, Any]:
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
                    "schema": {"openAPIV3Schema": openapi_schema(images)},
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


def crd_yaml(images: Defaults | None = None) -> str:
    header = "# Generated by `fitpipe operator crd` from operator/fitpipe_operator/crd.py; do not edit.\n"
    return header + yaml.safe_dump(crd_manifest(images), sort_keys=False, width=120)


def write_chart_crd(path: Path = CRD_FILE, images: Defaults | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(crd_yaml(images))
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
