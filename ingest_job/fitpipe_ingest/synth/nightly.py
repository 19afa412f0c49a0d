"""What the device measures during a logged main sleep: HRV, SpO2 and breathing rate.

HRV per minute of sleep: RMSSD = the participant's nightly value (± 12 % a night) × stage factor (deep
1.25, light 1.0, REM 0.85, wake 0.8) × lognormal(0, 0.25); coverage 0.75–1.007 (it can exceed 1, as in
real files); LF lognormal(median 1,900 ms², σ 0.7); HF = RMSSD² × 0.18 × lognormal(0, 0.5). The 5-min
windows of the Takeout file average their minutes; ~3 % of windows are missing. SpO2 per minute: the
participant's baseline + AR(1) (φ 0.9, sd 0.8), ≤ 100, one decimal, each night on its own second of
the minute; in Takeout ~8 % of minutes read 50.0, the value the real export writes for a low-confidence
minute. Breathing rate: baseline ± 0.6 a night; deep −0.8, light +0.4, REM +1.0 breaths/min.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitpipe_ingest.synth.profiles import Profile
from fitpipe_ingest.synth.sleep import DEEP, EPOCH, LIGHT, REM, WAKE, Sleep

__all__ = ["Nightly", "measure_night"]

_STAGE_FACTOR = {WAKE: 0.8, LIGHT: 1.0, DEEP: 1.25, REM: 0.85}


@dataclass
class Nightly:
    minute_t: np.ndarray
    """UTC epoch seconds of each HRV/SpO2 minute (on the night's own second of the minute)."""
    rmssd: np.ndarray
    coverage: np.ndarray
    lf: np.ndarray
    hf: np.ndarray
    spo2: np.ndarray
    spo2_low_confidence: np.ndarray
    """Minutes the Takeout export writes as 50.0."""
    window_t: np.ndarray
    """UTC epoch seconds of each 5-min HRV window start (on the 5-min wall clock)."""
    window_rmssd: np.ndarray
    window_coverage: np.ndarray
    window_lf: np.ndarray
    window_hf: np.ndarray
    breathing: dict[str, float]
    """full, deep, light, rem (breaths/min)."""


def measure_night(profile: Profile, sleep: Sleep) -> Nightly:
    r = profile.stream("nightly", sleep.night)
    second = int(r.integers(0, 60))
    minutes = (sleep.end - sleep.start - second) // 60
    minute_t = sleep.start + second + 60 * np.arange(minutes, dtype=np.int64)
    stage = sleep.epochs[np.minimum((minute_t - sleep.start) // EPOCH, sleep.epochs.size - 1)]
    factor = np.vectorize(_STAGE_FACTOR.get)(stage).astype(np.float64)
    night_rmssd = profile.hrv_rmssd * r.lognormal(0, 0.12)
    rmssd = night_rmssd * factor * r.lognormal(0, 0.25, minutes)
    coverage = np.minimum(r.uniform(0.75, 1.0, minutes) + r.uniform(0, 0.05, minutes), 1.007)
    lf = 1_900 * r.lognormal(0, 0.7, minutes)
    hf = rmssd**2 * 0.18 * r.lognormal(0, 0.5, minutes)

    noise = np.empty(minutes)
    level = 0.0
    steps = r.normal(0, 0.8 * np.sqrt(1 - 0.9**2), minutes)
    for i in range(minutes):  # a night has < 700 minutes: a plain loop is fine
        level = 0.9 * level + steps[i]
        noise[i] = level
    spo2 = np.minimum(np.round(profile.spo2 + noise, 1), 100.0)
    low = r.random(minutes) < 0.08

    first = -(-sleep.start // 300) * 300
    window_t = np.arange(first, sleep.end - 299, 300, dtype=np.int64)
    keep = r.random(window_t.size) >= 0.03
    window_t = window_t[keep]
    which = np.searchsorted(minute_t, window_t)
    window = [
        slice(int(a), int(b)) for a, b in zip(which, np.searchsorted(minute_t, window_t + 300), strict=True)
    ]

    def mean(values: np.ndarray) -> np.ndarray:
        return np.array(
            [values[s].mean() if s.stop > s.start else values[min(s.start, values.size - 1)] for s in window]
        )

    base = profile.breathing_rate + r.normal(0, 0.6)
    breathing = {
        "full": base,
        "deep": base - 0.8 + r.normal(0, 0.3),
        "light": base + 0.4 + r.normal(0, 0.3),
        "rem": base + 1.0 + r.normal(0, 0.3),
    }
    return Nightly(
        minute_t,
        rmssd,
        coverage,
        lf,
        hf,
        spo2,
        low,
        window_t,
        mean(rmssd),
        mean(coverage),
        mean(lf),
        mean(hf),
        breathing,
    )
