"""Sequential Bayesian updating on two Gaussian-mean tasks: the batched simulator.

Our instantiation of Kessler, Cobb, Rudner, Zohren, Roberts (arXiv:2301.01828).  Task ``t`` has
``n_t`` observations ``y ~ N(theta_t, sigma2)`` with ``sigma2`` known.  Two learners update by
exact conjugate steps (no optimiser):

* ``shared``: one mean ``theta ~ N(0, prior_var)``; task 1's posterior is the prior for task 2;
* ``task-specific``: ``theta_1, theta_2`` iid ``N(0, prior_var)``; task ``t`` updates ``theta_t`` only.

Predictions are posterior means (a not-yet-updated task-specific mean predicts its prior mean 0)
and ``mse_task_t = (prediction for task t - theta_t)^2``.

Randomness: replication ``r`` reads its own xoroshiro128+ stream (``states[r]``, the generator of
:mod:`simkit.kernels.rng`), advanced for all replications in lockstep by array code, so the draws
equal ``simkit.rng.Stream(states[r]).normal(...)`` up to the last bit of ``log``/``cos``.  The
canonical path (``data="means"``) draws two standard normals ``z1, z2`` per replication and sets
``ybar_1 = theta1 + sigma z1/sqrt(n1)``, ``ybar_2 = theta2 + sigma z2/sqrt(n2)``: exact in
distribution, O(1) per replication.  The full-data path (``data="full"``) draws ``n1`` then ``n2``
normals and averages them (same law, different numbers); it exists to test the canonical path.
"""

from __future__ import annotations

import numpy as np

from ..backends import get_xp, to_numpy
from ..errors import ParameterError
from ..validation import check_choice, check_int, check_real
from .seqbayes_theory import MODELS, STAGES

__all__ = ["MODELS", "STAGES", "stream_normals", "conjugate_update", "draw_task_means", "simulate_seqbayes"]

_MASK11 = 11
_TWO53_INV = 1.0 / 9007199254740992.0
_TWO_PI = 6.283185307179586


def _rotl(x, k, xp):
    return (x << xp.uint64(k)) | (x >> xp.uint64(64 - k))


def _next_u64(s, xp):
    """One xoroshiro128+ step for every row of ``s`` (uint64, shape (R, 2)), in place; returns the outputs."""
    s0, s1 = s[:, 0].copy(), s[:, 1].copy()
    result = s0 + s1
    s1 ^= s0
    s[:, 0] = _rotl(s0, 24, xp) ^ s1 ^ (s1 << xp.uint64(16))
    s[:, 1] = _rotl(s1, 37, xp)
    return result


def stream_normals(states, k, xp=np):
    """The first ``k`` standard normals of every replication's stream, shape (R, k).

    Box-Muller exactly as ``simkit.kernels.rng.normal`` (two words per normal:
    ``u1 in (0, 1]``, then ``u2 in [0, 1)``), advanced for all replications at once.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    k : int
        Normals per replication.
    xp : module
        :mod:`numpy` or :mod:`cupy`.

    Returns
    -------
    array of float64, shape (R, k)
    """
    s = xp.asarray(np.array(states, dtype=np.uint64, copy=True))
    out = xp.empty((s.shape[0], k))
    shift = xp.uint64(_MASK11)
    for j in range(k):
        u1 = ((_next_u64(s, xp) >> shift).astype(xp.float64) + 1.0) * _TWO53_INV
        u2 = (_next_u64(s, xp) >> shift).astype(xp.float64) * _TWO53_INV
        out[:, j] = xp.sqrt(-2.0 * xp.log(u1)) * xp.cos(_TWO_PI * u2)
    return out


def conjugate_update(mean, precision, n, ybar, sigma2):
    """One exact Gaussian update: prior ``N(mean, 1/precision)``, ``n`` points with mean ``ybar``.

    ``precision' = precision + n/sigma2``, ``mean' = (precision mean + n ybar/sigma2)/precision'``.

    Parameters
    ----------
    mean, precision : array or float
        Prior mean (y) and precision (1/y^2).
    n : float
        Number of observations.
    ybar : array
        Their sample mean(s), shape (R,).
    sigma2 : float
        Known noise variance.

    Returns
    -------
    mean, precision : arrays broadcast with ``ybar``
    """
    post = precision + n / sigma2
    return (precision * mean + n * ybar / sigma2) / post, post


