"""One pass over one FitbitPipeline: read it fresh, render, create the generated Secrets (re-rendering
when one was created anew, so the pods reading it roll), apply, prune, observe, write its status.
The kopf change handler runs it at once on every spec change; the resync loop runs it for every pipeline
every interval, which repairs drift (a child deleted or edited by hand) and keeps status current.
Passes over the same pipeline never overlap (Locks); each reads the object anew, so a late pass never
applies an older spec over a newer one."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fitpipe.errors import InputError
from fitpipe_operator.children.monitoring import DEFAULT_MONITORING_LABELS
from fitpipe_operator.cluster import Cluster
from fitpipe_operator.crd import API_VERSION, KIND
from fitpipe_operator.errors import ClusterError
from fitpipe_operator.reconcile import (
    Outcome,
    Owner,
    apply_children,
    create_generated_secrets,
    migration_job,
    observe_children,
    prune_children,
)
from fitpipe_operator.render import render
from fitpipe_operator.spec import checked_spec
from fitpipe_operator.status import condition, observed_conditions, status_update

__all__ = ["Locks", "Options", "Pass", "sync_pipeline", "list_pipelines"]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Options:
    """What the operator was started with that shapes every pipeline's children."""

    monitoring_labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MONITORING_LABELS))


class Locks:
    """One lock per pipeline, so the change handler and the resync loop take turns."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    @contextmanager
    def hold(self, namespace: str, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault((namespace, name), threading.Lock())
        with lock:
            yield


@dataclass
class Pass:
    """What one pass did: the object it read, and either the spec error or the outcome of applying."""

    body: dict[str, Any]
    generation: int | None
    invalid: InputError | None = None
    outcome: Outcome = field(default_factory=Outcome)
    # Conditions that are False not for a failure but for a risk the spec runs (DashboardSecure).
    warnings: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return self.invalid is None and not self.outcome.errors


def list_pipelines(cluster: Cluster, namespaces: list[str] | None) -> list[tuple[str, str]]:
    """(namespace, name) of every FitbitPipeline in `namespaces` (None: all namespaces)."""
    found = []
    for namespace in namespaces if namespaces is not None else [None]:
        for item in cluster.list(API_VERSION, KIND, namespace):
            meta = item["metadata"]
            found.append((meta["namespace"], meta["name"]))
    return found


def _monitoring(outcome: Outcome, labels: Mapping[str, str]) -> dict[str, Any]:
    if outcome.missing_kinds:
        missing = ", ".join(outcome.missing_kinds)
        return condition("MonitoringReady", False, "CRDsMissing", f"the cluster does not serve {missing}")
    selected = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
    return condition(
        "MonitoringReady", True, "Applied", f"monitoring objects applied ({selected}) or disabled"
    )


def _reconciled(outcome: Outcome) -> dict[str, Any]:
    if outcome.errors:
        count = len(outcome.errors)
        return condition(
            "Reconciled",
            False,
            "ApplyFailed",
            f"{count} of the children failed: " + "; ".join(outcome.errors),
        )
    message = f"{len(outcome.applied)} objects applied"
    if outcome.waiting:
        message += "; " + "; ".join(outcome.waiting)
    return condition("Reconciled", True, "Applied", message)


def sync_pipeline(cluster: Cluster, namespace: str, name: str, options: Options) -> Pass | None:
    """One pass; None when the pipeline is gone or being deleted (its children go with it)."""
    body = cluster.get(API_VERSION, KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    meta = body["metadata"]
    generation = int(meta["generation"]) if meta.get("generation") is not None else None
    spec = dict(body.get("spec") or {})
    done = Pass(body, generation)
    labels = {**options.monitoring_labels, **((spec.get("monitoring") or {}).get("labels") or {})}
    counts = {k: int(v) for k, v in ((body.get("status") or {}).get("generatedSecrets") or {}).items()}
    try:
        manifests = render(
            name, namespace, spec, monitoring_labels=options.monitoring_labels, generated=counts
        )
    except InputError as exc:
        done.invalid = exc
        update = status_update(
            body.get("status"),
            [condition("Reconciled", False, "InvalidSpec", str(exc))],
            now=_now(),
            generation=generation,
            reconciled=False,
        )
        cluster.merge_patch(API_VERSION, KIND, namespace, name, {"status": update}, subresource="status")
        return done

    owner = Owner.of(body)
    done.outcome = outcome = Outcome()
    create_generated_secrets(cluster, owner, manifests, counts, outcome)
    if outcome.generated_counts != counts:
        # Recorded at once: were the pass cut short now, a Secret created anew would go unnoticed.
        cluster.merge_patch(
            API_VERSION, KIND, namespace, name,
            {"status": {"generatedSecrets": outcome.generated_counts}}, subresource="status",
        )  # fmt: skip
        manifests = render(
            name,
            namespace,
            spec,
            monitoring_labels=options.monitoring_labels,
            generated=outcome.generated_counts,
        )
    apply_children(cluster, owner, manifests, outcome)
    prune_children(cluster, owner, manifests, outcome)
    full = checked_spec(name, spec)
    updates = [_reconciled(outcome), _monitoring(outcome, labels)]
    ingest_jobs = None
    try:
        children = observe_children(cluster, name, namespace, full, migration_job(manifests))
        updates += observed_conditions(full, children)
        done.warnings = [
            c["message"] for c in updates if c["type"] == "DashboardSecure" and c["status"] == "False"
        ]
        ingest_jobs = children.ingest_jobs
    except ClusterError as exc:
        outcome.errors.append(f"reading the children's state: {exc.message}")
        updates[0] = _reconciled(outcome)
    update = status_update(
        body.get("status"),
        updates,
        now=_now(),
        generation=generation,
        reconciled=done.reconciled,
        ingest_jobs=ingest_jobs,
        errors=outcome.errors,
    )
    cluster.merge_patch(API_VERSION, KIND, namespace, name, {"status": update}, subresource="status")
    return done
