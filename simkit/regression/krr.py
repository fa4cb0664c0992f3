"""Kernel ridge regression on [0, 1] with known-spectrum kernels, misspecified targets and exact L2 errors.

Kernels (``x, y`` in [0, 1]):

=====================  ==============================  ==================================================
name                   k(x, y)                         spectrum (uniform design)
=====================  ==============================  ==================================================
``brownian_bridge``    ``min(x, y) - x y``             ``lambda_i = (i pi)^-2``, ``e_i = sqrt2 sin(i pi x)``
``brownian_motion``    ``min(x, y)``                   ``((i - 1/2) pi)^-2``, ``sqrt2 sin((i - 1/2) pi x)``
``laplace``            ``exp(-|x - y|/l)``             decays like ``i^-2`` (Matern-1/2)
``matern32``           ``(1 + r) exp(-r)``, ``r = sqrt3 |x - y|/l``   like ``i^-4``
``rbf``                ``exp(-(x - y)^2/(2 l^2))``     faster than any power
=====================  ==============================  ==================================================

Target (Brownian-bridge basis, ``beta = 2``): ``f* = sum_i i^-(s beta + 1)/2 e_i`` for a source
smoothness ``s`` in (0, 2]; it lies in ``[H]^t`` for every ``t < s`` and is unbounded at 0 for
``s < 1/2``.  It is evaluated without truncation through :func:`~simkit.regression.theory.sine_series`.

Fits: ``f_hat = sum_j c_j k(., x_j)`` with ``c = (K + n lambda I)^-1 y``.  Three solvers (the
``solver`` of :func:`simulate_krr`: ``"markov"``, ``"tridiagonal"``, ``"eigen"``):

* :func:`krr_markov`: O(n) for the two Brownian kernels (compiled tridiagonal kernel,
  :mod:`simkit.kernels.regression_markov`);
* :func:`krr_eigen_path`: one eigendecomposition ``K = U diag(d) U^T`` serving a whole lambda path
  (any kernel);
* :func:`krr_tridiagonal_path`: the same path from one Householder tridiagonalisation
  ``K = Q T Q^T`` (no eigenvectors), an O(n) tridiagonal solve per lambda and two applications of
  ``Q`` (any kernel, CPU; about half the cost of the eigendecomposition).  It is the default path
  solver for general (non-Markov) kernels; it agrees with the eigendecomposition path to about
  ``1e-10`` and falls back to it for a lambda whose tridiagonal system is not positive definite.

Errors: for Brownian-bridge fits :func:`l2_error_bridge` is exact (``f_hat`` is piecewise linear
and ``<f_hat, f*> = sum_j c_j (T f*)(x_j)`` with the integral operator ``T``); for other kernels
:func:`l2_error_grid` uses the midpoint rule on a fine grid.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..backends import DEFAULT_BACKEND, check_backend, check_states, get_xp, to_numpy
from ..errors import ParameterError
from ..launch import launch, per_item
from ..rng import Stream
from ..validation import check_array, check_choice, check_int, check_real
from .theory import sine_series

__all__ = [
    "KERNELS",
    "MARKOV_KERNELS",
    "SOLVERS",
    "kernel_matrix",
    "target_exponent",
    "target_values",
    "target_smoothed",
    "target_norm2",
    "check_sorted_inputs",
    "krr_markov",
    "krr_dense",
    "krr_eigen_path",
    "krr_tridiagonal_path",
    "l2_error_bridge",
    "l2_error_grid",
    "draw_sample",
    "simulate_krr",
]

KERNELS = ("brownian_bridge", "brownian_motion", "laplace", "matern32", "rbf")
MARKOV_KERNELS = ("brownian_bridge", "brownian_motion")
#: Solvers of :func:`simulate_krr`: O(n) Markov (Markov kernels only) and the two lambda-path solvers.
SOLVERS = ("markov", "tridiagonal", "eigen")


def kernel_matrix(kernel, x, z, lengthscale=0.2, xp=np):
    """Kernel matrix ``k(x_i, z_j)``.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    x : array, shape (..., a)
    z : array, shape (..., b)
        Points in [0, 1].
    lengthscale : float
        ``l`` of the stationary kernels (> 0).

    Returns
    -------
    array, shape (..., a, b)
    """
    check_choice("kernel", kernel, KERNELS)
    lengthscale = check_real("lengthscale", lengthscale, low=0, low_inclusive=False)
    xa, za = x[..., :, None], z[..., None, :]
    if kernel == "brownian_bridge":
        return xp.minimum(xa, za) - xa * za
    if kernel == "brownian_motion":
        return xp.minimum(xa, za)
    r = xp.abs(xa - za) / lengthscale
    if kernel == "laplace":
        return xp.exp(-r)
    if kernel == "matern32":
        r = math.sqrt(3.0) * r
        return (1.0 + r) * xp.exp(-r)
    return xp.exp(-0.5 * r**2)


def _check_s(s):
    s = check_real("s", s)
    if not 0 < s <= 2:
        raise ParameterError(f"s must be in (0, 2], got {s:g}")
    return s


def target_exponent(s, beta=2.0):
    """Coefficient decay ``a = (s beta + 1)/2`` of the target ``f* = sum i^-a e_i``."""
    return (_check_s(s) * check_real("beta", beta, low=0, low_inclusive=False) + 1.0) / 2.0


def target_values(x, s):
    """The target ``f*(x) = sqrt2 sum_i i^-(2s+1)/2 sin(i pi x)`` (Brownian-bridge basis, beta = 2).

    Parameters
    ----------
    x : array_like
        Points in (0, 1); ``f*(0) = f*(1) = 0`` is returned at the end points.
    s : float
        Source smoothness in (0, 2].

    Returns
    -------
    numpy.ndarray, shape of ``x``
    """
    return _bridge_series(x, target_exponent(s))


def target_smoothed(x, s):
    """``(T f*)(x) = integral k(x, t) f*(t) dt = sqrt2 pi^-2 sum_i i^-(a+2) sin(i pi x)`` for the bridge kernel."""
    return _bridge_series(x, target_exponent(s) + 2.0) / math.pi**2


def target_norm2(s):
    """``||f*||^2_{L2[0,1]} = zeta(2s + 1)`` (beta = 2)."""
    return float(special.zeta(2.0 * target_exponent(s)))


def _bridge_series(x, a):
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    inside = (x > 0) & (x < 1)
    theta = math.pi * x[inside]
    out[inside] = math.sqrt(2.0) * sine_series(a, theta)
    return out


def check_sorted_inputs(x):
    """Validate inputs for the O(n) solver: shape (R, n), strictly increasing rows inside (0, 1)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ParameterError(f"x must have shape (R, n) with n >= 1, got {x.shape}")
    if np.any(x <= 0) or np.any(x >= 1):
        raise ParameterError("x must lie strictly inside (0, 1)")
    if np.any(np.diff(x, axis=1) <= 0):
        raise ParameterError("x must be strictly increasing along each row (sorted, no ties)")
    return x


