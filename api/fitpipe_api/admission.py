"""How much database work the API does at once, and what a request gets when it cannot have more.

Contract:
- A request's database work is one *unit*: it runs in one worker thread on one pooled connection, taken
  right before the work starts and returned as soon as it ends (`Database.run`). No unit holds a connection
  while it waits for a thread, for a second connection or for a slow client.
- At most `FITPIPE_API_POOL_SIZE` units hold a connection at once (fitpipe_api.gate). A request that finds no
  free slot within `FITPIPE_API_POOL_WAIT_SECONDS` is answered at once with `ServerBusy` (503 + Retry-After);
  it waits on the event loop, not in a thread, so waiting requests cost no thread and no connection.
- A unit that has a slot but gets no connection within the connect timeout means the database is down,
  restarting or refusing connections: `DatabaseUnavailable` (also 503 + Retry-After, with another text).
  The pool checks each connection as it hands it out and drops broken ones, so the API answers again as
  soon as the database is back, without a restart.
- A streamed export takes an export slot (`FITPIPE_API_EXPORT_SLOTS`, waiting at most
  `FITPIPE_API_EXPORT_WAIT_SECONDS`) and one connection for its whole life (`Database.export`): the
  connection that checked the request also streams the rows, and goes back to the pool when the stream
  ends, fails, or the client goes away (`ExportLease.close`). Exports run without the statement timeout.
- The pool keeps `PROBE_CONNECTIONS` more connections for /readyz and /metrics, so probes answer under load.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from fitpipe.errors import DatabaseError
from fitpipe.settings import Settings
from fitpipe_api.gate import Gate, ServerBusy

__all__ = [
    "Database",
    "ExportLease",
    "ServerBusy",
    "DatabaseUnavailable",
    "PROBE_CONNECTIONS",
    "pool_max_size",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_CONNECTIONS = 2
"""Connections beyond the slots, for /readyz and the /metrics collectors (never for requests)."""


def pool_max_size(settings: Settings) -> int:
    return settings.fitpipe_api_pool_size + settings.fitpipe_api_export_slots + PROBE_CONNECTIONS


class DatabaseUnavailable(DatabaseError):
    """No connection to the database could be had (down, restarting, refusing). Temporary."""

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Database:
    """The API process's database: the pool, the admission gates in front of it, the worker threads."""

    def __init__(self, pool: ConnectionPool, settings: Settings) -> None:
        self.pool = pool
        self.retry_after = settings.fitpipe_api_retry_after_seconds
        self.connect_wait = float(settings.fitpipe_api_db_connect_timeout_seconds)
        self.requests = Gate(
            "request",
            settings.fitpipe_api_pool_size,
            settings.fitpipe_api_pool_wait_seconds,
            self.retry_after,
        )
        self.exports = Gate(
            "export",
            settings.fitpipe_api_export_slots,
            settings.fitpipe_api_export_wait_seconds,
            self.retry_after,
        )
        self._threads: anyio.CapacityLimiter | None = None

    @property
    def threads(self) -> anyio.CapacityLimiter:
        """Worker threads of units and exports only: a unit that has a slot never waits for a thread."""
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(max(1, self.requests.slots + self.exports.slots))
        return self._threads

    # --- connections ---------------------------------------------------------------------------------

    def checkout(self, timeout: float | None = None) -> psycopg.Connection:
        """A checked, working connection (blocking; call it in a worker thread), or DatabaseUnavailable."""
        try:
            return self.pool.getconn(timeout=self.connect_wait if timeout is None else timeout)
        except PoolTimeout:
            raise DatabaseUnavailable(
                "the database is unavailable: no connection could be made "
                f"within {self.connect_wait if timeout is None else timeout:g} s",
                retry_after=self.retry_after,
                hint=f"retry after {self.retry_after} s; if it lasts, check the database (`fitpipe db status`)",
            ) from None
        except PoolClosed:
            raise DatabaseUnavailable(
                "the API is shutting down", retry_after=self.retry_after, hint="retry on another replica"
            ) from None

    def checkin(self, conn: psycopg.Connection) -> None:
        self.pool.putconn(conn)

    # --- units of work -------------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(conn, *args, **kwargs)` in one worker thread on one connection, once a request slot is free."""
        await self.requests.acquire()
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(self._unit, fn, args, kwargs), limiter=self.threads
            )
        finally:
            self.requests.release()

    def _unit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        conn = self.checkout()
        try:
            return fn(conn, *args, **kwargs)
        finally:
            self.checkin(conn)

    async def export(self) -> ExportLease:
        """An export slot and a connection without statement timeout, held until `ExportLease.close()`."""
        await self.exports.acquire()
        try:
            conn = await anyio.to_thread.run_sync(self._export_connection, limiter=self.threads)
        except BaseException:
            self.exports.release()
            raise
        return ExportLease(self, conn)

    def _export_connection(self) -> psycopg.Connection:
        # an export's connection is often a new one (the pool keeps only the requests' open): allow for that
        conn = self.checkout(self.connect_wait + self.exports.wait)
        try:
            conn.execute("SET statement_timeout = 0")  # a download takes as long as the client reads
        except BaseException:
            self.checkin(conn)
            raise
        return conn


class ExportLease:
    """One connection and one export slot, from the request's checks to the stream's last byte."""

    def __init__(self, database: Database, conn: psycopg.Connection) -> None:
        self.database = database
        self.conn = conn
        self._closed = False
        self._iterator: Iterator[bytes] | None = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(conn, *args, **kwargs)` in a worker thread on the lease's connection."""
        return await anyio.to_thread.run_sync(
            functools.partial(fn, self.conn, *args, **kwargs), limiter=self.database.threads
        )

    async def stream(self, make: Callable[[psycopg.Connection], Iterator[bytes]]) -> AsyncIterator[bytes]:
        """The chunks of `make(conn)`, each produced in a worker thread; closes the lease at the end."""
        self._iterator = make(self.conn)
        try:
            while True:
                chunk = await anyio.to_thread.run_sync(
                    _next_or_none, self._iterator, limiter=self.database.threads
                )
                if chunk is None:
                    return
                yield chunk
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the producer (a COPY in progress is cancelled) and return the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):  # runs while the request is being cancelled (client gone)
            try:
                await anyio.to_thread.run_sync(self._finish, limiter=self.database.threads)
            finally:
                self.database.exports.release()

    def _finish(self) -> None:
        try:
            if self._iterator is not None:
                close = getattr(self._iterator, "close", None)
                if close is not None:
                    close()
            if not self.conn.broken:
                self.conn.execute("RESET statement_timeout")
        except psycopg.Error as exc:
            log.info("export connection not reusable (%s): the pool replaces it", type(exc).__name__)
            self.conn.close()
        finally:
            self.database.checkin(self.conn)


def _next_or_none(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)
