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

The simulators used by the studies (:func:`simulate_path`) evaluate many ``(m, p)`` points of one
replication from the same draws and take a faster route to the same numbers
(:func:`sketched_risk_path`): an R-only QR of ``Z^T`` (``m <= p``) or of ``Z`` (``m > p``) and the
inverse of its triangular factor.  That route is used only when it provably gives the estimator of
the SVD rule above: the Frobenius-norm bound ``||R||_F ||R^{-1}||_F >= s_max/s_min`` must be at
most ``CERTIFICATE / RCOND``, which certifies that every singular value passes the cutoff (full
rank).  Any replication without the certificate falls back to :func:`exact_risk` (SVD).

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

from ..backends import DEFAULT_BACKEND, check_backend, check_states, get_xp, to_numpy
from ..errors import ParameterError
from ..rng import Stream
from ..threads import one_blas_thread
from ..validation import check_array, check_choice, check_int, check_real
from .sketches import NESTED, SKETCH_NAMES, apply_sketches, draw_sketch, sketch_gram

__all__ = [
    "rank_cutoff",
    "two_level_spectrum",
    "interleaved_spectrum",
    "draw_design",
    "draw_beta",
    "exact_risk",
    "sketched_risk_path",
    "full_sample_path",
    "simulate_path",
    "simulate_sketched",
    "min_norm_solve",
    "simulate_validated",
    "over_replications",
    "single_threaded_blas",
    "MAX_BATCH_BYTES",
    "CERTIFICATE",
]

#: Replications are processed in batches whose design array stays below this many bytes.
MAX_BATCH_BYTES = 64 * 2**20

#: The triangular fast path is used when ``||R||_F ||R^{-1}||_F <= CERTIFICATE / rank_cutoff(m, p)``.
CERTIFICATE = 1e-4


def rank_cutoff(m, p):
    """Relative singular-value cutoff ``max(m, p) * eps`` used by the ridgeless estimators."""
    return max(m, p) * np.finfo(float).eps


