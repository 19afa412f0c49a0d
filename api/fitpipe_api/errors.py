"""Turning errors into HTTP answers: the only place that knows status codes for them.

    fitpipe's domain errors (fitpipe/errors.py)       → 404, 409, 422 (naming `parameter`), 400, 503;
                                                        sign-in: 401, 403 (disabled), 423 (locked, Retry-After)
    ServerBusy (fitpipe_api.admission)                → 503 + Retry-After, reason "busy"
    DatabaseUnavailable (fitpipe_api.admission)       → 503 + Retry-After, reason "database_unavailable"
    psycopg.OperationalError: connection lost/refused → 503 + Retry-After, reason "database_unavailable"
                              statement timeout       → 503 + Retry-After, reason "timeout"
                              deadlock, serialization
                              failure, lock not granted→ 503 + Retry-After, reason "busy" (concurrent work won;
                                                        the transaction was rolled back, a retry succeeds)
                              a query beyond a limit  → 422 (a parameter made it too big)
    psycopg.DataError (a value the database refuses)  → 422
    RequestValidationError (FastAPI's parameter check)→ 422 naming `parameter`; the offending input is cut to
                                                        a short preview, never echoed whole, and values JSON
                                                        cannot hold (1e309, NaN) do not break the answer

Anything else is a bug and answers 500 (logged with its traceback, counted by the HTTP histogram).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError

from fitpipe.errors import (
    AccountDisabledError,
    AccountLockedError,
    ConfigError,
    ConflictError,
    DatabaseError,
    FitpipeError,
    InputError,
    NotFoundError,
    SignInError,
)
from fitpipe_api.admission import DatabaseUnavailable, ServerBusy
from fitpipe_api.responses import JSONResponse

__all__ = ["install_error_handlers", "STATUS", "ERROR_RESPONSES", "INPUT_PREVIEW"]

STATUS: list[tuple[type[FitpipeError], int]] = [
    (AccountLockedError, 423),
    (AccountDisabledError, 403),
    (SignInError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InputError, 422),
    (ConfigError, 400),
    (ServerBusy, 503),
    (DatabaseError, 503),
]

INPUT_PREVIEW = 80
"""Characters of an invalid input a 422 shows back (a 50 MB body is not echoed)."""

# SQLSTATE classes and codes that mean "no database to talk to" rather than "this query is wrong"
_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")
_QUERY_CANCELED = "57014"
# lost to concurrent work, rolled back, worth retrying: serialization failure, deadlock, lock not available
_CONTENTION = ("40001", "40P01", "55P03")
_LIMIT_EXCEEDED_CLASS = "54"


def _status(exc: FitpipeError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


def _preview(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else _preview(str(value))  # JSON numbers beyond that lose digits
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= INPUT_PREVIEW else text[:INPUT_PREVIEW] + f"… ({len(text):,} characters)"


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's 422 body (detail: [{type, loc, msg, input}]) with short inputs, plus the first `parameter`."""
    detail = []
    for error in errors[:20]:
        entry = {k: v for k, v in error.items() if k in ("type", "loc", "msg")}
        if "input" in error:
            entry["input"] = _preview(error["input"])
        if "ctx" in error:
            entry["ctx"] = {k: _preview(v) for k, v in error["ctx"].items()}
        detail.append(entry)
    body: dict[str, Any] = {"detail": jsonable_encoder(detail)}
    if errors:
        body["parameter"] = _parameter(tuple(errors[0].get("loc", ())))
    return body


