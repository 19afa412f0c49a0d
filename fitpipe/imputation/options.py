"""The knobs of fitpipe's heart-rate imputation, with the defaults docs/imputation.md justifies.

One frozen object so the API, the benchmark and the tests all run the same method.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitpipe.errors import InputError

__all__ = ["ImputationOptions", "MINUTE_US"]

MINUTE_US = 60_000_000


@dataclass(frozen=True)
class ImputationOptions:
    max_gap_minutes: int = 120
    """Gaps longer than this stay empty: beyond ~2 h the participant may be doing anything."""
    nonwear_minutes: int = 60
    """A gap holding this many consecutive minutes without steps (when steps exist) is non-wear: left empty."""
    linear_max_minutes: int = 0
    """Gaps up to this length are filled by a straight line between the edges (the model's interval is kept).
    0: the model everywhere, because it was never worse than linear in any bucket of bench/imputation.py."""
    level: float = 0.95
    """Coverage the prediction interval aims at."""
    profile_slot_minutes: int = 30
    """Width of the minute-of-day slots whose median across days makes the daily profile."""
    profile_prior_days: float | None = None
    """Shrinkage of the profile toward flat: a slot seen on n days keeps n / (n + this) of its deviation.
    None: estimated per participant (day-to-day variance within a slot / variance of the rhythm)."""
    steps_time_constants: tuple[float, ...] = (1.0, 5.0, 30.0)
    """Minutes: heart rate rises within a minute of walking, settles over ~5, and recovers from exercise
    over ~30 (the traces are exponential moving averages of steps/min)."""
    max_steps_per_minute: float = 300.0
    """Step values above this are not minute counts (a daily total stored at midnight): ignored."""
    local_level_minutes: int = 30
    """The bridge reverts to the model's mean shifted by the mean residual of the observed minutes this close
    to the gap (a warm day, a fever, coffee), not to the participant's average self. 0 turns it off."""
    max_lag_minutes: int = 60
    """Longest lag of the residual autocorrelation the AR(1) parameters are fitted to (scales 4, 8, 16, 32
    and this; a gap uses the fit of the scale it spans)."""

    def __post_init__(self) -> None:
        if self.max_gap_minutes < 1:
            raise InputError(
                f"max_gap_minutes must be at least 1, not {self.max_gap_minutes}", field="max_gap_minutes"
            )
        if self.nonwear_minutes < 1:
            raise InputError(
                f"nonwear_minutes must be at least 1, not {self.nonwear_minutes}", field="nonwear_minutes"
            )
        if not 0.5 <= self.level < 1:
            raise InputError(
                f"level must be in [0.5, 1), not {self.level}",
                field="level",
                hint="0.95 gives 95 % prediction intervals",
            )
        if self.profile_prior_days is not None and self.profile_prior_days < 0:
            raise InputError(
                f"profile_prior_days must be 0 or more, not {self.profile_prior_days}",
                field="profile_prior_days",
                hint="None estimates it per participant",
            )
        if self.local_level_minutes < 0:
            raise InputError(
                f"local_level_minutes must be 0 or more, not {self.local_level_minutes}",
                field="local_level_minutes",
            )
        if self.max_lag_minutes < 2:
            raise InputError(
                f"max_lag_minutes must be at least 2, not {self.max_lag_minutes}", field="max_lag_minutes"
            )
        if 1440 % self.profile_slot_minutes:
            raise InputError(
                f"profile_slot_minutes must divide 1440, not {self.profile_slot_minutes}",
                field="profile_slot_minutes",
                hint="use 15, 30 or 60",
            )
