"""What every fitpipe container shares: the image reference, the environment (its own database login, mail,
Google client, token key), a hardened security context and a writable /tmp on a read-only root filesystem.

Each process gets only its own database login (fitpipe/dbroles): the API `fitpipe_api`'s password, the
ingest job `fitpipe_ingest`'s, and only the migration Job the superuser's (with every role's password,
which `fitpipe migrate` sets). fitpipe builds each login's URL from DB_HOST/DB_PORT/DB_NAME (fitpipe/db.py)."""

from __future__ import annotations

from typing import Any, Literal

from fitpipe.dbroles.catalog import API, INGEST, OWNER, DbRole
from fitpipe_operator.children.secrets import (
    api_token_name,
    db_credentials_name,
    role_secret_name,
    token_key_name,
)
from fitpipe_operator.naming import child

__all__ = [
    "UID",
    "image_ref",
    "resources",
    "secret_env",
    "Login",
    "database_env",
    "fitpipe_env",
    "api_url",
    "container",
    "pod_spec",
]

# The non-root user of the fitpipe image (see Dockerfile).
UID = 10001
DB_PORT = 5432
DB_NAME = "fitpipe"


def image_ref(spec: dict[str, Any]) -> str:
    image = spec["image"]
    if image.get("digest"):
        return f"{image['repository']}@{image['digest']}"
    return f"{image['repository']}:{image['tag']}"


def resources(block: dict[str, Any]) -> dict[str, Any]:
    return {kind: dict(amounts) for kind, amounts in block.items() if amounts}


def secret_env(variable: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": variable, "valueFrom": {"secretKeyRef": ref}}


def database_host(name: str) -> str:
    # The headless Service resolves to the ready database pod.
    return child(name, "timescaledb")


# Who a container logs in to the database as: `migrate` is the superuser, setting every role's password;
# `admin` the superuser alone (the administrator's pod, `fitpipe operator admin-pod`).
Login = Literal["migrate", "admin", "api", "ingest"]
PASSWORD_VARIABLES = {
    OWNER: "FITPIPE_OWNER_DB_PASSWORD",
    API: "FITPIPE_API_DB_PASSWORD",
    INGEST: "FITPIPE_INGEST_DB_PASSWORD",
}


def database_env(name: str, spec: dict[str, Any], login: Login) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "DB_HOST", "value": database_host(name)},
        {"name": "DB_PORT", "value": str(DB_PORT)},
        {"name": "DB_NAME", "value": DB_NAME},
    ]
    roles: tuple[DbRole, ...]
    if login in ("migrate", "admin"):
        credentials = db_credentials_name(name, spec)
        env += [
            secret_env("DB_USER", credentials, "username"),
            secret_env("DB_PASS", credentials, "password"),
        ]
        roles = (OWNER, API, INGEST) if login == "migrate" else ()
    else:
        roles = (API,) if login == "api" else (INGEST,)
    return env + [
        secret_env(PASSWORD_VARIABLES[role], role_secret_name(name, role), "password") for role in roles
    ]


def _mail_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    secret = spec["smtp"].get("secretName")
    if not secret:
        return []
    keys = {
        "MAIL_SERVER": "server",
        "MAIL_PORT": "port",
        "MAIL_USERNAME": "username",
        "MAIL_PASSWORD": "password",
        "MAIL_FROM": "from",
        "MAIL_STARTTLS": "starttls",
        "MAIL_SSL_TLS": "ssl_tls",
    }
    # Optional keys: a relay without login has no username/password; settings fill the rest.
    return [secret_env(variable, secret, key, optional=True) for variable, key in keys.items()]


def _google_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    secret = spec["googleHealth"].get("secretName")
    if not secret:
        return []
    return [
        secret_env("GOOGLE_CLIENT_ID", secret, "client_id"),
        secret_env("GOOGLE_CLIENT_SECRET", secret, "client_secret"),
    ]


def fitpipe_env(
    name: str, spec: dict[str, Any], *, database: Login | None, mail: bool = True, google: bool = True
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "FITPIPE_HOME", "value": "/tmp/fitpipe"},
        {"name": "FITPIPE_DEFAULT_STUDY", "value": spec["study"]},
        {"name": "FITPIPE_DEFAULT_TIMEZONE", "value": spec["ingest"]["timeZone"]},
    ]
    if database is not None:
        env += database_env(name, spec, database)
    if mail:
        env += _mail_env(spec)
    if google:
        env += _google_env(spec)
        env.append(secret_env("FITPIPE_TOKEN_KEY", token_key_name(name, spec), "key"))
    return env


def api_token_env(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    # The dashboard's `signin` token (oidc mode only), made by an admin after the first start
    # (docs/kubernetes.md): until the Secret exists the dashboard does not start, and says why.
    return secret_env("FITPIPE_API_TOKEN", api_token_name(name, spec), "token")


def api_url(name: str, namespace: str, spec: dict[str, Any]) -> str:
    return f"http://{child(name, 'api')}.{namespace}.svc:{spec['api']['service']['port']}"


def container(
    spec: dict[str, Any],
    container_name: str,
    args: list[str],
    env: list[dict[str, Any]],
    resource_block: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": container_name,
        "image": image_ref(spec),
        "imagePullPolicy": spec["image"]["pullPolicy"],
        "command": ["fitpipe"],
        "args": args,
        "env": env,
        "resources": resources(resource_block),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    extra_mounts = extra.pop("volumeMounts", [])
    body["volumeMounts"] += extra_mounts
    body.update(extra)
    return body


def pod_spec(
    spec: dict[str, Any],
    containers: list[dict[str, Any]],
    *,
    restart_policy: str,
    volumes: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        # fitpipe never talks to the Kubernetes API; no token in its pods.
        "automountServiceAccountToken": False,
        "restartPolicy": restart_policy,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}] + (volumes or []),
    }
    pull_secrets = spec["image"].get("pullSecrets") or []
    if pull_secrets:
        body["imagePullSecrets"] = [{"name": secret} for secret in pull_secrets]
    body.update(extra)
    return body
