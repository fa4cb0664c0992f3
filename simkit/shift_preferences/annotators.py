"""Simulation of ``preference-annotators``: Bradley–Terry fits to simulated annotators.

A replication draws, for each comparison budget ``n``, the win counts of ``n`` comparisons by
the fast path (exact in distribution): pair-and-group cell counts
``N ~ Multinomial(n, uniform over G·M cells)`` then ``W_ij ~ Binomial(N_ij, P_ij)``,
``W_ji = N_ij − W_ij``.  The learner is the ridge-MAP Bradley–Terry fit (λ = 0.1) by Newton;
``mixture-ids`` fits one model per group and averages their densities with the known weights ½.

Randomness: replication ``r`` uses only ``states[r]``; its counts come from
``numpy.random.default_rng([states[r, 0], states[r, 1]])``, drawing every ``n`` of the cell in
one multinomial call and then one binomial call (so a replication's numbers do not depend on
the number of replications, or on the chunking).  Draws are made on the host.

Backends: ``numpy`` runs the batched NumPy Newton (:func:`fit_bt_batched`, the reference);
``numba`` the compiled kernel ``simkit.kernels.preference_bt`` (a ``prange`` over fits);
``cuda`` the same kernel body on a CUDA grid (one thread per fit), with the KL computations in
array code (``xp``).  The three agree to rounding.
"""

from __future__ import annotations

import numpy as np

from ..backends import get_xp, to_numpy
from ..errors import ConvergenceError, ParameterError
from ..validation import check_int
from .annotators_theory import ANNOTATORS, RIDGE, annotator_theory, win_probabilities

__all__ = [
    "NEWTON_TOL",
    "NEWTON_MAX_ITER",
    "STEP_CAP",
    "pair_index",
    "draw_win_counts",
    "fit_bt_batched",
    "fit_bt",
    "mle_exists",
    "bt_objective",
    "simulate_annotators",
]

#: Newton stops when the step's sup-norm is below this.
NEWTON_TOL = 1e-10
#: Newton raises :class:`~simkit.errors.ConvergenceError` after this many steps.
NEWTON_MAX_ITER = 200
#: Largest sup-norm of a Newton step.
STEP_CAP = 5.0
#: Upper bound on the doubles of one block of count arrays (R_block · len(n) · G · K²).
BLOCK_DOUBLES = 2**22
#: Largest comparison budget.
N_MAX = 10**9


def pair_index(K):
    """The pairs ``i < j`` in row-major order: two int arrays of length ``M = K(K−1)/2``."""
    i, j = np.triu_indices(K, 1)
    return i, j


def _rng(state):
    return np.random.default_rng([int(state[0]), int(state[1])])


def draw_win_counts(states, K, annotator, n):
    """Win counts of every replication and comparison budget, by the fast path.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        The replications' generator states (not modified).
    K : int
        Number of items.
    annotator : str
        One of :data:`~simkit.shift_preferences.annotators_theory.ANNOTATORS`.
    n : sequence of int
        Comparison budgets (each a separate, independent data set).

    Returns
    -------
    numpy.ndarray of float64, shape (R, len(n), G, K, K)
        ``W[r, a, g, i, j]``: wins of item ``i`` over ``j`` by group ``g`` (``G = 2`` for the
        mixtures, else 1).
    """
    probs = win_probabilities(K, annotator)
    g_count = probs.shape[0]
    i, j = pair_index(K)
    p_cells = probs[:, i, j].ravel()  # (G·M,), group-major
    cells = p_cells.size
    uniform = np.full(cells, 1.0 / cells)
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros((states.shape[0], n.size, g_count, K, K))
    for r, state in enumerate(states):
        rng = _rng(state)
        counts = rng.multinomial(n, uniform)  # (len(n), G·M)
        wins = rng.binomial(counts, p_cells)
        counts = counts.reshape(n.size, g_count, -1)
        wins = wins.reshape(n.size, g_count, -1)
        out[r, :, :, i, j] = wins.transpose(2, 0, 1)
        out[r, :, :, j, i] = (counts - wins).transpose(2, 0, 1)
    return out