def _check_lam(lam):
    lam = np.asarray(lam, dtype=float)
    if lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ParameterError("lambda must be >= 0 (finite)")
    return lam


def krr_markov(x, y, lam, kernel="brownian_bridge", backend=DEFAULT_BACKEND):
    """KRR coefficients ``c = (K + n lambda I)^-1 y`` in O(n) for the Brownian kernels.

    Parameters
    ----------
    x : array_like, shape (R, n)
        Sorted, distinct inputs in (0, 1), one problem per row.
    y : array_like, shape (R, n)
        Responses.
    lam : float or array_like, shape (R,)
        Regularisation ``lambda >= 0`` per problem.
    kernel : {"brownian_bridge", "brownian_motion"}
    backend : {"numba", "numpy", "cuda", "auto"}
        ``numpy`` and ``numba`` run the compiled CPU kernel (there is no separate NumPy version of
        a sequential recursion; :func:`krr_dense` is the reference), ``cuda`` one GPU thread per row.

    Returns
    -------
    c, fitted : numpy.ndarray, shape (R, n)
        Coefficients and fitted values ``K c = y - n lambda c`` at the inputs.
    """
    from ..kernels.regression_markov import markov_krr_cpu, markov_krr_cuda

    backend = check_backend(backend)
    check_choice("kernel", kernel, MARKOV_KERNELS)
    x = check_sorted_inputs(x)
    y = check_array("y", y, shape=x.shape)
    reps, n = x.shape
    mu = n * np.broadcast_to(_check_lam(lam), (reps,)).astype(float)
    bridge = 1 if kernel == "brownian_bridge" else 0
    c = np.zeros_like(x)
    args = (per_item(x), per_item(y), per_item(mu), bridge)
    if backend == "cuda":
        launch(markov_krr_cuda, backend, args=args, scratch=((reps, n), (reps, n)), outputs=(c,), size=reps)
    else:
        launch(markov_krr_cpu, "numba", args=args, outputs=(c,))
    return c, y - mu[:, None] * c


