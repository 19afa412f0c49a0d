"""Participant drill-down callbacks: load the participant, set and move the range, draw heart rate (with or
without imputed values) and the day-by-day panels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dash import Dash, Input, NoUpdate, Output, State, ctx, html, no_update
from plotly.graph_objects import Figure

from fitpipe.contracts import ParticipantDetail
from fitpipe_dashboard import stores
from fitpipe_dashboard.charts.empty import message_figure
from fitpipe_dashboard.charts.heart_rate import heart_rate_figure, summarize
from fitpipe_dashboard.charts.sleep import hypnogram_figure
from fitpipe_dashboard.charts.trends import PANELS, TREND_METRICS, panel_figures
from fitpipe_dashboard.client import ApiClient, ApiError
from fitpipe_dashboard.layout.participant import RANGE_DAYS
from fitpipe_dashboard.layout.widgets import badges, error_box
from fitpipe_dashboard.outputs import Child, Children
from fitpipe_dashboard.paths import parse_path
from fitpipe_dashboard.timefmt import ago, hours_since, utc_minutes

__all__ = ["register", "heart_rate_view", "empty_reason", "MIN_TREND_DAYS"]

MIN_TREND_DAYS = 30
"""The day-by-day panels show at least this many days, ending with the heart-rate range."""
TREND_OUTPUTS = ["sleep-stages", *[f"trend-{p.key}" for p in PANELS]]
STORE = "participant-data"
"""Holds the API's ParticipantDetail (stores.dump), or None when it could not be loaded."""


def _local_last_day(participant: ParticipantDetail) -> date:
    """The local day of the newest sample (today when there is none)."""
    newest = participant.latest_sample
    if newest is None:
        return date.today()
    return newest.astimezone(ZoneInfo(participant.timezone)).date()


def empty_reason(
    participant: ParticipantDetail | None, start: str, end: str, what: str = "heart rate"
) -> str:
    """Why a range has no data, in the words a trial manager needs."""
    span = f"between {start} and {end}" if start != end else f"on {start}"
    if participant is None:
        return f"no {what} {span}"
    newest = participant.latest_sample
    if newest is None:
        return (
            f"no {what} {span}: no data has arrived from this participant yet ({participant.source_status})"
        )
    if newest.astimezone(UTC).date().isoformat() < start:
        return (
            f"no {what} {span}: the newest sample is from {utc_minutes(newest)} UTC "
            "— the device has not synced since"
        )
    return f"no {what} {span} — device not worn"


def heart_rate_view(
    client: ApiClient,
    route_study: str,
    user_id: str,
    start: str,
    end: str,
    granularity: str,
    impute: bool,
    participant: ParticipantDetail | None,
) -> tuple[Figure, str, str]:
    """(figure, summary text, note) for the heart-rate panel; API errors become the figure's message."""
    note = ""
    try:
        answer = client.timeseries(
            user_id,
            ["heart_rate"],
            study=route_study,
            start=start,
            end=end,
            granularity=granularity,
            impute="auto" if impute else "none",
        )
    except ApiError as exc:
        if not (impute and exc.status == 422 and exc.body.get("parameter") == "impute"):
            return message_figure(f"heart rate could not be loaded: {exc}", title="Heart rate"), "", ""
        note = f"{exc.message}; showing observed values only"
        impute = False
        try:
            answer = client.timeseries(
                user_id, ["heart_rate"], study=route_study, start=start, end=end, granularity=granularity
            )
        except ApiError as exc2:
            return message_figure(f"heart rate could not be loaded: {exc2}", title="Heart rate"), "", ""
    series = answer.series[0]
    if impute and series.granularity == "raw":
        note = "imputation fills minute means: choose per minute or coarser to see imputed values"
    summary = summarize(series, impute)
    words = {"raw": "every sample", "1m": "per minute", "1h": "hourly", "1d": "daily"}[series.granularity]
    auto = " (auto)" if granularity == "auto" else ""
    text = f"{summary.text()} · {words}{auto} · times in {series.timezone}"
    fig = heart_rate_figure(series, impute, empty_reason(participant, start, end))
    return fig, text, note


def _info(p: ParticipantDetail) -> list[Child]:
    now = datetime.now(UTC)
    a = p.adherence
    pct = "–" if a.adherence_pct is None else f"{a.adherence_pct:.1f} %"
    # the API computes adherence, valid days and nights over these local days (docs/adherence.md)
    over = f"{p.window.first_day} to {p.window.last_day}" if p.window.first_day else "–"
    items = [
        ("time zone", p.timezone),
        ("status", p.status),
        ("window", over),
        ("adherence", pct),
        ("valid days", f"{a.valid_days} of {a.days}"),
        ("sleep nights", f"{p.sleep.nights_recorded} of {p.sleep.nights_considered}"),
        ("last sample", ago(hours_since(p.latest_sample, now))),
        ("last sync", ago(hours_since(p.last_sync, now))),
        ("source / token", p.source_status),
        ("last contacted", ago(hours_since(p.last_contacted, now))),
    ]
    return [
        *[html.Span([html.Span(k + ": ", className="key"), v], className="item") for k, v in items],
        html.Span(badges(p.flags, p.flag_details), className="item"),
    ]


