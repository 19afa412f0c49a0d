"""The administrator's pod (`fitpipe operator admin-pod`): the one way to run fitpipe's administrator
commands (`fitpipe users`, `fitpipe token`, `fitpipe participants`) in the cluster, now that no
long-running workload holds the superuser's login.

A bare Pod, not a child of the pipeline: made on demand, entered with `kubectl exec`, deleted after use
(it ends by itself after `activeDeadlineSeconds`). It runs the pipeline's image as the superuser with
the token key, passes Pod Security `restricted`, and carries the `admin` component label, which the
database's NetworkPolicy admits and the `<name>-admin` NetworkPolicy confines (database and DNS only)."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.network import ADMIN_COMPONENT
from fitpipe_operator.children.pods import container, fitpipe_env, pod_spec
from fitpipe_operator.naming import child, metadata

__all__ = ["admin_pod"]


def admin_pod(name: str, namespace: str, spec: dict[str, Any], *, seconds: int = 3600) -> dict[str, Any]:
    """`spec` is the defaulted spec."""
    shell = container(
        spec,
        "admin",
        [],
        fitpipe_env(name, spec, database="admin", mail=True, google=True),
        {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    )
    # It waits to be entered with `kubectl exec`; the commands run there act as the superuser.
    shell["command"], shell["args"] = ["sleep"], [str(seconds)]
    meta = metadata(name, namespace, ADMIN_COMPONENT, child(name, ADMIN_COMPONENT))
    del meta["labels"]["app.kubernetes.io/managed-by"]  # made by a person, not kept by the operator
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": pod_spec(spec, [shell], restart_policy="Never", activeDeadlineSeconds=seconds),
    }
