"""The browser-side stores (dcc.Store) as typed models: a callback writes a model with `dump()` (JSON, what
the browser keeps) and turns what the browser sends back into the model with `load()` at its entry, so no
callback, figure or table works on an untyped dict.

A store that does not fit its model is stale (the dashboard was upgraded while the page was open, or a
forged callback): `load()` treats it like an absent store (None) and shows on the page what happened and
what to do (reload), never a traceback. `decode_store()` is the same without the page: it raises StaleStore.

One page load hands the same store to several callbacks (the cohort page: four, each with 1,000
participants), so stores are remembered by their content: a few recent ones per process, keyed by the model
and a hash of the JSON, the model written by dump() or the first decode. Equal content gives an equal model whoever sent it, so nothing
passes between users that they did not send themselves. The models handed out are shared: callbacks read
them and never change them in place (model_copy(update=...) makes a changed one).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import TypeVar

import orjson
from dash import set_props
from pydantic import BaseModel, ValidationError

from fitpipe.errors import FitpipeError
from fitpipe_dashboard.layout.widgets import error_box

__all__ = ["StaleStore", "NOTICE", "dump", "load", "decode_store"]

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)

NOTICE = "store-notice"
"""The element of the shell (layout/shell.py) that shows a stale store's message."""
_SHOWN_ERRORS = 3
_REMEMBERED = 16
"""Decoded stores kept per process (a cohort answer of 1,000 participants is a few MB decoded)."""

_decoded: OrderedDict[tuple[type[BaseModel], bytes], BaseModel] = OrderedDict()
_decoded_lock = threading.Lock()


class StaleStore(FitpipeError):
    """What the browser sent for a store does not fit the store's model."""


def dump(model: BaseModel) -> dict[str, object]:
    """The model as the JSON a store keeps: what the API sent (unset optional fields stay out). The model is
    remembered for that JSON, so the callbacks reading the store back get it without validating it again."""
    data = model.model_dump(mode="json", exclude_unset=True)
    if (key := _key(type(model), data)) is not None:
        _remember(key, model)
    return data


def decode_store(model: type[M], data: object, store: str) -> M | None:
    """The store `store` as `model`; None when it is absent (never written, or cleared after an API error);
    StaleStore, naming the store and the fields, when it does not fit."""
    if data is None:
        return None
    key = _key(model, data)
    if key is not None:
        with _decoded_lock:
            if (hit := _decoded.get(key)) is not None:
                _decoded.move_to_end(key)
                assert isinstance(hit, model)
                return hit
    try:
        decoded = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(x) for x in e['loc']) or '(the store)'}: {e['msg']}"
            for e in exc.errors()[:_SHOWN_ERRORS]
        ]
        more = exc.error_count() - len(problems)
        raise StaleStore(
            f"the page's {store} store does not fit {model.__name__} ("
            + "; ".join(problems)
            + (f"; and {more} more" if more > 0 else "")
            + "): the dashboard was probably upgraded while the page was open",
            hint="reload the page",
        ) from None
    if key is not None:
        _remember(key, decoded)
    return decoded


def _key(model: type[BaseModel], data: object) -> tuple[type[BaseModel], bytes] | None:
    """The model and a hash of the store's JSON with its keys sorted (Flask sorts them on the way to the
    browser); None for what is not JSON (a forged callback: validation then says what is wrong). When a browser
    writes a whole float back without its ".0", dump()'s entry misses and the first decode validates."""
    try:
        return model, hashlib.blake2b(
            orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=16
        ).digest()
    except TypeError:
        return None


def _remember(key: tuple[type[BaseModel], bytes], model: BaseModel) -> None:
    with _decoded_lock:
        _decoded[key] = model
        _decoded.move_to_end(key)
        while len(_decoded) > _REMEMBERED:
            _decoded.popitem(last=False)


def load(model: type[M], data: object, store: str) -> M | None:
    """decode_store() inside a callback: a stale store is logged, shown on the page (NOTICE) and treated
    like an absent one."""
    try:
        return decode_store(model, data, store)
    except StaleStore as exc:
        log.warning("%s", exc)
        set_props(NOTICE, {"children": error_box(f"{exc.message}. Please {exc.hint}.")})
        return None
