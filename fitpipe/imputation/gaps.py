"""Gaps in a minute series and why each is filled or left empty.

A gap is a run of minutes without a value. It stays empty when it has no observed minute on one side
(nothing to bridge from), when it holds a stretch of `nonwear_minutes` without steps while steps are
recorded (the device was off the wrist: there is no heart rate to estimate), or when it is longer than
`max_gap_minutes` (beyond that any value would be invented). The rest are imputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fitpipe.imputation.options import MINUTE_US, ImputationOptions

__all__ = ["Gap", "GapReason", "find_gaps", "classify_gaps", "REASONS"]

GapReason = Literal["imputed", "no_edge", "non_wear", "longer_than_max_gap"]
REASONS: tuple[GapReason, ...] = ("imputed", "no_edge", "non_wear", "longer_than_max_gap")


@dataclass(frozen=True)
class Gap:
    start: int
    """µs of the first missing minute."""
    minutes: int
    reason: GapReason

    @property
    def end(self) -> int:
        """µs just after the last missing minute."""
        return self.start + self.minutes * MINUTE_US


def find_gaps(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index, length) of every run of unobserved minutes."""
    edges = np.diff(np.concatenate(([1], observed.astype(np.int8), [1])))
    starts = np.flatnonzero(edges == -1)
    ends = np.flatnonzero(edges == 1)
    return starts, ends - starts


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def classify_gaps(
    starts: np.ndarray, lengths: np.ndarray, n: int, steps: np.ndarray | None, options: ImputationOptions
) -> list[GapReason]:
    """Why each gap is filled or not; `steps` per grid minute (None: no minute steps in this window)."""
    reasons: list[GapReason] = []
    for s, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        if s == 0 or s + length == n:
            reasons.append("no_edge")
        elif (
            steps is not None
            and length >= options.nonwear_minutes
            and _longest_run(steps[s : s + length] == 0) >= options.nonwear_minutes
        ):
            reasons.append("non_wear")
        elif length > options.max_gap_minutes:
            reasons.append("longer_than_max_gap")
        else:
            reasons.append("imputed")
    return reasons
