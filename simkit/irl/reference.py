"""Plain per-MDP NumPy solvers: the readable specification, the test oracle and the benchmark baseline.

Each function handles ONE MDP (no batch axis) with straightforward NumPy, exactly as the
definitions read in Skalse & Abate (ICLR 2024) and Skalse et al. (STARC, ICLR 2024).  The batched solvers in :mod:`simkit.irl.solvers` must agree
with these.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConvergenceError

__all__ = ["bellman_one", "policy_evaluation_one", "occupancy_one", "bellman_loop"]


def bellman_one(tau, rbar, gamma, alpha=0.0, tol=1e-10, max_iter=100_000, v0=None):
    """(Soft) value iteration for one MDP.

    Parameters
    ----------
    tau : numpy.ndarray, shape (S, A, S)
    rbar : numpy.ndarray, shape (S, A)
        Expected reward r̄(s, a).
    gamma : float
        Discount in [0, 1).
    alpha : float
        Entropy weight; 0 gives hard value iteration (V = max_a Q).
    tol : float
        Stop when γ/(1−γ)·‖V_{k+1} − V_k‖_∞ ≤ tol; this bounds the sup-norm errors of the returned
        V = V_{k+1} and Q = Q_k = r̄ + γτV_k (V is exactly the (soft) maximum of Q).
    max_iter : int
    v0 : numpy.ndarray, shape (S,), optional
        Initial values (zeros by default).

    Returns
    -------
    q : numpy.ndarray, shape (S, A)
    v : numpy.ndarray, shape (S,)
    iterations : int

    Raises
    ------
    ConvergenceError
        When ``max_iter`` sweeps do not reach ``tol``.
    """
    v = np.zeros(tau.shape[0]) if v0 is None else np.array(v0, dtype=float)
    for it in range(max_iter):
        q = rbar + gamma * tau @ v
        if alpha > 0:
            m = q.max(axis=1)
            v_new = m + alpha * np.log(np.exp((q - m[:, None]) / alpha).sum(axis=1))
        else:
            v_new = q.max(axis=1)
        diff = np.max(np.abs(v_new - v))
        v = v_new
        if diff * gamma / (1.0 - gamma) <= tol:
            return q, v, it + 1
    raise ConvergenceError(f"value iteration did not reach tol={tol:g} in max_iter={max_iter} sweeps")


def bellman_loop(tau, rbar, gamma, alpha=0.0, tol=1e-10, max_iter=100_000):
    """:func:`bellman_one` for each MDP of a batch in a Python loop (the benchmark baseline).

    ``tau`` (B, S, A, S), ``rbar`` (B, S, A); returns ``q`` (B, S, A) and ``v`` (B, S).
    """
    out = [bellman_one(tau[b], rbar[b], gamma, alpha, tol, max_iter) for b in range(tau.shape[0])]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def policy_evaluation_one(tau, rbar, policy, gamma):
    """Exact V^π (S,) and Q^π (S, A) of ``policy`` (S, A) by one linear solve (I − γP_π)V = r_π."""
    n = tau.shape[0]
    p_pi = np.einsum("sa,sat->st", policy, tau)
    r_pi = np.einsum("sa,sa->s", policy, rbar)
    v = np.linalg.solve(np.eye(n) - gamma * p_pi, r_pi)
    return v, rbar + gamma * tau @ v


def occupancy_one(tau, policy, gamma, initial):
    """Discounted state-action occupancy ρ(s, a) = Σ_t γ^t P(s_t = s, a_t = a), shape (S, A).

    It sums to 1/(1 − γ); the state occupancy d(s) = Σ_a ρ(s, a) solves (I − γP_π)ᵀ d = μ₀.
    """
    n = tau.shape[0]
    p_pi = np.einsum("sa,sat->st", policy, tau)
    d = np.linalg.solve((np.eye(n) - gamma * p_pi).T, initial)
    return d[:, None] * policy
