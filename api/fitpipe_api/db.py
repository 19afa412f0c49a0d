"""The API's connection pool: every connection runs in UTC, as the API's own login role.

The login is checked on every new connection (fitpipe/dbroles/login.py): one that could escalate (a
superuser, CREATEROLE, a member of another role, the schema's owner) is refused unless
FITPIPE_API_ALLOW_SUPERUSER is set, because `SET ROLE` is no boundary: `RESET ROLE` undoes it.

Sized and timed from the settings (see fitpipe_api.admission for how requests use it): connections are
checked as they are handed out (a connection the database dropped, e.g. across a restart, is replaced
instead of failing a request), connecting gives up after FITPIPE_API_DB_CONNECT_TIMEOUT_SECONDS, and the
pool stops retrying in the background after a few seconds, so it connects again on the next request
rather than after a long back-off once the database is back.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from fitpipe.dbroles import API, LoginInfo, refuse_escalating_login
from fitpipe.errors import ConfigError
from fitpipe.settings import Settings
from fitpipe_api.admission import pool_max_size

__all__ = ["make_pool", "LoginGuard"]

log = logging.getLogger(__name__)

ALLOW_SETTING = "FITPIPE_API_ALLOW_SUPERUSER"


class LoginGuard:
    """Checks the API's database login; remembers what it found for /readyz."""

    def __init__(self, allow_escalating: bool) -> None:
        self.allow_escalating = allow_escalating
        self.info: LoginInfo | None = None
        self.refusal: ConfigError | None = None

    def check(self, conn: psycopg.Connection) -> LoginInfo:
        try:
            info = refuse_escalating_login(
                conn, process="API", role=API, allow=self.allow_escalating, allow_setting=ALLOW_SETTING
            )
        except ConfigError as exc:
            self.refusal = exc
            raise
        if not info.least_privilege and self.info is None:
            log.warning(
                "the API runs as %s, which %s (allowed by %s)",
                info.user,
                "; ".join(info.escalations),
                ALLOW_SETTING,
            )
        self.info, self.refusal = info, None
        return info

    def check_at_start(self, url: str) -> None:
        """Refuse to start with an escalating login; a database not reachable yet is left to /readyz."""
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5, application_name="fitpipe-api")
        except psycopg.OperationalError as exc:
            log.warning("database not reachable at start (%s); /readyz reports it", type(exc).__name__)
            return
        with conn:
            self.check(conn)


def make_pool(url: str, settings: Settings, guard: LoginGuard | None = None) -> ConnectionPool:
    guard = guard or LoginGuard(settings.fitpipe_api_allow_superuser)

    def configure(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute("SET TIME ZONE 'UTC'")
        guard.check(conn)

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
                filter(
                    None,
                    [str(conninfo_to_dict(url).get("options") or ""), f"-c statement_timeout={statement_ms}"],
                )
            ),
        },
        name="fitpipe-api",
    )


def _log_unreachable(pool: ConnectionPool) -> None:
    log.warning("the database is unreachable: the API answers 503 and connects again on the next request")
