"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fitpipe.errors import FitpipeError
from fitpipe.migrations import check_schema_current
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="The database is reachable and its schema is current")
def readyz(request: Request) -> Response:
    try:
        with request.app.state.pool.connection(timeout=5) as conn:
            version = check_schema_current(conn)
    except FitpipeError as exc:
        return JSONResponse({"status": "not ready", "detail": exc.message, "hint": exc.hint}, status_code=503)
    except Exception as exc:  # the pool raises its own errors when the database is down
        return JSONResponse(
            {"status": "not ready", "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema_version": version})
