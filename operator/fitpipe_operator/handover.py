"""Handing a Deployment's `replicas` over to a HorizontalPodAutoscaler without a dip.

With server-side apply, a field the operator stops applying is removed when no other manager owns it:
the Deployment would fall back to 1 replica until the autoscaler scales it up again. So before the
operator's first apply without `replicas`, the current value is applied by a second field manager
(`fitpipe-operator-handover`), which keeps it; the autoscaler's own updates (through the scale
subresource) then take the field over. Going back to a fixed `replicas`, the operator's forced apply
takes the field again."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.cluster import FIELD_MANAGER, Cluster

__all__ = ["HANDOVER_MANAGER", "owns_replicas", "hand_over_replicas"]

HANDOVER_MANAGER = "fitpipe-operator-handover"


def owns_replicas(live: dict[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """Whether `manager` applied `spec.replicas` of this object (its managedFields say so)."""
    for entry in live["metadata"].get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False


def hand_over_replicas(cluster: Cluster, manifest: dict[str, Any]) -> str | None:
    """Before applying `manifest` (a Deployment without replicas): keep the live value if the operator
    owned it. Returns a note for the pipeline's events when a handover happened."""
    if "replicas" in manifest["spec"]:
        return None
    meta = manifest["metadata"]
    live = cluster.get(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    if live is None or not owns_replicas(live):
        return None
    replicas = int(live["spec"].get("replicas", 1))
    cluster.apply(
        {
            "apiVersion": manifest["apiVersion"],
            "kind": manifest["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": replicas},
        },
        manager=HANDOVER_MANAGER,
    )
    return f"handed Deployment {meta['name']}'s replicas ({replicas}) over to its HorizontalPodAutoscaler"
