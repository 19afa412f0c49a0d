"""A NetworkPolicy for every workload of a pipeline, ingress and egress, from the least each needs:

| pods       | may be reached by                                        | may reach |
|------------|----------------------------------------------------------|-----------|
| database   | migration Job, ingest, API, admin pod (5432); backup Jobs (agent port) | DNS; S3 (backup) |
| migration  | nobody                                                   | database, DNS |
| ingest     | nobody                                                   | database, DNS; Google APIs (HTTPS); mail server |
| API        | dashboard, Prometheus; the ingress controller if asked; anyone if its Service is a NodePort/LoadBalancer | database, DNS; Google (HTTPS) for consent; mail server |
| dashboard  | the ingress controller; anyone if its Service is a NodePort/LoadBalancer | API, DNS; the identity provider (oidc) |
| backup Jobs| nobody                                                   | the database pod's backup agent, DNS |
| admin pod  | nobody                                                   | database, DNS |

A NetworkPolicy cannot name hosts, so HTTPS egress goes to `networkPolicy.externalCIDRs` (default:
anywhere) on the port it needs. Policies are additive: a cluster operator widens one with a policy of
their own selecting the same pods. Traffic from a node to its pods (kubelet probes) is not governed
by NetworkPolicies in common network plugins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fitpipe_operator.children.api import API_PORT
from fitpipe_operator.children.backup import AGENT_PORT, backup_configured
from fitpipe_operator.children.dashboard import oidc_mode
from fitpipe_operator.children.pods import DB_PORT
from fitpipe_operator.children.proxy import DASHBOARD_PORT, PROXY_PORT
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["network_children", "ADMIN_COMPONENT"]

# The component label of `fitpipe operator admin-pod`'s pod: the database admits it.
ADMIN_COMPONENT = "admin"
EXPOSED = ("NodePort", "LoadBalancer")


def _pods(name: str, *components: str) -> dict[str, Any]:
    """This pipeline's pods of those components (in the pipeline's namespace)."""
    return {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": "fitpipe", "app.kubernetes.io/instance": name},
            "matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": sorted(components)}
            ],
        }
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _dns(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "to": [dict(spec["networkPolicy"]["dns"])],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def _external(spec: dict[str, Any], *ports: int) -> dict[str, Any]:
    return {
        "to": [{"ipBlock": {"cidr": cidr}} for cidr in spec["networkPolicy"]["externalCIDRs"]],
        "ports": _tcp(*sorted(set(ports))),
    }


def _database(name: str) -> dict[str, Any]:
    return {"to": [_pods(name, "timescaledb")], "ports": _tcp(DB_PORT)}


def _mail_and_google(spec: dict[str, Any], google: bool) -> list[dict[str, Any]]:
    rules = []
    if google:
        rules.append(_external(spec, 443))
    if spec["smtp"].get("secretName"):
        rules.append(_external(spec, *spec["networkPolicy"]["smtpPorts"]))
    return rules


def _policy(
    name: str,
    namespace: str,
    component: str,
    policy_name: str,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace, component, policy_name),
        "spec": {
            "podSelector": {"matchLabels": selector(name, component)},
            # Both types, even with no rule: what is not listed is denied.
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _web_ingress(
    spec: dict[str, Any], block: dict[str, Any], port: int, peers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if block["service"]["type"] in EXPOSED:
        # A NodePort or LoadBalancer is reached from outside the cluster (through the nodes): anyone.
        return [{"ports": _tcp(port)}]
    return [{"from": peers, "ports": _tcp(port)}] if peers else []


def network_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    policy = spec["networkPolicy"]
    if not policy["enabled"]:
        return []
    dns = _dns(spec)
    out = []

    database_ingress = [
        {"from": [_pods(name, "migrate", "ingest", "api", ADMIN_COMPONENT)], "ports": _tcp(DB_PORT)}
    ]
    database_egress = [dns]
    if spec["backup"]["enabled"]:
        database_ingress.append({"from": [_pods(name, "backup")], "ports": _tcp(AGENT_PORT)})
    if backup_configured(spec) and spec["backup"]["repository"]["type"] == "s3":
        database_egress.append(_external(spec, spec["backup"]["repository"]["s3"]["port"]))
    out.append(
        _policy(name, namespace, "timescaledb", child(name, "timescaledb"), database_ingress, database_egress)
    )

    out.append(_policy(name, namespace, "migrate", child(name, "migrate"), [], [_database(name), dns]))
    google_source = spec["ingest"]["source"]["type"] == "googleHealthApi"
    out.append(
        _policy(
            name, namespace, "ingest", child(name, "ingest"), [],
            [_database(name), dns, *_mail_and_google(spec, google_source)],
        )
    )  # fmt: skip

    api_peers: list[dict[str, Any]] = [dict(policy["prometheus"])]
    if spec["dashboard"]["enabled"]:
        api_peers.insert(0, _pods(name, "dashboard"))
    if policy["apiFromIngressController"]:
        api_peers.append(dict(policy["ingressController"]))
    out.append(
        _policy(
            name, namespace, "api", child(name, "api"),
            _web_ingress(spec, spec["api"], API_PORT, api_peers),
            [_database(name), dns, *_mail_and_google(spec, bool(spec["googleHealth"].get("secretName")))],
        )
    )  # fmt: skip

    if spec["dashboard"]["enabled"]:
        port = PROXY_PORT if oidc_mode(spec) else DASHBOARD_PORT
        egress = [{"to": [_pods(name, "api")], "ports": _tcp(API_PORT)}, dns]
        if oidc_mode(spec):
            issuer = urlsplit(spec["dashboard"]["auth"]["oidc"]["issuerURL"])
            egress.append(_external(spec, issuer.port or 443))
        out.append(
            _policy(
                name, namespace, "dashboard", child(name, "dashboard"),
                _web_ingress(spec, spec["dashboard"], port, [dict(policy["ingressController"])]),
                egress,
            )
        )  # fmt: skip

    if spec["backup"]["enabled"]:
        agent = {"to": [_pods(name, "timescaledb")], "ports": _tcp(AGENT_PORT)}
        out.append(_policy(name, namespace, "backup", child(name, "backup"), [], [agent, dns]))
    out.append(
        _policy(name, namespace, ADMIN_COMPONENT, child(name, ADMIN_COMPONENT), [], [_database(name), dns])
    )
    return out
