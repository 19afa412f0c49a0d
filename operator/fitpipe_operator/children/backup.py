"""Continuous backups of the database with pgBackRest, which the timescaledb-ha image ships.

- WAL: PostgreSQL archives each WAL segment to the repository (`archive_command`), and switches segments
  at least every `archiveTimeoutSeconds`, which bounds what a lost volume can cost (the RPO).
- Backups: two CronJobs (full, differential) ask the backup agent, a sidecar of the database pod
  (fitpipe_operator/backup_agent.py), to run `pgbackrest backup`: only that pod has the data directory
  and the socket. pgBackRest then expires what the retention no longer keeps.
- Restore: `backup.restore.id` adds an init container to the database pod that restores once (marker
  file per id on the volume) before PostgreSQL starts; recovery fetches WAL with `archive-get`.

Configuration reaches every pgBackRest call through one wrapper script, which points at the rendered
pgbackrest.conf and reads the repository's credentials from mounted Secret files on each call. Those
volumes are named `live-*`: kubelet refreshes them in place and every call re-reads them, so a new
retention or a rotated S3 key needs no database restart (children/rollout.py leaves them out of the
checksum that rolls pods)."""

from __future__ import annotations

import copy
import importlib.resources
from typing import Any

from fitpipe_operator.children.pods import resources, secret_env
from fitpipe_operator.children.secrets import backup_agent_secret_name, db_credentials_name
from fitpipe_operator.naming import child, metadata

__all__ = [
    "AGENT_PORT",
    "STANZA",
    "backup_configured",
    "repository_path",
    "pgbackrest_conf",
    "DatabaseParts",
    "database_parts",
    "backup_children",
]

COMPONENT = "backup"
AGENT_PORT = 8081
STANZA = "fitpipe"
CONFIG_DIR = "/etc/fitpipe-backup"
AGENT_DIR = "/etc/fitpipe-backup-agent"
S3_DIR = "/etc/fitpipe-backup-s3"
CIPHER_DIR = "/etc/fitpipe-backup-cipher"
REPOSITORY_MOUNT = "/backup"
SOCKET_DIR = "/var/run/postgresql"
# The timescaledb-ha image's postgres user and data layout (children/timescaledb.py).
POSTGRES_UID = 1000
DATA_MOUNT = "/home/postgres/pgdata"
PGDATA = f"{DATA_MOUNT}/data"
WRAPPER = f"{CONFIG_DIR}/pgbackrest"


def backup_configured(spec: dict[str, Any]) -> bool:
    """A repository is in use: WAL is archived to it, or a restore reads from it."""
    backup = spec["backup"]
    return bool(backup.get("repository")) and bool(backup["enabled"] or backup.get("restore"))


def repository_path(name: str, namespace: str, spec: dict[str, Any]) -> str:
    return spec["backup"]["repository"].get("path") or f"/fitpipe/{namespace}/{name}"


def pgbackrest_conf(name: str, namespace: str, spec: dict[str, Any]) -> str:
    backup = spec["backup"]
    repository = backup["repository"]
    path = repository_path(name, namespace, spec)
    lines = ["[global]"]
    if repository["type"] == "s3":
        s3 = repository["s3"]
        lines += [
            "repo1-type=s3",
            f"repo1-path={path}",
            f"repo1-s3-bucket={s3['bucket']}",
            f"repo1-s3-endpoint={s3['endpoint']}",
            f"repo1-storage-port={s3['port']}",
            f"repo1-s3-region={s3['region']}",
            f"repo1-s3-uri-style={s3['uriStyle']}",
            f"repo1-storage-verify-tls={'y' if s3['verifyTLS'] else 'n'}",
        ]
    else:
        lines += ["repo1-type=posix", f"repo1-path={REPOSITORY_MOUNT}{path}"]
    if repository.get("cipherSecretName"):
        lines.append("repo1-cipher-type=aes-256-cbc")
    lines += [
        "repo1-retention-full-type=count",
        f"repo1-retention-full={backup['retention']['full']}",
        f"repo1-retention-diff={backup['retention']['differential']}",
        # A backup starts with an immediate checkpoint instead of waiting for the next one.
        "start-fast=y",
        "compress-type=lz4",
        "process-max=2",
        "delta=y",
        "log-level-console=info",
        "log-level-file=off",
        "lock-path=/tmp/pgbackrest",
        "",
        f"[{STANZA}]",
        f"pg1-path={PGDATA}",
        f"pg1-socket-path={SOCKET_DIR}",
        "pg1-port=5432",
    ]
    return "\n".join(lines) + "\n"


