"""The FastAPI application: create_app() wires settings, the pool, error handlers and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import PlainTextResponse, Response

from fitpipe import __version__
from fitpipe.db import database_url
from fitpipe.dbroles import API
from fitpipe.monitoring.http import HttpMetricsMiddleware
from fitpipe.monitoring.metrics import create_metrics
from fitpipe.settings import Settings, get_settings
from fitpipe_api.adherence import flagged_counts
from fitpipe_api.db import LoginGuard, make_pool
from fitpipe_api.errors import ERROR_RESPONSES, install_error_handlers
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
    app.state.login_guard = guard
    install_error_handlers(app)
    registry = CollectorRegistry()
    metrics = create_metrics(registry, connect=pool.connection, pool=pool, flagged=flagged_counts)
    app.state.registry = registry
    app.add_middleware(HttpMetricsMiddleware, histogram=metrics.http_request_duration)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics (the API's and the ingest job's)",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(health.router)
    modules = (auth, timeseries, participants, adherence, contact, sleep, catalog, ingest, sources)
    for router in (m.router for m in modules):
        app.include_router(router, prefix="/api/v1", responses=ERROR_RESPONSES)
    return app
