"""Linear-regression collapse chain (Gerstgrasser et al. 2024): replace or accumulate.

One replication draws a truth ``w* ~ N(0, I_d)`` and a design ``X`` (``T × d``, rows
``N(0, I)``), labels ``y₁ = X w* + σ ε₁``, and refits by OLS (or ridge) at every iteration on
labels made by the previous fit: ``yₙ = X ŵₙ₋₁ + σ εₙ``.  *Replace* fits iteration ``n``'s data
only; *accumulate* fits all iterations' data stacked, by accumulating the stacked normal
equations ``G = Σ Xᵢᵀ Xᵢ``, ``h = Σ Xᵢᵀ yᵢ`` and solving them.  The output is the test error
``‖ŵₙ − w*‖²`` (``Σ = I``) after each iteration.

Draw order (the NumPy reference reads the same stream in this order):
``w*`` (d normals); ``X`` (T·d normals, row-major) when the design is fixed; then for each
iteration: a fresh ``X`` (T·d, row-major) when the design is fresh, then ``ε`` (T normals).

GPU memory traffic (one thread per replication; ``X``, ``y``, ``vecs``, ``mats`` and ``out``
stored with the replication index fastest by :func:`simkit.launch.launch`, all accesses below
coalesced).  Per iteration with a ``T x d`` design: a fresh design writes ``X`` (``8 T d`` bytes)
and its Gram matrix reads it ``d`` times (``8 T d^2``); labels read ``X`` once and write ``y``
(``8 T (d + 1)``); ``X^T y`` reads both (``8 T (d + 1)``); accumulating the normal equations reads
and writes ``d^2 + d`` doubles; the Cholesky solve reads ``O(d^3)`` doubles of ``G`` and ``L``.
RNG state: registers, loaded and stored once.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from .collapse_linalg import cholesky_shifted, cholesky_solve, fill_normal_matrix, gram, rmatvec, sq_distance
from .rng import copy_state, fill_normal
from .targets import cpu_launcher, cuda_launcher, device


@device
def linear_chain_body(state, sigma, ridge, accumulate, fresh_design, w_true, w, X, y, xty, XtX, G, h, L, out):
    """Run one replication's chain; ``out[n]`` is the test error after iteration ``n + 1``.

    Parameters
    ----------
    state : uint64[2]
        This replication's generator state (advanced).
    sigma : float
        Label-noise standard deviation ``σ``.
    ridge : float
        Ridge strength ``λ ≥ 0``: the fit solves ``(G + λ·N·I) w = h`` with ``N`` the number of
        stacked samples (``T`` for replace, ``n·T`` at iteration ``n`` for accumulate).
    accumulate, fresh_design : int
        1 to accumulate all iterations' data / to draw a fresh design every iteration.
    w_true, w, xty, h : float64[d]; X : float64[T, d]; y : float64[T]; XtX, G, L : float64[d, d]
        Work arrays.
    out : float64[iterations]
        Test errors; NaN from the first iteration whose normal equations are singular.
    """
    T = X.shape[0]
    d = X.shape[1]
    fill_normal(state, w_true)
    for k in range(d):
        w[k] = w_true[k]
        h[k] = 0.0
        for j in range(d):
            G[k, j] = 0.0
    if fresh_design == 0:
        fill_normal_matrix(state, X)
        gram(X, XtX)
    for n in range(out.shape[0]):
        if fresh_design != 0:
            fill_normal_matrix(state, X)
            gram(X, XtX)
        fill_normal(state, y)
        for i in range(T):
            s = 0.0
            for k in range(d):
                s += X[i, k] * w[k]
            y[i] = s + sigma * y[i]
        rmatvec(X, y, xty)
        if accumulate != 0:
            for k in range(d):
                h[k] += xty[k]
                for j in range(d):
                    G[k, j] += XtX[k, j]
            stacked = (n + 1) * T
        else:
            for k in range(d):
                h[k] = xty[k]
                for j in range(d):
                    G[k, j] = XtX[k, j]
            stacked = T
        if not cholesky_shifted(G, ridge * stacked, L):
            for m in range(n, out.shape[0]):
                out[m] = np.nan
            return
        cholesky_solve(L, h, w)
        out[n] = sq_distance(w, w_true)


@cpu_launcher
def linear_chain_cpu(states, d, T, sigma, ridge, accumulate, fresh_design, out):
    """CPU launcher: replication ``r`` fills ``out[r]`` (``(reps, iterations)``) from ``states[r]``."""
    for r in numba.prange(states.shape[0]):
        w_true = np.empty(d)
        w = np.empty(d)
        xty = np.empty(d)
        h = np.empty(d)
        X = np.empty((T, d))
        y = np.empty(T)
        XtX = np.empty((d, d))
        G = np.empty((d, d))
        L = np.empty((d, d))
        linear_chain_body(states[r], sigma, ridge, accumulate, fresh_design, w_true, w, X, y, xty, XtX, G, h, L, out[r])


@cuda_launcher
def linear_chain_cuda(states, sigma, ridge, accumulate, fresh_design, vecs, X, y, mats, out):
    """CUDA launcher, one thread per replication.

    ``vecs`` is ``(reps, 4, d)`` and ``mats`` ``(reps, 3, d, d)`` work space; ``X`` ``(reps, T, d)``,
    ``y`` ``(reps, T)``.
    """
    r = cuda.grid(1)
    if r < states.shape[0]:
        v = vecs[r]
        m = mats[r]
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        linear_chain_body(
            state,
            sigma,
            ridge,
            accumulate,
            fresh_design,
            v[0],
            v[1],
            X[r],
            y[r],
            v[2],
            m[0],
            m[1],
            v[3],
            m[2],
            out[r],
        )
        copy_state(state, states[r])
