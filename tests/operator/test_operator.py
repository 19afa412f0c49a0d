"""The whole operator (kopf, the handlers, the cluster client) running in-process against kmock, an
in-memory Kubernetes API server over real HTTP: fast tests of the handlers' wiring (create, update,
status, invalid specs, resume, delete, drift). kmock has no controllers, admission, schema or garbage
collector: tests/cluster runs the same operator on a real control plane for those."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import importlib.resources
import itertools
import os
import socket
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import jsonpatch
import kmock
import kopf
import pytest
import yaml

from fitpipe_operator.cluster import Cluster
from fitpipe_operator.handlers import register
from fitpipe_operator.render import render
from tests.operator.conftest import GOOGLE

# kopf warns when a timer is still running as it stops (it then leaves it to finish on its own, and
# operator_against_kmock waits for it); a test must not fail on that warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*did not exit in time:ResourceWarning")

NS = "trial-a"
PIPELINES = "fitpipe.io/v1alpha1/fitbitpipelines"
COLLECTION = f"/apis/fitpipe.io/v1alpha1/namespaces/{NS}/fitbitpipelines"


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator plus the bookkeeping of a real API server that kopf relies on: a new
    resourceVersion on every write (kopf tells fresh watch events from stale ones by it), uid and
    generation on creation, a new generation when the spec changes, 422 for a failed JSON-patch test."""

    versions = itertools.count(1)

    async def _handle(self, request: kmock.Request) -> Any:
        if request.resource is not None and request.action in (kmock.action.CREATE, kmock.action.UPDATE):
            version = str(next(self.versions))
            data = request.data
            if isinstance(data, list):  # a JSON patch
                data.append({"op": "replace", "path": "/metadata/resourceVersion", "value": version})
            elif isinstance(data, dict) and request.action == kmock.action.CREATE:
                meta = data.setdefault("metadata", {})
                meta.update(resourceVersion=version, generation=1)
                meta.setdefault("uid", f"uid-{meta.get('name')}")
            elif isinstance(data, dict):
                meta = data.setdefault("metadata", {})
                meta["resourceVersion"] = version
                current = stored(self, request.resource, request.name or "", request.namespace)
                if current is not None and "spec" in data and request.subresource is None:
                    meta["generation"] = int(current["metadata"].get("generation", 0)) + 1
        try:
            return await super()._handle(request)
        except jsonpatch.JsonPatchTestFailed as exc:
            # A real API server answers a failed resourceVersion test with 422; kopf then waits for fresher events.
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from None


