"""The browser-side stores (dcc.Store) as typed models: a callback writes a model with `dump()` (JSON, what
the browser keeps) and turns what the browser sends back into the model with `load()` at its entry, so no
callback, figure or table works on an untyped dict.

A store that does not fit its model is stale (the dashboard was upgraded while the page was open, or a
forged callback): `load()` treats it like an absent store (None) and shows on the page what happened and
what to do (reload), never a traceback. `decode_store()` is the same without the page: it raises StaleStore.
"""

from __future__ import annotations

import logging
from typing import TypeVar

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


class StaleStore(FitpipeError):
    """What the browser sent for a store does not fit the store's model."""


def dump(model: BaseModel) -> dict[str, object]:
    """The model as the JSON a store keeps: what the API sent (unset optional fields stay out)."""
    return model.model_dump(mode="json", exclude_unset=True)


def decode_store(model: type[M], data: object, store: str) -> M | None:
    """The store `store` as `model`; None when it is absent (never written, or cleared after an API error);
    StaleStore, naming the store and the fields, when it does not fit."""
    if data is None:
        return None
    try:
        return model.model_validate(data)
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


def load(model: type[M], data: object, store: str) -> M | None:
    """decode_store() inside a callback: a stale store is logged, shown on the page (NOTICE) and treated
    like an absent one."""
    try:
        return decode_store(model, data, store)
    except StaleStore as exc:
        log.warning("%s", exc)
        set_props(NOTICE, {"children": error_box(f"{exc.message}. Please {exc.hint}.")})
        return None
