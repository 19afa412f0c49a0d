"""A local fake of the Google Health API v4 and Google's OAuth endpoints, served over real HTTP on loopback.

It implements what ../shared/formats/google-health-api.md says the real service does: the consent
redirect (state, PKCE), the token endpoint (authorization_code and refresh_token grants, rotating
refresh tokens when asked, invalid_grant once revoked), `/v4/users/me/identity`, `dataPoints` lists with
AIP-160 filters (only >= and <, AND; sleep only by end time; end_time refused on steps), page sizes
(default 1440, max 10000; sleep 25), opaque page tokens and newest-first order, per-user quotas (429
RESOURCE_EXHAUSTED), injected 429/503/504 with or without Retry-After, 410 Gone for the retired Fitbit Web
API, and signed webhook notifications. Every request is logged with the (injectable) clock's time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.health_points import Point

__all__ = ["FakeGoogleHealth", "VirtualClock", "RealClock", "Logged", "TYPES"]

SCOPE = "https://www.googleapis.com/auth/googlehealth."
ALL_SCOPES = (
    SCOPE + "activity_and_fitness.readonly",
    SCOPE + "health_metrics_and_measurements.readonly",
    SCOPE + "sleep.readonly",
)

# data type -> (JSON member, time kind, scope)
TYPES: dict[str, tuple[str, str, str]] = {
    "heart-rate": ("heartRate", "sample", ALL_SCOPES[1]),
    "heart-rate-variability": ("heartRateVariability", "sample", ALL_SCOPES[1]),
    "daily-heart-rate-variability": ("dailyHeartRateVariability", "date", ALL_SCOPES[1]),
    "oxygen-saturation": ("oxygenSaturation", "sample", ALL_SCOPES[1]),
    "daily-oxygen-saturation": ("dailyOxygenSaturation", "date", ALL_SCOPES[1]),
    "daily-respiratory-rate": ("dailyRespiratoryRate", "date", ALL_SCOPES[1]),
    "respiratory-rate-sleep-summary": ("respiratoryRateSleepSummary", "sample", ALL_SCOPES[1]),
    "active-zone-minutes": ("activeZoneMinutes", "interval", ALL_SCOPES[0]),
    "steps": ("steps", "interval", ALL_SCOPES[0]),
    "sleep": ("sleep", "sleep", ALL_SCOPES[2]),
}


class VirtualClock:
    """Monotonic time that only moves when someone sleeps (shared by the client's limiter and the fake)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


@dataclass
class Logged:
    at: float
    user: str | None
    method: str
    path: str
    params: dict[str, str]
    status: int


@dataclass
class FakeUser:
    key: str
    health_user_id: str
    legacy_user_id: str
    scopes: tuple[str, ...] = ALL_SCOPES
    points: dict[str, list[tuple[float, Point]]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: bool = False
    injected: deque[tuple[int, str | None]] = field(default_factory=deque)
    quota: deque[float] = field(default_factory=deque)
    version: int = 0
    """Bumped when points are added: the cache of filtered lists is keyed by it."""


def _error(
    code: int, status: str, message: str, reason: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    details = (
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "health.googleapis.com",
            }
        ]
        if reason
        else []
    )
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status, "details": details}},
        status_code=code,
        headers=headers,
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _civil(c: dict[str, Any]) -> datetime:
    d, t = c["date"], c.get("time", {})
    return datetime(
        d["year"], d["month"], d["day"], t.get("hours", 0), t.get("minutes", 0), t.get("seconds", 0)
    )


def _sort_key(data_type: str, point: Point) -> float:
    member, kind, _ = TYPES[data_type]
    m = point[member]
    if kind == "sample":
        return _instant(m["sampleTime"]["physicalTime"]).timestamp()
    if kind in ("interval", "sleep"):
        return _instant(m["interval"]["startTime"]).timestamp()
    d = m["date"]
    return datetime(d["year"], d["month"], d["day"], tzinfo=UTC).timestamp()


_CLAUSE = re.compile(r'^\s*([a-z_][a-z_.]*)\s*(>=|<=|!=|=|>|<)\s*"([^"]*)"\s*$')


