"""Typed dependencies of the routes: the calling client (`CallerDep`), the database (`DatabaseDep`), settings.

A route declares its parameters and hands its work to `caller.run(body, ...)`; the body runs in one worker
thread on one pooled connection (fitpipe_api.admission) and receives a `Call`: that connection, the
principal the bearer token authenticated on it, and the audit writer. So a request takes one connection
and one thread hop, authentication included, and no connection waits for a thread.

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
]

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="An API token from `fitpipe token create`.")


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
}


def _unauthorized(kind: str) -> HTTPException:
    detail, challenge = _UNAUTHORIZED[kind]
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge})


class Caller:
    """The client of one request: its bearer token and ids, and the way to run its work on the database."""

    def __init__(self, request: Request, database: Database, token: str, ids: RequestIds) -> None:
        self._state = request.scope.setdefault("state", {})
        self.database = database
        self._token = token
        self.ids = ids

    def _call(self, conn: psycopg.Connection) -> Call:
        principal = authenticate(conn, self._token)
        if principal is None:
            raise _unauthorized("invalid")
        self._state["principal"] = principal  # for the answer log
        return Call(conn, principal, Auditor(conn, principal.token_id, self.ids))

    def _body(self, conn: psycopg.Connection, body: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return body(self._call(conn), *args, **kwargs)

    async def run(self, body: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`body(call, *args, **kwargs)` as one unit of work: authenticate, then the route's work."""
        return await self.database.run(self._body, body, *args, **kwargs)

    async def export(self, body: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[ExportLease, T]:
        """Like run, on an export's connection that stays taken (for the stream) until the lease is closed."""
        lease = await self.database.export()
        try:
            return lease, await lease.run(self._body, body, *args, **kwargs)
        except BaseException:
            await lease.close()
            raise


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
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"a {principal.role} token cannot contact participants"
        )
