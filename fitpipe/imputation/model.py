"""A participant's heart-rate model, fitted to their own recent minutes: level + daily profile + steps + residual.

    heart rate (minute mean) = level + profile(local minute of day) + β · activity(steps) + residual

The profile comes from medians across days (profile.py), β from least squares on the steps traces
(activity.py; no term without minute steps), the residual's AR(1)+noise parameters from its
autocorrelation (residual.py); impute.py adds the local level around each gap. Fitting 28 days takes a
few milliseconds, so it runs at query time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitpipe.imputation.activity import activity_features, steps_on_grid
from fitpipe.imputation.minutes import observed_minutes
from fitpipe.imputation.options import MINUTE_US, ImputationOptions
from fitpipe.imputation.profile import FLAT_PROFILE, DayProfile, fit_day_profile, local_minutes
from fitpipe.imputation.residual import MIN_MINUTES, ResidualModel, fit_residuals

__all__ = ["ParticipantModel", "fit_model"]


@dataclass(frozen=True)
class ParticipantModel:
    timezone: str
    level: float
    """bpm without steps at an average time of day (the plain mean level when there are no minute steps)."""
    profile: DayProfile
    steps_time_constants: tuple[float, ...]
    """Minutes: the activity traces the coefficients belong to."""
    steps_coef: np.ndarray
    """bpm per step/min of each activity trace (empty when the history had no minute steps)."""
    mean_activity: np.ndarray
    """Average of each activity trace over the history: stands in where a window has no steps."""
    residuals: tuple[ResidualModel, ...]
    """AR(1)+noise fits by time scale, shortest first (residual.py)."""
    minutes: int
    """Observed minutes the model was fitted to."""

    def mean(self, minute_of_day: np.ndarray, activity: np.ndarray | None) -> np.ndarray:
        """Expected heart rate at each minute (activity: the traces on those minutes, or None)."""
        out = self.level + self.profile.at(minute_of_day)
        if self.steps_coef.size:
            traces = (
                activity
                if activity is not None
                else np.broadcast_to(self.mean_activity, (out.size, self.steps_coef.size))
            )
            out = out + _combine(traces, self.steps_coef)
        return out

    def residual_for(self, span: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(φ, s², n²) for gaps whose edges lie `span` minutes apart: the fit of the scale they span."""
        scales = np.array([r.max_lag for r in self.residuals])
        pick = np.minimum(np.searchsorted(scales, span), scales.size - 1)
        phi, s2, noise2 = (
            np.array([getattr(r, name) for r in self.residuals])[pick] for name in ("phi", "s2", "noise2")
        )
        return phi, s2, noise2

    @property
    def residual(self) -> ResidualModel:
        """The longest-scale fit (what gaps of an hour or more use)."""
        return self.residuals[-1]


def _combine(traces: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Σ coef_j · traces[:, j], column by column (a matrix product would call BLAS; see residual.py)."""
    out = np.zeros(traces.shape[0])
    for j, c in enumerate(coef.tolist()):
        out += c * traces[:, j]
    return out


def _grid(t_us: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
    idx = (t_us - t_us[0]) // MINUTE_US
    grid = np.full(int(idx[-1]) + 1, np.nan)
    grid[idx] = v
    return int(t_us[0]), grid


def fit_model(
    t_us: np.ndarray,
    v: np.ndarray,
    timezone: str = "UTC",
    steps_t: np.ndarray | None = None,
    steps_v: np.ndarray | None = None,
    options: ImputationOptions | None = None,
) -> ParticipantModel:
    """Fit to observed minute means (minute-bucket µs timestamps; NaN values are skipped)."""
    options = options or ImputationOptions()
    t_us, v = observed_minutes(t_us, v, "history")
    no_steps = np.zeros(0)
    if t_us.size < MIN_MINUTES:
        level = float(np.median(v)) if v.size else 70.0
        return ParticipantModel(
            timezone,
            level,
            FLAT_PROFILE,
            options.steps_time_constants,
            no_steps,
            no_steps,
            fit_residuals(np.zeros(0), options.max_lag_minutes),
            int(v.size),
        )
    t0, y = _grid(t_us, v)
    observed = np.isfinite(y)
    steps = steps_on_grid(t0, y.size, steps_t, steps_v, options.max_steps_per_minute)
    features = (
        activity_features(steps, options.steps_time_constants)[observed]
        if steps is not None
        else np.zeros((v.size, 0))  # no minute steps: the model has no activity term
    )
    rows = [np.ones(v.size), *np.ascontiguousarray(features.T)]
    minute, day = local_minutes(t_us, timezone)

    def regress(target: np.ndarray) -> tuple[float, np.ndarray]:
        # normal equations from elementwise sums, not BLAS (see residual.py): at most a 4×4 solve
        gram = np.array([[float(np.sum(a * b)) for b in rows] for a in rows])
        rhs = np.array([float(np.sum(a * target)) for a in rows])
        try:
            coef = np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:  # steps constant (all zero): the traces carry nothing
            coef = np.concatenate(([target.mean()], np.zeros(len(rows) - 1)))
        return float(coef[0]), coef[1:]

    # the profile is the rhythm left once activity is accounted for, so a daily run is not counted twice
    _, beta = regress(v)
    at_rest = v - _combine(features, beta)
    profile = fit_day_profile(
        minute, day, at_rest - np.median(at_rest), options.profile_slot_minutes, options.profile_prior_days
    )
    level, beta = regress(v - profile.at(minute))
    residual = np.full(y.size, np.nan)
    residual[observed] = v - (level + profile.at(minute) + _combine(features, beta))
    mean_activity = features.mean(axis=0)
    return ParticipantModel(
        timezone,
        level,
        profile,
        options.steps_time_constants,
        beta,
        mean_activity,
        fit_residuals(residual, options.max_lag_minutes),
        int(v.size),
    )
