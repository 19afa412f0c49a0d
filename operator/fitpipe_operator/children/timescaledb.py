"""The database: a one-replica StatefulSet of timescaledb-ha with a volumeClaimTemplate and its headless
Service; with spec.backup, pgBackRest's archiving, backup agent sidecar and restore (children/backup.py).
Its NetworkPolicy is in children/network.py."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.backup import database_parts
from fitpipe_operator.children.pods import DB_NAME, DB_PORT, resources, secret_env
from fitpipe_operator.children.secrets import db_credentials_name
from fitpipe_operator.naming import child, metadata, selector

__all__ = ["COMPONENT", "CLAIM_TEMPLATE", "statefulset_name", "claim_name", "timescaledb_children"]

COMPONENT = "timescaledb"
# The StatefulSet's volumeClaimTemplate; the controller names replica i's claim `data-<statefulset>-<i>`.
CLAIM_TEMPLATE = "data"
# The timescaledb-ha image runs as `postgres` (uid 1000) and keeps PGDATA under /home/postgres/pgdata.
POSTGRES_UID = 1000
DATA_MOUNT = "/home/postgres/pgdata"


def statefulset_name(name: str) -> str:
    return child(name, COMPONENT)


def claim_name(name: str, ordinal: int = 0) -> str:
    return f"{CLAIM_TEMPLATE}-{statefulset_name(name)}-{ordinal}"


def _service(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    extra = database_parts(name, spec, spec["timescaledb"]["image"], CLAIM_TEMPLATE).service_ports
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, COMPONENT, child(name, COMPONENT)),
        "spec": {
            "clusterIP": "None",
            "selector": selector(name, COMPONENT),
            "ports": [{"name": "postgresql", "port": DB_PORT, "targetPort": "postgresql"}, *extra],
        },
    }


def _pg_isready() -> dict[str, Any]:
    return {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", str(DB_PORT)]}}


def _statefulset(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    db = spec["timescaledb"]
    credentials = db_credentials_name(name, spec)
    claim: dict[str, Any] = {
        "metadata": {"name": CLAIM_TEMPLATE, "labels": selector(name, COMPONENT)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": db["storage"]["size"]}},
        },
    }
    if db["storage"].get("storageClassName"):
        claim["spec"]["storageClassName"] = db["storage"]["storageClassName"]
    backup = database_parts(name, spec, db["image"], CLAIM_TEMPLATE)
    container: dict[str, Any] = {
        "name": "timescaledb",
        "image": db["image"],
        "ports": [{"name": "postgresql", "containerPort": DB_PORT}],
        "env": [
            secret_env("POSTGRES_USER", credentials, "username"),
            secret_env("POSTGRES_PASSWORD", credentials, "password"),
            {"name": "POSTGRES_DB", "value": DB_NAME},
            {"name": "PGDATA", "value": f"{DATA_MOUNT}/data"},
            {"name": "TIMESCALEDB_TELEMETRY", "value": "off"},
        ],
        "resources": resources(db["resources"]),
        "startupProbe": {**_pg_isready(), "periodSeconds": 10, "failureThreshold": 60},
        "readinessProbe": {**_pg_isready(), "periodSeconds": 10},
        "livenessProbe": {**_pg_isready(), "periodSeconds": 30, "failureThreshold": 6},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": CLAIM_TEMPLATE, "mountPath": DATA_MOUNT},
            {"name": "dshm", "mountPath": "/dev/shm"},
            *backup.mounts,
        ],
    }
    if backup.args:
        # The image's entrypoint passes `postgres -c ...` on to the server (docker-entrypoint.sh).
        container["args"] = backup.args
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 60,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "runAsGroup": POSTGRES_UID,
            "fsGroup": POSTGRES_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if backup.init_containers:
        pod["initContainers"] = backup.init_containers
    pod["containers"] = [container, *backup.sidecars]
    # PostgreSQL's shared memory; the container default of 64 MiB is too small for parallel queries.
    pod["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}, *backup.volumes]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(name, namespace, COMPONENT, statefulset_name(name)),
        "spec": {
            "serviceName": child(name, COMPONENT),
            "replicas": 1,
            "selector": {"matchLabels": selector(name, COMPONENT)},
            # The volume outlives the StatefulSet unless the user asked otherwise.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete" if db["storage"]["deleteWithPipeline"] else "Retain",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {"labels": metadata(name, namespace, COMPONENT, "")["labels"]},
                "spec": pod,
            },
            "volumeClaimTemplates": [claim],
        },
    }


def timescaledb_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [_service(name, namespace, spec), _statefulset(name, namespace, spec)]
