"""Decoding an answer with its model: a mismatch becomes one ContractError that names the route, the fields
that differ and what they held, instead of a KeyError deep in a chart."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from fitpipe.errors import FitpipeError

__all__ = ["ContractError", "decode", "ErrorBody"]

M = TypeVar("M", bound=BaseModel)

_SHOWN_ERRORS = 5


class ContractError(FitpipeError):
    """An answer that does not match its model: the API and its client disagree on the contract."""


def decode(model: type[M], body: bytes | str | object, where: str) -> M:
    """`body` (JSON text, or already parsed) as `model`; ContractError naming `where` when it does not fit."""
    try:
        if isinstance(body, bytes | str):
            return model.model_validate_json(body)
        return model.model_validate(body)
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:_SHOWN_ERRORS]:
            field = ".".join(str(x) for x in e["loc"]) or "(the answer)"
            got = repr(e.get("input"))
            problems.append(f"{field}: {e['msg']} (got {got[:60] + '…' if len(got) > 60 else got})")
        more = exc.error_count() - len(problems)
        raise ContractError(
            f"the answer to {where} does not match {model.__name__}: "
            + "; ".join(problems)
            + (f"; and {more} more" if more > 0 else ""),
            hint="the API and the dashboard are of different releases: upgrade both to the same version",
        ) from None


class ErrorBody(BaseModel):
    """Every refusal of the API (4xx, 5xx): what happened, and what to do."""

    detail: Any = Field(description="A sentence, or FastAPI's list of parameter errors.")
    hint: str | None = Field(default=None, description="What to do about it.")
    parameter: str | None = Field(default=None, description="The parameter at fault (422).")
    reason: Literal["busy", "database_unavailable", "timeout"] | None = Field(
        default=None, description="Why a 503: retry after Retry-After seconds."
    )
