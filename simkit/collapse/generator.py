"""Generator chain plus downstream ridge (Dohmatob et al. 2024): the API and the NumPy reference.

See :mod:`simkit.kernels.collapse_generator` for the model and the draw order.
"""

from __future__ import annotations

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..errors import ParameterError
from ..kernels.collapse_generator import generator_ridge_cpu, generator_ridge_cuda
from ..launch import launch
from ..rng import Stream
from ..validation import check_array, check_int, check_real
from .inputs import check_ols_size

__all__ = ["simulate_generator_ridge", "generator_ridge_reference"]


def _check(states, d, T0, T, w_norm, sigma0_2, sigma2, steps, record, lams):
    states = check_states(states)
    d = check_int("d", d, low=1)
    T0 = check_int("T0", T0, low=1)
    T = check_int("T", T, low=1)
    w_norm = check_real("w_norm", w_norm, low=0)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    sigma2 = check_real("sigma2", sigma2, low=0)
    steps = check_int("steps", steps, low=0)
    record = check_array("record", record, ndim=1, dtype=float)
    if record.size and (
        np.any(record != np.round(record)) or record.min() < 0 or record.max() > steps or np.any(np.diff(record) <= 0)
    ):
        raise ParameterError(f"record must be increasing integer generations in [0, steps={steps}]")
    record = record.astype(np.int64)
    lams = check_array("lams", lams, ndim=1, low=0)
    if T0 in (d - 1, d, d + 1):
        raise ParameterError(
            f"T0 must be at most d - 2 = {d - 2} (minimum-norm) or at least d + 2 = {d + 2} (OLS); got T0={T0}"
        )
    if record.size and lams.size and np.any(lams == 0):
        check_ols_size(T, d)
    return states, d, T0, T, w_norm, sigma0_2, sigma2, steps, record, lams


def simulate_generator_ridge(
    states, *, d, T0, T, w_norm=1.0, sigma0_2, sigma2, steps, record, lams, backend=DEFAULT_BACKEND
):
    """Run the generator chain and the downstream ridge for every replication.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        One generator state per replication (not modified).
    d : int
        Dimension.
    T0 : int
        Samples per generator step: ``T0 ≥ d + 2`` (OLS) or ``T0 ≤ d − 2`` (minimum-norm fits).
    T : int
        Downstream samples (``T ≥ d + 2`` when some ``λ = 0``).
    w_norm : float
        ``‖w₀‖`` (the truth's direction is uniform on the sphere).
    sigma0_2, sigma2 : float
        Generator and downstream label-noise variances (``≥ 0``, units of ``y²``).
    steps : int
        Number of generator steps ``K``.
    record : array_like of int, shape (R,)
        Increasing generations in ``0..K`` at which the downstream ridge is fitted.
    lams : array_like of float, shape (J,)
        Ridge strengths ``λ ≥ 0`` (the fit solves ``(XᵀX + TλI) w = XᵀY``).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    gen_err : numpy.ndarray, shape (reps, K + 1)
        ``‖ŵₖ − w₀‖²`` of the generator after ``k`` steps.
    test_err : numpy.ndarray, shape (reps, R, J)
        Downstream ridge test error ``‖ŵ − w₀‖²`` (``Σ = I``).
    """
    states = check_states(states)
    backend = check_backend(backend)
    states, d, T0, T, w_norm, sigma0_2, sigma2, steps, record, lams = _check(
        states, d, T0, T, w_norm, sigma0_2, sigma2, steps, record, lams
    )
    if backend == "numpy":
        return generator_ridge_reference(
            states,
            d=d,
            T0=T0,
            T=T,
            w_norm=w_norm,
            sigma0_2=sigma0_2,
            sigma2=sigma2,
            steps=steps,
            record=record,
            lams=lams,
        )
    reps = states.shape[0]
    sigma0, sigma = float(np.sqrt(sigma0_2)), float(np.sqrt(sigma2))
    gen_err = np.empty((reps, steps + 1))
    test_err = np.empty((reps, record.size, lams.size))
    if backend == "numba":
        launch(
            generator_ridge_cpu,
            backend,
            states=states,
            args=(d, T0, T, w_norm, sigma0, sigma, steps, record, lams),
            outputs=(gen_err, test_err),
        )
    else:
        p = min(T0, d)
        scratch = (
            (reps, 4, d),
            (reps, p),
            (reps, T0, d),
            (reps, T0),
            (reps, 2, p, p),
            (reps, T, d),
            (reps, T),
            (reps, 2, d, d),
        )
        launch(
            generator_ridge_cuda,
            backend,
            states=states,
            args=(w_norm, sigma0, sigma, steps, record, lams),
            scratch=scratch,
            outputs=(gen_err, test_err),
        )
    return gen_err, test_err


def generator_ridge_reference(states, *, d, T0, T, w_norm, sigma0_2, sigma2, steps, record, lams):
    """The readable NumPy version of :func:`simulate_generator_ridge` (same streams, same numbers).

    Generator fits use the pseudo-inverse solution (``lstsq``): OLS when ``T0 ≥ d``, minimum
    norm when ``T0 < d``.
    """
    reps = states.shape[0]
    record = [int(k) for k in record]
    gen_err = np.empty((reps, steps + 1))
    test_err = np.empty((reps, len(record), len(lams)))
    for r in range(reps):
        stream = Stream(states[r].copy())
        w0 = stream.normal((d,))
        w0 = w0 * (w_norm / np.linalg.norm(w0))
        w = w0
        for k in range(steps + 1):
            gen_err[r, k] = np.sum((w - w0) ** 2)
            if k in record:
                X = stream.normal((T, d))
                y = X @ w + np.sqrt(sigma2) * stream.normal((T,))
                for j, lam in enumerate(lams):
                    fit = np.linalg.solve(X.T @ X + T * lam * np.eye(d), X.T @ y)
                    test_err[r, record.index(k), j] = np.sum((fit - w0) ** 2)
            if k < steps:
                Xg = stream.normal((T0, d))
                yg = Xg @ w + np.sqrt(sigma0_2) * stream.normal((T0,))
                w = np.linalg.lstsq(Xg, yg, rcond=None)[0]
    return gen_err, test_err
