"""Fixtures of the cluster tests: a real Kubernetes control plane for the session
(scripts/control-plane.sh: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok's two
fake nodes, prometheus-operator), the chart installed by Helm's own engine, and the operator running as
a separate process (`fitpipe operator run`, with the chart's arguments) as the chart's ServiceAccount.

They skip, saying so, when Go is missing (the control plane is built from the Go module proxy). With
FITPIPE_TEST_KUBECONFIG set they use that cluster (one started by `scripts/control-plane.sh start`)
instead of starting their own, which saves the start-up while developing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.harness import (
    RELEASE,
    RELEASE_NAMESPACE,
    ControlPlane,
    ControlPlaneFailed,
    OperatorProcess,
    attach,
    install_chart,
    start_control_plane,
    stop_control_plane,
)
from tests.cluster.kube import Kube


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    given = os.environ.get("FITPIPE_TEST_KUBECONFIG")
    if given:
        yield attach(Path(given), tmp_path_factory.mktemp("given-cluster"), None)
        return
    if shutil.which("go") is None:
        pytest.skip(
            "Go is not installed: the control plane of the cluster tests is built from the Go module proxy"
        )
    folder = tmp_path_factory.mktemp("control-plane")
    try:
        started = start_control_plane(folder)
    except ControlPlaneFailed as exc:
        stop_control_plane(folder)
        pytest.fail(str(exc))
    try:
        yield started
    finally:
        stop_control_plane(folder)


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(control_plane.kubeconfig)
    yield client
    client.close()


@pytest.fixture(scope="session")
def chart_release(control_plane: ControlPlane, kube: Kube) -> dict[str, Any]:
    """`helm install fitpipe charts/fitpipe -n fitpipe-system --create-namespace`, default values."""
    return install_chart(control_plane, kube, RELEASE, RELEASE_NAMESPACE, {})


@pytest.fixture(scope="session")
def operator(
    control_plane: ControlPlane,
    kube: Kube,
    chart_release: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    process = OperatorProcess.as_installed(
        control_plane, kube, chart_release, tmp_path_factory.mktemp("operator")
    )
    process.start()
    yield process
    process.stop()
