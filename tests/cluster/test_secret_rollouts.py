"""Database logins and Secret rotation on a real control plane (issues 14.1 and 14.6): each login's Secret
generated once and owned by the database volume; the pods as their controllers made them read only
their own login; a generated Secret deleted (and so created anew) re-runs the migration and rolls the
pods that read it, a user's Secret revised through spec.secretRevisions rolls exactly its readers; the
operator reads no Secret to know. Prints how long each rollout took."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from fitpipe_operator.children.rollout import CHECKSUM_ANNOTATION
from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "logins"
NAME = "trial-a"
ROLES = {"owner": "fitpipe_owner", "api": "fitpipe_api", "ingest": "fitpipe_ingest"}


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    kube.apply(example(NS, NAME))
    body = wait_ready(kube, NS, NAME)
    eventually(
        lambda: (
            len(
                ((kube.get("FitbitPipeline", NAME, NS) or {}).get("status") or {}).get("generatedSecrets")
                or {}
            )
            == 6
        ),
        30,
        "every generated Secret counted",
    )
    return body


def env_refs(pod: dict[str, Any]) -> dict[str, str]:
    out = {}
    for container in pod["spec"]["containers"]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                out[env["name"]] = ref["name"]
    return out


def pods(kube: Kube, component: str) -> list[dict[str, Any]]:
    return [
        p
        for p in kube.list(
            "Pod", NS, f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component={component}"
        )
        if not p["metadata"].get("deletionTimestamp")
    ]


def checksum(kube: Kube, kind: str, name: str) -> str | None:
    body = kube.get(kind, name, NS) or {}
    template = (
        body["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else body["spec"]["template"]
    )
    return (template["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION)


def rolled(kube: Kube, deployment: str, annotation: str | None) -> bool:
    body = kube.get("Deployment", deployment, NS) or {}
    status = body.get("status") or {}
    if (body["spec"]["template"]["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION) != annotation:
        return False
    if status.get("observedGeneration") != body["metadata"]["generation"]:
        return False
    wanted = body["spec"]["replicas"]
    if (
        not status.get("updatedReplicas", 0)
        == status.get("availableReplicas", 0)
        == status.get("replicas", 0)
        == wanted
    ):
        return False
    current = [p for p in pods(kube, deployment.removeprefix(f"{NAME}-"))]
    return len(current) == wanted and all(
        (p["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION) == annotation for p in current
    )


def test_each_login_has_its_own_secret_owned_by_the_database_volume(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    claim = kube.get("PersistentVolumeClaim", f"data-{NAME}-timescaledb-0", NS)
    assert claim is not None
    for suffix, role in ROLES.items():
        secret = kube.get("Secret", f"{NAME}-db-{suffix}", NS)
        assert secret is not None and {"username", "password"} <= set(secret["data"])
        assert base64.b64decode(secret["data"]["username"]).decode() == role
        assert len(base64.b64decode(secret["data"]["password"])) == 44
        assert [(r["kind"], r["uid"]) for r in secret["metadata"]["ownerReferences"]] == [
            ("PersistentVolumeClaim", claim["metadata"]["uid"])
        ]
    body = kube.get("FitbitPipeline", NAME, NS)
    assert body is not None
    counts = body["status"]["generatedSecrets"]
    assert counts == {
        f"{NAME}-{s}": 1
        for s in ("db-credentials", "db-owner", "db-api", "db-ingest", "token-key", "dashboard-key")
    }


def test_the_running_pods_read_only_their_own_login(kube: Kube, pipeline: dict[str, Any]) -> None:
    superuser = f"{NAME}-db-credentials"
    (api,) = pods(kube, "api")[:1]
    refs = env_refs(api)
    assert refs["FITPIPE_API_DB_PASSWORD"] == f"{NAME}-db-api"
    assert superuser not in refs.values() and "FITPIPE_API_ALLOW_SUPERUSER" not in str(api["spec"])
    (dashboard,) = pods(kube, "dashboard")
    assert not [v for v in env_refs(dashboard) if "DB" in v]
    (migrate,) = [p for p in pods(kube, "migrate") if p["status"]["phase"] == "Succeeded"][-1:]
    refs = env_refs(migrate)
    assert refs["DB_PASS"] == superuser
    assert {refs[f"FITPIPE_{r.upper()}_DB_PASSWORD"] for r in ROLES} == {f"{NAME}-db-{r}" for r in ROLES}


def test_a_login_secret_created_anew_reruns_the_migration_and_rolls_the_api(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    old_jobs = {j["metadata"]["name"] for j in kube.list("Job", NS, "app.kubernetes.io/component=migrate")}
    dashboard_pods = {p["metadata"]["uid"] for p in pods(kube, "dashboard")}
    started = time.monotonic()
    kube.delete("Secret", f"{NAME}-db-api", NS)
    eventually(lambda: kube.get("Secret", f"{NAME}-db-api", NS), 60, "the Secret generated anew")
    status = eventually(
        lambda: (
            (s := (kube.get("FitbitPipeline", NAME, NS) or {}).get("status") or {})
            and s.get("generatedSecrets", {}).get(f"{NAME}-db-api") == 2
            and s
        ),
        60,
        "the new creation counted",
    )
    assert status["generatedSecrets"][f"{NAME}-db-ingest"] == 1
    annotation = eventually(
        lambda: checksum(kube, "Deployment", f"{NAME}-api"), 60, "the API's template annotated"
    )
    eventually(lambda: rolled(kube, f"{NAME}-api", annotation), 120, "the API rolled out")
    api_seconds = time.monotonic() - started

    def migrated() -> str | None:
        jobs = kube.list("Job", NS, "app.kubernetes.io/component=migrate")
        new = [j for j in jobs if j["metadata"]["name"] not in old_jobs]
        if len(jobs) == 1 and new and (new[0].get("status") or {}).get("succeeded") == 1:
            return str(new[0]["metadata"]["name"])
        return None

    job = eventually(migrated, 120, "a new migration Job succeeded and the old one pruned")
    migrate_seconds = time.monotonic() - started
    assert checksum(kube, "CronJob", f"{NAME}-ingest") is None  # ingest does not read the API's password
    assert {p["metadata"]["uid"] for p in pods(kube, "dashboard")} == dashboard_pods
    print(
        f"\nSecret {NAME}-db-api deleted: API rolled out in {api_seconds:.1f} s, {job} done in {migrate_seconds:.1f} s"
    )


def test_a_revised_user_secret_rolls_exactly_its_readers(kube: Kube, pipeline: dict[str, Any]) -> None:
    database_pod = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
    dashboard_pods = {p["metadata"]["uid"] for p in pods(kube, "dashboard")}
    before = {
        "api": checksum(kube, "Deployment", f"{NAME}-api"),
        "ingest": checksum(kube, "CronJob", f"{NAME}-ingest"),
    }
    started = time.monotonic()
    # The mail password rotated: the Secret edited, then its revision in the spec (what docs/kubernetes.md says).
    kube.patch("Secret", "fitpipe-smtp", NS, {"stringData": {"password": "rotated-mail-password"}})
    kube.patch("FitbitPipeline", NAME, NS, {"spec": {"secretRevisions": {"fitpipe-smtp": "2026-03"}}})
    annotation = eventually(
        lambda: a if (a := checksum(kube, "Deployment", f"{NAME}-api")) != before["api"] else None,
        60,
        "the API's new checksum",
    )
    eventually(lambda: rolled(kube, f"{NAME}-api", annotation), 120, "the API rolled out")
    seconds = time.monotonic() - started
    assert checksum(kube, "CronJob", f"{NAME}-ingest") not in (
        None,
        before["ingest"],
    )  # the next load reads it
    assert {p["metadata"]["uid"] for p in pods(kube, "dashboard")} == dashboard_pods
    database = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
    assert database is not None and database_pod is not None
    assert database["metadata"]["uid"] == database_pod["metadata"]["uid"]
    print(f"\nSecret fitpipe-smtp revised: API rolled out in {seconds:.1f} s")
