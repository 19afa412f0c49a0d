"""Request budgets and retry waits: a sliding-window limiter per participant and for the project, and
exponential backoff with full jitter that honours Retry-After. Time comes from an injected clock.

The sliding window is exact: no key ever gets more than `limit` acquisitions inside any span of
`window` seconds (a token bucket would allow a burst on top of the steady rate). Tests pass a virtual
clock whose sleep advances time instantly, so a minute of rate limiting costs no wall time.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fitpipe.google_health.settings import GoogleHealthSettings

__all__ = [
    "Clock",
    "SystemClock",
    "SlidingWindowLimiter",
    "RequestLimiter",
    "RetryPolicy",
    "parse_retry_after",
]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SlidingWindowLimiter:
    """At most `limit` acquisitions per key in any `window` seconds; `block` holds a key until a time."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._stamps: dict[Hashable, deque[float]] = {}
        self._blocked: dict[Hashable, float] = {}

    def _wait(self, key: Hashable, now: float) -> float:
        stamps = self._stamps.setdefault(key, deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        wait = max(self._blocked.get(key, now) - now, 0.0)
        if len(stamps) >= self.limit:
            wait = max(wait, stamps[0] + self.window - now)
        if wait <= 0:
            stamps.append(now)
            self._blocked.pop(key, None)
        return wait

    def acquire(self, key: Hashable = None) -> float:
        """Take one slot for `key`, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                wait = self._wait(key, self.clock.monotonic())
            if wait <= 0:
                return waited
            self.clock.sleep(wait)
            waited += wait

    def block(self, key: Hashable, seconds: float) -> None:
        """No slot for `key` during the next `seconds` (the server asked us to back off)."""
        with self._lock:
            until = self.clock.monotonic() + seconds
            self._blocked[key] = max(self._blocked.get(key, until), until)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._stamps.pop(key, None)
            self._blocked.pop(key, None)


class RequestLimiter:
    """The API's two budgets: per participant (300/min) and per project (120,000/min by default)."""

    def __init__(self, per_user: int, per_project: int, clock: Clock, window: float = 60.0) -> None:
        self.user = SlidingWindowLimiter(per_user, window, clock)
        self.project = SlidingWindowLimiter(per_project, window, clock)

    def acquire(self, user: Hashable) -> float:
        # the user's slot first: a participant waiting on its own budget must not hold a project slot
        return self.user.acquire(user) + self.project.acquire(None)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base: float = 1.0
    cap: float = 64.0
    max_retry_after: float = 300.0

    @classmethod
    def from_settings(cls, settings: GoogleHealthSettings) -> RetryPolicy:
        """The policy the FITPIPE_GOOGLE_MAX_ATTEMPTS / _BACKOFF_* / _MAX_RETRY_AFTER_SECONDS settings ask for."""
        return cls(
            settings.fitpipe_google_max_attempts,
            settings.fitpipe_google_backoff_base_seconds,
            settings.fitpipe_google_backoff_cap_seconds,
            settings.fitpipe_google_max_retry_after_seconds,
        )

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Wait before try number `attempt + 1` (attempt counts from 1): full jitter, at least Retry-After."""
        jitter = rng.uniform(0.0, min(self.cap, self.base * 2 ** (attempt - 1)))
        return max(jitter, retry_after or 0.0)
