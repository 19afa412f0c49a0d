"""The pure heart of the operator: render(name, namespace, spec) -> every child manifest of a
FitbitPipeline, in the order they are applied (what a workload reads comes before it). No cluster, no
clock, no randomness: what the operator knows of its generated Secrets (how often it created each)
comes in as an argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fitpipe.errors import InputError
from fitpipe_operator.children.api import api_children
from fitpipe_operator.children.backup import backup_children
from fitpipe_operator.children.dashboard import dashboard_children
from fitpipe_operator.children.ingest import ingest_children
from fitpipe_operator.children.migration import migration_children
from fitpipe_operator.children.monitoring import DEFAULT_MONITORING_LABELS, monitoring_children
from fitpipe_operator.children.network import network_children
from fitpipe_operator.children.rollout import with_checksums
from fitpipe_operator.children.scaling import scaling_children
from fitpipe_operator.children.secrets import generated_secrets
from fitpipe_operator.children.timescaledb import timescaledb_children
from fitpipe_operator.crd import API_VERSION, KIND
from fitpipe_operator.spec import checked_spec

__all__ = ["DEFAULT_MONITORING_LABELS", "render", "render_document"]


def render(
    name: str,
    namespace: str,
    spec: dict[str, Any] | None,
    *,
    monitoring_labels: Mapping[str, str] = DEFAULT_MONITORING_LABELS,
    generated: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Every child of the pipeline `namespace/name`. Raises InputError (naming the field) for a bad spec.

    `generated` counts how many times the operator created each generated Secret (status.generatedSecrets):
    a Secret created anew rolls the pods that read it (children/rollout.py).

    `monitoring_labels` go on the prometheus-operator objects so a Prometheus selects them (the operator
    gets them from the chart; `spec.monitoring.labels` override them per pipeline). Generated Secrets
    come without their random values (the operator fills them once, on creation); owner references
    are added by the operator, which knows the owners' uids."""
    full = checked_spec(name, spec)
    children = [
        *generated_secrets(name, namespace, full),
        *backup_children(name, namespace, full),
        *timescaledb_children(name, namespace, full),
        *migration_children(name, namespace, full),
        *ingest_children(name, namespace, full),
        *api_children(name, namespace, full),
        *dashboard_children(name, namespace, full),
        *scaling_children(name, namespace, full),
        *network_children(name, namespace, full),
        *monitoring_children(name, namespace, full, monitoring_labels),
    ]
    return with_checksums(name, children, full, generated or {})


def render_document(
    document: dict[str, Any],
    default_namespace: str = "default",
    *,
    monitoring_labels: Mapping[str, str] = DEFAULT_MONITORING_LABELS,
) -> list[dict[str, Any]]:
    """render() for a whole FitbitPipeline object as read from a YAML file (or `kubectl get -o yaml`,
    whose status.generatedSecrets it honours, so the preview equals what the operator applies)."""
    if not isinstance(document, dict) or document.get("kind") != KIND:
        found = document.get("kind") if isinstance(document, dict) else type(document).__name__
        raise InputError(f"expected a {KIND}, found {found!r}", field="kind")
    if document.get("apiVersion") != API_VERSION:
        raise InputError(
            f"unsupported apiVersion {document.get('apiVersion')!r}",
            field="apiVersion",
            hint=f"use {API_VERSION}",
        )
    meta = document.get("metadata") or {}
    if not meta.get("name"):
        raise InputError("a FitbitPipeline needs metadata.name", field="metadata.name")
    status = document.get("status") or {}
    return render(
        meta["name"],
        meta.get("namespace") or default_namespace,
        document.get("spec") or {},
        monitoring_labels=monitoring_labels,
        generated=status.get("generatedSecrets") or {},
    )
