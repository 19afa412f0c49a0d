"""A rolling upgrade without an outage, tested across releases on the real database:

- the previous release's API (the code at PREVIOUS, taken from this repository's history) serves on the
  new schema: the pods still running while the new release's expand migration has been applied;
- the new API serves on the previous release's schema plus this release's expand steps (what the new
  pods meet as they start), and waits, saying why, on the previous schema alone (older than the oldest
  it declares it runs on).

The previous release's readiness still required the exact schema it knew; that check is replaced here,
so upgrading *from* that release is the last time old pods turn unready when the schema moves on.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import make_conninfo

from fitpipe.dbroles import API
from fitpipe.migrations import OLDEST_SCHEMA, migrate, schema_version
from fitpipe.participants import add_participant
from fitpipe.settings import Settings
from fitpipe.tokens import create_token
from fitpipe_api.main import create_app
from tests.api.conftest import Cohort, Tokens, auth, load_heart_rate
from tests.api.factories import free_port, smtp_server
from tests.conftest import role_passwords, role_url
from tests.queries import scalar

pytestmark = [pytest.mark.db, pytest.mark.slow]

PREVIOUS = "aeb3373"  # the release before the login roles and schema ranges (0.1.0 as deployed)
PREVIOUS_SCHEMA = 4  # its newest migration
REPO = Path(__file__).resolve().parents[2]
_names = itertools.count()


@pytest.fixture(scope="module")
def previous_release() -> Iterator[Path]:
    """The previous release's source tree, from git (a temporary copy; the repository is not touched)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the previous release's code comes from this repository's history")
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{PREVIOUS}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(
            f"commit {PREVIOUS} is not in this clone's history (a shallow clone?): fetch it to run this test"
        )
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS], capture_output=True, check=True
    )
    tree = Path(tempfile.mkdtemp(prefix="fitpipe-previous-"))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    try:
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _previous_env(tree: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FITPIPE_", "DB_", "DATABASE_URL", "MAIL_"))
    }
    # the old packages (fitpipe, api, ingest_job) come first on the path, before this checkout's install
    return (
        env
        | {"PYTHONPATH": str(tree), "DATABASE_URL": database_url, "FITPIPE_HOME": str(tree / ".home")}
        | extra
    )


@pytest.fixture
def previous_api(previous_release: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """The previous release's API as it was deployed: logged in as the superuser, SET ROLE fitpipe_api."""
    with smtp_server() as (smtp_port, _inbox):
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import uvicorn; uvicorn.run('api.main:create_app', factory=True, host='127.0.0.1', "
                f"port={port}, log_level='warning')",
            ],
            cwd=previous_release,
            env=_previous_env(
                previous_release, database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port)
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, (
                    f"the previous release's API exited: {proc.stderr.read() if proc.stderr else ''}"
                )
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the previous release's API did not start in 90 s"
                time.sleep(0.2)
            yield base, port
        finally:
            proc.terminate()
            proc.communicate(timeout=30)  # also closes the pipe


def test_the_previous_release_serves_on_the_new_schema(
    previous_api: tuple[str, int],
    previous_release: Path,
    cohort: Cohort,
    tokens: Tokens,
    db: psycopg.Connection,
) -> None:
    base, _ = previous_api
    assert "fitpipe_api" in (previous_release / "api" / "db.py").read_text()  # it is the SET ROLE release
    audited = scalar(db, "SELECT count(*) FROM audit_log")
    with httpx.Client(base_url=base, timeout=60) as client:
        listed = client.get("/api/v1/participants", params={"study": "a"}, headers=auth(tokens.coordinator_a))
        series = client.get(
            "/api/v1/timeseries",
            params={
                "user_id": "A1",
                "metric": "heart_rate",
                "start_date": "2024-01-01",
                "end_date": "2024-01-03",
            },
            headers=auth(tokens.analyst_a),
        )
        contacted = client.post(
            "/api/v1/participants/A1/contact", json={"reason": "low_wear"}, headers=auth(tokens.coordinator_a)
        )
        ready = client.get("/readyz")
    assert listed.status_code == 200, listed.text
    assert {p["user_id"] for p in listed.json()["participants"]} == {"A1", "A2"}
    assert series.status_code == 200 and series.json()["series"], series.text
    assert contacted.status_code == 200 and contacted.json()["status"] == "sent", contacted.text
    # its writes went through the new grants: audit rows, the contact, the token's last use
    assert scalar(db, "SELECT count(*) FROM audit_log") > audited
    assert db.execute("SELECT count(*) FROM contacts WHERE status = 'sent'").fetchone() == (1,)
    assert scalar(db, "SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL") >= 2
    # the one thing it cannot do: its readiness wanted exactly the schema it knew (what this release fixes)
    assert ready.status_code == 503 and "newer than this fitpipe knows" in ready.json()["detail"]


@pytest.fixture
def previous_schema(previous_release: Path, pg_server_url: str) -> Iterator[str]:
    """A new database migrated by the previous release's own `fitpipe migrate` (its schema, its grants)."""
    name = f"fitpipe_test_previous_{os.getpid()}_{next(_names)}"
    url = make_conninfo(pg_server_url, dbname=name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fitpipe.cli", "migrate"],
            cwd=previous_release,
            env=_previous_env(previous_release, url),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _seed(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        a1, _ = add_participant(conn, "A1", "a", timezone="UTC", email="a1@example.org")
        import numpy as np

        secs = np.arange(0, 86_400, 10)
        load_heart_rate(conn, a1, "2024-01-01T00:00:00Z", secs, np.full(secs.size, 70.0))
        return create_token(conn, name="analyst", role="analyst", studies=["a"])[1]


def _serve_new_api(url: str, token: str) -> tuple[dict[str, object], int, int]:
    with TestClient(create_app(Settings(_env_file=None), url=role_url(url, API))) as client:
        ready = client.get("/readyz")
        series = client.get(
            "/api/v1/timeseries",
            params={
                "user_id": "A1",
                "metric": "heart_rate",
                "start_date": "2024-01-01",
                "end_date": "2024-01-01",
            },
            headers=auth(token),
        )
    return ready.json(), ready.status_code, series.status_code


def test_the_new_api_serves_on_the_previous_schema_plus_the_expand_step(
    previous_schema: str, pg_server_url: str
) -> None:
    with psycopg.connect(previous_schema) as conn:
        assert schema_version(conn) == PREVIOUS_SCHEMA
    with psycopg.connect(previous_schema, autocommit=True) as conn:
        applied = migrate(conn, passwords=role_passwords(pg_server_url))
    token = _seed(previous_schema)  # this code's loader and helpers need its schema (OLDEST_SCHEMA)
    # this release's steps: expand steps, and 0008, a contract step for code that knows 0008 (this code)
    assert [m.name for m in applied] == [
        "api",
        "users",
        "database_roles",
        "storage",
        "ingest",
        "run_outcomes",
    ]
    body, ready, series = _serve_new_api(previous_schema, token)
    assert (ready, body["status"], body["database_login"], series) == (200, "ready", "fitpipe_api", 200)


def test_the_new_api_is_not_ready_on_the_previous_schema_alone_and_says_why(previous_schema: str) -> None:
    """It needs 0010 (OLDEST_SCHEMA): before this release's migrations it waits, it does not half-serve."""
    with TestClient(create_app(Settings(_env_file=None), url=role_url(previous_schema, API))) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "detail": f"the database schema is at version {PREVIOUS_SCHEMA}, this fitpipe needs at least {OLDEST_SCHEMA}",
        "hint": "run `fitpipe migrate`",
    }
