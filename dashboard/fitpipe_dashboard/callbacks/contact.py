"""Contact callbacks: open the dialog for one participant or every flagged one, preview (the API's dry run:
message and recipients, cooldown marked), send on confirmation, show the result per participant.

Each callback first checks that the signed-in person may email (require_contact): the controls are not
in an analyst's page, but a callback can be called directly with any payload, and must be refused here
too (the API, called as the person, would refuse as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from dash import Dash, Input, NoUpdate, Output, State, ctx, html, no_update
from pydantic import BaseModel, ConfigDict

from fitpipe.contracts import ContactResult
from fitpipe_dashboard import stores
from fitpipe_dashboard.auth.person import require_contact
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.cohort import FLAG_LABELS
from fitpipe_dashboard.layout.cohort import CellClicked
from fitpipe_dashboard.layout.contact import HIDDEN, SHOWN
from fitpipe_dashboard.layout.widgets import error_box
from fitpipe_dashboard.outputs import Child, Children, Style
from fitpipe_dashboard.paths import parse_path
from fitpipe_dashboard.timefmt import ago, hours_since, utc_minutes

__all__ = ["register", "call", "outcome_words", "ContactPlan"]

STORE = "contact-plan"


class ContactPlan(BaseModel):
    """Who the open dialog is about (the contact-plan store): one participant, or every flagged one of a
    study. `opened` makes each opening a new value, so reopening for the same person previews again."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["one", "flagged"]
    study: str | None
    user_id: str | None = None
    opened: datetime


def call(client: ApiClient, plan: ContactPlan, *, dry_run: bool, force: bool) -> list[ContactResult]:
    """One result per participant, whichever route the plan names."""
    if plan.kind == "flagged" or plan.user_id is None:
        if plan.study is None:
            return []
        return client.contact_flagged(plan.study, force=force, dry_run=dry_run).results
    try:
        result = client.contact(plan.user_id, study=plan.study, force=force, dry_run=dry_run)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        # refused without a result (nothing to write about, a reason refused): shown as that participant's row
        hint = exc.body.get("hint")
        return [
            ContactResult(
                user_id=plan.user_id,
                study=plan.study or "",
                status="failed",
                reasons=[],
                forced=force,
                error=f"{exc.body.get('detail', 'refused')}" + (f" ({hint})" if hint else ""),
            )
        ]
    return [result]


def _shown_status(r: ContactResult) -> str:
    """What happened, or for a preview what would happen."""
    return r.would_be or r.status


def outcome_words(r: ContactResult, now: datetime) -> str:
    status = _shown_status(r)
    preview = r.status == "preview"
    if status == "sent":
        return ("will be emailed" if preview else "sent") + (" (cooldown overridden)" if r.forced else "")
    if status == "refused":
        when = ago(hours_since(r.last_contacted, now))
        until = utc_minutes(r.retry_after) if r.retry_after else ""
        return f"skipped: emailed {when}, within the cooldown (until {until} UTC); tick force to send anyway"
    return f"{'cannot be emailed' if preview else 'failed'}: {r.error or 'unknown error'}"


def _data(**attributes: str) -> dict[str, Any]:
    """HTML data-* attributes for a Dash component (its signature knows only its own props)."""
    return {f"data-{name}": value for name, value in attributes.items()}


def _table(results: Sequence[ContactResult], now: datetime, table_id: str) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("participant", "to", "reasons", "outcome")])
    body = [
        html.Tr(
            [
                html.Td(r.user_id),
                html.Td(r.to or "–"),
                html.Td(", ".join(FLAG_LABELS.get(x, x) for x in r.reasons)),
                html.Td(outcome_words(r, now), className=f"outcome outcome-{_shown_status(r)}"),
            ],
            **_data(user=r.user_id),
        )
        for r in results
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], id=table_id, className="table")


def _messages(results: Sequence[ContactResult]) -> list[Child]:
    shown = [r for r in results if r.body][:50]
    first = next((r.user_id for r in shown if _shown_status(r) == "sent"), None)
    return [
        html.Details(
            [
                html.Summary(f"Message to {r.user_id}: {r.subject or ''}"),
                html.Pre(r.body, className="message"),
            ],
            open=r.user_id == first,
        )
        for r in shown
    ]


