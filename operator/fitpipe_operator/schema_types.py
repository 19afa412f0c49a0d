"""The building blocks of the FitbitPipeline schema: typed, bounded, defaulted OpenAPI fragments that
the API server enforces (and jsonschema checks the same way offline)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "QUANTITY_PATTERN",
    "CRON_PATTERN",
    "TIMEZONE_PATTERN",
    "DURATION_PATTERN",
    "OBJECT_NAME_PATTERN",
    "string",
    "integer",
    "boolean",
    "obj",
    "quantity",
    "secret_name",
    "resources",
    "service",
    "string_map",
    "string_list",
]

# Kubernetes quantities (resource.Quantity) in the forms people write: 500m, 2, 1.5, 512Mi, 20Gi, 1e3.
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$"
# Five cron fields as CronJob accepts them (numbers, *, ranges, steps, lists, month/day names, ?), or a macro.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|hourly)"
    r"|[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/?-]+\s+[0-9A-Za-z*,/-]+\s+[0-9A-Za-z*,/?-]+)$"
)
# IANA zone names (Europe/Berlin, America/Argentina/Buenos_Aires, UTC, Etc/GMT+5).
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
# Prometheus durations as prometheus-operator accepts them (30s, 1m, 1h30m).
DURATION_PATTERN = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
# A DNS-1123 subdomain: what Kubernetes accepts as the name of a Secret, PVC or StorageClass.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def integer(description: str, *, minimum: int, maximum: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
    }
    if default is not None:
        schema["default"] = default
    return schema


def boolean(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def obj(
    description: str,
    properties: dict[str, Any],
    *,
    required: list[str] | None = None,
    defaulted: bool = True,
    rules: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    # `default: {}` makes the API server (and apply_defaults) fill the nested defaults even when the
    # user leaves the whole block out, so `spec: {}` is a complete, working pipeline. The API server
    # checks each rule against that bare `{}` when the CRD is created: rules guard fields with has().
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if defaulted:
        schema["default"] = {}
    if rules:
        schema["x-kubernetes-validations"] = rules
    return schema


def quantity(description: str) -> dict[str, Any]:
    # maxLength bounds the cost the API server estimates for CEL rules reading it.
    return string(description, pattern=QUANTITY_PATTERN, maxLength=64)


def secret_name(description: str) -> dict[str, Any]:
    return string(description, pattern=OBJECT_NAME_PATTERN, maxLength=253)


def resources(description: str, requests: dict[str, str], limits: dict[str, str]) -> dict[str, Any]:
    def amounts(what: str, default: dict[str, str]) -> dict[str, Any]:
        schema = obj(
            what,
            {"cpu": quantity("CPU, e.g. 500m or 2."), "memory": quantity("Memory, e.g. 512Mi or 4Gi.")},
            defaulted=False,
        )
        schema["default"] = default
        return schema

    return obj(
        description,
        {
            "requests": amounts("What the scheduler reserves.", requests),
            "limits": amounts("The ceiling.", limits),
        },
    )


def service(description: str, port: int, *, external_tls: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": string(
            "How the Service is exposed.",
            enum=["ClusterIP", "NodePort", "LoadBalancer"],
            default="ClusterIP",
        ),
        "port": integer("The Service port.", minimum=1, maximum=65535, default=port),
    }
    if external_tls:
        properties["externalTLS"] = boolean(
            "A NodePort or LoadBalancer Service has TLS terminated in front of it (a load balancer with a "
            "certificate). Without it the status warns: over plain HTTP nobody can sign in.",
            False,
        )
    return obj(description, properties)


def string_map(description: str, *, max_properties: int = 16, max_length: int = 63) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string", "maxLength": max_length},
        "maxProperties": max_properties,
    }


def string_list(description: str, item: dict[str, Any], *, max_items: int) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": item, "maxItems": max_items}
