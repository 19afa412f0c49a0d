"""Turns a FitbitPipeline's spec as written into the complete spec render() works from: the schema's
defaults filled in as the API server would, then checked against the schema and its CEL rules."""

from __future__ import annotations

import copy
import re
import zoneinfo
from typing import Any

import jsonschema
from croniter import croniter

from fitpipe.errors import InputError
from fitpipe_operator.crd import MAX_NAME_LENGTH, jsonschema_of, spec_schema

__all__ = ["apply_defaults", "checked_spec", "check_name"]

# Service names must be DNS-1035 labels: a letter first, so the name can prefix every child.
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting: a missing property with a default gets it, then its own properties are
    defaulted (which is why objects default to `{}`)."""
    if isinstance(value, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
    elif isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise InputError(
            f"the name {name!r} cannot prefix the pipeline's Services and Jobs",
            field="metadata.name",
            hint=f"use lowercase letters, digits and '-', a letter first, at most {MAX_NAME_LENGTH} characters",
        )


def _field(path: Any) -> str:
    return "spec" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def checked_spec(name: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    """The defaulted spec, or InputError naming the first wrong field."""
    check_name(name)
    if spec is not None and not isinstance(spec, dict):
        raise InputError("spec must be a mapping", field="spec")
    schema = spec_schema()
    full = apply_defaults(schema, copy.deepcopy(spec or {}))
    validator = jsonschema.Draft202012Validator(jsonschema_of(schema))
    errors = sorted(validator.iter_errors(full), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        raise InputError(
            first.message, field=_field(first.absolute_path), hint="see docs/kubernetes.md#reference"
        )
    _check_rules(full)
    return full


def _check_rules(spec: dict[str, Any]) -> None:
    # The CRD's x-kubernetes-validations (CEL), which jsonschema cannot evaluate, restated here.
    source = spec["ingest"]["source"]
    if source["type"] == "inbox" and not source.get("inboxClaimName"):
        raise InputError(
            "source.type inbox needs source.inboxClaimName",
            field="spec.ingest.source.inboxClaimName",
            hint="name the PersistentVolumeClaim that holds <study>/<participant>/ folders",
        )
    if source["type"] == "googleHealthApi" and not spec["googleHealth"].get("secretName"):
        raise InputError(
            "ingest.source.type googleHealthApi needs googleHealth.secretName",
            field="spec.googleHealth.secretName",
            hint="create a Secret with client_id and client_secret of your Google OAuth client",
        )
    mail = spec["monitoring"]["alertmanager"]
    if mail["enabled"]:
        for key in ("to", "from", "smarthost"):
            if not mail.get(key):
                raise InputError(
                    f"alertmanager.enabled needs {key}", field=f"spec.monitoring.alertmanager.{key}"
                )
    _check_zone(spec["ingest"]["timeZone"], "spec.ingest.timeZone")
    _check_schedule(spec["ingest"]["schedule"], "spec.ingest.schedule")
    _check_hardening_rules(spec)


def _check_schedule(schedule: str, field: str) -> None:
    if not schedule.startswith("@") and not croniter.is_valid(schedule):
        raise InputError(f"invalid cron schedule {schedule!r}", field=field)


def _check_zone(zone: str, field: str) -> None:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {zone!r}", field=field, hint="use an IANA name like Europe/Berlin"
        ) from None


def _check_hardening_rules(spec: dict[str, Any]) -> None:
    # The CEL rules of schema_blocks.py, restated.
    auth = spec["dashboard"]["auth"]
    if auth["mode"] == "oidc":
        for key in ("issuerURL", "clientID", "clientSecretName"):
            if not auth["oidc"].get(key):
                raise InputError(
                    f"dashboard.auth.mode oidc needs oidc.{key}",
                    field=f"spec.dashboard.auth.oidc.{key}",
                    hint="register fitpipe's dashboard as an OIDC client at your identity provider",
                )
    ingress = spec["dashboard"]["ingress"]
    if ingress["enabled"]:
        for key in ("host", "tlsSecretName"):
            if not ingress.get(key):
                raise InputError(
                    f"dashboard.ingress.enabled needs {key}", field=f"spec.dashboard.ingress.{key}"
                )
    scaling = spec["api"].get("autoscaling")
    if scaling and scaling["minReplicas"] > scaling["maxReplicas"]:
        raise InputError(
            "api.autoscaling.minReplicas must not exceed maxReplicas",
            field="spec.api.autoscaling.minReplicas",
        )
    for peer in ("prometheus", "ingressController", "dns"):
        if not set(spec["networkPolicy"][peer]) & {"namespaceSelector", "podSelector"}:
            raise InputError(
                "a peer needs a namespaceSelector or a podSelector", field=f"spec.networkPolicy.{peer}"
            )
    backup = spec["backup"]
    repository = backup.get("repository")
    if (backup["enabled"] or backup.get("restore")) and not repository:
        raise InputError(
            "backup.enabled and backup.restore need backup.repository",
            field="spec.backup.repository",
            hint="name a PersistentVolumeClaim (type: pvc, claimName) or an S3 bucket (type: s3)",
        )
    if repository:
        if repository["type"] == "pvc" and not repository.get("claimName"):
            raise InputError(
                "backup.repository.type pvc needs claimName", field="spec.backup.repository.claimName"
            )
        if repository["type"] == "s3":
            for key in ("bucket", "endpoint", "region", "secretName"):
                if not (repository.get("s3") or {}).get(key):
                    raise InputError(
                        f"backup.repository.type s3 needs s3.{key}", field=f"spec.backup.repository.s3.{key}"
                    )
    for kind in ("full", "differential"):
        _check_schedule(backup["schedule"][kind], f"spec.backup.schedule.{kind}")
    _check_zone(backup["timeZone"], "spec.backup.timeZone")
