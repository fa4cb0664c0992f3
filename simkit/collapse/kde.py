"""Kernel-density-estimate loop: the API and the NumPy reference.

See :mod:`simkit.kernels.collapse_kde` for the model and the draw order.
"""

from __future__ import annotations

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..kernels.collapse_kde import kde_chain_cpu, kde_chain_cuda
from ..kernels.rng import randint
from ..launch import launch
from ..rng import Stream
from ..validation import check_int, check_real
from .inputs import check_mode

__all__ = ["simulate_kde_chain", "kde_chain_reference"]


def simulate_kde_chain(states, *, M, generations, h, mu0=0.0, sigma0_2=1.0, mode="replace", backend=DEFAULT_BACKEND):
    """Resample from a Gaussian KDE of the model's own data, generation after generation.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        One generator state per replication (not modified).
    M : int
        Points per generation (``≥ 2``).
    generations : int
        Number of resampled generations ``G`` (``≥ 0``).
    h : float
        Bandwidth (``≥ 0``, units of the data).
    mu0, sigma0_2 : float
        Mean and variance (``> 0``) of the real data.
    mode : {"replace", "accumulate"}
        Build each KDE on the previous generation only, or on all generations so far.
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    variance : numpy.ndarray, shape (reps, G + 1)
        Each generation's variance ``sₙ²`` (divisor ``M``; units²).
    pooled : numpy.ndarray, shape (reps, G + 1)
        Variance of the data the next KDE is built on (equal to ``variance`` for replace).
    """
    states = check_states(states)
    backend = check_backend(backend)
    M = check_int("M", M, low=2)
    generations = check_int("generations", generations, low=0)
    h = check_real("h", h, low=0)
    mu0 = check_real("mu0", mu0)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0, low_inclusive=False)
    accumulate = check_mode(mode)
    if backend == "numpy":
        return kde_chain_reference(states, M=M, generations=generations, h=h, mu0=mu0, sigma0_2=sigma0_2, mode=mode)
    reps = states.shape[0]
    sigma0 = float(np.sqrt(sigma0_2))
    variance = np.empty((reps, generations + 1))
    pooled = np.empty((reps, generations + 1))
    args = (M, mu0, sigma0, h, accumulate)
    if backend == "numba":
        launch(kde_chain_cpu, backend, states=states, args=args, outputs=(variance, pooled))
    else:
        capacity = (generations + 1) * M if accumulate else 2 * M
        launch(
            kde_chain_cuda, backend, states=states, args=args, scratch=((reps, capacity),), outputs=(variance, pooled)
        )
    return variance, pooled


def kde_chain_reference(states, *, M, generations, h, mu0, sigma0_2, mode):
    """The readable NumPy version of :func:`simulate_kde_chain` (same streams, same numbers)."""
    reps = states.shape[0]
    variance = np.empty((reps, generations + 1))
    pooled = np.empty((reps, generations + 1))
    for r in range(reps):
        stream = Stream(states[r].copy())
        data = [mu0 + np.sqrt(sigma0_2) * stream.normal((M,))]
        for n in range(generations + 1):
            if n > 0:
                source = np.concatenate(data) if mode == "accumulate" else data[-1]
                new = np.empty(M)
                for i in range(M):
                    j = stream.scalar(randint, source.size)
                    new[i] = source[j] + h * stream.normal()
                data = data + [new] if mode == "accumulate" else [new]
            variance[r, n] = np.var(data[-1])
            pooled[r, n] = np.var(np.concatenate(data))
    return variance, pooled
