"""The operator's work on one FitbitPipeline, below the kopf handlers: create the generated Secrets once
(owned by the database volume) and count how often each was created, apply the rendered children as
owned objects, prune children no longer rendered, observe state. One child's failure never stops the
others: every error is collected and reported, and the next pass retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fitpipe_operator.children.ingest import COMPONENT as INGEST
from fitpipe_operator.children.ingest import cronjob_name
from fitpipe_operator.children.migration import COMPONENT as MIGRATE
from fitpipe_operator.children.secrets import fill_generated
from fitpipe_operator.children.timescaledb import claim_name, statefulset_name
from fitpipe_operator.cluster import PLURALS, READ_ONLY, Cluster
from fitpipe_operator.errors import ClusterError, ResourceMissingError
from fitpipe_operator.handover import hand_over_replicas
from fitpipe_operator.naming import GENERATE_ANNOTATION, MANAGED_BY, child
from fitpipe_operator.status import Children
from fitpipe_operator.storage import apply_statefulset

__all__ = [
    "Owner",
    "Outcome",
    "owned",
    "generated",
    "create_generated_secrets",
    "apply_children",
    "prune_children",
    "migration_job",
    "observe_children",
]


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
        # blockOwnerDeletion needs `update` on fitbitpipelines/finalizers (the chart grants it):
        # foreground deletion of a pipeline then waits for its children.
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
    # Generated Secret -> how many times the operator created it (status.generatedSecrets).
    generated_counts: dict[str, int] = field(default_factory=dict)
    missing_kinds: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    # "<Kind>/<name>: <what the API server said>", one per child that failed.
    errors: list[str] = field(default_factory=list)
    # What was done beyond applying (a claim grown, a StatefulSet replaced), for events.
    notes: list[str] = field(default_factory=list)
    # Why something could not be done yet (not an error: a later pass does it).
    waiting: list[str] = field(default_factory=list)
    # Deployments whose replicas went over to their autoscaler, for events.
    handovers: list[str] = field(default_factory=list)


def _annotations(manifest: dict[str, Any]) -> dict[str, str]:
    return dict(manifest["metadata"].get("annotations") or {})


def generated(manifest: dict[str, Any]) -> bool:
    return manifest["kind"] == "Secret" and GENERATE_ANNOTATION in _annotations(manifest)


def owned(manifest: dict[str, Any], owner: Owner) -> dict[str, Any]:
    """The manifest with the pipeline as its controller."""
    meta = dict(manifest["metadata"], ownerReferences=[owner.reference()])
    return dict(manifest, metadata=meta)


def _label(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def _missing(outcome: Outcome, manifest: dict[str, Any]) -> None:
    kind = f"{manifest['kind']} ({manifest['apiVersion']})"
    if kind not in outcome.missing_kinds:
        outcome.missing_kinds.append(kind)


def create_generated_secrets(
    cluster: Cluster, owner: Owner, manifests: list[dict[str, Any]], counts: dict[str, int], outcome: Outcome
) -> None:
    """Create each absent generated Secret with fresh random values, owned by the database's claim, and
    count it in `counts` (a copy ends up in outcome.generated_counts): created now, one more; found
    (409), at least one. Never reads a Secret: `create` answers 409 when it exists, and an existing one
    is left as it is."""
    secrets = [m for m in manifests if generated(m)]
    outcome.generated_counts = dict(counts)
    if not secrets:
        return
    claim = cluster.get("v1", "PersistentVolumeClaim", owner.namespace, claim_name(owner.name))
    if claim is None:
        outcome.waiting.append(f"the generated Secrets wait for the database volume {claim_name(owner.name)}")
        return
    reference = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "name": claim["metadata"]["name"],
        "uid": claim["metadata"]["uid"],
    }
    for manifest in secrets:
        secret = manifest["metadata"]["name"]
        filled = fill_generated(manifest)
        filled["metadata"]["ownerReferences"] = [reference]
        try:
            if cluster.create(filled) is not None:
                outcome.created_secrets.append(secret)
                outcome.generated_counts[secret] = int(counts.get(secret, 0)) + 1
            else:
                outcome.generated_counts[secret] = max(int(counts.get(secret, 0)), 1)
        except ClusterError as exc:
            outcome.errors.append(f"{_label(manifest)}: {exc.message}")


def apply_children(
    cluster: Cluster, owner: Owner, manifests: list[dict[str, Any]], outcome: Outcome | None = None
) -> Outcome:
    """Apply every child but the generated Secrets in order, each whatever became of the others. Kinds
    the cluster does not serve are reported, not errors."""
    outcome = outcome or Outcome()
    for manifest in manifests:
        if generated(manifest):
            continue
        manifest = owned(manifest, owner)
        try:
            if manifest["kind"] == "StatefulSet":
                outcome.notes += apply_statefulset(cluster, manifest)
            else:
                if manifest["kind"] == "Deployment" and (note := hand_over_replicas(cluster, manifest)):
                    outcome.handovers.append(note)
                cluster.apply(manifest)
            outcome.applied.append(_label(manifest))
        except ResourceMissingError:
            _missing(outcome, manifest)
        except ClusterError as exc:
            outcome.errors.append(f"{_label(manifest)}: {exc.message}")
    return outcome


def prune_children(cluster: Cluster, owner: Owner, manifests: list[dict[str, Any]], outcome: Outcome) -> None:
    """Delete objects this pipeline owns that render() no longer produces (a disabled dashboard, the
    migration Job of a previous template). Objects another controller owns, such as the ingest Jobs
    of the CronJob, are not the pipeline's and are left alone; Secrets are never deleted."""
    wanted = {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in manifests}
    selector = f"app.kubernetes.io/instance={owner.name},app.kubernetes.io/managed-by={MANAGED_BY}"
    for api_version, kind in PLURALS:
        if kind == "Secret" or (api_version, kind) in READ_ONLY:
            continue
        try:
            for item in cluster.list(api_version, kind, owner.namespace, selector):
                meta = item.get("metadata") or {}
                if not any(ref.get("uid") == owner.uid for ref in meta.get("ownerReferences") or []):
                    continue
                if (api_version, kind, meta.get("name")) in wanted:
                    continue
                if cluster.delete(api_version, kind, owner.namespace, meta["name"]):
                    outcome.pruned.append(f"{kind}/{meta['name']}")
        except ClusterError as exc:
            outcome.errors.append(f"pruning {kind}: {exc.message}")


def migration_job(manifests: list[dict[str, Any]]) -> str:
    """The name of the rendered migration Job."""
    return next(
        m["metadata"]["name"]
        for m in manifests
        if m["kind"] == "Job" and m["metadata"]["labels"].get("app.kubernetes.io/component") == MIGRATE
    )


def observe_children(
    cluster: Cluster, name: str, namespace: str, spec: dict[str, Any], migration: str
) -> Children:
    """Read the children whose state the status reports; `spec` is the defaulted spec, `migration` the
    name of the current migration Job."""
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
        statefulset=cluster.get("apps/v1", "StatefulSet", namespace, statefulset_name(name)),
        migration_job=cluster.get("batch/v1", "Job", namespace, migration),
        cronjob=cluster.get("batch/v1", "CronJob", namespace, cron),
        api=cluster.get("apps/v1", "Deployment", namespace, child(name, "api")),
        dashboard=cluster.get("apps/v1", "Deployment", namespace, child(name, "dashboard"))
        if spec["dashboard"]["enabled"]
        else None,
        ingest_jobs=jobs,
    )
