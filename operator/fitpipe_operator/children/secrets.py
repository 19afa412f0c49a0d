"""The Secrets a pipeline generates when the user names none (database credentials, the key that encrypts
stored Google tokens), and the one-time filling of their random values; created once, never patched.

They open the data on the database volume, so they live as long as that volume: the operator creates
them once the volume's claim exists, owned by the claim (not by the FitbitPipeline). Whether the claim
goes with the pipeline is the StatefulSet's retention policy (`timescaledb.storage.deleteWithPipeline`),
which the StatefulSet controller keeps true whenever it is set, so the Secrets follow without the
operator ever reading or patching a Secret."""

from __future__ import annotations

import base64
import copy
import os
from collections.abc import Callable
from typing import Any

from fitpipe_operator.naming import GENERATE_ANNOTATION, child, metadata

__all__ = [
    "DB_USERNAME",
    "db_credentials_name",
    "api_token_name",
    "token_key_name",
    "generated_secrets",
    "random_value",
    "fill_generated",
]

# The user the timescaledb-ha image creates from POSTGRES_USER; fitpipe's own default too.
DB_USERNAME = "postgres"


def db_credentials_name(name: str, spec: dict[str, Any]) -> str:
    return spec["timescaledb"].get("credentialsSecret") or child(name, "db-credentials")


def api_token_name(name: str, spec: dict[str, Any]) -> str:
    # Not generated: an API token only works once its hash is in the database (`fitpipe token create`).
    return spec["apiToken"].get("secretName") or child(name, "api-token")


def token_key_name(name: str, spec: dict[str, Any]) -> str:
    return spec["tokenKey"].get("secretName") or child(name, "token-key")


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
    volume that outlives its pipeline is useless without its password, and stored tokens without their key."""
    secrets = []
    if not spec["timescaledb"].get("credentialsSecret"):
        secrets.append(
            _secret(
                name,
                namespace,
                db_credentials_name(name, spec),
                ["password"],
                {"username": DB_USERNAME},
            )
        )
    if not spec["tokenKey"].get("secretName"):
        secrets.append(_secret(name, namespace, token_key_name(name, spec), ["key"], {}))
    return secrets


def random_value() -> str:
    # 32 random bytes, URL-safe base64: a valid Fernet key, and safe unquoted in a database URL.
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fill_generated(manifest: dict[str, Any], value: Callable[[], str] = random_value) -> dict[str, Any]:
    """A copy of a rendered Secret with a fresh random value for each key its annotation names."""
    filled = copy.deepcopy(manifest)
    keys = [k for k in filled["metadata"].get("annotations", {}).get(GENERATE_ANNOTATION, "").split(",") if k]
    filled.setdefault("stringData", {}).update({key: value() for key in keys})
    return filled
