"""Liveness and readiness probes (no authentication).

- /healthz: the process answers (liveness). It never touches the database: restarting the API does not
  bring a database back, so a database outage must not make Kubernetes kill healthy API pods.
- /readyz: the database answers on a fresh check of a pooled connection and its schema is current
  (readiness). It uses the connections kept for probes, so it tells the database's state, not the
  API's load, and it answers within the connect timeout even when the database host is gone.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from fitpipe.errors import FitpipeError
from fitpipe.migrations import check_schema_current
from fitpipe_api.admission import Database
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


def _schema_version(database: Database) -> int:
    conn = database.checkout()
    try:
        return check_schema_current(conn)
    finally:
        database.checkin(conn)


@router.get("/readyz", summary="The database is reachable and its schema is current")
async def readyz(request: Request) -> Response:
    database: Database = request.app.state.database
    try:
        version = await anyio.to_thread.run_sync(_schema_version, database)
    except FitpipeError as exc:
        return JSONResponse({"status": "not ready", "detail": exc.message, "hint": exc.hint}, status_code=503)
    except Exception as exc:  # a connection that broke during the check
        return JSONResponse(
            {"status": "not ready", "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema_version": version})
