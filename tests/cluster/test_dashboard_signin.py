"""The signed-in dashboard on a real control plane (issue 14.2): in OIDC mode the proxy sidecar and its
configuration pass Pod Security `restricted`, the Service's endpoints are the proxy's port (the
dashboard itself listens on loopback), the proxy's secrets are generated once; an Ingress with TLS is
accepted; a dashboard exposed over plain HTTP is reported in status and by an event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, condition, eventually
from tests.operator.conftest import OIDC

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "signin"
NAME = "trial-a"


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    for name, data in (
        ("oidc-client", {"client-secret": "from-the-identity-provider"}),
        # The signin token an admin makes with `fitpipe token create --role signin` (docs/kubernetes.md).
        (f"{NAME}-api-token", {"token": "fp_signin_example"}),
    ):
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": NS},
                "stringData": data,
            }
        )
    document = example(NS, NAME)
    document["spec"]["dashboard"].update(
        replicas=2,
        auth={"mode": "oidc", "oidc": {**OIDC, "emailDomains": ["hospital.example"]}},
        ingress={"enabled": True, "host": "trial-a.hospital.example", "tlsSecretName": "trial-a-tls"},
    )
    kube.apply(document)
    return wait_ready(kube, NS, NAME)


def test_the_proxy_sidecar_runs_in_front_under_pod_security_restricted(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    pods = kube.list("Pod", NS, f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=dashboard")
    assert len(pods) == 2
    for pod in pods:
        assert [c["name"] for c in pod["spec"]["containers"]] == ["dashboard", "oauth2-proxy"]
        assert condition(pod, "Ready")["status"] == "True"
    assert kube.get("ConfigMap", f"{NAME}-dashboard-proxy", NS) is not None
    secret = eventually(
        lambda: kube.get("Secret", f"{NAME}-dashboard-proxy", NS), 30, "the proxy's generated Secret"
    )
    assert set(secret["data"]) == {"secret", "cookie-secret"}
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "PersistentVolumeClaim"


def test_the_service_sends_traffic_to_the_proxy_only(kube: Kube, pipeline: dict[str, Any]) -> None:
    def endpoint_ports() -> set[int] | None:
        slices = kube.request(
            "GET",
            f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices",
            query={"labelSelector": f"kubernetes.io/service-name={NAME}-dashboard"},
        )["items"]
        ready = [
            e for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
        ]
        ports = {p["port"] for s in slices for p in s.get("ports") or []}
        return ports if len(ready) == 2 else None

    assert eventually(endpoint_ports, 60, "the dashboard Service's ready endpoints") == {4180}


def test_the_ingress_serves_it_over_tls_and_status_says_so(kube: Kube, pipeline: dict[str, Any]) -> None:
    ingress = kube.get("Ingress", f"{NAME}-dashboard", NS)
    assert ingress is not None
    assert ingress["spec"]["tls"] == [{"hosts": ["trial-a.hospital.example"], "secretName": "trial-a-tls"}]
    secure = condition(kube.get("FitbitPipeline", NAME, NS), "DashboardSecure")
    assert (secure["status"], secure["reason"]) == ("True", "IngressTLS")
    budget = kube.get("PodDisruptionBudget", f"{NAME}-dashboard", NS)
    assert budget is not None


def test_a_plain_http_nodeport_is_reported(kube: Kube, pipeline: dict[str, Any]) -> None:
    kube.patch(
        "FitbitPipeline",
        NAME,
        NS,
        {"spec": {"dashboard": {"service": {"type": "NodePort"}, "ingress": {"enabled": False}}}},
        manager="platform-engineer",
    )

    def warned() -> dict[str, Any] | None:
        found = condition(kube.get("FitbitPipeline", NAME, NS), "DashboardSecure")
        return found if found.get("status") == "False" else None

    secure = eventually(warned, 60, "DashboardSecure False")
    assert secure["reason"] == "PlainHTTP" and "nobody can sign in" in secure["message"]
    events = eventually(
        lambda: [
            e
            for e in kube.list("Event", NS)
            if e["involvedObject"].get("name") == NAME and e["reason"] == "InsecureDashboard"
        ],
        30,
        "the InsecureDashboard event",
    )
    assert events[0]["type"] == "Warning"
    assert (
        condition(kube.get("FitbitPipeline", NAME, NS), "Ready")["status"] == "True"
    )  # a warning, not an outage
    eventually(lambda: kube.get("Ingress", f"{NAME}-dashboard", NS) is None, 30, "the Ingress pruned")
    service = kube.get("Service", f"{NAME}-dashboard", NS)
    assert service is not None and service["spec"]["type"] == "NodePort"
    policy = kube.get("NetworkPolicy", f"{NAME}-dashboard", NS)
    assert policy is not None and policy["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 4180}]}
    ]
