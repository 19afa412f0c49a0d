"""Typed dependencies of the routes: a database connection, the calling principal (an API token or a
signed-in person's session token, both as `Authorization: Bearer`), the audit writer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fitpipe.sessions import authenticate_session, is_session_token
from fitpipe.settings import Settings
from fitpipe.tokens import Principal, authenticate
from fitpipe_api.audit import Auditor

__all__ = [
    "DbDep",
    "PrincipalDep",
    "AnyPrincipalDep",
    "AuditDep",
    "SettingsDep",
    "ContactorDep",
    "AdminDep",
    "get_db",
    "require_contact",
    "require_admin",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `fitpipe token create`, or a session token from `POST /api/v1/auth/sign-in`.",
)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


DbDep = Annotated[psycopg.Connection, Depends(get_db)]


def get_any_principal(
    request: Request, db: DbDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Whoever the bearer token names, `signin` tokens included (they may only start sessions)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>' (create one with `fitpipe token create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    principal = authenticate_session(db, token) if is_session_token(token) else authenticate(db, token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown, expired or revoked token"
            if not is_session_token(token)
            else "the session has ended (signed out, expired or idle too long): sign in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


AnyPrincipalDep = Annotated[Principal, Depends(get_any_principal)]


def get_principal(principal: AnyPrincipalDep) -> Principal:
    """A caller that may read data: everyone but a `signin` token."""
    if not principal.reads_data:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a signin token can only start sessions (POST /api/v1/auth/proxy-sign-in)",
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def get_auditor(request: Request, db: DbDep, principal: PrincipalDep) -> Auditor:
    return Auditor(
        db,
        principal.token_id,
        request_id(request),
        user_id=principal.user_id,
        session_id=principal.session_id,
    )


AuditDep = Annotated[Auditor, Depends(get_auditor)]


def require_contact(principal: PrincipalDep) -> Principal:
    if not principal.can_contact:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{_who(principal)} cannot contact participants",
        )
    return principal


ContactorDep = Annotated[Principal, Depends(require_contact)]


def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{_who(principal)} cannot do this: admin only")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def _who(principal: Principal) -> str:
    """'a coordinator token' or 'alice (analyst)', for refusals."""
    if principal.user_id is not None:
        return f"{principal.name} ({principal.role})"
    return f"a {principal.role} token"
