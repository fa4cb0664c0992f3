"""Simulation of ``preference-doubly-robust``: DM, IS and DR estimates and learned policies.

Every estimator is a mean of per-triple vectors ψ that depend on a triple only through its
outcome ``o = 12y + 2y' + L`` (72 outcomes), so the count of each outcome is a sufficient
statistic.  A replication draws the outcome counts of its logged stream at the nested prefixes
``n_1 < n_2 < …`` (multinomial increments ``Δn``; cumulative sums), then, for the 12 cells
(preference_model × propensity × estimator), from the same counts (common random numbers):

``Â = N_n Ψ / n``,  ``estimate = Â(n_max)·π*``,  ``log π̂ = log_softmax(log π_ref + Â/β)``,
``regret = max(0, β Σ π̂ (log π̂ − log π*))`` (the KL form of ``J(π*) − J(π̂)``: no cancellation).

Randomness: replication ``r`` uses only ``states[r]``: ``numpy.random.default_rng([s0, s1])``
draws its multinomial increments in one call (host).  Backends: the array code runs on
``numpy`` (``numpy`` and ``numba``: there is no per-replication loop to compile) or CuPy
(``cuda``), from the same counts.  :func:`per_triple_estimates` is the brute-force path (every
triple drawn and evaluated from the formulas, not the tables), for tests only.
"""

from __future__ import annotations

import numpy as np

from ..backends import get_xp, to_numpy
from ..errors import ConvergenceError, ParameterError
from ..validation import check_int
from .doubly_robust_theory import (
    ESTIMATORS,
    K_RESPONSES,
    PREFERENCE_MODELS,
    PROPENSITIES,
    dr_theory,
    log_propensity,
    outcomes,
    preference_matrix,
    reference_policy,
    true_preference,
)

__all__ = [
    "check_n_grid",
    "draw_outcome_counts",
    "estimates_from_counts",
    "simulate_doubly_robust",
    "per_triple_estimates",
]


def check_n_grid(n):
    """``n`` must be a non-empty, strictly increasing list of integers ≥ 1; returns a list of int."""
    try:
        values = [check_int("n", v, low=1) for v in n]
    except (ParameterError, TypeError):
        values = None
    if not values or any(b <= a for a, b in zip(values, values[1:])):
        raise ParameterError("n must be a strictly increasing list of integers ≥ 1")
    return values


def draw_outcome_counts(states, n):
    """Cumulative outcome counts of each replication's logged stream at the prefixes ``n``.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
    n : sequence of int
        Strictly increasing prefix lengths.

    Returns
    -------
    numpy.ndarray of int64, shape (R, len(n), 72)
        ``counts[r, i, o]``: occurrences of outcome ``o`` among the first ``n[i]`` triples.
    """
    n = np.asarray(check_n_grid(n), dtype=np.int64)
    _, _, _, prob = outcomes()
    prob = prob / prob.sum()
    steps = np.diff(n, prepend=0)
    out = np.empty((states.shape[0], n.size, prob.size), dtype=np.int64)
    for r, state in enumerate(states):
        rng = np.random.default_rng([int(state[0]), int(state[1])])
        out[r] = np.cumsum(rng.multinomial(steps, prob), axis=0)
    return out


