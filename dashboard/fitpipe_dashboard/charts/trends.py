"""Day-by-day panels of the drill-down (resting heart rate, SpO2, HRV, breathing rate, steps, active zone
minutes, sleep duration): one figure per panel from the API's daily series, empty states that say why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from fitpipe.contracts import Series, TimeseriesAnswer
from fitpipe_dashboard.charts.empty import BASE_LAYOUT, message_figure
from fitpipe_dashboard.charts.heart_rate import floats
from fitpipe_dashboard.timefmt import to_local

__all__ = ["Panel", "PANELS", "TREND_METRICS", "trend_figure", "panel_figures"]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    metrics: tuple[str, ...]
    """Metric names in order of preference: the first with data is drawn (a nightly summary, else the
    daily mean of the finer metric)."""
    kind: str = "line"
    scale: float = 1.0
    unit: str | None = None
    """Axis unit when it differs from the catalog's (sleep minutes shown in hours)."""


PANELS: tuple[Panel, ...] = (
    Panel("rhr", "Resting heart rate", ("resting_heart_rate",)),
    Panel("sleep", "Sleep per night", ("sleep_minutes",), kind="bar", scale=1 / 60, unit="h asleep"),
    Panel("spo2", "SpO2", ("spo2_daily", "spo2")),
    Panel("hrv", "Heart-rate variability (RMSSD)", ("hrv_daily_rmssd", "hrv_rmssd")),
    Panel("breathing", "Breathing rate", ("breathing_rate",)),
    Panel("steps", "Steps", ("steps",), kind="bar"),
    Panel("azm", "Active zone minutes", ("active_zone_minutes",), kind="bar"),
)
TREND_METRICS: tuple[str, ...] = tuple(dict.fromkeys(m for p in PANELS for m in p.metrics))


def _daily_values(series: Series) -> np.ndarray:
    """Daily totals for sum metrics (steps: the day's sum, not its mean per sample), else daily means."""
    if series.aggregation == "sum" and series.sum is not None:
        return floats(series.sum)
    return floats(series.v)


def trend_figure(panel: Panel, by_metric: dict[str, Series], span_text: str) -> go.Figure:
    series = next((by_metric[m] for m in panel.metrics if m in by_metric and by_metric[m].points), None)
    if series is None:
        return message_figure(
            f"no {panel.title.lower()} {span_text}: the device recorded none "
            "(not worn at night, or the source does not provide it)",
            title=panel.title,
            height=260,
        )
    tz = series.timezone
    x = to_local(series.t, tz)
    y = _daily_values(series) * panel.scale
    unit = panel.unit or series.unit
    hover = "%{x|%a %d %b %Y}: %{y:.1f} " + unit + "<extra></extra>"
    if panel.kind == "bar":
        trace: go.Scatter | go.Bar = go.Bar(x=x, y=y, marker_color="#2e86c1", hovertemplate=hover)
    else:
        trace = go.Scatter(x=x, y=y, mode="lines+markers", line={"color": "#8e44ad"}, hovertemplate=hover)
    fig = go.Figure(trace)
    source = "" if series.metric == panel.metrics[0] else f" (daily mean of {series.metric})"
    fig.update_layout(
        **(BASE_LAYOUT | {"height": 260, "hovermode": "closest"}),
        title=panel.title + source,
        showlegend=False,
        xaxis={"title": f"local day ({tz})"},
        yaxis={"title": f"{panel.title.split(' (')[0].lower()} ({unit})"},
    )
    return fig


def panel_figures(answer: TimeseriesAnswer, span_text: str) -> dict[str, go.Figure]:
    by_metric = {s.metric: s for s in answer.series}
    return {p.key: trend_figure(p, by_metric, span_text) for p in PANELS}