def krr_dense(x, y, lam, kernel="brownian_bridge", lengthscale=0.2):
    """Reference dense solve ``c = (K + n lambda I)^-1 y`` (LU, O(n^3)), one problem; shapes ``(n,)``."""
    x = np.asarray(x, float)
    k = kernel_matrix(kernel, x, x, lengthscale)
    a = k + x.size * float(_check_lam(lam)) * np.eye(x.size)
    return np.linalg.solve(a, np.asarray(y, float))


def krr_eigen_path(k, y, lams, xp=np):
    """KRR coefficients and fitted values for a whole lambda path from one eigendecomposition.

    ``K = U diag(d) U^T``; ``c_lambda = U diag(1/(d + n lambda)) U^T y`` and
    ``K c_lambda = U diag(d/(d + n lambda)) U^T y``.  Eigenvalues below 0 (rounding of a
    positive semi-definite matrix) are set to 0.

    Parameters
    ----------
    k : array, shape (n, n)
        Kernel matrix.
    y : array, shape (n,)
    lams : array_like, shape (L,)
        Regularisation values (>= 0; 0 needs a non-singular ``K``).

    Returns
    -------
    c, fitted : array, shape (L, n)
    """
    lams = _check_lam(lams).ravel()
    n = k.shape[0]
    d, u = xp.linalg.eigh(k)
    d = xp.maximum(d, 0.0)
    uy = u.T @ y
    denom = d[None, :] + n * xp.asarray(lams)[:, None]
    c = (uy[None, :] / denom) @ u.T
    fitted = (uy[None, :] * d[None, :] / denom) @ u.T
    return c, fitted


