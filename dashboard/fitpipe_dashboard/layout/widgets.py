"""Small pieces every page uses: an error message box, a flag badge, a figure stat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dash import html

from fitpipe.contracts import FlagDetail
from fitpipe_dashboard.client import ApiError
from fitpipe_dashboard.cohort import FLAG_LABELS
from fitpipe_dashboard.outputs import Child

__all__ = ["error_box", "badges", "stat"]


def error_box(exc: ApiError | str) -> html.Div:
    """An API failure as a message on the page (what happened, what to do)."""
    if isinstance(exc, str):
        return html.Div(exc, className="alert", role="alert")
    parts: list[Child] = [html.Strong("The API could not answer: "), exc.message]
    if exc.hint:
        parts += [html.Br(), html.Span(f"What to do: {exc.hint}", className="hint")]
    return html.Div(parts, className="alert", role="alert")


def badges(flags: Sequence[str], details: Mapping[str, FlagDetail] | None = None) -> html.Span:
    if not flags:
        return html.Span("no flags", className="ok")
    details = details or {}
    return html.Span(
        [
            html.Span(
                FLAG_LABELS.get(f, f),
                className=f"badge badge-{f}",
                title=details[f].message if f in details else f,
            )
            for f in flags
        ]
    )


def stat(label: str, value: object, element_id: str) -> html.Div:
    return html.Div(
        [
            html.Div(str(value), id=element_id, className="stat-value"),
            html.Div(label, className="stat-label"),
        ],
        className="stat",
    )
