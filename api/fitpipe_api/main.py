"""The FastAPI application: create_app() wires settings, the pool and its admission gates, the middleware
(request ids, answer log, HTTP metrics, size limits), error handlers and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import PlainTextResponse, Response

from fitpipe import __version__
from fitpipe.db import database_url
from fitpipe.dbroles import API
from fitpipe.monitoring.http import HttpMetricsMiddleware
from fitpipe.settings import Settings, get_settings
from fitpipe_api.adherence import flagged_counts
from fitpipe_api.admission import Database
from fitpipe_api.db import LoginGuard, make_pool
from fitpipe_api.errors import ERROR_RESPONSES, install_error_handlers
from fitpipe_api.limits import SizeLimitMiddleware
from fitpipe_api.logs import AnswerLogMiddleware
from fitpipe_api.metrics import create_metrics
from fitpipe_api.request_ids import RequestIdMiddleware
from fitpipe_api.routes import (
    adherence,
    auth,
    catalog,
    contact,
    health,
    ingest,
    participants,
    sleep,
    sources,
    timeseries,
)
from fitpipe_api.strict_query import strict_query

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, url: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    url = url or database_url(settings, role=API)
    guard = LoginGuard(settings.fitpipe_api_allow_superuser)
    pool = make_pool(url, settings, guard)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        guard.check_at_start(url)  # refuses to start as a superuser (unless FITPIPE_API_ALLOW_SUPERUSER)
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="fitpipe API",
        version=__version__,
        description="Wearable data of a clinical trial: time series, adherence, participants, contact. "
        "Every route under /api/v1 needs `Authorization: Bearer <token>`: an API token (`fitpipe token create`) "
        "or a person's session token (`POST /api/v1/auth/sign-in`).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    database = Database(pool, settings)
    app.state.database = database
    app.state.login_guard = guard
    install_error_handlers(app)
    registry = CollectorRegistry()
    metrics = create_metrics(
        registry,
        connect=pool.connection,
        pool=pool,
        flagged=flagged_counts,
        gates=(database.requests, database.exports),
    )
    app.state.registry = registry
    # the last added runs first: ids → answer log → metrics → size limits → the app
    app.add_middleware(
        SizeLimitMiddleware,
        max_body=settings.fitpipe_api_max_body_bytes,
        max_query=settings.fitpipe_api_max_query_bytes,
    )
    app.add_middleware(HttpMetricsMiddleware, histogram=metrics.http_request_duration)
    app.add_middleware(AnswerLogMiddleware)
    app.add_middleware(RequestIdMiddleware)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics (the API's and the ingest job's)",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
    )
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(health.router)
    strict = [Depends(strict_query)]
    for module in (auth, timeseries, participants, adherence, contact, sleep, catalog, ingest):
        app.include_router(module.router, prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=strict)
    # the OAuth callback receives whatever parameters Google adds: no strict check there
    app.include_router(sources.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    return app
