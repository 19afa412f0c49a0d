"""The Job that runs `fitpipe migrate` against the pipeline's database, named after its pod template: a
Job's template is immutable, so any change to it (image, study, time zone, pull policy or secrets,
credentials) is a new Job, and the operator prunes the old one. Migrations are idempotent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fitpipe_operator.children.pods import container, fitpipe_env, pod_spec
from fitpipe_operator.naming import child, metadata

__all__ = ["migration_job_name", "migration_children"]

COMPONENT = "migrate"


def _template(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    migrate = container(
        spec,
        "migrate",
        ["migrate"],
        fitpipe_env(name, spec, mail=False, google=False),
        {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    )
    return {
        "metadata": {"labels": dict(metadata(name, namespace, COMPONENT, "")["labels"])},
        "spec": pod_spec(spec, [migrate], restart_policy="Never"),
    }


def migration_job_name(name: str, namespace: str, spec: dict[str, Any]) -> str:
    template = json.dumps(_template(name, namespace, spec), sort_keys=True, separators=(",", ":"))
    return child(name, f"migrate-{hashlib.sha256(template.encode()).hexdigest()[:8]}")


def migration_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(name, namespace, COMPONENT, migration_job_name(name, namespace, spec)),
            "spec": {
                # The database may still be starting: retry with the Job's exponential back-off (~10 min).
                "backoffLimit": 10,
                "activeDeadlineSeconds": 1800,
                "template": _template(name, namespace, spec),
            },
        }
    ]