def bt_objective(theta, w, lam=RIDGE):
    """The ridge-MAP Bradley–Terry objective ``−Σ W_ij log σ(θ_i−θ_j) + (λ/2)‖θ‖²``, shape ``(B,)``.

    ``theta`` (B, K), ``w`` (B, K, K); used by the tests (a generic optimiser's objective).
    """
    d = theta[:, :, None] - theta[:, None, :]
    return -(w * -np.logaddexp(0.0, -d)).sum(axis=(1, 2)) + 0.5 * lam * (theta**2).sum(axis=1)


def fit_bt_batched(w, lam=RIDGE, *, tol=NEWTON_TOL, max_iter=NEWTON_MAX_ITER, cap=STEP_CAP, xp=np):
    """Batched Newton for ridge-MAP Bradley–Terry fits (array code; the NumPy reference).

    Each fit runs until its own step is below ``tol`` and is then frozen, so a fit's result does
    not depend on the other fits in the batch.

    Parameters
    ----------
    w : array, shape (B, K, K)
        Win counts (float64).
    lam, tol, max_iter, cap : float, float, int, float
        Ridge, stopping tolerance, step limit, largest step sup-norm.
    xp : module
        ``numpy`` or ``cupy``.

    Returns
    -------
    theta : array, shape (B, K)
    iters : array of int64, shape (B,)
        Newton steps used (-1: not converged).
    """
    w = xp.asarray(w, dtype=xp.float64)
    b, k, _ = w.shape
    nn = w + xp.swapaxes(w, 1, 2)
    theta = xp.zeros((b, k))
    iters = xp.full(b, -1, dtype=xp.int64)
    active = xp.arange(b)
    eye = xp.eye(k)
    for it in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        d = th[:, :, None] - th[:, None, :]
        s = 0.5 * (1.0 + xp.tanh(0.5 * d))  # σ(d), no overflow
        grad = (nn[active] * s - w[active]).sum(axis=2) + lam * th
        h = nn[active] * s * (1.0 - s)
        hess = eye * (h.sum(axis=2) + lam)[:, :, None] - h
        step = xp.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        big = xp.abs(step).max(axis=1)
        scale = xp.minimum(1.0, cap / xp.maximum(big, 1e-300))
        theta[active] = th - scale[:, None] * step
        done = big < tol
        iters[active[done]] = it + 1
        active = active[~done]
    return theta, iters


def fit_bt(w, lam=RIDGE, *, backend="numpy", tol=NEWTON_TOL, max_iter=NEWTON_MAX_ITER, cap=STEP_CAP):
    """Ridge-MAP Bradley–Terry fits of a batch of count matrices on ``backend``.

    Parameters
    ----------
    w : numpy.ndarray, shape (B, K, K)
        Win counts.
    lam : float
        Ridge λ (> 0).
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    numpy.ndarray, shape (B, K)
        The fits ``θ̂`` (host arrays).

    Raises
    ------
    ConvergenceError
        If a fit needs more than ``max_iter`` Newton steps.
    """
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise ParameterError(f"w must have shape (B, K, K), got {w.shape}")
    if not lam > 0:
        raise ParameterError(f"lam must be > 0, got {lam}")
    if backend == "numpy":
        theta, iters = fit_bt_batched(w, lam, tol=tol, max_iter=max_iter, cap=cap)
    elif backend in ("numba", "cuda"):
        from ..kernels.preference_bt import bt_newton_cpu, bt_newton_cuda
        from ..launch import launch, per_item

        bsz, k = w.shape[:2]
        theta = np.zeros((bsz, k))
        iters = np.zeros(bsz, dtype=np.int64)
        args = (per_item(w), float(lam), float(tol), int(max_iter), float(cap))
        if backend == "numba":
            launch(bt_newton_cpu, backend, args=args, outputs=(theta, iters))
        else:
            launch(
                bt_newton_cuda, backend, args=args, scratch=((bsz, k, k), (bsz, k)), outputs=(theta, iters), size=bsz
            )
    else:
        raise ParameterError(f"backend must be one of numpy, numba, cuda; got {backend!r}")
    iters = to_numpy(iters)
    if np.any(iters < 0):
        raise ConvergenceError(
            f"Bradley-Terry Newton: {int(np.sum(iters < 0))} of {w.shape[0]} fits did not reach "
            f"tol={tol:g} in {max_iter} steps"
        )
    return to_numpy(theta)