def _parameter(loc: tuple[Any, ...]) -> str:
    """("query", "start_date") → start_date; ("body", "force") → force; ("body",) → body."""
    if len(loc) >= 2 and loc[0] in ("query", "path", "header", "cookie"):
        return str(loc[1])
    return ".".join(str(p) for p in loc[1:]) or str(loc[0] if loc else "body")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def handle_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(psycopg.DataError)
    async def handle_data_error(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # a value the database cannot take (NUL bytes, out-of-range numbers) got past validation
        return JSONResponse(
            {
                "detail": "a parameter holds a value the database cannot store or compare (e.g. a NUL byte)",
                "hint": "check the request's parameters",
            },
            status_code=422,
        )

    @app.exception_handler(psycopg.OperationalError)
    async def handle_operational(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        retry = request.app.state.settings.fitpipe_api_retry_after_seconds
        state = exc.sqlstate or ""
        if state == _QUERY_CANCELED:
            return JSONResponse(
                {
                    "detail": "the query took longer than the server allows",
                    "hint": "ask for a shorter span or a coarser granularity, or retry later",
                    "reason": "timeout",
                },
                status_code=503,
                headers=_retry_after(retry),
            )
        if state in _CONTENTION:
            return JSONResponse(
                {
                    "detail": "the database rolled this request's work back because of concurrent work "
                    "(a deadlock, a serialization failure or a lock not granted)",
                    "hint": "retry after the given seconds",
                    "reason": "busy",
                },
                status_code=503,
                headers=_retry_after(retry),
            )
        if state.startswith(_LIMIT_EXCEEDED_CLASS):
            return JSONResponse(
                {
                    "detail": "the request asks for more than the database can handle in one query",
                    "hint": "send fewer or shorter parameter values",
                },
                status_code=422,
            )
        if state and not state.startswith(_UNAVAILABLE_CLASSES):
            raise exc  # a bug, not the database's state: 500 with its traceback
        return JSONResponse(
            {
                "detail": "the database is unavailable",
                "hint": "retry later",
                "reason": "database_unavailable",
            },
            status_code=503,
            headers=_retry_after(retry),
        )

    @app.exception_handler(FitpipeError)
    async def handle(request: Request, exc: FitpipeError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        field = getattr(exc, "field", None)
        if field:
            body["parameter"] = field
        headers: dict[str, str] = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = _retry_after(retry_after)
            body["reason"] = "busy" if isinstance(exc, ServerBusy) else "database_unavailable"
        elif isinstance(exc, DatabaseUnavailable | DatabaseError):
            body["reason"] = "database_unavailable"
        if isinstance(exc, AccountLockedError):
            seconds = (exc.until - datetime.now(UTC)).total_seconds()
            headers["Retry-After"] = str(max(1, math.ceil(seconds)))
        return JSONResponse(body, status_code=_status(exc), headers=headers)


_ERROR_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "detail": {},
                "hint": {"type": "string"},
                "parameter": {"type": "string"},
                "reason": {"type": "string", "enum": ["busy", "database_unavailable", "timeout"]},
            },
            "required": ["detail"],
        }
    }
}

_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "The request contradicts the configuration", "content": _ERROR_BODY},
    401: {"description": "Missing, unknown, expired or revoked bearer token", "content": _ERROR_BODY},
    403: {"description": "The token's role may not do this", "content": _ERROR_BODY},
    404: {
        "description": "No such participant, study or metric visible to this token",
        "content": _ERROR_BODY,
    },
    409: {
        "description": "Conflicts with what is stored (e.g. a contact within the cooldown)",
        "content": _ERROR_BODY,
    },
    413: {"description": "The request body is larger than the server accepts", "content": _ERROR_BODY},
    414: {"description": "The query string is longer than the server accepts", "content": _ERROR_BODY},
    422: {"description": "A parameter is missing or invalid; `parameter` names it", "content": _ERROR_BODY},
    502: {"description": "An upstream service (SMTP) failed", "content": _ERROR_BODY},
    503: {
        "description": "Temporarily unable to answer: `reason` is busy (every connection in use), "
        "database_unavailable or timeout; retry after Retry-After seconds",
        "content": _ERROR_BODY,
        "headers": _RETRY_AFTER,
    },
}
"""Documented on every /api/v1 route so clients (and schemathesis) know every answer."""
