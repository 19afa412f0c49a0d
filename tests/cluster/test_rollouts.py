"""Every spec change a trial's platform engineer makes rolls out fully, with no stall: the children
carry the change, workloads finish their rollout, the migration Job is replaced (its template is
immutable) and `status.observedGeneration` catches up. A refused child does not stop the others;
status lists every error, and observedGeneration moves only once a pass succeeded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fitpipe_operator.reconcile import migration_job
from fitpipe_operator.render import render
from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, condition, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "rollout"
NAME = "trial-a"


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def workloads(kube: Kube, namespace: str = NS) -> dict[str, dict[str, Any]]:
    """Pod templates by workload: api, dashboard, ingest (CronJob), database, and the live migration Job."""
    pipeline = kube.get("FitbitPipeline", NAME, namespace)
    assert pipeline is not None
    job = migration_job(
        render(
            NAME,
            namespace,
            pipeline["spec"],
            generated=(pipeline.get("status") or {}).get("generatedSecrets"),
        )
    )
    found = {
        "api": kube.get("Deployment", f"{NAME}-api", namespace),
        "dashboard": kube.get("Deployment", f"{NAME}-dashboard", namespace),
        "database": kube.get("StatefulSet", f"{NAME}-timescaledb", namespace),
        "migrate": kube.get("Job", job, namespace),
    }
    cron = kube.get("CronJob", f"{NAME}-ingest", namespace)
    templates = {k: v["spec"]["template"] for k, v in found.items() if v is not None}
    if cron is not None:
        templates["ingest"] = cron["spec"]["jobTemplate"]["spec"]["template"]
    return templates


def rolled_out(kube: Kube, namespace: str = NS, timeout: float = 90) -> dict[str, Any]:
    """Wait until the pipeline's newest generation is reconciled and everything it runs caught up."""

    def done() -> dict[str, Any] | None:
        body = kube.get("FitbitPipeline", NAME, namespace) or {}
        status = body.get("status") or {}
        if status.get("observedGeneration") != body["metadata"]["generation"] or status.get("errors"):
            return None
        if condition(body, "Ready").get("status") != "True":
            return None
        for deployment in (f"{NAME}-api", f"{NAME}-dashboard"):
            d = kube.get("Deployment", deployment, namespace) or {}
            s = d.get("status") or {}
            wanted = d["spec"]["replicas"]
            if s.get("observedGeneration") != d["metadata"]["generation"]:
                return None
            if not (
                s.get("updatedReplicas", 0) == s.get("availableReplicas", 0) == s.get("replicas", 0) == wanted
            ):
                return None
        return body

    return eventually(done, timeout, f"FitbitPipeline {namespace}/{NAME} rolled out")


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-admin", "namespace": NS},
            "stringData": {"username": "postgres", "password": "chosen-by-the-dba"},
        }
    )
    kube.apply(example(NS, NAME))
    wait_ready(kube, NS, NAME)
    return rolled_out(kube)


def change(kube: Kube, spec: dict[str, Any]) -> dict[str, Any]:
    return kube.patch("FitbitPipeline", NAME, NS, {"spec": spec}, manager="platform-engineer")


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(template["spec"]["containers"])


Check = Callable[[Kube, dict[str, dict[str, Any]]], None]


def image_is(tag: str) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        for name in ("api", "dashboard", "ingest", "migrate"):
            assert containers(templates[name])[0]["image"] == f"ghcr.io/fitpipe/fitpipe:{tag}", name

    return check


def env_is(variable: str, value: str) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        for name in ("api", "dashboard", "ingest", "migrate"):
            assert env(containers(templates[name])[0])[variable] == value, name

    return check


def schedule_is(schedule: str, zone: str) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        cron = kube.get("CronJob", f"{NAME}-ingest", NS)
        assert cron is not None and (cron["spec"]["schedule"], cron["spec"]["timeZone"]) == (schedule, zone)

    return check


