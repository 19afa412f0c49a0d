"""Deleting a FitbitPipeline: nothing waits for the operator (it may be down), the real garbage collector
removes the children, and the database volume with the Secrets that open it stays unless
`timescaledb.storage.deleteWithPipeline` is true when the pipeline goes, whatever it was before."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from tests.cluster.harness import (
    OperatorProcess,
    example,
    example_secrets,
    restricted_namespace,
    wait_gone,
    wait_ready,
)
from tests.cluster.kube import Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NAME = "trial-a"
CLAIM = f"data-{NAME}-timescaledb-0"
# Every Secret the operator generates for the example: the logins' passwords and the keys.
SECRETS = tuple(
    f"{NAME}-{suffix}"
    for suffix in ("db-credentials", "db-owner", "db-api", "db-ingest", "token-key", "dashboard-key")
)
CHILDREN = [
    ("StatefulSet", f"{NAME}-timescaledb"),
    ("Service", f"{NAME}-timescaledb"),
    ("NetworkPolicy", f"{NAME}-timescaledb"),
    ("NetworkPolicy", f"{NAME}-api"),
    ("PodDisruptionBudget", f"{NAME}-api"),
    ("CronJob", f"{NAME}-ingest"),
    ("Deployment", f"{NAME}-api"),
    ("Service", f"{NAME}-api"),
    ("Deployment", f"{NAME}-dashboard"),
    ("ServiceMonitor", f"{NAME}-api"),
    ("PrometheusRule", NAME),
    ("AlertmanagerConfig", f"{NAME}-alerts"),
]


def start_pipeline(kube: Kube, namespace: str, delete_with_pipeline: bool) -> dict[str, Any]:
    restricted_namespace(kube, namespace)
    example_secrets(kube, namespace)
    document = example(namespace, NAME)
    document["spec"]["timescaledb"]["storage"]["deleteWithPipeline"] = delete_with_pipeline
    kube.apply(document)
    body = wait_ready(kube, namespace, NAME)
    for secret in SECRETS:
        eventually(partial(kube.get, "Secret", secret, namespace), 30, f"Secret {secret}")
    return body


def claim_owned_by_statefulset(kube: Kube, namespace: str) -> bool:
    claim = kube.get("PersistentVolumeClaim", CLAIM, namespace) or {}
    return any(r["kind"] == "StatefulSet" for r in claim.get("metadata", {}).get("ownerReferences") or [])


def children_gone(kube: Kube, namespace: str) -> None:
    for kind, name in CHILDREN:
        wait_gone(kube, kind, name, namespace, timeout=90)
    eventually(
        lambda: (
            not kube.list("Job", namespace)
            and not kube.list("ConfigMap", namespace, f"app.kubernetes.io/instance={NAME}")
        ),
        90,
        "Jobs and ConfigMaps collected",
    )
    eventually(lambda: not kube.list("Pod", namespace, f"app.kubernetes.io/instance={NAME}"), 90, "pods gone")


def test_deleting_while_the_operator_is_down_keeps_the_volume_and_its_secrets(
    kube: Kube, operator: OperatorProcess
) -> None:
    namespace = "delete-while-down"
    start_pipeline(kube, namespace, delete_with_pipeline=False)
    operator.stop()
    try:
        kube.delete("FitbitPipeline", NAME, namespace)
        # No finalizer: gone at once, with nobody to remove one.
        wait_gone(kube, "FitbitPipeline", NAME, namespace, timeout=10)
        children_gone(kube, namespace)
        claim = kube.get("PersistentVolumeClaim", CLAIM, namespace)
        assert claim is not None and not claim["metadata"].get("deletionTimestamp")
        for secret in SECRETS:
            assert kube.get("Secret", secret, namespace) is not None, secret
    finally:
        operator.start()


@pytest.mark.parametrize(
    ("first", "then"), [(True, False), (False, True)], ids=["true-then-false", "false-then-true"]
)
def test_what_deleteWithPipeline_says_at_deletion_decides(
    kube: Kube, operator: OperatorProcess, first: bool, then: bool
) -> None:
    namespace = f"delete-{'kept' if not then else 'gone'}"
    start_pipeline(kube, namespace, delete_with_pipeline=first)
    eventually(
        lambda: claim_owned_by_statefulset(kube, namespace) == first, 60, "the claim's owner after creation"
    )
    generation = kube.patch(
        "FitbitPipeline",
        NAME,
        namespace,
        {"spec": {"timescaledb": {"storage": {"deleteWithPipeline": then}}}},
    )["metadata"]["generation"]
    eventually(
        lambda: (
            ((kube.get("FitbitPipeline", NAME, namespace) or {}).get("status") or {}).get(
                "observedGeneration"
            )
            == generation
        ),
        60,
        "the switch reconciled",
    )
    # The StatefulSet controller moves the claim's owner reference as the retention policy says.
    eventually(
        lambda: claim_owned_by_statefulset(kube, namespace) == then, 60, "the claim's owner after the switch"
    )

    kube.delete("FitbitPipeline", NAME, namespace)
    wait_gone(kube, "FitbitPipeline", NAME, namespace, timeout=30)
    children_gone(kube, namespace)
    if then:
        wait_gone(kube, "PersistentVolumeClaim", CLAIM, namespace, timeout=90)
        for secret in SECRETS:
            wait_gone(kube, "Secret", secret, namespace, timeout=60)
    else:
        assert kube.get("PersistentVolumeClaim", CLAIM, namespace) is not None
        for secret in SECRETS:
            assert kube.get("Secret", secret, namespace) is not None, secret
