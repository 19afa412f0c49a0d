"""Filling the gaps of one participant's minute series: the model's mean, shifted to the level around the gap,
plus the AR(1) bridge between the edges.

Every minute of the span comes back: observed values exactly as given, imputed ones flagged with a
prediction interval, and the minutes left empty with the reason (see gaps.py). Vectorised over all
gaps, so a month of minutes takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from fitpipe.imputation.activity import activity_features, steps_on_grid
from fitpipe.imputation.bridge import ar1_bridge
from fitpipe.imputation.gaps import Gap, classify_gaps, find_gaps
from fitpipe.imputation.minutes import minute_floor, observed_minutes
from fitpipe.imputation.model import ParticipantModel
from fitpipe.imputation.options import MINUTE_US, ImputationOptions
from fitpipe.imputation.profile import local_minutes

__all__ = ["ImputedMinutes", "impute_minutes"]


@dataclass(frozen=True)
class ImputedMinutes:
    t: np.ndarray
    """int64 µs of every minute of the span."""
    v: np.ndarray
    """Observed value, imputed value, or NaN (left empty)."""
    imputed: np.ndarray
    lo: np.ndarray
    """Lower end of the prediction interval of imputed minutes (NaN elsewhere)."""
    hi: np.ndarray
    gaps: tuple[Gap, ...]
    """Every gap overlapping the span (whole, even where it reaches outside), with what was done."""

    @property
    def observed(self) -> np.ndarray:
        observed: np.ndarray = np.isfinite(self.v) & ~self.imputed
        return observed

    @property
    def empty_gaps(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if g.reason != "imputed")


def _bounds(t: np.ndarray, start: int | None, end: int | None) -> tuple[int, int, int, int]:
    """(grid start, grid end, span start, span end) in µs; the grid also covers the context around the span."""
    span_start = minute_floor(start if start is not None else (t[0] if t.size else 0))
    span_end = end if end is not None else (int(t[-1]) + MINUTE_US if t.size else span_start)
    span_end = -(-span_end // MINUTE_US) * MINUTE_US  # whole minutes: a partial last minute is kept
    lo = min(span_start, int(t[0])) if t.size else span_start
    hi = max(span_end, int(t[-1]) + MINUTE_US) if t.size else span_end
    return lo, hi, span_start, span_end


def _local_level(
    residual: np.ndarray, observed: np.ndarray, first: np.ndarray, after: np.ndarray, width: int
) -> np.ndarray:
    """Mean residual of the observed minutes within `width` minutes before and after each gap: how far from
    their usual self (the model's mean) the participant is around the gap, which the bridge reverts to."""
    if width <= 0:
        return np.zeros(first.size)
    total = np.concatenate(([0.0], np.cumsum(np.where(observed, residual, 0.0))))
    count = np.concatenate(([0], np.cumsum(observed)))
    lo = np.maximum(first - width, 0)
    hi = np.minimum(after + width, residual.size)
    sums = total[first] - total[lo] + total[hi] - total[after]
    counts = count[first] - count[lo] + count[hi] - count[after]
    means: np.ndarray = sums / np.maximum(counts, 1)
    return means


def impute_minutes(
    t_us: np.ndarray,
    v: np.ndarray,
    model: ParticipantModel,
    *,
    start: int | None = None,
    end: int | None = None,
    steps_t: np.ndarray | None = None,
    steps_v: np.ndarray | None = None,
    options: ImputationOptions | None = None,
) -> ImputedMinutes:
    """Impute the gaps of [start, end) (µs; default: the data's extent).

    t_us/v: observed minute means; minutes beyond the span are used as edges and context, never returned.
    steps_t/steps_v: per-minute steps over the same stretch (optional): they mark non-wear and drive the
    activity term of the model.
    """
    options = options or ImputationOptions()
    t, y_obs = observed_minutes(t_us, v)
    grid_start, grid_end, span_start, span_end = _bounds(t, start, end)
    n = (grid_end - grid_start) // MINUTE_US
    grid_t = grid_start + np.arange(n, dtype=np.int64) * MINUTE_US
    y = np.full(n, np.nan)
    y[(t - grid_start) // MINUTE_US] = y_obs
    observed = np.isfinite(y)

    starts, lengths = find_gaps(observed)
    steps = steps_on_grid(grid_start, n, steps_t, steps_v, options.max_steps_per_minute)
    reasons = classify_gaps(starts, lengths, n, steps, options)
    fill = np.array([r == "imputed" for r in reasons], dtype=bool)

    out = y.copy()
    imputed = np.zeros(n, dtype=bool)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    if fill.any():
        activity = activity_features(steps, model.steps_time_constants) if steps is not None else None
        minute, _ = local_minutes(grid_t, model.timezone)
        mu = model.mean(minute, activity)
        g_start, g_len = starts[fill], lengths[fill]
        left, right = g_start - 1, g_start + g_len
        # one row per imputed minute: k minutes after its gap's left edge, d between the edges
        k = np.arange(int(g_len.sum())) - np.repeat(np.cumsum(g_len) - g_len, g_len) + 1
        idx = np.repeat(g_start, g_len) + k - 1
        d = np.repeat(g_len + 1, g_len)
        level = np.repeat(_local_level(y - mu, observed, g_start, right, options.local_level_minutes), g_len)
        r_a = np.repeat(y[left] - mu[left], g_len) - level
        r_b = np.repeat(y[right] - mu[right], g_len) - level
        phi, s2, noise2 = model.residual_for(d)
        mean, var = ar1_bridge(r_a, r_b, k, d, phi, s2, noise2)
        estimate = mu[idx] + level + mean
        linear = d <= options.linear_max_minutes + 1
        if linear.any():
            y_a, y_b = np.repeat(y[left], g_len), np.repeat(y[right], g_len)
            estimate[linear] = (y_a + (y_b - y_a) * k / d)[linear]
        z = NormalDist().inv_cdf(0.5 + options.level / 2)
        half = z * np.sqrt(var)
        out[idx], imputed[idx] = estimate, True
        lo[idx], hi[idx] = estimate - half, estimate + half

    keep = slice((span_start - grid_start) // MINUTE_US, (span_end - grid_start) // MINUTE_US)
    gaps = tuple(
        Gap(int(grid_t[s]), int(length), reason)
        for s, length, reason in zip(starts.tolist(), lengths.tolist(), reasons, strict=True)
        if grid_t[s] < span_end and grid_t[s] + length * MINUTE_US > span_start
    )
    return ImputedMinutes(grid_t[keep], out[keep], imputed[keep], lo[keep], hi[keep], gaps)