def two_level_spectrum(p, high=2.0, low=1.0):
    """The paper's correlated design: ``diag(high`` on the first half, ``low`` on the rest``)``, shape ``(p,)``."""
    p = check_int("p", p, low=1)
    spec = np.full(p, float(low))
    spec[: p // 2] = float(high)
    return spec


def interleaved_spectrum(p, high=2.0, low=1.0):
    """The two-level spectrum with its coordinates permuted so that it nests, shape ``(p,)``.

    Coordinate ``j`` (from 0) is ``high`` for odd ``j`` and ``low`` for even ``j``: ``p // 2`` high
    values as in :func:`two_level_spectrum`, and the spectrum for ``p`` features is the first ``p``
    entries of that for any larger ``p``.  With isotropic ``beta`` the risk's distribution is
    invariant under a permutation of the coordinates, so both give the same model.
    """
    p = check_int("p", p, low=1)
    spec = np.full(p, float(low))
    spec[1::2] = float(high)
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


def _triangular_inverse(r, xp):
    """Inverses of a batch of upper-triangular matrices ``(R, k, k)`` and a per-matrix success flag ``(R,)``."""
    if xp is np:
        from scipy.linalg.lapack import dtrtri

        out = np.zeros_like(r)
        ok = np.ones(r.shape[0], dtype=bool)
        for i in range(r.shape[0]):
            inv, info = dtrtri(r[i], lower=0)
            ok[i] = info == 0
            out[i] = np.triu(inv) if info == 0 else 0.0
        return out, ok
    inv = xp.linalg.inv(r)  # CuPy: batched LU (a triangular matrix stays triangular)
    ok = xp.all(xp.isfinite(inv), axis=(1, 2))
    return xp.where(ok[:, None, None], inv, 0.0), ok


def _weighted_rows(a, w, xp):
    """``sum_j w_j ||a[:, j, :]||^2`` per batch element (``w = None``: unweighted), shape ``(R,)``."""
    sq = xp.sum(a * a, axis=2)
    return xp.sum(sq, axis=1) if w is None else sq @ w


def _append_rows(r, new, xp):
    """R factor of ``[r; new]`` from the triangular ``r`` (``(R, k, k)``) and new rows ``(R, d, k)``.

    NumPy: LAPACK's triangular-pentagonal QR (``dtpqrt``, cost ``O(d k^2)``); CuPy: a QR of the
    stacked matrix.  Householder reflections either way (R's signs may differ; ``R^T R`` is what matters).
    """
    if xp is np:
        from scipy.linalg.lapack import dtpqrt

        out = np.empty_like(r)
        k = r.shape[1]
        for i in range(r.shape[0]):
            a, _, _, info = dtpqrt(0, min(k, 32), r[i], np.ascontiguousarray(new[i]))
            if info != 0:
                raise RuntimeError(f"dtpqrt failed (info={info})")
            out[i] = np.triu(a)
        return out
    return xp.linalg.qr(xp.concatenate([r, new], axis=1), mode="r")


def _risk_at(z, b, *, rows=None, cross=None, spectrum=None, r=None, zdz=None, xp=np):
    """Bias (for ``beta = b``) and variance (``sigma = 1``) of the ridgeless fit on ``z``, per replication.

    The fast route of :func:`sketched_risk_path` for one ``(m, p)``: ``R`` from an R-only QR of
    ``z^T`` (``m <= p``, so ``Z Z^T = R^T R``) or of ``z`` (``m > p``, ``Z^T Z = R^T R``), then
    ``R^{-1}``; replications without the rank certificate (module docstring) use :func:`exact_risk`.
    For ``m <= p`` the residual ``(I - P) b`` of the projection on the row space is formed as
    ``b - Z^T R^{-1} R^{-T} Z b`` (rounding error of order ``kappa^2 eps``, ``kappa`` the condition
    number; below ``1e-10`` relative for the conditioning the studies meet, as the tests check).

    Parameters
    ----------
    z : array, shape (R, m, p)
    b : array, shape (R, p)
    rows : array, shape (R, m, n), optional
        The sketch rows when they are not orthonormal (``S S^T != I``); ``None``: orthonormal rows.
    cross : array, shape (R, p, n), optional
        ``z^T rows`` if already known (``m > p`` only).
    spectrum : array, shape (p,), optional
        Diagonal of ``Sigma`` (default identity).
    r : array, shape (R, k, k), optional
        The R factor (any signs) of ``z^T`` (``m <= p``) or ``z`` (``m > p``) if already known.
    zdz : array, shape (R, m, m), optional
        ``z diag(spectrum) z^T`` if already known (``m <= p``, orthonormal rows): the variance is
        then ``tr(A^2 zdz)`` with ``A = (z z^T)^{-1}``, an ``O(m^3)`` step instead of ``O(p m^2)``.

    Returns
    -------
    bias, variance : array, shape (R,)
    """
    r_, m, p = z.shape
    zt = xp.swapaxes(z, 1, 2)
    if r is None:
        r = xp.linalg.qr(zt if m <= p else z, mode="r")  # (R, k, k), k = min(m, p)
    rinv, ok = _triangular_inverse(r, xp)
    bound = xp.sqrt(xp.sum(r * r, axis=(1, 2)) * xp.sum(rinv * rinv, axis=(1, 2)))
    ok = ok & xp.isfinite(bound) & (bound <= CERTIFICATE / rank_cutoff(m, p))
    w = None if spectrum is None else xp.asarray(spectrum)
    if m <= p:
        # Z^+ = Z^T A with A = (Z Z^T)^{-1} = R^{-1} R^{-T}
        c = xp.einsum("rji,rj->ri", rinv, xp.einsum("rmp,rp->rm", z, b))  # Q^T b with Z^T = Q R
        resid = b - xp.einsum("rmp,rm->rp", z, xp.einsum("rij,rj->ri", rinv, c))
        bias = xp.sum(resid * resid, axis=1) if w is None else (resid * resid) @ w
        if rows is None:
            if w is None:
                var = xp.sum(rinv * rinv, axis=(1, 2))
            elif zdz is not None:
                a = rinv @ xp.swapaxes(rinv, 1, 2)
                var = xp.sum((a @ a) * zdz, axis=(1, 2))
            else:
                var = _weighted_rows(zt @ (rinv @ xp.swapaxes(rinv, 1, 2)), w, xp)
        else:
            wk = xp.swapaxes(rinv, 1, 2) @ rows  # R^{-T} S, shape (R, m, n)
            var = xp.sum(wk * wk, axis=(1, 2)) if w is None else _weighted_rows(zt @ (rinv @ wk), w, xp)
    else:
        bias = xp.zeros(r_)  # full column rank: Z^+ Z = I
        a = rinv @ xp.swapaxes(rinv, 1, 2)  # (Z^T Z)^{-1}
        if rows is None:
            var = xp.sum(rinv * rinv, axis=(1, 2)) if w is None else xp.diagonal(a, axis1=1, axis2=2) @ w
        else:
            t = zt @ rows if cross is None else cross
            var = _weighted_rows(a @ t, w, xp)
    if not bool(xp.all(ok)):
        bad = xp.flatnonzero(~ok)
        gram = None if rows is None else rows[bad] @ xp.swapaxes(rows[bad], 1, 2)
        fb, fv = exact_risk(z[bad], b[bad], 1.0, gram=gram, spectrum=spectrum, xp=xp)
        bias[bad] = fb
        var[bad] = fv
    return bias, var


def sketched_risk_path(z, b, sizes, *, rows=None, spectrum=None, xp=np):
    """Exact bias and variance of the sketched ridgeless fit on the first ``m`` rows of ``z``, for every ``m``.

    Nested sketches: the sketch of size ``m`` is the first ``m`` rows of one sketch of the largest
    size ``M`` (Haar: first rows of a Haar matrix; SRHT: nested kept rows, i.e. sampling without
    replacement; i.i.d. Gaussian rows), so ``z = S_M X`` serves every ``m``.  Each ``m`` is
    computed by the triangular fast route (module docstring; the same numbers as
    :func:`exact_risk`, which is the fallback without the rank certificate).  The R factors nest
    too: for ``m <= p`` that of ``z_m^T`` is the leading ``m x m`` block of one QR of ``z_k^T``
    (``k`` the largest such ``m``); for ``m > p`` that of ``z_m`` is updated from the previous size's
    by appending rows (:func:`_append_rows`).  For non-orthonormal rows and ``m > p`` the products
    ``z_m^T S_m`` are accumulated over increasing ``m``.

    Parameters
    ----------
    z : array, shape (R, M, p)
        Sketched designs ``S_M X``.
    b : array, shape (R, p)
        Coefficients (bias scales as ``||b||^2``: pass a unit-scale direction and multiply by ``alpha^2``).
    sizes : sequence of int, length K
        Sketch sizes in ``[1, M]`` (any order, repeats allowed).
    rows : array, shape (R, M, n), optional
        The dense sketch when its rows are not orthonormal; ``None`` for orthonormal rows.
    spectrum : array, shape (p,), optional
        Diagonal of ``Sigma``.
    xp : module

    Returns
    -------
    bias, variance : array, shape (R, K)
        ``||E beta_hat - b||^2_Sigma`` and ``tr(Cov beta_hat Sigma)`` for unit noise (multiply by ``sigma^2``).
    """
    r_, big_m, p = z.shape
    sizes = [int(v) for v in sizes]
    if not sizes or min(sizes) < 1 or max(sizes) > big_m:
        raise ParameterError(f"sketch sizes must be in [1, {big_m}], got {sizes}")
    bias = xp.empty((r_, len(sizes)))
    var = xp.empty((r_, len(sizes)))
    wide = [m for m in set(sizes) if m <= p]
    # m <= p: Z_m^T is the first m columns of Z_k^T, so its R factor is the leading block of one QR
    r_wide = xp.linalg.qr(xp.swapaxes(z[:, : max(wide)], 1, 2), mode="r") if wide else None
    cross, done, r_tall, done_r = None, 0, None, 0
    for m in sorted(set(sizes)):
        sub_rows = None if rows is None else rows[:, :m]
        t = None
        if m <= p:
            r = r_wide[:, :m, :m]
        else:  # m > p: append rows m' .. m-1 to the previous R factor
            r = xp.linalg.qr(z[:, :m], mode="r") if r_tall is None else _append_rows(r_tall, z[:, done_r:m], xp)
            r_tall, done_r = r, m
            if rows is not None:  # accumulate z_m^T S_m
                piece = xp.swapaxes(z[:, done:m], 1, 2) @ rows[:, done:m]
                cross = piece if cross is None else cross + piece
                done, t = m, cross
        bm, vm = _risk_at(z[:, :m], b, rows=sub_rows, cross=t, spectrum=spectrum, r=r, xp=xp)
        for k, size in enumerate(sizes):
            if size == m:
                bias[:, k] = bm
                var[:, k] = vm
    return bias, var


def full_sample_path(x, g, feats, weights=None, xp=np):
    """Exact bias and variance of the full-sample ridgeless fit on the first ``p`` columns, for every ``p``.

    Nested features: ``X_p = x[:, :, :p]`` and ``b_p = g[:, :p] / sqrt(p)``.  For ``p > n`` the
    R factor of ``X_p^T`` is updated from the previous ``p``'s by appending the new rows
    (:func:`_append_rows`); ``p <= n`` uses :func:`_risk_at` directly.  Same numbers as
    :func:`exact_risk` (fallback without the rank certificate).

    Parameters
    ----------
    x : array, shape (R, n, P)
        Isotropic designs.
    g : array, shape (R, P)
        Standard normals (the coefficient direction before scaling).
    feats : sequence of int, length K
        Feature counts in ``[1, P]``.
    weights : array, shape (P,), optional
        A nesting spectrum (``Sigma`` for ``p`` features is ``diag(weights[:p])``, e.g.
        :func:`interleaved_spectrum`): columns are scaled by ``sqrt(weights)``, and for ``p > n``
        ``X_p D_p X_p^T`` is accumulated over the columns as well.

    Returns
    -------
    bias, variance : array, shape (R, K)
        For ``alpha = 1`` and ``sigma = 1``.
    """
    r_, n, big_p = x.shape
    feats = [int(v) for v in feats]
    bias = xp.empty((r_, len(feats)))
    var = xp.empty((r_, len(feats)))
    if weights is not None:
        weights = xp.asarray(weights)
        x = x * xp.sqrt(weights)
    r, done, zdz, done_w = None, 0, None, 0
    for q in sorted(set(feats)):
        z, b = x[:, :, :q], g[:, :q] / math.sqrt(q)
        spec = None if weights is None else weights[:q]
        if q <= n:
            bq, vq = _risk_at(z, b, spectrum=spec, xp=xp)
        else:
            if r is None:
                r = xp.linalg.qr(xp.swapaxes(z, 1, 2), mode="r")
            else:
                r = _append_rows(r, xp.swapaxes(x[:, :, done:q], 1, 2), xp)
            done = q
            if weights is not None:  # z D z^T, accumulated over the columns
                piece = (x[:, :, done_w:q] * weights[done_w:q]) @ xp.swapaxes(x[:, :, done_w:q], 1, 2)
                zdz = piece if zdz is None else zdz + piece
                done_w = q
            bq, vq = _risk_at(z, b, r=r, spectrum=spec, zdz=zdz, xp=xp)
        for k, size in enumerate(feats):
            if size == q:
                bias[:, k] = bq
                var[:, k] = vq
    return bias, var


def simulate_path(states, *, n, points, sigma, sketch, spectrum=None, backend=DEFAULT_BACKEND):
    """Exact risks at many ``(m, p)`` points per replication, all from the same draws.

    Per replication the stream is consumed as: ``n x P`` standard normals (``P`` the largest
    ``p``; C order), ``P`` standard normals ``g``, then one sketch of the largest size ``M``
    (:func:`~simkit.regression.sketches.draw_sketch`; none for ``sketch="none"``, nor when every
    point is an unsketched ``m = n`` point of an orthogonal sketch).  Point
    ``(m, p)`` uses the design ``X_p`` = the first ``p`` columns scaled by ``sqrt(spectrum(p))``,
    the direction ``b_p = g[:p] / sqrt(p)`` (so ``E ||b_p||^2 = 1`` and ``beta = alpha b_p`` has
    ``E beta beta^T = alpha^2/p I``; the bias scales as ``alpha^2``, the variance does not depend on
    ``alpha``) and the first ``m`` rows of the sketch.  With an orthogonal sketch and ``m = n``
    the sketch is skipped: ``S`` is then orthogonal and the risk equals the full-sample risk.
    Full-sample points go through :func:`full_sample_path` (nested columns) when the spectra nest
    (``spectrum(p)`` is the start of ``spectrum(P)``: the identity, :func:`interleaved_spectrum`),
    the others through :func:`sketched_risk_path` (nested rows), one ``p`` at a time.
    A CountSketch does not nest (:mod:`~simkit.regression.sketches`): instead of one sketch of size
    ``M``, one CountSketch per distinct sketched size ``m`` is drawn (sizes in increasing order,
    after ``g``), and its points use :func:`exact_risk` (SVD, with ``S S^T`` the bucket counts).
    The design and direction are still shared by all points.  For one ``p`` and ``spectrum=None``
    the design and coefficient draws are those of :func:`simulate_sketched` (``X``, then
    ``beta / alpha``).

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication streams (not modified).
    n : int
        Samples.
    points : sequence of (int, int), length K
        ``(m, p)`` pairs with ``1 <= m <= n`` (``m = n`` for ``sketch="none"``) and ``p >= 1``.
    sigma : float
        Noise standard deviation.
    sketch : {"haar", "srht", "gaussian", "countsketch", "none"}
    spectrum : callable, optional
        ``spectrum(p)`` gives the diagonal of ``Sigma`` (shape ``(p,)``) for ``p`` features; default identity.
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    dict of numpy.ndarray, each shape (R, K)
        ``bias`` for ``alpha = 1`` (multiply by ``alpha^2``) and ``variance``, in response^2.
    """
    states = check_states(states)
    backend = check_backend(backend)
    n = check_int("n", n, low=1)
    check_real("sigma", sigma, low=0)
    check_choice("sketch", sketch, SKETCH_NAMES + ("none",))
    points = [(check_int("m", m, low=1), check_int("p", q, low=1)) for m, q in points]
    if not points:
        raise ParameterError("points must not be empty")
    for m, _ in points:
        if m > n:
            raise ParameterError(f"sketch size m must be in [1, n] = [1, {n}], got {m}")
        if sketch == "none" and m != n:
            raise ParameterError(f"sketch 'none' (full sample) needs m = n = {n}, got m = {m}")
    xp = get_xp(backend)
    big_p = max(q for _, q in points)
    big_m = max(m for m, _ in points)
    orthogonal = sketch in ("haar", "srht")
    nested = sketch in NESTED
    sketched = [pt for pt in points if sketch != "none" and not (orthogonal and pt[0] == n)]
    sizes_unnested = [] if nested or sketch == "none" else sorted({m for m, _ in sketched})
    spectra = {
        q: None if spectrum is None else check_array("spectrum", spectrum(q), shape=(q,), low=0.0)
        for q in {q for _, q in points}
    }
    top = None if spectrum is None else check_array("spectrum", spectrum(big_p), shape=(big_p,), low=0.0)
    nests = spectrum is None or all(np.array_equal(spec, top[: spec.size]) for spec in spectra.values())
    reps = states.shape[0]
    per_rep = 8 * (
        2 * n * big_p
        + (n * big_m if sketch == "gaussian" else 0)
        + n * n
        + sum(m * (big_p + m) for m in sizes_unnested)
    )
    batch = max(1, min(reps, MAX_BATCH_BYTES // per_rep))
    bias = np.empty((reps, len(points)))
    var = np.empty((reps, len(points)))
    groups = {}
    for k, (m, q) in enumerate(points):
        groups.setdefault((q, (m, q) in sketched), []).append((k, m))

    def work(lo, hi):
        xs, gs, sks = [], [], []
        per_size = {m: [] for m in sizes_unnested}
        for r in range(lo, hi):
            stream = Stream(states[r].copy())
            xs.append(draw_design(stream, n, big_p))
            gs.append(stream.normal((big_p,)))
            if sketched and nested:
                sks.append(draw_sketch(sketch, big_m, n, stream))
            for m in sizes_unnested:
                per_size[m].append(draw_sketch(sketch, m, n, stream))
        x = xp.asarray(np.stack(xs))
        g = xp.asarray(np.stack(gs))
        sx = apply_sketches(sks, x, backend) if sketched and nested else None
        if per_size:  # non-nesting sketch: S_m X and S_m S_m^T for each size
            sx_m = {m: apply_sketches(v, x, backend) for m, v in per_size.items()}
            gram_m = {m: sketch_gram(v, backend) for m, v in per_size.items()}
        rows = None
        if sketched and sketch == "gaussian":
            rows = xp.asarray(np.stack([s.matrix for s in sks]))
        plain = [(q, members) for (q, use_sketch), members in groups.items() if not use_sketch and nests]
        if plain:  # full-sample points on nested columns
            bk, vk = full_sample_path(x, g, [q for q, _ in plain], weights=top, xp=xp)
            for j, (_, members) in enumerate(plain):
                for k, _ in members:
                    bias[lo:hi, k] = to_numpy(bk[:, j])
                    var[lo:hi, k] = to_numpy(vk[:, j])
        for (q, use_sketch), members in groups.items():
            spec = spectra[q]
            if not use_sketch and nests:
                continue
            scale = 1.0 if spec is None else xp.sqrt(xp.asarray(spec))
            b = g[:, :q] / math.sqrt(q)
            if use_sketch and not nested:
                for k, m in members:
                    bk, vk = exact_risk(sx_m[m][:, :, :q] * scale, b, 1.0, gram=gram_m[m], spectrum=spec, xp=xp)
                    bias[lo:hi, k] = to_numpy(bk)
                    var[lo:hi, k] = to_numpy(vk)
                continue
            z = (sx if use_sketch else x)[:, :, :q] * scale
            sizes = [m for _, m in members]
            bk, vk = sketched_risk_path(z, b, sizes, rows=rows if use_sketch else None, spectrum=spec, xp=xp)
            for j, (k, _) in enumerate(members):
                bias[lo:hi, k] = to_numpy(bk[:, j])
                var[lo:hi, k] = to_numpy(vk[:, j])

    over_replications(reps, batch, backend, work)
    return {"bias": bias, "variance": sigma**2 * var}


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


def simulate_sketched(states, *, n, p, m, alpha, sigma, sketch, spectrum=None, ridge=0.0, backend=DEFAULT_BACKEND):
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
    sketch : {"haar", "srht", "gaussian", "countsketch", "none"}
    spectrum : array_like, shape (p,), optional
        Feature covariance eigenvalues (default identity).
    ridge : float
        Ridge penalty ``lambda >= 0`` (0: ridgeless).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    dict of numpy.ndarray, each shape (R,)
        ``bias``, ``variance``, ``risk = bias + variance``.
    """
    states = check_states(states)
    backend = check_backend(backend)
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


def simulate_validated(
    states, *, n, p, alpha, sigma, n_val, candidates, oracle_m, sketch="srht", backend=DEFAULT_BACKEND
):
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
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    dict
        ``risk``: shape (R, 3), realised ``||beta_hat - beta||^2`` (isotropic ``Sigma``) of the
        validated, oracle and full-sample fits, in that order; ``m_hat``: shape (R,).
    """
    states = check_states(states)
    backend = check_backend(backend)
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
