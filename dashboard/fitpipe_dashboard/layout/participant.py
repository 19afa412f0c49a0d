"""The participant drill-down: who they are and how they do, heart rate with range, granularity and the
imputation toggle, then the day-by-day panels modelled on fitbit-grafana."""

from __future__ import annotations

from dash import dcc, html

from fitpipe_dashboard.charts.empty import message_figure
from fitpipe_dashboard.charts.trends import PANELS

__all__ = ["participant_page", "RANGE_DAYS", "GRANULARITIES"]

RANGE_DAYS = {"range-1d": 1, "range-7d": 7, "range-30d": 30, "range-1y": 365}
GRANULARITIES = [
    {"label": " auto ", "value": "auto"},
    {"label": " every sample ", "value": "raw"},
    {"label": " per minute ", "value": "1m"},
    {"label": " hourly ", "value": "1h"},
    {"label": " daily ", "value": "1d"},
]


def _graph(element_id: str, title: str, height: int = 260) -> dcc.Graph:
    return dcc.Graph(
        id=element_id,
        figure=message_figure("loading…", title=title, height=height),
        config={"displaylogo": False},
        className="panel",
    )


def participant_page(can_contact: bool = True) -> html.Div:
    """One participant's page; without `can_contact` (analysts) there is no Email button."""
    return html.Div(
        id="page-participant",
        className="page",
        style={"display": "none"},
        children=[
            dcc.Store(id="range-owner"),
            html.Div(
                className="toolbar",
                children=[
                    dcc.Link("← cohort", href="/", className="back"),
                    html.H2(id="participant-title"),
                    *(
                        [html.Button("Email", id="participant-email", className="button primary")]
                        if can_contact
                        else []
                    ),
                ],
            ),
            html.Div(id="participant-error"),
            html.Div(id="participant-info", className="info"),
            html.Div(
                className="controls",
                children=[
                    dcc.DatePickerRange(id="hr-range", display_format="YYYY-MM-DD", minimum_nights=0),
                    html.Div(
                        [
                            html.Button(label, id=key, className="button small")
                            for key, label in zip(
                                RANGE_DAYS, ("1 day", "7 days", "30 days", "1 year"), strict=True
                            )
                        ],
                        className="range-buttons",
                    ),
                    html.Label(
                        [
                            "granularity ",
                            dcc.RadioItems(
                                id="hr-granularity", options=GRANULARITIES, value="auto", inline=True
                            ),
                        ]
                    ),
                    dcc.Checklist(
                        id="hr-impute",
                        options=[{"label": " include imputed values", "value": "impute"}],
                        value=[],
                        inline=True,
                    ),
                ],
            ),
            html.Div(id="hr-summary", className="summary"),
            html.Div(id="hr-note", className="hint"),
            dcc.Loading(_graph("hr-graph", "Heart rate", 360)),
            html.H3("Day by day", className="section"),
            html.Div(id="trend-note", className="hint"),
            html.Div(
                className="panels",
                children=[
                    _graph("sleep-stages", "Sleep stages"),
                    *[_graph(f"trend-{p.key}", p.title) for p in PANELS],
                ],
            ),
        ],
    )
