"""The control plane the other cluster tests stand on does what a cluster does, without containers:
two kwok nodes take pods (scheduled, Running, Ready), a Job's pod Succeeds, Pod Security admission
enforces `restricted`, RBAC and OwnerReferencesPermissionEnforcement hold, claims get volumes, and the
API server serves prometheus-operator's CRDs from its own module."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.harness import restricted_namespace
from tests.cluster.kube import Kube, KubeError, condition, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "control-plane-check"

SECURE: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [
        {
            "name": "main",
            "image": "registry.example.org/never-pulled:1",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


@pytest.fixture(scope="module")
def namespace(kube: Kube) -> str:
    restricted_namespace(kube, NS)
    eventually(
        lambda: kube.get("ServiceAccount", "default", NS), 30, "the namespace's default ServiceAccount"
    )
    return NS


def test_two_kwok_nodes_are_ready(kube: Kube) -> None:
    nodes = {n["metadata"]["name"]: n for n in kube.list("Node")}
    assert sorted(nodes) == ["kwok-node-1", "kwok-node-2"]
    for node in nodes.values():
        assert condition(node, "Ready")["status"] == "True"


def test_a_deployments_pods_are_scheduled_running_and_ready(kube: Kube, namespace: str) -> None:
    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": SECURE},
            },
        }
    )

    def available() -> dict[str, Any] | None:
        body = kube.get("Deployment", "web", namespace) or {}
        return body if (body.get("status") or {}).get("availableReplicas") == 2 else None

    eventually(available, 60, "Deployment web with 2 available replicas")
    pods = kube.list("Pod", namespace, "app=web")
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods)


def test_a_jobs_pod_succeeds(kube: Kube, namespace: str) -> None:
    kube.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": namespace},
            "spec": {"template": {"spec": {**SECURE, "restartPolicy": "Never"}}},
        }
    )
    job = eventually(
        lambda: (
            (j := kube.get("Job", "once", namespace)) and (j.get("status") or {}).get("succeeded") == 1 and j
        ),
        60,
        "Job once succeeded",
    )
    assert condition(job, "Complete")["status"] == "True"


def test_pod_security_refuses_a_pod_that_is_not_restricted(kube: Kube, namespace: str) -> None:
    # Fine under `baseline`, not under `restricted`: may escalate, runs as root, keeps capabilities.
    with pytest.raises(KubeError) as refused:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "root", "namespace": namespace},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            }
        )
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in refused.value.message


def test_a_claim_gets_a_volume_that_grows(kube: Kube, namespace: str) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
    )
    claim = eventually(
        lambda: (
            (c := kube.get("PersistentVolumeClaim", "data", namespace))
            and c["status"].get("phase") == "Bound"
            and c
        ),
        60,
        "claim data bound",
    )
    assert claim["spec"]["storageClassName"] == "standard"  # the default class, by admission
    kube.patch(
        "PersistentVolumeClaim", "data", namespace, {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    )
    eventually(
        lambda: (
            (kube.get("PersistentVolumeClaim", "data", namespace) or {})["status"]
            .get("capacity", {})
            .get("storage")
            == "2Gi"
        ),
        60,
        "claim data grown to 2Gi",
    )


def test_owner_references_need_permission_on_the_owner(kube: Kube, namespace: str) -> None:
    # OwnerReferencesPermissionEnforcement: blockOwnerDeletion needs `update` on the owner's finalizers.
    kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "configmap-writer", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
        }
    )
    kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "configmap-writer", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-writer"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        }
    )
    owner = kube.get("Deployment", "web", namespace)
    assert owner is not None
    user = f"system:serviceaccount:{namespace}:default"
    eventually(lambda: kube.can(user, "create", "configmaps", namespace), 30, "the RoleBinding in effect")
    assert not kube.can(user, "update", "deployments", namespace, group="apps", subresource="finalizers")

    def configmap(name: str, block: bool) -> dict[str, Any]:
        reference = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": owner["metadata"]["uid"],
        }
        if block:
            reference["blockOwnerDeletion"] = True
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [reference]},
        }

    service_account = kube.impersonating(user)
    with pytest.raises(KubeError) as refused:
        service_account.create(configmap("blocking", block=True))
    assert refused.value.status == 403
    assert "blockOwnerDeletion" in refused.value.message
    service_account.create(configmap("plain", block=False))


def test_prometheus_operators_crds_are_served(kube: Kube) -> None:
    for name in (
        "servicemonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "alertmanagerconfigs.monitoring.coreos.com",
    ):
        crd = kube.get("CustomResourceDefinition", name)
        assert crd is not None and condition(crd, "Established")["status"] == "True"
