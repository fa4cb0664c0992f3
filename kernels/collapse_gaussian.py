"""Refitting a Gaussian to its own samples (Shumailov et al. 2024), in ``d ≥ 1`` dimensions.

Generation 0 is the truth ``N(μ₀·1, σ₀² I)``.  Generation ``n ≥ 1`` draws ``M`` samples
``x = μₙ₋₁ + Lₙ₋₁ z`` (``Lₙ₋₁`` the Cholesky factor of ``Σₙ₋₁``, ``z ~ N(0, I)``) and fits
mean and covariance with divisor ``N − ddof`` (``ddof = 1``: unbiased, ``0``: MLE), where
*replace* fits the ``N = M`` new samples only and *accumulate* fits all ``N = n·M`` samples
drawn so far (the real ones included), pooled.

The fit is computed in the frame of the sampling distribution: the batch mean is
``μ + L z̄`` and the batch scatter ``L S_z Lᵀ`` with ``S_z = Σ (z − z̄)(z − z̄)ᵀ``.  This is the
same estimator as fitting the ``x`` themselves (mean and scatter are affine-equivariant) but
keeps full relative precision when ``Σₙ`` has collapsed by hundreds of orders of magnitude
below ``μₙ²``, where ``x − x̄`` would cancel to zero.

Outputs at each recorded generation: the mean ``μₙ`` (d), ``log det Σₙ`` and ``tr Σₙ``.

Draw order: for each generation ``n = 1..G``, ``z`` (M·d normals, sample-major).

GPU memory traffic (one thread per replication; ``z``, ``vecs``, ``mats`` and the outputs are
stored with the replication index fastest by :func:`simkit.launch.launch`, so every access below
is coalesced across a warp).  Per generation with ``M`` samples in ``d`` dimensions: the draw
writes ``z`` (``8 M d`` bytes); the mean and the ``d(d+1)/2`` scatter entries read it ``d(d+3)/2``
times (``4 M d (d + 3)`` bytes); the frame change ``L S_z L^T``, the pooling and the Cholesky
factorisation read and write ``O(d^3)`` doubles of the ``d x d`` work matrices; the outputs
(``d + 2`` doubles) are written at recorded generations only.  RNG state: registers, loaded and
stored once.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

from .collapse_linalg import cholesky_shifted, fill_normal_matrix
from .rng import copy_state
from .targets import cpu_launcher, cuda_launcher, device


@device
def gaussian_chain_body(
    state,
    mu0,
    sigma0,
    ddof,
    accumulate,
    generations,
    record,
    z,
    zbar,
    delta,
    mu,
    m,
    Sz,
    L,
    C,
    T1,
    S,
    out_mean,
    out_logdet,
    out_trace,
):
    """Run one replication (model and draw order in the module docstring).

    Parameters
    ----------
    mu0, sigma0 : float
        Truth: every coordinate has mean ``μ₀`` and standard deviation ``σ₀`` (independent).
    ddof : int
        Divisor offset: 1 (unbiased) or 0 (MLE).
    accumulate : int
        1 to pool all generations' samples.
    generations : int
        Number of refits ``G``.
    record : int64[R]
        Increasing generations in ``0..G`` to record.
    z : float64[M, d]; zbar, delta, mu, m : float64[d]; Sz, L, C, T1, S : float64[d, d]
        Work arrays.
    out_mean : float64[R, d]; out_logdet, out_trace : float64[R]
        Outputs (NaN from a generation whose covariance is numerically singular).
    """
    M = z.shape[0]
    d = z.shape[1]
    for a in range(d):
        mu[a] = mu0
        for b in range(d):
            L[a, b] = 0.0
            C[a, b] = 0.0
        L[a, a] = sigma0
        C[a, a] = sigma0 * sigma0
    i_rec = 0
    for n in range(generations + 1):
        if n > 0:
            fill_normal_matrix(state, z)
            for a in range(d):
                s = 0.0
                for i in range(M):
                    s += z[i, a]
                zbar[a] = s / M
            for a in range(d):
                for b in range(a + 1):
                    s = 0.0
                    for i in range(M):
                        s += (z[i, a] - zbar[a]) * (z[i, b] - zbar[b])
                    Sz[a, b] = s
                    Sz[b, a] = s
            for a in range(d):
                s = 0.0
                for k in range(a + 1):
                    s += L[a, k] * zbar[k]
                delta[a] = s
                for b in range(d):
                    s = 0.0
                    for k in range(a + 1):
                        s += L[a, k] * Sz[k, b]
                    T1[a, b] = s
            # C ← L S_z Lᵀ, the batch scatter (L is still the sampling factor here)
            for a in range(d):
                for b in range(a + 1):
                    s = 0.0
                    for k in range(b + 1):
                        s += T1[a, k] * L[b, k]
                    C[a, b] = s
                    C[b, a] = s
            if accumulate == 0:
                for a in range(d):
                    mu[a] += delta[a]
                    for b in range(d):
                        C[a, b] = C[a, b] / (M - ddof)
            else:
                n_new = n * M
                if n == 1:
                    for a in range(d):
                        m[a] = mu[a] + delta[a]
                        for b in range(d):
                            S[a, b] = C[a, b]
                else:
                    f = (n - 1) * M * M / n_new
                    for a in range(d):
                        m[a] += delta[a] * M / n_new
                        for b in range(d):
                            S[a, b] += C[a, b] + f * delta[a] * delta[b]
                for a in range(d):
                    mu[a] = m[a]
                    for b in range(d):
                        C[a, b] = S[a, b] / (n_new - ddof)
            if not cholesky_shifted(C, 0.0, L):
                for i in range(i_rec, out_logdet.shape[0]):
                    out_logdet[i] = np.nan
                    out_trace[i] = np.nan
                    for a in range(d):
                        out_mean[i, a] = np.nan
                return
        if i_rec < record.shape[0] and record[i_rec] == n:
            logdet = 0.0
            trace = 0.0
            for a in range(d):
                out_mean[i_rec, a] = mu[a]
                logdet += 2.0 * math.log(L[a, a])
                trace += C[a, a]
            out_logdet[i_rec] = logdet
            out_trace[i_rec] = trace
            i_rec += 1


@cpu_launcher
def gaussian_chain_cpu(
    states, d, M, mu0, sigma0, ddof, accumulate, generations, record, out_mean, out_logdet, out_trace
):
    """CPU launcher: replication ``r`` fills ``out_*[r]`` from ``states[r]``."""
    for r in numba.prange(states.shape[0]):
        z = np.empty((M, d))
        zbar = np.empty(d)
        delta = np.empty(d)
        mu = np.empty(d)
        m = np.empty(d)
        Sz = np.empty((d, d))
        L = np.empty((d, d))
        C = np.empty((d, d))
        T1 = np.empty((d, d))
        S = np.empty((d, d))
        gaussian_chain_body(
            states[r],
            mu0,
            sigma0,
            ddof,
            accumulate,
            generations,
            record,
            z,
            zbar,
            delta,
            mu,
            m,
            Sz,
            L,
            C,
            T1,
            S,
            out_mean[r],
            out_logdet[r],
            out_trace[r],
        )


@cuda_launcher
def gaussian_chain_cuda(
    states, mu0, sigma0, ddof, accumulate, generations, record, z, vecs, mats, out_mean, out_logdet, out_trace
):
    """CUDA launcher, one thread per replication; ``z`` ``(reps, M, d)``, ``vecs`` ``(reps, 4, d)``,
    ``mats`` ``(reps, 5, d, d)`` work space."""
    r = cuda.grid(1)
    if r < states.shape[0]:
        v = vecs[r]
        w = mats[r]
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        gaussian_chain_body(
            state,
            mu0,
            sigma0,
            ddof,
            accumulate,
            generations,
            record,
            z[r],
            v[0],
            v[1],
            v[2],
            v[3],
            w[0],
            w[1],
            w[2],
            w[3],
            w[4],
            out_mean[r],
            out_logdet[r],
            out_trace[r],
        )
        copy_state(state, states[r])
