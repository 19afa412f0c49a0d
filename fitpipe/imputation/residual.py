"""The residual's AR(1)-plus-noise parameters, fitted to its autocorrelation over the lags a gap spans.

A minute mean is a wandering AR(1) state plus measurement noise, whose autocorrelation is
ρ(k) = α φ^k for k ≥ 1 (α = share of the variance in the AR part). Real heart rate is not exactly that:
its memory over a few minutes differs from its memory over an hour. So the fit is made once per time
scale (lags up to 4, 8, 16, 32 and 60 min) and a gap uses the fit of the scale it spans: a 3-minute gap
the short-lag behaviour, a 90-minute gap the hour-long one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ResidualModel", "fit_residuals", "scales_for", "DEFAULT_RESIDUAL", "MIN_MINUTES"]

MIN_MINUTES = 240
"""Fewer observed minutes than this and the defaults are used instead of a fit."""
_LAGS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 45, 60, 90, 120, 180, 240])
_NOISE_FLOOR = 0.05
"""Autocorrelations below this are noise; log() would amplify them, so the fit stops there."""


@dataclass(frozen=True)
class ResidualModel:
    phi: float
    """AR(1) coefficient per minute."""
    s2: float
    """Stationary variance of the AR(1) part (bpm²)."""
    noise2: float
    """Variance of the minute-to-minute measurement noise (bpm²)."""
    max_lag: int = 60
    """Longest lag (minutes) the fit used: the gaps it serves span up to this."""

    @property
    def variance(self) -> float:
        return self.s2 + self.noise2


DEFAULT_RESIDUAL = ResidualModel(phi=0.95, s2=49.0, noise2=4.0)
"""Used with too little history: a 20-minute memory and 7 bpm spread, wide enough to stay honest."""


def scales_for(max_lag: int) -> tuple[int, ...]:
    """4, 8, 16, ... below max_lag, then max_lag itself."""
    scales = [s for s in (4, 8, 16, 32, 64, 128) if s < max_lag]
    return (*scales, max_lag)


def _autocorrelation(r: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray, float]:
    ok = np.isfinite(r)
    x = np.where(ok, r - r[ok].mean(), 0.0)
    variance = float(np.mean(x[ok] ** 2))
    lags, rho = [], []
    for k in _LAGS[max_lag >= _LAGS].tolist():
        both = ok[:-k] & ok[k:]
        if both.sum() < MIN_MINUTES // 4 or variance <= 0:
            break
        # a plain sum, not np.dot: BLAS threads contend on a busy server and turn microseconds into tens of ms
        value = float(np.sum(x[:-k] * x[k:]) / both.sum()) / variance  # x is 0 where unobserved
        if value <= _NOISE_FLOOR:
            break
        lags.append(k)
        rho.append(value)
    return np.array(lags, dtype=np.float64), np.array(rho), variance


def _fit(lags: np.ndarray, rho: np.ndarray, variance: float, max_lag: int) -> ResidualModel:
    use = lags <= max_lag
    if use.sum() < 2:
        if variance <= 0:
            return DEFAULT_RESIDUAL
        # memory shorter than the first lags: next to no AR part, mostly noise
        return ResidualModel(phi=0.5, s2=0.25 * variance, noise2=0.75 * variance, max_lag=max_lag)
    x, y = lags[use], np.log(rho[use])
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))  # least squares line
    intercept = float(y.mean()) - slope * float(x.mean())
    phi = float(np.clip(np.exp(slope), 0.5, 0.999))
    alpha = float(np.clip(np.exp(intercept), 0.05, 1.0))
    return ResidualModel(phi=phi, s2=alpha * variance, noise2=(1 - alpha) * variance, max_lag=max_lag)


def fit_residuals(r: np.ndarray, max_lag: int) -> tuple[ResidualModel, ...]:
    """One fit per time scale (`scales_for(max_lag)`), from a residual on a contiguous minute grid
    (NaN where nothing was observed)."""
    scales = scales_for(max_lag)
    if np.isfinite(r).sum() < MIN_MINUTES:
        return tuple(
            ResidualModel(DEFAULT_RESIDUAL.phi, DEFAULT_RESIDUAL.s2, DEFAULT_RESIDUAL.noise2, s)
            for s in scales
        )
    lags, rho, variance = _autocorrelation(r, max_lag)
    return tuple(_fit(lags, rho, variance, s) for s in scales)
