"""render(): what a FitbitPipeline's children look like for each spec variant, and how bad specs are refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fitpipe.errors import InputError
from fitpipe_operator.children.monitoring import alert_rule_groups, grafana_dashboards
from fitpipe_operator.children.secrets import fill_generated
from fitpipe_operator.naming import GENERATE_ANNOTATION
from fitpipe_operator.render import render
from tests.operator.conftest import GOOGLE, OIDC, VARIANTS

NS = "trial-a"


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in manifests:
        out.setdefault(m["kind"], []).append(m)
    return out


def one(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return dict(workload["spec"]["jobTemplate"]["spec"]["template"])
    return dict(workload["spec"]["template"])


def test_minimal_spec_renders_the_whole_stack() -> None:
    manifests = render("trial-a", NS, GOOGLE)
    kinds = {kind: len(items) for kind, items in by_kind(manifests).items()}
    expected = {
        "Secret": 6,  # superuser, owner, api and ingest logins, token key, dashboard session key
        "Service": 3,  # timescaledb (headless), api, dashboard
        "StatefulSet": 1,
        "NetworkPolicy": 6,  # database, migration, ingest, api, dashboard, admin pod
        "Job": 1,
        "CronJob": 1,
        "Deployment": 2,
        "PodDisruptionBudget": 1,  # the API's two replicas
        "ServiceMonitor": 1,
    }
    if alert_rule_groups("trial-a", NS, {}) is not None:
        expected["PrometheusRule"] = 1
    if dashboards := grafana_dashboards():
        expected["ConfigMap"] = len(dashboards)
    assert kinds == expected


def test_render_is_pure(variant: tuple[str, dict[str, Any]]) -> None:
    _, spec = variant
    before = copy.deepcopy(spec)
    assert render("trial-a", NS, spec) == render("trial-a", NS, spec)
    assert spec == before


def test_every_child_is_in_the_namespace_and_labelled_with_its_pipeline(
    variant: tuple[str, dict[str, Any]],
) -> None:
    _, spec = variant
    for m in render("trial-a", NS, spec):
        labels = m["metadata"]["labels"]
        assert m["metadata"]["namespace"] == NS
        assert labels["app.kubernetes.io/instance"] == "trial-a"
        assert labels["app.kubernetes.io/managed-by"] == "fitpipe-operator"
        assert m["metadata"]["name"].startswith("trial-a")
        assert len(m["metadata"]["name"]) <= 63


def test_generated_secrets_hold_no_password_until_the_operator_fills_them_once() -> None:
    secrets = by_kind(render("trial-a", NS, GOOGLE))["Secret"]
    db = next(s for s in secrets if s["metadata"]["name"] == "trial-a-db-credentials")
    assert db["stringData"] == {"username": "postgres"}
    assert db["metadata"]["annotations"][GENERATE_ANNOTATION] == "password"
    first, second = fill_generated(db), fill_generated(db)
    assert len(first["stringData"]["password"]) == 44  # 32 random bytes, base64
    assert first["stringData"]["password"] != second["stringData"]["password"]
    assert "password" not in db["stringData"]  # the rendered manifest is untouched


def test_volume_outlives_the_pipeline_unless_asked() -> None:
    # The generated Secrets follow the volume's claim (their owner, set by the operator), not the pipeline.
    kept = render("trial-a", NS, GOOGLE)
    sts = one(kept, "StatefulSet", "trial-a-timescaledb")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"

    disposable = render("trial-a", NS, VARIANTS["disposable"])
    sts = one(disposable, "StatefulSet", "trial-a-timescaledb")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "1Gi" and claim["storageClassName"] == "fast"


def test_rendered_secrets_carry_no_owner() -> None:
    for secret in by_kind(render("trial-a", NS, GOOGLE))["Secret"]:
        assert "ownerReferences" not in secret["metadata"]


def test_named_secrets_replace_the_generated_ones() -> None:
    manifests = render("trial-a", NS, VARIANTS["own-secrets"])
    generated = {s["metadata"]["name"] for s in by_kind(manifests)["Secret"]}
    # The logins' passwords and the dashboard's session key are always the operator's to generate.
    assert generated == {"trial-a-db-owner", "trial-a-db-api", "trial-a-db-ingest", "trial-a-dashboard-key"}
    migrate = next(m for m in manifests if m["kind"] == "Job")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(migrate)["DB_PASS"] == {"secretKeyRef": {"name": "db-admin", "key": "password"}}
    api = one(manifests, "Deployment", "trial-a-api")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(api)
    assert "DB_PASS" not in env and "DB_USER" not in env
    assert env["FITPIPE_TOKEN_KEY"] == {"secretKeyRef": {"name": "token-key", "key": "key"}}
    assert env["MAIL_PASSWORD"]["secretKeyRef"]["name"] == "smtp"
    oidc = {**VARIANTS["own-secrets"], "dashboard": {"auth": {"mode": "oidc", "oidc": OIDC}}}
    dashboard = one(render("trial-a", NS, oidc), "Deployment", "trial-a-dashboard")
    assert env_of(dashboard["spec"]["template"]["spec"]["containers"][0])["FITPIPE_API_TOKEN"] == {
        "secretKeyRef": {"name": "dashboard-token", "key": "token"}
    }


def test_dashboard_reads_the_api_never_the_database() -> None:
    manifests = render("trial-a", NS, GOOGLE)
    dashboard = one(manifests, "Deployment", "trial-a-dashboard")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(dashboard)
    assert env["FITPIPE_API_URL"] == "http://trial-a-api.trial-a.svc:8000"
    # Password mode: no API token of its own; people's sessions are encrypted with the generated key.
    assert "FITPIPE_API_TOKEN" not in env
    assert env["FITPIPE_DASHBOARD_AUTH"] == "password"
    assert env["FITPIPE_DASHBOARD_SECRET_KEY"] == {
        "secretKeyRef": {"name": "trial-a-dashboard-key", "key": "key"}
    }
    assert not any(name.startswith(("DB_", "DATABASE_URL", "GOOGLE_", "FITPIPE_API_DB")) for name in env)
    assert dashboard["args"] == ["serve", "dashboard", "--host", "0.0.0.0", "--port", "8050"]


def test_each_component_runs_its_fitpipe_command() -> None:
    manifests = render("trial-a", NS, GOOGLE)
    commands = {
        m["metadata"]["name"]: pod_template(m)["spec"]["containers"][0]["args"]
        for m in manifests
        if m["kind"] in ("Job", "CronJob", "Deployment")
    }
    assert commands == {
        next(m["metadata"]["name"] for m in manifests if m["kind"] == "Job"): ["migrate"],
        "trial-a-ingest": ["run"],
        "trial-a-api": ["serve", "api", "--host", "0.0.0.0", "--port", "8000"],
        "trial-a-dashboard": ["serve", "dashboard", "--host", "0.0.0.0", "--port", "8050"],
    }


def test_api_has_probes_and_serves_metrics_on_the_port_the_service_monitor_scrapes() -> None:
    manifests = render("trial-a", NS, GOOGLE)
    api = one(manifests, "Deployment", "trial-a-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    service = one(manifests, "Service", "trial-a-api")
    monitor = one(manifests, "ServiceMonitor", "trial-a-api")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert service["spec"]["ports"][0]["name"] == "http"


def test_ingest_cronjob_never_overlaps_and_keeps_its_history_limits() -> None:
    cron = one(render("trial-a", NS, VARIANTS["example"]), "CronJob", "trial-a-ingest")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert (cron["schedule"], cron["timeZone"]) == ("0 1 * * *", "Europe/Berlin")
    assert (cron["successfulJobsHistoryLimit"], cron["failedJobsHistoryLimit"]) == (3, 5)
    assert cron["jobTemplate"]["spec"]["backoffLimit"] == 2
    suspended = one(render("trial-a", NS, VARIANTS["disposable"]), "CronJob", "trial-a-ingest")["spec"]
    assert suspended["suspend"] is True and suspended["schedule"] == "@daily"


def test_inbox_source_mounts_its_claim_into_the_ingest_job() -> None:
    cron = one(render("trial-a", NS, VARIANTS["inbox-source"]), "CronJob", "trial-a-ingest")
    pod = pod_template(cron)["spec"]
    assert {"name": "inbox", "persistentVolumeClaim": {"claimName": "trial-inbox"}} in pod["volumes"]
    container = pod["containers"][0]
    assert {"name": "inbox", "mountPath": "/inbox"} in container["volumeMounts"]
    assert env_of(container)["FITPIPE_INBOX"] == "/inbox"
    assert "GOOGLE_CLIENT_ID" not in env_of(container)


@pytest.mark.parametrize(
    "change",
    [
        {"image": {"tag": "0.2.0"}},
        {"study": "trial-b"},
        {"ingest": {"timeZone": "Europe/Berlin"}},
        {"image": {"pullPolicy": "Always"}},
        {"image": {"pullSecrets": ["registry"]}},
        {"timescaledb": {"credentialsSecret": "db-admin"}},
    ],
)
def test_migration_job_is_renamed_when_its_pod_template_changes(change: dict[str, Any]) -> None:
    # A Job's pod template is immutable: a changed template must be a new Job, never a 422 on the old one.
    def job(spec: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in render("trial-a", NS, spec) if m["kind"] == "Job")

    before, after = job(GOOGLE), job({**GOOGLE, **change})
    assert job(GOOGLE)["metadata"]["name"] == before["metadata"]["name"]
    assert before["spec"]["template"] != after["spec"]["template"]
    assert before["metadata"]["name"] != after["metadata"]["name"]


def test_migration_job_keeps_its_name_when_only_other_children_change() -> None:
    def job_name(spec: dict[str, Any]) -> str:
        return next(m["metadata"]["name"] for m in render("trial-a", NS, spec) if m["kind"] == "Job")

    assert job_name(GOOGLE) == job_name({**GOOGLE, "api": {"replicas": 5}, "ingest": {"schedule": "@daily"}})


def test_monitoring_objects_carry_the_operators_labels_under_the_pipelines() -> None:
    spec: dict[str, Any] = {
        **GOOGLE,
        "monitoring": {
            "alertmanager": {"enabled": True, "to": "a@b.org", "from": "c@d.org", "smarthost": "m:25"}
        },
    }
    for labels, expected in (
        ({"release": "kube-prometheus-stack"}, "kube-prometheus-stack"),
        ({"release": "monitoring", "team": "x"}, "monitoring"),
    ):
        manifests = render("trial-a", NS, spec, monitoring_labels=labels)
        for kind in ("ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"):
            (found,) = by_kind(manifests)[kind]
            assert found["metadata"]["labels"]["release"] == expected, kind
    overridden = render(
        "trial-a", NS, {**spec, "monitoring": {**spec["monitoring"], "labels": {"release": "kps"}}}
    )
    assert all(
        m["metadata"]["labels"]["release"] == "kps" for m in overridden if m["kind"] == "ServiceMonitor"
    )
    default = by_kind(render("trial-a", NS, spec))["ServiceMonitor"][0]
    assert default["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_alertmanager_config_routes_by_severity_and_inhibits_warnings() -> None:
    spec = {
        **GOOGLE,
        "monitoring": {
            "alertmanager": {
                "enabled": True,
                "to": "admin@wearipedia.com",
                "from": "f@x.org",
                "smarthost": "m:587",
            }
        },
    }
    config = by_kind(render("trial-a", NS, spec))["AlertmanagerConfig"][0]["spec"]
    route = config["route"]
    assert route["matchers"] == [{"name": "fitpipe_pipeline", "value": "trial-a", "matchType": "="}]
    routes = {r["matchers"][0]["value"]: r for r in route["routes"]}
    assert (routes["critical"]["receiver"], routes["critical"]["groupWait"]) == ("email-critical", "10s")
    assert (routes["warning"]["receiver"], routes["warning"]["groupWait"]) == ("email-warning", "2m")
    assert {c["to"] for r in config["receivers"] for c in r["emailConfigs"]} == {"admin@wearipedia.com"}
    muted = config["inhibitRules"][0]
    assert muted["sourceMatch"][0]["value"] == "critical" and muted["targetMatch"][0]["value"] == "warning"
    assert {"name": "fitpipe_pipeline", "value": "trial-a", "matchType": "="} in muted["sourceMatch"]


def test_disabled_parts_render_nothing() -> None:
    kinds = by_kind(render("trial-a", NS, VARIANTS["lean"]))
    assert "ServiceMonitor" not in kinds and "PrometheusRule" not in kinds and "ConfigMap" not in kinds
    assert [d["metadata"]["name"] for d in kinds["Deployment"]] == ["trial-a-api"]
    assert kinds["Deployment"][0]["spec"]["replicas"] == 0


def test_alert_rules_read_only_this_pipelines_series() -> None:
    if alert_rule_groups("trial-a", NS, {}) is None:
        pytest.skip("fitpipe.monitoring.alerts is not in this build")
    rule = one(render("trial-a", NS, VARIANTS["disposable"]), "PrometheusRule", "trial-a")
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert rules and all('namespace="trial-a", service="trial-a-api"' in r["expr"] for r in rules)
    assert all(r["labels"]["fitpipe_pipeline"] == "trial-a" for r in rules if "alert" in r)
    assert rule["metadata"]["labels"]["release"] == "kps"
    default = one(render("trial-a", NS, GOOGLE), "PrometheusRule", "trial-a")
    assert default["spec"] != rule["spec"]  # the thresholds reached the expressions


def test_pods_run_as_non_root_without_a_service_account_token(variant: tuple[str, dict[str, Any]]) -> None:
    _, spec = variant
    for m in render("trial-a", NS, spec):
        if m["kind"] not in ("StatefulSet", "Deployment", "Job", "CronJob"):
            continue
        pod = pod_template(m)["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"]


def test_image_digest_wins_over_the_tag() -> None:
    api = one(render("trial-a", NS, VARIANTS["disposable"]), "Deployment", "trial-a-api")
    pod = api["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.org/fitpipe@sha256:" + "ab" * 32
    assert pod["imagePullSecrets"] == [{"name": "registry"}]


@pytest.mark.parametrize(
    ("name", "spec", "field"),
    [
        ("Trial_A", GOOGLE, "metadata.name"),
        ("a" * 41, GOOGLE, "metadata.name"),
        ("trial-a", {**GOOGLE, "ingest": {"schedule": "every day"}}, "spec.ingest.schedule"),
        ("trial-a", {**GOOGLE, "ingest": {"schedule": "61 1 * * *"}}, "spec.ingest.schedule"),
        ("trial-a", {**GOOGLE, "ingest": {"timeZone": "Mars/Olympus_Mons"}}, "spec.ingest.timeZone"),
        ("trial-a", {"ingest": {"source": {"type": "inbox"}}}, "spec.ingest.source.inboxClaimName"),
        ("trial-a", {}, "spec.googleHealth.secretName"),
        ("trial-a", {**GOOGLE, "api": {"replicas": -1}}, "spec.api.replicas"),
        (
            "trial-a",
            {**GOOGLE, "timescaledb": {"storage": {"size": "lots"}}},
            "spec.timescaledb.storage.size",
        ),
        ("trial-a", {**GOOGLE, "dashbord": {"enabled": False}}, "spec"),
        (
            "trial-a",
            {**GOOGLE, "monitoring": {"thresholds": {"ingestStaleHours": 0}}},
            "spec.monitoring.thresholds.ingestStaleHours",
        ),
        ("trial-a", {**GOOGLE, "monitoring": {"thresholds": {"stale": 3}}}, "spec.monitoring.thresholds"),
        (
            "trial-a",
            {**GOOGLE, "monitoring": {"alertmanager": {"enabled": True}}},
            "spec.monitoring.alertmanager.to",
        ),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(name: str, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        render(name, NS, spec)
    assert caught.value.field == field
