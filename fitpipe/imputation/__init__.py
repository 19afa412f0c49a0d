"""Honest imputation of minute-level heart rate: the participant's own daily profile and activity, an AR(1)
bridge across each gap with a prediction interval, and nothing invented across long gaps or non-wear.

    model = fit_model(history_t, history_v, timezone, steps_t, steps_v)
    result = impute_minutes(t, v, model, start=..., end=..., steps_t=..., steps_v=...)

Pure numpy/pandas; docs/imputation.md explains the method and its evaluation (bench/imputation.py).
"""

from fitpipe.imputation.bridge import ar1_bridge
from fitpipe.imputation.gaps import REASONS, Gap, GapReason
from fitpipe.imputation.impute import ImputedMinutes, impute_minutes
from fitpipe.imputation.model import ParticipantModel, fit_model
from fitpipe.imputation.options import MINUTE_US, ImputationOptions
from fitpipe.imputation.profile import DayProfile
from fitpipe.imputation.residual import ResidualModel

__all__ = [
    "ImputationOptions",
    "ParticipantModel",
    "ResidualModel",
    "DayProfile",
    "ImputedMinutes",
    "Gap",
    "GapReason",
    "REASONS",
    "MINUTE_US",
    "fit_model",
    "impute_minutes",
    "ar1_bridge",
]