def wrapper_script() -> str:
    # Secrets are read on every call, so a rotated key is used at once; env overrides the conf file.
    return f"""#!/bin/sh
# pgBackRest with fitpipe's configuration; the repository's credentials are read fresh on every call.
dir="${{FITPIPE_BACKUP_CONFIG_DIR:-{CONFIG_DIR}}}"
export PGBACKREST_CONFIG="${{PGBACKREST_CONFIG_FILE:-$dir/pgbackrest.conf}}"
export PGBACKREST_STANZA={STANZA}
s3="${{FITPIPE_BACKUP_S3_DIR:-{S3_DIR}}}"
cipher="${{FITPIPE_BACKUP_CIPHER_DIR:-{CIPHER_DIR}}}"
if [ -r "$s3/accessKeyId" ]; then
  PGBACKREST_REPO1_S3_KEY="$(cat "$s3/accessKeyId")"; export PGBACKREST_REPO1_S3_KEY
  PGBACKREST_REPO1_S3_KEY_SECRET="$(cat "$s3/secretAccessKey")"; export PGBACKREST_REPO1_S3_KEY_SECRET
fi
if [ -r "$cipher/passphrase" ]; then
  PGBACKREST_REPO1_CIPHER_PASS="$(cat "$cipher/passphrase")"; export PGBACKREST_REPO1_CIPHER_PASS
fi
exec pgbackrest "$@"
"""


def restore_script() -> str:
    return f"""#!/bin/sh
# Restore the database from the repository once per FITPIPE_RESTORE_ID, before PostgreSQL starts.
set -eu
wrapper="${{FITPIPE_PGBACKREST:-{WRAPPER}}}"
marker="${{FITPIPE_RESTORE_MARKER_DIR:-{DATA_MOUNT}}}/.fitpipe-restored-$FITPIPE_RESTORE_ID"
if [ -e "$marker" ]; then
  echo "restore $FITPIPE_RESTORE_ID: done before ($(cat "$marker")); nothing to do"
  exit 0
fi
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
# No server runs in this pod yet: a pid file left by a crash would only make pgBackRest refuse.
rm -f "$PGDATA/postmaster.pid"
set -- restore --delta "--recovery-option=restore_command=$wrapper archive-get %f \\"%p\\""
if [ -n "${{FITPIPE_RESTORE_TARGET:-}}" ]; then
  set -- "$@" --type=time "--target=$FITPIPE_RESTORE_TARGET" --target-action=promote
fi
echo "restore $FITPIPE_RESTORE_ID: pgbackrest $*"
"$wrapper" "$@"
date -u +%Y-%m-%dT%H:%M:%SZ > "$marker"
echo "restore $FITPIPE_RESTORE_ID: done; PostgreSQL recovers from the archive as it starts"
"""


def agent_source() -> str:
    return importlib.resources.files("fitpipe_operator").joinpath("backup_agent.py").read_text()


def config_name(name: str) -> str:
    return child(name, "backup-config")


def agent_name(name: str) -> str:
    return child(name, "backup-agent")


def _configmaps(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(name, namespace, COMPONENT, config_name(name)),
            "data": {
                "pgbackrest.conf": pgbackrest_conf(name, namespace, spec),
                "pgbackrest": wrapper_script(),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(name, namespace, COMPONENT, agent_name(name)),
            "data": {"agent.py": agent_source(), "restore.sh": restore_script()},
        },
    ]


def _security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": POSTGRES_UID,
        "capabilities": {"drop": ["ALL"]},
    }


