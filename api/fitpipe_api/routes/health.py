"""Liveness and readiness probes (no authentication).

- /healthz: the process answers (liveness). It never touches the database: restarting the API does not
  bring a database back, so a database outage must not make Kubernetes kill healthy API pods.
- /readyz: ready means the database answers on a freshly checked pooled connection, its schema is one this
  code runs on (a range, so a rolling upgrade keeps old and new pods ready; fitpipe/migrations.py), and the
  API's login is its own least-privilege role (or FITPIPE_API_ALLOW_SUPERUSER says otherwise, which the
  answer then states). It uses the connections kept for probes, so it tells the database's state, not the
  API's load, and it answers within the connect timeout even when the database host is gone.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from fitpipe.contracts import Liveness, NotReady, Readiness
from fitpipe.errors import FitpipeError
from fitpipe.migrations import SchemaCompatibility, check_schema_compatible
from fitpipe_api.admission import Database, DatabaseUnavailable
from fitpipe_api.db import ALLOW_SETTING, LoginGuard
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive", response_model=Liveness)
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


def _schema(database: Database) -> SchemaCompatibility:
    conn = database.checkout()
    try:
        return check_schema_compatible(conn)
    finally:
        database.checkin(conn)


def _not_ready(detail: str, hint: str | None = None) -> Response:
    body = {"status": "not ready", "detail": detail} | ({"hint": hint} if hint else {})
    return JSONResponse(body, status_code=503)


@router.get(
    "/readyz",
    summary="The database is reachable, its schema compatible and the API's login its own",
    response_model=Readiness,
    responses={503: {"model": NotReady, "description": "Not ready: what is wrong and what to do"}},
)
async def readyz(request: Request) -> Response:
    guard: LoginGuard = request.app.state.login_guard
    database: Database = request.app.state.database
    try:
        compat = await anyio.to_thread.run_sync(_schema, database)
    except DatabaseUnavailable as exc:
        if guard.refusal is not None:  # every connection was refused because of its login
            return _not_ready(guard.refusal.message, guard.refusal.hint)
        return _not_ready(exc.message, exc.hint)
    except FitpipeError as exc:
        return _not_ready(exc.message, exc.hint)
    except Exception as exc:  # a connection that broke during the check
        return _not_ready(f"database unreachable: {type(exc).__name__}")
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
