"""Backups on a real control plane (issue 14.4): the `backup:` section renders pgBackRest's configuration,
the agent sidecar in the database pod (passing Pod Security `restricted`), the full and differential
CronJobs, whose Jobs the CronJob controller starts on schedule and kwok runs to success; a restore
restarts the database pod with its init container once; an S3 repository with encryption is accepted.
tests/operator/test_backup_drill.py runs the same configuration against a real pgBackRest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.harness import (
    OperatorProcess,
    example,
    example_secrets,
    job_from_cronjob,
    job_succeeded,
    restricted_namespace,
    wait_gone,
    wait_ready,
)
from tests.cluster.kube import Kube, condition, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "backups"
NAME = "trial-a"


def secret(kube: Kube, name: str, data: dict[str, str]) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": NS},
            "stringData": data,
        }
    )


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "trial-a-backups", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}},
        }
    )
    document = example(NS, NAME)
    document["spec"]["backup"] = {
        "enabled": True,
        "repository": {"type": "pvc", "claimName": "trial-a-backups"},
        # Every minute, so the CronJob controller starts one within the test.
        "schedule": {"full": "0 2 * * 0", "differential": "* * * * *"},
        "timeZone": "Europe/Berlin",
    }
    kube.apply(document)
    return wait_ready(kube, NS, NAME)


def database_pod(kube: Kube) -> dict[str, Any]:
    pod = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
    assert pod is not None
    return pod


def test_the_database_pod_archives_and_runs_the_agent(kube: Kube, pipeline: dict[str, Any]) -> None:
    pod = database_pod(kube)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["timescaledb", "backup-agent"]
    assert condition(pod, "Ready")["status"] == "True"
    assert "archive_mode=on" in pod["spec"]["containers"][0]["args"]
    service = kube.get("Service", f"{NAME}-timescaledb", NS)
    assert service is not None and {p["port"] for p in service["spec"]["ports"]} == {5432, 8081}
    for configmap in (f"{NAME}-backup-config", f"{NAME}-backup-agent"):
        assert kube.get("ConfigMap", configmap, NS) is not None, configmap
    token = eventually(
        lambda: kube.get("Secret", f"{NAME}-backup-agent", NS), 30, "the agent's generated token"
    )
    assert "token" in token["data"]


def test_the_schedules_jobs_complete(kube: Kube, pipeline: dict[str, Any]) -> None:
    full = kube.get("CronJob", f"{NAME}-backup-full", NS)
    assert full is not None and (full["spec"]["schedule"], full["spec"]["timeZone"]) == (
        "0 2 * * 0",
        "Europe/Berlin",
    )
    job_from_cronjob(kube, NS, f"{NAME}-backup-full", "backup-full-now")
    done = job_succeeded(kube, NS, "backup-full-now")
    assert done["spec"]["template"]["spec"]["containers"][0]["command"][3:5] == ["--type", "full"]

    def scheduled() -> dict[str, Any] | None:
        jobs = [
            j
            for j in kube.list("Job", NS, "app.kubernetes.io/component=backup")
            if any(r["name"] == f"{NAME}-backup-diff" for r in j["metadata"].get("ownerReferences") or [])
            and (j.get("status") or {}).get("succeeded") == 1
        ]
        return jobs[0] if jobs else None

    job = eventually(scheduled, 150, "a scheduled differential backup Job succeeded")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][3:5] == ["--type", "diff"]


def test_a_restore_restarts_the_database_once_with_its_init_container(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    before = database_pod(kube)["metadata"]["uid"]
    kube.patch(
        "FitbitPipeline",
        NAME,
        NS,
        {"spec": {"backup": {"restore": {"id": "drill-1"}}}},
        manager="platform-engineer",
    )

    def restarted() -> dict[str, Any] | None:
        pod = kube.get("Pod", f"{NAME}-timescaledb-0", NS)
        if pod is None or pod["metadata"]["uid"] == before or condition(pod, "Ready").get("status") != "True":
            return None
        return pod

    pod = eventually(restarted, 120, "the database pod restarted with the restore")
    (restore,) = pod["spec"]["initContainers"]
    assert {e["name"]: e.get("value") for e in restore["env"]}["FITPIPE_RESTORE_ID"] == "drill-1"
    wait_ready(kube, NS, NAME)


def test_an_encrypted_s3_repository_is_accepted(kube: Kube, pipeline: dict[str, Any]) -> None:
    secret(kube, "backup-s3", {"accessKeyId": "AKIA-EXAMPLE", "secretAccessKey": "example"})
    secret(kube, "backup-cipher", {"passphrase": "kept in the hospital's vault too"})
    document = example(NS, "trial-b")
    document["spec"]["backup"] = {
        "enabled": True,
        "repository": {
            "type": "s3",
            "s3": {
                "bucket": "hospital-backups",
                "endpoint": "s3.eu-central-1.amazonaws.com",
                "region": "eu-central-1",
                "secretName": "backup-s3",
            },
            "cipherSecretName": "backup-cipher",
        },
    }
    kube.apply(document)
    wait_ready(kube, NS, "trial-b")
    pod = kube.get("Pod", "trial-b-timescaledb-0", NS)
    assert pod is not None
    volumes = {v["name"] for v in pod["spec"]["volumes"]}
    assert {"live-backup-s3", "live-backup-cipher"} <= volumes
    policy = kube.get("NetworkPolicy", "trial-b-timescaledb", NS)
    assert policy is not None
    assert {"protocol": "TCP", "port": 443} in policy["spec"]["egress"][-1]["ports"]


def test_switching_backups_off_prunes_them_and_restarts_the_database_without_the_agent(
    kube: Kube, pipeline: dict[str, Any]
) -> None:
    body = kube.get("FitbitPipeline", NAME, NS) or {}
    body["spec"].pop("backup")
    kube.request("PUT", f"/apis/fitpipe.io/v1alpha1/namespaces/{NS}/fitbitpipelines/{NAME}", body)
    for kind, name in (
        ("CronJob", f"{NAME}-backup-full"),
        ("CronJob", f"{NAME}-backup-diff"),
        ("ConfigMap", f"{NAME}-backup-config"),
        ("NetworkPolicy", f"{NAME}-backup"),
    ):
        wait_gone(kube, kind, name, NS, timeout=60)
    eventually(
        lambda: [c["name"] for c in database_pod(kube)["spec"]["containers"]] == ["timescaledb"],
        120,
        "the database pod without the agent",
    )
    assert kube.get("Secret", f"{NAME}-backup-agent", NS) is not None  # Secrets are never pruned
    wait_ready(kube, NS, NAME)
