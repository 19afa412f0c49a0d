"""Connecting to fitpipe's database: an external one (DATABASE_URL or DB_*) or the embedded default.

Each process logs in as its own role (fitpipe/dbroles): `database_url(role=API)` is the API's login,
`role=INGEST` the ingest job's, no role the administrator's (the superuser, for `fitpipe migrate` and the
admin commands). A role's login is, in order: its full URL (FITPIPE_API_DATABASE_URL /
FITPIPE_INGEST_DATABASE_URL); the administrator's URL with the role's name and password
(FITPIPE_API_DB_PASSWORD / FITPIPE_INGEST_DB_PASSWORD, the Kubernetes case); on the embedded database, the
password `fitpipe migrate` generated; else the administrator's URL itself (one login for everything; the
API then refuses to start unless FITPIPE_API_ALLOW_SUPERUSER is set).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fitpipe.dbroles.catalog import API, INGEST, OWNER, DbRole
from fitpipe.errors import DatabaseError
from fitpipe.settings import Settings, get_settings

if TYPE_CHECKING:  # imported when first used: the embedded server is for development only
    from fitpipe.localdb.server import LocalDatabase

__all__ = ["database_url", "role_passwords", "with_login", "connect", "redact", "has_timescaledb"]


def database_url(settings: Settings | None = None, *, role: DbRole | None = None) -> str:
    """The URL to connect with: the administrator's (role None) or a process role's login."""
    settings = settings or get_settings()
    admin = settings.external_database_url()
    if role is None:
        if admin:
            return admin
        return _local(settings).url()
    explicit = {API: settings.fitpipe_api_database_url, INGEST: settings.fitpipe_ingest_database_url}.get(
        role
    )
    if explicit is not None:
        return explicit.get_secret_value()
    password = _configured_password(settings, role)
    if admin:
        return with_login(admin, role.value, password) if password else admin
    from fitpipe.localdb.credentials import read_role_password

    return with_login(_local(settings).url(), role.value, password or read_role_password(settings.home, role))


def role_passwords(settings: Settings | None = None) -> dict[DbRole, str | None]:
    """The passwords `fitpipe migrate` gives the roles: configured ones, or generated ones on the embedded
    database (created on first use). A role without one keeps the password it has."""
    settings = settings or get_settings()
    configured: dict[DbRole, str | None] = {
        role: _configured_password(settings, role) for role in (OWNER, API, INGEST)
    }
    if settings.external_database_url():
        return configured
    from fitpipe.localdb.credentials import role_passwords as generated

    return {role: configured[role] or password for role, password in generated(settings.home).items()}


def _configured_password(settings: Settings, role: DbRole) -> str | None:
    explicit_url = {API: settings.fitpipe_api_database_url, INGEST: settings.fitpipe_ingest_database_url}.get(
        role
    )
    if explicit_url is not None:
        password = conninfo_to_dict(explicit_url.get_secret_value()).get("password")
        if password:
            return str(password)
    secret = {
        OWNER: settings.fitpipe_owner_db_password,
        API: settings.fitpipe_api_db_password,
        INGEST: settings.fitpipe_ingest_db_password,
    }[role]
    return secret.get_secret_value() if secret is not None else None


def _local(settings: Settings) -> LocalDatabase:
    from fitpipe.localdb.server import LocalDatabase

    return LocalDatabase(settings.home)


def with_login(url: str, user: str, password: str) -> str:
    """The same database (host, port, name, options) with another user and password."""
    if re.match(r"^postgres(ql)?://", url):
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return make_conninfo(url, user=user, password=password)


def redact(url: str) -> str:
    """The URL (or key=value connection string) with its password replaced, for messages and logs."""
    url = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url)


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    url = url or database_url()
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="fitpipe")
    except psycopg.OperationalError as exc:
        # psycopg's message may echo the DSN; keep only the server's reason.
        reason = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        raise DatabaseError(
            f"cannot connect to {redact(url)}: {redact(reason)}",
            hint="start the embedded database with `fitpipe db start`, or check DATABASE_URL / DB_HOST",
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def has_timescaledb(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None
