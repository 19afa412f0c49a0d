"""Typed dependencies of the routes: a database connection, the calling principal, the audit writer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fitpipe.settings import Settings
from fitpipe.tokens import Principal, authenticate
from fitpipe_api.audit import Auditor

__all__ = [
    "DbDep",
    "PrincipalDep",
    "AuditDep",
    "SettingsDep",
    "ContactorDep",
    "AdminDep",
    "get_db",
    "require_contact",
    "require_admin",
]

_bearer = HTTPBearer(auto_error=False, description="An API token from `fitpipe token create`.")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


DbDep = Annotated[psycopg.Connection, Depends(get_db)]


def get_principal(
    request: Request, db: DbDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>' (create one with `fitpipe token create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = authenticate(db, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown, expired or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def get_auditor(request: Request, db: DbDep, principal: PrincipalDep) -> Auditor:
    return Auditor(db, principal.token_id, request_id(request))


AuditDep = Annotated[Auditor, Depends(get_auditor)]


def require_contact(principal: PrincipalDep) -> Principal:
    if not principal.can_contact:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"a {principal.role} token cannot contact participants"
        )
    return principal


ContactorDep = Annotated[Principal, Depends(require_contact)]


def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"a {principal.role} token cannot do this: admin only"
        )
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
