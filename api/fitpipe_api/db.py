"""The API's connection pool: every connection runs in UTC and, when configured, as the restricted role."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from fitpipe.settings import Settings

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

    return ConnectionPool(
        url,
        min_size=1,
        max_size=settings.fitpipe_api_pool_size,
        configure=configure,
        open=False,
        kwargs={"application_name": "fitpipe-api"},
        name="fitpipe-api",
    )
