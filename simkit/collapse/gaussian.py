"""Gaussian refit chain (Shumailov et al. 2024): the API and the NumPy reference.

See :mod:`simkit.kernels.collapse_gaussian` for the model and the draw order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..errors import ParameterError
from ..kernels.collapse_gaussian import gaussian_chain_cpu, gaussian_chain_cuda
from ..launch import launch
from ..rng import Stream
from ..validation import check_array, check_int, check_real
from .inputs import check_fit, check_mode

__all__ = ["GaussianChain", "simulate_gaussian_chain", "gaussian_chain_reference", "log_generations"]


@dataclasses.dataclass(frozen=True)
class GaussianChain:
    """Fitted Gaussians at the recorded generations.

    Attributes
    ----------
    generations : numpy.ndarray of int, shape (R,)
        The recorded generations (0 is the truth, 1 the fit on real data).
    mean : numpy.ndarray, shape (reps, R, d)
        Fitted means ``μₙ``.
    logdet : numpy.ndarray, shape (reps, R)
        ``log det Σₙ`` (natural log of units²ᵈ).
    trace : numpy.ndarray, shape (reps, R)
        ``tr Σₙ``; for ``d = 1`` this is the fitted variance ``σₙ²``.
    """

    generations: np.ndarray
    mean: np.ndarray
    logdet: np.ndarray
    trace: np.ndarray


def log_generations(last: int, count: int = 40) -> np.ndarray:
    """About ``count`` distinct generations from 0 to ``last``, log-spaced (0, 1, 2, …, ``last``).

    >>> log_generations(10, 40).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    """
    last = check_int("last", last, low=0)
    count = check_int("count", count, low=2)
    if last == 0:
        return np.array([0])
    points = np.unique(np.round(np.logspace(0, np.log10(last), count)).astype(int))
    return np.concatenate([[0], points[points >= 1]])


def _check(states, M, generations, d, mu0, sigma0_2, fit, mode, record):
    states = check_states(states)
    d = check_int("d", d, low=1)
    M = check_int("M", M, low=d + 1)
    generations = check_int("generations", generations, low=0)
    mu0 = check_real("mu0", mu0)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0, low_inclusive=False)
    ddof = check_fit(fit)
    accumulate = check_mode(mode)
    if record is None:
        record = np.arange(generations + 1)
    record = check_array("record", record, ndim=1)
    if (
        record.size == 0
        or np.any(record != np.round(record))
        or record.min() < 0
        or record.max() > generations
        or np.any(np.diff(record) <= 0)
    ):
        raise ParameterError(f"record must be increasing integer generations in [0, generations={generations}]")
    return states, M, generations, d, mu0, sigma0_2, ddof, accumulate, record.astype(np.int64)


def simulate_gaussian_chain(
    states,
    *,
    M,
    generations,
    d=1,
    mu0=0.0,
    sigma0_2=1.0,
    fit="unbiased",
    mode="replace",
    record=None,
    backend=DEFAULT_BACKEND,
) -> GaussianChain:
    """Refit a Gaussian to ``M`` of its own samples, generation after generation.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        One generator state per replication (not modified).
    M : int
        Samples per generation (``M ≥ d + 1``).
    generations : int
        Number of refits ``G``.
    d : int
        Dimension (the truth is ``N(μ₀·1, σ₀² I)``).
    mu0 : float
        Truth mean of every coordinate.
    sigma0_2 : float
        Truth variance of every coordinate (``> 0``).
    fit : {"unbiased", "mle"}
        Covariance divisor ``N − 1`` or ``N``.
    mode : {"replace", "accumulate"}
        Fit the new ``M`` samples only, or all samples so far pooled.
    record : array_like of int, optional
        Increasing generations in ``0..G`` to return (default: all).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    GaussianChain
    """
    states = check_states(states)
    backend = check_backend(backend)
    states, M, generations, d, mu0, sigma0_2, ddof, accumulate, record = _check(
        states, M, generations, d, mu0, sigma0_2, fit, mode, record
    )
    sigma0 = float(np.sqrt(sigma0_2))
    if backend == "numpy":
        return gaussian_chain_reference(
            states,
            M=M,
            generations=generations,
            d=d,
            mu0=mu0,
            sigma0_2=sigma0_2,
            ddof=ddof,
            accumulate=bool(accumulate),
            record=record,
        )
    reps = states.shape[0]
    mean = np.empty((reps, record.size, d))
    logdet = np.empty((reps, record.size))
    trace = np.empty((reps, record.size))
    outputs = (mean, logdet, trace)
    if backend == "numba":
        launch(
            gaussian_chain_cpu,
            backend,
            states=states,
            args=(d, M, mu0, sigma0, ddof, accumulate, generations, record),
            outputs=outputs,
        )
    else:
        launch(
            gaussian_chain_cuda,
            backend,
            states=states,
            args=(mu0, sigma0, ddof, accumulate, generations, record),
            scratch=((reps, M, d), (reps, 4, d), (reps, 5, d, d)),
            outputs=outputs,
        )
    return GaussianChain(record, mean, logdet, trace)


def gaussian_chain_reference(states, *, M, generations, d, mu0, sigma0_2, ddof, accumulate, record) -> GaussianChain:
    """The readable NumPy version of :func:`simulate_gaussian_chain` (same streams, same numbers)."""
    reps = states.shape[0]
    record = list(int(k) for k in record)
    mean = np.empty((reps, len(record), d))
    logdet = np.empty((reps, len(record)))
    trace = np.empty((reps, len(record)))
    for r in range(reps):
        stream = Stream(states[r].copy())
        mu = np.full(d, mu0)
        cov = sigma0_2 * np.eye(d)
        pooled_mean, pooled_scatter = None, None
        for n in range(generations + 1):
            if n > 0:
                factor = np.linalg.cholesky(cov)
                z = stream.normal((M, d))
                zbar = z.mean(axis=0)
                batch_mean = mu + factor @ zbar
                batch_scatter = factor @ ((z - zbar).T @ (z - zbar)) @ factor.T
                if not accumulate:
                    mu, cov = batch_mean, batch_scatter / (M - ddof)
                else:
                    if n == 1:
                        pooled_mean, pooled_scatter = batch_mean, batch_scatter
                    else:
                        old = (n - 1) * M
                        gap = batch_mean - pooled_mean
                        pooled_scatter = pooled_scatter + batch_scatter + (old * M / (old + M)) * np.outer(gap, gap)
                        pooled_mean = pooled_mean + gap * M / (old + M)
                    mu, cov = pooled_mean, pooled_scatter / (n * M - ddof)
            if n in record:
                i = record.index(n)
                mean[r, i] = mu
                logdet[r, i] = np.linalg.slogdet(cov)[1]
                trace[r, i] = np.trace(cov)
    return GaussianChain(np.asarray(record), mean, logdet, trace)
