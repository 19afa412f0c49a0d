"""Connecting to fitpipe's database: an external one (DATABASE_URL or DB_*) or the embedded default."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from fitpipe.errors import DatabaseError
from fitpipe.settings import Settings, get_settings

__all__ = ["database_url", "connect", "redact", "has_timescaledb"]


def database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    external = settings.external_database_url()
    if external:
        return external
    from fitpipe.localdb.server import LocalDatabase

    return LocalDatabase(settings.home).url()


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