def pipeline(spec: dict[str, Any], *, name: str = "trial-a") -> dict[str, Any]:
    return {
        "apiVersion": "fitpipe.io/v1alpha1",
        "kind": "FitbitPipeline",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def resource_of(manifest: dict[str, Any]) -> str:
    from fitpipe_operator.cluster import PLURALS

    return f"{manifest['apiVersion']}/{PLURALS[(manifest['apiVersion'], manifest['kind'])]}"


def stored(
    server: kmock.KubernetesEmulator, resource: Any, name: str, namespace: str | None = NS
) -> dict[str, Any] | None:
    try:
        obj = server.objects[resource, namespace, name]
    except KeyError:
        return None
    return None if obj.deleted else dict(obj.raw)


def present(server: kmock.KubernetesEmulator, resource: str, name: str) -> dict[str, Any]:
    body = stored(server, resource, name)
    assert body is not None, f"{resource} {name} is not stored"
    return body


async def eventually(
    check: Callable[[], Any], timeout: float = 30.0, *, state: Callable[[], Any] | None = None
) -> Any:
    """Poll until check() returns something truthy (and return it), or fail after `timeout` seconds
    saying what `state()` showed last."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout} s; last state: {state() if state else '-'}")
        await asyncio.sleep(0.05)


def declare_resources(server: kmock.KubernetesEmulator) -> None:
    """Discovery of the built-in groups (kopf asks /api/v1), plus the FitbitPipeline resource the CRD declares."""
    bundled = importlib.resources.files("kmock._internal") / "resources.json.gz"
    server.resources.load_data(gzip.decompress(bundled.read_bytes()))
    server.resources[PIPELINES] = kmock.ResourceInfo(
        kind="FitbitPipeline",
        singular="fitbitpipeline",
        namespaced=True,
        verbs={"get", "list", "watch", "patch"},
        subresources={"status"},
    )


@contextlib.asynccontextmanager
async def operator_against_kmock(
    *, before_start: Callable[[ApiServer], Awaitable[None]] | None = None, status_interval: float = 60.0
) -> AsyncIterator[ApiServer]:
    """kmock serving, the operator running against it. The resync loop runs every
    `status_interval` seconds (the resync loop: drift repair and status refresh)."""
    async with ApiServer() as server, kmock.Server(server):
        declare_resources(server)
        if before_start is not None:
            await before_start(server)
        url = str(server.url).rstrip("/")
        registry = kopf.OperatorRegistry()
        register(registry, status_interval=status_interval)

        @kopf.on.startup(registry=registry)
        def reconnect_often(settings: kopf.OperatorSettings, **_: Any) -> None:
            # kmock replays the objects when a watch starts and can miss a change made between that replay
            # and its subscription to new events; a real API server resumes from the listed resourceVersion.
            # Re-listing every second bounds that gap.
            settings.watching.client_timeout = 1.0

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)

        cluster = Cluster.at(url)
        stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.create_task(
            kopf.operator(
                registry=registry,
                clusterwide=True,
                standalone=True,
                stop_flag=stop,
                ready_flag=ready,
                memo=kopf.Memo(cluster=cluster),
            )
        )
        try:
            await asyncio.wait_for(ready.wait(), 30)
            yield server
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            # kopf may return while a timer it gave up on (see pytestmark) is still in its handler;
            # let it finish before the server goes away, or it retries against a closed port.
            for _ in range(200):
                if not any(
                    "/kopf/" in getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "")
                    for task in asyncio.all_tasks()
                    if not task.done()
                ):
                    break
                await asyncio.sleep(0.05)
            cluster.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())
    # Sessions that kopf's and kmock's internals drop while an in-process operator shuts down are
    # collected here, inside the test that made them, not in whichever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def children_of(server: kmock.KubernetesEmulator, spec: dict[str, Any]) -> list[dict[str, Any] | None]:
    return [stored(server, resource_of(m), m["metadata"]["name"]) for m in render("trial-a", NS, spec)]


CLAIM = "data-trial-a-timescaledb-0"


async def make_claim(server: kmock.KubernetesEmulator) -> None:
    """The database's claim, as the StatefulSet controller of a real cluster would create it."""
    await server.post(
        f"/api/v1/namespaces/{NS}/persistentvolumeclaims",
        json={
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CLAIM, "namespace": NS},
        },
    )


