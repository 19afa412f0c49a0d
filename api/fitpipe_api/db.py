"""The API's connection pool: every connection runs in UTC and, when configured, as the restricted role.

Sized and timed from the settings (see fitpipe_api.admission for how requests use it): connections are
checked as they are handed out (a connection the database dropped, e.g. across a restart, is replaced
instead of failing a request), connecting gives up after FITPIPE_API_DB_CONNECT_TIMEOUT_SECONDS, and the
pool stops retrying in the background after a few seconds, so it connects again on the next request
rather than after a long back-off once the database is back.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from fitpipe.settings import Settings
from fitpipe_api.admission import pool_max_size

__all__ = ["make_pool"]

log = logging.getLogger(__name__)


def make_pool(url: str, settings: Settings) -> ConnectionPool:
    role = settings.fitpipe_api_db_role

    def configure(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute("SET TIME ZONE 'UTC'")
        if role:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if exists:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            else:
                log.warning(
                    "database role %s does not exist (run `fitpipe migrate`); using the login role", role
                )

    connect_timeout = settings.fitpipe_api_db_connect_timeout_seconds
    statement_ms = int(settings.fitpipe_api_statement_timeout_seconds * 1000)
    return ConnectionPool(
        url,
        # the requests' connections stay open (the pool opens new ones one at a time); exports' open on demand
        min_size=settings.fitpipe_api_pool_size,
        max_size=pool_max_size(settings),
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=connect_timeout,
        reconnect_timeout=connect_timeout,
        reconnect_failed=_log_unreachable,
        open=False,
        kwargs={
            "application_name": "fitpipe-api",
            "connect_timeout": connect_timeout,
            # a startup option, not a SET: an export's RESET returns to it
            "options": " ".join(
                filter(None, [conninfo_to_dict(url).get("options"), f"-c statement_timeout={statement_ms}"])
            ),
        },
        name="fitpipe-api",
    )


def _log_unreachable(pool: ConnectionPool) -> None:
    log.warning("the database is unreachable: the API answers 503 and connects again on the next request")
