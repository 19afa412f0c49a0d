"""The operator's work on one FitbitPipeline, below the kopf handlers: apply the rendered children
as owned objects (generated Secrets only created), prune children no longer rendered, observe state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fitpipe_operator.children.ingest import COMPONENT as INGEST
from fitpipe_operator.children.ingest import cronjob_name
from fitpipe_operator.children.migration import migration_job_name
from fitpipe_operator.children.secrets import fill_generated
from fitpipe_operator.cluster import PLURALS, Cluster
from fitpipe_operator.errors import ResourceMissingError
from fitpipe_operator.naming import GENERATE_ANNOTATION, KEEP_ANNOTATION, MANAGED_BY, child
from fitpipe_operator.status import Children

__all__ = ["Owner", "Outcome", "owned", "apply_children", "prune_children", "observe_children"]


@dataclass(frozen=True)
class Owner:
    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, body: Any) -> Owner:
        meta = body["metadata"]
        return cls(body["apiVersion"], body["kind"], meta["name"], meta["namespace"], meta["uid"])

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)
    created_secrets: list[str] = field(default_factory=list)
    missing_kinds: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def _annotations(manifest: dict[str, Any]) -> dict[str, str]:
    return dict(manifest["metadata"].get("annotations") or {})


def owned(manifest: dict[str, Any], owner: Owner) -> dict[str, Any]:
    """The manifest with the pipeline as its controller, unless it must outlive the pipeline."""
    if _annotations(manifest).get(KEEP_ANNOTATION) == "true":
        return manifest
    meta = dict(manifest["metadata"], ownerReferences=[owner.reference()])
    return dict(manifest, metadata=meta)


def _label(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def apply_children(cluster: Cluster, owner: Owner, manifests: list[dict[str, Any]]) -> Outcome:
    """Apply every child in order. Generated Secrets are created once and never touched again, so a
    password is never rotated by accident. Kinds the cluster does not serve are reported, not fatal."""
    outcome = Outcome()
    for manifest in manifests:
        manifest = owned(manifest, owner)
        try:
            if manifest["kind"] == "Secret" and GENERATE_ANNOTATION in _annotations(manifest):
                # get() first, so an existing Secret's value is never even sent (create() would refuse it anyway).
                absent = cluster.get("v1", "Secret", owner.namespace, manifest["metadata"]["name"]) is None
                if absent and cluster.create(fill_generated(manifest)) is not None:
                    outcome.created_secrets.append(manifest["metadata"]["name"])
                continue
            cluster.apply(manifest)
            outcome.applied.append(_label(manifest))
        except ResourceMissingError:
            kind = f"{manifest['kind']} ({manifest['apiVersion']})"
            if kind not in outcome.missing_kinds:
                outcome.missing_kinds.append(kind)
    return outcome


def prune_children(cluster: Cluster, owner: Owner, manifests: list[dict[str, Any]]) -> list[str]:
    """Delete objects this pipeline owns that render() no longer produces (a disabled dashboard, the
    migration Job of a previous image). Objects another controller owns, such as the ingest Jobs of
    the CronJob, are not the pipeline's and are left alone."""
    wanted = {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in manifests}
    selector = f"app.kubernetes.io/instance={owner.name},app.kubernetes.io/managed-by={MANAGED_BY}"
    pruned = []
    for api_version, kind in PLURALS:
        if kind == "Secret":
            continue  # credentials are never deleted by the operator
        for item in cluster.list(api_version, kind, owner.namespace, selector):
            meta = item.get("metadata") or {}
            owners = meta.get("ownerReferences") or []
            if not any(ref.get("uid") == owner.uid for ref in owners):
                continue
            if (api_version, kind, meta.get("name")) in wanted:
                continue
            if cluster.delete(api_version, kind, owner.namespace, meta["name"]):
                pruned.append(f"{kind}/{meta['name']}")
    return pruned


def observe_children(cluster: Cluster, name: str, namespace: str, spec: dict[str, Any]) -> Children:
    """Read the children whose state the status reports; `spec` is the defaulted spec."""
    ingest_selector = f"app.kubernetes.io/instance={name},app.kubernetes.io/component={INGEST}"
    cron = cronjob_name(name)
    jobs = [
        job
        for job in cluster.list("batch/v1", "Job", namespace, ingest_selector)
        if any(
            ref.get("kind") == "CronJob" and ref.get("name") == cron
            for ref in job["metadata"].get("ownerReferences") or []
        )
    ]
    return Children(
        statefulset=cluster.get("apps/v1", "StatefulSet", namespace, child(name, "timescaledb")),
        migration_job=cluster.get("batch/v1", "Job", namespace, migration_job_name(name, spec)),
        cronjob=cluster.get("batch/v1", "CronJob", namespace, cron),
        api=cluster.get("apps/v1", "Deployment", namespace, child(name, "api")),
        dashboard=cluster.get("apps/v1", "Deployment", namespace, child(name, "dashboard"))
        if spec["dashboard"]["enabled"]
        else None,
        ingest_jobs=jobs,
    )
