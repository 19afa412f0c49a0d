"""Cohort page callbacks: load the participants, fill the grid and counts under the page's thresholds,
filter, open a participant on click, draw the wear heatmap."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, Patch, State, ctx, no_update
from plotly.graph_objects import Figure

from fitpipe_dashboard.charts.empty import message_figure
from fitpipe_dashboard.charts.heatmap import wear_heatmap
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.cohort import Thresholds, cohort_counts, cohort_rows, studies_of
from fitpipe_dashboard.layout.widgets import error_box
from fitpipe_dashboard.paths import parse_path, participant_path
from fitpipe_dashboard.timefmt import parse_instant

__all__ = ["register", "render_cohort"]


def render_cohort(
    answer: dict[str, Any], study: str | None, thresholds: Thresholds | None, cooldown_hours: float
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Grid rows and counts (also what bench/dashboard.py times)."""
    now = parse_instant(answer.get("generated_at")) or datetime.now(UTC)
    rows = cohort_rows(answer, study, thresholds, now, cooldown_hours)
    return rows, cohort_counts(rows)


def heatmap_span(answer: dict[str, Any] | None, study: str, days: int) -> tuple[str | None, str | None]:
    """The last `days` local days up to the study's newest complete day (its data may have ended long ago)."""
    last = max(
        (
            p["window"]["last_day"]
            for p in (answer or {}).get("participants", [])
            if p["study"] == study
            and p["window"].get("last_day")
            and p["window"].get("first_day")
            and p["window"]["first_day"] <= p["window"]["last_day"]
        ),
        default=None,
    )
    if last is None:
        return None, None
    end = date.fromisoformat(last)
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def grid_style(rows: int) -> dict[str, str]:
    """As tall as its rows up to a screenful (the grid scrolls beyond: it renders only the rows in view)."""
    return {"height": f"{min(560, 130 + 34 * max(rows, 3))}px", "width": "100%"}


def _thresholds(adherence: float | None, upload: float | None, sleep: int | None) -> Thresholds | None:
    if adherence is None or upload is None or sleep is None:
        return None
    return Thresholds(float(adherence), float(upload), int(sleep))


def register(app: Dash, client: ApiClient, cooldown_hours: float) -> None:
    @app.callback(
        Output("cohort-data", "data"),
        Output("cohort-error", "children"),
        Input("url", "pathname"),
        Input("refresh", "data"),
    )
    def load(pathname: str | None, _refresh: int) -> tuple[Any, Any]:
        if parse_path(pathname).page != "cohort":
            return no_update, no_update
        try:
            return client.participants().model_dump(mode="json", exclude_unset=True), None
        except ApiError as exc:
            return None, error_box(exc)

    @app.callback(
        Output("study", "options"),
        Output("study", "value"),
        Input("cohort-data", "data"),
        State("study", "value"),
    )
    def studies(answer: dict[str, Any] | None, current: str | None) -> tuple[Any, Any]:
        if not answer:
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
        State("cohort-data", "data"),
    )
    def reset_thresholds(
        study: str | None, _clicks: int | None, answer: dict[str, Any] | None
    ) -> tuple[Any, ...]:
        rules = (answer or {}).get("rules", {}).get(study)
        if not rules:
            return no_update, no_update, no_update, ""
        return (
            rules["min_adherence_pct"],
            rules["no_upload_hours"],
            rules["sleep_nights"],
            f"of the last {rules['sleep_window_nights']} nights",
        )

    @app.callback(
        Output("cohort-grid", "rowData"),
        Output("cohort-grid", "style"),
        Output("count-enrolled", "children"),
        Output("count-flagged", "children"),
        Output("count-syncing", "children"),
        Output("th-note", "children"),
        Input("cohort-data", "data"),
        Input("study", "value"),
        Input("th-adherence", "value"),
        Input("th-upload", "value"),
        Input("th-sleep", "value"),
    )
    def fill(
        answer: dict[str, Any] | None,
        study: str | None,
        adherence: float | None,
        upload: float | None,
        sleep: int | None,
    ) -> tuple[Any, ...]:
        if not answer or not study:
            return [], grid_style(0), "–", "–", "–", ""
        t = _thresholds(adherence, upload, sleep)
        rows, counts = render_cohort(answer, study, t, cooldown_hours)
        rules = answer["rules"].get(study)
        note = ""
        if t is not None and rules and t != Thresholds.of(rules):
            note = (
                "What-if view: flags under the thresholds above. Emails follow the study's own rules "
                f"({rules['min_adherence_pct']:g} %, {rules['no_upload_hours']:g} h, "
                f"{rules['sleep_nights']} of {rules['sleep_window_nights']} nights)."
            )
        return (
            rows,
            grid_style(len(rows)),
            f"{counts['enrolled']:,}",
            f"{counts['flagged']:,}",
            f"{counts['syncing_today']:,}",
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
    def open_participant(cell: dict[str, Any] | None) -> Any:
        if not cell or cell.get("colId") == "contact" or not cell.get("rowId"):
            return no_update
        study, _, user_id = str(cell["rowId"]).partition("/")
        return participant_path(study, user_id)

    @app.callback(
        Output("wear-heatmap", "figure"),
        Input("study", "value"),
        Input("heatmap-days", "value"),
        Input("refresh", "data"),
        State("url", "pathname"),
        State("cohort-data", "data"),
    )
    def heatmap(
        study: str | None, days: int, _refresh: int, pathname: str | None, answer: dict[str, Any] | None
    ) -> Figure:
        if parse_path(pathname).page != "cohort" and ctx.triggered_id == "refresh":
            return no_update
        if not study:
            return message_figure("no study to show: the API's token sees none", title="Wear per day")
        start, end = heatmap_span(answer, study, int(days))
        try:
            days_answer = client.adherence(study, start_date=start, end_date=end)
            return wear_heatmap(days_answer.model_dump(mode="json", exclude_unset=True))
        except ApiError as exc:
            return message_figure(
                f"the wear per day could not be loaded: {exc.message}", title="Wear per day"
            )
