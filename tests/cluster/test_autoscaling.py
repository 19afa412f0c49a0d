"""Autoscaling and disruption budgets on a real control plane (issue 14.6): with `api.autoscaling` the
operator renders a HorizontalPodAutoscaler and stops owning `replicas` (server-side apply field
ownership): the value is handed over without a dip, the real HPA controller's changes and another
manager's `kubectl scale` survive the operator's passes; PodDisruptionBudgets exist while a component
runs more than one replica."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fitpipe_operator.cluster import FIELD_MANAGER
from fitpipe_operator.handover import HANDOVER_MANAGER, owns_replicas
from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "autoscaling"
NAME = "trial-a"
API = f"{NAME}-api"


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    document = example(NS, NAME)
    document["spec"]["api"]["replicas"] = 3
    kube.apply(document)
    return wait_ready(kube, NS, NAME)


def replicas(kube: Kube) -> int:
    return int((kube.get("Deployment", API, NS) or {})["spec"]["replicas"])


def managers_of_replicas(kube: Kube) -> set[str]:
    deployment = kube.get("Deployment", API, NS) or {}
    return {
        entry["manager"]
        for entry in deployment["metadata"].get("managedFields") or []
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    }


def reconciled(kube: Kube, generation: int) -> None:
    eventually(
        lambda: (
            ((kube.get("FitbitPipeline", NAME, NS) or {}).get("status") or {}).get("observedGeneration")
            == generation
        ),
        60,
        f"generation {generation} reconciled",
    )


def spec(kube: Kube, change: dict[str, Any]) -> int:
    return int(
        kube.patch("FitbitPipeline", NAME, NS, {"spec": change}, manager="platform-engineer")["metadata"][
            "generation"
        ]
    )


def test_budgets_follow_the_replica_counts(kube: Kube, pipeline: dict[str, Any]) -> None:
    budget = kube.get("PodDisruptionBudget", API, NS)
    assert budget is not None and budget["spec"]["maxUnavailable"] == 1
    eventually(
        lambda: (kube.get("PodDisruptionBudget", API, NS) or {}).get("status", {}).get("expectedPods") == 3,
        60,
        "the budget counting the API's 3 pods",
    )
    assert (kube.get("PodDisruptionBudget", API, NS) or {})["status"]["disruptionsAllowed"] == 1
    assert kube.get("PodDisruptionBudget", f"{NAME}-dashboard", NS) is None  # one dashboard replica
    reconciled(kube, spec(kube, {"dashboard": {"replicas": 2}}))
    eventually(lambda: kube.get("PodDisruptionBudget", f"{NAME}-dashboard", NS), 30, "the dashboard's budget")
    reconciled(kube, spec(kube, {"dashboard": {"replicas": 1}}))
    eventually(
        lambda: kube.get("PodDisruptionBudget", f"{NAME}-dashboard", NS) is None,
        30,
        "the dashboard's budget pruned",
    )


def test_autoscaling_takes_replicas_over_without_a_dip(kube: Kube, pipeline: dict[str, Any]) -> None:
    assert replicas(kube) == 3 and managers_of_replicas(kube) == {FIELD_MANAGER}
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(replicas(kube))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # Within the bounds the real HPA controller has no reason to change the count (and no metrics here).
        reconciled(kube, spec(kube, {"api": {"autoscaling": {"minReplicas": 2, "maxReplicas": 6}}}))
        hpa = eventually(lambda: kube.get("HorizontalPodAutoscaler", API, NS), 30, "the HPA")
        time.sleep(2)
    finally:
        stop.set()
        watcher.join()
    assert hpa["spec"]["scaleTargetRef"]["name"] == API
    assert set(seen) == {3}, f"replicas went through {sorted(set(seen))}"
    deployment = kube.get("Deployment", API, NS) or {}
    assert not owns_replicas(deployment, FIELD_MANAGER)
    assert HANDOVER_MANAGER in managers_of_replicas(kube)
    reasons = {e["reason"] for e in kube.list("Event", NS) if e["involvedObject"].get("name") == NAME}
    assert "ReplicasHandedOver" in reasons


def test_the_hpa_and_other_managers_keep_what_they_set(kube: Kube, pipeline: dict[str, Any]) -> None:
    # Raise the floor: the real HPA controller scales the Deployment up to it (bounds need no metrics).
    reconciled(kube, spec(kube, {"api": {"autoscaling": {"minReplicas": 4, "maxReplicas": 6}}}))
    eventually(lambda: replicas(kube) == 4, 90, "the HPA scaling the API to its minimum")
    eventually(lambda: "kube-controller-manager" in managers_of_replicas(kube), 30, "the HPA's ownership")
    # Someone scales by hand (kubectl scale, through the scale subresource).
    kube.patch("Deployment", API, NS, {"spec": {"replicas": 5}}, subresource="scale", manager="kubectl")
    # The operator passes again (a spec change; and the resync interval): neither value is overwritten.
    reconciled(kube, spec(kube, {"ingest": {"schedule": "15 1 * * *"}}))
    time.sleep(3)
    assert replicas(kube) == 5
    assert FIELD_MANAGER not in managers_of_replicas(kube)


def test_switching_autoscaling_off_gives_replicas_back_to_the_spec(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    body = kube.get("FitbitPipeline", NAME, NS) or {}
    body["spec"]["api"].pop("autoscaling")
    body["spec"]["api"]["replicas"] = 2
    kube.request("PUT", f"/apis/fitpipe.io/v1alpha1/namespaces/{NS}/fitbitpipelines/{NAME}", body)
    eventually(lambda: kube.get("HorizontalPodAutoscaler", API, NS) is None, 60, "the HPA pruned")
    eventually(lambda: replicas(kube) == 2, 60, "replicas back to the spec's 2")
    assert FIELD_MANAGER in managers_of_replicas(kube)
