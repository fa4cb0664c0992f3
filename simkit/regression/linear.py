"""Data generators, stable (sketched) ridgeless/ridge estimators and their exact risk per draw.

Model: ``y = X beta + eps`` with rows ``x_i = Sigma^(1/2) z_i`` (``z_i`` standard normal,
``Sigma = diag(spectrum)``: a Gaussian design is rotation invariant, so a diagonal ``Sigma``
loses no generality), ``beta ~ N(0, alpha^2/p I)`` and noise variance ``sigma^2``.

Estimators act on the sketched data ``Z = S X`` (``m x p``), ``S y``: the ridgeless estimator is
``beta_hat = Z^+ S y`` computed from the SVD ``Z = U diag(s) V^T`` keeping the singular values
``s_i > RCOND * s_max`` with ``RCOND = max(m, p) * eps`` (the rank cutoff of
``numpy.linalg.pinv``/``matrix_rank``; never a tiny-ridge proxy); ridge uses the filter
factors ``s_i/(s_i^2 + m lambda)``.  The exact risk conditional on ``(X, S)`` and the drawn
``beta`` (expectation over the noise only) is

``bias = ||(I - V F V^T) beta||^2_Sigma`` and
``variance = sigma^2 tr(V G U^T S S^T U G V^T Sigma)``,

with ``F = diag(s_i^2/(s_i^2 + m lambda))`` and ``G = diag(s_i/(s_i^2 + m lambda))`` (``F`` the
indicator of kept singular values and ``G = 1/s_i`` for ridgeless).  No test sample is used.

Backends: the linear algebra is array-generic (``xp`` = NumPy, or CuPy for ``cuda``) and batched
over replications; ``numba`` shares the NumPy path except for the SRHT's Walsh–Hadamard transform,
which is a compiled kernel, and runs blocks of replications on ``numba.get_num_threads()`` threads
(:func:`over_replications`).  Random draws come from each replication's stream on the host.  On
the CPU, BLAS/LAPACK run on one thread per call (:func:`simkit.threads.one_blas_thread`):
the per-replication matrices are small, multi-threaded LAPACK gains little on them and slows down
sharply when the cores are shared.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..backends import get_xp, to_numpy
from ..threads import one_blas_thread
from ..errors import ParameterError
from ..rng import Stream
from ..validation import check_array, check_choice, check_int, check_real
from .sketches import SKETCH_NAMES, apply_sketches, draw_sketch, sketch_gram

__all__ = [
    "rank_cutoff",
    "two_level_spectrum",
    "draw_design",
    "draw_beta",
    "exact_risk",
    "simulate_sketched",
    "min_norm_solve",
    "simulate_validated",
    "over_replications",
    "single_threaded_blas",
    "MAX_BATCH_BYTES",
]

#: Replications are processed in batches whose design array stays below this many bytes.
MAX_BATCH_BYTES = 64 * 2**20


def rank_cutoff(m, p):
    """Relative singular-value cutoff ``max(m, p) * eps`` used by the ridgeless estimators."""
    return max(m, p) * np.finfo(float).eps


def two_level_spectrum(p, high=2.0, low=1.0):
    """The paper's correlated design: ``diag(high`` on the first half, ``low`` on the rest``)``, shape ``(p,)``."""
    p = check_int("p", p, low=1)
    spec = np.full(p, float(low))
    spec[: p // 2] = float(high)
    return spec


def draw_design(stream, n, p, spectrum=None):
    """Draw ``X`` (``n x p``): ``n*p`` standard normals in C order, columns scaled by ``sqrt(spectrum)``."""
    x = stream.normal((n, p))
    if spectrum is not None:
        x *= np.sqrt(spectrum)
    return x


def draw_beta(stream, p, alpha):
    """Draw ``beta ~ N(0, alpha^2/p I)`` (``p`` normals), shape ``(p,)``."""
    return stream.normal((p,)) * (alpha / math.sqrt(p))


def exact_risk(z, beta, sigma, *, gram=None, spectrum=None, ridge=0.0, xp=np):
    """Exact bias and variance of the (sketched) ridgeless or ridge estimator, per replication.

    Parameters
    ----------
    z : array, shape (R, m, p)
        Sketched designs ``S X``.
    beta : array, shape (R, p)
        True coefficients.
    sigma : float
        Noise standard deviation.
    gram : array, shape (R, m, m), optional
        ``S S^T``; ``None`` means orthonormal rows (``S S^T = I``).
    spectrum : array, shape (p,), optional
        Diagonal of ``Sigma`` (default identity).
    ridge : float
        ``lambda >= 0``; 0 is the ridgeless (minimum-norm) estimator.
    xp : module
        NumPy or CuPy.

    Returns
    -------
    bias, variance : array, shape (R,)
        In squared response units.
    """
    r_, m, p = z.shape
    u, s, vt = xp.linalg.svd(z, full_matrices=False)
    if ridge > 0:
        mu = m * ridge
        f = s**2 / (s**2 + mu)
        g = s / (s**2 + mu)
    else:
        keep = s > rank_cutoff(m, p) * s[:, :1]
        f = keep.astype(z.dtype)
        g = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0)
    coef = xp.einsum("rkp,rp->rk", vt, beta) * f
    resid = beta - xp.einsum("rkp,rk->rp", vt, coef)
    if spectrum is None:
        bias = xp.sum(resid * resid, axis=1)
        if gram is None:
            var = xp.sum(g**2, axis=1)  # V^T V = I
        else:
            diag = xp.sum(u * (gram @ u), axis=1)  # diagonal of U^T S S^T U
            var = xp.sum(diag * g**2, axis=1)
        return bias, sigma**2 * var
    w = xp.asarray(spectrum)
    bias = xp.sum(resid * resid * w, axis=1)
    vsv = (vt * w) @ xp.swapaxes(vt, 1, 2)  # V^T Sigma V, shape (R, k, k)
    if gram is None:
        var = xp.einsum("rk,rkk->r", g**2, vsv)
    else:
        mid = xp.swapaxes(u, 1, 2) @ gram @ u
        mid = mid * g[:, :, None] * g[:, None, :]
        var = xp.sum(mid * vsv, axis=(1, 2))
    return bias, sigma**2 * var


