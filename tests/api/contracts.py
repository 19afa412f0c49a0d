"""Every answer the API tests receive is checked against the model its route declares (fitpipe.contracts):
it must validate, and it may hold no key the model does not name, so the documented contract and the JSON
cannot drift apart without a test failing."""

from __future__ import annotations

import re
from typing import Any, Union

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from fitpipe import contracts

__all__ = ["check_answer", "undeclared_keys", "declared_model"]


def declared_model(app: FastAPI, method: str, path: str, status: int) -> Any:
    """The fitpipe.contracts model(s) the OpenAPI document names for this answer (a union for anyOf), or None."""
    for template, operations in app.openapi()["paths"].items():
        if method.lower() in operations and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            answer = operations[method.lower()]["responses"].get(str(status)) or {}
            schema = (answer.get("content") or {}).get("application/json", {}).get("schema") or {}
            refs = [schema["$ref"]] if "$ref" in schema else [s.get("$ref") for s in schema.get("anyOf", [])]
            models = [getattr(contracts, ref.rsplit("/", 1)[-1], None) for ref in refs if ref]
            if not models or None in models:
                return None
            return models[0] if len(models) == 1 else Union[tuple(models)]  # noqa: UP007
    return None


def undeclared_keys(sent: Any, decoded: Any, where: str = "") -> list[str]:
    """Keys of the JSON `sent` that the decoded-and-dumped `decoded` lost: fields the model does not name."""
    if isinstance(sent, dict) and isinstance(decoded, dict):
        out = [f"{where}.{k}".lstrip(".") for k in sent if k not in decoded]
        for k in sent.keys() & decoded.keys():
            out += undeclared_keys(sent[k], decoded[k], f"{where}.{k}")
        return out
    if isinstance(sent, list) and isinstance(decoded, list):
        return [
            x
            for i, (a, b) in enumerate(zip(sent, decoded, strict=False))
            for x in undeclared_keys(a, b, f"{where}[{i}]")
        ]
    return []


def check_answer(app: FastAPI, response: httpx.Response) -> None:
    request = response.request
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    model = declared_model(app, request.method, request.url.path, response.status_code)
    if model is None:
        return
    response.read()
    adapter = TypeAdapter(model)
    value = adapter.validate_json(response.content)  # raises, naming the field, when the answer does not fit
    dumped = adapter.dump_python(value, mode="json", exclude_unset=True)
    if isinstance(value, BaseModel) or isinstance(dumped, dict):
        lost = undeclared_keys(response.json(), dumped)
        assert not lost, (
            f"{request.method} {request.url.path} answered keys its model does not declare: {lost}"
        )
