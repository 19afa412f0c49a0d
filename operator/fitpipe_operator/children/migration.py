"""The Job that runs `fitpipe migrate` against the pipeline's database, one per image: a new image
gets a new Job (pod templates of Jobs are immutable), and the old one is pruned."""

from __future__ import annotations

import hashlib
from typing import Any

from fitpipe_operator.children.pods import container, fitpipe_env, image_ref, pod_spec
from fitpipe_operator.naming import child, metadata

__all__ = ["migration_job_name", "migration_children"]

COMPONENT = "migrate"


def migration_job_name(name: str, spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(image_ref(spec).encode()).hexdigest()[:8]
    return child(name, f"migrate-{digest}")


def migration_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    meta = metadata(name, namespace, COMPONENT, migration_job_name(name, spec))
    migrate = container(
        spec,
        "migrate",
        ["migrate"],
        fitpipe_env(name, spec, mail=False, google=False),
        {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    )
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {
                # The database may still be starting: retry with the Job's exponential back-off (~10 min).
                "backoffLimit": 10,
                "activeDeadlineSeconds": 1800,
                "template": {
                    "metadata": {"labels": dict(meta["labels"])},
                    "spec": pod_spec(spec, [migrate], restart_policy="Never"),
                },
            },
        }
    ]
