"""The pipeline's NetworkPolicies on a real API server (issue 14.3): accepted, and selecting the right pods.
The pods are real objects (their controllers made them; kwok runs them), so the label selectors are
matched by the API server itself; the connections they allow are then judged with NetworkPolicy
semantics (tests/operator/netpol.py) over those pods. Enforcement needs a network plugin, which this
control plane has not: tests/e2e/kind.sh checks a refused connection on kind."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe_operator.children.admin import admin_pod
from fitpipe_operator.spec import checked_spec
from tests.cluster.harness import (
    OperatorProcess,
    example,
    example_secrets,
    job_from_cronjob,
    job_succeeded,
    restricted_namespace,
    running_pods,
    selector_string,
    wait_ready,
)
from tests.cluster.kube import Kube, eventually
from tests.cluster.test_monitoring import MONITORING, stock_kube_prometheus_stack
from tests.operator.netpol import Pod, admits, allowed

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "netpol"
NAME = "trial-a"
COMPONENTS = ("timescaledb", "migrate", "ingest", "api", "dashboard", "backup", "admin")


def pod_of(body: dict[str, Any], namespaces: dict[str, dict[str, str]]) -> Pod:
    meta = body["metadata"]
    return Pod(meta["name"], meta["namespace"], dict(meta.get("labels") or {}), namespaces[meta["namespace"]])


@pytest.fixture(scope="module")
def cluster(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    """A pipeline with backups, and a pod of every component: the scheduled Jobs started by hand as
    `kubectl create job --from=cronjob/...` does, the administrator's pod applied; a stock
    kube-prometheus-stack's Prometheus in `monitoring`."""
    stock_kube_prometheus_stack(kube)
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "trial-a-backups", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}},
        }
    )
    document = example(NS, NAME)
    document["spec"]["backup"] = {
        "enabled": True,
        "repository": {"type": "pvc", "claimName": "trial-a-backups"},
    }
    kube.apply(document)
    wait_ready(kube, NS, NAME)
    job_from_cronjob(kube, NS, f"{NAME}-ingest", "ingest-now")
    job_from_cronjob(kube, NS, f"{NAME}-backup-full", "backup-now")
    kube.apply(admin_pod(NAME, NS, checked_spec(NAME, document["spec"])))
    for job in ("ingest-now", "backup-now"):
        job_succeeded(kube, NS, job)
    eventually(
        lambda: len(running_pods(kube, MONITORING, "app.kubernetes.io/name=prometheus")) >= 1,
        90,
        "Prometheus' pod (prometheus-operator's StatefulSet)",
    )
    eventually(
        lambda: running_pods(kube, NS, "app.kubernetes.io/component=admin"), 60, "the admin pod running"
    )
    policies = kube.list("NetworkPolicy", NS, f"app.kubernetes.io/instance={NAME}")
    namespaces = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in kube.list("Namespace")}
    pods = [pod_of(p, namespaces) for ns in (NS, MONITORING) for p in running_pods(kube, ns, "")]
    return {"policies": policies, "namespaces": namespaces, "pods": pods}


def by_component(pods: list[Pod]) -> dict[str, list[Pod]]:
    out: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.namespace == NS and pod.labels.get("app.kubernetes.io/instance") == NAME:
            out.setdefault(pod.labels["app.kubernetes.io/component"], []).append(pod)
    return out


def test_the_api_server_accepted_a_policy_for_every_workload(cluster: dict[str, Any]) -> None:
    names = {p["metadata"]["name"] for p in cluster["policies"]}
    assert names == {f"{NAME}-{c}" for c in COMPONENTS}
    for policy in cluster["policies"]:
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert policy["metadata"]["ownerReferences"][0]["kind"] == "FitbitPipeline"


def test_each_policy_selects_exactly_its_workloads_pods(kube: Kube, cluster: dict[str, Any]) -> None:
    for policy in cluster["policies"]:
        component = policy["metadata"]["name"].removeprefix(f"{NAME}-")
        selected = kube.list("Pod", NS, selector_string(policy["spec"]["podSelector"]))
        found = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in selected}
        assert found == {component}, f"{policy['metadata']['name']} selects {found}"


def test_the_databases_peers_are_the_migration_ingest_api_and_admin_pods(
    kube: Kube, cluster: dict[str, Any]
) -> None:
    (policy,) = [p for p in cluster["policies"] if p["metadata"]["name"] == f"{NAME}-timescaledb"]
    rules = {rule["ports"][0]["port"]: rule for rule in policy["spec"]["ingress"]}
    (peer,) = rules[5432]["from"]
    found = {
        p["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in kube.list("Pod", NS, selector_string(peer["podSelector"]))
    }
    assert found == {"migrate", "ingest", "api", "admin"}
    (peer,) = rules[8081]["from"]
    found = {
        p["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in kube.list("Pod", NS, selector_string(peer["podSelector"]))
    }
    assert found == {"backup"}


def test_the_default_prometheus_peer_selects_kube_prometheus_stacks_prometheus(
    kube: Kube, cluster: dict[str, Any]
) -> None:
    (policy,) = [p for p in cluster["policies"] if p["metadata"]["name"] == f"{NAME}-api"]
    (rule,) = policy["spec"]["ingress"]
    (prometheus,) = [peer for peer in rule["from"] if "namespaceSelector" in peer]
    namespaces = [
        n["metadata"]["name"]
        for n in kube.list("Namespace", selector=selector_string(prometheus["namespaceSelector"]))
    ]
    assert namespaces == [MONITORING]
    selected = kube.list("Pod", MONITORING, selector_string(prometheus["podSelector"]))
    assert selected and all(p["metadata"]["name"].startswith("prometheus-") for p in selected)
    alertmanagers = kube.list("Pod", MONITORING, "app.kubernetes.io/name=alertmanager")
    assert not {p["metadata"]["name"] for p in alertmanagers} & {p["metadata"]["name"] for p in selected}


def test_who_may_connect_to_whom_among_the_clusters_pods(cluster: dict[str, Any]) -> None:
    policies, pods = cluster["policies"], cluster["pods"]
    mine = by_component(pods)
    assert set(mine) == set(COMPONENTS)
    database, api, dashboard = mine["timescaledb"][0], mine["api"][0], mine["dashboard"][0]
    for component in ("migrate", "ingest", "api", "admin"):
        for pod in mine[component]:
            assert allowed(policies, pod, database, 5432), pod.name
    for pod in mine["dashboard"] + mine["backup"]:
        assert not admits(policies, database, pod, 5432), pod.name
    for pod in mine["backup"]:
        assert allowed(policies, pod, database, 8081), pod.name
    prometheus = [
        p
        for p in pods
        if p.namespace == MONITORING and p.labels.get("app.kubernetes.io/name") == "prometheus"
    ]
    others = [p for p in pods if p.namespace == MONITORING and p not in prometheus]
    assert prometheus and others
    assert all(allowed(policies, p, api, 8000) for p in prometheus)
    assert not any(admits(policies, api, p, 8000) for p in others)  # e.g. Alertmanager
    assert allowed(policies, dashboard, api, 8000)
    assert not admits(policies, dashboard, api, 8050)  # the API may not call the dashboard
    assert not any(admits(policies, dashboard, p, 8050) for p in pods if p.namespace == MONITORING)
