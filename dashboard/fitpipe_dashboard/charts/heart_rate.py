"""The heart-rate panel: observed values (with the min–max band when aggregated), imputed values drawn
apart, non-wear shaded, and the summary numbers with or without the imputed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from fitpipe.contracts import Series
from fitpipe_dashboard.charts.empty import BASE_LAYOUT, message_figure
from fitpipe_dashboard.charts.gaps import band, break_at_gaps, find_gaps, shade
from fitpipe_dashboard.timefmt import local_label, to_local

__all__ = ["HeartRateSummary", "heart_rate_figure", "summarize", "floats"]

OBSERVED = "#c0392b"
IMPUTED = "#e67e22"
GRANULARITY_WORDS = {"raw": "every sample", "1m": "per minute", "1h": "hourly means", "1d": "daily means"}


@dataclass(frozen=True)
class HeartRateSummary:
    mean: float | None
    low: float | None
    high: float | None
    observed: int
    """Buckets (or samples at raw) with measured heart rate."""
    imputed_minutes: int
    included: bool
    """Whether mean/low/high include the imputed values."""
    granularity: str
    unit: str

    def text(self) -> str:
        if self.mean is None:
            return "no heart rate in this range"
        what = {"raw": "samples", "1m": "minutes", "1h": "hours", "1d": "days"}[self.granularity]
        parts = [f"mean {self.mean:.1f} {self.unit}", f"range {self.low:.0f}–{self.high:.0f} {self.unit}"]
        if self.included and self.granularity == "1m":
            parts.append(
                f"{self.observed + self.imputed_minutes:,} minutes with data "
                f"({self.imputed_minutes:,} imputed, included)"
            )
        elif self.included:
            parts.append(
                f"{self.observed:,} {what} with data, {self.imputed_minutes:,} imputed minutes included"
            )
        else:
            parts.append(f"{self.observed:,} {what} with data (observed values only)")
        return " · ".join(parts)


def floats(values: Sequence[float | None] | None) -> np.ndarray:
    """JSON numbers with nulls as NaN."""
    if not values:
        return np.empty(0)
    return np.array([np.nan if x is None else x for x in values], dtype=np.float64)


def _observed_values(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """(mask of buckets with measured data, their observed-only values)."""
    imputed = np.array(series.imputed, dtype=bool)
    v = floats(series.v)
    if series.v_observed is not None:  # 1h/1d with impute=auto: v holds imputed minutes, v_observed does not
        observed = floats(series.v_observed)
        return ~np.isnan(observed), observed
    return ~imputed, v


def summarize(series: Series, include_imputed: bool) -> HeartRateSummary:
    g, unit = series.granularity, series.unit
    has, observed = _observed_values(series)
    imputed = np.array(series.imputed, dtype=bool)
    if series.imputed_minutes is not None:
        imputed_minutes = int(np.sum(series.imputed_minutes))
    else:
        imputed_minutes = int(imputed.sum())
    values = floats(series.v) if include_imputed else observed[has]
    values = values[~np.isnan(values)]
    if values.size == 0:
        return HeartRateSummary(None, None, None, int(has.sum()), imputed_minutes, include_imputed, g, unit)
    # mean and range of the plotted values (minute, hour or day means), with or without the imputed ones
    low, high = float(values.min()), float(values.max())
    return HeartRateSummary(
        float(values.mean()), low, high, int(has.sum()), imputed_minutes, include_imputed, g, unit
    )


def heart_rate_figure(series: Series, include_imputed: bool, empty_reason: str) -> go.Figure:
    tz, g, unit = series.timezone, series.granularity, series.unit
    t = to_local(series.t, tz)
    has, observed = _observed_values(series)
    imputed = np.array(series.imputed, dtype=bool)
    show_imputed = include_imputed and bool(imputed.any())
    if not has.any() and not show_imputed:
        return message_figure(empty_reason, title="Heart rate")
    start = to_local([series.start], tz)[0]
    end = to_local([series.end], tz)[0]
    t_obs = t[has]
    fig = go.Figure()
    if series.min is not None and series.max is not None and g != "raw":
        xs, ys = band(t_obs, floats(series.min)[has], floats(series.max)[has], g)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"width": 0},
                fill="toself",
                fillcolor="rgba(192,57,43,0.15)",
                name="min–max",
                hoverinfo="skip",
            )
        )
    xs, ys = break_at_gaps(t_obs, observed[has], g)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers" if t_obs.size <= 400 else "lines",
            marker={"size": 4},
            line={"color": OBSERVED, "width": 1.5},
            name=f"observed ({GRANULARITY_WORDS[g]})",
            hovertemplate="%{y:.0f} " + unit + "<extra>observed</extra>",
        )
    )
    if show_imputed:
        v = floats(series.v)
        error_y = None
        if series.lo is not None and series.hi is not None:
            lo, hi = floats(series.lo)[imputed], floats(series.hi)[imputed]
            error_y = {
                "type": "data",
                "symmetric": False,
                "array": hi - v[imputed],
                "arrayminus": v[imputed] - lo,
                "color": "rgba(230,126,34,0.35)",
                "thickness": 1,
                "width": 0,
            }
        fig.add_trace(
            go.Scatter(
                x=t[imputed],
                y=v[imputed],
                mode="markers",
                name="imputed",
                marker={"color": IMPUTED, "symbol": "circle-open", "size": 6},
                error_y=error_y,
                hovertemplate="%{y:.0f} " + unit + "<extra>imputed</extra>",
            )
        )
    gaps = find_gaps(t_obs, start, end, g)
    if gaps:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="no heart rate measured",
                marker={"symbol": "square", "size": 12, "color": "rgba(120,120,120,0.3)"},
            )
        )
    fig.update_layout(
        **(BASE_LAYOUT | {"height": 360}),
        title="Heart rate",
        shapes=shade(gaps),
        legend={"orientation": "h", "y": -0.25},
        xaxis={"title": local_label(tz), "range": [start, end]},
        yaxis={"title": f"heart rate ({unit})"},
    )
    return fig