class _FilterError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _clauses(data_type: str, text: str) -> list[tuple[str, str, Any]]:
    """[(member path, op, parsed value)] of an AIP-160 filter; _FilterError as the real API would refuse."""
    member, kind, _ = TYPES[data_type]
    snake = data_type.replace("-", "_")
    allowed = {
        "sample": {"sample_time.physical_time", "sample_time.civil_time"},
        "interval": {"interval.start_time", "interval.civil_start_time"},
        "sleep": {"interval.end_time", "interval.civil_end_time"},
        "date": {"date"},
    }[kind]
    out = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = _CLAUSE.match(part)
        if not match:
            raise _FilterError("INVALID_DATA_POINT_FILTER", f"cannot parse filter clause {part!r}")
        path, op, value = match.groups()
        if op not in (">=", "<"):
            raise _FilterError("INVALID_DATA_POINT_FILTER", f"operator {op} is not supported; use >= and <")
        head, _, rest = path.partition(".")
        if head != snake:
            raise _FilterError("INVALID_DATA_POINT_FILTER_DATA_TYPE", f"{head} is not the data type {snake}")
        if rest not in allowed:
            raise _FilterError("INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER", f"{path} cannot be filtered on")
        try:
            parsed: Any = (
                date.fromisoformat(value)
                if rest == "date"
                else datetime.fromisoformat(value)
                if "civil" in rest
                else _instant(value)
            )
        except ValueError:
            raise _FilterError("INVALID_DATA_POINT_FILTER", f"{value!r} is not a valid time") from None
        if "civil" not in rest and rest != "date" and not value.endswith("Z"):
            raise _FilterError("INVALID_DATA_POINT_FILTER", f"{value!r}: physical times need a Z suffix")
        out.append((rest, op, parsed))
    return out


def _value_of(data_type: str, point: Point, path: str) -> Any:
    m = point[TYPES[data_type][0]]
    if path == "date":
        d = m["date"]
        return date(d["year"], d["month"], d["day"])
    if path.startswith("sample_time"):
        st = m["sampleTime"]
        return _civil(st["civilTime"]) if "civil" in path else _instant(st["physicalTime"])
    iv = m["interval"]
    key = {"interval.start_time": "startTime", "interval.end_time": "endTime"}.get(path)
    if key:
        return _instant(iv[key])
    return _civil(iv["civilStartTime" if "start" in path else "civilEndTime"])


