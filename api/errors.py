"""Turning fitpipe's domain errors into HTTP answers: the only place that knows status codes for them."""

from __future__ import annotations

from fastapi import FastAPI, Request

from api.responses import JSONResponse
from fitpipe.errors import ConfigError, ConflictError, DatabaseError, FitpipeError, InputError, NotFoundError

__all__ = ["install_error_handlers", "STATUS"]

STATUS: list[tuple[type[FitpipeError], int]] = [
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
    @app.exception_handler(FitpipeError)
    async def handle(request: Request, exc: FitpipeError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        field = getattr(exc, "field", None)
        if field:
            body["parameter"] = field
        return JSONResponse(body, status_code=_status(exc))
