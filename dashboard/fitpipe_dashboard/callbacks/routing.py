"""Showing the page the address names (every page is in the layout; the others are hidden)."""

from __future__ import annotations

from dash import Dash, Input, Output

from fitpipe_dashboard.layout.contact import HIDDEN
from fitpipe_dashboard.paths import parse_path

__all__ = ["register"]

PAGES = ("cohort", "participant", "pipeline")


def register(app: Dash) -> None:
    @app.callback([Output(f"page-{p}", "style") for p in PAGES], Input("url", "pathname"))
    def show_page(pathname: str | None) -> list[dict[str, str]]:
        page = parse_path(pathname).page
        return [{} if p == page else HIDDEN for p in PAGES]
