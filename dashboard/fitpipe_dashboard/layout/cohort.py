"""The cohort page: counts, editable thresholds, the sortable and filterable participants grid, the wear heatmap."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from fitpipe_dashboard.layout.widgets import stat

__all__ = ["cohort_page", "COLUMNS"]

AGO = {"function": "agoText(params.value)"}
COLUMNS = [
    {
        "field": "user_id",
        "headerName": "participant",
        "pinned": "left",
        "width": 130,
        "filter": "agTextColumnFilter",
    },
    {"field": "study", "headerName": "study", "width": 110, "filter": "agTextColumnFilter"},
    {
        "field": "adherence_pct",
        "headerName": "adherence %",
        "width": 130,
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "params.value == null ? '–' : d3.format('.1f')(params.value) + ' %'"},
        "cellClassRules": {"low": {"function": "params.data.flags.includes('low_wear')"}},
    },
    {
        "field": "valid_days",
        "headerName": "valid days",
        "width": 115,
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "params.value + ' of ' + params.data.days"},
    },
    {
        "field": "last_sample_h",
        "headerName": "last sample",
        "width": 125,
        "filter": "agNumberColumnFilter",
        "valueFormatter": AGO,
    },
    {
        "field": "last_sync_h",
        "headerName": "last sync",
        "width": 120,
        "filter": "agNumberColumnFilter",
        "valueFormatter": AGO,
    },
    {"field": "source_status", "headerName": "source / token", "width": 135, "filter": "agTextColumnFilter"},
    {
        "field": "sleep_nights",
        "headerName": "sleep nights",
        "width": 120,
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "params.data.sleep_text"},
    },
    {
        "field": "flags",
        "headerName": "flags",
        "width": 260,
        "filter": "agTextColumnFilter",
        "cellRenderer": "FlagBadges",
        "tooltipField": "flag_notes",
    },
    {
        "field": "last_contacted_h",
        "headerName": "last contacted",
        "width": 150,
        "filter": "agNumberColumnFilter",
        "valueFormatter": {
            "function": "agoText(params.value) + (params.data.in_cooldown ? ' · cooldown' : '')"
        },
        "cellClassRules": {"cooldown": {"function": "params.data.in_cooldown"}},
    },
    {
        "field": "contact",
        "headerName": "",
        "width": 90,
        "sortable": False,
        "filter": False,
        "cellClass": "email-cell",
    },
]


def cohort_page(can_contact: bool = True) -> html.Div:
    """The cohort page; without `can_contact` (analysts) there is no Email button or column at all."""
    return html.Div(
        id="page-cohort",
        className="page",
        children=[
            html.Div(
                className="toolbar",
                children=[
                    html.Label(
                        ["study ", dcc.Dropdown(id="study", clearable=False, style={"width": "220px"})]
                    ),
                    html.Div(
                        className="stats",
                        children=[
                            stat("enrolled", "–", "count-enrolled"),
                            stat("flagged", "–", "count-flagged"),
                            stat("syncing today", "–", "count-syncing"),
                        ],
                    ),
                    *(
                        [html.Button("Email all flagged", id="email-flagged", className="button primary")]
                        if can_contact
                        else []
                    ),
                ],
            ),
            html.Div(id="cohort-error"),
            html.Details(
                className="thresholds",
                open=False,
                children=[
                    html.Summary("Flag thresholds"),
                    html.Div(
                        className="threshold-row",
                        children=[
                            html.Label(
                                [
                                    "adherence below (%) ",
                                    dcc.Input(
                                        id="th-adherence",
                                        type="number",
                                        min=0,
                                        max=100,
                                        step=1,
                                        debounce=True,
                                    ),
                                ]
                            ),
                            html.Label(
                                [
                                    "no upload for (h) ",
                                    dcc.Input(id="th-upload", type="number", min=1, step=1, debounce=True),
                                ]
                            ),
                            html.Label(
                                [
                                    "sleep wanted on (nights) ",
                                    dcc.Input(id="th-sleep", type="number", min=0, step=1, debounce=True),
                                ]
                            ),
                            html.Span(id="th-window", className="hint"),
                            html.Button("Reset to the study's rules", id="th-reset", className="button"),
                        ],
                    ),
                    html.Div(id="th-note", className="hint"),
                ],
            ),
            html.Div(
                className="filter-row",
                children=[
                    dcc.Input(
                        id="cohort-filter",
                        type="search",
                        placeholder="filter participants (id, flag, source…)",
                        debounce=False,
                        style={"width": "320px"},
                    ),
                    html.Span(
                        "Click a participant to see their data"
                        + ("; click Email to contact them." if can_contact else "."),
                        className="hint",
                    ),
                ],
            ),
            dag.AgGrid(
                id="cohort-grid",
                columnDefs=COLUMNS if can_contact else [c for c in COLUMNS if c["field"] != "contact"],
                rowData=[],
                defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
                dashGridOptions={
                    "rowHeight": 34,
                    "tooltipShowDelay": 300,
                    "animateRows": False,
                    "getRowId": {"function": "params.data.study + '/' + params.data.user_id"},
                },
                style={"height": "480px", "width": "100%"},
            ),
            html.Div(
                className="heatmap-row",
                children=[
                    dcc.RadioItems(
                        id="heatmap-days",
                        inline=True,
                        value=30,
                        options=[{"label": f" last {n} days ", "value": n} for n in (14, 30, 90)],
                    ),
                ],
            ),
            dcc.Loading(dcc.Graph(id="wear-heatmap", config={"displaylogo": False})),
        ],
    )
