"""Liveness and readiness probes (no authentication).

Ready means: the database answers, its schema is one this code runs on (a range, so a rolling upgrade
keeps old and new pods ready; fitpipe/migrations.py), and the API's login is its own least-privilege role
(or FITPIPE_API_ALLOW_SUPERUSER says otherwise, which the answer then states).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fitpipe.errors import FitpipeError
from fitpipe.migrations import check_schema_compatible
from fitpipe_api.db import ALLOW_SETTING, LoginGuard
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="The database is reachable, its schema compatible and the API's login its own")
def readyz(request: Request) -> Response:
    guard: LoginGuard = request.app.state.login_guard
    try:
        with request.app.state.pool.connection(timeout=5) as conn:
            compat = check_schema_compatible(conn)
    except FitpipeError as exc:
        return JSONResponse({"status": "not ready", "detail": exc.message, "hint": exc.hint}, status_code=503)
    except Exception as exc:  # the pool raises its own errors when the database is down
        if guard.refusal is not None:  # every connection was refused because of its login
            return JSONResponse(
                {"status": "not ready", "detail": guard.refusal.message, "hint": guard.refusal.hint},
                status_code=503,
            )
        return JSONResponse(
            {"status": "not ready", "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503
        )
    body: dict[str, Any] = {
        "status": "ready",
        "schema_version": compat.version,
        "schema_supported": {"oldest": compat.oldest, "newest_known": compat.newest_known},
    }
    if guard.info is not None:
        body["database_login"] = guard.info.user
        if not guard.info.least_privilege:
            body["warning"] = (
                f"the API's database login {guard.info.user} {'; '.join(guard.info.escalations)} "
                f"(allowed by {ALLOW_SETTING})"
            )
    return JSONResponse(body)
