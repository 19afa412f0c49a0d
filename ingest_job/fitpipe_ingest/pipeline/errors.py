"""The pipeline's errors: losing the database mid-run is not a file's fault and stops the run (exit 3)."""

from __future__ import annotations

import psycopg

from fitpipe.errors import DatabaseError

__all__ = ["DatabaseLost", "database_lost"]

_HINT = (
    "check the server (`fitpipe db status`, or DATABASE_URL); then run the same command again: "
    "what was committed stays, the rest loads"
)


class DatabaseLost(DatabaseError):
    """The connection to the database broke (server stopped, restarted, connection killed)."""


def database_lost(exc: BaseException | None) -> DatabaseLost | None:
    """A DatabaseLost for an exception (or one it was raised from) that means the connection is gone."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DatabaseLost):
            return exc
        if isinstance(exc, psycopg.InterfaceError) or (
            isinstance(exc, psycopg.OperationalError)
            and (exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P")))
        ):
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return DatabaseLost(f"the database went away during the run ({reason})", hint=_HINT)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
