"""A FitbitPipeline's status from what its children report, as pure functions: one condition per
part (DatabaseReady, SchemaMigrated, IngestScheduled, ApiReady, DashboardReady), Ready over them, the
last ingest run, and DashboardSecure, a warning when the dashboard is reachable over plain HTTP (its
cookies are Secure: nobody could sign in); transition times move only when a condition's status changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Children",
    "condition",
    "dashboard_secure",
    "observed_conditions",
    "merge_conditions",
    "last_ingest",
    "status_update",
]

# The conditions Ready waits for; IngestScheduled and MonitoringReady are reported but a paused
# schedule or an absent Prometheus does not make the API unusable.
READY_NEEDS = ("Reconciled", "DatabaseReady", "SchemaMigrated", "ApiReady", "DashboardReady")


@dataclass
class Children:
    """The children whose state the status reports (None: not found in the cluster)."""

    statefulset: dict[str, Any] | None = None
    migration_job: dict[str, Any] | None = None
    cronjob: dict[str, Any] | None = None
    api: dict[str, Any] | None = None
    dashboard: dict[str, Any] | None = None
    ingest_jobs: list[dict[str, Any]] = field(default_factory=list)


def condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def _job_failed(job: dict[str, Any]) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            return str(cond.get("message") or cond.get("reason") or "failed")
    return None


def _deployment(kind: str, deployment: dict[str, Any] | None, wanted: int) -> dict[str, Any]:
    if deployment is None:
        return condition(kind, False, "NotCreated", "the Deployment does not exist yet")
    if wanted == 0:
        return condition(kind, True, "ScaledToZero", "replicas is 0")
    available = int((deployment.get("status") or {}).get("availableReplicas") or 0)
    if available >= 1:
        return condition(kind, True, "Available", f"{available}/{wanted} replicas available")
    return condition(kind, False, "Unavailable", f"0/{wanted} replicas available")


def dashboard_secure(spec: dict[str, Any]) -> dict[str, Any]:
    """Whether browsers reach the dashboard over HTTPS, as far as the spec tells."""
    dashboard = spec["dashboard"]
    kind = "DashboardSecure"
    if not dashboard["enabled"]:
        return condition(kind, True, "Disabled", "spec.dashboard.enabled is false")
    service = dashboard["service"]
    if service["type"] in ("NodePort", "LoadBalancer") and not service["externalTLS"]:
        return condition(
            kind,
            False,
            "PlainHTTP",
            f"the dashboard Service is a {service['type']} serving plain HTTP: browsers keep the Secure "
            "session cookie from it, so nobody can sign in. Serve it through spec.dashboard.ingress (TLS), "
            "or terminate TLS at the load balancer and set spec.dashboard.service.externalTLS: true",
        )
    if dashboard["ingress"]["enabled"]:
        return condition(
            kind, True, "IngressTLS", f"served over HTTPS at https://{dashboard['ingress']['host']}/"
        )
    if service["type"] != "ClusterIP":
        return condition(kind, True, "ExternalTLS", "TLS is terminated in front of the Service (externalTLS)")
    return condition(
        kind,
        True,
        "ClusterInternal",
        "reachable inside the cluster only: add spec.dashboard.ingress, or use `kubectl port-forward` "
        "(browsers accept Secure cookies from http://localhost)",
    )


def observed_conditions(spec: dict[str, Any], children: Children) -> list[dict[str, Any]]:
    """The per-part conditions; `spec` is the defaulted spec."""
    out = []
    sts = children.statefulset
    if sts is None:
        out.append(condition("DatabaseReady", False, "NotCreated", "the StatefulSet does not exist yet"))
    elif int((sts.get("status") or {}).get("readyReplicas") or 0) >= 1:
        out.append(condition("DatabaseReady", True, "Running", "TimescaleDB accepts connections"))
    else:
        out.append(condition("DatabaseReady", False, "Starting", "TimescaleDB is not ready yet"))

    job = children.migration_job
    if job is None:
        out.append(condition("SchemaMigrated", False, "NotCreated", "the migration Job does not exist yet"))
    elif int((job.get("status") or {}).get("succeeded") or 0) >= 1:
        out.append(condition("SchemaMigrated", True, "Migrated", "`fitpipe migrate` succeeded"))
    elif (failure := _job_failed(job)) is not None:
        out.append(
            condition("SchemaMigrated", False, "MigrationFailed", f"`fitpipe migrate` failed: {failure}")
        )
    else:
        attempts = int((job.get("status") or {}).get("failed") or 0) + 1
        out.append(
            condition("SchemaMigrated", False, "Running", f"`fitpipe migrate` running (attempt {attempts})")
        )

    ingest = spec["ingest"]
    if children.cronjob is None:
        out.append(condition("IngestScheduled", False, "NotCreated", "the CronJob does not exist yet"))
    elif (children.cronjob.get("spec") or {}).get("suspend"):
        out.append(condition("IngestScheduled", False, "Suspended", "spec.ingest.suspend is true"))
    else:
        out.append(
            condition(
                "IngestScheduled", True, "Scheduled", f"runs at '{ingest['schedule']}' ({ingest['timeZone']})"
            )
        )

    out.append(_deployment("ApiReady", children.api, spec["api"]["replicas"]))
    if spec["dashboard"]["enabled"]:
        out.append(_deployment("DashboardReady", children.dashboard, spec["dashboard"]["replicas"]))
    else:
        out.append(condition("DashboardReady", True, "Disabled", "spec.dashboard.enabled is false"))
    out.append(dashboard_secure(spec))
    return out


def _ready(conditions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    for kind in READY_NEEDS:
        cond = conditions.get(kind)
        if cond is None:
            return condition("Ready", False, f"{kind}Unknown", f"{kind} not observed yet")
        if cond["status"] != "True":
            return condition(
                "Ready", False, cond.get("reason") or f"Not{kind}", f"{kind}: {cond.get('message', '')}"
            )
    return condition("Ready", True, "AllReady", "database, schema, API and dashboard are up")


def merge_conditions(
    old: list[dict[str, Any]], updates: list[dict[str, Any]], *, now: str, generation: int | None
) -> list[dict[str, Any]]:
    """Old conditions with `updates` laid over them, then Ready recomputed; lastTransitionTime is kept
    while a condition's status stays the same."""
    by_type = {c["type"]: dict(c) for c in old if "type" in c}
    for update in updates:
        previous = by_type.get(update["type"])
        merged = dict(update)
        if (
            previous is not None
            and previous.get("status") == update["status"]
            and previous.get("lastTransitionTime")
        ):
            merged["lastTransitionTime"] = previous["lastTransitionTime"]
        else:
            merged["lastTransitionTime"] = now
        if generation is not None:
            merged["observedGeneration"] = generation
        by_type[update["type"]] = merged
    ready = _ready(by_type)
    previous = by_type.get("Ready")
    ready["lastTransitionTime"] = (
        previous["lastTransitionTime"]
        if previous is not None
        and previous.get("status") == ready["status"]
        and previous.get("lastTransitionTime")
        else now
    )
    if generation is not None:
        ready["observedGeneration"] = generation
    by_type["Ready"] = ready
    order = ["Ready", *READY_NEEDS, "IngestScheduled", "MonitoringReady", "DashboardSecure"]
    return sorted(
        by_type.values(),
        key=lambda c: (order.index(c["type"]) if c["type"] in order else len(order), c["type"]),
    )


