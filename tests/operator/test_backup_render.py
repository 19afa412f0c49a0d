"""The backup children as rendered (issue 14.4): pgBackRest's configuration for a claim or S3, archiving in
the database's arguments, the agent sidecar, the schedules and their retention, a restore by init container.
tests/operator/test_backup_drill.py runs the same files against a real pgBackRest and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe.errors import InputError
from fitpipe_operator.children.backup import pgbackrest_conf
from fitpipe_operator.render import render
from fitpipe_operator.spec import checked_spec
from tests.operator.conftest import GOOGLE

NS = "trial-a"
PVC = {"enabled": True, "repository": {"type": "pvc", "claimName": "trial-a-backups"}}
S3: dict[str, Any] = {
    "enabled": True,
    "repository": {
        "type": "s3",
        "s3": {
            "bucket": "hospital-backups",
            "endpoint": "minio.backup.svc",
            "port": 9000,
            "region": "us-east-1",
            "uriStyle": "path",
            "verifyTLS": False,
            "secretName": "minio",
        },
        "path": "/studies/trial-a",
    },
    "schedule": {"full": "30 1 * * 6", "differential": "30 1 * * 0-5"},
    "timeZone": "Europe/Berlin",
    "retention": {"full": 8, "differential": 14},
    "archiveTimeoutSeconds": 120,
}


def one(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def conf(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_no_backup_section_renders_nothing_of_it() -> None:
    manifests = render("trial-a", NS, GOOGLE)
    assert not [m for m in manifests if "backup" in m["metadata"]["name"]]
    pod = one(manifests, "StatefulSet", "trial-a-timescaledb")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["timescaledb"] and "args" not in pod["containers"][0]


def test_a_claim_repository() -> None:
    manifests = render("trial-a", NS, {**GOOGLE, "backup": PVC})
    settings = conf(one(manifests, "ConfigMap", "trial-a-backup-config")["data"]["pgbackrest.conf"])
    assert settings["repo1-type"] == "posix"
    assert settings["repo1-path"] == "/backup/fitpipe/trial-a/trial-a"
    assert (settings["repo1-retention-full"], settings["repo1-retention-diff"]) == ("4", "6")
    assert settings["pg1-path"] == "/home/postgres/pgdata/data"
    assert "repo1-cipher-type" not in settings
    pod = one(manifests, "StatefulSet", "trial-a-timescaledb")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backup-repository"] == {
        "name": "backup-repository",
        "persistentVolumeClaim": {"claimName": "trial-a-backups"},
    }
    database, agent = pod["containers"]
    assert {"name": "backup-repository", "mountPath": "/backup"} in database["volumeMounts"]
    assert {"name": "backup-repository", "mountPath": "/backup"} in agent["volumeMounts"]


def test_an_s3_repository_with_its_keys_read_from_files() -> None:
    manifests = render(
        "trial-a",
        NS,
        {**GOOGLE, "backup": {**S3, "repository": {**S3["repository"], "cipherSecretName": "c"}}},
    )
    settings = conf(one(manifests, "ConfigMap", "trial-a-backup-config")["data"]["pgbackrest.conf"])
    assert {
        "repo1-type": "s3",
        "repo1-path": "/studies/trial-a",
        "repo1-s3-bucket": "hospital-backups",
        "repo1-s3-endpoint": "minio.backup.svc",
        "repo1-storage-port": "9000",
        "repo1-s3-region": "us-east-1",
        "repo1-s3-uri-style": "path",
        "repo1-storage-verify-tls": "n",
        "repo1-cipher-type": "aes-256-cbc",
        "repo1-retention-full": "8",
        "repo1-retention-diff": "14",
    }.items() <= settings.items()
    # No credential in the configuration: the wrapper reads them from the mounted Secret on each call.
    text = one(manifests, "ConfigMap", "trial-a-backup-config")["data"]["pgbackrest.conf"]
    assert "key" not in text.lower().replace("repo1-s3-", "")
    wrapper = one(manifests, "ConfigMap", "trial-a-backup-config")["data"]["pgbackrest"]
    assert (
        "$s3/accessKeyId" in wrapper and "$cipher/passphrase" in wrapper and 'exec pgbackrest "$@"' in wrapper
    )
    volumes = {
        v["name"]: v
        for v in one(manifests, "StatefulSet", "trial-a-timescaledb")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["live-backup-s3"]["secret"]["secretName"] == "minio"
    assert volumes["live-backup-cipher"]["secret"]["secretName"] == "c"


def test_the_database_archives_wal_and_gets_the_agent_sidecar() -> None:
    manifests = render("trial-a", NS, {**GOOGLE, "backup": S3})
    sts = one(manifests, "StatefulSet", "trial-a-timescaledb")
    database, agent = sts["spec"]["template"]["spec"]["containers"]
    assert database["args"] == [
        "postgres",
        "-c", "archive_mode=on",
        "-c", "archive_command=/etc/fitpipe-backup/pgbackrest archive-push %p",
        "-c", "archive_timeout=120",
    ]  # fmt: skip
    assert agent["command"] == ["python3", "/etc/fitpipe-backup-agent/agent.py", "serve", "--port", "8081"]
    assert "readinessProbe" not in agent  # never takes the database out of its Service
    assert agent["livenessProbe"]["httpGet"]["path"] == "/healthz"
    shared = {"pg-socket", "data"}
    assert shared <= {m["name"] for m in agent["volumeMounts"]}
    assert "pg-socket" in {m["name"] for m in database["volumeMounts"]}
    env = {e["name"]: e.get("valueFrom", e.get("value")) for e in agent["env"]}
    assert env["FITPIPE_BACKUP_TOKEN"] == {"secretKeyRef": {"name": "trial-a-backup-agent", "key": "token"}}
    service = one(manifests, "Service", "trial-a-timescaledb")
    assert {"name": "backup-agent", "port": 8081, "targetPort": "backup-agent", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    generated = one(manifests, "Secret", "trial-a-backup-agent")
    assert generated["metadata"]["annotations"]["fitpipe.io/generate"] == "token"


def test_full_and_differential_schedules_ask_the_agent() -> None:
    manifests = render("trial-a", NS, {**GOOGLE, "backup": S3})
    for kind, schedule in (("full", "30 1 * * 6"), ("diff", "30 1 * * 0-5")):
        cron = one(manifests, "CronJob", f"trial-a-backup-{kind}")
        assert (cron["spec"]["schedule"], cron["spec"]["timeZone"]) == (schedule, "Europe/Berlin")
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        job = cron["spec"]["jobTemplate"]["spec"]
        assert job["activeDeadlineSeconds"] == 43200
        (trigger,) = job["template"]["spec"]["containers"]
        assert trigger["command"] == [
            "python3", "/etc/fitpipe-backup-agent/agent.py", "trigger", "--type", kind,
            "--url", "http://trial-a-timescaledb:8081",
        ]  # fmt: skip
        assert job["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
        assert job["template"]["spec"]["automountServiceAccountToken"] is False


def test_a_restore_runs_in_an_init_container_once_per_id() -> None:
    spec = {
        **GOOGLE,
        "backup": {**S3, "enabled": False, "restore": {"id": "drill-1", "target": "2026-03-04 09:00:00+01"}},
    }
    manifests = render("trial-a", NS, spec)
    pod = one(manifests, "StatefulSet", "trial-a-timescaledb")["spec"]["template"]["spec"]
    (restore,) = pod["initContainers"]
    assert restore["command"] == ["/bin/sh", "/etc/fitpipe-backup-agent/restore.sh"]
    env = {e["name"]: e["value"] for e in restore["env"]}
    assert (
        env["FITPIPE_RESTORE_ID"] == "drill-1" and env["FITPIPE_RESTORE_TARGET"] == "2026-03-04 09:00:00+01"
    )
    # enabled: false (a drill copy): it reads the repository but writes nothing to it.
    assert [c["name"] for c in pod["containers"]] == ["timescaledb"]
    assert "args" not in pod["containers"][0]
    assert not [m for m in manifests if m["kind"] == "CronJob" and "backup" in m["metadata"]["name"]]
    assert "/etc/fitpipe-backup" in {
        m["mountPath"] for m in pod["containers"][0]["volumeMounts"]
    }  # for archive-get


@pytest.mark.parametrize(
    ("backup", "field"),
    [
        ({"enabled": True}, "spec.backup.repository"),
        ({"enabled": True, "repository": {"type": "pvc"}}, "spec.backup.repository.claimName"),
        (
            {"enabled": True, "repository": {"type": "s3", "s3": {"bucket": "b-1"}}},
            "spec.backup.repository.s3.endpoint",
        ),
        ({"restore": {"id": "x"}}, "spec.backup.repository"),
        ({**PVC, "restore": {"target": "2026-01-01 00:00"}}, "spec.backup.restore"),
        ({**PVC, "schedule": {"full": "61 * * * *"}}, "spec.backup.schedule.full"),
        ({**PVC, "timeZone": "Mars/Base"}, "spec.backup.timeZone"),
        ({**PVC, "restore": {"id": "x", "target": "yesterday"}}, "spec.backup.restore.target"),
    ],
)
def test_incomplete_backup_settings_are_refused(backup: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        render("trial-a", NS, {**GOOGLE, "backup": backup})
    assert refused.value.field == field


def test_the_repository_path_defaults_to_namespace_and_name() -> None:
    repository = {k: v for k, v in S3["repository"].items() if k != "path"}
    spec = checked_spec("trial-b", {**GOOGLE, "backup": {**S3, "repository": repository}})
    assert conf(pgbackrest_conf("trial-b", "oncology", spec))["repo1-path"] == "/fitpipe/oncology/trial-b"
