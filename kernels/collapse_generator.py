"""Generator chain plus downstream ridge (Dohmatob, Feng, Kempe 2024).

One replication draws a truth ``w₀`` (uniform direction, norm ``w_norm``) and runs the
generator chain ``ŵ₀ = w₀``, ``ŵₖ₊₁ = X̄ₖ⁺ (X̄ₖ ŵₖ + σ₀ ε̄ₖ)`` with a fresh design
``X̄ₖ`` (``T₀ × d``, rows ``N(0, I)``) each step: OLS when ``T₀ ≥ d``, the minimum-norm
interpolator ``X̄ₖᵀ (X̄ₖ X̄ₖᵀ)⁻¹ ȳₖ`` when ``T₀ < d``.  At each recorded generation ``n`` a
downstream learner gets ``T`` fresh samples labelled by ``ŵₙ`` plus noise ``σ``, and fits
ridge ``(XᵀX + TλI)⁻¹ XᵀY`` for every ``λ`` of a list on the same data.

Outputs: ``gen_err[k] = ‖ŵₖ − w₀‖²`` for ``k = 0..steps`` and ``test_err[i, j] = ‖ŵ − w₀‖²``
for recorded generation ``record[i]`` and ``lams[j]`` (``Σ = I``).

Draw order: ``w₀`` direction (d normals); then for ``k = 0..steps``: if ``k`` is recorded,
the downstream ``X`` (T·d, row-major) and its noise (T); if ``k < steps``, the generator's
``X̄ₖ`` (T₀·d, row-major) and its noise (T₀).

GPU memory traffic (one thread per replication; every work array stored with the replication
index fastest by :func:`simkit.launch.launch`, all accesses coalesced).  Per generator step with a
``T0 x d`` design (``p = min(T0, d)``): the design and its noise are written (``8 T0 (d + 1)``
bytes), the ``p x p`` Gram matrix reads the design ``p`` times (``8 T0 d p``), labels and the
right-hand side read it twice more (``16 T0 d``), and the Cholesky solve reads ``O(p^3)`` doubles;
a recorded generation does the same for the ``T x d`` downstream design plus one ``d x d``
Cholesky solve per ridge ``lambda``.  RNG state: registers, loaded and stored once.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

from .collapse_linalg import (
    cholesky_shifted,
    cholesky_solve,
    fill_normal_matrix,
    gram,
    outer_gram,
    rmatvec,
    sq_distance,
)
from .rng import copy_state, fill_normal
from .targets import cpu_launcher, cuda_launcher, device


@device
def _label(state, X, w, noise_sd, y):
    """``y = X w + noise_sd · ε`` with ``ε`` drawn into ``y`` first."""
    fill_normal(state, y)
    for i in range(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k] * w[k]
        y[i] = s + noise_sd * y[i]


@device
def generator_ridge_body(
    state,
    w_norm,
    sigma0,
    sigma,
    steps,
    record,
    lams,
    w0,
    w,
    v,
    Xg,
    yg,
    Gg,
    Lg,
    Xd,
    yd,
    Gd,
    Ld,
    hd,
    wr,
    gen_err,
    test_err,
):
    """Run one replication (see the module docstring for the model and the draw order).

    Parameters
    ----------
    w_norm, sigma0, sigma : float
        ``‖w₀‖``, generator noise sd ``σ₀`` and downstream noise sd ``σ``.
    steps : int
        Generator steps ``K``; ``gen_err`` has ``K + 1`` entries.
    record : int64[R]
        Increasing generations (each in ``0..K``) at which the downstream ridge is fitted.
    lams : float64[J]
        Ridge strengths ``λ ≥ 0``.
    w0, w, wr, hd : float64[d]; v : float64[p] with ``p = min(T₀, d)``;
    Xg : float64[T₀, d]; yg : float64[T₀]; Gg, Lg : float64[p, p];
    Xd : float64[T, d]; yd : float64[T]; Gd, Ld : float64[d, d]
        Work arrays.
    gen_err : float64[K + 1]; test_err : float64[R, J]
        Outputs (NaN where a system was singular).
    """
    d = w0.shape[0]
    T0 = Xg.shape[0]
    T = Xd.shape[0]
    fill_normal(state, w0)
    s = 0.0
    for k in range(d):
        s += w0[k] * w0[k]
    scale = w_norm / math.sqrt(s)
    for k in range(d):
        w0[k] = w0[k] * scale
        w[k] = w0[k]
    i_rec = 0
    for step in range(steps + 1):
        gen_err[step] = sq_distance(w, w0)
        if i_rec < record.shape[0] and record[i_rec] == step:
            fill_normal_matrix(state, Xd)
            _label(state, Xd, w, sigma, yd)
            gram(Xd, Gd)
            rmatvec(Xd, yd, hd)
            for j in range(lams.shape[0]):
                if cholesky_shifted(Gd, T * lams[j], Ld):
                    cholesky_solve(Ld, hd, wr)
                    test_err[i_rec, j] = sq_distance(wr, w0)
                else:
                    test_err[i_rec, j] = np.nan
            i_rec += 1
        if step == steps:
            break
        fill_normal_matrix(state, Xg)
        _label(state, Xg, w, sigma0, yg)
        if T0 >= d:
            gram(Xg, Gg)
            rmatvec(Xg, yg, v)
            ok = cholesky_shifted(Gg, 0.0, Lg)
            if ok:
                cholesky_solve(Lg, v, w)
        else:
            outer_gram(Xg, Gg)
            ok = cholesky_shifted(Gg, 0.0, Lg)
            if ok:
                cholesky_solve(Lg, yg, v)
                rmatvec(Xg, v, w)
        if not ok:
            for k in range(step + 1, steps + 1):
                gen_err[k] = np.nan
            for i in range(i_rec, test_err.shape[0]):
                for j in range(test_err.shape[1]):
                    test_err[i, j] = np.nan
            return


@cpu_launcher
def generator_ridge_cpu(states, d, T0, T, w_norm, sigma0, sigma, steps, record, lams, gen_err, test_err):
    """CPU launcher: replication ``r`` fills ``gen_err[r]`` and ``test_err[r]`` from ``states[r]``."""
    p = min(T0, d)
    for r in numba.prange(states.shape[0]):
        w0 = np.empty(d)
        w = np.empty(d)
        wr = np.empty(d)
        hd = np.empty(d)
        v = np.empty(p)
        Xg = np.empty((T0, d))
        yg = np.empty(T0)
        Gg = np.empty((p, p))
        Lg = np.empty((p, p))
        Xd = np.empty((T, d))
        yd = np.empty(T)
        Gd = np.empty((d, d))
        Ld = np.empty((d, d))
        generator_ridge_body(
            states[r],
            w_norm,
            sigma0,
            sigma,
            steps,
            record,
            lams,
            w0,
            w,
            v,
            Xg,
            yg,
            Gg,
            Lg,
            Xd,
            yd,
            Gd,
            Ld,
            hd,
            wr,
            gen_err[r],
            test_err[r],
        )


@cuda_launcher
def generator_ridge_cuda(
    states, w_norm, sigma0, sigma, steps, record, lams, vecs, v, Xg, yg, gmats, Xd, yd, dmats, gen_err, test_err
):
    """CUDA launcher, one thread per replication.

    Work space with a leading replication axis: ``vecs`` ``(reps, 4, d)``, ``v`` ``(reps, p)``,
    ``Xg`` ``(reps, T₀, d)``, ``yg`` ``(reps, T₀)``, ``gmats`` ``(reps, 2, p, p)``,
    ``Xd`` ``(reps, T, d)``, ``yd`` ``(reps, T)``, ``dmats`` ``(reps, 2, d, d)``.
    """
    r = cuda.grid(1)
    if r < states.shape[0]:
        a = vecs[r]
        g = gmats[r]
        m = dmats[r]
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        generator_ridge_body(
            state,
            w_norm,
            sigma0,
            sigma,
            steps,
            record,
            lams,
            a[0],
            a[1],
            v[r],
            Xg[r],
            yg[r],
            g[0],
            g[1],
            Xd[r],
            yd[r],
            m[0],
            m[1],
            a[2],
            a[3],
            gen_err[r],
            test_err[r],
        )
        copy_state(state, states[r])
