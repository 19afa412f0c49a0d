"""The typed contract of the API (fitpipe.contracts): OpenAPI names a schema for every success answer of every
route, and the API tests' client checks each answer against its route's model (tests/api/contracts.py)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from fitpipe.settings import Settings
from fitpipe_api.main import create_app
from tests.api.conftest import Tokens, auth
from tests.api.contracts import check_answer

NO_BODY = {204, 201}
"""Statuses documented without a body: sign-out's and the webhook's (201: the verification handshake)."""


@pytest.fixture(scope="module")
def app() -> FastAPI:
    # the pool opens lazily: building the OpenAPI document needs no database
    return create_app(Settings(_env_file=None), url="postgresql://nobody@127.0.0.1:1/none")


def test_openapi_names_a_schema_for_every_success_answer_of_every_route(app: FastAPI) -> None:
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    missing, operations = [], 0
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            operations += 1
            successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            assert successes, f"{method.upper()} {path} documents no success answer"
            for code, answer in successes.items():
                content = answer.get("content") or {}
                if not content:
                    if int(code) not in NO_BODY:
                        missing.append(f"{method.upper()} {path} {code}: no content")
                    continue
                for media, body in content.items():
                    schema = body.get("schema") or {}
                    ref = schema.get("$ref", "")
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in schemas
                    elif not (schema.get("type") == "string" and media != "application/json"):
                        missing.append(f"{method.upper()} {path} {code} {media}: {schema}")
    assert operations >= 20
    assert missing == []


def test_json_answers_are_named_models_and_exports_documented_as_downloads(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    models = {
        (m.upper(), p): op["responses"][code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[
            -1
        ]
        for p, ops in paths.items()
        for m, op in ops.items()
        for code in op["responses"]
        if code.startswith("2") and "application/json" in (op["responses"][code].get("content") or {})
    }
    assert models[("GET", "/api/v1/timeseries")] == "TimeseriesAnswer"
    assert models[("GET", "/api/v1/participants/{user_id}")] == "ParticipantDetail"
    assert models[("GET", "/api/v1/ingest/runs")] == "RunsAnswer"
    assert models[("GET", "/readyz")] == "Readiness"
    exports = paths["/api/v1/timeseries"]["get"]["responses"]["200"]["content"]
    assert exports["text/csv"]["schema"] == {"type": "string"}
    assert exports["application/vnd.apache.parquet"]["schema"] == {"type": "string", "format": "binary"}
    assert exports["application/vnd.apache.arrow.stream"]["schema"] == {"type": "string", "format": "binary"}
    refused = paths["/api/v1/participants/{user_id}/contact"]["post"]["responses"]["409"]["content"]
    assert {s["$ref"].rsplit("/", 1)[-1] for s in refused["application/json"]["schema"]["anyOf"]} == {
        "ContactRefused",
        "ErrorBody",
    }


def _answer(path: str, body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        content=body,
        headers={"content-type": "application/json"},
        request=httpx.Request("GET", "http://testserver" + path),
    )


def test_the_answer_check_refuses_a_missing_field_and_an_undeclared_one(app: FastAPI) -> None:
    ok = b'{"metrics": []}'
    check_answer(app, _answer("/api/v1/metrics-catalog", ok))
    with pytest.raises(ValidationError, match="metrics"):
        check_answer(app, _answer("/api/v1/metrics-catalog", b'{"metric": []}'))
    with pytest.raises(AssertionError, match=r"\['extra'\]"):
        check_answer(app, _answer("/api/v1/metrics-catalog", b'{"metrics": [], "extra": 1}'))
    check_answer(
        app, _answer("/api/v1/metrics-catalog", b'{"detail": "x"}', status=404)
    )  # no model: not checked


@pytest.mark.db
def test_the_api_tests_client_checks_every_answer(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fitpipe_api.responses import JSONResponse
    from fitpipe_api.routes import catalog

    assert client.get("/api/v1/metrics-catalog", headers=auth(tokens.admin)).status_code == 200
    monkeypatch.setattr(catalog, "_catalog", lambda call: JSONResponse({"metrics": [], "surprise": True}))
    with pytest.raises(AssertionError, match="surprise"):
        client.get("/api/v1/metrics-catalog", headers=auth(tokens.admin))
