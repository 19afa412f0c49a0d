"""What the cluster tests (and bench/control_plane.py) do to a cluster the way a platform engineer would:
start and stop the control plane (scripts/control-plane.sh), install the chart with Helm's own engine,
run the operator as a process with a token of the chart's ServiceAccount, set up a study's namespace
(Pod Security `restricted`) and Secrets, and wait for a pipeline to be Ready."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.kube import Kube, KubeError, condition, eventually

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


class ControlPlaneFailed(Exception):
    pass


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable},
    )


def attach(kubeconfig: Path, folder: Path, started_in: Path | None) -> ControlPlane:
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = folder / "ca-for-tests.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return ControlPlane(kubeconfig, cluster["server"], ca, started_in)


def start_control_plane(folder: Path, timeout: float = 3600) -> ControlPlane:
    """`scripts/control-plane.sh start --dir folder`; its last line names the admin kubeconfig."""
    started = _script("start", "--dir", str(folder), timeout=timeout)
    lines = started.stdout.strip().splitlines()
    if started.returncode != 0 or not lines or not lines[-1].startswith("KUBECONFIG="):
        raise ControlPlaneFailed(
            f"scripts/control-plane.sh start failed:\n{started.stdout}\n{started.stderr[-6000:]}"
        )
    return attach(Path(lines[-1].split("=", 1)[1]), folder, folder)


def stop_control_plane(folder: Path) -> str:
    return _script("stop", "--dir", str(folder), timeout=120).stderr


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
    """examples/fitbitpipeline.yaml, named `name` in `namespace`."""
    document = dict(yaml.safe_load(EXAMPLE.read_text()))
    document["metadata"] = {"name": name, "namespace": namespace}
    return document


def install_chart(
    control_plane: ControlPlane, kube: Kube, release: str, namespace: str, values: dict[str, Any]
) -> dict[str, Any]:
    """`helm install <release> charts/fitpipe -n <namespace> --create-namespace` (Helm's own engine, from
    helm-python-sdk), unless that release is there already; returns the operator's Deployment."""
    import helm_python as helm

    if kube.get("Deployment", release, namespace) is None:
        with helm.Config(kubeconfig_path=control_plane.kubeconfig, namespace=namespace) as config:
            config.install(CHART, release, values, namespace=namespace, create_namespace=True, timeout=120)

    def established() -> bool:
        crd = kube.get("CustomResourceDefinition", "fitbitpipelines.fitpipe.io")
        return condition(crd, "Established").get("status") == "True"

    eventually(established, 30, "the FitbitPipeline CRD from the chart's crds/ established")

    deployment = kube.get("Deployment", release, namespace)
    assert deployment is not None
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    # Asked as the operator: a user who may update every finalizer (the admin) skips the mapping.
    operator = kube.impersonating(f"system:serviceaccount:{namespace}:{account}")
    where = (values.get("watchNamespaces") or [namespace])[0]

    def admission_knows_the_kind() -> bool:
        # OwnerReferencesPermissionEnforcement maps an owner's kind with discovery it refreshes on its
        # own time: until it has seen the new CRD it refuses children with blockOwnerDeletion ("cannot
        # find RESTMapping"), a short lag right after any install, not a missing permission.
        probe = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "owner-mapping-probe",
                "namespace": where,
                "ownerReferences": [
                    {
                        "apiVersion": "fitpipe.io/v1alpha1",
                        "kind": "FitbitPipeline",
                        "name": "probe",
                        "uid": "00000000-0000-0000-0000-000000000000",
                        "blockOwnerDeletion": True,
                    }
                ],
            },
        }
        try:
            operator.request("POST", f"/api/v1/namespaces/{where}/configmaps", probe, query={"dryRun": "All"})
        except KubeError as exc:
            if "RESTMapping" in exc.message:
                return False
            raise
        return True

    eventually(admission_knows_the_kind, 120, "admission mapping the FitbitPipeline kind", interval=1)
    return deployment


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

    @classmethod
    def as_installed(
        cls, control_plane: ControlPlane, kube: Kube, deployment: dict[str, Any], folder: Path
    ) -> OperatorProcess:
        meta, pod = deployment["metadata"], deployment["spec"]["template"]["spec"]
        token = service_account_token(kube, meta["namespace"], pod["serviceAccountName"])
        (container,) = pod["containers"]
        assert container["command"] == ["fitpipe"]
        return cls(
            token_kubeconfig(folder / "kubeconfig", control_plane, token),
            container["args"],
            folder / "operator.log",
        )

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
        eventually(lambda: self._alive() and self._healthy(port), 60, "the operator's liveness endpoint")

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the operator exited {self.process.returncode}:\n{self.tail()}")
        return True

    @staticmethod
    def _healthy(port: int) -> bool:
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

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


def wait_ready(kube: Kube, namespace: str, name: str, timeout: float = 90) -> dict[str, Any]:
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


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector as the `labelSelector` query parameter, so the API server does the matching."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


def job_from_cronjob(kube: Kube, namespace: str, cronjob: str, job: str) -> dict[str, Any]:
    """`kubectl create job <job> --from=cronjob/<cronjob>`: a Job from the CronJob's template, owned by it."""
    source = kube.get("CronJob", cronjob, namespace)
    assert source is not None, f"CronJob {cronjob}"
    template = source["spec"]["jobTemplate"]
    return kube.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job,
                "namespace": namespace,
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": cronjob,
                        "uid": source["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
    )


def job_succeeded(kube: Kube, namespace: str, job: str, timeout: float = 90) -> dict[str, Any]:
    return eventually(
        lambda: (
            (j := kube.get("Job", job, namespace)) and (j.get("status") or {}).get("succeeded") == 1 and j
        ),
        timeout,
        f"Job {namespace}/{job} succeeded",
    )


def running_pods(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    return [
        p
        for p in kube.list("Pod", namespace, selector)
        if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") in ("Running", "Succeeded")
    ]
