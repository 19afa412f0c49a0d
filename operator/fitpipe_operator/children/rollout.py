"""Rolling pods when what they read changes, without the operator reading any Secret.

Each workload's pod template carries `fitpipe.io/config-checksum`: a hash over the revision of every
Secret and the content of every operator-rendered ConfigMap it reads (env, envFrom, volumes). A new
value is a changed template, so the Deployment, StatefulSet or CronJob rolls its pods, and the migration
Job, named after its template, runs again. A Secret's revision is what the operator knows without
reading it:
- for a generated Secret, how many times the operator created it (status.generatedSecrets): deleted
  and created anew means new values;
- for every Secret, `spec.secretRevisions[<name>]`, which whoever changes a Secret's contents sets.
Volumes named `live-*` are left out: their program re-reads the files on every use and kubelet
refreshes them in place (pgBackRest's configuration and credentials, children/backup.py). A template
that reads no ConfigMap and no revised Secret carries no annotation, so upgrading the operator does not
restart the database for nothing."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from fitpipe_operator.children.migration import COMPONENT as MIGRATE
from fitpipe_operator.children.migration import migration_job_name

__all__ = ["CHECKSUM_ANNOTATION", "LIVE_PREFIX", "referenced", "revision", "with_checksums", "pod_template"]

CHECKSUM_ANNOTATION = "fitpipe.io/config-checksum"
LIVE_PREFIX = "live-"
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")


def pod_template(manifest: dict[str, Any]) -> dict[str, Any]:
    if manifest["kind"] == "CronJob":
        return dict(manifest["spec"]["jobTemplate"]["spec"]["template"])
    return dict(manifest["spec"]["template"])


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers") or []
    yield from pod.get("containers") or []


def referenced(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(Secret names, ConfigMap names) the pod spec reads, but for `live-*` volumes."""
    secrets: set[str] = set()
    configmaps: set[str] = set()
    for container in _containers(pod):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if "secretKeyRef" in source:
                secrets.add(source["secretKeyRef"]["name"])
            if "configMapKeyRef" in source:
                configmaps.add(source["configMapKeyRef"]["name"])
        for env_from in container.get("envFrom") or []:
            if "secretRef" in env_from:
                secrets.add(env_from["secretRef"]["name"])
            if "configMapRef" in env_from:
                configmaps.add(env_from["configMapRef"]["name"])
    for volume in pod.get("volumes") or []:
        if volume["name"].startswith(LIVE_PREFIX):
            continue
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
        if "configMap" in volume:
            configmaps.add(volume["configMap"]["name"])
    return secrets, configmaps


def revision(secret: str, spec: dict[str, Any], generated: Mapping[str, int]) -> str:
    """'' for a Secret never revised (created once, or not generated, and no spec.secretRevisions)."""
    created = int(generated.get(secret, 1))
    given = (spec.get("secretRevisions") or {}).get(secret, "")
    return "" if created <= 1 and not given else f"{created}/{given}"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_checksums(
    name: str, manifests: list[dict[str, Any]], spec: dict[str, Any], generated: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The manifests with each workload's checksum annotation, and the migration Job named after its
    final template. `spec` is the defaulted spec."""
    contents = {m["metadata"]["name"]: _digest(m.get("data")) for m in manifests if m["kind"] == "ConfigMap"}
    out = []
    for manifest in manifests:
        if manifest["kind"] not in WORKLOADS:
            out.append(manifest)
            continue
        manifest = copy.deepcopy(manifest)
        template = pod_template(manifest)
        secrets, configmaps = referenced(template["spec"])
        revisions = {s: r for s in sorted(secrets) if (r := revision(s, spec, generated))}
        rendered = {c: contents[c] for c in sorted(configmaps) if c in contents}
        if revisions or rendered:
            annotations = template["metadata"].setdefault("annotations", {})
            annotations[CHECKSUM_ANNOTATION] = _digest({"secrets": revisions, "configMaps": rendered})[:16]
        if (
            manifest["kind"] == "Job"
            and manifest["metadata"]["labels"].get("app.kubernetes.io/component") == MIGRATE
        ):
            manifest["metadata"]["name"] = migration_job_name(name, template)
        out.append(manifest)
    return out