def condition(body: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


def posted_events(server: kmock.KubernetesEmulator) -> list[dict[str, Any]]:
    # kmock keeps events by name, and kopf posts them with generateName: read the requests instead.
    return [
        request.data
        for request in server
        if request.method == "POST" and request.url.path.endswith("/events")
    ]


def test_applying_a_pipeline_creates_every_child_owned_by_it() -> None:
    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            await eventually(lambda: stored(server, "apps/v1/statefulsets", "trial-a-timescaledb"))
            # The generated Secrets wait for the database's claim, and are owned by it.
            assert stored(server, "v1/secrets", "trial-a-db-credentials") is None
            await make_claim(server)
            children = await eventually(
                lambda: all(children_of(server, GOOGLE)) and children_of(server, GOOGLE)
            )
            assert len(children) == len(render("trial-a", NS, GOOGLE))
            claim_uid = present(server, "v1/persistentvolumeclaims", CLAIM)["metadata"]["uid"]
            for child in children:
                refs = child["metadata"].get("ownerReferences")
                if child["kind"] == "Secret":
                    assert refs == [
                        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": CLAIM, "uid": claim_uid}
                    ]
                else:
                    assert refs == [
                        {
                            "apiVersion": "fitpipe.io/v1alpha1",
                            "kind": "FitbitPipeline",
                            "name": "trial-a",
                            "uid": "uid-trial-a",
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ]
            secret = stored(server, "v1/secrets", "trial-a-db-credentials")
            assert secret is not None and len(secret["stringData"]["password"]) == 44
            reasons = await eventually(
                lambda: {e["reason"] for e in posted_events(server)} >= {"Applied", "SecretGenerated"}
            )
            assert reasons

    run(scenario)


def test_a_spec_change_updates_children_prunes_what_went_and_keeps_the_password() -> None:
    changed = {
        **GOOGLE,
        "api": {"replicas": 3},
        "ingest": {"schedule": "30 2 * * *"},
        "dashboard": {"enabled": False},
    }

    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await make_claim(server)
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-dashboard"))
            await eventually(lambda: stored(server, "v1/secrets", "trial-a-db-credentials"))
            password = present(server, "v1/secrets", "trial-a-db-credentials")["stringData"]["password"]

            await server.patch(f"{COLLECTION}/trial-a", json={"spec": changed})

            def updated() -> bool:
                api = stored(server, "apps/v1/deployments", "trial-a-api") or {}
                cron = stored(server, "batch/v1/cronjobs", "trial-a-ingest") or {}
                return (
                    api.get("spec", {}).get("replicas") == 3
                    and cron.get("spec", {}).get("schedule") == "30 2 * * *"
                )

            await eventually(updated)
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-dashboard") is None)
            assert stored(server, "v1/services", "trial-a-dashboard") is None
            assert (
                present(server, "v1/secrets", "trial-a-db-credentials")["stringData"]["password"] == password
            )
            # The API server counted the spec change as generation 2; the status says it was handled.
            await eventually(
                lambda: (
                    condition(stored(server, PIPELINES, "trial-a"), "Reconciled").get("observedGeneration")
                    == 2
                )
            )

    run(scenario)


def test_ready_is_written_once_the_children_report_ready() -> None:
    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await make_claim(server)
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            not_ready = await eventually(lambda: condition(stored(server, PIPELINES, "trial-a"), "Ready"))
            assert not_ready["status"] == "False"
            await eventually(lambda: all(children_of(server, GOOGLE)))

            # What the StatefulSet, Job and Deployment controllers of a real cluster would report.
            job = next(m["metadata"]["name"] for m in render("trial-a", NS, GOOGLE) if m["kind"] == "Job")
            await server.patch(
                f"/apis/apps/v1/namespaces/{NS}/statefulsets/trial-a-timescaledb/status",
                json={"status": {"readyReplicas": 1}},
            )
            await server.patch(
                f"/apis/batch/v1/namespaces/{NS}/jobs/{job}/status", json={"status": {"succeeded": 1}}
            )
            for deployment in ("trial-a-api", "trial-a-dashboard"):
                await server.patch(
                    f"/apis/apps/v1/namespaces/{NS}/deployments/{deployment}/status",
                    json={"status": {"availableReplicas": 1}},
                )

            ready = await eventually(
                lambda: (
                    condition(stored(server, PIPELINES, "trial-a"), "Ready").get("status") == "True"
                    and condition(stored(server, PIPELINES, "trial-a"), "Ready")
                ),
                state=lambda: (stored(server, PIPELINES, "trial-a") or {}).get("status"),
            )
            assert ready["reason"] == "AllReady"
            status = present(server, PIPELINES, "trial-a")["status"]
            assert status["observedGeneration"] == 1
            statuses = {c["type"]: c["status"] for c in status["conditions"]}
            assert (
                statuses.items()
                >= {
                    "DatabaseReady": "True",
                    "SchemaMigrated": "True",
                    "ApiReady": "True",
                    "DashboardReady": "True",
                    "IngestScheduled": "True",
                }.items()
            )

    run(scenario)


def test_an_invalid_spec_is_reported_and_creates_nothing() -> None:
    broken = {"ingest": {"source": {"type": "inbox"}}}  # the CEL rule a real API server would enforce

    async def scenario() -> None:
        async with operator_against_kmock() as server:
            await server.post(COLLECTION, json=pipeline(broken))
            reconciled = await eventually(
                lambda: condition(stored(server, PIPELINES, "trial-a"), "Reconciled")
            )
            assert (reconciled["status"], reconciled["reason"]) == ("False", "InvalidSpec")
            assert "inboxClaimName" in reconciled["message"]
            warning = await eventually(
                lambda: [e for e in posted_events(server) if e["reason"] == "InvalidSpec"]
            )
            assert warning[0]["type"] == "Warning"
            assert stored(server, "apps/v1/statefulsets", "trial-a-timescaledb") is None

    run(scenario)


def test_a_restarted_operator_resumes_existing_pipelines() -> None:
    async def existing(server: kmock.KubernetesEmulator) -> None:
        # Stored before the operator starts, as if it had been applied while the operator was down.
        body = pipeline(GOOGLE)
        body["metadata"].update(uid="uid-trial-a", generation=1, resourceVersion="0")
        server.objects[PIPELINES, NS, "trial-a"] = body
        await make_claim(server)

    async def scenario() -> None:
        async with operator_against_kmock(before_start=existing) as server:
            await eventually(lambda: all(children_of(server, GOOGLE)))

    run(scenario)


def test_deleting_a_pipeline_waits_for_no_finalizer() -> None:
    # Nothing of the operator's blocks deletion: it may be down when a pipeline is deleted.
    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-api"))
            await eventually(lambda: condition(stored(server, PIPELINES, "trial-a"), "Ready"))
            assert not present(server, PIPELINES, "trial-a")["metadata"].get("finalizers")
            await server.delete(f"{COLLECTION}/trial-a")
            await eventually(lambda: stored(server, PIPELINES, "trial-a") is None)

    run(scenario)


def test_a_child_deleted_by_hand_is_restored_by_the_resync() -> None:
    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-api"))
            await server.delete(f"/apis/apps/v1/namespaces/{NS}/deployments/trial-a-api")
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-api") is None)
            await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-api"), timeout=10)

    run(scenario)


def test_the_run_command_operates_pipelines_through_the_kubeconfig(tmp_path: Path) -> None:
    """`fitpipe operator run` as a separate process, logging in with a kubeconfig, as on a workstation."""

    async def scenario() -> None:
        async with ApiServer() as server, kmock.Server(server):
            declare_resources(server)
            kubeconfig = tmp_path / "kubeconfig"
            kubeconfig.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [{"name": "kmock", "cluster": {"server": str(server.url).rstrip("/")}}],
                        "users": [{"name": "kmock", "user": {"token": "test"}}],
                        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
                        "current-context": "kmock",
                    }
                )
            )
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from fitpipe.cli import main; main()",
                "operator", "run", "--all-namespaces", "--status-interval", "1",
                "--liveness", f"http://127.0.0.1:{port}/healthz",
                env={**os.environ, "KUBECONFIG": str(kubeconfig)},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            try:
                await make_claim(server)
                await server.post(COLLECTION, json=pipeline(GOOGLE))
                await eventually(lambda: all(children_of(server, GOOGLE)), timeout=60)
                await eventually(
                    lambda: condition(stored(server, PIPELINES, "trial-a"), "Reconciled"), timeout=30
                )
            finally:
                process.terminate()
                output, _ = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, output.decode()[-3000:]

    run(scenario)


