"""The signed-in dashboard as rendered (issue 14.2): password mode with a shared session key and no API
token; OIDC mode with the oauth2-proxy sidecar as the only way in; an Ingress with TLS; a status warning
when the dashboard is exposed over plain HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from fitpipe.errors import InputError
from fitpipe.settings import Settings
from fitpipe_operator.children.rollout import CHECKSUM_ANNOTATION
from fitpipe_operator.images import defaults, pinned
from fitpipe_operator.render import render
from fitpipe_operator.spec import checked_spec
from fitpipe_operator.status import dashboard_secure
from tests.operator.conftest import GOOGLE, OIDC

NS = "trial-a"
OIDC_SPEC = {**GOOGLE, "dashboard": {"auth": {"mode": "oidc", "oidc": OIDC}}}


def one(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def containers(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    pod = one(manifests, "Deployment", "trial-a-dashboard")["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_password_mode_probes_the_unauthenticated_healthz() -> None:
    dashboard = containers(render("trial-a", NS, GOOGLE))["dashboard"]
    assert dashboard["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert dashboard["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_oidc_mode_puts_the_proxy_in_front_and_the_dashboard_on_loopback() -> None:
    manifests = render("trial-a", NS, OIDC_SPEC)
    found = containers(manifests)
    assert set(found) == {"dashboard", "oauth2-proxy"}
    dashboard, proxy = found["dashboard"], found["oauth2-proxy"]
    assert dashboard["args"] == ["serve", "dashboard", "--host", "127.0.0.1", "--port", "8050"]
    assert "ports" not in dashboard  # nothing to reach from outside the pod
    assert proxy["ports"] == [{"name": "http", "containerPort": 4180, "protocol": "TCP"}]
    service = one(manifests, "Service", "trial-a-dashboard")
    assert service["spec"]["ports"][0]["targetPort"] == "http"  # the proxy's port
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert proxy["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    assert "127.0.0.1:8050/healthz" in " ".join(dashboard["livenessProbe"]["exec"]["command"])
    assert pinned(proxy["image"]) and proxy["image"] == defaults().oauth2_proxy
    assert "--skip-auth-route=GET=^/healthz$" in proxy["args"]
    assert "--cookie-secure=true" in proxy["args"] and "--email-domain=*" in proxy["args"]


def test_oidc_mode_gives_the_dashboard_the_proxy_secret_and_the_signin_token() -> None:
    env = env_of(containers(render("trial-a", NS, OIDC_SPEC))["dashboard"])
    assert env["FITPIPE_DASHBOARD_AUTH"] == "proxy"
    assert env["FITPIPE_DASHBOARD_PROXY_SECRET"] == {
        "secretKeyRef": {"name": "trial-a-dashboard-proxy", "key": "secret"}
    }
    # Not optional: without its signin token the dashboard must not start.
    assert env["FITPIPE_API_TOKEN"] == {"secretKeyRef": {"name": "trial-a-api-token", "key": "token"}}
    assert env["FITPIPE_DASHBOARD_PROXY_USER_HEADER"] == "X-Forwarded-Email"
    assert env["FITPIPE_DASHBOARD_SECRET_KEY"]["secretKeyRef"]["name"] == "trial-a-dashboard-key"


def test_the_rendered_dashboard_environment_is_what_the_dashboards_settings_accept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in env_of(containers(render("trial-a", NS, OIDC_SPEC))["dashboard"]).items():
        monkeypatch.setenv(variable, value if isinstance(value, str) else "from-a-secret")
    settings = Settings()
    assert settings.fitpipe_dashboard_auth == "proxy"
    assert settings.fitpipe_dashboard_proxy_match == "email"
    assert settings.fitpipe_dashboard_proxy_user_header == "X-Forwarded-Email"


def test_the_proxy_configuration_injects_the_identity_and_the_shared_secret_from_files() -> None:
    spec = {
        **GOOGLE,
        "dashboard": {
            "auth": {
                "mode": "oidc",
                "oidc": {
                    **OIDC,
                    "allowedGroups": ["trial-a-staff"],
                    "match": "username",
                    "emailDomains": ["hospital.example"],
                },
            }
        },
    }
    manifests = render("trial-a", NS, spec)
    config = yaml.safe_load(
        one(manifests, "ConfigMap", "trial-a-dashboard-proxy")["data"]["alpha-config.yaml"]
    )
    assert config["server"] == {"bindAddress": "0.0.0.0:4180"}
    assert config["upstreamConfig"]["upstreams"] == [
        {"id": "dashboard", "path": "/", "uri": "http://127.0.0.1:8050"}
    ]
    (provider,) = config["providers"]
    assert (
        provider["oidcConfig"]["issuerURL"] == OIDC["issuerURL"] and provider["clientID"] == OIDC["clientID"]
    )
    assert provider["clientSecretFile"] == "/etc/oauth2-proxy/client/client-secret"
    assert provider["allowedGroups"] == ["trial-a-staff"]
    headers = {h["name"]: h["values"][0] for h in config["injectRequestHeaders"]}
    assert headers["X-Forwarded-Preferred-Username"] == {"claimSource": {"claim": "preferred_username"}}
    assert headers["X-Fitpipe-Proxy-Secret"] == {
        "secretSource": {"fromFile": "/etc/oauth2-proxy/secrets/secret"}
    }
    found = containers(manifests)
    assert (
        env_of(found["dashboard"])["FITPIPE_DASHBOARD_PROXY_USER_HEADER"] == "X-Forwarded-Preferred-Username"
    )
    assert "--email-domain=hospital.example" in found["oauth2-proxy"]["args"]
    volumes = {
        v["name"]: v
        for v in one(manifests, "Deployment", "trial-a-dashboard")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["proxy-client"]["secret"]["secretName"] == "oidc-client"
    assert volumes["proxy-secrets"]["secret"]["secretName"] == "trial-a-dashboard-proxy"
    generated = [
        m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == "trial-a-dashboard-proxy"
    ]
    assert generated[0]["metadata"]["annotations"]["fitpipe.io/generate"] == "secret,cookie-secret"


def test_a_changed_proxy_configuration_rolls_the_dashboard() -> None:
    def checksum(issuer: str) -> str:
        spec = {**GOOGLE, "dashboard": {"auth": {"mode": "oidc", "oidc": {**OIDC, "issuerURL": issuer}}}}
        deployment = one(render("trial-a", NS, spec), "Deployment", "trial-a-dashboard")
        return str(deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION])

    assert checksum("https://a.example/realm") != checksum("https://b.example/realm")


@pytest.mark.parametrize(
    ("oidc", "field"),
    [
        ({}, "spec.dashboard.auth.oidc.issuerURL"),
        ({"issuerURL": "https://x.example", "clientID": "c"}, "spec.dashboard.auth.oidc.clientSecretName"),
        ({**OIDC, "issuerURL": "http://plain.example"}, "spec.dashboard.auth.oidc.issuerURL"),
    ],
)
def test_oidc_mode_needs_an_https_issuer_a_client_and_its_secret(oidc: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        render("trial-a", NS, {**GOOGLE, "dashboard": {"auth": {"mode": "oidc", "oidc": oidc}}})
    assert refused.value.field == field


def test_an_ingress_serves_the_dashboard_over_tls() -> None:
    spec = {
        **GOOGLE,
        "dashboard": {
            "ingress": {
                "enabled": True,
                "host": "trial-a.hospital.example",
                "tlsSecretName": "trial-a-tls",
                "className": "nginx",
                "annotations": {"cert-manager.io/cluster-issuer": "hospital-ca"},
            }
        },
    }
    ingress = one(render("trial-a", NS, spec), "Ingress", "trial-a-dashboard")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["trial-a.hospital.example"], "secretName": "trial-a-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "trial-a-dashboard", "port": {"number": 8050}}
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "hospital-ca"}
    with pytest.raises(InputError) as refused:
        render("trial-a", NS, {**GOOGLE, "dashboard": {"ingress": {"enabled": True, "host": "x.example"}}})
    assert refused.value.field == "spec.dashboard.ingress.tlsSecretName"


@pytest.mark.parametrize(
    ("dashboard", "status", "reason"),
    [
        ({}, "True", "ClusterInternal"),
        ({"service": {"type": "NodePort"}}, "False", "PlainHTTP"),
        ({"service": {"type": "LoadBalancer"}}, "False", "PlainHTTP"),
        ({"service": {"type": "LoadBalancer", "externalTLS": True}}, "True", "ExternalTLS"),
        ({"ingress": {"enabled": True, "host": "d.example", "tlsSecretName": "t"}}, "True", "IngressTLS"),
        (
            {
                "service": {"type": "NodePort"},
                "ingress": {"enabled": True, "host": "d.example", "tlsSecretName": "t"},
            },
            "False",
            "PlainHTTP",
        ),
        ({"enabled": False, "service": {"type": "NodePort"}}, "True", "Disabled"),
    ],
)
def test_status_warns_when_the_dashboard_is_exposed_over_plain_http(
    dashboard: dict[str, Any], status: str, reason: str
) -> None:
    found = dashboard_secure(checked_spec("trial-a", {**GOOGLE, "dashboard": dashboard}))
    assert (found["type"], found["status"], found["reason"]) == ("DashboardSecure", status, reason)
    if status == "False":
        assert "nobody can sign in" in found["message"] and "spec.dashboard.ingress" in found["message"]
