"""An admission gate: `slots` holders at a time, a bounded wait for the others, first come first served until
the queue stands, then newest first.

Contract:
- `acquire()` returns at once while a slot is free and nobody waits; otherwise the caller waits on the event
  loop (no thread, no connection) at most `wait` seconds, then gets ServerBusy (503 + Retry-After).
- A released slot goes straight to a waiter. Normally the oldest one (FIFO: every request waits about as long
  as the queue is). When the oldest waiter has already waited `wait / 2` the queue is standing, not
  draining, and the newest waiter gets the slot instead (LIFO, as CoDel-style "adaptive LIFO" servers do):
  the requests that are served then wait little, and those that cannot be served get their 503 at the end of
  their wait instead of being served after it, when their client may have given up. Each release re-decides,
  so the gate returns to FIFO as soon as the queue drains.
- Waiting ends with a slot, with ServerBusy, or with the caller's cancellation; a slot handed over at the same
  moment as a timeout or cancellation is passed on, never lost.
- `release()` never fails: a waiter whose wait has ended but whose task has not run again yet (on a loaded
  event loop every queued waiter can be in that state at once) is skipped, and with nobody left the slot is
  freed. (It once raised IndexError there: the request that released answered 500 and the slot was lost.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from fitpipe.errors import FitpipeError

__all__ = ["Gate", "ServerBusy"]


class ServerBusy(FitpipeError):
    """Every slot for this kind of work stayed taken for the whole wait. Temporary: retry after `retry_after` s."""

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class _Expired(Exception):
    pass


class Gate:
    def __init__(
        self,
        name: str,
        slots: int,
        wait: float,
        retry_after: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.slots, self.wait, self.retry_after = name, slots, wait, retry_after
        self._clock = clock
        self._free = slots
        self._waiters: deque[tuple[float, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for _, f in self._waiters if not f.done())

    def _busy(self) -> ServerBusy:
        if self.slots == 0:
            return ServerBusy(
                f"this server serves no {self.name}s", retry_after=self.retry_after, hint="ask the operator"
            )
        return ServerBusy(
            f"the server is busy: all {self.slots} {self.name} slots stayed in use for {self.wait:g} s",
            retry_after=self.retry_after,
            hint=f"retry after {self.retry_after} s",
        )

    async def acquire(self) -> None:
        if self.slots == 0:
            raise self._busy()
        if self._free > 0:  # (a slot is free only while nobody waits: release() hands it over first)
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        entry = (self._clock(), loop.create_future())
        future = entry[1]
        self._waiters.append(entry)
        expiry = loop.call_later(self.wait, _expire, future)
        try:
            await future
        except BaseException as exc:
            self._forget(entry)
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release()  # granted as we were leaving: pass it on
            if isinstance(exc, _Expired):
                raise self._busy() from None
            raise
        finally:
            expiry.cancel()
        self._forget(entry)

    def release(self) -> None:
        while (future := self._next()) is not None:
            if not future.done():
                future.set_result(None)  # the slot passes on without being freed
                return
        self._free += 1

    def _next(self) -> asyncio.Future[None] | None:
        """The waiter the next slot goes to, taken off the queue; None when nobody waits any more.

        Waiters whose wait ended (expired or cancelled) stay queued until their task runs again and forgets
        them: on a busy event loop every queued waiter can have ended by the time a slot is released."""
        while self._waiters and self._waiters[0][1].done():
            self._waiters.popleft()  # timed out or cancelled, still queued
        if not self._waiters:
            return None
        if self._clock() - self._waiters[0][0] >= self.wait / 2:
            return self._waiters.pop()[1]
        return self._waiters.popleft()[1]

    def _forget(self, entry: tuple[float, asyncio.Future[None]]) -> None:
        with contextlib.suppress(ValueError):  # already taken off by release()
            self._waiters.remove(entry)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(_Expired())