def test_a_generated_secret_deleted_and_created_anew_rolls_its_readers() -> None:
    """The operator never reads the Secret: it counts its own creations (status.generatedSecrets), and a
    new count changes the checksum annotation of the pods that read it and the migration Job's name."""

    async def scenario() -> None:
        async with operator_against_kmock(status_interval=0.5) as server:
            await make_claim(server)
            await server.post(COLLECTION, json=pipeline(GOOGLE))
            await eventually(lambda: stored(server, "v1/secrets", "trial-a-db-api"))

            def counts() -> dict[str, int]:
                return dict(
                    ((stored(server, PIPELINES, "trial-a") or {}).get("status") or {}).get("generatedSecrets")
                    or {}
                )

            await eventually(lambda: counts().get("trial-a-db-api") == 1)
            first_job = next(
                m["metadata"]["name"] for m in render("trial-a", NS, GOOGLE) if m["kind"] == "Job"
            )
            api = await eventually(lambda: stored(server, "apps/v1/deployments", "trial-a-api"))
            assert "annotations" not in api["spec"]["template"]["metadata"]

            await server.delete(f"/api/v1/namespaces/{NS}/secrets/trial-a-db-api")
            await eventually(lambda: counts().get("trial-a-db-api") == 2, timeout=15)
            annotated = await eventually(
                lambda: (
                    (stored(server, "apps/v1/deployments", "trial-a-api") or {})["spec"]["template"][
                        "metadata"
                    ]
                    .get("annotations", {})
                    .get("fitpipe.io/config-checksum")
                )
            )
            assert annotated
            renamed = next(
                m["metadata"]["name"]
                for m in render("trial-a", NS, GOOGLE, generated=counts())
                if m["kind"] == "Job"
            )
            assert renamed != first_job
            await eventually(lambda: stored(server, "batch/v1/jobs", renamed))
            await eventually(lambda: stored(server, "batch/v1/jobs", first_job) is None)  # pruned
            dashboard = present(server, "apps/v1/deployments", "trial-a-dashboard")
            assert "annotations" not in dashboard["spec"]["template"]["metadata"]  # it does not read it

    run(scenario)