def mle_exists(w, xp=np):
    """Whether the unpenalised BT maximum-likelihood fit exists: the "i beat j" digraph is strongly connected.

    Parameters
    ----------
    w : array, shape (B, K, K)
        Win counts.

    Returns
    -------
    array of bool, shape (B,)
    """
    w = xp.asarray(w)
    k = w.shape[-1]
    reach = ((w > 0) | xp.eye(k, dtype=bool)).astype(xp.float64)
    steps = 1
    while steps < k:
        reach = (reach @ reach > 0).astype(xp.float64)
        steps *= 2
    return xp.all(reach > 0, axis=(1, 2))


def simulate_annotators(states, *, K, annotator, n, backend="numpy", ridge=RIDGE):
    """Simulate one annotator for every comparison budget ``n``.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    K : int
        Number of items, ``3 ≤ K ≤ 50``.
    annotator : str
        One of :data:`ANNOTATORS`.
    n : sequence of int
        Strictly increasing comparison budgets in ``[1, 10⁹]``.
    backend : {"numpy", "numba", "cuda"}
    ridge : float
        The learner's ridge λ.

    Returns
    -------
    dict of numpy.ndarray
        ``kl_truth``, ``kl_projection`` (len(n), R) in nats: ``KL(p*‖p̂)`` and ``KL(p∞‖p̂)``;
        ``density`` (len(n), R, K): the learned ``p̂``; ``mle_exists`` (len(n), R) bool.
    """
    if annotator not in ANNOTATORS:
        raise ParameterError(f"annotator must be one of {', '.join(ANNOTATORS)}; got {annotator!r}")
    K = check_int("K", K, low=3, high=50)
    n = [check_int("n", v, low=1, high=N_MAX) for v in n]
    if not n or any(b <= a for a, b in zip(n, n[1:])):
        raise ParameterError("n must be a non-empty, strictly increasing list of integers in [1, 1e9]")
    states = np.asarray(states, dtype=np.uint64)
    reps = states.shape[0]
    th = annotator_theory(K, annotator, ridge)
    xp = get_xp(backend)
    log_p_star = xp.asarray(np.log(th.density_truth))
    log_p_inf = xp.asarray(np.log(th.density_limit))
    p_star = xp.asarray(th.density_truth)
    p_inf = xp.asarray(th.density_limit)
    g_count = 2 if annotator.startswith("mixture") else 1
    ids = annotator == "mixture-ids"
    block = max(1, BLOCK_DOUBLES // (len(n) * g_count * K * K))
    out = {
        "kl_truth": np.empty((len(n), reps)),
        "kl_projection": np.empty((len(n), reps)),
        "density": np.empty((len(n), reps, K)),
        "mle_exists": np.empty((len(n), reps), dtype=bool),
    }
    for start in range(0, reps, block):
        stop = min(reps, start + block)
        w = draw_win_counts(states[start:stop], K, annotator, n)  # (r, a, G, K, K)
        if not ids:
            w = w.sum(axis=2, keepdims=True)
        rb = stop - start
        flat = w.reshape(-1, K, K)
        theta = xp.asarray(fit_bt(flat, ridge, backend=backend).reshape(rb, len(n), w.shape[2], K))
        exists = mle_exists(xp.asarray(flat), xp=xp).reshape(rb, len(n), w.shape[2]).all(axis=2)
        log_q = theta - _logsumexp(theta, xp)  # log softmax per group
        if ids:
            log_p = _logsumexp(log_q + np.log(0.5), xp, axis=2)[..., 0, :]
        else:
            log_p = log_q[:, :, 0, :]
        kl_truth = (p_star * (log_p_star - log_p)).sum(axis=-1)
        kl_proj = (p_inf * (log_p_inf - log_p)).sum(axis=-1)
        out["kl_truth"][:, start:stop] = to_numpy(kl_truth).T
        out["kl_projection"][:, start:stop] = to_numpy(kl_proj).T
        out["density"][:, start:stop] = to_numpy(xp.exp(log_p)).transpose(1, 0, 2)
        out["mle_exists"][:, start:stop] = to_numpy(exists).T
    if not all(np.all(np.isfinite(v)) for k, v in out.items() if k != "mle_exists"):
        raise ConvergenceError("preference-annotators: non-finite KL or density")
    return out


def _logsumexp(a, xp, axis=-1):
    m = a.max(axis=axis, keepdims=True)
    return m + xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True))
