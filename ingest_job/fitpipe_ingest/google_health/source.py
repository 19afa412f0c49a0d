"""The live source's shared parts for one run: settings, the token cipher, the OAuth and API clients (one
HTTP connection pool and one set of rate limits for every worker), and the run's counters.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from fitpipe.google_health.client import AccessTokens, GoogleHealthClient
from fitpipe.google_health.grants import PROVIDER
from fitpipe.google_health.limits import Clock, RequestLimiter, SystemClock
from fitpipe.google_health.oauth import OAuthClient
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.tokens import TokenCipher
from fitpipe.google_health.windows import Window

__all__ = ["GoogleHealthSource", "SOURCE_NAME"]

SOURCE_NAME = PROVIDER
"""The source name in cursors, the manifest, quarantine and participant_sources."""


@dataclass
class GoogleHealthSource:
    settings: GoogleHealthSettings
    cipher: TokenCipher
    oauth: OAuthClient
    api: GoogleHealthClient
    token_refresh_failures: Counter[str] = field(default_factory=Counter)
    """Failed refreshes by study name (the run's details → fitpipe_token_refresh_failures_total)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(
        cls,
        settings: GoogleHealthSettings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        limiter: RequestLimiter | None = None,
        http: httpx.Client | None = None,
    ) -> GoogleHealthSource:
        """Raises ConfigError when the OAuth client or the token key is not configured."""
        clock = clock or SystemClock()
        rng = rng or random.Random()
        cipher = TokenCipher(settings.fitpipe_token_key)
        http = http or httpx.Client(
            timeout=settings.fitpipe_google_timeout_seconds,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        api = GoogleHealthClient(settings, http=http, clock=clock, rng=rng, limiter=limiter)
        oauth = OAuthClient(settings, http=http, clock=clock, rng=rng, policy=api.policy, stats=api.stats)
        return cls(settings, cipher, oauth, api)

    def count_refresh_failures(self, study: str, n: int) -> None:
        if n:
            with self._lock:
                self.token_refresh_failures[study] += n

    def fetch_window(
        self, user: int, tokens: AccessTokens, window: Window, now: datetime
    ) -> list[dict[str, Any]]:
        """Every point of a window, all pages (newest first, as sent)."""
        points: list[dict[str, Any]] = []
        for page in self.api.list_pages(window, user=user, tokens=tokens, now=now):
            points.extend(page)
        return points

    def take_refresh_failures(self) -> dict[str, int]:
        """The failures counted since the last call (one run's share when a source serves several)."""
        with self._lock:
            taken = dict(self.token_refresh_failures)
            self.token_refresh_failures.clear()
        return taken

    def close(self) -> None:
        self.api.close()
