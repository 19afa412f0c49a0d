"""Applying the database StatefulSet when its volume changes. A StatefulSet's volumeClaimTemplates are
immutable (the API server answers 422), so a bigger `timescaledb.storage.size` is rolled out the way
an administrator would: grow each existing claim in place (the StorageClass must allow expansion), then
delete the StatefulSet with orphan propagation, so its pod and claims stay, and create it again with the
new template; the new StatefulSet adopts the running pod. A claim never shrinks, and a volume never
moves to another StorageClass (the CRD refuses both changes; this module reports them if they come)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity

from fitpipe_operator.cluster import Cluster
from fitpipe_operator.errors import ClusterError

__all__ = ["apply_statefulset", "claim_changes"]

STS = ("apps/v1", "StatefulSet")
PVC = ("v1", "PersistentVolumeClaim")


def _claims(statefulset: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        t["metadata"]["name"]: t.get("spec") or {}
        for t in statefulset["spec"].get("volumeClaimTemplates") or []
    }


def _size(claim_spec: dict[str, Any]) -> Decimal:
    return Decimal(parse_quantity(claim_spec["resources"]["requests"]["storage"]))


def claim_changes(live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, str]:
    """Template name -> the new size, for each claim template whose size differs; ClusterError for a
    change no claim can follow (a new StorageClass, a smaller size, a template added or removed)."""
    old, new = _claims(live), _claims(wanted)
    name = wanted["metadata"]["name"]
    if set(old) != set(new):
        raise ClusterError(f"StatefulSet {name}: its volume claim templates cannot change", status=422)
    grown = {}
    for template, spec in new.items():
        before = old[template]
        if spec.get("storageClassName") != before.get("storageClassName"):
            raise ClusterError(
                f"StatefulSet {name}: the volume's StorageClass cannot change "
                f"({before.get('storageClassName') or 'the default'} -> {spec.get('storageClassName') or 'the default'})",
                status=422,
                hint="set timescaledb.storage.storageClassName back; moving data needs a backup and restore",
            )
        if _size(spec) < _size(before):
            raise ClusterError(
                f"StatefulSet {name}: a volume cannot shrink "
                f"({before['resources']['requests']['storage']} -> {spec['resources']['requests']['storage']})",
                status=422,
            )
        if _size(spec) > _size(before):
            grown[template] = spec["resources"]["requests"]["storage"]
    return grown


def _grow_claims(cluster: Cluster, live: dict[str, Any], grown: dict[str, str]) -> list[str]:
    namespace, name = live["metadata"]["namespace"], live["metadata"]["name"]
    replicas = int(live["spec"].get("replicas") or 0)
    notes = []
    for template, size in grown.items():
        for ordinal in range(max(replicas, 1)):
            claim = f"{template}-{name}-{ordinal}"
            current = cluster.get(*PVC, namespace, claim)
            if current is None:
                continue  # not created yet: the new template makes it at the new size
            if _size(current["spec"]) >= Decimal(parse_quantity(size)):
                continue
            cluster.merge_patch(
                *PVC, namespace, claim, {"spec": {"resources": {"requests": {"storage": size}}}}
            )
            notes.append(f"grew PersistentVolumeClaim {claim} to {size}")
    return notes


def _wait_until_gone(
    cluster: Cluster, namespace: str, name: str, timeout: float, sleep: Callable[[float], None]
) -> None:
    deadline = time.monotonic() + timeout
    while cluster.get(*STS, namespace, name) is not None:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"StatefulSet {name} is still being deleted (orphaning its pod) after {timeout:.0f} s",
                status=409,
                hint="the garbage collector finishes it; the operator retries",
            )
        sleep(0.2)


def apply_statefulset(
    cluster: Cluster,
    manifest: dict[str, Any],
    *,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Apply the StatefulSet, first growing its claims and replacing it when the claim template grew.
    Returns what was done beyond the apply, for the pipeline's events."""
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    live = cluster.get(*STS, namespace, name)
    notes: list[str] = []
    if live is not None and live["metadata"].get("deletionTimestamp"):
        _wait_until_gone(cluster, namespace, name, timeout, sleep)
    elif live is not None and (grown := claim_changes(live, manifest)):
        notes += _grow_claims(cluster, live, grown)
        cluster.delete(*STS, namespace, name, propagation="Orphan")
        _wait_until_gone(cluster, namespace, name, timeout, sleep)
        notes.append(f"replaced StatefulSet {name} (its pod kept running) to record the new volume size")
    cluster.apply(manifest)
    return notes
