"""The daily delta load: a CronJob running `fitpipe run` (never two at once), with the source's
credentials or inbox volume, history limits and a deadline."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.pods import container, fitpipe_env, pod_spec
from fitpipe_operator.naming import child, metadata

__all__ = ["COMPONENT", "cronjob_name", "ingest_children"]

COMPONENT = "ingest"
INBOX_MOUNT = "/inbox"


def cronjob_name(name: str) -> str:
    return child(name, COMPONENT)


def ingest_children(name: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    ingest = spec["ingest"]
    source = ingest["source"]
    meta = metadata(name, namespace, COMPONENT, cronjob_name(name))
    env = fitpipe_env(name, spec, database="ingest") + [
        {"name": "FITPIPE_INGEST_LAG_HOURS", "value": str(ingest["lagHours"])},
        {"name": "FITPIPE_INGEST_SOURCE", "value": source["type"]},
    ]
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if source["type"] == "inbox":
        env.append({"name": "FITPIPE_INBOX", "value": INBOX_MOUNT})
        mounts.append({"name": "inbox", "mountPath": INBOX_MOUNT})
        volumes.append({"name": "inbox", "persistentVolumeClaim": {"claimName": source["inboxClaimName"]}})
    run = container(spec, "ingest", ["run"], env, ingest["resources"], volumeMounts=mounts)
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": ingest["schedule"],
                "timeZone": ingest["timeZone"],
                "suspend": ingest["suspend"],
                # A load still running when the next is due must finish first: cursors assume one writer.
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": ingest["successfulJobsHistoryLimit"],
                "failedJobsHistoryLimit": ingest["failedJobsHistoryLimit"],
                "jobTemplate": {
                    "metadata": {"labels": dict(meta["labels"])},
                    "spec": {
                        "backoffLimit": ingest["backoffLimit"],
                        "activeDeadlineSeconds": ingest["activeDeadlineSeconds"],
                        "template": {
                            "metadata": {"labels": dict(meta["labels"])},
                            "spec": pod_spec(spec, [run], restart_policy="Never", volumes=volumes),
                        },
                    },
                },
            },
        }
    ]
