"""Turning fitpipe's domain errors into HTTP answers: the only place that knows status codes for them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import psycopg
from fastapi import FastAPI, Request

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
from fitpipe_api.responses import JSONResponse

__all__ = ["install_error_handlers", "STATUS", "ERROR_RESPONSES"]

STATUS: list[tuple[type[FitpipeError], int]] = [
    (AccountLockedError, 423),
    (AccountDisabledError, 403),
    (SignInError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InputError, 422),
    (ConfigError, 400),
    (DatabaseError, 503),
]


def _status(exc: FitpipeError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
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
    async def handle_unavailable(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        return JSONResponse({"detail": "the database is unavailable", "hint": "retry later"}, status_code=503)

    @app.exception_handler(FitpipeError)
    async def handle(request: Request, exc: FitpipeError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        field = getattr(exc, "field", None)
        if field:
            body["parameter"] = field
        headers = {}
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
            },
            "required": ["detail"],
        }
    }
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
    422: {"description": "A parameter is missing or invalid; `parameter` names it", "content": _ERROR_BODY},
    502: {"description": "An upstream service (SMTP) failed", "content": _ERROR_BODY},
    503: {"description": "The database is unavailable", "content": _ERROR_BODY},
}
"""Documented on every /api/v1 route so clients (and schemathesis) know every answer."""
