"""The NetworkPolicies of a pipeline (issue 14.3), judged by NetworkPolicy semantics (tests/operator/
netpol.py): every workload reaches exactly what it needs, and nothing else reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe_operator.children.rollout import pod_template
from fitpipe_operator.render import render
from tests.operator.conftest import GOOGLE, OIDC
from tests.operator.netpol import External, Pod, admits, allowed

NS = "trial-a"
GOOGLE_API = External("142.250.74.42")
IDP = External("198.51.100.7")
DNS = Pod("coredns-1", "kube-system", {"k8s-app": "kube-dns"})
PROMETHEUS = Pod(
    "prometheus-kps-0", "monitoring", {"app.kubernetes.io/name": "prometheus", "prometheus": "kps-prometheus"}
)
INGRESS = Pod("ingress-nginx-controller-1", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
# Neighbours that must not get in: another pod of the namespace, a pod elsewhere, Prometheus' lookalike.
STRANGER = Pod("debug", NS, {"run": "debug"})
ELSEWHERE = Pod("web", "trial-b", {"app.kubernetes.io/name": "fitpipe", "app.kubernetes.io/component": "api"})
IMPOSTOR = Pod("prometheus-fake", "trial-b", {"app.kubernetes.io/name": "prometheus"})


def pods(manifests: list[dict[str, Any]]) -> dict[str, Pod]:
    """One pod per workload, labelled as its controller labels it, and the admin pod."""
    out = {}
    for m in manifests:
        if m["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            labels = dict(pod_template(m)["metadata"]["labels"])
            component = labels["app.kubernetes.io/component"]
            if m["metadata"]["name"].endswith("-backup-diff"):
                component = "backup-diff"
            out[component] = Pod(f"{m['metadata']['name']}-x", NS, labels)
    out["admin"] = Pod(
        "trial-a-admin",
        NS,
        {
            "app.kubernetes.io/name": "fitpipe",
            "app.kubernetes.io/instance": "trial-a",
            "app.kubernetes.io/component": "admin",
        },
    )
    return out


def policies(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in render("trial-a", NS, spec) if m["kind"] == "NetworkPolicy"]


def test_every_workload_is_selected_by_its_own_policy() -> None:
    spec = {**GOOGLE, "backup": {"enabled": True, "repository": {"type": "pvc", "claimName": "b"}}}
    found = policies(spec)
    names = {p["metadata"]["name"] for p in found}
    assert names == {
        f"trial-a-{c}" for c in ("timescaledb", "migrate", "ingest", "api", "dashboard", "backup", "admin")
    }
    for policy in found:
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_the_database_admits_only_migration_ingest_api_and_admin() -> None:
    found = policies(GOOGLE)
    workloads = pods(render("trial-a", NS, GOOGLE))
    database = workloads["timescaledb"]
    for component in ("migrate", "ingest", "api", "admin"):
        assert allowed(found, workloads[component], database, 5432), component
    for other in (workloads["dashboard"], STRANGER, ELSEWHERE, PROMETHEUS, INGRESS):
        assert not allowed(found, other, database, 5432), other.name
    # The database's own policy refuses them, whatever their egress policies say.
    for component in ("dashboard", "backup-diff", "backup"):
        if component in workloads:
            assert not admits(found, database, workloads[component], 5432), component
    assert not admits(found, database, workloads["dashboard"], 5432)
    assert not allowed(found, workloads["api"], database, 8081)  # the backup agent's port is not the API's


def test_the_api_admits_the_dashboard_and_prometheus_and_nobody_else() -> None:
    found = policies(GOOGLE)
    workloads = pods(render("trial-a", NS, GOOGLE))
    api = workloads["api"]
    assert allowed(found, workloads["dashboard"], api, 8000)
    assert allowed(found, PROMETHEUS, api, 8000)
    for other in (STRANGER, ELSEWHERE, IMPOSTOR, INGRESS, workloads["ingest"], workloads["timescaledb"]):
        assert not allowed(found, other, api, 8000), other.name
    for component in ("ingest", "migrate", "timescaledb", "admin"):
        assert not admits(found, api, workloads[component], 8000), component
    with_ingress = policies({**GOOGLE, "networkPolicy": {"apiFromIngressController": True}})
    assert allowed(with_ingress, INGRESS, api, 8000)


def test_the_dashboard_admits_only_the_ingress_controller() -> None:
    found = policies(GOOGLE)
    dashboard = pods(render("trial-a", NS, GOOGLE))["dashboard"]
    assert allowed(found, INGRESS, dashboard, 8050)
    for other in (STRANGER, ELSEWHERE, PROMETHEUS):
        assert not allowed(found, other, dashboard, 8050), other.name
    oidc = {**GOOGLE, "dashboard": {"auth": {"mode": "oidc", "oidc": OIDC}}}
    found = policies(oidc)
    dashboard = pods(render("trial-a", NS, oidc))["dashboard"]
    assert allowed(found, INGRESS, dashboard, 4180)
    assert not allowed(found, INGRESS, dashboard, 8050)  # only the proxy's port; the dashboard is on loopback
    assert allowed(found, dashboard, IDP, 443)


def test_a_nodeport_dashboard_is_reachable_from_outside() -> None:
    spec = {**GOOGLE, "dashboard": {"service": {"type": "NodePort", "externalTLS": True}}}
    dashboard = pods(render("trial-a", NS, spec))["dashboard"]
    assert allowed(policies(spec), External("192.0.2.50"), dashboard, 8050)


def test_egress_is_limited_to_what_each_workload_needs() -> None:
    spec = {**GOOGLE, "smtp": {"secretName": "smtp"}}
    found = policies(spec)
    workloads = pods(render("trial-a", NS, spec))
    database, api = workloads["timescaledb"], workloads["api"]
    for component in ("migrate", "ingest", "api", "dashboard", "admin"):
        assert allowed(found, workloads[component], DNS, 53, "UDP"), component
    # The API: database, Google (consent), mail; not the dashboard, not the world on other ports.
    assert allowed(found, api, database, 5432)
    assert allowed(found, api, GOOGLE_API, 443) and allowed(found, api, External(), 587)
    assert not allowed(found, api, workloads["dashboard"], 8050)
    assert not allowed(found, api, External(), 22)
    # Ingest: database, Google, mail. Migration and admin: the database only.
    assert allowed(found, workloads["ingest"], GOOGLE_API, 443)
    for component in ("migrate", "admin"):
        assert allowed(found, workloads[component], database, 5432)
        assert not allowed(found, workloads[component], GOOGLE_API, 443), component
    # The dashboard: the API only (password mode has no IdP to call).
    assert allowed(found, workloads["dashboard"], api, 8000)
    assert not allowed(found, workloads["dashboard"], database, 5432)
    assert not allowed(found, workloads["dashboard"], GOOGLE_API, 443)
    # The database calls out to nothing (no backups to S3 here).
    assert not allowed(found, database, GOOGLE_API, 443)


def test_without_smtp_or_google_there_is_no_such_egress() -> None:
    spec = {"ingest": {"source": {"type": "inbox", "inboxClaimName": "inbox"}}}
    found = policies(spec)
    workloads = pods(render("trial-a", NS, spec))
    for component in ("ingest", "api"):
        assert not allowed(found, workloads[component], GOOGLE_API, 443), component
        assert not allowed(found, workloads[component], External(), 25), component


def test_backups_reach_the_agent_and_the_database_reaches_s3() -> None:
    spec = {
        **GOOGLE,
        "backup": {
            "enabled": True,
            "repository": {
                "type": "s3",
                "s3": {
                    "bucket": "b-1",
                    "endpoint": "minio.example",
                    "port": 9000,
                    "region": "us-east-1",
                    "secretName": "s3",
                },
            },
        },
    }
    found = policies(spec)
    workloads = pods(render("trial-a", NS, spec))
    database = workloads["timescaledb"]
    for job in ("backup", "backup-diff"):
        assert allowed(found, workloads[job], database, 8081), job
        assert not allowed(found, workloads[job], database, 5432), job
    assert not allowed(found, workloads["api"], database, 8081)
    assert allowed(found, database, External(), 9000)
    assert not allowed(found, database, External(), 443)


def test_narrower_external_cidrs_and_another_prometheus_are_honoured() -> None:
    spec = {
        **GOOGLE,
        "networkPolicy": {
            "externalCIDRs": ["10.20.0.0/16"],
            "prometheus": {"namespaceSelector": {"matchLabels": {"team": "observability"}}},
        },
    }
    found = policies(spec)
    api = pods(render("trial-a", NS, spec))["api"]
    assert allowed(found, api, External("10.20.3.4"), 443)
    assert not allowed(found, api, GOOGLE_API, 443)
    theirs = Pod("prom", "obs", {"app": "prometheus"}, {"team": "observability"})
    assert allowed(found, theirs, api, 8000) and not allowed(found, PROMETHEUS, api, 8000)


def test_network_policies_can_be_switched_off() -> None:
    assert policies({**GOOGLE, "networkPolicy": {"enabled": False}}) == []


@pytest.mark.parametrize("peer", ["prometheus", "ingressController", "dns"])
def test_a_peer_without_a_selector_is_refused(peer: str) -> None:
    from fitpipe.errors import InputError

    with pytest.raises(InputError) as refused:
        render("trial-a", NS, {**GOOGLE, "networkPolicy": {peer: {}}})
    assert refused.value.field == f"spec.networkPolicy.{peer}"
