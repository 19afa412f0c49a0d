"""Typed dependencies of the routes: the calling client (`CallerDep`), the database (`DatabaseDep`), settings.

A route declares its parameters and hands its work to `caller.run(body, ...)`; the body runs in one worker
thread on one pooled connection (fitpipe_api.admission) and receives a `Call`: that connection, the
principal the bearer token authenticated on it (an API token, or a signed-in person's session token), and
the audit writer. So a request takes one connection and one thread hop, authentication included, and no
connection waits for a thread. A `signin` token may only start sessions: `run(..., any_principal=True)` lets
it through (the sign-in routes), every other route answers it 403.

    @router.get("")
    async def get_thing(caller: CallerDep, user_id: UserIdQuery) -> Response:
        return await caller.run(_thing, user_id)

    def _thing(call: Call, user_id: str) -> Response:
        p = visible_participant(call.db, call.principal, user_id)
        call.audit.record("read_thing", [p.id])
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fitpipe.sessions import authenticate_session, is_session_token
from fitpipe.settings import Settings
from fitpipe.tokens import Principal, authenticate
from fitpipe_api.admission import Database, ExportLease
from fitpipe_api.audit import Auditor
from fitpipe_api.request_ids import RequestIds

__all__ = [
    "Call",
    "Caller",
    "CallerDep",
    "DatabaseDep",
    "SettingsDep",
    "request_ids",
    "require_contact",
    "authenticate_bearer",
    "auditor",
    "who",
    "require_admin",
]

T = TypeVar("T")

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `fitpipe token create`, or a session token from `POST /api/v1/auth/sign-in`.",
)


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_database)]


def request_ids(request: Request) -> RequestIds:
    """The ids RequestIdMiddleware gave the request (a fresh pair when the app runs without it)."""
    ids = request.scope.setdefault("state", {}).get("request_ids")
    if ids is None:
        import uuid

        ids = RequestIds(uuid.uuid4().hex, None)
        request.scope["state"]["request_ids"] = ids
    return ids  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Call:
    """What a route's body works with: one connection, the authenticated caller, the audit writer."""

    db: psycopg.Connection
    principal: Principal
    audit: Auditor


_UNAUTHORIZED = {
    "missing": (
        "missing bearer token: send 'Authorization: Bearer <token>' (create one with `fitpipe token create`)",
        "Bearer",
    ),
    "invalid": ("unknown, expired or revoked token", 'Bearer error="invalid_token"'),
    "session": (
        "the session has ended (signed out, expired or idle too long): sign in again",
        'Bearer error="invalid_token"',
    ),
}


def _unauthorized(kind: str) -> HTTPException:
    detail, challenge = _UNAUTHORIZED[kind]
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge})


def authenticate_bearer(conn: psycopg.Connection, token: str, *, any_principal: bool = False) -> Principal:
    """The principal of an API or session token, or 401; a `signin` token is 403 unless `any_principal`."""
    session = is_session_token(token)
    principal = authenticate_session(conn, token) if session else authenticate(conn, token)
    if principal is None:
        raise _unauthorized("session" if session else "invalid")
    if not any_principal and not principal.reads_data:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a signin token can only start sessions (POST /api/v1/auth/proxy-sign-in)",
        )
    return principal


class Caller:
    """The client of one request: its bearer token and ids, and the way to run its work on the database."""

    def __init__(self, request: Request, database: Database, token: str, ids: RequestIds) -> None:
        self._state = request.scope.setdefault("state", {})
        self.database = database
        self._token = token
        self.ids = ids

    def _call(self, conn: psycopg.Connection, any_principal: bool) -> Call:
        principal = authenticate_bearer(conn, self._token, any_principal=any_principal)
        self._state["principal"] = principal  # for the answer log
        return Call(conn, principal, auditor(conn, principal, self.ids))

    def _body(
        self, conn: psycopg.Connection, any_principal: bool, body: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        return body(self._call(conn, any_principal), *args, **kwargs)

    async def run(self, body: Callable[..., T], *args: Any, any_principal: bool = False, **kwargs: Any) -> T:
        """`body(call, *args, **kwargs)` as one unit of work: authenticate, then the route's work."""
        return await self.database.run(self._body, any_principal, body, *args, **kwargs)

    async def export(self, body: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[ExportLease, T]:
        """Like run, on an export's connection that stays taken (for the stream) until the lease is closed."""
        lease = await self.database.export()
        try:
            return lease, await lease.run(self._body, False, body, *args, **kwargs)
        except BaseException:
            await lease.close()
            raise


def auditor(conn: psycopg.Connection, principal: Principal, ids: RequestIds) -> Auditor:
    """The audit writer of a principal: its API token, or the signed-in person and their session."""
    return Auditor(conn, principal.token_id, ids, user_id=principal.user_id, session_id=principal.session_id)


async def get_caller(
    request: Request,
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    # async, like every dependency here: it runs on the event loop, not in a worker thread.
    # Refused before any slot or connection is taken: a request without a token costs no database work.
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing")
    return Caller(request, database, credentials.credentials, request_ids(request))


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_contact(principal: Principal) -> None:
    if not principal.can_contact:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{who(principal)} cannot contact participants")


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{who(principal)} cannot do this: admin only")


def who(principal: Principal) -> str:
    """'a coordinator token' or 'alice (analyst)', for refusals."""
    if principal.user_id is not None:
        return f"{principal.name} ({principal.role})"
    return f"a {principal.role} token"
