"""The daily load as the cluster runs it: the CronJob controller starts a Job at the schedule (every minute
here), kwok runs its pod to success, and the pipeline's status and `kubectl get` report the last run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, condition, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "ingest-schedule"
NAME = "trial-a"


@pytest.fixture(scope="module")
def pipeline(kube: Kube, operator: OperatorProcess) -> dict[str, Any]:
    restricted_namespace(kube, NS)
    example_secrets(kube, NS)
    document = example(NS, NAME)
    document["spec"]["ingest"]["schedule"] = "* * * * *"
    kube.apply(document)
    return wait_ready(kube, NS, NAME)


def test_the_cronjob_starts_a_job_whose_pod_succeeds(kube: Kube, pipeline: dict[str, Any]) -> None:
    def finished() -> dict[str, Any] | None:
        jobs = [
            j
            for j in kube.list(
                "Job", NS, f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=ingest"
            )
            if any(r["kind"] == "CronJob" for r in j["metadata"].get("ownerReferences") or [])
        ]
        done = [j for j in jobs if (j.get("status") or {}).get("succeeded") == 1]
        return done[0] if done else None

    job = eventually(finished, 150, "a scheduled ingest Job succeeded")
    assert condition(job, "Complete")["status"] == "True"
    pods = kube.list("Pod", NS, f"job-name={job['metadata']['name']}")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["run"]

    def reported() -> dict[str, Any] | None:
        status = (kube.get("FitbitPipeline", NAME, NS) or {}).get("status") or {}
        last = status.get("lastIngest") or {}
        return last if last.get("result") == "Succeeded" else None

    last = eventually(reported, 60, "status.lastIngest Succeeded")
    assert last["job"].startswith(f"{NAME}-ingest-")
    (row,) = [r for r in kube.table("FitbitPipeline", NS) if r["Name"] == NAME]
    assert row["Result"] == "Succeeded" and row["Schedule"] == "* * * * *"
    assert row["Last Ingest"] not in ("", "<none>", "None")
