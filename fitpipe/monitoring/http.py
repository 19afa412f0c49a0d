"""ASGI middleware that times every HTTP request into fitpipe_http_request_duration_seconds, labelled by
route template (/participants/{user_id}, never the raw path), method and status code.

Add it to the API with `app.add_middleware(HttpMetricsMiddleware, histogram=metrics.http_request_duration)`.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HttpMetricsMiddleware", "UNMATCHED", "route_template"]

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 from the router): raw paths would be unbounded."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that handled the request, read after the app has run (Starlette's
    router leaves the route in the scope). Mount prefixes come from the scope's root_path, so they are
    literal: fitpipe mounts nothing with path parameters."""
    # FastAPI (>= 0.120) includes routers without copying their routes: the route in the scope has
    # the router-relative path, the full template is in FastAPI's effective route context.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    effective_path = getattr(effective, "path", None)
    if isinstance(effective_path, str):
        return effective_path
    route = scope.get("route")
    mounted: str = scope.get("root_path", "")[len(root_path) :]
    if isinstance(route, Mount):
        # A mounted app that is not a router (static files, a WSGI app) handled it: everything below is one route.
        return mounted + "/{path}"
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return mounted + path


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        status = 500  # what the client sees when the app raises before answering
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope.get("method", "")
            labels: dict[str, Any] = {
                "route": route_template(scope, root_path),
                "method": method if method in _METHODS else "other",
                "status": str(status),
            }
            self.histogram.labels(**labels).observe(time.perf_counter() - start)
