"""The synthetic heart-rate signal at 1 s, and how a device samples it.

Signal (bpm) = a target smoothed with a 30-s time constant (the heart does not jump) + AR(1) noise +
white noise of sd 0.8. Target: awake rest = resting + 12 + a circadian cosine (amplitude 4, peak
16:00 local); asleep = resting + stage offset (deep −5, light −2, REM +3, wake +6; nap: asleep −1,
restless +4, awake +8); walking adds 0.22 bpm per step/min; an exercise bout holds
resting + intensity × (max − resting). AR(1): φ = exp(−1/90 s), stationary sd 3 bpm. The resting
value itself drifts from day to day (AR(1), φ = 0.7, sd 1.5 bpm). Smoother and noise states carry over
from one day to the next, so the signal is continuous across midnight.

Sampling ("auto", like the real Takeout data): intervals of 1–3 s while active (walking or exercising)
and 5–15 s at rest, drawn as a renewal process in "operational time" (rate 1/2 s⁻¹ active, 1/10 s⁻¹ at
rest); confidence 1–3, lower while moving. "1": every worn second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SignalState", "signal", "sample_auto", "confidence", "smooth", "STAGE_OFFSET"]

# bpm relative to resting, indexed by sleep.WAKE .. sleep.AWAKE
STAGE_OFFSET = np.array([6.0, -2.0, -5.0, 3.0, -1.0, 4.0, 8.0])
AWAKE_OFFSET = 12.0
CIRCADIAN_AMPLITUDE = 4.0
CIRCADIAN_PEAK_HOUR = 16.0
BPM_PER_STEP = 0.22
SMOOTH_SECONDS = 30.0
AR_PHI = float(np.exp(-1 / 90))
AR_SD = 3.0
WHITE_SD = 0.8


@dataclass
class SignalState:
    """What one day hands the next: the smoother's and the noise's last values."""

    smooth: float | None = None
    noise: float = 0.0


def smooth(x: np.ndarray, phi: float, first: float | None) -> np.ndarray:
    """y[t] = phi·y[t−1] + (1−phi)·x[t], starting from `first` (x[0] when None); pandas runs it in C."""
    if first is None:
        first = float(x[0])
    series = pd.Series(np.concatenate([[first], x]))
    return series.ewm(alpha=1.0 - phi, adjust=False).mean().to_numpy()[1:]


def signal(
    rng: np.random.Generator,
    local_hour: np.ndarray,
    stage: np.ndarray,
    steps_per_second_minute: np.ndarray,
    bout_target: np.ndarray,
    resting: float,
    state: SignalState,
) -> np.ndarray:
    """Heart rate per second (float64). `stage` is −1 awake or a sleep code; `bout_target` NaN outside bouts."""
    awake = stage < 0
    circadian = CIRCADIAN_AMPLITUDE * np.cos(2 * np.pi * (local_hour - CIRCADIAN_PEAK_HOUR) / 24)
    target = np.where(
        awake,
        resting + AWAKE_OFFSET + circadian + BPM_PER_STEP * steps_per_second_minute,
        resting + STAGE_OFFSET[np.maximum(stage, 0)],
    )
    target = np.where(np.isnan(bout_target), target, bout_target)
    level = smooth(target, float(np.exp(-1 / SMOOTH_SECONDS)), state.smooth)
    # AR(1) x[t] = φ x[t−1] + e[t] is the smoother applied to e/(1−φ)
    innovations = rng.normal(0.0, AR_SD * np.sqrt(1 - AR_PHI**2), stage.size) / (1 - AR_PHI)
    noise = smooth(innovations, AR_PHI, state.noise)
    state.smooth, state.noise = float(level[-1]), float(noise[-1])
    return level + noise + rng.normal(0.0, WHITE_SD, stage.size)


def sample_auto(rng: np.random.Generator, worn: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Indices of the seconds a device reports: 1–3 s apart while active, 5–15 s at rest, none unworn."""
    rate = np.where(active, 0.5, 0.1) * worn
    clock = np.cumsum(rate)
    total = float(clock[-1]) if clock.size else 0.0
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    gaps = rng.uniform(0.5, 1.5, int(total * 1.1) + 16)
    marks = rng.uniform(0, 1) + np.cumsum(gaps)
    marks = marks[marks <= total]
    picked = np.searchsorted(clock, marks, side="left")
    return np.unique(picked[worn[picked]])


def confidence(rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """Fitbit's 1–3 confidence: mostly 3 at rest, mostly 2 while moving, rarely 1."""
    u = rng.random(active.size)
    high = np.where(active, 0.30, 0.55)
    low = np.where(active, 0.05, 0.01)
    return np.where(u < high, 3, np.where(u < 1 - low, 2, 1)).astype(np.int64)
