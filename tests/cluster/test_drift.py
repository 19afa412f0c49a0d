"""A child deleted or edited by hand is restored without any change to the FitbitPipeline, within 60 s:
workloads at once (the operator watches them), every other child on the next pass (`statusInterval`,
30 s by default). The times measured are printed (docs/benchmarks.md has this machine's)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "drift"
NAME = "trial-a"
LIMIT = 60.0


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    kube.apply(example(NS, NAME))
    return wait_ready(kube, NS, NAME)


def restored(what: str, done: Callable[[], bool]) -> float:
    started = time.monotonic()
    eventually(done, LIMIT, f"{what} restored")
    took = time.monotonic() - started
    print(f"\n{what}: restored in {took:.1f} s")
    return took


def test_a_deleted_deployment_is_restored(kube: Kube, pipeline: dict[str, Any]) -> None:
    old = kube.get("Deployment", f"{NAME}-api", NS)
    assert old is not None
    kube.delete("Deployment", f"{NAME}-api", NS)
    restored(
        "Deployment deleted",
        lambda: (
            (d := kube.get("Deployment", f"{NAME}-api", NS)) is not None
            and d["metadata"]["uid"] != old["metadata"]["uid"]
        ),
    )


def test_a_scaled_deployment_is_scaled_back(kube: Kube, pipeline: dict[str, Any]) -> None:
    kube.patch("Deployment", f"{NAME}-api", NS, {"spec": {"replicas": 0}}, manager="kubectl-scale")
    restored(
        "Deployment scaled to 0",
        lambda: (kube.get("Deployment", f"{NAME}-api", NS) or {})["spec"]["replicas"] == 2,
    )


def test_an_edited_cronjob_is_put_back(kube: Kube, pipeline: dict[str, Any]) -> None:
    kube.patch("CronJob", f"{NAME}-ingest", NS, {"spec": {"suspend": True, "schedule": "0 0 1 1 *"}})
    restored(
        "CronJob edited",
        lambda: (
            (c := (kube.get("CronJob", f"{NAME}-ingest", NS) or {})["spec"])["suspend"] is False
            and c["schedule"] == "0 1 * * *"
        ),
    )


def test_a_deleted_service_is_restored(kube: Kube, pipeline: dict[str, Any]) -> None:
    kube.delete("Service", f"{NAME}-api", NS)
    restored("Service deleted", lambda: kube.get("Service", f"{NAME}-api", NS) is not None)


def test_a_deleted_network_policy_is_restored(kube: Kube, pipeline: dict[str, Any]) -> None:
    kube.delete("NetworkPolicy", f"{NAME}-timescaledb", NS)
    restored(
        "NetworkPolicy deleted", lambda: kube.get("NetworkPolicy", f"{NAME}-timescaledb", NS) is not None
    )


def test_the_pipeline_is_ready_again_after_the_repairs(kube: Kube, pipeline: dict[str, Any]) -> None:
    body = wait_ready(kube, NS, NAME)
    assert body["status"]["observedGeneration"] == pipeline["metadata"]["generation"]
