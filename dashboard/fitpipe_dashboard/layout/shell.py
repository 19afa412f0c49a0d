"""The frame around the pages: the header with navigation, the stores callbacks share, every page (shown
one at a time by the address) and the contact dialog."""

from __future__ import annotations

from dash import dcc, html

from fitpipe_dashboard.layout.cohort import cohort_page
from fitpipe_dashboard.layout.contact import contact_dialog
from fitpipe_dashboard.layout.participant import participant_page
from fitpipe_dashboard.layout.pipeline import pipeline_page

__all__ = ["shell"]


def shell(api_url: str) -> html.Div:
    return html.Div(
        className="app",
        children=[
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="cohort-data"),
            dcc.Store(id="participant-data"),
            dcc.Store(id="contact-plan"),
            dcc.Store(id="refresh", data=0),
            html.Header(
                className="header",
                children=[
                    html.Span("fitpipe", className="brand"),
                    dcc.Link("Cohort", href="/", className="nav", id="nav-cohort"),
                    dcc.Link("Pipeline health", href="/pipeline", className="nav", id="nav-pipeline"),
                    html.Span(f"API: {api_url}", className="api"),
                ],
            ),
            html.Main([cohort_page(), participant_page(), pipeline_page()]),
            contact_dialog(),
        ],
    )
