"""fitpipe's monitoring objects as a stock kube-prometheus-stack sees them. A Prometheus and an
Alertmanager are created with that chart's default selectors and base configuration; the real
prometheus-operator (running beside the control plane) turns the pipeline's ServiceMonitor,
PrometheusRule and AlertmanagerConfig into their configuration. Then:
- the ServiceMonitor and PrometheusRule are selected by the default `release` label, another pipeline's
  objects labelled otherwise are not;
- every alert of the rule file prometheus-operator generated keeps `namespace` (promtool, on series that
  carry the labels Prometheus gives the API's targets);
- the generated Alertmanager configuration passes amtool's check and routing tests: critical alerts at
  once and warnings grouped to the configured recipients, an alert without the namespace to nobody;
- the real Alertmanager with that configuration mails the critical alert to admin@wearipedia.com and
  mutes the pipeline's warnings meanwhile."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.cluster.harness import OperatorProcess, example, example_secrets, restricted_namespace, wait_ready
from tests.cluster.kube import Kube, eventually
from tests.fitpipe.monitoring.test_alert_rules import CASES, Expected, in_namespace, rules_test_file

pytestmark = [pytest.mark.cluster, pytest.mark.monitoring, pytest.mark.slow]

MONITORING = "monitoring"
RELEASE = "kube-prometheus-stack"
PROMETHEUS = f"{RELEASE}-prometheus"
ALERTMANAGER = f"{RELEASE}-alertmanager"
NS, NAME = "trial-mon", "trial-mon"
OTHER_NS = "trial-other"
ADMIN = "admin@wearipedia.com"
ALERTMANAGER_VERSION = "v0.25.0"  # Debian 12's, which runs the generated configuration below

# kube-prometheus-stack's default `alertmanager.config` (its values.yaml), which the chart stores in
# the Secret alertmanager-<name> for prometheus-operator to merge AlertmanagerConfigs into.
BASE_ALERTMANAGER_CONFIG = {
    "global": {"resolve_timeout": "5m"},
    "inhibit_rules": [
        {
            "source_matchers": ["severity = critical"],
            "target_matchers": ["severity =~ warning|info"],
            "equal": ["namespace", "alertname"],
        },
        {
            "source_matchers": ["severity = warning"],
            "target_matchers": ["severity = info"],
            "equal": ["namespace", "alertname"],
        },
        {
            "source_matchers": ["alertname = InfoInhibitor"],
            "target_matchers": ["severity = info"],
            "equal": ["namespace"],
        },
        {"target_matchers": ["alertname = InfoInhibitor"]},
    ],
    "route": {
        "group_by": ["namespace"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",
        "receiver": "null",
        "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
    },
    "receivers": [{"name": "null"}],
    "templates": ["/etc/alertmanager/config/*.tmpl"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd's hook
        assert isinstance(envelope.content, bytes)  # decode_data=False: the raw message
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def stock_kube_prometheus_stack(kube: Kube) -> None:
    """The Prometheus and Alertmanager objects kube-prometheus-stack renders with default values
    (release name kube-prometheus-stack): what selects fitpipe's objects, and nothing else."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MONITORING}})
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"alertmanager-{ALERTMANAGER}", "namespace": MONITORING},
            "stringData": {"alertmanager.yaml": yaml.safe_dump(BASE_ALERTMANAGER_CONFIG)},
        }
    )
    kube.apply(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Alertmanager",
            "metadata": {"name": ALERTMANAGER, "namespace": MONITORING, "labels": {"release": RELEASE}},
            "spec": {
                "version": ALERTMANAGER_VERSION,
                "replicas": 1,
                "alertmanagerConfigSelector": {},
                "alertmanagerConfigNamespaceSelector": {},
            },
        }
    )
    kube.apply(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS, "namespace": MONITORING, "labels": {"release": RELEASE}},
            "spec": {
                "replicas": 1,
                "ruleSelector": {"matchLabels": {"release": RELEASE}},
                "ruleNamespaceSelector": {},
                "serviceMonitorSelector": {"matchLabels": {"release": RELEASE}},
                "serviceMonitorNamespaceSelector": {},
                "podMonitorSelector": {"matchLabels": {"release": RELEASE}},
                "podMonitorNamespaceSelector": {},
                "alerting": {
                    "alertmanagers": [
                        {
                            "namespace": MONITORING,
                            "name": ALERTMANAGER,
                            "port": "http-web",
                            "apiVersion": "v2",
                        }
                    ]
                },
            },
        }
    )