def replicas_are(count: int) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        pods = kube.list("Pod", NS, f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=api")
        assert len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) == count

    return check


def pull_settings_are(policy: str, secrets: list[str]) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        for name in ("api", "dashboard", "ingest", "migrate"):
            assert containers(templates[name])[0]["imagePullPolicy"] == policy, name
            assert templates[name]["spec"].get("imagePullSecrets") == [{"name": s} for s in secrets], name

    return check


def credentials_are(secret: str) -> Check:
    def check(kube: Kube, templates: dict[str, dict[str, Any]]) -> None:
        # Only the database and the migration Job read the superuser's Secret; the others their own login's.
        ref = {"secretKeyRef": {"name": secret, "key": "password"}}
        assert env(containers(templates["migrate"])[0])["DB_PASS"] == ref
        assert env(containers(templates["database"])[0])["POSTGRES_PASSWORD"] == ref
        for name, variable in (("api", "FITPIPE_API_DB_PASSWORD"), ("ingest", "FITPIPE_INGEST_DB_PASSWORD")):
            found = env(containers(templates[name])[0])
            assert "DB_PASS" not in found, name
            assert found[variable] == {"secretKeyRef": {"name": f"{NAME}-db-{name}", "key": "password"}}, name

    return check


CHANGES: list[tuple[str, dict[str, Any], Check]] = [
    ("image tag", {"image": {"tag": "0.2.0"}}, image_is("0.2.0")),
    ("study", {"study": "trial-a-extension"}, env_is("FITPIPE_DEFAULT_STUDY", "trial-a-extension")),
    (
        "ingest.timeZone",
        {"ingest": {"timeZone": "America/New_York"}},
        env_is("FITPIPE_DEFAULT_TIMEZONE", "America/New_York"),
    ),
    (
        "ingest.schedule",
        {"ingest": {"schedule": "30 2 * * *"}},
        schedule_is("30 2 * * *", "America/New_York"),
    ),
    ("api.replicas", {"api": {"replicas": 3}}, replicas_are(3)),
    (
        "pull policy and secrets",
        {"image": {"pullPolicy": "Always", "pullSecrets": ["registry"]}},
        pull_settings_are("Always", ["registry"]),
    ),
    ("credentials", {"timescaledb": {"credentialsSecret": "db-admin"}}, credentials_are("db-admin")),
]


