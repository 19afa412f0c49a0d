"""The Job that runs `fitpipe migrate` against the pipeline's database as the superuser, with every login
role's password (it creates or repairs the roles and their grants, and sets the passwords).

It is named after its pod template: a Job's template is immutable, so any change to it (image, study,
time zone, pull settings, credentials, a role password's revision through the checksum annotation) is a
new Job, which runs `fitpipe migrate` again, and the operator prunes the old one. Migrations are
idempotent. render() names the Job once the checksum annotation is on its template (children/rollout.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fitpipe_operator.children.pods import container, fitpipe_env, pod_spec
from fitpipe_operator.naming import child, metadata

__all__ = ["COMPONENT", "migration_job_name", "migration_children"]

COMPONENT = "migrate"


def _template(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    migrate = container(
        spec,
        "migrate",
        ["migrate"],
        fitpipe_env(name, spec, database="migrate", mail=False, google=False),
        {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    )
    return {
        "metadata": {"labels": dict(metadata(name, namespace, COMPONENT, "")["labels"])},
        "spec": pod_spec(spec, [migrate], restart_policy="Never"),
    }


def migration_job_name(name: str, template: dict[str, Any]) -> str:
    """`<name>-migrate-<8 hex of the pod template>`."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return child(name, f"{COMPONENT}-{hashlib.sha256(text.encode()).hexdigest()[:8]}")


def migration_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    template = _template(name, namespace, spec)
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(name, namespace, COMPONENT, migration_job_name(name, template)),
            "spec": {
                # The database may still be starting: retry with the Job's exponential back-off (~10 min).
                "backoffLimit": 10,
                "activeDeadlineSeconds": 1800,
                "template": template,
            },
        }
    ]