def estimates_from_counts(counts, n, tau, beta, *, xp=np):
    """Estimates of ``V(π*)`` at the last prefix and the learners' regret at every prefix.

    Parameters
    ----------
    counts : array of int, shape (R, len(n), 72)
        Cumulative outcome counts.
    n : sequence of int
        The prefixes.
    tau, beta : float
    xp : module

    Returns
    -------
    estimate : array, shape (2, 2, 3, R)
        ``V̂(π*)`` at ``n_max`` per (preference_model, propensity, estimator), preference units.
    regret : array, shape (2, 2, 3, len(n), R)
        ``J(π*) − J(π̂) = β KL(π̂‖π*)``, preference units.
    """
    t = dr_theory(tau, beta)
    cells = t.psi.shape[0] * t.psi.shape[1] * t.psi.shape[2]
    outcomes_ = t.psi.shape[-2]
    psi = xp.asarray(t.psi.reshape(cells, outcomes_, K_RESPONSES).transpose(1, 0, 2).reshape(outcomes_, -1))
    nn = xp.asarray(np.asarray(n, dtype=float))
    counts = xp.asarray(counts, dtype=xp.float64)
    reps, points = counts.shape[:2]
    a_hat = (counts.reshape(-1, outcomes_) @ psi).reshape(reps, points, cells, K_RESPONSES)
    a_hat = a_hat.transpose(2, 1, 0, 3) / nn[None, :, None, None]  # (12, len(n), R, 6)
    pi_star = xp.asarray(t.pi_star)
    estimate = a_hat[:, -1] @ pi_star  # (12, R)
    logits = xp.asarray(np.log(reference_policy())) + a_hat / beta
    m = logits.max(axis=-1, keepdims=True)
    log_pi = logits - m - xp.log(xp.exp(logits - m).sum(axis=-1, keepdims=True))
    pi_hat = xp.exp(log_pi)
    terms = xp.where(pi_hat > 0, pi_hat * (log_pi - xp.asarray(np.log(t.pi_star))), 0.0)
    regret = xp.maximum(0.0, beta * terms.sum(axis=-1))  # (12, len(n), R)
    shape = (len(PREFERENCE_MODELS), len(PROPENSITIES), len(ESTIMATORS))
    return estimate.reshape(shape + estimate.shape[1:]), regret.reshape(shape + regret.shape[1:])


def simulate_doubly_robust(states, *, tau, beta, n, backend="numpy"):
    """Simulate one (tau, beta) cell: estimates at ``n_max`` and regrets at every prefix.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    tau : float
        Reference-temperature mismatch, in (0, 50].
    beta : float
        KL weight, > 0.
    n : sequence of int
        Strictly increasing prefix lengths; the estimate uses ``max(n)`` triples.
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    dict of numpy.ndarray
        ``estimate`` (2, 2, 3, R) and ``regret`` (2, 2, 3, len(n), R), preference units.
    """
    t = dr_theory(tau, beta)  # validates tau and beta
    n = check_n_grid(n)
    counts = draw_outcome_counts(np.asarray(states, dtype=np.uint64), n)
    xp = get_xp(backend)
    estimate, regret = estimates_from_counts(counts, n, t.tau, t.beta, xp=xp)
    out = {"estimate": to_numpy(estimate), "regret": to_numpy(regret)}
    if not all(np.all(np.isfinite(v)) for v in out.values()):
        raise ConvergenceError("preference-doubly-robust: non-finite estimate or regret")
    return out


def per_triple_estimates(rng, n, tau, beta, reps):
    """Brute force: draw every triple and evaluate DM, IS and DR from their definitions.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Triples per replication.
    tau, beta : float
    reps : int

    Returns
    -------
    numpy.ndarray, shape (2, 2, 3, reps)
        ``V̂(π*)`` per (preference_model, propensity, estimator).
    """
    t = dr_theory(tau, beta)
    ref = reference_policy()
    p_star = true_preference()
    out = np.empty((len(PREFERENCE_MODELS), len(PROPENSITIES), len(ESTIMATORS), reps))
    for r in range(reps):
        y = rng.choice(K_RESPONSES, size=n, p=ref)
        y2 = rng.choice(K_RESPONSES, size=n, p=ref)
        lab = (rng.random(n) < p_star[y, y2]).astype(float)
        for a, pm in enumerate(PREFERENCE_MODELS):
            pref = preference_matrix(pm)
            for b, prop in enumerate(PROPENSITIES):
                mu = np.exp(log_propensity(prop, tau))
                for c, est in enumerate(ESTIMATORS):
                    total = 0.0
                    for k in range(K_RESPONSES):
                        hit = (y == k).astype(float)
                        if est == "dm":
                            psi = pref[k, y2]
                        elif est == "is":
                            psi = hit * lab / mu[k]
                        else:
                            psi = pref[k, y2] + hit * (lab - pref[y, y2]) / mu[k]
                        total += t.pi_star[k] * psi.mean()
                    out[a, b, c, r] = total
    return out