def draw_task_means(states, *, n1, n2, theta1, theta2, sigma2, data="means", xp=np):
    """Task sample means ``(ybar_1, ybar_2)``, each shape (R,), from each replication's stream.

    ``data="means"`` draws ``ybar_t = theta_t + sigma z_t/sqrt(n_t)`` from two normals;
    ``data="full"`` draws ``n1`` then ``n2`` observations and averages them.
    """
    sigma = float(np.sqrt(sigma2))
    if data == "means":
        z = stream_normals(states, 2, xp)
        return theta1 + sigma * z[:, 0] / np.sqrt(n1), theta2 + sigma * z[:, 1] / np.sqrt(n2)
    z = stream_normals(states, n1 + n2, xp)
    return theta1 + sigma * z[:, :n1].mean(axis=1), theta2 + sigma * z[:, n1:].mean(axis=1)


def simulate_seqbayes(states, *, n1, n2, theta1, theta2, sigma2, prior_var, data="means", backend="numpy"):
    """Squared errors of both models' task-1 and task-2 predictions after each task.

    Both models and both stages use the same two task data sets per replication (paired).

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    n1, n2 : int
        Task sample sizes (``>= 1``).
    theta1, theta2 : float
        True task means (y).
    sigma2 : float
        Known noise variance (y^2, ``> 0``).
    prior_var : float
        Prior variance of each mean (y^2, ``> 0``, finite).
    data : {"means", "full"}
        Canonical fast path or full data sets (see the module docstring).
    backend : {"numpy", "numba", "cuda"}
        ``numba`` runs the NumPy array code; ``cuda`` runs it through CuPy.

    Returns
    -------
    dict of numpy.ndarray
        ``mse_task1``, ``mse_task2``: shape (R, 2, 2) over ``(rep, model, stage)`` in the order of
        :data:`MODELS` and :data:`STAGES`, y^2; ``posterior_mean``: shape (R, 2, 2, 2) over
        ``(rep, model, stage, task)``, the prediction for each task, y.
    """
    n1 = check_int("n1", n1, low=1)
    n2 = check_int("n2", n2, low=1)
    theta1 = check_real("theta1", theta1)
    theta2 = check_real("theta2", theta2)
    sigma2 = check_real("sigma2", sigma2, low=0, low_inclusive=False)
    prior_var = check_real("prior_var", prior_var, low=0, low_inclusive=False)
    check_choice("data", data, ("means", "full"))
    check_choice("backend", backend, ("numpy", "numba", "cuda"))
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != 2 or states.dtype != np.uint64:
        raise ParameterError(f"states must be a uint64 array of shape (R, 2), got {states.dtype} {states.shape}")
    xp = get_xp(backend)
    ybar1, ybar2 = draw_task_means(states, n1=n1, n2=n2, theta1=theta1, theta2=theta2, sigma2=sigma2, data=data, xp=xp)
    p0 = 1.0 / prior_var
    zero = xp.zeros_like(ybar1)
    # shared: task 1, then its posterior is the prior for task 2
    mu1, p1 = conjugate_update(zero, p0, n1, ybar1, sigma2)
    mu12, _ = conjugate_update(mu1, p1, n2, ybar2, sigma2)
    # task-specific: theta_1 sees task 1 only, theta_2 task 2 only
    t1, _ = conjugate_update(zero, p0, n1, ybar1, sigma2)
    t2, _ = conjugate_update(zero, p0, n2, ybar2, sigma2)
    pred = xp.stack(
        [
            xp.stack([xp.stack([mu1, mu1], -1), xp.stack([mu12, mu12], -1)], -2),  # shared
            xp.stack([xp.stack([t1, zero], -1), xp.stack([t1, t2], -1)], -2),  # task-specific
        ],
        -3,
    )  # (R, model, stage, task)
    pred = to_numpy(pred)
    return {
        "mse_task1": (pred[..., 0] - theta1) ** 2,
        "mse_task2": (pred[..., 1] - theta2) ** 2,
        "posterior_mean": pred,
    }