def pipeline_document(
    namespace: str, name: str, smtp_port: int, labels: dict[str, str] | None
) -> dict[str, Any]:
    document = example(namespace, name)
    monitoring = document["spec"]["monitoring"]
    if labels is None:
        del monitoring["labels"]  # the chart's default: release=kube-prometheus-stack
    else:
        monitoring["labels"] = labels
    monitoring["alertmanager"] = {
        "enabled": True,
        "to": ADMIN,
        "from": "fitpipe@hospital.example",
        "smarthost": f"127.0.0.1:{smtp_port}",
        "requireTLS": False,
    }
    return document


def secret_file(kube: Kube, name: str, key: str) -> str | None:
    secret = kube.get("Secret", name, MONITORING)
    if secret is None or key not in (secret.get("data") or {}):
        return None
    return gzip.decompress(base64.b64decode(secret["data"][key])).decode()


@pytest.fixture(scope="module")
def generated(kube: Kube, operator: OperatorProcess, smtp: tuple[Inbox, int]) -> dict[str, Any]:
    """What prometheus-operator generated once both pipelines were applied."""
    _, smtp_port = smtp
    stock_kube_prometheus_stack(kube)
    for namespace, name, labels in ((NS, NAME, None), (OTHER_NS, "other", {"release": "someone-else"})):
        restricted_namespace(kube, namespace)
        example_secrets(kube, namespace)
        kube.apply(pipeline_document(namespace, name, smtp_port, labels))
    wait_ready(kube, NS, NAME)

    def prometheus_config() -> str | None:
        text = secret_file(kube, f"prometheus-{PROMETHEUS}", "prometheus.yaml.gz")
        return text if text and f"serviceMonitor/{NS}/{NAME}-api/0" in text else None

    def rule_files() -> dict[str, str] | None:
        found = kube.get("ConfigMap", f"prometheus-{PROMETHEUS}-rulefiles-0", MONITORING)
        data = (found or {}).get("data") or {}
        return data if any(key.startswith(f"{NS}-{NAME}-") for key in data) else None

    def alertmanager_config() -> str | None:
        text = secret_file(kube, f"alertmanager-{ALERTMANAGER}-generated", "alertmanager.yaml.gz")
        return text if text and f"{NS}/{NAME}-alerts/email-critical" in text else None

    return {
        "prometheus": eventually(prometheus_config, 120, "prometheus-operator's Prometheus configuration"),
        "rules": eventually(rule_files, 120, "prometheus-operator's rule files"),
        "alertmanager": eventually(
            alertmanager_config, 120, "prometheus-operator's Alertmanager configuration"
        ),
    }


def test_a_stock_prometheus_selects_the_pipelines_monitor_and_rules_by_release(
    generated: dict[str, Any],
) -> None:
    config = yaml.safe_load(generated["prometheus"])
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert f"serviceMonitor/{NS}/{NAME}-api/0" in jobs
    assert not any(OTHER_NS in job for job in jobs), "a monitor without the release label was selected"
    assert [key for key in generated["rules"] if key.startswith(f"{NS}-")]
    assert not [key for key in generated["rules"] if key.startswith(f"{OTHER_NS}-")]


