"""The closed-form AR(1) bridge against direct computations: a brute-force conditional Gaussian and a Kalman smoother."""

from __future__ import annotations

import numpy as np
import pytest

from fitpipe.imputation import ar1_bridge


def _ar1_covariance(n: int, phi: float, s2: float) -> np.ndarray:
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return s2 * phi**lag


def _conditional(
    phi: float, s2: float, noise2: float, d: int, r_a: float, r_b: float
) -> tuple[np.ndarray, np.ndarray]:
    """Condition the joint Gaussian of x_0..x_d on y_0 = x_0 + e_a and y_d = x_d + e_b directly."""
    cov = _ar1_covariance(d + 1, phi, s2)
    edges = [0, d]
    inner = list(range(1, d))
    obs = cov[np.ix_(edges, edges)] + noise2 * np.eye(2)
    cross = cov[np.ix_(inner, edges)]
    gain = cross @ np.linalg.inv(obs)
    mean = gain @ np.array([r_a, r_b])
    var = np.diag(cov[np.ix_(inner, inner)] - gain @ cross.T) + noise2
    return mean, var


def _kalman_smoother(y: np.ndarray, phi: float, s2: float, obs_var: float) -> tuple[np.ndarray, np.ndarray]:
    """Textbook Kalman filter + Rauch-Tung-Striebel smoother for x_t = φ x_{t-1} + w_t, y_t = x_t + v_t; NaN = missing."""
    n = y.size
    q = s2 * (1 - phi**2)
    m_f, p_f, m_p, p_p = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    m, p = 0.0, s2
    for t in range(n):
        if t:
            m, p = phi * m, phi**2 * p + q
        m_p[t], p_p[t] = m, p
        if np.isfinite(y[t]):
            gain = p / (p + obs_var)
            m, p = m + gain * (y[t] - m), (1 - gain) * p
        m_f[t], p_f[t] = m, p
    m_s, p_s = m_f.copy(), p_f.copy()
    for t in range(n - 2, -1, -1):
        c = p_f[t] * phi / p_p[t + 1]
        m_s[t] = m_f[t] + c * (m_s[t + 1] - m_p[t + 1])
        p_s[t] = p_f[t] + c**2 * (p_s[t + 1] - p_p[t + 1])
    return m_s, p_s


@pytest.mark.parametrize(
    ("phi", "s2", "noise2", "d"),
    [(0.9, 4.0, 0.0, 7), (0.97, 25.0, 0.0, 40), (0.8, 9.0, 2.5, 12), (0.99, 30.0, 8.0, 121)],
)
def test_bridge_equals_the_brute_force_conditional_gaussian(
    phi: float, s2: float, noise2: float, d: int
) -> None:
    r_a, r_b = 3.2, -5.1
    k = np.arange(1, d)
    mean, var = ar1_bridge(r_a, r_b, k, d, phi, s2, noise2)
    want_mean, want_var = _conditional(phi, s2, noise2, d, r_a, r_b)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(var, want_var, rtol=1e-9, atol=1e-9)


def test_bridge_without_noise_is_the_notes_closed_form() -> None:
    phi, s2, d, r_a, r_b = 0.93, 16.0, 25, -2.0, 6.5
    k = np.arange(1, d)
    m = d - k
    mean, var = ar1_bridge(r_a, r_b, k, d, phi, s2)
    den = 1 - phi ** (2 * d)
    np.testing.assert_allclose(
        mean, (phi**k * (1 - phi ** (2 * m)) * r_a + phi**m * (1 - phi ** (2 * k)) * r_b) / den
    )
    np.testing.assert_allclose(var, s2 * (1 - phi ** (2 * k)) * (1 - phi ** (2 * m)) / den)


def test_bridge_equals_a_kalman_smoother_that_sees_the_whole_series() -> None:
    """Exact edges make everything beyond them irrelevant (AR(1) is Markov): the smoother over a long series
    with a gap gives the bridge's answer inside the gap."""
    phi, s2, d = 0.95, 10.0, 30
    rng = np.random.default_rng(3)
    x = np.zeros(200)
    for t in range(1, x.size):
        x[t] = phi * x[t - 1] + rng.normal(0, np.sqrt(s2 * (1 - phi**2)))
    y = x.copy()
    left = 80
    y[left + 1 : left + d] = np.nan
    smoothed, variance = _kalman_smoother(y, phi, s2, obs_var=1e-12)
    mean, var = ar1_bridge(y[left], y[left + d], np.arange(1, d), d, phi, s2)
    np.testing.assert_allclose(mean, smoothed[left + 1 : left + d], atol=1e-6)
    np.testing.assert_allclose(var, variance[left + 1 : left + d], atol=1e-6)


def test_interval_widths_grow_toward_the_gap_middle_and_shrink_toward_the_edges() -> None:
    d = 61
    _, var = ar1_bridge(0.0, 0.0, np.arange(1, d), d, 0.97, 20.0, 3.0)
    half = (d - 1) // 2
    assert np.all(np.diff(var[:half]) > 0)
    assert np.all(np.diff(var[half:]) < 0)
    np.testing.assert_allclose(var, var[::-1])
    assert var.max() < 20.0 + 3.0  # never wider than knowing nothing at all


def test_each_gap_may_carry_its_own_parameters() -> None:
    k = np.array([1, 2, 1, 2, 3])
    d = np.array([3, 3, 4, 4, 4])
    phi = np.array([0.9, 0.9, 0.7, 0.7, 0.7])
    mean, var = ar1_bridge(1.0, 2.0, k, d, phi, 4.0, 1.0)
    first = ar1_bridge(1.0, 2.0, k[:2], 3, 0.9, 4.0, 1.0)
    second = ar1_bridge(1.0, 2.0, k[2:], 4, 0.7, 4.0, 1.0)
    np.testing.assert_allclose(mean, np.concatenate([first[0], second[0]]))
    np.testing.assert_allclose(var, np.concatenate([first[1], second[1]]))