def _title(plan: ContactPlan) -> str:
    if plan.kind == "flagged":
        return f"Email every flagged participant of study {plan.study}"
    return f"Email participant {plan.user_id} (study {plan.study})"


def register(app: Dash, client: ApiClient) -> None:
    @app.callback(
        Output(STORE, "data"),
        Input("cohort-grid", "cellClicked"),
        Input("email-flagged", "n_clicks"),
        Input("participant-email", "n_clicks"),
        State("study", "value"),
        State("url", "pathname"),
        prevent_initial_call=True,
    )
    def open_dialog(
        event: object,
        _flagged: int | None,
        _one: int | None,
        study: str | None,
        pathname: str | None,
    ) -> dict[str, object] | NoUpdate:
        require_contact()
        now = datetime.now(UTC)
        plan: ContactPlan | None = None
        if ctx.triggered_id == "cohort-grid":
            cell = CellClicked.of(event)
            if cell is not None and cell.colId == "contact" and cell.participant is not None:
                row_study, user_id = cell.participant
                plan = ContactPlan(kind="one", study=row_study, user_id=user_id, opened=now)
        elif ctx.triggered_id == "email-flagged" and study:
            plan = ContactPlan(kind="flagged", study=study, opened=now)
        elif ctx.triggered_id == "participant-email":
            route = parse_path(pathname)
            if route.user_id:
                plan = ContactPlan(kind="one", study=route.study, user_id=route.user_id, opened=now)
        return no_update if plan is None else stores.dump(plan)

    @app.callback(
        Output("contact-dialog", "style"),
        Output("contact-title", "children"),
        Output("contact-preview", "children"),
        Output("contact-result", "children"),
        Output("contact-confirm", "disabled"),
        Input(STORE, "data"),
        Input("contact-force", "value"),
        Input("contact-close", "n_clicks"),
        prevent_initial_call=True,
    )
    def preview(
        data: object, force: list[str] | None, _close: int | None
    ) -> tuple[Style, str | NoUpdate, Children | NoUpdate, None, bool]:
        require_contact()
        plan = stores.load(ContactPlan, data, STORE)
        if ctx.triggered_id == "contact-close" or plan is None:
            return HIDDEN, no_update, no_update, None, False
        title = _title(plan)
        try:
            results = call(client, plan, dry_run=True, force="force" in (force or []))
        except ApiError as exc:
            return SHOWN, title, error_box(exc), None, True
        now = datetime.now(UTC)
        if not results:
            return (
                SHOWN,
                title,
                html.P("Nobody to email: no active participant of this study is flagged."),
                None,
                True,
            )
        sendable = sum(1 for r in results if _shown_status(r) == "sent")
        intro = html.P(
            f"Preview: {sendable} of {len(results)} participant(s) will be emailed when you press Send.",
            id="contact-summary",
        )
        return (
            SHOWN,
            title,
            [intro, _table(results, now, "contact-recipients"), *_messages(results)],
            None,
            sendable == 0,
        )

    @app.callback(
        Output("contact-result", "children", allow_duplicate=True),
        Output("refresh", "data"),
        Output("contact-confirm", "disabled", allow_duplicate=True),
        Input("contact-confirm", "n_clicks"),
        State(STORE, "data"),
        State("contact-force", "value"),
        State("refresh", "data"),
        prevent_initial_call=True,
    )
    def send(
        _clicks: int | None, data: object, force: list[str] | None, refresh: int | None
    ) -> tuple[Children | NoUpdate, int | NoUpdate, bool | NoUpdate]:
        require_contact()
        plan = stores.load(ContactPlan, data, STORE)
        if plan is None:
            return no_update, no_update, no_update
        try:
            results = call(client, plan, dry_run=False, force="force" in (force or []))
        except ApiError as exc:
            return error_box(exc), no_update, False
        now = datetime.now(UTC)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        words = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nobody to email"
        return (
            [html.P(f"Done: {words}.", id="contact-done"), _table(results, now, "contact-outcomes")],
            (refresh or 0) + 1,
            True,
        )
