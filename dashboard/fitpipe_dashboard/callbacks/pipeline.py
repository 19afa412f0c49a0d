"""Pipeline-health callbacks: the last ingest runs, the latest errors, quarantine counts by reason, from the
API's RunsAnswer and QuarantineAnswer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from dash import Dash, Input, NoUpdate, Output, html, no_update
from plotly.graph_objects import Figure

from fitpipe.contracts import QuarantineRecord, Run
from fitpipe_dashboard.charts.empty import message_figure
from fitpipe_dashboard.charts.pipeline import quarantine_figure
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.layout.widgets import error_box
from fitpipe_dashboard.outputs import Child, Children
from fitpipe_dashboard.paths import parse_path
from fitpipe_dashboard.timefmt import ago, hours_since, utc_minutes

__all__ = ["register", "runs_table", "run_row", "latest_errors"]

RUN_COLUMNS = (
    "run",
    "trigger",
    "status",
    "started",
    "duration",
    "participants",
    "files",
    "rows new",
    "rows quarantined",
    "errors",
)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_row(r: Run, now: datetime) -> html.Tr:
    """One run in the order of RUN_COLUMNS."""
    return html.Tr(
        [
            html.Td(r.id),
            html.Td(r.trigger),
            html.Td(r.status, className=f"status-{r.status}"),
            html.Td(f"{ago(hours_since(r.started_at, now))} ({utc_minutes(r.started_at)} UTC)"),
            html.Td(_duration(r.seconds)),
            html.Td(f"{r.participants or 0:,}"),
            html.Td(f"{r.files or 0:,}"),
            html.Td(f"{r.rows_new or 0:,}"),
            html.Td(f"{r.rows_quarantined or 0:,}"),
            html.Td(f"{r.errors or 0:,}"),
        ]
    )


def runs_table(runs: Sequence[Run], now: datetime) -> html.Table | html.P:
    if not runs:
        return html.P("No ingest run yet: run `fitpipe run` (or wait for the schedule).", className="hint")
    rows = [run_row(r, now) for r in runs]
    return html.Table(
        [html.Thead(html.Tr([html.Th(c) for c in RUN_COLUMNS])), html.Tbody(rows)],
        id="runs",
        className="table",
    )


def latest_errors(runs: Sequence[Run], records: Sequence[QuarantineRecord], now: datetime) -> list[Child]:
    items = [
        html.Li(f"run {r.id} ({r.status}, {ago(hours_since(r.finished_at or r.started_at, now))}): {r.error}")
        for r in runs
        if r.error
    ][:10]
    items += [
        html.Li(
            f"{ago(hours_since(q.last_seen, now))}: {q.study or '?'}/{q.user_id or '?'} "
            f"{q.file} {q.record or ''} field {q.field or '–'}: {q.reason}"
        )
        for q in records[:10]
    ]
    if not items:
        return [html.P("No errors: the latest runs succeeded and nothing was quarantined.", className="hint")]
    return [html.Ul(items, id="error-list")]


def register(app: Dash, client: ApiClient) -> None:
    @app.callback(
        Output("runs-table", "children"),
        Output("latest-errors", "children"),
        Output("quarantine-graph", "figure"),
        Output("pipeline-error", "children"),
        Input("url", "pathname"),
        Input("pipeline-refresh", "n_clicks"),
    )
    def health(
        pathname: str | None, _clicks: int | None
    ) -> tuple[Children | NoUpdate, Children | NoUpdate, Figure, Children | NoUpdate]:
        if parse_path(pathname).page != "pipeline":
            return no_update, no_update, no_update, no_update
        now = datetime.now(UTC)
        errors: list[Child] = []
        # each part on its own: one failing route must not blank the others
        runs: list[Run] = []
        records: list[QuarantineRecord] = []
        table: Children = None
        try:
            runs = client.runs(limit=20).runs
            table = runs_table(runs, now)
        except ApiError as exc:
            errors.append(error_box(exc))
        try:
            quarantine = client.quarantine(limit=20)
            figure = quarantine_figure(quarantine)
            records = quarantine.records
        except ApiError as exc:
            figure = message_figure(f"could not be loaded: {exc.message}", title="Quarantine")
            errors.append(error_box(exc))
        return table, latest_errors(runs, records, now), figure, errors or None
