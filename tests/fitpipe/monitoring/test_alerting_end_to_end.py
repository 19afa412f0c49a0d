"""The whole alert path on loopback with the real programs: the API exports a failed daily ingest from the
database, a real Prometheus scrapes it and evaluates fitpipe's rules, a real Alertmanager routes the
critical alert to email (a real aiosmtpd server) and inhibits the simultaneous warning.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from fitpipe.dbroles import API
from fitpipe.monitoring.alertmanager import alertmanager_config
from fitpipe.monitoring.alerts import rule_groups
from fitpipe.settings import Settings
from fitpipe_api.main import create_app
from tests.conftest import role_url

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.db,
    pytest.mark.monitoring,
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None, reason="Debian package prometheus (the prometheus binary) is not installed"
    ),
    pytest.mark.skipif(
        ALERTMANAGER is None, reason="Debian package prometheus-alertmanager is not installed"
    ),
]
DEADLINE = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd's hook
        assert isinstance(envelope.content, bytes)  # decode_data=False: the raw message
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def api(database_url: str) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Settings(_env_file=None), url=role_url(database_url, API)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _fail_the_daily_ingest(url: str) -> None:
    """A daily run that ran 3 h and failed: IngestFailed (critical) and IngestSlow (warning) both hold."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO ingest_runs (trigger, status, started_at, finished_at, errors, error)
               VALUES ('run', 'success', now() - interval '1 day 3 hours', now() - interval '1 day', 0, NULL),
                      ('run', 'failed', now() - interval '3 hours', now(), 1, 'inbox unreadable')"""
        )


def test_failed_ingest_emails_the_critical_alert_and_inhibits_the_warning(
    tmp_path: Path, database_url: str, api: int, smtp: tuple[Inbox, int]
) -> None:
    inbox, smtp_port = smtp
    am_port, prom_port = free_port(), free_port()
    _fail_the_daily_ingest(database_url)

    am_config = alertmanager_config(
        Settings(
            _env_file=None,
            mail_server="127.0.0.1",
            mail_port=smtp_port,
            mail_from="alerts@fitpipe.test",
        )
    )
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "fitpipe-api", "static_configs": [{"targets": [f"127.0.0.1:{api}"]}]}
                ],
            }
        )
    )
    assert PROMETHEUS is not None and ALERTMANAGER is not None  # else the module is skipped
    alertmanager = _start(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
    )
    prometheus = _start(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        deadline = time.monotonic() + DEADLINE
        critical = None
        while time.monotonic() < deadline and critical is None:
            for proc, name in ((alertmanager, "alertmanager"), (prometheus, "prometheus")):
                assert proc.poll() is None, (
                    f"{name} exited:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
                )
            critical = next((m for m in inbox.messages if "IngestFailed" in str(m["Subject"])), None)
            time.sleep(0.5)
        assert critical is not None, (
            f"no alert email within {DEADLINE:.0f} s; prometheus log:\n{(tmp_path / 'prometheus.log').read_text()[-2000:]}"
            f"\nalertmanager log:\n{(tmp_path / 'alertmanager.log').read_text()[-2000:]}"
        )
        assert critical["Subject"] == "[fitpipe] FIRING critical: IngestFailed"
        assert critical["To"] == "admin@wearipedia.com"
        part = critical.get_payload(0) if critical.is_multipart() else critical
        assert isinstance(part, Message)
        body = part.get_payload(decode=True)
        assert b"The daily ingest failed" in body

        alerts = {
            a["labels"]["alertname"]: a for a in httpx.get(f"http://127.0.0.1:{am_port}/api/v2/alerts").json()
        }
        assert alerts["IngestFailed"]["status"]["state"] == "active"
        assert alerts["IngestSlow"]["status"]["state"] == "suppressed", json.dumps(
            alerts["IngestSlow"]["status"]
        )
        assert alerts["IngestSlow"]["status"]["inhibitedBy"], (
            "the warning must be inhibited by the critical alert"
        )
        assert not any("IngestSlow" in str(m["Subject"]) for m in inbox.messages)
    finally:
        _stop(prometheus)
        _stop(alertmanager)
