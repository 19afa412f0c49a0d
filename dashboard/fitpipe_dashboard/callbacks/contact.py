"""Contact callbacks: open the dialog for one participant or every flagged one, preview (the API's dry run:
message and recipients, cooldown marked), send on confirmation, show the result per participant.

Each callback first checks that the signed-in person may email (require_contact): the controls are not
in an analyst's page, but a callback can be called directly with any payload, and must be refused here
too (the API, called as the person, would refuse as well).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import Dash, Input, Output, State, ctx, html, no_update

from fitpipe_dashboard.auth.person import require_contact
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.cohort import FLAG_LABELS
from fitpipe_dashboard.layout.contact import HIDDEN, SHOWN
from fitpipe_dashboard.layout.widgets import error_box
from fitpipe_dashboard.paths import parse_path
from fitpipe_dashboard.timefmt import ago, hours_since

__all__ = ["register", "call", "outcome_words"]


def call(client: ApiClient, plan: dict[str, Any], *, dry_run: bool, force: bool) -> list[dict[str, Any]]:
    """One result per participant, whichever route the plan names."""
    if plan["kind"] == "flagged":
        flagged = client.contact_flagged(plan["study"], force=force, dry_run=dry_run)
        return [r.model_dump(mode="json", exclude_unset=True) for r in flagged.results]
    try:
        result = client.contact(plan["user_id"], study=plan["study"], force=force, dry_run=dry_run)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        # refused without a result (nothing to write about, a reason refused): shown as that participant's row
        return [
            {
                "user_id": plan["user_id"],
                "study": plan["study"],
                "status": "failed",
                "reasons": [],
                "error": f"{exc.body.get('detail', 'refused')}"
                + (f" ({exc.body['hint']})" if exc.body.get("hint") else ""),
            }
        ]
    return [result.model_dump(mode="json", exclude_unset=True)]


def outcome_words(r: dict[str, Any], now: datetime) -> str:
    status = r.get("would_be") or r["status"]
    preview = r["status"] == "preview"
    if status == "sent":
        return ("will be emailed" if preview else "sent") + (
            " (cooldown overridden)" if r.get("forced") else ""
        )
    if status == "refused":
        when = ago(hours_since(r.get("last_contacted"), now))
        until = (r.get("retry_after") or "")[:16].replace("T", " ")
        return f"skipped: emailed {when}, within the cooldown (until {until} UTC); tick force to send anyway"
    return f"{'cannot be emailed' if preview else 'failed'}: {r.get('error', 'unknown error')}"


def _table(results: list[dict[str, Any]], now: datetime, table_id: str) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("participant", "to", "reasons", "outcome")])
    body = [
        html.Tr(
            [
                html.Td(r["user_id"]),
                html.Td(r.get("to", "–")),
                html.Td(", ".join(FLAG_LABELS.get(x, x) for x in r.get("reasons", []))),
                html.Td(
                    outcome_words(r, now), className=f"outcome outcome-{r.get('would_be') or r['status']}"
                ),
            ],
            **{"data-user": r["user_id"]},
        )
        for r in results
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], id=table_id, className="table")


def _messages(results: list[dict[str, Any]]) -> list[Any]:
    shown = [r for r in results if r.get("body")][:50]
    first = next((r["user_id"] for r in shown if (r.get("would_be") or r["status"]) == "sent"), None)
    return [
        html.Details(
            [
                html.Summary(f"Message to {r['user_id']}: {r.get('subject', '')}"),
                html.Pre(r["body"], className="message"),
            ],
            open=r["user_id"] == first,
        )
        for r in shown
    ]


def register(app: Dash, client: ApiClient) -> None:
    @app.callback(
        Output("contact-plan", "data"),
        Input("cohort-grid", "cellClicked"),
        Input("email-flagged", "n_clicks"),
        Input("participant-email", "n_clicks"),
        State("study", "value"),
        State("url", "pathname"),
        prevent_initial_call=True,
    )
    def open_dialog(
        cell: dict[str, Any] | None,
        _flagged: int | None,
        _one: int | None,
        study: str | None,
        pathname: str | None,
    ) -> Any:
        require_contact()
        stamp = datetime.now(UTC).isoformat()
        if ctx.triggered_id == "cohort-grid":
            if not cell or cell.get("colId") != "contact" or not cell.get("rowId"):
                return no_update
            row_study, _, user_id = str(cell["rowId"]).partition("/")
            return {"kind": "one", "study": row_study, "user_id": user_id, "opened": stamp}
        if ctx.triggered_id == "email-flagged" and study:
            return {"kind": "flagged", "study": study, "opened": stamp}
        route = parse_path(pathname)
        if ctx.triggered_id == "participant-email" and route.user_id:
            return {"kind": "one", "study": route.study, "user_id": route.user_id, "opened": stamp}
        return no_update

    @app.callback(
        Output("contact-dialog", "style"),
        Output("contact-title", "children"),
        Output("contact-preview", "children"),
        Output("contact-result", "children"),
        Output("contact-confirm", "disabled"),
        Input("contact-plan", "data"),
        Input("contact-force", "value"),
        Input("contact-close", "n_clicks"),
        prevent_initial_call=True,
    )
    def preview(plan: dict[str, Any] | None, force: list[str], _close: int | None) -> tuple[Any, ...]:
        require_contact()
        if ctx.triggered_id == "contact-close" or not plan:
            return HIDDEN, no_update, no_update, None, False
        title = (
            f"Email every flagged participant of study {plan['study']}"
            if plan["kind"] == "flagged"
            else f"Email participant {plan['user_id']} (study {plan['study']})"
        )
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
        sendable = sum(1 for r in results if (r.get("would_be") or r["status"]) == "sent")
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
        State("contact-plan", "data"),
        State("contact-force", "value"),
        State("refresh", "data"),
        prevent_initial_call=True,
    )
    def send(
        _clicks: int | None, plan: dict[str, Any] | None, force: list[str], refresh: int
    ) -> tuple[Any, ...]:
        require_contact()
        if not plan:
            return no_update, no_update, no_update
        try:
            results = call(client, plan, dry_run=False, force="force" in (force or []))
        except ApiError as exc:
            return error_box(exc), no_update, False
        now = datetime.now(UTC)
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        words = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nobody to email"
        return (
            [html.P(f"Done: {words}.", id="contact-done"), _table(results, now, "contact-outcomes")],
            (refresh or 0) + 1,
            True,
        )
