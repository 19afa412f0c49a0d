"""The heart-rate signal and how the device samples it."""

from __future__ import annotations

import numpy as np

from fitpipe_ingest.synth.heart_rate import SignalState, sample_auto, signal
from fitpipe_ingest.synth.sleep import DEEP, LIGHT


def _day(state: SignalState, seed: int, asleep_until: int = 0) -> np.ndarray:
    n = 86_400
    stage = np.full(n, -1, dtype=np.int8)
    stage[:asleep_until] = np.where(np.arange(asleep_until) % 5400 < 1800, DEEP, LIGHT)
    hour = np.arange(n) / 3600.0
    return signal(np.random.default_rng(seed), hour, stage, np.zeros(n), np.full(n, np.nan), 60.0, state)


def test_sleep_is_lower_than_quiet_waking() -> None:
    hr = _day(SignalState(), 1, asleep_until=7 * 3600)
    assert hr[3600 : 6 * 3600].mean() + 10 < hr[10 * 3600 : 20 * 3600].mean()
    assert 50 < hr[3600 : 6 * 3600].mean() < 62


def test_noise_is_autocorrelated_and_continuous_across_midnight() -> None:
    state = SignalState()
    first = _day(state, 2)
    second = _day(state, 3)
    assert abs(second[0] - first[-1]) < 6  # carried state: no jump at midnight
    residual = first - np.convolve(first, np.ones(601) / 601, mode="same")
    r = residual[1000:-1000]
    lag10 = np.corrcoef(r[:-10], r[10:])[0, 1]
    assert lag10 > 0.5  # AR(1) with a 90-s time constant, not white noise


def test_auto_sampling_is_dense_when_active_sparse_at_rest_and_absent_unworn() -> None:
    n = 3 * 3600
    worn = np.ones(n, dtype=bool)
    worn[2 * 3600 :] = False
    active = np.zeros(n, dtype=bool)
    active[:3600] = True
    idx = sample_auto(np.random.default_rng(4), worn, active)
    gaps_active = np.diff(idx[idx < 3600])
    gaps_rest = np.diff(idx[(idx >= 3700) & (idx < 2 * 3600)])
    assert gaps_active.min() >= 1 and gaps_active.max() <= 3
    assert gaps_rest.min() >= 4 and gaps_rest.max() <= 16 and 8 <= gaps_rest.mean() <= 12
    assert not np.any(idx >= 2 * 3600)
