"""MLE vs importance-weighted MLE under covariate shift: the batched simulator.

Our instantiation of Ge, Tang, Fan, Ma, Jin (ICLR 2024, arXiv:2311.15961): source
``x ~ N(0, I_d)``, target ``x ~ N(m e_1, I_d)``, ``y = beta^T x + c (x_1^2 - 1) + eps``,
``eps ~ N(0, sigma2)``; the learners fit a linear model with intercept, ``phi(x) = (1, x)``, by
ordinary least squares (``mle``) and by least squares weighted with the exact density ratio
``w(x) = exp(m x_1 - m^2/2)`` (``mwle``).  The risk is the exact target excess risk
``(theta_hat - theta*_T)^T Sigma_T (theta_hat - theta*_T)`` (no test sample).

Fast path: the excess risk does not depend on ``beta`` (least-squares equivariance), so the
simulator uses ``beta = 0``; then ``y = c g + sigma eps`` with ``g = x_1^2 - 1`` is linear in
``c``, and one batched solve with the two right-hand sides ``(g, eps)`` serves every ``c`` and
both estimators, all from the same draws (common random numbers).

Randomness: replication ``r`` draws, from ``numpy.random.default_rng(states[r])``, first ``x``
(``n x d`` standard normals, C order) and then ``eps`` (``n`` standard normals).  Its result
depends only on ``states[r]`` and the parameters.  The draws are made on the host; everything
after them is array code in ``xp`` (NumPy, or CuPy for ``backend="cuda"``).
"""

from __future__ import annotations

import numpy as np

from ..backends import get_xp, to_numpy
from ..errors import ParameterError
from ..validation import check_array, check_choice, check_int, check_real
from .covshift_theory import target_best_fit

__all__ = [
    "ESTIMATORS",
    "draw_source",
    "features",
    "density_ratio_weights",
    "weighted_least_squares",
    "target_excess_risk",
    "simulate_covshift",
]

#: The learners, in the order of the ``estimator`` axis.
ESTIMATORS = ("mle", "mwle")

#: Largest block of draws held at once (bytes of the ``(R_block, n, d + 3)`` float64 arrays).
MAX_BLOCK_BYTES = 1 << 26


def _generator(state):
    """The replication's NumPy generator, seeded from its two state words."""
    return np.random.default_rng([int(w) for w in np.asarray(state, dtype=np.uint64)])


def draw_source(states, n, d):
    """Source samples for each replication, drawn from that replication's own generator.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (:func:`simkit.rng.rep_states`); not modified.
    n, d : int
        Sample size and input dimension.

    Returns
    -------
    x : numpy.ndarray, shape (R, n, d)
        Inputs ``x ~ N(0, I_d)`` (units of x).
    eps : numpy.ndarray, shape (R, n)
        Standard normal noise (multiply by ``sqrt(sigma2)``).
    """
    reps = states.shape[0]
    x = np.empty((reps, n, d))
    eps = np.empty((reps, n))
    for r in range(reps):
        rng = _generator(states[r])
        x[r] = rng.standard_normal((n, d))
        eps[r] = rng.standard_normal(n)
    return x, eps


def features(x, xp=np):
    """``phi(x) = (1, x)``: shape (R, n, d) -> (R, n, d + 1)."""
    ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    return xp.concatenate([ones, x], axis=-1)


def density_ratio_weights(x1, m, xp=np):
    """Density ratio ``exp(m x_1 - m^2/2)`` divided by its per-replication maximum.

    Each replication's weights are scaled by one positive constant (WLS is unchanged), so
    nothing overflows.

    Parameters
    ----------
    x1 : array, shape (R, n)
        First input coordinate.
    m : float
        Mean shift.

    Returns
    -------
    array, shape (R, n), values in (0, 1]
    """
    logw = m * x1
    return xp.exp(logw - logw.max(axis=-1, keepdims=True))


