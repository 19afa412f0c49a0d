"""The kopf handlers of the FitbitPipeline resource, kept thin: a pass (sync.py) on every change, a
resync loop that repeats the pass for every pipeline, and events saying what happened. register() puts
them on a registry, so the CLI and the tests run the same operator.

The workloads a pipeline owns (Deployments, StatefulSets, Jobs, CronJobs) are watched, filtered by the
operator's label on the server: a change to one (a pod became ready, a Job finished, someone deleted
or edited it) wakes the loop for its pipeline at once, so status and drift repair follow within
seconds; other children (Services, ConfigMaps, monitoring objects) are repaired on the interval.

No handler needs a finalizer (no deletion handler, no timer or daemon): the garbage collector removes
a deleted pipeline's children, and deleting a pipeline never waits for the operator to be up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from fitpipe_operator.cluster import Cluster
from fitpipe_operator.crd import GROUP, PLURAL, VERSION
from fitpipe_operator.errors import ClusterError
from fitpipe_operator.naming import MANAGED_BY
from fitpipe_operator.sync import Locks, Options, Pass, list_pipelines, sync_pipeline

__all__ = ["register"]

# What kopf passes as `logger`.
Logger = logging.Logger | logging.LoggerAdapter[Any]

# The children whose changes wake the loop for their pipeline (group, version, plural).
WATCHED_CHILDREN = [
    ("apps", "v1", "deployments"),
    ("apps", "v1", "statefulsets"),
    ("batch", "v1", "jobs"),
    ("batch", "v1", "cronjobs"),
]
OWN_LABELS = f"app.kubernetes.io/managed-by={MANAGED_BY}"
# A burst of child events (a rollout) makes one pass, this many seconds after the first.
DEBOUNCE = 1.0


class Wakeups:
    """Pipelines whose children changed since the loop last looked; lives on the operator's event loop."""

    def __init__(self) -> None:
        self.pending: set[tuple[str, str]] = set()
        self.event = asyncio.Event()

    def add(self, namespace: str, name: str) -> None:
        self.pending.add((namespace, name))
        self.event.set()

    def take(self) -> set[tuple[str, str]]:
        taken, self.pending = self.pending, set()
        self.event.clear()
        return taken


def _report(cluster: Cluster, done: Pass, logger: Logger, *, changed: bool) -> None:
    """Events on the pipeline for what this pass did; repeated failures are posted only when they change.
    Posted through the operator's own client: the resync loop runs outside kopf's handler context."""
    body, outcome = done.body, done.outcome
    previous_errors = list((body.get("status") or {}).get("errors") or [])

    def post(event_type: str, reason: str, message: str) -> None:
        cluster.post_event(body, event_type, reason, message)

    for secret in outcome.created_secrets:
        post("Normal", "SecretGenerated", f"generated Secret {secret} (kept with the volume)")
    for note in outcome.notes:
        post("Normal", "VolumeGrown", note)
    for note in outcome.handovers:
        post("Normal", "ReplicasHandedOver", note)
    if outcome.pruned:
        post("Normal", "Pruned", "deleted " + ", ".join(outcome.pruned))
    if outcome.missing_kinds and changed:
        kinds = ", ".join(outcome.missing_kinds)
        post("Warning", "CRDsMissing", f"skipped {kinds}: install prometheus-operator's CRDs")
    if outcome.errors and outcome.errors != previous_errors:
        post("Warning", "ApplyFailed", "; ".join(outcome.errors))
    if changed:
        for warning in done.warnings:
            post("Warning", "InsecureDashboard", warning)
    if changed and done.reconciled:
        post("Normal", "Applied", f"applied {len(outcome.applied)} objects")
    if outcome.errors:
        logger.warning("%d children failed: %s", len(outcome.errors), "; ".join(outcome.errors))
    logger.info(
        "applied %d objects, created %d secrets, pruned %d",
        len(outcome.applied),
        len(outcome.created_secrets),
        len(outcome.pruned),
    )