def single_threaded_blas(backend):
    """Context manager limiting BLAS to one thread for CPU backends."""
    if backend == "cuda":
        return contextlib.nullcontext()
    return one_blas_thread()


def over_replications(reps, batch, backend, work):
    """Call ``work(lo, hi)`` on consecutive blocks of at most ``batch`` replications.

    On the ``numba`` backend the blocks run on ``numba.get_num_threads()`` Python threads (LAPACK
    releases the GIL, BLAS is limited to one thread per call), so the thread budget set by the
    executors is respected; ``numpy`` and ``cuda`` run them in order.  ``work`` must write only
    its own replications' outputs; results do not depend on the blocking.
    """
    threads = 1
    if backend == "numba":
        import numba

        threads = max(1, min(numba.get_num_threads(), reps))
        batch = max(1, min(batch, -(-reps // threads)))
    blocks = [(lo, min(reps, lo + batch)) for lo in range(0, reps, batch)]
    with single_threaded_blas(backend):
        if threads == 1 or len(blocks) == 1:
            for lo, hi in blocks:
                work(lo, hi)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(work, lo, hi) for lo, hi in blocks]:
                future.result()


def _validate(n, p, m, alpha, sigma, sketch):
    n = check_int("n", n, low=1)
    p = check_int("p", p, low=1)
    m = check_int("m", m, low=1)
    if m > n:
        raise ParameterError(f"sketch size m must be in [1, n] = [1, {n}], got {m}")
    check_real("alpha", alpha, low=0)
    check_real("sigma", sigma, low=0)
    check_choice("sketch", sketch, SKETCH_NAMES + ("none",))
    return n, p, m


def simulate_sketched(states, *, n, p, m, alpha, sigma, sketch, spectrum=None, ridge=0.0, backend="numpy"):
    """Exact risk of the sketched ridgeless (or ridge) estimator for one replication per state.

    Per replication the stream is consumed as: design ``X`` (:func:`draw_design`), ``beta``
    (:func:`draw_beta`), then the sketch (:func:`~simkit.regression.sketches.draw_sketch`; none
    for ``sketch="none"``, the full sample, where ``m`` must equal ``n``).  ``X``, ``beta`` and
    ``S`` are redrawn in every replication.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication streams (not modified).
    n, p, m : int
        Samples, features, sketch size (``m <= n``).
    alpha, sigma : float
        Signal strength and noise standard deviation.
    sketch : {"haar", "srht", "gaussian", "none"}
    spectrum : array_like, shape (p,), optional
        Feature covariance eigenvalues (default identity).
    ridge : float
        Ridge penalty ``lambda >= 0`` (0: ridgeless).
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    dict of numpy.ndarray, each shape (R,)
        ``bias``, ``variance``, ``risk = bias + variance``.
    """
    n, p, m = _validate(n, p, m, alpha, sigma, sketch)
    if sketch == "none" and m != n:
        raise ParameterError(f"sketch 'none' (full sample) needs m = n = {n}, got m = {m}")
    ridge = check_real("ridge", ridge, low=0)
    if spectrum is not None:
        spectrum = check_array("spectrum", spectrum, shape=(p,), low=0.0)
    xp = get_xp(backend)
    reps = states.shape[0]
    batch = max(1, min(reps, MAX_BATCH_BYTES // (8 * n * max(p, m))))
    bias = np.empty(reps)
    var = np.empty(reps)

    def work(lo, hi):
        xs, betas, sketches = [], [], []
        for r in range(lo, hi):
            stream = Stream(states[r].copy())
            xs.append(draw_design(stream, n, p, spectrum))
            betas.append(draw_beta(stream, p, alpha))
            if sketch != "none":
                sketches.append(draw_sketch(sketch, m, n, stream))
        x = xp.asarray(np.stack(xs))
        if sketch == "none":
            z, gram = x, None
        else:
            z = apply_sketches(sketches, x, backend)
            gram = sketch_gram(sketches, backend)
        b, v = exact_risk(z, xp.asarray(np.stack(betas)), sigma, gram=gram, spectrum=spectrum, ridge=ridge, xp=xp)
        bias[lo:hi] = to_numpy(b)
        var[lo:hi] = to_numpy(v)

    over_replications(reps, batch, backend, work)
    return {"bias": bias, "variance": var, "risk": bias + var}


def min_norm_solve(z, rhs, xp=np):
    """Minimum-norm least-squares solutions ``z_r^+ rhs_r`` through the SVD with the documented rank cutoff.

    Parameters
    ----------
    z : array, shape (R, m, p)
    rhs : array, shape (R, m)

    Returns
    -------
    array, shape (R, p)
    """
    m, p = z.shape[1], z.shape[2]
    u, s, vt = xp.linalg.svd(z, full_matrices=False)
    keep = s > rank_cutoff(m, p) * s[:, :1]
    g = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0)
    coef = xp.einsum("rmk,rm->rk", u, rhs) * g
    return xp.einsum("rkp,rk->rp", vt, coef)


def simulate_validated(states, *, n, p, alpha, sigma, n_val, candidates, oracle_m, sketch="srht", backend="numpy"):
    """Sketch size chosen on a validation set, against the oracle ``m*`` and the full sample.

    Per replication the stream is consumed as: ``X`` (``n x p``), ``beta``, one orthogonal sketch of
    size ``n`` (its first ``m`` rows are the size-``m`` sketch, so the candidate sketches are
    nested), the training noise (``n`` normals), the validation design (``n_val x p``) and the
    validation noise (``n_val`` normals).  For every candidate ``m`` the sketched minimum-norm fit is
    scored by its validation mean squared error; ``m_hat`` minimises it.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
    n, p : int
        Training samples and features.
    alpha, sigma : float
        Signal strength and noise standard deviation.
    n_val : int
        Validation points (>= 1).
    candidates : array_like of int, shape (K,)
        Candidate sketch sizes in ``[1, n]``.
    oracle_m : int
        The theory's optimal size ``m*`` (``n`` means no sketching).
    sketch : {"haar", "srht"}
        Orthogonal sketch.
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    dict
        ``risk``: shape (R, 3), realised ``||beta_hat - beta||^2`` (isotropic ``Sigma``) of the
        validated, oracle and full-sample fits, in that order; ``m_hat``: shape (R,).
    """
    n = check_int("n", n, low=1)
    p = check_int("p", p, low=1)
    n_val = check_int("n_val", n_val, low=1)
    check_real("alpha", alpha, low=0)
    check_real("sigma", sigma, low=0)
    check_choice("sketch", sketch, ("haar", "srht"))
    cands = check_array("candidates", candidates, ndim=1, dtype=np.int64, low=1, high=n)
    oracle_m = check_int("oracle_m", oracle_m, low=1, high=n)
    xp = get_xp(backend)
    reps = states.shape[0]
    risk = np.empty((reps, 3))
    m_hat = np.empty(reps, dtype=np.int64)
    batch = max(1, min(reps, MAX_BATCH_BYTES // (8 * n * (p + 1))))

    def work(lo, hi):
        xs, betas, sks, ys, xv, yv = [], [], [], [], [], []
        for r in range(lo, hi):
            stream = Stream(states[r].copy())
            x = draw_design(stream, n, p)
            beta = draw_beta(stream, p, alpha)
            sks.append(draw_sketch(sketch, n, n, stream))
            ys.append(x @ beta + sigma * stream.normal((n,)))
            x_val = draw_design(stream, n_val, p)
            xv.append(x_val)
            yv.append(x_val @ beta + sigma * stream.normal((n_val,)))
            xs.append(x)
            betas.append(beta)
        x = xp.asarray(np.stack(xs))
        y = xp.asarray(np.stack(ys))
        beta = xp.asarray(np.stack(betas))
        sa = apply_sketches(sks, xp.concatenate([x, y[:, :, None]], axis=2), backend)
        sx, sy = sa[:, :, :p], sa[:, :, p]
        x_val, y_val = xp.asarray(np.stack(xv)), xp.asarray(np.stack(yv))

        nested = _NestedFits(sx, sy, xp)

        def fit(m):
            return nested.solve(m)

        fits = xp.stack([fit(int(m)) for m in cands])  # (K, R, p)
        val_err = xp.mean((y_val[None] - xp.einsum("rvp,krp->krv", x_val, fits)) ** 2, axis=2)
        best = xp.argmin(val_err, axis=0)
        m_hat[lo:hi] = cands[to_numpy(best)]
        chosen = fits[best, xp.arange(hi - lo)]
        for j, est in enumerate((chosen, fit(oracle_m), min_norm_solve(x, y, xp))):
            risk[lo:hi, j] = to_numpy(xp.sum((est - beta) ** 2, axis=1))

    over_replications(reps, batch, backend, work)
    return {"risk": risk, "m_hat": m_hat}


class _NestedFits:
    """Minimum-norm fits on the first ``m`` rows of ``(S X, S y)`` for many ``m``, from one QR.

    With ``(S X)^T = Q R`` (``Q``: ``p x k``, ``R``: ``k x n``, ``k = min(p, n)``), the first ``m <= k``
    rows satisfy ``Z_m^T = Q[:, :m] R[:m, :m]``, so ``Z_m^+ y_m = Q[:, :m] R[:m, :m]^{-T} y_m``: a
    triangular solve per candidate, no new factorisation.  A candidate whose ``R[:m, :m]`` is
    numerically rank deficient (``|R_ii| <= max(m, p) eps max_j |R_jj|``), and every ``m > p``
    (an over-determined fit), uses :func:`min_norm_solve` (SVD with the rank cutoff) instead.
    """

    def __init__(self, sx, sy, xp):
        self.sx, self.sy, self.xp = sx, sy, xp
        self.p = sx.shape[2]
        self.q, self.r = xp.linalg.qr(xp.swapaxes(sx, 1, 2))
        self.k = self.r.shape[1]

    def solve(self, m):
        """Fits on the first ``m`` rows, shape ``(R, p)``."""
        xp = self.xp
        if m <= self.k:
            rm = self.r[:, :m, :m]
            diag = xp.abs(xp.diagonal(rm, axis1=1, axis2=2))
            if bool(xp.all(diag > rank_cutoff(m, self.p) * xp.max(diag, axis=1, keepdims=True))):
                w = xp.linalg.solve(xp.swapaxes(rm, 1, 2), self.sy[:, :m, None])[:, :, 0]
                return xp.einsum("rpm,rm->rp", self.q[:, :, :m], w)
        return min_norm_solve(self.sx[:, :m], self.sy[:, :m], xp)