@pytest.mark.parametrize(("what", "spec", "check"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_spec_change_rolls_out_fully(
    kube: Kube, pipeline: dict[str, Any], what: str, spec: dict[str, Any], check: Check
) -> None:
    before = {j["metadata"]["name"] for j in kube.list("Job", NS, "app.kubernetes.io/component=migrate")}
    generation = change(kube, spec)["metadata"]["generation"]
    body = rolled_out(kube)
    assert body["metadata"]["generation"] == generation
    templates = workloads(kube)
    check(kube, templates)
    # The migration Job ran for the new template and the old one went (only the template changes name it).
    migrate = kube.list("Job", NS, "app.kubernetes.io/component=migrate")
    if what in ("image tag", "study", "ingest.timeZone", "pull policy and secrets", "credentials"):
        assert {j["metadata"]["name"] for j in migrate}.isdisjoint(before)
    eventually(
        lambda: all(
            (j.get("status") or {}).get("succeeded") == 1
            for j in kube.list("Job", NS, "app.kubernetes.io/component=migrate")
        ),
        60,
        "the migration Job succeeded",
    )


def test_a_bigger_volume_grows_the_claim_and_keeps_the_database_pod(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    pod_before = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
    sts_before = kube.get("StatefulSet", f"{NAME}-timescaledb", NS)
    assert pod_before is not None and sts_before is not None
    change(kube, {"timescaledb": {"storage": {"size": "250Gi"}}})
    rolled_out(kube)
    claim = eventually(
        lambda: (
            (c := kube.get("PersistentVolumeClaim", f"data-{NAME}-timescaledb-0", NS))
            and c["status"].get("capacity", {}).get("storage") == "250Gi"
            and c
        ),
        60,
        "the claim grown to 250Gi",
    )
    assert claim["spec"]["resources"]["requests"]["storage"] == "250Gi"
    sts = kube.get("StatefulSet", f"{NAME}-timescaledb", NS)
    assert sts is not None
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "250Gi"
    assert sts["metadata"]["uid"] != sts_before["metadata"]["uid"]  # replaced, as the template is immutable
    pod = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
    assert (
        pod is not None and pod["metadata"]["uid"] == pod_before["metadata"]["uid"]
    )  # adopted, not restarted
    assert [r["uid"] for r in pod["metadata"]["ownerReferences"]] == [sts["metadata"]["uid"]]
    reasons = {e["reason"] for e in kube.list("Event", NS) if e["involvedObject"].get("name") == NAME}
    assert "VolumeGrown" in reasons


QUOTA_NS = "quota"


def test_a_refused_child_leaves_the_others_applied_and_is_reported(
    kube: Kube, operator: OperatorProcess
) -> None:
    restricted_namespace(kube, QUOTA_NS)
    example_secrets(kube, QUOTA_NS)
    # The platform team allows no Jobs or CronJobs in this namespace (a ResourceQuota, enforced on admission).
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-jobs", "namespace": QUOTA_NS},
            "spec": {"hard": {"count/jobs.batch": "0", "count/cronjobs.batch": "0"}},
        }
    )
    eventually(
        lambda: ((kube.get("ResourceQuota", "no-jobs", QUOTA_NS) or {}).get("status") or {}).get("hard"),
        30,
        "the quota's status",
    )
    kube.apply(example(QUOTA_NS, NAME))

    def failing() -> dict[str, Any] | None:
        status = (kube.get("FitbitPipeline", NAME, QUOTA_NS) or {}).get("status") or {}
        return status if len(status.get("errors") or []) == 2 else None

    status = eventually(failing, 60, "both refused children reported")
    errors = sorted(status["errors"])
    assert errors[0].startswith("CronJob/trial-a-ingest: ") and "exceeded quota: no-jobs" in errors[0]
    assert errors[1].startswith("Job/trial-a-migrate-") and "exceeded quota: no-jobs" in errors[1]
    reconciled = next(c for c in status["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "ApplyFailed")
    assert "2 of the children failed" in reconciled["message"]
    assert "observedGeneration" not in status
    # Everything else is there, and a change still reaches it.
    for kind, name in (
        ("StatefulSet", "trial-a-timescaledb"),
        ("Deployment", "trial-a-api"),
        ("Deployment", "trial-a-dashboard"),
        ("Service", "trial-a-api"),
    ):
        assert kube.get(kind, name, QUOTA_NS) is not None, f"{kind}/{name}"
    change_generation = kube.patch("FitbitPipeline", NAME, QUOTA_NS, {"spec": {"api": {"replicas": 3}}})[
        "metadata"
    ]["generation"]
    eventually(
        lambda: (kube.get("Deployment", "trial-a-api", QUOTA_NS) or {})["spec"]["replicas"] == 3,
        60,
        "api scaled to 3",
    )
    assert "observedGeneration" not in (
        (kube.get("FitbitPipeline", NAME, QUOTA_NS) or {}).get("status") or {}
    )

    kube.delete("ResourceQuota", "no-jobs", QUOTA_NS)
    body = eventually(
        lambda: (
            (b := kube.get("FitbitPipeline", NAME, QUOTA_NS))
            and (b.get("status") or {}).get("observedGeneration") == change_generation
            and b
        ),
        90,
        "observedGeneration after the quota went",
    )
    assert not body["status"].get("errors")
    assert kube.get("CronJob", "trial-a-ingest", QUOTA_NS) is not None
    wait_ready(kube, QUOTA_NS, NAME)
