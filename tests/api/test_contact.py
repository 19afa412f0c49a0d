"""POST /api/v1/participants/{user_id}/contact and /contact/flagged with a real SMTP server (aiosmtpd on
loopback): what arrives, the contacts log, the cooldown and force, dry runs, a mail server that is down or
refuses the login, and that no address, token or password reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from fitpipe.participants import add_participant
from fitpipe.settings import Settings
from tests.api.conftest import auth
from tests.api.factories import Inbox, add_contact, free_port, smtp_server

pytestmark = pytest.mark.db
SENDER = "study-team@example.org"
PASSWORD = "s3cret-Mail-pw"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with smtp_server() as server:
        yield server


@contextmanager_fixture := None  # noqa: E305  (placeholder removed below)
