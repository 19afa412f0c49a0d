"""A real Kubernetes control plane on loopback for fitpipe's cluster tests, with no container runtime:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (the kubelets of two fake nodes)
and prometheus-operator, built once from the Go module proxy into a cache and started as processes.

    control_plane.py build                 build the binaries into the cache (no-op when cached)
    control_plane.py start [--dir DIR]     build if needed, start everything, print KUBECONFIG=<path> last
    control_plane.py stop  [--dir DIR]     end exactly the processes `start` recorded in DIR
    control_plane.py crds                  print the paths of prometheus-operator's CRD files

Contracts: every listener is on 127.0.0.1 at a free port; DIR (default $FITPIPE_HOME/control-plane)
holds the certificates, kubeconfigs, logs, etcd's data and `processes.json`, the processes `stop`
ends (each checked against its start time, so a reused pid is never signalled). The cache is
${FITPIPE_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/fitpipe/control-plane}/<key>/bin, where
<key> hashes the pinned go.mod/go.sum files, the build flags and the Go version; builds take a lock,
so concurrent runs build once. Needs Go (and the module proxy) for the first build, Python's
`cryptography` for the certificates.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KUBERNETES_VERSION = "v1.37.2"
STAGES = HERE / "kwok-stages.yaml"

# Go module folder -> (binary, package) built in it, and extra linker flags.
BUILDS: dict[str, list[tuple[str, str]]] = {
    "kube": [
        ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
        ("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"),
        ("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"),
        ("etcd", "go.etcd.io/etcd/server/v3"),
    ],
    "kwok": [("kwok", "sigs.k8s.io/kwok/cmd/kwok")],
    "prometheus-operator": [
        ("prometheus-operator", "github.com/prometheus-operator/prometheus-operator/cmd/operator")
    ],
}
LDFLAGS: dict[str, list[str]] = {
    # Without these the API server reports v0.0.0 and Helm's kubeVersion checks fail.
    "kube": [
        f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
        "-X k8s.io/component-base/version.gitMajor=1",
        "-X k8s.io/component-base/version.gitMinor=37",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        f"-X k8s.io/client-go/pkg/version.gitVersion={KUBERNETES_VERSION}",
    ],
    "kwok": [],
    "prometheus-operator": [
        "-X github.com/prometheus/common/version.Version=0.85.0",
        "-X github.com/prometheus/common/version.Branch=fitpipe",
    ],
}
PROMETHEUS_OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
# prometheus-operator's CRDs: the three fitpipe renders objects of, and those prometheus-operator needs
# to run a Prometheus and an Alertmanager (the tests create one of each to see what it makes of
# fitpipe's objects). ScrapeConfig, PrometheusAgent and ThanosRuler are optional to it and left out:
# each is a megabyte of schema, and establishing it would double the start.
CRD_FOLDER = "example/prometheus-operator-crd"
CRD_PLURALS = (
    "servicemonitors",
    "prometheusrules",
    "alertmanagerconfigs",
    "podmonitors",
    "probes",
    "prometheuses",
    "alertmanagers",
)
NODES = ("kwok-node-1", "kwok-node-2")
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(Exception):
    """What went wrong, in words a developer can act on."""


def say(message: str) -> None:
    print(f"control-plane: {message}", file=sys.stderr, flush=True)


# --- build ------------------------------------------------------------------------------------------


def go() -> str:
    path = shutil.which("go")
    if path is None:
        raise ControlPlaneError(
            "Go is not installed: the control plane is built from the Go module proxy "
            "(install Go 1.26, e.g. the machine image's /usr/local/go)"
        )
    return path


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The go.mod files pin everything: no upgrades, no toolchain downloads.
    env.update(GOFLAGS="-mod=readonly -trimpath -buildvcs=false", GOTOOLCHAIN="local", CGO_ENABLED="0")
    return env


def cache_root() -> Path:
    if os.environ.get("FITPIPE_CONTROL_PLANE_CACHE"):
        return Path(os.environ["FITPIPE_CONTROL_PLANE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fitpipe" / "control-plane"


def build_key() -> str:
    digest = hashlib.sha256()
    for module in sorted(BUILDS):
        for name in ("go.mod", "go.sum"):
            digest.update((HERE / module / name).read_bytes())
        digest.update(json.dumps([BUILDS[module], LDFLAGS[module]]).encode())
    version = subprocess.run([go(), "version"], capture_output=True, text=True, check=True).stdout
    digest.update(version.encode())
    return digest.hexdigest()[:16]


def bin_dir() -> Path:
    return cache_root() / build_key() / "bin"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build() -> Path:
    """The folder of the built binaries; builds them first unless the cache has them."""
    target = bin_dir()
    wanted = [binary for programs in BUILDS.values() for binary, _ in programs]
    if all((target / b).exists() for b in wanted):
        return target
    with locked(target.parent.with_suffix(".lock")):
        if all((target / b).exists() for b in wanted):
            return target  # another run built it while we waited
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
        started = time.monotonic()
        for module, programs in BUILDS.items():
            ldflags = " ".join(["-s", "-w", *LDFLAGS[module]])
            for binary, package in programs:
                say(f"building {binary} ({package}) in scripts/control-plane/{module}")
                command = ["nice", "-n", "10", go(), "build", "-ldflags", ldflags]
                command += ["-o", str(staging / binary), package]
                result = subprocess.run(
                    command, cwd=HERE / module, env=go_env(), capture_output=True, text=True
                )
                if result.returncode != 0:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise ControlPlaneError(f"go build {package} failed:\n{result.stderr[-4000:]}")
        staging.rename(target)
        say(f"built {len(wanted)} programs in {time.monotonic() - started:.0f} s into {target}")
    return target


def crd_files() -> list[Path]:
    """prometheus-operator's own CRD files, from its module as the Go module proxy serves it."""
    result = subprocess.run(
        [go(), "mod", "download", "-json", PROMETHEUS_OPERATOR_MODULE],
        cwd=HERE / "prometheus-operator",
        env=go_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ControlPlaneError(f"go mod download {PROMETHEUS_OPERATOR_MODULE} failed: {result.stderr}")
    folder = Path(json.loads(result.stdout)["Dir"]) / CRD_FOLDER
    files = [folder / f"monitoring.coreos.com_{plural}.yaml" for plural in CRD_PLURALS]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise ControlPlaneError(f"prometheus-operator's module lacks {', '.join(missing)} in {folder}")
    return files


def load_crd(path: Path) -> dict[str, Any]:
    """A CRD file as data. These CRDs hold enum values such as `=`, which YAML's `value` tag would
    claim: that resolver is left out."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:value"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return dict(yaml.load(path.read_text(), Loader=Loader))


# --- certificates -----------------------------------------------------------------------------------


def write_pki(folder: Path) -> None:
    """A CA, the API server's serving certificate, a client certificate per component, and the
    service-account signing key pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=30)

    def save_key(key: Any, name: str) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = folder / name
        path.write_bytes(pem)
        path.chmod(0o600)

    def name_of(common: str, org: str | None = None) -> x509.Name:
        parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
        if org:
            parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(parts)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name_of("fitpipe-test-ca")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    save_key(ca_key, "ca.key")

    def issue(
        file: str, subject: x509.Name, *, server: bool, sans: list[x509.GeneralName] | None = None
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        (folder / f"{file}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        save_key(key, f"{file}.key")

    service_ip = ipaddress.ip_network(SERVICE_CIDR)[1]
    issue(
        "apiserver",
        name_of("kube-apiserver"),
        server=True,
        sans=[
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(service_ip),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
        ],
    )
    # system:masters is the bootstrap superuser group; the components use their own RBAC identities.
    issue("admin", name_of("fitpipe-test-admin", "system:masters"), server=False)
    issue("kube-controller-manager", name_of("system:kube-controller-manager"), server=False)
    issue("kube-scheduler", name_of("system:kube-scheduler"), server=False)
    issue("kwok", name_of("kwok-controller", "system:masters"), server=False)
    issue("prometheus-operator", name_of("prometheus-operator", "system:masters"), server=False)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    save_key(sa_key, "sa.key")
    (folder / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def kubeconfig(path: Path, server: str, pki: Path, user: str) -> Path:
    def b64(file: str) -> str:
        return base64.b64encode((pki / file).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "fitpipe-test",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(f"{user}.crt"),
                    "client-key-data": b64(f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "fitpipe-test", "context": {"cluster": "fitpipe-test", "user": user}}],
        "current-context": "fitpipe-test",
    }
    # JSON is YAML: every client reads it.
    path.write_text(json.dumps(config, indent=1))
    path.chmod(0o600)
    return path


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/<pid>/stat), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


@dataclass
class Process:
    name: str
    pid: int
    started: str


class Processes:
    """The processes of one control plane, recorded in DIR/processes.json as they start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.record = folder / "processes.json"
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.items: list[Process] = []
        if self.record.exists():
            self.items = [Process(**p) for p in json.loads(self.record.read_text())]

    def save(self) -> None:
        self.record.write_text(json.dumps([vars(p) for p in self.items], indent=1))

    def spawn(self, name: str, command: list[str]) -> Process:
        log = (self.logs / f"{name}.log").open("ab")
        # A session of its own: Ctrl-C in the caller's terminal does not reach it; `stop` does.
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        process = Process(name, child.pid, start_time(child.pid) or "")
        self.items.append(process)
        self.save()
        return process

    def alive(self, process: Process) -> bool:
        return bool(process.started) and start_time(process.pid) == process.started

    def check(self, process: Process) -> None:
        if not self.alive(process):
            raise ControlPlaneError(f"{process.name} exited; its log:\n{self.tail(process.name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self, timeout: float = 20.0) -> list[str]:
        stopped = []
        for process in reversed(self.items):
            if not self.alive(process):
                continue
            os.kill(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive(process) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.alive(process):
                os.kill(process.pid, signal.SIGKILL)
            stopped.append(f"{process.name} ({process.pid})")
        self.items = []
        self.save()
        return stopped


# --- the API, over plain HTTPS with the admin certificate -------------------------------------------


class Api:
    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                text = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            text, status = exc.read(), exc.code
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.decode(errors="replace")

    def apply(self, path: str, document: dict[str, Any] | bytes) -> None:
        status, answer = self.request(
            "PATCH",
            f"{path}?fieldManager=fitpipe-control-plane&force=true",
            document,
            "application/apply-patch+yaml",
        )
        if status >= 300:
            raise ControlPlaneError(f"applying {path} failed ({status}): {answer}")


def wait_for(what: str, check: Any, timeout: float, processes: Processes, watched: list[Process]) -> None:
    started = time.monotonic()
    deadline = started + timeout
    while True:
        for process in watched:
            processes.check(process)
        try:
            if check():
                say(f"{what}: up after {time.monotonic() - started:.1f} s")
                return
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def start(folder: Path, *, prometheus_operator: bool = True) -> Path:
    """Start everything; returns the admin kubeconfig. On any failure, stops what it started."""
    folder = folder.resolve()
    processes = Processes(folder)
    if any(processes.alive(p) for p in processes.items):
        raise ControlPlaneError(f"a control plane already runs from {folder}: stop it first")
    binaries = build()
    crds = crd_files() if prometheus_operator else []
    began = time.monotonic()
    for stale in ("etcd", "pki"):
        shutil.rmtree(folder / stale, ignore_errors=True)
    pki = folder / "pki"
    write_pki(pki)
    try:
        return _start(folder, binaries, pki, processes, crds, began)
    except BaseException:
        processes.stop_all(timeout=5)
        raise


def _start(
    folder: Path, binaries: Path, pki: Path, processes: Processes, crds: list[Path], began: float
) -> Path:
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    etcd = processes.spawn(
        "etcd",
        [
            str(binaries / "etcd"),
            "--name=fitpipe",
            f"--data-dir={folder / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=fitpipe=http://127.0.0.1:{peer_port}",
            # Test data: speed over durability.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
    )

    def etcd_healthy() -> bool:
        with urllib.request.urlopen(f"{etcd_url}/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("health") == "true")

    wait_for("etcd", etcd_healthy, 60, processes, [etcd])

    server = f"https://127.0.0.1:{api_port}"
    apiserver = processes.spawn(
        "kube-apiserver",
        [
            str(binaries / "kube-apiserver"),
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Service may not point at a loopback address: it gets no endpoints.
            "--endpoint-reconciler-type=none",
            f"--secure-port={api_port}",
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={folder / 'apiserver'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # On top of the default plugins (PodSecurity, ServiceAccount, LimitRanger, ResourceQuota,
            # DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize, ...).
            "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
            "--profiling=false",
            "--v=1",
        ],
    )
    api = Api(server, pki)

    def apiserver_ready() -> bool:
        status, _ = api.request("GET", "/readyz")
        return status == 200

    wait_for("kube-apiserver", apiserver_ready, 120, processes, [etcd, apiserver])

    admin = kubeconfig(folder / "kubeconfig", server, pki, "admin")
    configs = {
        name: kubeconfig(folder / f"{name}.kubeconfig", server, pki, name)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok", "prometheus-operator")
    }
    controller_manager = processes.spawn(
        "kube-controller-manager",
        [
            str(binaries / "kube-controller-manager"),
            f"--kubeconfig={configs['kube-controller-manager']}",
            f"--authentication-kubeconfig={configs['kube-controller-manager']}",
            f"--authorization-kubeconfig={configs['kube-controller-manager']}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={folder / 'kube-controller-manager'}",
            "--leader-elect=false",
            # Each controller acts as its own service account, under RBAC, as in a real cluster.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--controllers=*",
            "--v=1",
        ],
    )
    scheduler = processes.spawn(
        "kube-scheduler",
        [
            str(binaries / "kube-scheduler"),
            f"--kubeconfig={configs['kube-scheduler']}",
            f"--authentication-kubeconfig={configs['kube-scheduler']}",
            f"--authorization-kubeconfig={configs['kube-scheduler']}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={folder / 'kube-scheduler'}",
            "--leader-elect=false",
            "--v=1",
        ],
    )
    kwok = processes.spawn(
        "kwok",
        [
            str(binaries / "kwok"),
            f"--kubeconfig={configs['kwok']}",
            f"--config={STAGES}",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--server-address=127.0.0.1:{free_port()}",
            "--node-lease-duration-seconds=40",
        ],
    )
    everything = [etcd, apiserver, controller_manager, scheduler, kwok]

    for storage_class in ("standard", "fast"):
        api.apply(
            f"/apis/storage.k8s.io/v1/storageclasses/{storage_class}",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": storage_class,
                    "annotations": {
                        "storageclass.kubernetes.io/is-default-class": str(
                            storage_class == "standard"
                        ).lower()
                    },
                },
                "provisioner": "kwok.x-k8s.io/volume",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": True,
            },
        )
    for node in NODES:
        api.apply(
            f"/api/v1/nodes/{node}",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": node,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
            },
        )

    def nodes_ready() -> bool:
        for node in NODES:
            _, body = api.request("GET", f"/api/v1/nodes/{node}")
            conditions = {c["type"]: c["status"] for c in body["status"].get("conditions") or []}
            if conditions.get("Ready") != "True":
                return False
        return True

    def controllers_running() -> bool:
        # The service-account controller of kube-controller-manager makes every namespace's `default`.
        status, _ = api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        return status == 200

    # The CRDs go in while the controllers start (establishing them is the slowest step of a start):
    # created as JSON, which the API server reads far faster than a megabyte of YAML.
    applied = time.monotonic()
    names = []
    for crd in crds:
        document = load_crd(crd)
        names.append(document["metadata"]["name"])
        status, answer = api.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", document
        )
        if status >= 300 and status != 409:
            raise ControlPlaneError(f"creating the CRD {names[-1]} failed ({status}): {answer}")
    if crds:
        say(f"prometheus-operator's CRDs created in {time.monotonic() - applied:.1f} s")
    wait_for("two Ready kwok nodes", nodes_ready, 60, processes, everything)
    wait_for("kube-controller-manager", controllers_running, 60, processes, everything)

    if crds:

        def established() -> bool:
            for name in names:
                _, body = api.request(
                    "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                )
                conditions = {c["type"]: c["status"] for c in body["status"].get("conditions") or []}
                if conditions.get("Established") != "True":
                    return False
            return True

        wait_for("prometheus-operator's CRDs", established, 60, processes, everything)
        operator = processes.spawn(
            "prometheus-operator",
            [
                str(binaries / "prometheus-operator"),
                f"--apiserver={server}",
                f"--ca-file={pki / 'ca.crt'}",
                f"--cert-file={pki / 'prometheus-operator.crt'}",
                f"--key-file={pki / 'prometheus-operator.key'}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
                "--log-level=info",
            ],
        )
        everything.append(operator)
        time.sleep(1)
        processes.check(operator)
    say(f"{len(everything)} processes up in {time.monotonic() - began:.1f} s; logs in {processes.logs}")
    return admin


def default_folder() -> Path:
    home = Path(os.environ.get("FITPIPE_HOME") or REPO / ".fitpipe")
    return home / "control-plane"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "start", "stop", "crds"])
    parser.add_argument(
        "--dir", type=Path, default=None, help="state folder (default $FITPIPE_HOME/control-plane)"
    )
    parser.add_argument(
        "--without-prometheus-operator",
        action="store_true",
        help="start neither prometheus-operator nor its CRDs",
    )
    args = parser.parse_args(argv)
    folder = (args.dir or default_folder()).resolve()
    try:
        if args.command == "build":
            print(build())
        elif args.command == "crds":
            print("\n".join(map(str, crd_files())))
        elif args.command == "start":
            admin = start(folder, prometheus_operator=not args.without_prometheus_operator)
            print(f"KUBECONFIG={admin}", flush=True)
        else:
            stopped = Processes(folder).stop_all() if (folder / "processes.json").exists() else []
            say("stopped " + (", ".join(stopped) if stopped else "nothing (none running)"))
    except ControlPlaneError as exc:
        say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
