"""A platform engineer applies examples/fitbitpipeline.yaml (with the Secrets its comment lists) in a
namespace that enforces Pod Security `restricted`, with the operator running as the chart's
ServiceAccount: every child is created and owned, status follows the real readiness of the pods that
kwok runs, and `kubectl get fitbitpipelines` shows it."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe_operator.render import render
from tests.cluster.harness import (
    OperatorProcess,
    example,
    example_secrets,
    pipeline_status,
    restricted_namespace,
    wait_ready,
)
from tests.cluster.kube import Kube, condition, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "trial-a"


def cordon(kube: Kube, unschedulable: bool) -> None:
    for node in ("kwok-node-1", "kwok-node-2"):
        kube.patch("Node", node, None, {"spec": {"unschedulable": unschedulable}})


@pytest.fixture(scope="module")
def applied(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    """The example applied while no node takes pods, then the nodes uncordoned: status is seen both ways."""
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    cordon(kube, True)
    try:
        created = kube.apply(example(NS))
        body = eventually(
            lambda: (b := kube.get("FitbitPipeline", "trial-a", NS)) and condition(b, "DatabaseReady") and b,
            60,
            "the first status",
        )
        not_ready = {c["type"]: c for c in body["status"]["conditions"]}
    finally:
        cordon(kube, False)
    ready = wait_ready(kube, NS, "trial-a")
    return {"created": created, "not_ready": not_ready, "ready": ready}


def test_status_says_what_is_not_ready_while_no_node_takes_pods(applied: dict[str, Any]) -> None:
    conditions = applied["not_ready"]
    assert conditions["Ready"]["status"] == "False"
    assert conditions["DatabaseReady"]["status"] == "False"
    assert conditions["ApiReady"]["status"] == "False"
    assert conditions["ApiReady"]["message"] == "0/2 replicas available"


def test_status_turns_ready_when_the_pods_are(kube: Kube, applied: dict[str, Any]) -> None:
    status = applied["ready"]["status"]
    statuses = {c["type"]: c["status"] for c in status["conditions"]}
    assert statuses == {
        "Ready": "True",
        "Reconciled": "True",
        "DatabaseReady": "True",
        "SchemaMigrated": "True",
        "ApiReady": "True",
        "DashboardReady": "True",
        "IngestScheduled": "True",
        "MonitoringReady": "True",
        "DashboardSecure": "True",  # ClusterIP: reachable inside the cluster only
    }
    assert status["observedGeneration"] == applied["ready"]["metadata"]["generation"]
    assert not status.get("errors")
    pods = kube.list("Pod", NS, "app.kubernetes.io/instance=trial-a,app.kubernetes.io/component=api")
    assert len([p for p in pods if condition(p, "Ready").get("status") == "True"]) == 2


def test_every_child_is_created_and_owned_by_the_pipeline(kube: Kube, applied: dict[str, Any]) -> None:
    uid = applied["ready"]["metadata"]["uid"]
    for manifest in render("trial-a", NS, example(NS)["spec"]):
        if manifest["kind"] == "Secret":
            continue
        child = kube.get(manifest["kind"], manifest["metadata"]["name"], NS)
        assert child is not None, f"{manifest['kind']}/{manifest['metadata']['name']} missing"
        refs = child["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"], r["controller"], r["blockOwnerDeletion"]) for r in refs] == [
            ("FitbitPipeline", uid, True, True)
        ]


def test_generated_secrets_belong_to_the_database_volume(kube: Kube, applied: dict[str, Any]) -> None:
    claim = kube.get("PersistentVolumeClaim", "data-trial-a-timescaledb-0", NS)
    assert claim is not None and claim["status"]["phase"] == "Bound"
    assert (
        claim["spec"]["storageClassName"] == "standard"
        and claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    )
    generated = (
        ("trial-a-db-credentials", "password"),
        ("trial-a-db-owner", "password"),
        ("trial-a-db-api", "password"),
        ("trial-a-db-ingest", "password"),
        ("trial-a-token-key", "key"),
        ("trial-a-dashboard-key", "key"),
    )
    for name, key in generated:
        secret = kube.get("Secret", name, NS)
        assert secret is not None, name
        assert key in secret["data"]
        assert [(r["kind"], r["uid"]) for r in secret["metadata"]["ownerReferences"]] == [
            ("PersistentVolumeClaim", claim["metadata"]["uid"])
        ]


def test_every_pod_passes_pod_security_restricted(kube: Kube, applied: dict[str, Any]) -> None:
    # The namespace enforces `restricted`: a pod that broke it would not exist. Every workload has its pods.
    pods = kube.list("Pod", NS, "app.kubernetes.io/instance=trial-a")
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods}
    assert {"timescaledb", "migrate", "api", "dashboard"} <= components
    events = kube.list("Event", NS)
    assert not [
        e for e in events if "PodSecurity" in e.get("message", "") or e.get("reason") == "FailedCreate"
    ]


def test_kubectl_get_shows_ready_and_schedule(kube: Kube, applied: dict[str, Any]) -> None:
    (row,) = [r for r in kube.table("FitbitPipeline", NS) if r["Name"] == "trial-a"]
    assert row["Ready"] == "True"
    assert row["Schedule"] == "0 1 * * *"


def test_the_operator_posted_what_it_did(
    kube: Kube, applied: dict[str, Any], operator: OperatorProcess
) -> None:
    reasons = {
        e["reason"]
        for e in kube.list("Event", NS)
        if e["involvedObject"].get("kind") == "FitbitPipeline"
        and e["involvedObject"].get("name") == "trial-a"
    }
    assert {"Applied", "SecretGenerated"} <= reasons
    assert pipeline_status(kube, NS, "trial-a").get("errors") is None