def krr_tridiagonal_path(k, y, lams):
    """KRR coefficients and fitted values for a whole lambda path from one tridiagonalisation.

    ``K = Q T Q^T`` by Householder reflections (LAPACK ``dsytrd``; ``Q`` is never formed, its
    reflectors are applied with ``dormqr``).  Per lambda, ``(T + n lambda I) w = Q^T y`` is a
    symmetric positive definite tridiagonal system solved in O(n) (``dptsv``, an ``L D L^T``
    factorisation); then ``c = Q w`` and the fitted values ``K c = Q T w``.  Cost: ``4/3 n^3`` for
    the reduction (an eigendecomposition adds the eigenvectors on top of the same reduction) plus
    ``O(n^2)`` per lambda.  Every step is backward stable.  A lambda whose tridiagonal system is not
    numerically positive definite (only possible for ``lambda = 0`` or a singular ``K``) is computed
    by :func:`krr_eigen_path` instead.

    Parameters
    ----------
    k : numpy.ndarray, shape (n, n)
        Symmetric positive semi-definite kernel matrix (NumPy; float64).
    y : numpy.ndarray, shape (n,)
    lams : array_like, shape (L,)
        Regularisation values (>= 0).

    Returns
    -------
    c, fitted : numpy.ndarray, shape (L, n)
    """
    from scipy.linalg import lapack

    lams = np.asarray(_check_lam(lams), float).ravel()
    k = np.asarray(k, dtype=float)
    y = np.asarray(y, dtype=float)
    n = k.shape[0]
    if n == 1:
        return krr_eigen_path(k, y, lams)
    lwork = int(lapack.dsytrd_lwork(n, lower=1)[0])
    a, d, e, tau, info = lapack.dsytrd(k, lower=1, lwork=lwork)
    if info != 0:
        raise RuntimeError(f"dsytrd failed (info={info})")
    # Q = H(1) ... H(n-1) acts on rows 1..n-1 like the Q of a QR factorisation stored in a[1:, :n-1]
    refl = np.asfortranarray(a[1:, : n - 1])

    def apply_q(c, trans):
        out = np.array(c, dtype=float, order="F", copy=True)
        lw = max(1, out.shape[1]) * 64
        out[1:], _, info = lapack.dormqr("L", trans, refl, tau, out[1:], lw)
        if info != 0:
            raise RuntimeError(f"dormqr failed (info={info})")
        return out

    qty = apply_q(y[:, None], "T")[:, 0]
    w = np.empty((n, lams.size))
    tw = np.empty((n, lams.size))
    failed = []
    for j, lam in enumerate(lams):
        _, _, sol, info = lapack.dptsv(d + n * lam, e, qty[:, None])
        if info != 0:
            failed.append(j)
            sol = np.zeros((n, 1))
        w[:, j] = sol[:, 0]
        tw[:, j] = d * w[:, j]
        tw[1:, j] += e * w[:-1, j]
        tw[:-1, j] += e * w[1:, j]
    both = apply_q(np.hstack([w, tw]), "N")
    c, fitted = both[:, : lams.size].T.copy(), both[:, lams.size :].T.copy()
    if failed:
        c[failed], fitted[failed] = krr_eigen_path(k, y, lams[failed])
    return c, fitted


def l2_error_bridge(x, c, fitted, s, *, smoothed=None):
    """Exact ``||f_hat - f*||^2_{L2[0,1]}`` for Brownian-bridge KRR fits.

    ``f_hat`` is piecewise linear through ``(0, 0), (x_j, fitted_j), (1, 0)``, so ``||f_hat||^2`` is
    a sum over segments; ``<f_hat, f*> = sum_j c_j (T f*)(x_j)`` (:func:`target_smoothed`) and
    ``||f*||^2 = zeta(2s + 1)``.

    Parameters
    ----------
    x, c, fitted : array_like, shape (..., n)
        Sorted inputs, coefficients and fitted values.
    s : float
    smoothed : array_like, shape (..., n), optional
        ``(T f*)(x)`` if already computed (it does not depend on lambda).

    Returns
    -------
    numpy.ndarray, shape (...)
    """
    x, c, fitted = (np.asarray(v, float) for v in (x, c, fitted))
    zeros = np.zeros(x.shape[:-1] + (1,))
    knots = np.concatenate([zeros, x, zeros + 1.0], axis=-1)
    vals = np.concatenate([zeros, fitted, zeros], axis=-1)
    h = np.diff(knots, axis=-1)
    va, vb = vals[..., :-1], vals[..., 1:]
    norm2 = np.sum(h * (va * va + va * vb + vb * vb), axis=-1) / 3.0
    smoothed = target_smoothed(x, s) if smoothed is None else smoothed
    cross = np.sum(c * smoothed, axis=-1)
    return np.maximum(norm2 - 2.0 * cross + target_norm2(s), 0.0)


