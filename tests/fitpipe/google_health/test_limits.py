"""Limits and waits on a virtual clock: the sliding window is exact, a block holds a key, backoff is full jitter
under an exponential cap and never shorter than Retry-After, which may be seconds or an HTTP date."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fitpipe.google_health.limits import (
    RequestLimiter,
    RetryPolicy,
    SlidingWindowLimiter,
    parse_retry_after,
)
from fitpipe.settings import Settings
from tests.fakes.google_health import VirtualClock
from tests.fakes.google_health_fixtures import max_in_window


def test_no_key_gets_more_than_the_limit_in_any_window_even_from_many_threads() -> None:
    clock = VirtualClock()
    limiter = SlidingWindowLimiter(10, 60.0, clock)
    stamps: dict[str, list[float]] = {"a": [], "b": []}
    lock = threading.Lock()

    def take(key: str) -> None:
        for _ in range(35):
            limiter.acquire(key)
            with lock:
                stamps[key].append(clock.monotonic())

    threads = [threading.Thread(target=take, args=(k,)) for k in ("a", "b", "a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("a", "b"):
        assert len(stamps[key]) == 70 and max_in_window(stamps[key], 60.0) <= 10


def test_a_block_holds_the_key_and_only_that_key() -> None:
    clock = VirtualClock()
    limiter = SlidingWindowLimiter(100, 60.0, clock)
    limiter.block("a", 30.0)
    assert limiter.acquire("b") == 0
    assert limiter.acquire("a") == 30.0


def test_the_project_budget_binds_every_participant_together() -> None:
    clock = VirtualClock()
    limiter = RequestLimiter(per_user=300, per_project=5, clock=clock)
    stamps = []
    for i in range(12):
        limiter.acquire(f"user{i % 4}")
        stamps.append(clock.monotonic())
    assert max_in_window(stamps, 60.0) == 5


def test_backoff_is_full_jitter_under_an_exponential_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=8, base=1.0, cap=16.0)
    rng = random.Random(5)
    for attempt in range(1, 8):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        ceiling = min(16.0, 2.0 ** (attempt - 1))
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling, "spread over the whole range"
    assert all(policy.delay(1, rng, retry_after=30.0) >= 30.0 for _ in range(50))


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 12, 6, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


def test_the_retry_policy_is_the_one_the_settings_ask_for() -> None:
    settings = Settings(
        fitpipe_google_max_attempts=3,
        fitpipe_google_backoff_base_seconds=0.5,
        fitpipe_google_backoff_cap_seconds=8.0,
        fitpipe_google_max_retry_after_seconds=30.0,
    )
    assert RetryPolicy.from_settings(settings) == RetryPolicy(
        max_attempts=3, base=0.5, cap=8.0, max_retry_after=30.0
    )
