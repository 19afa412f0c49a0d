"""The Secrets a pipeline generates (each database login's password, the key that encrypts stored Google
tokens, the dashboard's session key, the sign-in proxy's secrets, the backup agent's token), and the
one-time filling of their random values; created once, never read back, never patched.

They open the data on the database volume, so they live as long as that volume: the operator creates
them once the volume's claim exists, owned by the claim (not by the FitbitPipeline). Whether the claim
goes with the pipeline is the StatefulSet's retention policy (`timescaledb.storage.deleteWithPipeline`),
which the StatefulSet controller keeps true whenever it is set, so the Secrets follow without the
operator ever reading or patching a Secret. A Secret of the same name created beforehand (by hand, or
by an external-secrets controller) is used as it is: the operator's create answers 409 and it moves on."""

from __future__ import annotations

import base64
import copy
import os
from collections.abc import Callable
from typing import Any

from fitpipe.dbroles.catalog import API, INGEST, OWNER, DbRole
from fitpipe_operator.naming import GENERATE_ANNOTATION, child, metadata

__all__ = [
    "DB_USERNAME",
    "ROLE_SECRET_SUFFIX",
    "db_credentials_name",
    "role_secret_name",
    "api_token_name",
    "token_key_name",
    "dashboard_key_name",
    "proxy_secret_name",
    "backup_agent_secret_name",
    "generated_secrets",
    "random_value",
    "fill_generated",
]

# The user the timescaledb-ha image creates from POSTGRES_USER; fitpipe's own default too.
DB_USERNAME = "postgres"
# Each login role's Secret: `<name>-db-owner`, `<name>-db-api`, `<name>-db-ingest`.
ROLE_SECRET_SUFFIX = {OWNER: "db-owner", API: "db-api", INGEST: "db-ingest"}


def db_credentials_name(name: str, spec: dict[str, Any]) -> str:
    """The superuser's Secret: the database and the migration Job read it, nothing else."""
    return spec["timescaledb"].get("credentialsSecret") or child(name, "db-credentials")


def role_secret_name(name: str, role: DbRole) -> str:
    return child(name, ROLE_SECRET_SUFFIX[role])


def api_token_name(name: str, spec: dict[str, Any]) -> str:
    # Not generated: an API token only works once its hash is in the database (`fitpipe token create`).
    return spec["apiToken"].get("secretName") or child(name, "api-token")


def token_key_name(name: str, spec: dict[str, Any]) -> str:
    return spec["tokenKey"].get("secretName") or child(name, "token-key")


def dashboard_key_name(name: str) -> str:
    return child(name, "dashboard-key")


def proxy_secret_name(name: str) -> str:
    return child(name, "dashboard-proxy")


def backup_agent_secret_name(name: str) -> str:
    return child(name, "backup-agent")


def _secret(
    name: str, namespace: str, secret_name: str, generate: list[str], fixed: dict[str, str]
) -> dict[str, Any]:
    annotations = {GENERATE_ANNOTATION: ",".join(generate)}
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, "credentials", secret_name, annotations=annotations),
        "type": "Opaque",
    }
    if fixed:
        manifest["stringData"] = dict(fixed)
    return manifest


def generated_secrets(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Secrets to create when absent (with the volume's claim as owner, see the module docstring): a
    volume that outlives its pipeline is useless without its passwords, and stored tokens without their key."""
    secrets = []
    if not spec["timescaledb"].get("credentialsSecret"):
        secrets.append(
            _secret(name, namespace, db_credentials_name(name, spec), ["password"], {"username": DB_USERNAME})
        )
    for role in (OWNER, API, INGEST):
        # `username` is for people reading the Secret; the role's name is fixed (fitpipe/dbroles).
        secrets.append(
            _secret(name, namespace, role_secret_name(name, role), ["password"], {"username": role.value})
        )
    if not spec["tokenKey"].get("secretName"):
        secrets.append(_secret(name, namespace, token_key_name(name, spec), ["key"], {}))
    dashboard = spec["dashboard"]
    if dashboard["enabled"]:
        secrets.append(_secret(name, namespace, dashboard_key_name(name), ["key"], {}))
        if dashboard["auth"]["mode"] == "oidc":
            secrets.append(_secret(name, namespace, proxy_secret_name(name), ["secret", "cookie-secret"], {}))
    if spec["backup"]["enabled"]:
        secrets.append(_secret(name, namespace, backup_agent_secret_name(name), ["token"], {}))
    return secrets


def random_value() -> str:
    # 32 random bytes, URL-safe base64: a valid Fernet key, an oauth2-proxy cookie secret, and safe
    # unquoted in a database URL.
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fill_generated(manifest: dict[str, Any], value: Callable[[], str] = random_value) -> dict[str, Any]:
    """A copy of a rendered Secret with a fresh random value for each key its annotation names."""
    filled = copy.deepcopy(manifest)
    keys = [k for k in filled["metadata"].get("annotations", {}).get(GENERATE_ANNOTATION, "").split(",") if k]
    filled.setdefault("stringData", {}).update({key: value() for key in keys})
    return filled