def register(
    registry: kopf.OperatorRegistry,
    *,
    status_interval: float = 30.0,
    namespaces: list[str] | None = None,
    options: Options | None = None,
) -> None:
    """Register the operator's handlers on `registry`. The cluster client is `memo.cluster`; the
    startup handler makes one from the environment unless the caller put one there. The resync loop
    visits the pipelines of `namespaces` (None: all) every `status_interval` seconds."""
    resource = (GROUP, VERSION, PLURAL)
    settings_of_run = options or Options()

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, memo: Any, logger: Logger, **_: Any) -> None:
        # Discovery once at start-up instead of watching every CRD and namespace: no cluster-wide
        # list/watch on customresourcedefinitions or namespaces in the operator's RBAC.
        settings.scanning.disabled = True
        settings.posting.level = logging.INFO
        for group, _version, plural in WATCHED_CHILDREN:
            settings.watching.label_selectors[group, plural] = OWN_LABELS
        if getattr(memo, "cluster", None) is None:
            memo.cluster = Cluster.from_environment()
        memo.locks = Locks()
        memo.options = settings_of_run
        memo.wakeups = Wakeups()
        memo.resync = asyncio.create_task(_resync(memo, namespaces, status_interval, logger))

    @kopf.on.cleanup(registry=registry)
    async def stop_resync(memo: Any, **_: Any) -> None:
        task = getattr(memo, "resync", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    for group, version, plural in WATCHED_CHILDREN:

        @kopf.on.event(
            group, version, plural, labels={"app.kubernetes.io/managed-by": MANAGED_BY}, registry=registry
        )
        async def child_changed(meta: kopf.Meta, namespace: str | None, memo: Any, **_: Any) -> None:
            pipeline = meta.labels.get("app.kubernetes.io/instance")
            if namespace and pipeline and getattr(memo, "wakeups", None) is not None:
                memo.wakeups.add(namespace, pipeline)

    @kopf.on.create(*resource, registry=registry)
    @kopf.on.update(*resource, registry=registry)
    @kopf.on.resume(*resource, registry=registry)
    def reconcile(name: str, namespace: str | None, memo: Any, logger: Logger, **_: Any) -> None:
        assert namespace is not None  # the CRD is namespaced
        try:
            with memo.locks.hold(namespace, name):
                done = sync_pipeline(memo.cluster, namespace, name, memo.options)
        except ClusterError as exc:
            raise kopf.TemporaryError(str(exc), delay=15) from exc
        if done is None:
            return
        if done.invalid is not None:
            memo.cluster.post_event(done.body, "Warning", "InvalidSpec", str(done.invalid))
            raise kopf.PermanentError(str(done.invalid))
        _report(memo.cluster, done, logger, changed=True)
        if done.outcome.errors:
            # kopf retries with back-off; the resync loop retries too.
            raise kopf.TemporaryError("; ".join(done.outcome.errors), delay=15)


async def _resync(memo: Any, namespaces: list[str] | None, interval: float, logger: Logger) -> None:
    """Every `interval` seconds a pass over every pipeline, and in between a pass over each pipeline whose
    workloads changed: re-applies what drifted, refreshes status."""

    def one(namespace: str, name: str) -> None:
        with memo.locks.hold(namespace, name):
            done = sync_pipeline(memo.cluster, namespace, name, memo.options)
        if done is not None and done.invalid is None:
            _report(memo.cluster, done, logger, changed=False)

    loop = asyncio.get_running_loop()
    due = loop.time() + interval
    while True:
        try:
            await asyncio.wait_for(memo.wakeups.event.wait(), timeout=max(0.0, due - loop.time()))
            await asyncio.sleep(DEBOUNCE)
        except TimeoutError:
            pass
        pipelines = sorted(memo.wakeups.take())
        if loop.time() >= due:
            due = loop.time() + interval
            try:
                pipelines = await asyncio.to_thread(list_pipelines, memo.cluster, namespaces)
            except ClusterError as exc:
                logger.warning("resync: cannot list the pipelines: %s", exc)
                continue
        for namespace, name in pipelines:
            try:
                await asyncio.to_thread(one, namespace, name)
            except ClusterError as exc:
                logger.warning("resync of %s/%s failed: %s", namespace, name, exc)
            except Exception:  # the loop must outlive any one pipeline's surprise
                logger.exception("resync of %s/%s failed", namespace, name)