def weighted_least_squares(phi, w, y, xp=np):
    """Batched weighted least squares ``theta = (Phi^T W Phi)^-1 Phi^T W Y`` (float64).

    Parameters
    ----------
    phi : array, shape (R, n, p)
        Features.
    w : array, shape (R, n), or None
        Non-negative weights; ``None`` for ordinary least squares.
    y : array, shape (R, n, k)
        ``k`` right-hand sides.

    Returns
    -------
    array, shape (R, p, k)
    """
    wphi = phi if w is None else phi * w[..., None]
    gram = xp.matmul(xp.swapaxes(wphi, -1, -2), phi)
    rhs = xp.matmul(xp.swapaxes(wphi, -1, -2), y)
    return xp.linalg.solve(gram, rhs)


def target_excess_risk(delta, m, xp=np):
    """``D^T Sigma_T D = (D_0 + m D_1)^2 + sum_{j>=1} D_j^2`` for ``D = theta_hat - theta*_T``.

    Parameters
    ----------
    delta : array, shape (..., d + 1)
        Coefficient errors ``(intercept, slopes)``.
    m : float
        Mean shift of the target.

    Returns
    -------
    array, shape (...), response^2
    """
    return (delta[..., 0] + m * delta[..., 1]) ** 2 + xp.sum(delta[..., 1:] ** 2, axis=-1)


def simulate_covshift(states, *, n, d, m, sigma2, c, backend="numpy"):
    """Target excess risk of the MLE and the MWLE at every ``c``, from the same draws.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    n : int
        Source sample size (``>= d + 1``; the exact MLE theory needs ``n > d + 2``).
    d : int
        Input dimension (``>= 1``).
    m : float
        Target mean shift along coordinate 1.
    sigma2 : float
        Noise variance (response^2, ``>= 0``).
    c : sequence of float, length C
        Misfit coefficients (finite).
    backend : {"numpy", "numba", "cuda"}
        ``numba`` runs the NumPy array code; ``cuda`` runs it through CuPy.

    Returns
    -------
    numpy.ndarray, shape (R, C, 2)
        Excess risk (response^2) for ``(mle, mwle)`` on the last axis.

    Raises
    ------
    FloatingPointError
        If a fit produced a non-finite risk (never averaged away).
    """
    d = check_int("d", d, low=1)
    n = check_int("n", n, low=d + 1)
    m = check_real("m", m)
    sigma2 = check_real("sigma2", sigma2, low=0)
    c = check_array("c", c, ndim=1)
    check_choice("backend", backend, ("numpy", "numba", "cuda"))
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != 2 or states.dtype != np.uint64:
        raise ParameterError(f"states must be a uint64 array of shape (R, 2), got {states.dtype} {states.shape}")
    xp = get_xp(backend)
    reps = states.shape[0]
    target = xp.asarray(target_best_fit(d, m, 1.0, beta=np.zeros(d)))  # theta*_T / c at beta = 0
    cs = xp.asarray(c)
    sigma = float(np.sqrt(sigma2))
    out = np.empty((reps, c.size, len(ESTIMATORS)))
    block = max(1, min(reps, MAX_BLOCK_BYTES // (8 * n * (d + 3))))
    for lo in range(0, reps, block):
        hi = min(reps, lo + block)
        x_host, eps_host = draw_source(states[lo:hi], n, d)
        x = xp.asarray(x_host)
        y = xp.stack([x[..., 0] ** 2 - 1.0, xp.asarray(eps_host)], axis=-1)  # (R, n, 2): (g, eps)
        phi = features(x, xp)
        for k, weights in enumerate((None, density_ratio_weights(x[..., 0], m, xp))):
            theta = weighted_least_squares(phi, weights, y, xp)  # (R, d + 1, 2)
            delta = cs[None, :, None] * (theta[:, None, :, 0] - target) + sigma * theta[:, None, :, 1]
            out[lo:hi, :, k] = to_numpy(target_excess_risk(delta, m, xp))
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"non-finite excess risk at n={n}, d={d}, m={m:g}: a weighted fit failed")
    return out
