"""`fitpipe operator render|run|crd|reference|admin-pod|pin-images`: preview a FitbitPipeline's children,
run the operator, print the CRD or the CR reference, make the administrator's pod, pin a release's
images. A thin layer: errors come from the library as FitpipeErrors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import IO

import click
import yaml

from fitpipe.errors import InputError

__all__ = ["operator"]

DEFAULT_LABELS = "release=kube-prometheus-stack"


def _labels(text: str) -> dict[str, str]:
    """`release=kps,team=trials` -> a dict; '' -> none. What the chart's `monitoringLabels` become."""
    labels = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--monitoring-labels")
        labels[key.strip()] = value.strip()
    return labels


monitoring_labels_option = click.option(
    "--monitoring-labels",
    default=DEFAULT_LABELS,
    show_default=True,
    help="Labels on every ServiceMonitor, PrometheusRule and AlertmanagerConfig, so Prometheus selects "
    "them (key=value,...; '' for none). A pipeline's spec.monitoring.labels override them.",
)


@click.group()
def operator() -> None:
    """The Kubernetes operator: render a FitbitPipeline's children, or run the operator."""


def _documents(stream: IO[str], source: str) -> list[dict]:
    try:
        documents = [d for d in yaml.safe_load_all(stream) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"not valid YAML: {exc}", file=source, line=mark.line + 1 if mark else None
        ) from None
    if not documents:
        raise InputError("no FitbitPipeline in the input", file=source)
    return documents


@operator.command()
@click.option(
    "-f",
    "--filename",
    "filename",
    required=True,
    type=click.File("r"),
    help="FitbitPipeline YAML ('-' for stdin).",
)
@click.option(
    "-n", "--namespace", default=None, help="Namespace for pipelines that name none (default: default)."
)
@monitoring_labels_option
def render(filename: IO[str], namespace: str | None, monitoring_labels: str) -> None:
    """Print the children the operator would create, as one multi-document YAML stream (a dry run)."""
    from fitpipe_operator.render import render_document

    source = getattr(filename, "name", "-")
    labels = _labels(monitoring_labels)
    manifests = []
    for document in _documents(filename, source):
        try:
            manifests += render_document(document, namespace or "default", monitoring_labels=labels)
        except InputError as exc:
            raise InputError(exc.message, file=source, hint=exc.hint) from None
    click.echo(yaml.safe_dump_all(manifests, sort_keys=False, width=120), nl=False)


@operator.command()
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch this namespace (repeatable).")
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option(
    "--liveness", default="http://0.0.0.0:8080/healthz", show_default=True, help="Liveness endpoint."
)
@click.option(
    "--status-interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between passes over every pipeline (drift repair and status refresh).",
)
@monitoring_labels_option
def run(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    liveness: str,
    status_interval: float,
    monitoring_labels: str,
) -> None:
    """Run the operator (in a pod it uses its service account, elsewhere the kubeconfig)."""
    import kopf

    from fitpipe_operator.handlers import register
    from fitpipe_operator.sync import Options

    if bool(namespaces) == all_namespaces:
        raise click.UsageError("pass --all-namespaces or at least one --namespace")
    # An operator reports what it does (each pass, each retry) at INFO, unless -v asked for more.
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        for name in ("kopf", "fitpipe_operator"):
            logging.getLogger(name).setLevel(logging.INFO)
    options = Options(monitoring_labels=_labels(monitoring_labels))
    # The default registry also logs in the way kubectl does (in-cluster service account or kubeconfig).
    registry = kopf.get_default_registry()
    register(
        registry,
        status_interval=status_interval,
        namespaces=None if all_namespaces else list(namespaces),
        options=options,
    )
    # One replica; no peering objects to create or watch (see the chart's Deployment strategy).
    kopf.run(
        registry=registry,
        clusterwide=all_namespaces,
        namespaces=list(namespaces),
        standalone=True,
        liveness_endpoint=liveness,
    )


@operator.command()
@click.option("--write", is_flag=True, help="Write it to the chart's crds/ instead of printing it.")
def crd(write: bool) -> None:
    """Print the FitbitPipeline CustomResourceDefinition."""
    from fitpipe_operator.crd import crd_yaml, write_chart_crd

    if write:
        click.echo(f"wrote {write_chart_crd()}")
    else:
        click.echo(crd_yaml(), nl=False)


@operator.command()
@click.option(
    "--write",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Update this Markdown file's reference section.",
)
def reference(target: Path | None) -> None:
    """Print the FitbitPipeline field reference (Markdown), generated from the CRD schema."""
    from fitpipe_operator.reference import reference_markdown, update_document

    if target is None:
        sys.stdout.write(reference_markdown())
    else:
        update_document(target)
        click.echo(f"updated {target}")


@operator.command("admin-pod")
@click.option(
    "-f", "--filename", "filename", required=True, type=click.File("r"),
    help="The FitbitPipeline (a file, or '-' for `kubectl get fbp NAME -o yaml`).",
)  # fmt: skip
@click.option(
    "-n", "--namespace", default=None, help="Namespace for a pipeline that names none (default: default)."
)
@click.option(
    "--seconds",
    default=3600,
    show_default=True,
    type=click.IntRange(60, 86400),
    help="The pod ends by itself after this long.",
)
def admin_pod(filename: IO[str], namespace: str | None, seconds: int) -> None:
    """Print the administrator's Pod for a pipeline: apply it, `kubectl exec` into it to run `fitpipe
    users|token|participants` as the database's superuser, delete it after use."""
    from fitpipe_operator.children.admin import admin_pod as make_pod
    from fitpipe_operator.spec import checked_spec

    source = getattr(filename, "name", "-")
    documents = _documents(filename, source)
    if len(documents) != 1 or not isinstance(documents[0], dict) or not documents[0].get("metadata"):
        raise InputError("expected one FitbitPipeline", file=source)
    document = documents[0]
    meta = document["metadata"]
    try:
        spec = checked_spec(meta.get("name") or "", document.get("spec") or {})
    except InputError as exc:
        raise InputError(exc.message, file=source, field=exc.field, hint=exc.hint) from None
    pod = make_pod(meta["name"], meta.get("namespace") or namespace or "default", spec, seconds=seconds)
    click.echo(yaml.safe_dump(pod, sort_keys=False, width=120), nl=False)


@operator.command("pin-images")
@click.option("--digest", default=None, help="sha256:<64 hex>: the release's fitpipe image.")
@click.option(
    "--timescaledb", default=None, help="The TimescaleDB image pinned by digest (repository:tag@sha256:...)."
)
@click.option(
    "--docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs") / "kubernetes.md",
    show_default=True,
    help="The reference to update (the checkout's).",
)
def pin_images(digest: str | None, timescaledb: str | None, docs: Path) -> None:
    """Pin the release's default images by digest: images.json, the chart's CRD and values.yaml, and the
    reference in docs/kubernetes.md (docs/kubernetes.md "Release builds"). Run it in the checkout
    fitpipe is installed from (`make install`): it writes that checkout's files."""
    from fitpipe_operator.release import Targets
    from fitpipe_operator.release import pin_images as pin

    pinned = pin(digest=digest, timescaledb=timescaledb, targets=Targets(docs=docs))
    click.echo(f"fitpipe: {pinned.repository}@{pinned.digest or '(tag ' + pinned.tag + ')'}")
    click.echo(f"timescaledb: {pinned.timescaledb}")
