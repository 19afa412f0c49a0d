"""The chart's RBAC on a real API server: the operator works with exactly what the chart grants (no
forbidden answer in its log), reads no Secret anywhere (it only creates the ones it generates), and
with `watchNamespaces` it has no right at all outside those namespaces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.harness import (
    RELEASE,
    RELEASE_NAMESPACE,
    ControlPlane,
    OperatorProcess,
    example,
    example_secrets,
    install_chart,
    restricted_namespace,
    wait_ready,
)
from tests.cluster.kube import Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FORBIDDEN = re.compile(r"forbidden", re.IGNORECASE)  # how the API server words a 403
CLUSTER_WIDE = f"system:serviceaccount:{RELEASE_NAMESPACE}:{RELEASE}"
SCOPED_RELEASE = "fitpipe-scoped"
SCOPED_NS = "rbac-scoped"
SCOPED = f"system:serviceaccount:{SCOPED_RELEASE}:{SCOPED_RELEASE}"


def test_the_cluster_wide_operator_reads_no_secret_anywhere(kube: Kube, operator: OperatorProcess) -> None:
    for namespace in ("kube-system", "default", "trial-a"):
        for verb in ("get", "list", "watch", "patch", "delete"):
            assert not kube.can(CLUSTER_WIDE, verb, "secrets", namespace), f"{verb} secrets in {namespace}"
        assert kube.can(CLUSTER_WIDE, "create", "secrets", namespace)
    assert not kube.can(CLUSTER_WIDE, "list", "secrets")


def test_the_cluster_wide_operator_met_no_forbidden_answer(kube: Kube, operator: OperatorProcess) -> None:
    # By now pipelines were created, changed, repaired and deleted by this operator (the other modules).
    text = operator.text()
    assert "applied" in text  # it did log its work (at INFO)
    lines = [line for line in text.splitlines() if FORBIDDEN.search(line)]
    assert not lines, "\n".join(lines[:20])
    assert "Traceback" not in text, operator.tail(80)


@pytest.fixture(scope="module")
def scoped_operator(
    control_plane: ControlPlane,
    kube: Kube,
    operator: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """A second install, watching only rbac-scoped; the cluster-wide operator stops meanwhile, so the
    scoped one alone acts on that namespace."""
    restricted_namespace(kube, SCOPED_NS)
    deployment = install_chart(
        control_plane,
        kube,
        SCOPED_RELEASE,
        SCOPED_RELEASE,
        {"watchNamespaces": [SCOPED_NS], "monitoringLabels": {"release": "kps"}},
    )
    scoped = OperatorProcess.as_installed(
        control_plane, kube, deployment, tmp_path_factory.mktemp("scoped-operator")
    )
    operator.stop()
    try:
        scoped.start()
        yield scoped
    finally:
        scoped.stop()
        operator.start()


def test_a_scoped_install_grants_nothing_outside_its_namespaces(
    kube: Kube, scoped_operator: OperatorProcess
) -> None:
    assert kube.can(SCOPED, "create", "secrets", SCOPED_NS)
    for namespace in ("default", "kube-system", "trial-a"):
        assert not kube.can(SCOPED, "create", "secrets", namespace)
        assert not kube.can(SCOPED, "list", "fitbitpipelines", namespace, group="fitpipe.io")
    for verb in ("get", "list", "watch"):
        assert not kube.can(SCOPED, verb, "secrets", SCOPED_NS)
        assert not kube.can(SCOPED, verb, "secrets")
        assert not kube.can(SCOPED, verb, "fitbitpipelines", group="fitpipe.io")  # cluster-wide
    assert not kube.can(SCOPED, "list", "namespaces")
    assert not kube.can(SCOPED, "list", "customresourcedefinitions", group="apiextensions.k8s.io")


def test_a_scoped_operator_runs_a_pipeline_without_a_forbidden_answer(
    kube: Kube, scoped_operator: OperatorProcess
) -> None:
    example_secrets(kube, SCOPED_NS)
    document = example(SCOPED_NS, "trial-b")
    del document["spec"]["monitoring"]["labels"]
    kube.apply(document)
    body: dict[str, Any] = wait_ready(kube, SCOPED_NS, "trial-b")
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    eventually(lambda: kube.get("Secret", "trial-b-db-credentials", SCOPED_NS), 30, "the generated Secret")
    # The chart's monitoringLabels reach the monitoring objects (this pipeline sets none of its own).
    for kind, name in (
        ("ServiceMonitor", "trial-b-api"),
        ("PrometheusRule", "trial-b"),
        ("AlertmanagerConfig", "trial-b-alerts"),
    ):
        found = kube.get(kind, name, SCOPED_NS)
        assert found is not None and found["metadata"]["labels"]["release"] == "kps", kind
    lines = [line for line in scoped_operator.text().splitlines() if FORBIDDEN.search(line)]
    assert not lines, "\n".join(lines[:20])
