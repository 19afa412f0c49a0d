"""NetworkPolicy semantics (networking.k8s.io/v1) for the tests: which connections a set of policies
allows between pods, as a network plugin enforces them. Written from the API reference:
- a pod selected by no policy of a direction allows everything in that direction;
- a pod selected by some policy allows, in that direction, the union of those policies' rules;
- a rule matches when any of its peers and any of its ports match (no peers / no ports: all);
- a peer with only podSelector selects pods of the policy's namespace; only namespaceSelector, every
  pod in the namespaces selected; both, those pods in those namespaces; ipBlock, addresses (here: an
  address outside the cluster, or a pod when the plugin treats pod IPs as ipBlock members - not assumed).
A connection is allowed when the source's egress and the destination's ingress both allow it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Pod", "External", "matches", "allowed", "admits"]


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    namespace_labels: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.namespace, self.name))


@dataclass(frozen=True)
class External:
    """An address outside the cluster (the Google APIs, an IdP, S3, a mail server)."""

    address: str = "203.0.113.10"


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: dict[str, Any], policy_namespace: str, other: Pod | External) -> bool:
    if "ipBlock" in peer:
        if not isinstance(other, External):
            return False
        address, network = ipaddress.ip_address(other.address), ipaddress.ip_network(peer["ipBlock"]["cidr"])
        excepted = [ipaddress.ip_network(e) for e in peer["ipBlock"].get("except") or []]
        return (
            address.version == network.version
            and address in network
            and not any(address.version == e.version and address in e for e in excepted)
        )
    if isinstance(other, External):
        return False
    if "namespaceSelector" in peer:
        if not matches(
            peer["namespaceSelector"],
            {**other.namespace_labels, "kubernetes.io/metadata.name": other.namespace},
        ):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or matches(peer["podSelector"], other.labels)


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports)


def _direction_allows(
    policies: list[dict[str, Any]], pod: Pod, other: Pod | External, port: int, protocol: str, kind: str
) -> bool:
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and kind in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    peers_key = "from" if kind == "Ingress" else "to"
    for policy in selecting:
        for rule in policy["spec"].get(kind.lower()) or []:
            peers = rule.get(peers_key)
            if peers and not any(
                _peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
            ):
                continue
            if _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(
    policies: list[dict[str, Any]],
    source: Pod | External,
    destination: Pod | External,
    port: int,
    protocol: str = "TCP",
) -> bool:
    if isinstance(source, Pod) and not _direction_allows(
        policies, source, destination, port, protocol, "Egress"
    ):
        return False
    return not isinstance(destination, Pod) or _direction_allows(
        policies, destination, source, port, protocol, "Ingress"
    )


def admits(
    policies: list[dict[str, Any]], destination: Pod, source: Pod | External, port: int, protocol: str = "TCP"
) -> bool:
    """The destination's ingress policies alone (whatever the source's own egress policies say)."""
    return _direction_allows(policies, destination, source, port, protocol, "Ingress")
