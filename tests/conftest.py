"""Shared fixtures: a real PostgreSQL (+TimescaleDB when installed) for the whole session, a fresh migrated
database per test, and the environment that points fitpipe's CLI at it.

FITPIPE_TEST_DATABASE_URL may name an existing server (a URL to any database on it, as a superuser);
otherwise the session starts fitpipe's own embedded server in a temporary directory.

The login roles (fitpipe/dbroles) are the server's, shared by every test database; their passwords are
derived from the superuser's, so `role_url(database_url, API)` logs in as the API on any test database.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from fitpipe.db import with_login
from fitpipe.dbroles.catalog import API, INGEST, MANAGED_ROLES, OWNER, DbRole
from fitpipe.localdb.server import LocalDatabase
from fitpipe.migrations import migrate
from fitpipe.settings import reset_settings_cache

pytest_plugins = ["tests.fakes.google_health_fixtures", "tests.prometheus_tools"]

TEMPLATE = "fitpipe_test_template"
_counter = itertools.count()


def _with_db(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def role_password(admin_url: str, role: DbRole) -> str:
    """The test server's password of a login role (derived from the superuser's: stable, not guessable)."""
    secret = str(conninfo_to_dict(admin_url).get("password") or "")
    return hashlib.sha256(f"fitpipe-test-role/{secret}/{role.value}".encode()).hexdigest()


def role_passwords(admin_url: str) -> dict[DbRole, str | None]:
    return {role: role_password(admin_url, role) for role in MANAGED_ROLES}


def role_url(admin_url: str, role: DbRole) -> str:
    """The same test database, logged in as `role` instead of the superuser."""
    return with_login(admin_url, role.value, role_password(admin_url, role))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the maintenance database of a running server."""
    given = os.environ.get("FITPIPE_TEST_DATABASE_URL")
    if given:
        yield _with_db(given, "postgres")
        return
    # Not under pytest's basetemp: pytest deletes old basetemp folders, which would pull the data
    # directory from under a server another test session still runs.
    given_home = os.environ.get("FITPIPE_TEST_HOME")
    home = Path(given_home) if given_home else Path(tempfile.mkdtemp(prefix="fitpipe-test-pg-"))
    home.chmod(0o755)  # the postgres user runs the server when tests run as root
    local = LocalDatabase(home)
    local.start(install_extension=True)
    try:
        yield local.url("postgres")
    finally:
        local.stop()
        if not given_home:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def timescaledb_loaded(pg_server_url: str) -> bool:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
    return bool(row and "timescaledb" in row[0])


@pytest.fixture(scope="session")
def template_url(pg_server_url: str) -> str:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone():
            conn.execute(f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS true")
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    url = _with_db(pg_server_url, TEMPLATE)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, passwords=role_passwords(pg_server_url))
    # TimescaleDB's background scheduler connects to every database; a template must have no sessions.
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS false")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,))
    return url


@pytest.fixture
def database_url(pg_server_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"fitpipe_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for attempt in range(50):
            try:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,)
                )
                time.sleep(0.1)
    try:
        yield _with_db(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def api_database_url(database_url: str) -> str:
    """The fresh test database, as the API's login role."""
    return role_url(database_url, API)


@pytest.fixture
def ingest_database_url(database_url: str) -> str:
    """The fresh test database, as the ingest job's login role."""
    return role_url(database_url, INGEST)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh migrated database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    """A small open connection pool on the fresh database (3 connections at most)."""
    with ConnectionPool(database_url, min_size=1, max_size=3, open=True) as pool:
        pool.wait()
        yield pool


@pytest.fixture
def fitpipe_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point fitpipe (settings, CLI) at the test database and a private FITPIPE_HOME; yields that home."""
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith(("DB_", "FITPIPE_", "MAIL_")) and name not in (
            "FITPIPE_TEST_DATABASE_URL",
            "FITPIPE_TEST_HOME",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", database_url)
    # the processes log in as their own roles, as in a deployment (fitpipe.db.database_url)
    for role, variable in (
        (OWNER, "FITPIPE_OWNER_DB_PASSWORD"),
        (API, "FITPIPE_API_DB_PASSWORD"),
        (INGEST, "FITPIPE_INGEST_DB_PASSWORD"),
    ):
        monkeypatch.setenv(variable, role_password(database_url, role))
    monkeypatch.setenv("FITPIPE_HOME", str(home))
    reset_settings_cache()
    yield home
    reset_settings_cache()
