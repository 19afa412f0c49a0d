"""Steps as the activity the heart responds to: per-minute steps on the minute grid and their smoothed traces.

Heart rate rises within a minute or two of walking and takes many minutes to settle after exercise,
so the model sees steps through exponential moving averages with a short and a long time constant.
"""

from __future__ import annotations

import numpy as np

from fitpipe.imputation.options import MINUTE_US

__all__ = ["steps_on_grid", "activity_features"]


def steps_on_grid(t0_us: int, n: int, steps_t: np.ndarray | None, steps_v: np.ndarray | None,
                  max_per_minute: float) -> np.ndarray | None:
    """Steps per minute of the grid (a minute without a row had no steps), or None when the grid holds none.

    Values above `max_per_minute` are not minute counts (a daily total kept at midnight) and are dropped;
    a grid whose steps are all such values has no minute steps at all.
    """
    if steps_t is None or steps_v is None or steps_t.size == 0:
        return None
    idx = (np.asarray(steps_t, dtype=np.int64) - t0_us) // MINUTE_US
    keep = (idx >= 0) & (idx < n) & np.isfinite(steps_v) & (steps_v >= 0) & (steps_v <= max_per_minute)
    if not keep.any():
        return None
    grid = np.zeros(n)
    np.add.at(grid, idx[keep], steps_v[keep])
    return grid


def activity_features(steps: np.ndarray, time_constants: tuple[float, ...]) -> np.ndarray:
    """(n, len(time_constants)) exponential moving averages of steps/min, causal (the heart follows the feet)."""
    out = np.empty((steps.size, len(time_constants)))
    for j, tau in enumerate(time_constants):
        a = np.exp(-1.0 / tau)
        width = max(1, int(np.ceil(12 * tau)))  # the kernel's tail beyond 12 τ is below e^-12
        kernel = (1 - a) * a ** np.arange(width)
        out[:, j] = np.convolve(steps, kernel)[: steps.size]
    return out
