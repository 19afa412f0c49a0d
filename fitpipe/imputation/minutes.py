"""Minute series as fitpipe's imputation takes them: observed minute means keyed by minute-bucket µs timestamps.

Inputs may come unsorted, with NaN for missing minutes, with second-level timestamps or with two rows
for one minute; `observed_minutes` turns any of that into one ascending value per observed minute.
"""

from __future__ import annotations

import numpy as np

from fitpipe.errors import InputError
from fitpipe.imputation.options import MINUTE_US

__all__ = ["observed_minutes", "minute_floor"]


def minute_floor(t_us: int) -> int:
    return (int(t_us) // MINUTE_US) * MINUTE_US


def observed_minutes(t_us: np.ndarray, v: np.ndarray, name: str = "values") -> tuple[np.ndarray, np.ndarray]:
    """(minute µs, mean value) of every minute with a finite value, ascending and unique."""
    t_us = np.asarray(t_us, dtype=np.int64)
    v = np.asarray(v, dtype=np.float64)
    if t_us.shape != v.shape or t_us.ndim != 1:
        raise InputError(
            f"{name}: timestamps {t_us.shape} and values {v.shape} must be 1-D arrays of one length",
            field=name,
        )
    keep = np.isfinite(v)
    minute = (t_us[keep] // MINUTE_US) * MINUTE_US
    values = v[keep]
    if minute.size and (np.any(np.diff(minute) <= 0)):
        minute, inverse = np.unique(minute, return_inverse=True)
        values = np.bincount(inverse, values) / np.bincount(inverse)
    return minute, values
