"""Signing in and out: a person's user name and password (or an auth proxy's word, presented with a `signin`
token) become a short-lived session token that acts as that person on every other route; sign-out ends it.

Every sign-in, refusal and sign-out is written to the audit log under the person (never a password, and no
user name that does not exist: it might be a password typed into the wrong field).
"""

from __future__ import annotations

from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Body, HTTPException, Request, status
from pydantic import BaseModel, Field, SecretStr
from starlette.responses import Response

from fitpipe.contracts import Person, SessionOut
from fitpipe.errors import SignInError
from fitpipe.sessions import NewSession, SessionPolicy, end_session, sign_in, start_proxy_session
from fitpipe.tokens import Principal
from fitpipe_api.audit import Auditor
from fitpipe_api.deps import Call, CallerDep, DatabaseDep, SettingsDep, request_ids
from fitpipe_api.request_ids import RequestIds
from fitpipe_api.responses import JSONResponse

router = APIRouter(prefix="/auth", tags=["auth"])

_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {}, "hint": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
SIGN_IN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Wrong user name or password (the answer never says which)", "content": _BODY},
    403: {"description": "The account is disabled (said only after the right password)", "content": _BODY},
    423: {
        "description": "Too many wrong passwords: locked until the time named; Retry-After in seconds",
        "content": _BODY,
    },
}


class SignInRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[SecretStr, Field(min_length=1, max_length=1024)]


class ProxySignInRequest(BaseModel):
    identity: Annotated[
        str, Field(min_length=1, max_length=254, description="What the auth proxy says the person is.")
    ]
    match: Annotated[
        Literal["email", "username"], Field(description="Which user column `identity` is matched with.")
    ] = "email"


def _person(db: psycopg.Connection, principal: Principal) -> Person:
    names: list[str] = []
    if principal.study_ids:
        rows = db.execute(
            "SELECT name FROM studies WHERE id = ANY(%s) ORDER BY name", (sorted(principal.study_ids),)
        ).fetchall()
        names = [r[0] for r in rows]
    return Person(
        username=principal.name if principal.user_id is not None else None,
        name=principal.name,
        role=principal.role,
        all_studies=principal.study_ids is None,
        studies=names,
        can_contact=principal.can_contact,
        sees_emails=principal.sees_emails,
    )


def _session_out(session: NewSession) -> SessionOut:
    user = session.user
    principal = Principal(
        None, user.username, user.role, None if user.all_studies else frozenset(), user_id=user.id
    )
    return SessionOut(
        token=session.token,
        expires_at=session.expires_at,
        idle_timeout_seconds=session.idle_timeout.total_seconds(),
        person=Person(
            username=user.username,
            name=user.username,
            role=user.role,
            all_studies=user.all_studies,
            studies=[] if user.all_studies else user.studies,
            can_contact=principal.can_contact,
            sees_emails=principal.sees_emails,
        ),
    )


def _created(
    db: psycopg.Connection, ids: RequestIds, session: NewSession, via: str, **detail: object
) -> Response:
    Auditor(db, None, ids, user_id=session.user.id, session_id=session.session_id).record(
        "sign_in", [None], {"via": via, **detail}
    )
    return JSONResponse(_session_out(session).model_dump(mode="json"), status_code=201)


def _refused(
    db: psycopg.Connection, ids: RequestIds, exc: SignInError, token_id: int | None, via: str
) -> None:
    Auditor(db, token_id, ids, user_id=exc.user_id).record(
        "sign_in_refused", [None], {"via": via, "reason": exc.reason}
    )


@router.post(
    "/sign-in",
    summary="Exchange a user name and password for a session token that acts as that person",
    status_code=201,
    response_model=SessionOut,
    responses=SIGN_IN_ERRORS,
)
async def sign_in_route(
    request: Request, database: DatabaseDep, settings: SettingsDep, body: Annotated[SignInRequest, Body()]
) -> Response:
    # no bearer token here: one unit of work on the database, as every other route
    return await database.run(_sign_in, request_ids(request), SessionPolicy.from_settings(settings), body)


def _sign_in(db: psycopg.Connection, ids: RequestIds, policy: SessionPolicy, body: SignInRequest) -> Response:
    try:
        session = sign_in(db, body.username, body.password.get_secret_value(), policy)
    except SignInError as exc:
        _refused(db, ids, exc, None, "password")
        raise
    return _created(db, ids, session, "password")


@router.post(
    "/proxy-sign-in",
    summary="Start a session for a person an auth proxy vouched for (needs a `signin` token)",
    status_code=201,
    response_model=SessionOut,
    responses={
        401: SIGN_IN_ERRORS[401],
        403: {"description": "Not a signin token, or no/disabled account", "content": _BODY},
    },
)
async def proxy_sign_in_route(
    caller: CallerDep, settings: SettingsDep, body: Annotated[ProxySignInRequest, Body()]
) -> Response:
    return await caller.run(_proxy_sign_in, SessionPolicy.from_settings(settings), body, any_principal=True)


def _proxy_sign_in(call: Call, policy: SessionPolicy, body: ProxySignInRequest) -> Response:
    broker = call.principal
    if broker.role != "signin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="only a signin token may start sessions for others",
        )
    ids = call.audit.ids
    try:
        session = start_proxy_session(call.db, body.identity, body.match, policy)
    except SignInError as exc:
        _refused(call.db, ids, exc, broker.token_id, "proxy")
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=exc.message + (f"; {exc.hint}" if exc.hint else "")
        ) from None
    return _created(call.db, ids, session, "proxy", signin_token=broker.token_id)


@router.get(
    "/me", summary="Who the bearer token acts as: person or token, role, studies", response_model=Person
)
async def me(caller: CallerDep) -> Response:
    return await caller.run(_me)


def _me(call: Call) -> Response:
    return JSONResponse(_person(call.db, call.principal).model_dump(mode="json"))


@router.post(
    "/sign-out",
    summary="End the session of the bearer session token",
    status_code=204,
    responses={409: {"description": "The bearer token is an API token, not a session", "content": _BODY}},
)
async def sign_out(caller: CallerDep) -> Response:
    return await caller.run(_sign_out, any_principal=True)


def _sign_out(call: Call) -> Response:
    principal = call.principal
    if principal.session_id is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="this is an API token, not a session: revoke it with `fitpipe token revoke`",
        )
    end_session(call.db, principal.session_id)
    Auditor(call.db, None, call.audit.ids, user_id=principal.user_id, session_id=principal.session_id).record(
        "sign_out", [None], {}
    )
    return Response(status_code=204)
