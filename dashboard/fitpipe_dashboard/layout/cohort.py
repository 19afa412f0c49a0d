"""The cohort page: counts, editable thresholds, the sortable and filterable participants grid, the wear heatmap.

The grid's rows are CohortRow models (fitpipe_dashboard.cohort): every column id, tooltip field and
`params.data.<field>` in its scripts names a field of that model, checked here when the module is imported
(so a renamed field fails the tests, not silently in the browser).
"""

from __future__ import annotations

import re

import dash_ag_grid as dag
from dash import dcc, html
from pydantic import BaseModel, ValidationError

from fitpipe_dashboard.cohort import CohortRow
from fitpipe_dashboard.layout.widgets import stat

__all__ = ["cohort_page", "COLUMNS", "ROW_ID", "CellClicked", "column", "script"]

_DATA_FIELD = re.compile(r"params\.data\.(\w+)")


def _row_field(field: str) -> str:
    if field not in CohortRow.model_fields:
        raise ValueError(f"the cohort grid names {field!r}, which is not a field of CohortRow")
    return field


def script(js: str) -> dict[str, str]:
    """A grid function (dash-ag-grid's {"function": ...}); each `params.data.<field>` must be a row field."""
    for field in _DATA_FIELD.findall(js):
        _row_field(field)
    return {"function": js}


def column(field: str, header: str, width: int, **options: object) -> dict[str, object]:
    """A column showing the row field `field` (options in AG Grid's words; tooltipField is checked too)."""
    if isinstance(tooltip := options.get("tooltipField"), str):
        _row_field(tooltip)
    return {"field": _row_field(field), "headerName": header, "width": width, **options}


TEXT = {"filter": "agTextColumnFilter"}
NUMBER = {"filter": "agNumberColumnFilter"}
AGO = script("agoText(params.value)")
COLUMNS = [
    column("user_id", "participant", 130, pinned="left", **TEXT),
    column("study", "study", 110, **TEXT),
    column(
        "adherence_pct",
        "adherence %",
        130,
        **NUMBER,
        valueFormatter=script("params.value == null ? '–' : d3.format('.1f')(params.value) + ' %'"),
        cellClassRules={"low": script("params.data.flags.includes('low_wear')")},
    ),
    column(
        "valid_days",
        "valid days",
        115,
        **NUMBER,
        valueFormatter=script("params.value + ' of ' + params.data.days"),
    ),
    column("last_sample_h", "last sample", 125, **NUMBER, valueFormatter=AGO),
    column("last_sync_h", "last sync", 120, **NUMBER, valueFormatter=AGO),
    column("source_status", "source / token", 135, **TEXT),
    column("sleep_nights", "sleep nights", 120, **NUMBER, valueFormatter=script("params.data.sleep_text")),
    column("flags", "flags", 260, **TEXT, cellRenderer="FlagBadges", tooltipField="flag_notes"),
    column(
        "last_contacted_h",
        "last contacted",
        150,
        **NUMBER,
        valueFormatter=script("agoText(params.value) + (params.data.in_cooldown ? ' · cooldown' : '')"),
        cellClassRules={"cooldown": script("params.data.in_cooldown")},
    ),
    column("contact", "", 90, sortable=False, filter=False, cellClass="email-cell"),
]
ROW_ID = script("params.data.study + '/' + params.data.user_id")
"""A row's id: "<study>/<user_id>" (CellClicked.participant reads it back)."""


class CellClicked(BaseModel):
    """The grid's cellClicked event, the fields the page uses."""

    colId: str | None = None
    rowId: str | None = None

    @classmethod
    def of(cls, event: object) -> CellClicked | None:
        """The event the browser sent; None for none, or for one that is not a click event."""
        if event is None:
            return None
        try:
            return cls.model_validate(event)
        except ValidationError:
            return None

    @property
    def participant(self) -> tuple[str, str] | None:
        """(study, user_id) of the clicked row (ROW_ID)."""
        if not self.rowId:
            return None
        study, _, user_id = self.rowId.partition("/")
        return study, user_id


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
                    "getRowId": ROW_ID,
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
