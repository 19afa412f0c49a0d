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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.kube import Kube, KubeError, eventually

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "control-plane.sh"
CHART = REPO / "charts" / "fitpipe"
EXAMPLE = REPO / "examples" / "fitbitpipeline.yaml"
RELEASE = "fitpipe"
RELEASE_NAMESPACE = "fitpipe-system"


@dataclass
class ControlPlane:
    kubeconfig: Path
    server: str
    ca_file: Path
    folder: Path | None  # None: a cluster someone else started (FITPIPE_TEST_KUBECONFIG)


def _server_and_ca(kubeconfig: Path, folder: Path) -> tuple[str, Path]:
    import base64

    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = folder / "ca-for-tests.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return cluster["server"], ca


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    given = os.environ.get("FITPIPE_TEST_KUBECONFIG")
    if given:
        path = Path(given)
        server, ca = _server_and_ca(path, tmp_path_factory.mktemp("given-cluster"))
        yield ControlPlane(path, server, ca, None)
        return
    if shutil.which("go") is None:
        pytest.skip(
            "Go is not installed: the control plane of the cluster tests is built from the Go module proxy"
        )
    folder = tmp_path_factory.mktemp("control-plane")
    started = subprocess.run(
        [str(SCRIPT), "start", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHON": sys.executable},
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/control-plane.sh start failed:\n{started.stdout}\n{started.stderr[-6000:]}")
        last = started.stdout.strip().splitlines()[-1]
        assert last.startswith("KUBECONFIG="), started.stdout
        kubeconfig = Path(last.split("=", 1)[1])
        server, ca = _server_and_ca(kubeconfig, folder)
        yield ControlPlane(kubeconfig, server, ca, folder)
    finally:
        subprocess.run(
            [str(SCRIPT), "stop", "--dir", str(folder)],
            capture_output=True,
            timeout=120,
            env={**os.environ, "PYTHON": sys.executable},
        )


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(control_plane.kubeconfig)
    yield client
    client.close()


def restricted_namespace(kube: Kube, name: str) -> None:
    """A namespace that enforces Pod Security `restricted`, as a hospital's platform team sets it up."""
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        }
    )


def example_secrets(kube: Kube, namespace: str) -> None:
    """The Secrets examples/fitbitpipeline.yaml tells to create before applying it."""
    for name, data in {
        "fitpipe-google": {"client_id": "test-client", "client_secret": "test-secret"},
        "fitpipe-smtp": {
            "server": "smtp.example.org",
            "port": "587",
            "username": "fitpipe",
            "password": "mail-password",
            "from": "fitpipe@example.org",
            "starttls": "true",
            "ssl_tls": "false",
        },
    }.items():
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "type": "Opaque",
                "stringData": data,
            }
        )


def example(namespace: str, name: str = "trial-a") -> dict[str, Any]:
    document = dict(yaml.safe_load(EXAMPLE.read_text()))
    document["metadata"] = {"name": name, "namespace": namespace}
    return document


@pytest.fixture(scope="session")
def chart_release(control_plane: ControlPlane, kube: Kube) -> dict[str, Any]:
    """`helm install fitpipe charts/fitpipe -n fitpipe-system --create-namespace` with default values."""
    import helm_python as helm

    if kube.get("ServiceAccount", "fitpipe", RELEASE_NAMESPACE) is None:
        with helm.Config(kubeconfig_path=control_plane.kubeconfig, namespace=RELEASE_NAMESPACE) as config:
            config.install(
                CHART, RELEASE, {}, namespace=RELEASE_NAMESPACE, create_namespace=True, timeout=120
            )
    crd = eventually(
        lambda: kube.get("CustomResourceDefinition", "fitbitpipelines.fitpipe.io"), 30, "the CRD from crds/"
    )
    eventually(
        lambda: any(c["type"] == "Established" and c["status"] == "True" for c in crd_conditions(kube)),
        30,
        "the FitbitPipeline CRD established",
    )
    deployment = kube.get("Deployment", RELEASE, RELEASE_NAMESPACE)
    assert deployment is not None
    return {"crd": crd, "deployment": deployment}


def crd_conditions(kube: Kube) -> list[dict[str, Any]]:
    crd = kube.get("CustomResourceDefinition", "fitbitpipelines.fitpipe.io") or {}
    return list((crd.get("status") or {}).get("conditions") or [])


def service_account_token(kube: Kube, namespace: str, name: str, seconds: int = 7200) -> str:
    answer = kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        },
    )
    return str(answer["status"]["token"])


def token_kubeconfig(path: Path, control_plane: ControlPlane, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "test",
                        "cluster": {
                            "server": control_plane.server,
                            "certificate-authority": str(control_plane.ca_file),
                        },
                    }
                ],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "operator"}}],
                "current-context": "test",
            }
        )
    )
    path.chmod(0o600)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """`fitpipe operator run` with the arguments of the chart's Deployment, logged in with a token of the
    chart's ServiceAccount: the operator exactly as installed, minus the container."""

    def __init__(self, kubeconfig: Path, args: list[str], log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.args = [a for a in args if not a.startswith("--liveness")]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "fitpipe.cli",
            *self.args,
            f"--liveness=http://127.0.0.1:{port}/healthz",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "KUBECONFIG": str(self.kubeconfig),
                    "FITPIPE_HOME": str(self.log.parent / "fitpipe-home"),
                },
            )
        eventually(lambda: self._alive() and self.healthy(port), 60, "the operator's liveness endpoint")

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the operator exited {self.process.returncode}:\n{self.tail()}")
        return True

    @staticmethod
    def healthy(port: int) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture(scope="session")
def operator(
    control_plane: ControlPlane,
    kube: Kube,
    chart_release: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    folder = tmp_path_factory.mktemp("operator")
    token = service_account_token(kube, RELEASE_NAMESPACE, RELEASE)
    container = chart_release["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["fitpipe"]
    process = OperatorProcess(
        token_kubeconfig(folder / "kubeconfig", control_plane, token),
        container["args"],
        folder / "operator.log",
    )
    process.start()
    yield process
    process.stop()


def wait_ready(kube: Kube, namespace: str, name: str, timeout: float = 90) -> dict[str, Any]:
    from tests.cluster.kube import condition

    def ready() -> dict[str, Any] | None:
        body = kube.get("FitbitPipeline", name, namespace)
        return body if condition(body, "Ready").get("status") == "True" else None

    return eventually(ready, timeout, f"FitbitPipeline {namespace}/{name} Ready")


def pipeline_status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict((kube.get("FitbitPipeline", name, namespace) or {}).get("status") or {})


def refused(action: Any) -> KubeError:
    """The API server's refusal of `action` (a callable); fails when it was accepted."""
    try:
        action()
    except KubeError as exc:
        return exc
    raise AssertionError("the API server accepted it")


def wait_gone(kube: Kube, kind: str, name: str, namespace: str | None, timeout: float = 60) -> None:
    eventually(lambda: kube.get(kind, name, namespace) is None, timeout, f"{kind} {namespace}/{name} deleted")


def now() -> float:
    return time.monotonic()
