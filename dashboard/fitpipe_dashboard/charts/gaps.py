"""Where a series has no data: the gaps that are shaded as "not worn" and that break its line."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_GAP", "find_gaps", "break_at_gaps", "band", "shade"]

MIN_GAP: dict[str, pd.Timedelta] = {
    # The shortest hole worth shading per granularity: a few missed samples are not non-wear.
    "raw": pd.Timedelta(minutes=10),
    "1m": pd.Timedelta(minutes=10),
    "1h": pd.Timedelta(hours=2),
    "1d": pd.Timedelta(days=2),
}
STEP: dict[str, pd.Timedelta] = {
    "raw": pd.Timedelta(0),
    "1m": pd.Timedelta(minutes=1),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}
MAX_SHADES = 300
"""More rectangles than this slow the browser down; the longest gaps are kept."""


def find_gaps(
    t: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp, granularity: str
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """[(from, to)] of holes of at least MIN_GAP between observed points, and at either end of the span."""
    min_gap, step = MIN_GAP[granularity], STEP[granularity]
    if t.size == 0:
        return [(start, end)] if end > start else []
    ends = t + step  # a bucket covers [t, t + step)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    if t[0] - start >= min_gap:
        gaps.append((start, t[0]))
    holes = np.flatnonzero((t[1:] - ends[:-1]) >= min_gap)
    gaps.extend((ends[i], t[i + 1]) for i in holes.tolist())
    if end - ends[-1] >= min_gap:
        gaps.append((ends[-1], end))
    if len(gaps) > MAX_SHADES:
        gaps = sorted(sorted(gaps, key=lambda g: g[1] - g[0], reverse=True)[:MAX_SHADES])
    return gaps


def break_at_gaps(t: pd.DatetimeIndex, v: np.ndarray, granularity: str) -> tuple[list[object], list[object]]:
    """x and y with a None after each point followed by a gap, so the line does not bridge non-wear."""
    if t.size == 0:
        return [], []
    after = np.zeros(t.size, dtype=bool)
    after[:-1] = (t[1:] - (t[:-1] + STEP[granularity])) >= MIN_GAP[granularity]
    xs: list[object] = []
    ys: list[object] = []
    for x, y, cut in zip(t.to_pydatetime(), v.tolist(), after.tolist(), strict=True):
        xs.append(x)
        ys.append(None if y != y else y)  # NaN → None: a break, not a zero
        if cut:
            xs.append(None)
            ys.append(None)
    return xs, ys


def band(
    t: pd.DatetimeIndex, low: np.ndarray, high: np.ndarray, granularity: str
) -> tuple[list[object], list[object]]:
    """A closed outline (high forwards, low backwards) per stretch without gaps, for fill="toself"."""
    if t.size == 0:
        return [], []
    cuts = np.flatnonzero((t[1:] - (t[:-1] + STEP[granularity])) >= MIN_GAP[granularity]) + 1
    xs: list[object] = []
    ys: list[object] = []
    times = t.to_pydatetime()
    for seg in np.split(np.arange(t.size), cuts):
        if xs:
            xs.append(None)
            ys.append(None)
        xs += [times[i] for i in seg] + [times[i] for i in seg[::-1]]
        ys += [None if high[i] != high[i] else float(high[i]) for i in seg]
        ys += [None if low[i] != low[i] else float(low[i]) for i in seg[::-1]]
    return xs, ys


def shade(gaps: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[dict[str, object]]:
    """Plotly layout shapes: grey bands over the gaps, under the data."""
    return [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": a,
            "x1": b,
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(120,120,120,0.15)",
            "line": {"width": 0},
            "layer": "below",
        }
        for a, b in gaps
    ]
