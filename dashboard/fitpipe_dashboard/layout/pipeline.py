"""The pipeline-health page: the last ingest runs, the latest errors, quarantined records by reason."""

from __future__ import annotations

from dash import dcc, html

__all__ = ["pipeline_page"]


def pipeline_page() -> html.Div:
    return html.Div(
        id="page-pipeline",
        className="page",
        style={"display": "none"},
        children=[
            html.Div(
                className="toolbar",
                children=[
                    html.H2("Pipeline health"),
                    html.Button("Refresh", id="pipeline-refresh", className="button"),
                ],
            ),
            html.Div(id="pipeline-error"),
            html.H3("Last ingest runs", className="section"),
            html.Div(id="runs-table"),
            html.H3("Latest errors", className="section"),
            html.Div(id="latest-errors"),
            dcc.Graph(id="quarantine-graph", config={"displaylogo": False}),
        ],
    )