def l2_error_grid(kernel, x, c, s, *, points=4096, lengthscale=0.2):
    """Midpoint-rule ``||f_hat - f*||^2`` on ``points`` cells of [0, 1] for any kernel; one problem, ``x, c`` shape ``(n,)``."""
    points = check_int("points", points, low=2)
    grid = (np.arange(points) + 0.5) / points
    pred = kernel_matrix(kernel, grid, np.asarray(x, float), lengthscale) @ np.asarray(c, float)
    return float(np.mean((pred - target_values(grid, s)) ** 2))


def draw_sample(stream, n, s, sigma):
    """One sample: ``n`` uniforms (inputs, then sorted) and ``n`` normals (noise), in that order.

    Returns
    -------
    x, y : numpy.ndarray, shape (n,)
        Sorted inputs in (0, 1) and ``y = f*(x) + sigma * noise``.
    """
    x = np.sort(stream.uniform(n))
    noise = stream.normal((n,))
    return x, target_values(x, s) + sigma * noise


def simulate_krr(states, *, n, s, lams, sigma, kernel="brownian_bridge", solver="markov", backend=DEFAULT_BACKEND):
    """L2 error of Brownian-bridge KRR for each replication and each lambda.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication streams (not modified); each draws one sample with :func:`draw_sample`.
    n : int
        Sample size.
    s : float
        Source smoothness in (0, 2].
    lams : array_like, shape (L,)
        Regularisation values (>= 0).
    sigma : float
        Noise standard deviation (>= 0).
    kernel : {"brownian_bridge"}
        The kernel whose spectrum defines the target (the exact error needs it).
    solver : {"markov", "tridiagonal", "eigen"}
        ``markov``: the O(n) Markov-kernel solver, one solve per lambda (:func:`krr_markov`);
        ``tridiagonal``: one Householder tridiagonalisation per sample serving the whole lambda path
        (:func:`krr_tridiagonal_path`; any kernel, the general-kernel default; LAPACK on the host
        CPU for every backend); ``eigen``: one eigendecomposition per sample (:func:`krr_eigen_path`;
        on the GPU for ``cuda``).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    numpy.ndarray, shape (R, L)
        ``||f_hat - f*||^2_{L2}``.

    Notes
    -----
    The O(n) solver needs distinct inputs; a tie among ``n`` uniform draws (probability about
    ``n^2 / 2^54``) raises :class:`~simkit.errors.ParameterError` rather than a wrong number.
    """
    states = check_states(states)
    backend = check_backend(backend)
    n = check_int("n", n, low=1)
    _check_s(s)
    sigma = check_real("sigma", sigma, low=0)
    lams = _check_lam(lams).ravel()
    check_choice("kernel", kernel, ("brownian_bridge",))
    check_choice("solver", solver, SOLVERS)
    reps = states.shape[0]
    xs, ys = np.empty((reps, n)), np.empty((reps, n))
    for r in range(reps):
        xs[r], ys[r] = draw_sample(Stream(states[r].copy()), n, s, sigma)
    err = np.empty((reps, lams.size))
    smoothed = target_smoothed(xs, s)
    if solver == "markov":
        for j, lam in enumerate(lams):
            c, fitted = krr_markov(xs, ys, lam, kernel, backend)
            err[:, j] = l2_error_bridge(xs, c, fitted, s, smoothed=smoothed)
        return err
    if solver == "tridiagonal":
        for r in range(reps):
            c, fitted = krr_tridiagonal_path(kernel_matrix(kernel, xs[r], xs[r]), ys[r], lams)
            err[r] = l2_error_bridge(np.broadcast_to(xs[r], c.shape), c, fitted, s, smoothed=smoothed[r])
        return err
    xp = get_xp(backend)
    for r in range(reps):
        x = xp.asarray(xs[r])
        c, fitted = krr_eigen_path(kernel_matrix(kernel, x, x, xp=xp), xp.asarray(ys[r]), lams, xp=xp)
        c, fitted = to_numpy(c), to_numpy(fitted)
        err[r] = l2_error_bridge(np.broadcast_to(xs[r], c.shape), c, fitted, s, smoothed=smoothed[r])
    return err
