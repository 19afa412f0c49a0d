"""Names and labels of a pipeline's children: one place decides what `<name>-api` is called and which
labels select it, so render, the handlers and the status reader agree."""

from __future__ import annotations

from typing import Any

__all__ = [
    "MANAGED_BY",
    "GENERATE_ANNOTATION",
    "labels",
    "selector",
    "metadata",
    "child",
]

MANAGED_BY = "fitpipe-operator"
# On a Secret: comma-separated keys the operator fills with random values when it first creates it.
GENERATE_ANNOTATION = "fitpipe.io/generate"


def child(name: str, suffix: str) -> str:
    return f"{name}-{suffix}"


def selector(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "fitpipe",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }


def labels(name: str, component: str) -> dict[str, str]:
    return {
        **selector(name, component),
        "app.kubernetes.io/part-of": "fitpipe",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def metadata(
    name: str,
    namespace: str,
    component: str,
    child_name: str,
    *,
    extra_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": child_name,
        "namespace": namespace,
        "labels": {**labels(name, component), **(extra_labels or {})},
    }
    if annotations:
        meta["annotations"] = annotations
    return meta
