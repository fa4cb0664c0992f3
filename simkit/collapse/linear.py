"""Linear-regression chain (Gerstgrasser et al. 2024): the API and the NumPy reference.

See :mod:`simkit.kernels.collapse_linear` for the model and the draw order.
"""

from __future__ import annotations

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..kernels.collapse_linear import linear_chain_cpu, linear_chain_cuda
from ..launch import launch
from ..rng import Stream
from ..validation import check_int, check_real
from .inputs import check_mode, check_ols_size

__all__ = ["simulate_linear_chain", "linear_chain_reference"]


def simulate_linear_chain(
    states, *, d, T, sigma2, iterations, mode="replace", fresh_design=False, ridge=0.0, backend=DEFAULT_BACKEND
) -> np.ndarray:
    """Test error ``‖ŵₙ − w*‖²`` of the refitted linear model after each iteration.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        One generator state per replication (not modified).
    d : int
        Number of features (``≥ 1``).
    T : int
        Samples per iteration; ``T ≥ d + 2`` when ``ridge == 0`` (OLS).
    sigma2 : float
        Label-noise variance ``σ² ≥ 0`` (units of ``y²``).
    iterations : int
        Number of fits (``≥ 1``); iteration 1 is the fit on real labels.
    mode : {"replace", "accumulate"}
        Fit each iteration's data only, or all iterations' data stacked.
    fresh_design : bool
        Draw a new design ``X`` every iteration (default: one ``X`` reused, as in the paper).
    ridge : float
        Ridge strength ``λ ≥ 0``; the fit minimises ``‖y − Xw‖²/N + λ‖w‖²`` over the ``N`` fitted samples.
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    numpy.ndarray, shape (reps, iterations)
        Test error after iterations ``1..iterations`` (units of ``y²``; ``Σ = I``).
    """
    states = check_states(states)
    backend = check_backend(backend)
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    sigma2 = check_real("sigma2", sigma2, low=0)
    iterations = check_int("iterations", iterations, low=1)
    accumulate = check_mode(mode)
    ridge = check_real("ridge", ridge, low=0)
    fresh = 1 if bool(fresh_design) else 0
    if ridge == 0:
        check_ols_size(T, d)
    reps = states.shape[0]
    sigma = float(np.sqrt(sigma2))
    if backend == "numpy":
        return linear_chain_reference(
            states, d=d, T=T, sigma2=sigma2, iterations=iterations, mode=mode, fresh_design=bool(fresh), ridge=ridge
        )
    out = np.empty((reps, iterations))
    if backend == "numba":
        launch(linear_chain_cpu, backend, states=states, args=(d, T, sigma, ridge, accumulate, fresh), outputs=(out,))
    else:
        launch(
            linear_chain_cuda,
            backend,
            states=states,
            args=(sigma, ridge, accumulate, fresh),
            scratch=((reps, 4, d), (reps, T, d), (reps, T), (reps, 3, d, d)),
            outputs=(out,),
        )
    return out


def linear_chain_reference(states, *, d, T, sigma2, iterations, mode="replace", fresh_design=False, ridge=0.0):
    """The readable NumPy version of :func:`simulate_linear_chain` (same streams, same numbers).

    Accumulate fits the stacked data of all iterations so far by solving its normal equations.
    """
    sigma = np.sqrt(sigma2)
    out = np.empty((states.shape[0], iterations))
    for r in range(states.shape[0]):
        stream = Stream(states[r].copy())
        w_true = stream.normal((d,))
        X = None if fresh_design else stream.normal((T, d))
        w = w_true
        designs, labels = [], []
        for n in range(iterations):
            if fresh_design:
                X = stream.normal((T, d))
            y = X @ w + sigma * stream.normal((T,))
            if mode == "accumulate":
                designs.append(X)
                labels.append(y)
            else:
                designs, labels = [X], [y]
            Xs, ys = np.vstack(designs), np.concatenate(labels)
            A = Xs.T @ Xs + ridge * len(ys) * np.eye(d)
            try:
                np.linalg.cholesky(A)
            except np.linalg.LinAlgError:
                out[r, n:] = np.nan
                break
            w = np.linalg.solve(A, Xs.T @ ys)
            out[r, n] = np.sum((w - w_true) ** 2)
    return out