class DatabaseParts:
    """What backups add to the database pod (children/timescaledb.py puts it in place)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.volumes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        self.sidecars: list[dict[str, Any]] = []
        self.init_containers: list[dict[str, Any]] = []
        self.service_ports: list[dict[str, Any]] = []


def database_parts(name: str, spec: dict[str, Any], image: str, data_volume: str) -> DatabaseParts:
    parts = DatabaseParts()
    if not backup_configured(spec):
        return parts
    backup = spec["backup"]
    repository = backup["repository"]
    executable = 0o555
    parts.volumes += [
        {"name": "live-backup-config", "configMap": {"name": config_name(name), "defaultMode": executable}},
        {"name": "backup-agent", "configMap": {"name": agent_name(name), "defaultMode": executable}},
        {"name": "pg-socket", "emptyDir": {"sizeLimit": "1Mi"}},
        {"name": "backup-tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    # pgBackRest's config and credentials, for archive-push (database), backup (agent), restore (init).
    pgbackrest_mounts = [{"name": "live-backup-config", "mountPath": CONFIG_DIR, "readOnly": True}]
    if repository["type"] == "s3":
        parts.volumes.append(
            {
                "name": "live-backup-s3",
                "secret": {"secretName": repository["s3"]["secretName"], "defaultMode": 0o440},
            }
        )
        pgbackrest_mounts.append({"name": "live-backup-s3", "mountPath": S3_DIR, "readOnly": True})
    else:
        parts.volumes.append(
            {"name": "backup-repository", "persistentVolumeClaim": {"claimName": repository["claimName"]}}
        )
        pgbackrest_mounts.append({"name": "backup-repository", "mountPath": REPOSITORY_MOUNT})
    if repository.get("cipherSecretName"):
        parts.volumes.append(
            {
                "name": "live-backup-cipher",
                "secret": {"secretName": repository["cipherSecretName"], "defaultMode": 0o440},
            }
        )
        pgbackrest_mounts.append({"name": "live-backup-cipher", "mountPath": CIPHER_DIR, "readOnly": True})
    socket = {"name": "pg-socket", "mountPath": SOCKET_DIR}
    data = {"name": data_volume, "mountPath": DATA_MOUNT}
    tmp = {"name": "backup-tmp", "mountPath": "/tmp"}
    parts.mounts += copy.deepcopy([*pgbackrest_mounts, socket])

    if backup["enabled"]:
        parts.args = [
            "postgres",
            "-c", "archive_mode=on",
            "-c", f"archive_command={WRAPPER} archive-push %p",
            "-c", f"archive_timeout={backup['archiveTimeoutSeconds']}",
        ]  # fmt: skip
        credentials = db_credentials_name(name, spec)
        parts.sidecars.append(
            {
                "name": "backup-agent",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python3", f"{AGENT_DIR}/agent.py", "serve", "--port", str(AGENT_PORT)],
                "env": [
                    secret_env("FITPIPE_BACKUP_TOKEN", backup_agent_secret_name(name), "token"),
                    # pgBackRest logs in through the shared socket as the database's superuser.
                    secret_env("PGBACKREST_PG1_USER", credentials, "username"),
                    {"name": "FITPIPE_PGBACKREST", "value": WRAPPER},
                    {"name": "PGDATA", "value": PGDATA},
                ],
                "ports": [{"name": "backup-agent", "containerPort": AGENT_PORT, "protocol": "TCP"}],
                # No readiness probe: the agent must never take the database out of its Service.
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": "backup-agent"},
                    "initialDelaySeconds": 10,
                    "periodSeconds": 30,
                },
                "resources": resources(backup["resources"]),
                "securityContext": _security(),
                "volumeMounts": copy.deepcopy(
                    [*pgbackrest_mounts, socket, data, tmp,
                     {"name": "backup-agent", "mountPath": AGENT_DIR, "readOnly": True}]
                ),
            }
        )  # fmt: skip
        parts.service_ports.append(
            {"name": "backup-agent", "port": AGENT_PORT, "targetPort": "backup-agent", "protocol": "TCP"}
        )

    restore = backup.get("restore")
    if restore:
        env = [
            {"name": "FITPIPE_RESTORE_ID", "value": restore["id"]},
            {"name": "FITPIPE_PGBACKREST", "value": WRAPPER},
            {"name": "PGDATA", "value": PGDATA},
        ]
        if restore.get("target"):
            env.append({"name": "FITPIPE_RESTORE_TARGET", "value": restore["target"]})
        parts.init_containers.append(
            {
                "name": "restore",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", f"{AGENT_DIR}/restore.sh"],
                "env": env,
                "resources": resources(backup["resources"]),
                "securityContext": _security(),
                "volumeMounts": copy.deepcopy(
                    [*pgbackrest_mounts, data, tmp,
                     {"name": "backup-agent", "mountPath": AGENT_DIR, "readOnly": True}]
                ),
            }
        )  # fmt: skip
    return parts


def _cronjob(name: str, namespace: str, spec: dict[str, Any], kind: str, schedule: str) -> dict[str, Any]:
    backup = spec["backup"]
    meta = metadata(name, namespace, COMPONENT, child(name, f"backup-{kind}"))
    trigger = {
        "name": "trigger",
        "image": spec["timescaledb"]["image"],
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "python3", f"{AGENT_DIR}/agent.py", "trigger", "--type", kind,
            "--url", f"http://{child(name, 'timescaledb')}:{AGENT_PORT}",
        ],
        "env": [secret_env("FITPIPE_BACKUP_TOKEN", backup_agent_secret_name(name), "token")],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": {**_security(), "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "backup-agent", "mountPath": AGENT_DIR, "readOnly": True}],
    }  # fmt: skip
    pod = {
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "runAsGroup": POSTGRES_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [trigger],
        "volumes": [{"name": "backup-agent", "configMap": {"name": agent_name(name), "defaultMode": 0o555}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta,
        "spec": {
            "schedule": schedule,
            "timeZone": backup["timeZone"],
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": dict(meta["labels"])},
                "spec": {
                    "backoffLimit": 1,
                    "activeDeadlineSeconds": backup["activeDeadlineSeconds"],
                    "template": {"metadata": {"labels": dict(meta["labels"])}, "spec": pod},
                },
            },
        },
    }


def backup_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    if not backup_configured(spec):
        return []
    out = _configmaps(name, namespace, spec)
    if spec["backup"]["enabled"]:
        schedule = spec["backup"]["schedule"]
        out += [
            _cronjob(name, namespace, spec, "full", schedule["full"]),
            _cronjob(name, namespace, spec, "diff", schedule["differential"]),
        ]
    return out