def register(app: Dash, client: ApiClient) -> None:
    @app.callback(
        Output(STORE, "data"),
        Output("participant-error", "children"),
        Input("url", "pathname"),
        Input("refresh", "data"),
    )
    def load(
        pathname: str | None, _refresh: int
    ) -> tuple[dict[str, object] | None | NoUpdate, Children | NoUpdate]:
        route = parse_path(pathname)
        if route.page != "participant" or not route.user_id:
            return no_update, no_update
        try:
            return stores.dump(client.participant(route.user_id, study=route.study)), None
        except ApiError as exc:
            return None, error_box(exc)

    @app.callback(
        Output("participant-title", "children"),
        Output("participant-info", "children"),
        Input(STORE, "data"),
        State("url", "pathname"),
    )
    def info(data: object, pathname: str | None) -> tuple[str, Children]:
        route = parse_path(pathname)
        p = stores.load(ParticipantDetail, data, STORE)
        if p is None:
            return f"{route.user_id or ''}", None
        return f"{p.user_id} · study {p.study}", _info(p)

    @app.callback(
        Output("hr-range", "start_date"),
        Output("hr-range", "end_date"),
        Output("range-owner", "data"),
        Input(STORE, "data"),
        *[Input(k, "n_clicks") for k in RANGE_DAYS],
        State("hr-range", "end_date"),
        State("range-owner", "data"),
    )
    def set_range(
        data: object, *clicks_then_state: int | str | None
    ) -> tuple[str | NoUpdate, str | NoUpdate, str | None | NoUpdate]:
        end_now, owner = (str(x) if x else None for x in clicks_then_state[-2:])
        p = stores.load(ParticipantDetail, data, STORE)
        trigger = ctx.triggered_id
        if trigger in RANGE_DAYS:
            end = (
                date.fromisoformat(end_now[:10])
                if end_now
                else (_local_last_day(p) if p is not None else date.today())
            )
            return (end - timedelta(days=RANGE_DAYS[trigger] - 1)).isoformat(), end.isoformat(), no_update
        if p is None:
            # the participant could not be loaded: a week to today, so every panel says why it is empty
            if ctx.triggered_id != STORE or end_now:
                return no_update, no_update, no_update
            return (date.today() - timedelta(days=6)).isoformat(), date.today().isoformat(), None
        key = f"{p.study}/{p.user_id}"
        if owner == key:
            return (
                no_update,
                no_update,
                no_update,
            )  # a refresh (after an email) keeps the range the manager chose
        end = _local_last_day(p)
        return (end - timedelta(days=6)).isoformat(), end.isoformat(), key

    @app.callback(
        Output("hr-graph", "figure"),
        Output("hr-summary", "children"),
        Output("hr-note", "children"),
        Input("hr-range", "start_date"),
        Input("hr-range", "end_date"),
        Input("hr-granularity", "value"),
        Input("hr-impute", "value"),
        State("url", "pathname"),
        State(STORE, "data"),
    )
    def heart_rate(
        start: str | None,
        end: str | None,
        granularity: str,
        impute: list[str] | None,
        pathname: str | None,
        data: object,
    ) -> tuple[Figure, str | NoUpdate, str | NoUpdate]:
        route = parse_path(pathname)
        if route.page != "participant" or not (start and end and route.user_id and route.study):
            return no_update, no_update, no_update
        return heart_rate_view(
            client,
            route.study,
            route.user_id,
            start[:10],
            end[:10],
            granularity,
            "impute" in (impute or []),
            stores.load(ParticipantDetail, data, STORE),
        )

    @app.callback(
        [Output(k, "figure") for k in TREND_OUTPUTS],
        Output("trend-note", "children"),
        Input("hr-range", "start_date"),
        Input("hr-range", "end_date"),
        State("url", "pathname"),
    )
    def trends(start: str | None, end: str | None, pathname: str | None) -> list[Figure | Children]:
        route = parse_path(pathname)
        if route.page != "participant" or not (start and end and route.user_id and route.study):
            return [no_update] * (len(TREND_OUTPUTS) + 1)
        last = date.fromisoformat(end[:10])
        first = min(date.fromisoformat(start[:10]), last - timedelta(days=MIN_TREND_DAYS - 1))
        span = f"between {first} and {last}"
        try:
            answer = client.timeseries(
                route.user_id,
                TREND_METRICS,
                study=route.study,
                start=first.isoformat(),
                end=last.isoformat(),
                granularity="1d",
            )
            sleep = client.sleep(
                route.user_id, study=route.study, start=first.isoformat(), end=last.isoformat()
            )
        except ApiError as exc:
            failed = message_figure(f"could not be loaded: {exc.message}", height=260)
            return [failed] * len(TREND_OUTPUTS) + [error_box(exc)]
        figures = panel_figures(answer, span)
        note = f"Local days {first} to {last} (at least {MIN_TREND_DAYS} days, ending with the range above)."
        return [hypnogram_figure(sleep, span), *[figures[p.key] for p in PANELS], note]