def last_ingest(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest Job the CronJob started: its name, times and result."""
    if not jobs:
        return None

    def started(job: dict[str, Any]) -> str:
        return str(
            (job.get("status") or {}).get("startTime") or job["metadata"].get("creationTimestamp") or ""
        )

    job = max(jobs, key=started)
    status = job.get("status") or {}
    if int(status.get("succeeded") or 0) >= 1:
        result = "Succeeded"
    elif _job_failed(job) is not None:
        result = "Failed"
    else:
        result = "Running"
    out: dict[str, Any] = {"job": job["metadata"]["name"], "result": result}
    if started(job):
        out["startTime"] = started(job)
    if status.get("completionTime"):
        out["completionTime"] = status["completionTime"]
    return out


def status_update(
    old_status: dict[str, Any] | None,
    updates: list[dict[str, Any]],
    *,
    now: str,
    generation: int | None,
    reconciled: bool,
    ingest_jobs: list[dict[str, Any]] | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    """The status fields to merge-patch: conditions (merged, each marked with the `generation` they were
    observed at), observedGeneration (moved to `generation` only when it was `reconciled`: applied
    without an error, as kstatus, Argo CD and `kubectl wait` read it), lastIngest, and `errors`, one
    line per child that failed (null clears them)."""
    old = old_status or {}
    patch: dict[str, Any] = {
        "conditions": merge_conditions(
            list(old.get("conditions") or []), updates, now=now, generation=generation
        ),
        "errors": list(errors) if errors else None,
    }
    if reconciled and generation is not None:
        patch["observedGeneration"] = generation
    if ingest_jobs is not None and (ingest := last_ingest(ingest_jobs)) is not None:
        patch["lastIngest"] = ingest
    return patch
