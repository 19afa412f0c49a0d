"""The live source's shared parts for one run: settings, the token cipher, the OAuth and API clients (one
HTTP connection pool and one set of rate limits for every worker), and the run's counters.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

import httpx

from ingest_job.google_health.client import GoogleHealthClient
from ingest_job.google_health.grants import PROVIDER
from ingest_job.google_health.limits import Clock, RequestLimiter, SystemClock
from ingest_job.google_health.oauth import OAuthClient
from ingest_job.google_health.settings import GoogleHealthSettings
from ingest_job.google_health.tokens import TokenCipher

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
    def create(cls, settings: GoogleHealthSettings, *, clock: Clock | None = None, rng: random.Random | None = None,
               limiter: RequestLimiter | None = None, http: httpx.Client | None = None) -> GoogleHealthSource:
        """Raises ConfigError when the OAuth client or the token key is not configured."""
        clock = clock or SystemClock()
        rng = rng or random.Random()
        cipher = TokenCipher(settings.fitpipe_token_key)
        http = http or httpx.Client(timeout=settings.fitpipe_google_timeout_seconds,
                                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        api = GoogleHealthClient(settings, http=http, clock=clock, rng=rng, limiter=limiter)
        oauth = OAuthClient(settings, http=http, clock=clock, rng=rng, policy=api.policy, stats=api.stats)
        return cls(settings, cipher, oauth, api)

    def count_refresh_failures(self, study: str, n: int) -> None:
        if n:
            with self._lock:
                self.token_refresh_failures[study] += n

    def close(self) -> None:
        self.api.close()
