"""The closed-form AR(1) bridge: what a Kalman smoother says about a residual between two gap edges.

For an AR(1) residual x (coefficient φ, stationary variance s²) observed at the two edges of a gap
that lie D minutes apart, the minute k after the left edge (m = D − k before the right one) has

    mean = [φ^k (1 − φ^{2m}) r_a + φ^m (1 − φ^{2k}) r_b] / (1 − φ^{2D})
    var  = s² (1 − φ^{2k}) (1 − φ^{2m}) / (1 − φ^{2D})

(the Kalman smoother's answer, since an AR(1) is Markov: nothing beyond the edges adds information).
Minute means carry measurement noise too (variance n²): then each edge is an observation y = x + e and
the same conditional-Gaussian computation on the 2×2 edge covariance gives the answer below; with
n² = 0 it is exactly the formula above. The variance returned is that of the minute mean one would
have observed (latent variance + n²), which is what a prediction interval must cover.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ar1_bridge"]


def ar1_bridge(
    r_a: np.ndarray | float,
    r_b: np.ndarray | float,
    k: np.ndarray,
    d: np.ndarray | int,
    phi: np.ndarray | float,
    s2: np.ndarray | float,
    noise2: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and predictive variance at k minutes after the left edge of edges d minutes apart (0 < k < d).

    All arguments broadcast, so every minute of every gap (each with its own parameters) is one pass.
    """
    k = np.asarray(k, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    m = np.asarray(d, dtype=np.float64) - k
    pk, pm, pd = phi**k, phi**m, phi ** (k + m)
    # edge covariance [[a, b], [b, a]] and the covariance of the interior minute with each edge
    a = s2 + noise2
    b = s2 * pd
    det = a * a - b * b
    ca, cb = s2 * pk, s2 * pm
    wa = (ca * a - cb * b) / det
    wb = (cb * a - ca * b) / det
    mean = wa * r_a + wb * r_b
    var = s2 - (wa * ca + wb * cb) + noise2
    return mean, np.maximum(var, 0.0)
