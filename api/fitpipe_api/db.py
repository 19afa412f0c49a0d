"""The API's connection pool: every connection runs in UTC, as the API's own login role.

The login is checked on every new connection (fitpipe/dbroles/login.py): one that could escalate (a
superuser, CREATEROLE, a member of another role, the schema's owner) is refused unless
FITPIPE_API_ALLOW_SUPERUSER is set, because `SET ROLE` is no boundary: `RESET ROLE` undoes it.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import ConnectionPool

from fitpipe.dbroles import API, LoginInfo, refuse_escalating_login
from fitpipe.errors import ConfigError
from fitpipe.settings import Settings

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

    return ConnectionPool(
        url,
        min_size=1,
        max_size=settings.fitpipe_api_pool_size,
        configure=configure,
        open=False,
        kwargs={"application_name": "fitpipe-api"},
        name="fitpipe-api",
    )
