"""Fitting a participant's model: the daily profile, the steps effect and the residual's AR(1) parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitpipe.imputation import MINUTE_US, ImputationOptions, fit_model
from fitpipe.imputation.activity import activity_features
from fitpipe.imputation.profile import fit_day_profile, local_minutes

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z


def _ar1(n: int, phi: float, s2: float, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    e = rng.normal(0, np.sqrt(s2 * (1 - phi**2)), n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def test_the_residual_parameters_of_a_known_ar1_plus_noise_are_recovered() -> None:
    rng = np.random.default_rng(11)
    n = 28 * 1440
    v = 70 + _ar1(n, 0.96, 16.0, rng) + rng.normal(0, 2.0, n)
    model = fit_model(T0 + np.arange(n, dtype=np.int64) * MINUTE_US, v)
    for r in model.residuals:
        assert abs(r.phi - 0.96) < 0.01
        assert abs(r.s2 - 16.0) < 2.0 and abs(r.noise2 - 4.0) < 1.0
    assert abs(model.level - 70) < 1.0


def test_the_profile_follows_a_regular_night_dip_in_local_time() -> None:
    rng = np.random.default_rng(12)
    n = 21 * 1440
    t = T0 + np.arange(n, dtype=np.int64) * MINUTE_US
    minute, _ = local_minutes(t, "America/New_York")
    asleep = minute < 6 * 60  # midnight to 6 am New York time
    v = 72 - 14 * asleep + rng.normal(0, 3, n)
    model = fit_model(t, v, "America/New_York")
    night, day = model.profile.values[60:300].mean(), model.profile.values[600:1200].mean()
    assert 12 < day - night < 15
    assert model.profile.prior_days < 1  # days alike: the profile is trusted after a few days


def test_a_slot_seen_on_few_days_keeps_only_its_share_of_the_deviation() -> None:
    minute = np.concatenate([np.arange(30), np.tile(np.arange(30, 1440), 4)])
    day = np.concatenate([np.zeros(30, np.int64), np.repeat(np.arange(4), 1410)])
    deviation = np.where(minute < 30, 10.0, 0.0)  # the first slot seen on one day only, 10 bpm up
    profile = fit_day_profile(minute, day, deviation, slot_minutes=30, prior_days=3.0)
    assert profile.days[0] == 1 and profile.days[1] == 4
    assert profile.values[14] == pytest.approx(10 * 1 / (1 + 3), abs=0.1)  # the slot's centre


def test_participants_whose_days_differ_get_a_flatter_profile() -> None:
    rng = np.random.default_rng(13)
    n_days = 20
    minute = np.tile(np.arange(1440), n_days)
    day = np.repeat(np.arange(n_days), 1440)
    same_hour = np.where(minute // 60 == 7, 30.0, 0.0)  # a run at 7 every day
    any_hour = np.where(
        minute // 60 == rng.integers(0, 24, n_days)[day], 30.0, 0.0
    )  # at a different hour each day
    noise = rng.normal(0, 3, minute.size)
    regular = fit_day_profile(minute, day, same_hour + noise, 30, None)
    irregular = fit_day_profile(minute, day, any_hour + noise, 30, None)
    assert regular.prior_days < 1 < 10 < irregular.prior_days
    assert regular.values[7 * 60 + 30] > 25 and np.abs(irregular.values).max() < 5


def test_the_steps_effect_on_heart_rate_is_learned() -> None:
    rng = np.random.default_rng(14)
    n = 14 * 1440
    t = T0 + np.arange(n, dtype=np.int64) * MINUTE_US
    steps = np.where(rng.random(n) < 0.05, rng.uniform(60, 120, n), 0.0)
    steps = np.repeat(steps[::10], 10)[:n]  # walks of 10 minutes
    traces = activity_features(steps, (2.0, 20.0))
    v = 62 + traces @ np.array([0.25, 0.1]) + _ar1(n, 0.9, 4.0, rng)
    model = fit_model(
        t, v, steps_t=t, steps_v=steps, options=ImputationOptions(steps_time_constants=(2.0, 20.0))
    )
    np.testing.assert_allclose(model.steps_coef, [0.25, 0.1], atol=0.03)


@pytest.mark.parametrize("total", [8000.0, 250.0])  # a busy day, and a day small enough to pass for a minute
def test_daily_step_totals_are_not_taken_for_minute_steps(total: float) -> None:
    rng = np.random.default_rng(15)
    t = T0 + np.arange(3 * 1440, dtype=np.int64) * MINUTE_US
    v = 65 + rng.normal(0, 3, t.size)
    midnights = t[::1440]  # one row a day at midnight, as wearipedia's activity.csv gives
    model = fit_model(t, v, steps_t=midnights, steps_v=np.full(midnights.size, total))
    assert model.steps_coef.size == 0
    walking = fit_model(t, v, steps_t=t[::7], steps_v=np.full(t[::7].size, total % 300))
    assert walking.steps_coef.size == 3  # minute rows are kept


def test_too_little_history_falls_back_to_wide_defaults() -> None:
    t = T0 + np.arange(100, dtype=np.int64) * MINUTE_US
    model = fit_model(t, np.full(100, 58.0))
    assert model.level == 58.0 and model.minutes == 100
    assert model.residual.variance >= 25  # an honest, wide interval rather than a confident guess


def test_local_minutes_follow_daylight_saving_time() -> None:
    # 2024-03-10 02:00 in New York jumps to 03:00; 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT
    t = (
        pd.to_datetime(
            ["2024-03-10T06:59:00Z", "2024-03-10T07:00:00Z", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z"]
        )
        .as_unit("us")
        .asi8
    )
    minute, day = local_minutes(t, "America/New_York")
    assert minute.tolist() == [
        1 * 60 + 59,
        3 * 60,
        1 * 60 + 30,
        1 * 60 + 30,
    ]  # 01:30 happens twice in November
    assert day[0] == day[1] and day[2] == day[3]


def test_slots_never_seen_stay_flat_even_without_shrinkage() -> None:
    minute = np.arange(600)  # data only from midnight to 10:00
    profile = fit_day_profile(
        minute, np.zeros(600, np.int64), np.where(minute < 300, -5.0, 5.0), 30, prior_days=0.0
    )
    assert np.isfinite(profile.values).all()
    assert profile.values[100] == pytest.approx(-5.0) and profile.values[1000] == pytest.approx(0.0, abs=1e-9)