def test_every_generated_alert_keeps_its_namespace(generated: dict[str, Any], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: install Debian's prometheus (scripts/install-system-deps.sh)")
    (key,) = [key for key in generated["rules"] if key.startswith(f"{NS}-")]
    rules_text = generated["rules"][key]
    # The labels Prometheus gives every series of the API's targets through the ServiceMonitor.
    target = {"namespace": NS, "service": f"{NAME}-api", "pod": f"{NAME}-api-5f8d-x2x", "job": f"{NAME}-api"}
    failures = []
    for alert, scenarios in sorted(CASES.items()):
        moved = []
        for scenario in scenarios:
            copy = in_namespace(scenario, target)
            for expected in copy.firing.values():
                for i, e in enumerate(expected):
                    labels = {**e.labels, "namespace": NS, "fitpipe_pipeline": NAME}
                    if alert == "ApiDown":
                        labels["service"] = f"{NAME}-api"  # absent() returns its equality matchers
                    expected[i] = Expected(labels, e.summary, e.description)
            moved.append(copy)
        folder = tmp_path / alert
        folder.mkdir()
        test_file = rules_test_file(folder, alert, moved, rules_text)
        result = subprocess.run(
            [promtool, "test", "rules", str(test_file)],
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=60,
        )
        if result.returncode != 0:
            failures.append(f"{alert}:\n{result.stdout[-1500:]}{result.stderr[-500:]}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def alertmanager_file(generated: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yaml"
    path.write_text(generated["alertmanager"])
    return path


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("amtool")
    if tool is None:
        pytest.skip(
            "amtool is not installed: install Debian's prometheus-alertmanager (scripts/install-system-deps.sh)"
        )
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


RECEIVER = f"{NS}/{NAME}-alerts"


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            {"severity": "critical", "component": "ingest", "alertname": "IngestFailed"},
            f"{RECEIVER}/email-critical",
        ),
        (
            {
                "severity": "warning",
                "component": "participants",
                "alertname": "ParticipantsNotSyncing",
                "study": "trial-a",
            },
            f"{RECEIVER}/email-warning",
        ),
        ({"severity": "critical", "component": "api", "alertname": "ApiDown", "namespace": None}, "null"),
        (
            {"severity": "critical", "component": "api", "alertname": "ApiDown", "namespace": "elsewhere"},
            "null",
        ),
        (
            {
                "severity": "critical",
                "component": "api",
                "alertname": "ApiDown",
                "fitpipe_pipeline": "another",
            },
            "null",
        ),
    ],
    ids=["critical", "warning", "without-namespace", "other-namespace", "other-pipeline"],
)
def test_the_generated_alertmanager_routes_by_severity(
    alertmanager_file: Path, labels: dict[str, Any], receiver: str
) -> None:
    assert amtool("check-config", str(alertmanager_file)).returncode == 0
    full = {"namespace": NS, "fitpipe_pipeline": NAME, **labels}
    pairs = [f"{k}={v}" for k, v in full.items() if v is not None]
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={alertmanager_file}",
        f"--verify.receivers={receiver}",
        *pairs,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_critical_goes_at_once_and_warnings_are_grouped(generated: dict[str, Any]) -> None:
    config = yaml.safe_load(generated["alertmanager"])
    (pipeline,) = [
        r
        for r in config["route"]["routes"]
        if r.get("receiver") == f"{RECEIVER}/email-warning" and r.get("routes")
    ]
    by_receiver = {r["receiver"]: r for r in pipeline["routes"]}
    assert by_receiver[f"{RECEIVER}/email-critical"]["group_wait"] == "10s"
    assert by_receiver[f"{RECEIVER}/email-warning"]["group_wait"] == "2m"
    assert by_receiver[f"{RECEIVER}/email-warning"]["repeat_interval"] in ("24h", "1d")
    # Other pipelines of the cluster have theirs too (namespaced by prometheus-operator): only this one's.
    emails = {
        r["name"]: r["email_configs"][0] for r in config["receivers"] if r["name"].startswith(f"{RECEIVER}/")
    }
    assert sorted(emails) == [f"{RECEIVER}/email-critical", f"{RECEIVER}/email-warning"]
    assert {e["to"] for e in emails.values()} == {ADMIN}


def test_the_critical_alert_is_mailed_and_mutes_the_pipelines_warnings(
    alertmanager_file: Path, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.skip("the Alertmanager binary is not installed: install Debian's prometheus-alertmanager")
    inbox, _ = smtp
    port = free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={alertmanager_file}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api/v2"
    try:
        eventually(
            lambda: process.poll() is None and _ready(base), 30, f"Alertmanager up ({log.read_text()[-500:]})"
        )
        common = {"namespace": NS, "fitpipe_pipeline": NAME, "service": f"{NAME}-api"}
        alerts = [
            {
                "labels": {
                    **common,
                    "alertname": "IngestFailed",
                    "severity": "critical",
                    "component": "ingest",
                    "trigger": "run",
                }
            },
            {
                "labels": {
                    **common,
                    "alertname": "IngestSlow",
                    "severity": "warning",
                    "component": "ingest",
                    "trigger": "run",
                }
            },
            {
                "labels": {
                    **common,
                    "alertname": "ParticipantsNotSyncing",
                    "severity": "warning",
                    "component": "participants",
                    "study": "trial-a",
                }
            },
        ]
        for alert in alerts:
            alert["annotations"] = {
                "summary": f"{alert['labels']['alertname']} fired",
                "description": "test",
                "runbook_url": "docs/operations.md",
            }
        response = httpx.post(f"{base}/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text

        def mailed() -> list[tuple[list[str], Message]]:
            return [(to, m) for to, m in inbox.messages if "IngestFailed" in str(m["Subject"])]

        ((recipients, message),) = eventually(mailed, 60, "the critical alert's mail")
        assert recipients == [ADMIN] and message["To"] == ADMIN
        assert message["Subject"] == "[fitpipe] FIRING critical: IngestFailed"
        state = {
            a["labels"]["alertname"]: a["status"] for a in httpx.get(f"{base}/alerts", timeout=10).json()
        }
        assert state["IngestFailed"]["state"] == "active"
        for warning in ("IngestSlow", "ParticipantsNotSyncing"):
            assert state[warning]["state"] == "suppressed" and state[warning]["inhibitedBy"], json.dumps(
                state
            )
        time.sleep(1)
        assert len(inbox.messages) == 1, [str(m["Subject"]) for _, m in inbox.messages]
    finally:
        process.terminate()
        process.wait(10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/status", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