class FakeGoogleHealth:
    def __init__(
        self,
        *,
        clock: Any = None,
        client_id: str = "fitpipe-test.apps.googleusercontent.com",
        client_secret: str | None = None,
        rotate_refresh_tokens: bool = False,
        user_quota: int = 300,
        access_token_seconds: int = 3599,
    ) -> None:
        self.clock = clock or RealClock()
        self.client_id = client_id
        self.client_secret = client_secret or "GOCSPX-" + secrets.token_urlsafe(18)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        """Fitbit's behaviour: each refresh returns a new refresh token and the old one stops working."""
        self.user_quota = user_quota
        self.access_token_seconds = access_token_seconds
        self.empty_first_pages = False
        """Quirk seen in the wild: the first page of a list is empty and still carries a token."""
        self.last_token_empty_string = True
        """The last page carries "nextPageToken": "" (False: no nextPageToken at all)."""
        self.request_delay = 0.0
        """Seconds each data request takes (real time), to make concurrent participants overlap."""
        self.refresh_delay = 0.0
        """Seconds the refresh grant takes (real time), to widen races between concurrent refreshes."""
        self.token_failures: deque[int] = deque()
        """Statuses the token endpoint answers next (e.g. 503), before working normally."""
        self.consenting: str | None = None
        """The user who says yes on the consent screen; None: the person declines."""
        self.users: dict[str, FakeUser] = {}
        self.log: list[Logged] = []
        self.refreshes: list[tuple[float, str, bool]] = []
        """(time, user, succeeded) of every refresh_token grant."""
        self.issued: list[str] = []
        """Every token and code the fake handed out (tests check none of them reaches a log)."""
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._matches: dict[tuple[str, str, str], tuple[int, list[Point]]] = {}
        self.max_users_in_flight = 0
        self._signing_key = ec.generate_private_key(ec.SECP256R1())
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self._authorize, methods=["GET"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/revoke", self._revoke, methods=["POST"]),
                Route("/v4/users/{who}/identity", self._identity, methods=["GET"]),
                Route("/v4/users/{who}/dataTypes/{data_type}/dataPoints", self._list, methods=["GET"]),
                Route("/{path:path}", self._other, methods=["GET", "POST"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- running ---------------------------------------------------------------------------------
    def start(self) -> FakeGoogleHealth:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws="none",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-google-health", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Google Health server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def env(self) -> dict[str, str]:
        """The settings that point fitpipe at this fake."""
        return {
            "GOOGLE_HEALTH_API_BASE": self.url,
            "GOOGLE_OAUTH_AUTHORIZE_URL": f"{self.url}/o/oauth2/v2/auth",
            "GOOGLE_OAUTH_TOKEN_URL": f"{self.url}/token",
            "GOOGLE_OAUTH_REVOKE_URL": f"{self.url}/revoke",
            "GOOGLE_CLIENT_ID": self.client_id,
            "GOOGLE_CLIENT_SECRET": self.client_secret,
        }

    # ---- what tests set up -----------------------------------------------------------------------
    def add_user(self, key: str, *, scopes: Iterable[str] = ALL_SCOPES) -> FakeUser:
        with self._lock:
            n = len(self.users) + 1
            user = FakeUser(
                key, health_user_id=f"{n:020d}", legacy_user_id=f"FB{n:04d}X", scopes=tuple(scopes)
            )
            self.users[key] = user
        return user

    def add_points(self, key: str, data_type: str, points: list[Point]) -> None:
        with self._lock:
            stored = self.users[key].points.setdefault(data_type, [])
            stored.extend((_sort_key(data_type, p), p) for p in points)
            stored.sort(key=lambda kp: -kp[0])  # newest first, as the API answers
            self.users[key].version += 1

    def inject(self, key: str, *statuses: int, retry_after: str | None = None) -> None:
        """The user's next data requests are answered with these statuses (429 with `retry_after` if given)."""
        with self._lock:
            self.users[key].injected.extend((s, retry_after) for s in statuses)

    def revoke(self, key: str) -> None:
        """The person removed fitpipe's access in their Google account."""
        with self._lock:
            user = self.users[key]
            user.revoked = True
            for token, (owner, _) in list(self._access.items()):
                if owner == key:
                    del self._access[token]

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access.clear()

    def issue_tokens(self, key: str) -> dict[str, Any]:
        """Tokens as the code exchange returns them, without the consent screen (for tests that start later)."""
        with self._lock:
            return self._new_tokens(key, with_refresh=True)

    def requests(self, user: str | None = None, *, path: str = "/dataPoints") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path in r.path and (user is None or r.user == user)]

    def public_key_pem(self) -> str:
        return (
            self._signing_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self._signing_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def notification(
        self, key: str, data_type: str, start: datetime, end: datetime, operation: str = "UPSERT"
    ) -> dict[str, Any]:
        return {
            "data": {
                "version": "1",
                "clientProvidedSubscriptionName": "fitpipe",
                "healthUserId": self.users[key].health_user_id,
                "operation": operation,
                "dataType": data_type,
                "intervals": [
                    {
                        "physicalTimeInterval": {
                            "startTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "endTime": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        }
                    }
                ],
            }
        }

    # ---- internals -------------------------------------------------------------------------------
    def _new_tokens(self, key: str, *, with_refresh: bool) -> dict[str, Any]:
        access = "ya29.fake-" + secrets.token_urlsafe(24)
        self._access[access] = (key, self.clock.monotonic() + self.access_token_seconds)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_seconds,
            "token_type": "Bearer",
            "scope": " ".join(self.users[key].scopes),
        }
        self.issued.append(access)
        if with_refresh:
            refresh = "1//fake-" + secrets.token_urlsafe(32)
            self._refresh[refresh] = key
            self.users[key].refresh_tokens.add(refresh)
            answer["refresh_token"] = refresh
            self.issued.append(refresh)
        return answer

    def _record(self, request: Request, user: str | None, status: int) -> None:
        self.log.append(
            Logged(
                self.clock.monotonic(),
                user,
                request.method,
                request.url.path,
                dict(request.query_params),
                status,
            )
        )

    def _user_of(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        found = self._access.get(auth[7:])
        if found is None or found[1] <= self.clock.monotonic():
            return None
        key = found[0]
        return None if self.users[key].revoked else key

    def _gate(self, request: Request, data_type: str | None = None) -> tuple[str | None, Response | None]:
        """(user, refusal): authentication, the path's user, scopes, injected failures and the per-user quota."""
        with self._lock:
            user = self._user_of(request)
            if user is None:
                refusal: Response | None = _error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials.",
                    "INVALID_AUTHENTICATOR",
                )
            elif request.path_params.get("who") != "me":
                refusal = _error(400, "INVALID_ARGUMENT", "Use users/me in the path.", "INVALID_USER_ID")
            elif data_type is not None and TYPES[data_type][2] not in self.users[user].scopes:
                refusal = _error(
                    403,
                    "PERMISSION_DENIED",
                    "The caller does not have permission.",
                    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                )
            else:
                u = self.users[user]
                now = self.clock.monotonic()
                while u.quota and u.quota[0] <= now - 60:
                    u.quota.popleft()
                u.quota.append(now)
                refusal = None
                if u.injected:
                    status, retry_after = u.injected.popleft()
                    words = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
                    refusal = _error(
                        status,
                        words.get(status, "UNKNOWN"),
                        "injected by the test",
                        None,
                        {"Retry-After": retry_after} if retry_after else None,
                    )
                elif len(u.quota) > self.user_quota:
                    refusal = _error(
                        429,
                        "RESOURCE_EXHAUSTED",
                        "Quota exceeded for quota metric 'Requests per user'.",
                        "RATE_LIMIT_EXCEEDED",
                    )
            self._record(request, user, refusal.status_code if refusal is not None else 200)
            if refusal is None and user is not None:
                self._in_flight[user] = self._in_flight.get(user, 0) + 1
                self.max_users_in_flight = max(
                    self.max_users_in_flight, sum(1 for v in self._in_flight.values() if v)
                )
            return user, refusal

    def _done(self, user: str) -> None:
        with self._lock:
            self._in_flight[user] -= 1

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if (
            q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        redirect, state = q["redirect_uri"], q.get("state", "")
        with self._lock:
            if self.consenting is None:
                return RedirectResponse(
                    f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}", 302
                )
            user = self.users[self.consenting]
            scopes = [s for s in q.get("scope", "").split() if s in user.scopes]
            code = "4/fake-" + secrets.token_urlsafe(24)
            self.issued.append(code)
            self._codes[code] = {
                "user": user.key,
                "challenge": q["code_challenge"],
                "redirect_uri": redirect,
                "scopes": scopes,
            }
        return RedirectResponse(
            f"{redirect}?{urlencode({'state': state, 'code': code, 'scope': ' '.join(scopes)})}", 302
        )

    def _client_ok(self, form: dict[str, str], request: Request) -> bool:
        cid, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        return cid == self.client_id and secret == self.client_secret

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        grant = form.get("grant_type")
        if grant == "refresh_token" and self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        with self._lock:
            self._record(request, None, 0)
            if self.token_failures:
                status = self.token_failures.popleft()
                self.log[-1].status = status
                return JSONResponse({"error": "backend_error"}, status_code=status)
            if not self._client_ok(form, request):
                self.log[-1].status = 401
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                    status_code=401,
                )
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                )
                if (
                    code is None
                    or code["redirect_uri"] != form.get("redirect_uri")
                    or code["challenge"] != challenge
                ):
                    self.log[-1].status = 400
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "Bad Request"}, status_code=400
                    )
                answer = self._new_tokens(code["user"], with_refresh=True)
                answer["scope"] = " ".join(code["scopes"])
                self.users[code["user"]].scopes = tuple(code["scopes"])
                self.log[-1].status = 200
                return JSONResponse(answer)
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                key = self._refresh.get(token)
                if key is None or self.users[key].revoked or token not in self.users[key].refresh_tokens:
                    self.refreshes.append((self.clock.monotonic(), key or "?", False))
                    self.log[-1].status = 400
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                        status_code=400,
                    )
                if self.rotate_refresh_tokens:  # single-use: the old one dies with this answer
                    self.users[key].refresh_tokens.discard(token)
                answer = self._new_tokens(key, with_refresh=self.rotate_refresh_tokens)
                self.refreshes.append((self.clock.monotonic(), key, True))
                self.log[-1].status = 200
                return JSONResponse(answer)
            self.log[-1].status = 400
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def _revoke(self, request: Request) -> Response:
        token = dict(parse_qsl((await request.body()).decode())).get("token", "")
        with self._lock:
            key = self._refresh.get(token) or (self._access.get(token) or (None,))[0]
        if key is None:
            return JSONResponse({"error": "invalid_token"}, status_code=400)
        self.revoke(key)
        return Response(status_code=200)

    async def _identity(self, request: Request) -> Response:
        user, refusal = self._gate(request)
        if refusal is not None:
            return refusal
        assert user is not None
        try:
            u = self.users[user]
            return JSONResponse(
                {
                    "name": f"users/{u.health_user_id}/identity",
                    "legacyUserId": u.legacy_user_id,
                    "healthUserId": u.health_user_id,
                }
            )
        finally:
            self._done(user)

    async def _list(self, request: Request) -> Response:
        data_type = request.path_params["data_type"]
        if data_type not in TYPES:
            return _error(400, "INVALID_ARGUMENT", f"unknown data type {data_type}", "INVALID_DATA_TYPE")
        user, refusal = self._gate(request, data_type)
        if refusal is not None:
            return refusal
        assert user is not None
        try:
            if self.request_delay:
                await asyncio.sleep(self.request_delay)
            return self._page(request, user, data_type)
        finally:
            self._done(user)

    def _page(self, request: Request, user: str, data_type: str) -> Response:
        q = request.query_params
        limit = 25 if data_type == "sleep" else 10_000
        try:
            size = int(q.get("pageSize") or (25 if data_type == "sleep" else 1440))
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be a number", "INVALID_PAGE_SIZE")
        if size < 0:
            return _error(400, "INVALID_ARGUMENT", "pageSize must not be negative", "INVALID_PAGE_SIZE")
        size = min(size or limit, limit)
        text = q.get("filter", "")
        try:
            clauses = _clauses(data_type, text) if text else []
        except _FilterError as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc), exc.reason)
        with self._lock:
            version = self.users[user].version
            cached = self._matches.get((user, data_type, text))
            stored = list(self.users[user].points.get(data_type, []))
        if cached is not None and cached[0] == version:
            matching = cached[1]  # the next page of the same list: filtered once
        else:
            matching = [
                p
                for _, p in stored
                if all(
                    (_value_of(data_type, p, path) >= v)
                    if op == ">="
                    else (_value_of(data_type, p, path) < v)
                    for path, op, v in clauses
                )
            ]
            with self._lock:
                self._matches[(user, data_type, text)] = (version, matching)
        fingerprint = hashlib.sha256(f"{data_type}|{text}|{size}".encode()).hexdigest()[:16]
        offset, empty_served = 0, False
        if q.get("pageToken"):
            try:
                state = json.loads(base64.urlsafe_b64decode(q["pageToken"]))
                assert state["f"] == fingerprint
                offset, empty_served = int(state["o"]), bool(state["e"])
            except Exception:
                return _error(
                    400,
                    "INVALID_ARGUMENT",
                    "The page token does not belong to this request.",
                    "INVALID_PAGE_TOKEN",
                )

        def token(o: int, e: bool) -> str:
            return base64.urlsafe_b64encode(json.dumps({"o": o, "f": fingerprint, "e": e}).encode()).decode()

        if self.empty_first_pages and not empty_served:
            return JSONResponse({"dataPoints": [], "nextPageToken": token(offset, True)})
        page = matching[offset : offset + size]
        body: dict[str, Any] = {"dataPoints": page}
        if offset + size < len(matching):
            body["nextPageToken"] = token(offset + size, not self.empty_first_pages)
        elif self.last_token_empty_string:
            body["nextPageToken"] = ""
        return JSONResponse(body)

    async def _other(self, request: Request) -> Response:
        path = request.url.path
        with self._lock:
            status = 410 if re.match(r"^/1(\.\d)?/user/", path) else 404
            self._record(request, None, status)
        if status == 410:  # the Fitbit Web API, switched off on 30 Oct 2026
            return JSONResponse(
                {
                    "errors": [
                        {
                            "errorType": "gone",
                            "message": "The Fitbit Web API has been retired. Use the Google Health API.",
                        }
                    ],
                    "success": False,
                },
                status_code=410,
            )
        return _error(404, "NOT_FOUND", f"{path} not found")
