"""Cohort page callbacks: load the participants, fill the grid and counts under the page's thresholds,
filter, open a participant on click, draw the wear heatmap. The cohort-data store holds the API's
ParticipantsAnswer; each callback reading it turns it back into the model first (stores.load)."""

from __future__ import annotations

from datetime import timedelta

from dash import Dash, Input, NoUpdate, Output, Patch, State, ctx, no_update
from plotly.graph_objects import Figure

from fitpipe.contracts import ParticipantsAnswer
from fitpipe_dashboard import stores
from fitpipe_dashboard.charts.empty import message_figure
from fitpipe_dashboard.charts.heatmap import wear_heatmap
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.cohort import (
    CohortCounts,
    CohortRow,
    Thresholds,
    cohort_counts,
    cohort_rows,
    row_data,
    studies_of,
)
from fitpipe_dashboard.layout.cohort import CellClicked
from fitpipe_dashboard.layout.widgets import error_box
from fitpipe_dashboard.outputs import Children, Style
from fitpipe_dashboard.paths import parse_path, participant_path

__all__ = ["register", "render_cohort", "heatmap_span", "grid_style"]

STORE = "cohort-data"


def render_cohort(
    answer: ParticipantsAnswer, study: str | None, thresholds: Thresholds | None, cooldown_hours: float
) -> tuple[list[CohortRow], CohortCounts]:
    """Grid rows and counts (also what bench/dashboard.py times)."""
    rows = cohort_rows(answer, study, thresholds, answer.generated_at, cooldown_hours)
    return rows, cohort_counts(rows)


def heatmap_span(answer: ParticipantsAnswer | None, study: str, days: int) -> tuple[str | None, str | None]:
    """The last `days` local days up to the study's newest complete day (its data may have ended long ago)."""
    last = max(
        (
            p.window.last_day
            for p in (answer.participants if answer else [])
            if p.study == study
            and p.window.last_day is not None
            and p.window.first_day is not None
            and p.window.first_day <= p.window.last_day
        ),
        default=None,
    )
    if last is None:
        return None, None
    return (last - timedelta(days=days - 1)).isoformat(), last.isoformat()


def grid_style(rows: int) -> Style:
    """As tall as its rows up to a screenful (the grid scrolls beyond: it renders only the rows in view)."""
    return {"height": f"{min(560, 130 + 34 * max(rows, 3))}px", "width": "100%"}


def _thresholds(adherence: float | None, upload: float | None, sleep: int | None) -> Thresholds | None:
    if adherence is None or upload is None or sleep is None:
        return None
    return Thresholds(float(adherence), float(upload), int(sleep))


def register(app: Dash, client: ApiClient, cooldown_hours: float) -> None:
    @app.callback(
        Output(STORE, "data"),
        Output("cohort-error", "children"),
        Input("url", "pathname"),
        Input("refresh", "data"),
    )
    def load(
        pathname: str | None, _refresh: int
    ) -> tuple[dict[str, object] | None | NoUpdate, Children | NoUpdate]:
        if parse_path(pathname).page != "cohort":
            return no_update, no_update
        try:
            return stores.dump(client.participants()), None
        except ApiError as exc:
            return None, error_box(exc)

    @app.callback(
        Output("study", "options"),
        Output("study", "value"),
        Input(STORE, "data"),
        State("study", "value"),
    )
    def studies(data: object, current: str | None) -> tuple[list[str], str | None]:
        answer = stores.load(ParticipantsAnswer, data, STORE)
        if answer is None:
            return [], None
        names = studies_of(answer)
        return names, current if current in names else (names[0] if names else None)

    @app.callback(
        Output("th-adherence", "value"),
        Output("th-upload", "value"),
        Output("th-sleep", "value"),
        Output("th-window", "children"),
        Input("study", "value"),
        Input("th-reset", "n_clicks"),
        State(STORE, "data"),
    )
    def reset_thresholds(
        study: str | None, _clicks: int | None, data: object
    ) -> tuple[float | NoUpdate, float | NoUpdate, int | NoUpdate, str]:
        answer = stores.load(ParticipantsAnswer, data, STORE)
        rules = answer.rules.get(study) if answer is not None and study is not None else None
        if rules is None:
            return no_update, no_update, no_update, ""
        return (
            rules.min_adherence_pct,
            rules.no_upload_hours,
            rules.sleep_nights,
            f"of the last {rules.sleep_window_nights} nights",
        )

    @app.callback(
        Output("cohort-grid", "rowData"),
        Output("cohort-grid", "style"),
        Output("count-enrolled", "children"),
        Output("count-flagged", "children"),
        Output("count-syncing", "children"),
        Output("th-note", "children"),
        Input(STORE, "data"),
        Input("study", "value"),
        Input("th-adherence", "value"),
        Input("th-upload", "value"),
        Input("th-sleep", "value"),
    )
    def fill(
        data: object,
        study: str | None,
        adherence: float | None,
        upload: float | None,
        sleep: int | None,
    ) -> tuple[list[dict[str, object]], Style, str, str, str, str]:
        answer = stores.load(ParticipantsAnswer, data, STORE)
        if answer is None or not study:
            return [], grid_style(0), "–", "–", "–", ""
        t = _thresholds(adherence, upload, sleep)
        rows, counts = render_cohort(answer, study, t, cooldown_hours)
        rules = answer.rules.get(study)
        note = ""
        if t is not None and rules is not None and t != Thresholds.of(rules):
            note = (
                "What-if view: flags under the thresholds above. Emails follow the study's own rules "
                f"({rules.min_adherence_pct:g} %, {rules.no_upload_hours:g} h, "
                f"{rules.sleep_nights} of {rules.sleep_window_nights} nights)."
            )
        return (
            row_data(rows),
            grid_style(len(rows)),
            f"{counts.enrolled:,}",
            f"{counts.flagged:,}",
            f"{counts.syncing_today:,}",
            note,
        )

    @app.callback(
        Output("cohort-grid", "dashGridOptions"), Input("cohort-filter", "value"), prevent_initial_call=True
    )
    def quick_filter(text: str | None) -> Patch:
        patch = Patch()
        patch["quickFilterText"] = text or ""
        return patch

    @app.callback(Output("url", "pathname"), Input("cohort-grid", "cellClicked"), prevent_initial_call=True)
    def open_participant(event: object) -> str | NoUpdate:
        cell = CellClicked.of(event)
        if cell is None or cell.colId == "contact" or cell.participant is None:
            return no_update
        return participant_path(*cell.participant)

    @app.callback(
        Output("wear-heatmap", "figure"),
        Input("study", "value"),
        Input("heatmap-days", "value"),
        Input("refresh", "data"),
        State("url", "pathname"),
        State(STORE, "data"),
    )
    def heatmap(study: str | None, days: int, _refresh: int, pathname: str | None, data: object) -> Figure:
        if parse_path(pathname).page != "cohort" and ctx.triggered_id == "refresh":
            return no_update
        if not study:
            return message_figure("no study to show: the API's token sees none", title="Wear per day")
        start, end = heatmap_span(stores.load(ParticipantsAnswer, data, STORE), study, int(days))
        try:
            return wear_heatmap(client.adherence(study, start_date=start, end_date=end))
        except ApiError as exc:
            return message_figure(
                f"the wear per day could not be loaded: {exc.message}", title="Wear per day"
            )
