"""Query parameters are taken at their word: an unknown name, or a name that takes one value sent several
times, is a 422 naming it instead of being ignored (a typo such as `end_dat=` would otherwise return a
different span than the client believes it asked for, and `study=a&study=b` one of the two silently).

Applied to the /api/v1 routes clients call (not to the OAuth callback, where Google adds parameters of its
own). The route's declared parameters are read from FastAPI's dependant once per route and kept.
"""

from __future__ import annotations

import types
import typing
from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

__all__ = ["strict_query"]

_declared: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation) if a is not type(None))
    return origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset)


def _query_params(dependant: Dependant) -> tuple[frozenset[str], frozenset[str]]:
    """(every query parameter name, the names that take several values) of a route and its dependencies."""
    names: set[str] = set()
    lists: set[str] = set()
    todo = [dependant]
    while todo:
        d = todo.pop()
        for field in d.query_params:
            names.add(field.alias)
            if _is_list(field.field_info.annotation):
                lists.add(field.alias)
        todo.extend(d.dependencies)
    return frozenset(names), frozenset(lists)


def _error(name: str, msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("query", name), "msg": msg, "input": None}])


async def strict_query(request: Request) -> None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    key = id(dependant)
    if key not in _declared:
        _declared[key] = _query_params(dependant)
    names, lists = _declared[key]
    counts = Counter(k for k, _ in request.query_params.multi_items())
    for name, n in counts.items():
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise _error(
                shown, f"unknown parameter {shown!r} (this route takes: {known})", "unknown_parameter"
            )
        if n > 1 and name not in lists:
            raise _error(name, f"{name!r} was sent {n} times; it takes one value", "repeated_parameter")
