"""The residual's AR(1)-plus-noise parameters, fitted to its autocorrelation over the lags gaps span.

A minute mean is a slowly wandering AR(1) state plus measurement noise, whose autocorrelation is
ρ(k) = α φ^k for k ≥ 1 (α = share of the variance in the AR part); fitting log ρ(k) on k over lags up to
an hour matches the memory that matters for gaps of minutes to hours, not just the next minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ResidualModel", "fit_residual", "DEFAULT_RESIDUAL", "MIN_MINUTES"]

MIN_MINUTES = 240
"""Fewer observed minutes than this and the defaults are used instead of a fit."""
_LAGS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 45, 60, 90, 120])


@dataclass(frozen=True)
class ResidualModel:
    phi: float
    """AR(1) coefficient per minute."""
    s2: float
    """Stationary variance of the AR(1) part (bpm²)."""
    noise2: float
    """Variance of the minute-to-minute measurement noise (bpm²)."""

    @property
    def variance(self) -> float:
        return self.s2 + self.noise2


DEFAULT_RESIDUAL = ResidualModel(phi=0.95, s2=49.0, noise2=4.0)
"""Used with too little history: a 20-minute memory and 7 bpm spread, wide enough to stay honest."""


def fit_residual(r: np.ndarray, max_lag: int) -> ResidualModel:
    """Fit to a residual on a contiguous minute grid (NaN where nothing was observed)."""
    ok = np.isfinite(r)
    if ok.sum() < MIN_MINUTES:
        return DEFAULT_RESIDUAL
    x = np.where(ok, r - r[ok].mean(), 0.0)
    variance = float(np.mean(x[ok] ** 2))
    if variance <= 0:
        return DEFAULT_RESIDUAL
    lags, rho = [], []
    for k in _LAGS[_LAGS <= max_lag]:
        both = ok[:-k] & ok[k:]
        if both.sum() < MIN_MINUTES // 4:
            continue
        value = float(np.sum(x[:-k] * x[k:] * both) / both.sum()) / variance
        if value <= 0.05:  # beyond here the estimate is noise, and log() would amplify it
            break
        lags.append(k)
        rho.append(value)
    if len(lags) < 2:
        return ResidualModel(phi=0.5, s2=0.25 * variance, noise2=0.75 * variance)
    slope, intercept = np.polyfit(np.array(lags, dtype=np.float64), np.log(rho), 1)
    phi = float(np.clip(np.exp(slope), 0.5, 0.999))
    alpha = float(np.clip(np.exp(intercept), 0.05, 1.0))
    return ResidualModel(phi=phi, s2=alpha * variance, noise2=(1 - alpha) * variance)
