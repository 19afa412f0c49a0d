"""The Alertmanager configuration: valid for the real amtool, routed by severity, and a real Alertmanager
inhibits the warnings a critical alert explains (same study, or participants behind a broken ingest).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fitpipe.errors import ConfigError
from fitpipe.monitoring.alertmanager import DEFAULT_RECIPIENT, alertmanager_config
from fitpipe.monitoring.generated import alertmanager_yaml, to_yaml
from fitpipe.settings import Settings
from tests.prometheus_tools import Tool


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """fitpipe's default settings, whatever MAIL_* the developer's shell has."""
    for name in list(os.environ):
        if name.startswith("MAIL_"):
            monkeypatch.delenv(name)
    return Settings()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    return path


@pytest.mark.monitoring
def test_default_config_passes_amtool_check(amtool: Tool, tmp_path: Path, settings: Settings) -> None:
    out = amtool("check-config", _write(tmp_path, alertmanager_yaml(settings))).stdout
    assert "SUCCESS" in out
    assert "2 inhibit rules" in out


@pytest.mark.monitoring
def test_config_with_smtp_login_passes_amtool_check(amtool: Tool, tmp_path: Path) -> None:
    settings = Settings(
        mail_server="smtp.example.org",
        mail_port=587,
        mail_username="alerts",
        mail_password=SecretStr("s3cret"),
        mail_starttls=True,
        mail_from="fitpipe@example.org",
    )
    text = alertmanager_yaml(settings, password_file=tmp_path / "smtp-password")
    amtool("check-config", _write(tmp_path, text))
    assert "s3cret" not in text
    assert "smtp_auth_password_file" in text


def test_smtp_comes_from_the_mail_settings() -> None:
    settings = Settings(
        mail_server="smtp.example.org",
        mail_port=587,
        mail_username="alerts",
        mail_password=SecretStr("s3cret"),
        mail_starttls=True,
        mail_from="fitpipe@example.org",
    )
    smtp = alertmanager_config(settings)["global"]
    assert smtp == {
        "smtp_smarthost": "smtp.example.org:587",
        "smtp_from": "fitpipe@example.org",
        "smtp_require_tls": True,
        "smtp_auth_username": "alerts",
        "smtp_auth_password": "s3cret",
    }


def test_implicit_tls_on_a_port_alertmanager_cannot_use_is_refused() -> None:
    with pytest.raises(ConfigError, match="port 465"):
        alertmanager_config(Settings(mail_ssl_tls=True, mail_port=587))
    config: dict[str, Any] = alertmanager_config(Settings(mail_ssl_tls=True, mail_port=465))
    assert config["global"]["smtp_require_tls"] is False


def test_recipient_must_be_an_address(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="not an email address"):
        alertmanager_config(settings, to="admin")


def test_every_receiver_mails_the_chosen_recipient(settings: Settings) -> None:
    config: dict[str, Any] = alertmanager_config(settings, to="ops@example.org")
    addresses = {e["to"] for r in config["receivers"] for e in r["email_configs"]}
    assert addresses == {"ops@example.org"}
    default: dict[str, Any] = alertmanager_config(settings)
    assert {e["to"] for r in default["receivers"] for e in r["email_configs"]} == {DEFAULT_RECIPIENT}


@pytest.mark.monitoring
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "IngestFailed", "severity": "critical", "component": "ingest"}, "email-critical"),
        ({"alertname": "ParticipantsNotSyncing", "severity": "warning", "study": "alpha"}, "email-warning"),
        ({"alertname": "SomethingElse", "severity": "info"}, "email-warning"),
    ],
)
def test_routes_by_severity(
    amtool: Tool, tmp_path: Path, settings: Settings, labels: dict[str, str], receiver: str
) -> None:
    path = _write(tmp_path, alertmanager_yaml(settings))
    pairs = [f"{k}={v}" for k, v in labels.items()]
    out = amtool("config", "routes", "test", f"--config.file={path}", *pairs).stdout
    assert out.strip() == receiver


@pytest.mark.monitoring
def test_email_subject_names_status_severity_alert_and_study(
    amtool: Tool, tmp_path: Path, settings: Settings
) -> None:
    config: dict[str, Any] = alertmanager_config(settings)
    email = config["receivers"][0]["email_configs"][0]
    alert = {
        "status": "firing",
        "labels": {"alertname": "ParticipantsNotSyncing", "severity": "warning", "study": "alpha"},
        "annotations": {
            "summary": "Many participants of study alpha are not syncing",
            "description": "50%",
            "runbook_url": "docs/operations.md#participantsnotsyncing",
        },
        "startsAt": "2024-05-01T06:00:00Z",
    }
    data = tmp_path / "data.json"
    data.write_text(
        json.dumps(
            {
                "receiver": "email-warning",
                "status": "firing",
                "alerts": [alert],
                "groupLabels": {},
                "commonLabels": alert["labels"],
                "commonAnnotations": {},
                "externalURL": "http://127.0.0.1:9093",
            }
        )
    )
    render = ("template", "render", "--template.glob=/dev/null", f"--template.data={data}")
    subject = amtool(*render, f"--template.text={email['headers']['Subject']}").stdout
    assert subject.strip() == "[fitpipe] FIRING warning: ParticipantsNotSyncing (study alpha)"
    text = amtool(*render, f"--template.text={email['text']}").stdout
    assert "FIRING: Many participants of study alpha are not syncing" in text
    assert "Runbook: docs/operations.md#participantsnotsyncing" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager_url(alertmanager_binary: str, tmp_path: Path, settings: Settings) -> Iterator[str]:
    config: dict[str, Any] = alertmanager_config(settings)
    # Nothing listens on port 9 (discard) here: delivery fails quietly; this test reads alert states only.
    config["global"]["smtp_smarthost"] = "127.0.0.1:9"
    path = _write(tmp_path, to_yaml(config, "test"))
    port = _free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [
                alertmanager_binary,
                f"--config.file={path}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Alertmanager did not start:\n" + log.read_text())
            time.sleep(0.1)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.monitoring
def test_real_alertmanager_inhibits_warnings_a_critical_alert_explains(alertmanager_url: str) -> None:
    alerts = {
        # No study label: ingest and API alerts concern the whole deployment.
        "IngestFailed": {"severity": "critical", "component": "ingest"},
        "IngestSlow": {"severity": "warning", "component": "ingest"},
        "ParticipantsNotSyncing": {"severity": "warning", "component": "participants", "study": "alpha"},
        "TokenRefreshFailures": {"severity": "warning", "component": "tokens", "study": "alpha"},
        "StudyCritical": {"severity": "critical", "component": "other", "study": "beta"},
        "CohortAdherenceLow": {"severity": "warning", "component": "other", "study": "beta"},
        "ApiLatencyHigh": {"severity": "warning", "component": "api", "study": "gamma"},
    }
    payload = [{"labels": {"alertname": name, **labels}} for name, labels in alerts.items()]
    httpx.post(f"{alertmanager_url}/api/v2/alerts", json=payload, timeout=5).raise_for_status()
    expected = {
        "IngestFailed": "active",
        "IngestSlow": "suppressed",  # critical without study mutes warnings without study
        "ParticipantsNotSyncing": "suppressed",  # a broken ingest explains participants not syncing
        "TokenRefreshFailures": "active",  # study alpha has no critical alert; tokens are not the ingest's fault
        "StudyCritical": "active",
        "CohortAdherenceLow": "suppressed",  # same study as a critical alert
        "ApiLatencyHigh": "active",  # a study no critical alert concerns
    }
    deadline = time.monotonic() + 10
    while True:
        got = {
            a["labels"]["alertname"]: a["status"]["state"]
            for a in httpx.get(f"{alertmanager_url}/api/v2/alerts", timeout=5).json()
        }
        if got == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == expected
