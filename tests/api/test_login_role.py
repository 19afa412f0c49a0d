"""The API logs in as its own role: it refuses to start as a superuser unless told, and /readyz says who it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.errors import ConfigError
from fitpipe.migrations import OLDEST_SCHEMA, available_migrations
from fitpipe.settings import Settings
from fitpipe_api.main import create_app
from tests.api.factories import free_port
from tests.conftest import role_url

pytestmark = pytest.mark.db


def test_readyz_names_the_login_and_the_schemas_this_code_runs_on(database_url: str) -> None:
    with TestClient(create_app(Settings(_env_file=None), url=role_url(database_url, API))) as client:
        answer = client.get("/readyz")
    newest = max(m.version for m in available_migrations())
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "schema_version": newest,
        "schema_supported": {"oldest": OLDEST_SCHEMA, "newest_known": newest},
        "database_login": "fitpipe_api",
    }


def test_the_api_refuses_to_start_as_a_superuser(database_url: str) -> None:
    app = create_app(Settings(_env_file=None), url=database_url)
    with pytest.raises(ConfigError) as refused, TestClient(app):
        pass
    assert "the API logged in to the database as" in refused.value.message
    assert "is a superuser" in refused.value.message
    assert "FITPIPE_API_DB_PASSWORD" in (refused.value.hint or "")
    assert "FITPIPE_API_ALLOW_SUPERUSER=true" in (refused.value.hint or "")


def test_a_superuser_allowed_explicitly_is_ready_and_readyz_says_so(database_url: str) -> None:
    settings = Settings(_env_file=None, fitpipe_api_allow_superuser=True)
    with TestClient(create_app(settings, url=database_url)) as client:
        body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["warning"].endswith("is a superuser (allowed by FITPIPE_API_ALLOW_SUPERUSER)")
    assert body["database_login"] != "fitpipe_api"


def test_readyz_is_not_ready_when_the_login_became_a_superuser_after_start(database_url: str) -> None:
    # the database was unreachable at start, so only the pool's per-connection check stands in the way
    app = create_app(Settings(_env_file=None), url=database_url)
    app.state.pool.open(wait=False)
    try:
        answer = TestClient(app).get("/readyz")  # no `with`: the start-up check does not run
    finally:
        app.state.pool.close()
    assert answer.status_code == 503
    assert "is a superuser" in answer.json()["detail"]


def test_fitpipe_serve_api_exits_with_the_reason(fitpipe_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FITPIPE_API_DB_PASSWORD"}  # one login for everything
    done = subprocess.run(
        [sys.executable, "-m", "fitpipe.cli", "serve", "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "error: the API logged in to the database as" in done.stderr
    assert "hint: give the API its own login, role fitpipe_api" in done.stderr
