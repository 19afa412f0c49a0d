"""The OIDC sign-in of the dashboard: an oauth2-proxy sidecar in the dashboard's pod, the only way in.

The dashboard listens on the pod's loopback (127.0.0.1:8050), so only the proxy can reach it; the
Service targets the proxy (port 4180, named `http`). The proxy strips identity headers a client sends,
signs people in at the hospital's identity provider, and injects the person's email (or user name) and
the shared secret the dashboard checks on every request (docs/kubernetes.md "OIDC"). Its configuration
is a ConfigMap (oauth2-proxy's alpha configuration) plus flags; its secrets are files from Secrets:
the cookie secret and the shared secret (generated), the OIDC client's secret (the user's)."""

from __future__ import annotations

from typing import Any

import yaml

from fitpipe_operator.children.pods import UID, resources
from fitpipe_operator.children.secrets import proxy_secret_name
from fitpipe_operator.naming import child, metadata

__all__ = [
    "PROXY_PORT",
    "DASHBOARD_PORT",
    "identity_header",
    "proxy_configmap_name",
    "proxy_children",
    "proxy_container",
    "proxy_volumes",
]

PROXY_PORT = 4180
DASHBOARD_PORT = 8050
CONFIG_DIR = "/etc/oauth2-proxy"
SECRETS_DIR = "/etc/oauth2-proxy/secrets"
CLIENT_DIR = "/etc/oauth2-proxy/client"
# What the dashboard checks (dashboard/fitpipe_dashboard/auth/proxy.py).
SECRET_HEADER = "X-Fitpipe-Proxy-Secret"


def identity_header(oidc: dict[str, Any]) -> tuple[str, str]:
    """(header, session claim) naming the person, as spec.dashboard.auth.oidc.match says."""
    if oidc["match"] == "username":
        return "X-Forwarded-Preferred-Username", "preferred_username"
    return "X-Forwarded-Email", "email"


def proxy_configmap_name(name: str) -> str:
    return child(name, "dashboard-proxy")


def alpha_config(oidc: dict[str, Any]) -> dict[str, Any]:
    header, claim = identity_header(oidc)
    provider: dict[str, Any] = {
        "id": "hospital",
        "provider": "oidc",
        "clientID": oidc["clientID"],
        "clientSecretFile": f"{CLIENT_DIR}/client-secret",
        "code_challenge_method": "S256",
        "oidcConfig": {
            "issuerURL": oidc["issuerURL"],
            "emailClaim": oidc["emailClaim"],
            "audienceClaims": ["aud"],
        },
    }
    if oidc.get("allowedGroups"):
        provider["allowedGroups"] = list(oidc["allowedGroups"])
    return {
        "server": {"bindAddress": f"0.0.0.0:{PROXY_PORT}"},
        "upstreamConfig": {
            # passHostHeader (the default) keeps the browser's Host: the dashboard checks each POST's Origin.
            "upstreams": [{"id": "dashboard", "path": "/", "uri": f"http://127.0.0.1:{DASHBOARD_PORT}"}]
        },
        "providers": [provider],
        "injectRequestHeaders": [
            {"name": header, "values": [{"claimSource": {"claim": claim}}]},
            {"name": SECRET_HEADER, "values": [{"secretSource": {"fromFile": f"{SECRETS_DIR}/secret"}}]},
        ],
    }


def proxy_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    oidc = spec["dashboard"]["auth"]["oidc"]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(name, namespace, "dashboard", proxy_configmap_name(name)),
            "data": {"alpha-config.yaml": yaml.safe_dump(alpha_config(oidc), sort_keys=False)},
        }
    ]


def proxy_container(spec: dict[str, Any]) -> dict[str, Any]:
    oidc = spec["dashboard"]["auth"]["oidc"]
    args = [
        f"--alpha-config={CONFIG_DIR}/alpha-config.yaml",
        f"--cookie-secret-file={SECRETS_DIR}/cookie-secret",
        "--cookie-secure=true",
        "--cookie-samesite=lax",
        # Behind the ingress controller, whose X-Forwarded-Proto/Host make the redirect URL.
        "--reverse-proxy=true",
        # The readiness probe reaches the dashboard's /healthz through the proxy, unauthenticated.
        "--skip-auth-route=GET=^/healthz$",
        "--silence-ping-logging=true",
    ]
    args += [f"--email-domain={domain}" for domain in (oidc.get("emailDomains") or ["*"])]
    return {
        "name": "oauth2-proxy",
        "image": oidc["image"],
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [{"name": "http", "containerPort": PROXY_PORT, "protocol": "TCP"}],
        "resources": resources(oidc["resources"]),
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/ping", "port": "http"},
            "initialDelaySeconds": 5,
            "periodSeconds": 20,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "proxy-config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "proxy-secrets", "mountPath": SECRETS_DIR, "readOnly": True},
            {"name": "proxy-client", "mountPath": CLIENT_DIR, "readOnly": True},
        ],
    }


def proxy_volumes(name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    oidc = spec["dashboard"]["auth"]["oidc"]
    return [
        {"name": "proxy-config", "configMap": {"name": proxy_configmap_name(name)}},
        # 0440: readable by the pod's group (fsGroup), not by others.
        {"name": "proxy-secrets", "secret": {"secretName": proxy_secret_name(name), "defaultMode": 0o440}},
        {
            "name": "proxy-client",
            "secret": {
                "secretName": oidc["clientSecretName"],
                "defaultMode": 0o440,
                "items": [{"key": "client-secret", "path": "client-secret"}],
            },
        },
    ]
