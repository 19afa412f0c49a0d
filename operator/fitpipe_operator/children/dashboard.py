"""The trial manager's dashboard (`fitpipe serve dashboard`): it reads the API as the signed-in person,
never the database, and holds no API token of its own in password mode.

password mode: people sign in with fitpipe accounts; the session cookie is encrypted with the generated
`<name>-dashboard-key`, so every replica reads every session and sessions survive restarts.
oidc mode: the oauth2-proxy sidecar (children/proxy.py) signs people in at the hospital's identity
provider; the dashboard listens on loopback only and starts sessions with its `signin` token.
An optional Ingress with TLS serves it (its cookies are Secure: plain HTTP means no sign-in)."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.pods import api_token_env, api_url, container, fitpipe_env, secret_env
from fitpipe_operator.children.proxy import (
    DASHBOARD_PORT,
    identity_header,
    proxy_children,
    proxy_container,
    proxy_volumes,
)
from fitpipe_operator.children.secrets import dashboard_key_name, proxy_secret_name
from fitpipe_operator.children.web import deployment, service
from fitpipe_operator.naming import child, metadata

__all__ = ["COMPONENT", "dashboard_children", "oidc_mode"]

COMPONENT = "dashboard"
# The dashboard answers /healthz unauthenticated (dashboard/fitpipe_dashboard/auth/views.py).
HEALTHZ = "/healthz"


def oidc_mode(spec: dict[str, Any]) -> bool:
    return bool(spec["dashboard"]["enabled"] and spec["dashboard"]["auth"]["mode"] == "oidc")


def _ingress(name: str, namespace: str, block: dict[str, Any]) -> dict[str, Any]:
    ingress = block["ingress"]
    meta = metadata(name, namespace, COMPONENT, child(name, COMPONENT))
    if ingress.get("annotations"):
        meta["annotations"] = dict(ingress["annotations"])
    body: dict[str, Any] = {
        "tls": [{"hosts": [ingress["host"]], "secretName": ingress["tlsSecretName"]}],
        "rules": [
            {
                "host": ingress["host"],
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": child(name, COMPONENT),
                                    "port": {"number": block["service"]["port"]},
                                }
                            },
                        }
                    ]
                },
            }
        ],
    }
    if ingress.get("className"):
        body = {"ingressClassName": ingress["className"], **body}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": body}


def dashboard_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    block = spec["dashboard"]
    if not block["enabled"]:
        return []
    env = fitpipe_env(name, spec, database=None, mail=False, google=False) + [
        {"name": "FITPIPE_API_URL", "value": api_url(name, namespace, spec)},
        secret_env("FITPIPE_DASHBOARD_SECRET_KEY", dashboard_key_name(name), "key"),
    ]
    volumes: list[dict[str, Any]] = []
    if oidc_mode(spec):
        header, _ = identity_header(block["auth"]["oidc"])
        env += [
            {"name": "FITPIPE_DASHBOARD_AUTH", "value": "proxy"},
            secret_env("FITPIPE_DASHBOARD_PROXY_SECRET", proxy_secret_name(name), "secret"),
            api_token_env(name, spec),
            {"name": "FITPIPE_DASHBOARD_PROXY_USER_HEADER", "value": header},
            {"name": "FITPIPE_DASHBOARD_PROXY_MATCH", "value": block["auth"]["oidc"]["match"]},
        ]
        # Loopback only: nothing but the proxy in the same pod can connect. The kubelet cannot reach
        # loopback, so the dashboard's own liveness is checked from inside; readiness goes through the proxy.
        check = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{DASHBOARD_PORT}{HEALTHZ}', timeout=5)"
        main = container(
            spec,
            "dashboard",
            ["serve", "dashboard", "--host", "127.0.0.1", "--port", str(DASHBOARD_PORT)],
            env,
            block["resources"],
            livenessProbe={
                "exec": {"command": ["python3", "-c", check]},
                "initialDelaySeconds": 20,
                "periodSeconds": 30,
                "timeoutSeconds": 10,
            },
        )
        containers = [main, proxy_container(spec)]
        volumes = proxy_volumes(name, spec)
    else:
        env.append({"name": "FITPIPE_DASHBOARD_AUTH", "value": "password"})
        main = container(
            spec,
            "dashboard",
            ["serve", "dashboard", "--host", "0.0.0.0", "--port", str(DASHBOARD_PORT)],
            env,
            block["resources"],
            ports=[{"name": "http", "containerPort": DASHBOARD_PORT, "protocol": "TCP"}],
            readinessProbe={
                "httpGet": {"path": HEALTHZ, "port": "http"},
                "periodSeconds": 10,
                "failureThreshold": 3,
            },
            livenessProbe={
                "httpGet": {"path": HEALTHZ, "port": "http"},
                "initialDelaySeconds": 10,
                "periodSeconds": 20,
            },
        )
        containers = [main]
    out = proxy_children(name, namespace, spec) if oidc_mode(spec) else []
    out += [
        deployment(name, namespace, spec, COMPONENT, containers, replicas=block["replicas"], volumes=volumes),
        service(name, namespace, COMPONENT, block),
    ]
    if block["ingress"]["enabled"]:
        out.append(_ingress(name, namespace, block))
    return out
