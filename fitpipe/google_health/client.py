"""HTTP access to the Google Health API: the per-participant and project budgets, retries on 429/503/504
and network errors (exponential backoff, full jitter, Retry-After honoured), one token refresh on 401,
and `dataPoints` pages followed through `nextPageToken` (pages come newest first; a page may be empty).

Nothing here logs a token: requests are logged by method and path, errors name the path and reason.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import msgspec
import orjson

from fitpipe.google_health.datatypes import DataType
from fitpipe.google_health.errors import ApiError, EndpointGone, RetriesExhausted
from fitpipe.google_health.limits import (
    Clock,
    RequestLimiter,
    RetryPolicy,
    SystemClock,
    parse_retry_after,
)
from fitpipe.google_health.pages import decode_page
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.windows import Window, filter_for

__all__ = [
    "GoogleHealthClient",
    "ApiStats",
    "AccessTokens",
    "Identity",
    "RETRYABLE",
    "error_reason",
    "send_with_retries",
]

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 503, 504})
MAX_PAGES = 100_000
"""A guard against a server that never stops handing out page tokens."""


class AccessTokens(Protocol):
    """Where the client gets a participant's access token (see grants.TokenSource)."""

    def access_token(self) -> str: ...

    def refresh_after_rejection(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class Identity:
    health_user_id: str
    legacy_user_id: str | None
    name: str | None


@dataclass
class ApiStats:
    """Counters over every request of a run (thread-safe)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "unavailable": self.unavailable,
                "waited_seconds": round(self.waited_seconds, 3),
            }


def error_reason(response: httpx.Response) -> tuple[str, str]:
    """(reason, message) of a Google error body; ErrorInfo.reason when present, else the status word."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", response.reason_phrase
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        # the OAuth endpoints answer {"error": "invalid_grant", "error_description": ...}
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return str(body["error"]), str(body.get("error_description", ""))[:200]
        return "", response.reason_phrase
    reason = str(err.get("status", ""))
    for detail in err.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            reason = str(detail["reason"])
    return reason, str(err.get("message", ""))[:300]


def send_with_retries(
    http: httpx.Client,
    request: httpx.Request,
    *,
    what: str,
    policy: RetryPolicy,
    clock: Clock,
    rng: random.Random,
    stats: ApiStats,
    limiter: RequestLimiter | None = None,
    user: Hashable = None,
) -> httpx.Response:
    """Send, retrying 429/503/504 and network errors; any other answer is returned as is."""
    attempt = 0
    while True:
        attempt += 1
        status, reason = 0, ""
        if limiter is not None:
            stats.add(waited_seconds=limiter.acquire(user))
        stats.add(requests=1)
        try:
            response = http.send(request)
        except httpx.TransportError as exc:
            problem, retry_after = f"network error ({type(exc).__name__})", None
        else:
            status = response.status_code
            if response.status_code not in RETRYABLE:
                return response
            reason, _ = error_reason(response)
            problem = f"{response.status_code} {reason or response.reason_phrase}".strip()
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            stats.add(
                rate_limited=int(response.status_code == 429), unavailable=int(response.status_code != 429)
            )
            if retry_after is not None and retry_after > policy.max_retry_after:
                raise RetriesExhausted(
                    f"{what}: {problem}, asked to retry after {retry_after:.0f} s",
                    status=response.status_code,
                    reason=reason,
                    hint="deferred to the next run (FITPIPE_GOOGLE_MAX_RETRY_AFTER_SECONDS bounds the wait)",
                )
        if attempt >= policy.max_attempts:
            raise RetriesExhausted(
                f"{what}: {problem} on each of {attempt} tries",
                status=status,
                reason=reason,
                hint="deferred to the next run; if it persists, check https://status.cloud.google.com and the project's quota",
            )
        delay = policy.delay(attempt, rng, retry_after)
        if limiter is not None and status == 429:
            limiter.user.block(user, delay)  # the participant's budget is spent: hold its other requests too
        log.info("%s: %s; retry %d in %.1f s", what, problem, attempt, delay)
        stats.add(retries=1, waited_seconds=delay)
        clock.sleep(delay)


class GoogleHealthClient:
    def __init__(
        self,
        settings: GoogleHealthSettings,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        limiter: RequestLimiter | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.base = settings.google_health_api_base.rstrip("/")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.limiter = limiter or RequestLimiter(
            settings.fitpipe_google_user_rpm, settings.fitpipe_google_project_rpm, self.clock
        )
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.http = http or httpx.Client(
            timeout=settings.fitpipe_google_timeout_seconds,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self.stats = ApiStats()
        self.page_size: int | None = None
        """pageSize asked for (default: the type's maximum, fewest requests)."""

    def close(self) -> None:
        self.http.close()

    def get(
        self,
        path: str,
        *,
        user: Hashable,
        tokens: AccessTokens,
        params: dict[str, Any] | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        """GET a JSON document for a participant; one refresh and retry when the access token is refused."""
        what = f"GET {path}"
        token = tokens.access_token()
        for refreshed in (False, True):
            request = self.http.build_request(
                "GET",
                self.base + path,
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            response = send_with_retries(
                self.http,
                request,
                what=what,
                policy=self.policy,
                clock=self.clock,
                rng=self.rng,
                stats=self.stats,
                limiter=self.limiter,
                user=user,
            )
            if response.status_code == 401 and not refreshed:
                token = tokens.refresh_after_rejection(token)
                continue
            break
        if response.status_code == 410:
            raise EndpointGone(
                f"{what}: 410 Gone",
                status=410,
                hint="the Fitbit Web API was switched off on 30 Oct 2026; fitpipe reads the Google Health API v4 "
                "(check GOOGLE_HEALTH_API_BASE)",
            )
        if response.status_code >= 400:
            reason, message = error_reason(response)
            raise ApiError(
                f"{what}: {response.status_code} {reason}: {message}".rstrip(": "),
                status=response.status_code,
                reason=reason,
            )
        try:
            return decode(response.content)
        except (orjson.JSONDecodeError, msgspec.DecodeError):
            raise ApiError(f"{what}: the answer is not JSON", status=response.status_code) from None

    def identity(self, *, user: Hashable, tokens: AccessTokens) -> Identity:
        body = self.get("/v4/users/me/identity", user=user, tokens=tokens)
        health_user_id = body.get("healthUserId") if isinstance(body, dict) else None
        if not health_user_id:
            raise ApiError("GET /v4/users/me/identity: no healthUserId in the answer", status=200)
        return Identity(str(health_user_id), body.get("legacyUserId"), body.get("name"))

    def list_pages(
        self,
        window: Window,
        *,
        user: Hashable,
        tokens: AccessTokens,
        now: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The window's data points, one list per page (newest first, as the API sends them)."""
        data_type: DataType = window.data_type
        path = f"/v4/users/me/dataTypes/{data_type.name}/dataPoints"
        size = page_size or self.page_size or data_type.max_page_size
        params: dict[str, Any] = {
            "filter": filter_for(window, now),
            "pageSize": min(size, data_type.max_page_size),
        }
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self.get(
                path, user=user, tokens=tokens, params=params, decode=lambda raw: decode_page(data_type, raw)
            )
            points = body.get("dataPoints") or [] if isinstance(body, dict) else []
            yield [p for p in points if isinstance(p, dict)]
            token = body.get("nextPageToken") if isinstance(body, dict) else None
            if not token:  # absent or "" on the last page
                return
            if token in seen:
                raise ApiError(f"GET {path}: the API handed out the same page token twice", status=200)
            seen.add(token)
            params["pageToken"] = token
        raise ApiError(f"GET {path}: more than {MAX_PAGES} pages for one window", status=200)
