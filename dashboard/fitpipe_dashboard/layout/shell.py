"""The frame around the pages: the header with navigation and who is signed in (with Sign out), the stores
callbacks share, every page (shown one at a time by the address) and, for people who may email, the
contact dialog. Built per request for the signed-in person: an analyst's page has no Email control."""

from __future__ import annotations

from dash import dcc, html

from fitpipe_dashboard.auth.person import Person
from fitpipe_dashboard.layout.cohort import cohort_page
from fitpipe_dashboard.layout.contact import contact_dialog
from fitpipe_dashboard.layout.participant import participant_page
from fitpipe_dashboard.layout.pipeline import pipeline_page

__all__ = ["shell"]


def _who(person: Person) -> html.Div:
    return html.Div(
        className="who",
        children=[
            html.Span(person.username, id="signed-in-user", className="user"),
            html.Span(f"{person.role} · {person.scope}", id="signed-in-role", className="role"),
            html.Form(
                action="/logout",
                method="post",
                className="signout",
                children=[
                    dcc.Input(type="hidden", name="csrf", value=person.csrf, id="sign-out-csrf"),
                    html.Button("Sign out", id="sign-out", type="submit", className="button small"),
                ],
            ),
        ],
    )


def shell(api_url: str, person: Person | None) -> html.Div:
    """`person` None: the full layout, for Dash's check of the callbacks at start-up only (no request is
    ever answered without a person)."""
    can_contact = person is None or person.can_contact
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
                    *([_who(person)] if person is not None else []),
                ],
            ),
            html.Div(id="store-notice"),  # a stale store's message (fitpipe_dashboard.stores)
            html.Main([cohort_page(can_contact), participant_page(can_contact), pipeline_page()]),
            *([contact_dialog()] if can_contact else []),
        ],
    )
