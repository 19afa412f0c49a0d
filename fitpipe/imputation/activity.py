"""Steps as the activity the heart responds to: per-minute steps on the minute grid and their smoothed traces.

Heart rate rises within a minute of walking and takes many minutes to settle after exercise, so the
model sees steps through exponential moving averages with short and long time constants.
"""

from __future__ import annotations

import numpy as np

from fitpipe.imputation.options import MINUTE_US

__all__ = ["steps_on_grid", "activity_features"]

_LONELY_US = 12 * 60 * MINUTE_US


def steps_on_grid(
    t0_us: int, n: int, steps_t: np.ndarray | None, steps_v: np.ndarray | None, max_per_minute: float
) -> np.ndarray | None:
    """Steps per minute of the grid (a minute without a row had no steps), or None when the grid holds none.

    Daily totals are not minute counts: values above `max_per_minute` are dropped, and so is any row with no
    other row within 12 hours (one row a day at local midnight is a source's day total, however small).
    A grid left with no rows has no minute steps at all.
    """
    if steps_t is None or steps_v is None or steps_t.size == 0:
        return None
    t = np.asarray(steps_t, dtype=np.int64)
    v = np.asarray(steps_v, dtype=np.float64)
    valid = np.isfinite(v) & (v >= 0) & (v <= max_per_minute)
    t, v = t[valid], v[valid]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    gap = np.diff(t)
    near = np.zeros(t.size, dtype=bool)
    near[1:] |= gap <= _LONELY_US
    near[:-1] |= gap <= _LONELY_US
    idx = (t - t0_us) // MINUTE_US
    keep = near & (idx >= 0) & (idx < n)
    if not keep.any():
        return None
    grid = np.zeros(n)
    np.add.at(grid, idx[keep], v[keep])
    return grid


def _ewma(x: np.ndarray, tau: float) -> np.ndarray:
    """y[t] = a y[t-1] + (1 - a) x[t], a = exp(-1/tau), y[-1] = 0: as cumulative sums of x scaled by a^-t,
    in blocks short enough that a^-t stays finite (a python loop over a few dozen blocks, not n minutes)."""
    a = np.exp(-1.0 / tau)
    block = max(1, min(x.size, int(500 * tau)))  # a^-block = e^(block/tau) stays below e^500
    grow = a ** -np.arange(block, dtype=np.float64)
    shrink = a ** np.arange(block, dtype=np.float64)
    out = np.empty(x.size)
    carry = 0.0
    for s in range(0, x.size, block):
        part = x[s : s + block]
        n = part.size
        y = shrink[:n] * (carry + (1 - a) * np.cumsum(part * grow[:n]))
        out[s : s + n] = y
        carry = y[-1] * a  # the next block's first minute sees the previous one decayed
    return out


def activity_features(steps: np.ndarray, time_constants: tuple[float, ...]) -> np.ndarray:
    """(n, len(time_constants)) exponential moving averages of steps/min, causal (the heart follows the feet)."""
    return (
        np.column_stack([_ewma(steps, tau) for tau in time_constants])
        if time_constants
        else np.zeros((steps.size, 0))
    )
