"""The hypnogram: the stages of the newest main sleep in the range, from the API's sleep sessions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from fitpipe.contracts import SleepAnswer
from fitpipe_dashboard.charts.empty import BASE_LAYOUT, message_figure
from fitpipe_dashboard.timefmt import to_local

__all__ = ["hypnogram_figure", "STAGE_ORDER"]

STAGE_ORDER = {"deep": 0, "light": 1, "rem": 2, "wake": 3, "asleep": 0, "restless": 1, "awake": 3}
STAGE_NAMES = {0: "deep / asleep", 1: "light / restless", 2: "REM", 3: "awake"}


def hypnogram_figure(answer: SleepAnswer | None, span_text: str) -> go.Figure:
    """`answer`: GET /api/v1/sleep, decoded; None while the API has no such route."""
    if answer is None:
        return message_figure(
            "sleep stages need the API's /api/v1/sleep route (not available yet); "
            "the nightly totals are below",
            title="Sleep stages",
            height=260,
        )
    sessions = [s for s in answer.sessions if s.is_main_sleep and s.stages.start]
    if not sessions:
        return message_figure(
            f"no sleep with stages {span_text}: the device was not worn at night "
            "or recorded only classic sleep",
            title="Sleep stages",
            height=260,
        )
    night = max(sessions, key=lambda s: s.start)
    tz = answer.timezone
    stages = night.stages
    starts = to_local(stages.start, tz)
    xs: list[object] = []
    ys: list[object] = []
    for start, seconds, level in zip(starts, stages.seconds, stages.level, strict=True):
        y = STAGE_ORDER.get(level, 1)
        xs += [start, start + pd.Timedelta(seconds=int(seconds))]
        ys += [y, y]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"shape": "hv", "color": "#1f618d"},
            hovertemplate="%{x|%H:%M}<extra></extra>",
        )
    )
    fig.update_layout(
        **(BASE_LAYOUT | {"height": 260, "hovermode": "closest"}),
        title=f"Sleep stages, night of {night.local_date}",
        showlegend=False,
        xaxis={"title": f"participant's local time ({tz})"},
        yaxis={
            "title": "stage",
            "tickvals": list(STAGE_NAMES),
            "ticktext": list(STAGE_NAMES.values()),
            "range": [-0.5, 3.5],
        },
    )
    return fig
