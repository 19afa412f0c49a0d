"""The cohort's participants × days heatmap of wear (% of the local day with heart rate)."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go

from fitpipe.contracts import AdherenceAnswer
from fitpipe_dashboard.charts.empty import BASE_LAYOUT, message_figure

__all__ = ["wear_heatmap"]


def wear_heatmap(answer: AdherenceAnswer) -> go.Figure:
    """From GET /api/v1/adherence: one row per participant, one column per local day."""
    people = [p for p in answer.participants if p.days.date]
    if not people:
        return message_figure(
            "no wear data yet: no participant of this study has a complete local day with heart rate",
            title="Wear per day",
        )
    dates: list[date] = sorted({d for p in people for d in p.days.date})
    column = {d: i for i, d in enumerate(dates)}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for p in people:
        row: list[float | None] = [None] * len(dates)
        notes = [""] * len(dates)
        days = p.days
        for d, pct, valid in zip(days.date, days.wear_pct, days.valid_day, strict=True):
            row[column[d]] = pct
            notes[column[d]] = "valid day" if valid else "not a valid day"
        z.append(row)
        text.append(notes)
    users = [p.user_id for p in people]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=dates,
            y=users,
            text=text,
            zmin=0,
            zmax=100,
            colorscale="RdYlGn",
            colorbar={"title": {"text": "worn (%)"}},
            xgap=1,
            ygap=1 if len(users) <= 100 else 0,
            hovertemplate="%{y} on %{x}: %{z:.0f} % of the day worn (%{text})<extra></extra>",
        )
    )
    fig.update_layout(
        **(BASE_LAYOUT | {"height": min(max(120 + 22 * len(users), 300), 900), "hovermode": "closest"}),
        title="Wear per participant and local day (% of the day with heart rate)",
        xaxis={"title": "participant's local day"},
        yaxis={"title": "participant", "autorange": "reversed", "type": "category"},
    )
    return fig
