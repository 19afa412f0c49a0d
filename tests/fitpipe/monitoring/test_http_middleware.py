"""The HTTP metrics middleware on small real Starlette and FastAPI apps: requests are timed under their
route template, never the raw path, with method and status code.
"""

from __future__ import annotations

import time

import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry, Histogram
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from fitpipe.monitoring.http import UNMATCHED, HttpMetricsMiddleware
from fitpipe.monitoring.metrics import family

NAME = "fitpipe_http_request_duration_seconds"


def count(registry: CollectorRegistry, route: str, method: str = "GET", status: str = "200") -> float | None:
    return registry.get_sample_value(f"{NAME}_count", {"route": route, "method": method, "status": status})


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def histogram(registry: CollectorRegistry) -> Histogram:
    """The catalog's family as a process measures it (the API's wiring: tests/api/test_metrics.py)."""
    http = family(NAME)
    return Histogram(http.name, http.help, labelnames=http.labels, buckets=http.buckets, registry=registry)


def fastapi_app(registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/studies/{study}")

    @router.get("/participants/{user_id}")
    def participant(study: str, user_id: str) -> dict[str, str]:
        return {"study": study, "user_id": user_id}

    @router.get("/slow")
    def slow(study: str) -> dict[str, str]:
        time.sleep(0.05)
        return {}

    @router.get("/broken")
    def broken(study: str) -> dict[str, str]:
        raise RuntimeError("boom")

    app.include_router(router)
    app.add_middleware(HttpMetricsMiddleware, histogram=histogram(registry))
    return app


def test_requests_are_labelled_by_route_template(registry: CollectorRegistry) -> None:
    client = TestClient(fastapi_app(registry))
    for user in ("p-001", "p-002", "p-003"):
        assert client.get(f"/studies/alpha/participants/{user}").status_code == 200
    assert count(registry, "/studies/{study}/participants/{user_id}") == 3
    text = "\n".join(str(s) for m in registry.collect() for s in m.samples)
    assert "p-001" not in text and "alpha" not in text


def test_duration_is_the_time_the_request_took(registry: CollectorRegistry) -> None:
    TestClient(fastapi_app(registry)).get("/studies/alpha/slow")
    total = registry.get_sample_value(
        f"{NAME}_sum", {"route": "/studies/{study}/slow", "method": "GET", "status": "200"}
    )
    assert total is not None and 0.05 <= total < 5


def test_unmatched_paths_share_one_label(registry: CollectorRegistry) -> None:
    client = TestClient(fastapi_app(registry))
    for path in ("/wp-login.php", "/.env", "/studies"):
        assert client.get(path).status_code == 404
    assert count(registry, UNMATCHED, status="404") == 3


def test_an_exception_counts_as_500(registry: CollectorRegistry) -> None:
    client = TestClient(fastapi_app(registry), raise_server_exceptions=False)
    assert client.get("/studies/alpha/broken").status_code == 500
    assert count(registry, "/studies/{study}/broken", status="500") == 1


def test_wrong_method_keeps_the_route_and_odd_methods_are_lumped(registry: CollectorRegistry) -> None:
    client = TestClient(fastapi_app(registry))
    assert client.post("/studies/alpha/slow").status_code == 405
    assert count(registry, "/studies/{study}/slow", method="POST", status="405") == 1
    client.request("BREW", "/studies/alpha/slow")
    assert count(registry, "/studies/{study}/slow", method="other", status="405") == 1


def test_mounted_routers_and_apps_get_their_prefix(registry: CollectorRegistry) -> None:
    async def static(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("file")(scope, receive, send)

    def item(request: object) -> PlainTextResponse:
        return PlainTextResponse("item")

    app = Starlette(
        routes=[
            Mount("/v1", app=Router(routes=[Route("/items/{item_id}", item)])),
            Mount("/static", app=static),
        ]
    )
    app.add_middleware(HttpMetricsMiddleware, histogram=histogram(registry))
    client = TestClient(app)
    assert client.get("/v1/items/42").status_code == 200
    assert client.get("/static/css/site.css").status_code == 200
    assert count(registry, "/v1/items/{item_id}") == 1
    assert count(registry, "/static/{path}") == 1
