"""Dashboard fixtures: the real API in uvicorn on a loopback port (mail to a real aiosmtpd), the study of
tests/dashboard/cohort.py, people who sign in (a coordinator and an analyst of the study), an admin token
for the tests' own look at the API, and the dashboard against them in a headless Chromium."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import uvicorn

from fitpipe.dbroles import API
from fitpipe.participants import Participant
from fitpipe.settings import Settings, reset_settings_cache
from fitpipe.tokens import create_token
from fitpipe.users import add_user
from fitpipe_api.main import create_app as create_api
from tests.api.conftest import TEST_PASSWORDS
from tests.api.factories import Inbox, free_port, smtp_server
from tests.conftest import role_url
from tests.dashboard.cohort import load_study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


PASSWORD = "correct horse battery"
COORDINATOR = "cora"
ANALYST = "anna"
ADMIN = "ada"


@dataclass
class Stack:
    api_url: str
    token: str
    """An admin API token: what the tests themselves read through the API (the dashboard has none)."""
    inbox: Inbox
    participants: dict[str, Participant]
    database_url: str
    users: dict[str, int]
    """User ids by name: cora (coordinator of the study), anna (analyst of the study), ada (admin of all
    studies); password PASSWORD."""


@pytest.fixture
def stack(database_url: str, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The study loaded, its people, the API serving on 127.0.0.1 with MAIL_* pointing at aiosmtpd."""
    participants = load_study(db, database_url)
    _, token = create_token(db, name="tests", role="admin", studies=[], all_studies=True)
    users = {
        name: add_user(
            db,
            username=name,
            role=role,
            studies=[] if role == "admin" else ["trial"],
            all_studies=role == "admin",
            password=PASSWORD,
            policy=TEST_PASSWORDS,
        )[0].id
        for name, role in ((COORDINATOR, "coordinator"), (ANALYST, "analyst"), (ADMIN, "admin"))
    }
    with smtp_server() as (smtp_port, inbox):
        monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
        monkeypatch.setenv("MAIL_PORT", str(smtp_port))
        monkeypatch.setenv("MAIL_FROM", "study-team@example.org")
        reset_settings_cache()
        settings = Settings(_env_file=None, fitpipe_password_scrypt_n=2**10)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_api(settings, url=role_url(database_url, API)),
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
            yield Stack(f"http://127.0.0.1:{port}", token, inbox, participants, database_url, users)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            reset_settings_cache()
