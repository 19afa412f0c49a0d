"""The kopf handlers of the FitbitPipeline resource, kept thin: render, apply, prune, report.
register() puts them on a registry, so the CLI and the tests run the same operator."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf

from fitpipe.errors import InputError
from fitpipe_operator.cluster import Cluster
from fitpipe_operator.crd import GROUP, PLURAL, VERSION
from fitpipe_operator.errors import ClusterError
from fitpipe_operator.reconcile import Owner, apply_children, observe_children, prune_children
from fitpipe_operator.render import render
from fitpipe_operator.spec import checked_spec
from fitpipe_operator.status import condition, observed_conditions, status_update

__all__ = ["register"]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# What kopf passes as `logger`.
Logger = logging.Logger | logging.LoggerAdapter[Any]


def _generation(meta: kopf.Meta) -> int | None:
    generation = meta.get("generation")
    return int(generation) if generation is not None else None


def register(registry: kopf.OperatorRegistry, *, status_interval: float = 30.0) -> None:
    """Register the operator's handlers on `registry`. The cluster client is `memo.cluster`; the
    startup handler makes one from the environment unless the caller put one there."""
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
        # Discovery once at start-up instead of watching every CRD and namespace: no cluster-wide
        # list/watch on customresourcedefinitions or namespaces in the operator's RBAC.
        settings.scanning.disabled = True
        settings.posting.level = logging.INFO
        # A status refresh is a few GETs: let one in flight finish on shutdown instead of orphaning it.
        settings.background.instant_exit_timeout = 2.0
        if getattr(memo, "cluster", None) is None:
            memo.cluster = Cluster.from_environment()

    @kopf.on.create(*resource, registry=registry)
    @kopf.on.update(*resource, registry=registry)
    @kopf.on.resume(*resource, registry=registry)
    def reconcile(
        name: str,
        namespace: str | None,
        spec: kopf.Spec,
        status: kopf.Status,
        meta: kopf.Meta,
        body: kopf.Body,
        patch: kopf.Patch,
        memo: Any,
        logger: Logger,
        **_: Any,
    ) -> None:
        assert namespace is not None  # the CRD is namespaced
        generation = _generation(meta)
        try:
            manifests = render(name, namespace, dict(spec))
        except InputError as exc:
            patch.status.update(
                status_update(
                    dict(status),
                    [condition("Reconciled", False, "InvalidSpec", str(exc))],
                    now=_now(),
                    generation=generation,
                )
            )
            kopf.warn(body, reason="InvalidSpec", message=str(exc))
            raise kopf.PermanentError(str(exc)) from exc

        cluster: Cluster = memo.cluster
        owner = Owner.of(body)
        try:
            outcome = apply_children(cluster, owner, manifests)
            pruned = prune_children(cluster, owner, manifests)
        except ClusterError as exc:
            patch.status.update(
                status_update(
                    dict(status),
                    [condition("Reconciled", False, "ApplyFailed", str(exc))],
                    now=_now(),
                    generation=generation,
                )
            )
            kopf.exception(body, reason="ApplyFailed", message=str(exc))
            raise kopf.TemporaryError(str(exc), delay=30) from exc

        updates = [condition("Reconciled", True, "Applied", f"{len(outcome.applied)} objects applied")]
        if outcome.missing_kinds:
            missing = ", ".join(outcome.missing_kinds)
            updates.append(
                condition("MonitoringReady", False, "CRDsMissing", f"the cluster does not serve {missing}")
            )
            kopf.warn(
                body, reason="CRDsMissing", message=f"skipped {missing}: install prometheus-operator's CRDs"
            )
        else:
            updates.append(
                condition("MonitoringReady", True, "Applied", "monitoring objects applied or disabled")
            )
        full = checked_spec(name, dict(spec))
        updates += observed_conditions(full, observe_children(cluster, name, namespace, full))
        patch.status.update(status_update(dict(status), updates, now=_now(), generation=generation))

        for secret in outcome.created_secrets:
            kopf.info(body, reason="SecretGenerated", message=f"generated Secret {secret} (kept from now on)")
        if pruned:
            kopf.info(body, reason="Pruned", message="deleted " + ", ".join(pruned))
        kopf.info(body, reason="Applied", message=f"applied {len(outcome.applied)} objects")
        logger.info(
            "applied %d objects, created %d secrets, pruned %d",
            len(outcome.applied),
            len(outcome.created_secrets),
            len(pruned),
        )

    @kopf.timer(*resource, interval=status_interval, registry=registry)
    def refresh_status(
        name: str,
        namespace: str | None,
        spec: kopf.Spec,
        status: kopf.Status,
        meta: kopf.Meta,
        patch: kopf.Patch,
        memo: Any,
        **_: Any,
    ) -> None:
        assert namespace is not None
        try:
            full = checked_spec(name, dict(spec))
        except InputError:
            return  # the reconcile handler has reported it
        children = observe_children(memo.cluster, name, namespace, full)
        patch.status.update(
            status_update(
                dict(status),
                observed_conditions(full, children),
                now=_now(),
                generation=_generation(meta),
                ingest_jobs=children.ingest_jobs,
            )
        )

    @kopf.on.delete(*resource, registry=registry)
    def removed(name: str, spec: kopf.Spec, body: kopf.Body, logger: Logger, **_: Any) -> None:
        # Owned children go with the pipeline (Kubernetes' garbage collector); say what stays.
        try:
            keep = not checked_spec(name, dict(spec))["timescaledb"]["storage"]["deleteWithPipeline"]
        except InputError:
            keep = True
        if keep:
            message = (
                f"kept the database volume data-{name}-timescaledb-0 and the Secrets that open it; "
                "delete them by hand when the study's data may go"
            )
        else:
            message = "the database volume and generated Secrets are deleted with the pipeline"
        kopf.info(body, reason="Deleted", message=message)
        logger.info(message)
