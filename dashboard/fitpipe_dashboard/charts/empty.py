"""A figure that says why it is empty (no data, an API error) instead of showing blank axes."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["message_figure", "BASE_LAYOUT"]

BASE_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "template": "plotly_white",
    "height": 300,
    "hovermode": "x unified",
}


def message_figure(text: str, title: str | None = None, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        **(BASE_LAYOUT | {"height": height}), title=title, xaxis={"visible": False}, yaxis={"visible": False}
    )
    fig.add_annotation(
        text=text,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 14, "color": "#555"},
    )
    return fig
