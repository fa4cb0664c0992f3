"""Batched solvers for tabular MDPs: (soft) value iteration, exact policy evaluation, occupancy.

Every solver takes one MDP ``(S, A, S)`` or a batch ``(B, S, A, S)`` and returns arrays with
the same leading batch shape.  Value iteration runs on three backends with one meaning:

``numpy``  array code vectorised over the batch (``xp = numpy``; with ``xp = cupy`` the same code
           runs on a GPU, see :func:`bellman_xp`)
``numba``  the compiled kernel :func:`simkit.kernels.irl_bellman.bellman_cpu`, parallel over MDPs
``cuda``   the same kernel body launched with one CUDA thread per MDP

Each MDP stops at its own tolerance (``γ/(1−γ)·‖V_{k+1} − V_k‖_∞ ≤ tol``, which bounds the
sup-norm errors of the returned ``V = V_{k+1}`` and ``Q = r̄ + γτV_k``), so its answer does not
depend on the other MDPs of the batch.  An MDP that does not converge within ``max_iter`` sweeps
raises :class:`~simkit.errors.ConvergenceError` (never a silent wrong answer).  Linear solves
(policy evaluation, occupancy) use ``numpy.linalg`` batched over MDPs.
"""

from __future__ import annotations

import math

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend
from ..errors import ConvergenceError
from ..launch import launch, per_item
from ..validation import check_int, check_real
from .mdp import check_gamma, check_initial, check_policy, check_reward, check_transitions, expected_reward

__all__ = [
    "value_iteration",
    "soft_value_iteration",
    "bellman",
    "bellman_xp",
    "policy_evaluation",
    "policy_value",
    "occupancy",
    "default_max_iter",
]


def default_max_iter(gamma, tol, span):
    """Sweeps enough to contract an initial error ``span`` below ``tol`` at rate γ, times ten (≥ 1000)."""
    if gamma == 0.0:
        return 1000
    need = math.log(max(tol * (1.0 - gamma), 1e-300) / max(span, 1e-300)) / math.log(gamma)
    return int(max(1000, 10 * math.ceil(max(need, 1.0))))


def _batched(tau, *arrays):
    """Add a leading batch axis to ``tau`` (and arrays) when ``tau`` is one MDP; return the flag too."""
    single = tau.ndim == 3
    if single:
        return True, tau[None], *[None if a is None else a[None] for a in arrays]
    return False, tau, *arrays


def bellman_xp(tau, rbar, gamma, alpha, tol, max_iter, v0, xp=np):
    """Array-code (soft) value iteration over a batch, for ``xp`` = numpy or cupy.

    Parameters
    ----------
    tau : xp.ndarray, shape (B, S, A, S)
    rbar : xp.ndarray, shape (B, S, A)
    gamma, alpha, tol : float
        Discount, entropy weight (0: hard maximum) and error bound, as in the kernel.
    max_iter : int
    v0 : xp.ndarray, shape (B, S)
        Initial values.

    Returns
    -------
    q : xp.ndarray, shape (B, S, A)
    v : xp.ndarray, shape (B, S)
    iters : numpy.ndarray of int64, shape (B,)
        Sweeps used per MDP (-1: not converged).  Converged MDPs are frozen, so each MDP's answer
        is the one it would get alone.
    """
    v = v0.copy()
    q_out = xp.zeros(rbar.shape)
    iters = np.full(tau.shape[0], -1, dtype=np.int64)
    done = xp.zeros(tau.shape[0], dtype=bool)
    scale = gamma / (1.0 - gamma)
    for it in range(max_iter):
        q = rbar + gamma * xp.einsum("bsat,bt->bsa", tau, v)
        m = q.max(axis=2)
        if alpha > 0:
            v_new = m + alpha * xp.log(xp.exp((q - m[:, :, None]) / alpha).sum(axis=2))
        else:
            v_new = m
        diff = xp.abs(v_new - v).max(axis=1)
        v = xp.where(done[:, None], v, v_new)
        q_out = xp.where(done[:, None, None], q_out, q)
        newly = (~done) & (diff * scale <= tol)
        if bool(newly.any()):
            iters[np.asarray(_host(newly))] = it + 1
            done = done | newly
            if bool(done.all()):
                break
    return q_out, v, iters


def _host(a):
    get = getattr(a, "get", None)
    return get() if callable(get) else a


def bellman(tau, rbar, gamma, alpha=0.0, *, tol=1e-10, max_iter=None, v0=None, backend=DEFAULT_BACKEND):
    """(Soft) value iteration from the expected reward, without validation of the arrays (hot loops).

    ``tau`` (B, S, A, S) or (S, A, S), ``rbar`` (B, S, A) or (S, A) (float64, C-contiguous);
    returns ``q`` (…, S, A) and ``v`` (…, S).  See :func:`value_iteration` for the meaning.
    ``backend`` is checked by :func:`simkit.backends.check_backend`; ``v0`` is not modified.
    """
    backend = check_backend(backend)
    single, tau, rbar, v0 = _batched(tau, rbar, v0)
    if max_iter is None:
        span = 2.0 * (float(np.abs(rbar).max()) + alpha * math.log(tau.shape[2])) / (1.0 - gamma) + 1.0
        max_iter = default_max_iter(gamma, tol, span)
    v = np.zeros(tau.shape[:2]) if v0 is None else np.array(v0, dtype=float)
    tau = np.ascontiguousarray(tau, dtype=float)
    rbar = np.ascontiguousarray(rbar, dtype=float)
    if backend == "numpy":
        q, v, iters = bellman_xp(tau, rbar, gamma, alpha, tol, max_iter, v, np)
    else:
        n, n_states, n_actions = rbar.shape
        tau_t = np.ascontiguousarray(tau.reshape(n, n_states * n_actions, n_states).transpose(0, 2, 1))
        args = (
            per_item(tau_t),
            per_item(rbar.reshape(n, -1)),
            n_actions,
            float(gamma),
            float(alpha),
            float(tol),
            int(max_iter),
        )
        q = np.empty((n, n_states * n_actions))
        iters = np.zeros(n, dtype=np.int64)
        if backend == "numba":
            from ..kernels.irl_bellman import bellman_cpu, bellman_cpu_serial

            launch(bellman_cpu_serial if n == 1 else bellman_cpu, backend, args=args, outputs=(v, q, iters))
        else:
            from ..kernels.irl_bellman import bellman_cuda

            launch(bellman_cuda, backend, args=args, scratch=((n, n_states),), outputs=(v, q, iters), size=n)
        q = q.reshape(rbar.shape)
    if np.any(iters < 0):
        bad = int(np.sum(iters < 0))
        raise ConvergenceError(
            f"value iteration: {bad} of {tau.shape[0]} MDP(s) did not reach tol={tol:g} in max_iter={max_iter} sweeps"
        )
    return (q[0], v[0]) if single else (q, v)


def _validated(transitions, reward, gamma, backend):
    tau = check_transitions(transitions)
    r = check_reward(reward, tau)
    gamma = check_gamma(gamma)
    return tau, r, gamma, check_backend(backend)


def value_iteration(transitions, reward, gamma, *, tol=1e-10, max_iter=None, backend=DEFAULT_BACKEND):
    """Optimal action values Q* and values V* by value iteration.

    Q*(s, a) = r̄(s, a) + γ Σ_{s'} τ(s, a, s') max_{a'} Q*(s', a').

    Parameters
    ----------
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
    reward : array_like, shape (S, A, S) or (B, S, A, S)
        R(s, a, s') in reward units.
    gamma : float
        Discount in [0, 1).
    tol : float
        Bound on the sup-norm error of the returned V* and Q* (reward units).
    max_iter : int, optional
        Largest number of sweeps (default: ten times what the contraction needs).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    q : numpy.ndarray, shape (…, S, A)
    v : numpy.ndarray, shape (…, S)

    Raises
    ------
    ConvergenceError
        When an MDP does not reach ``tol`` within ``max_iter`` sweeps.
    """
    tau, r, gamma, backend = _validated(transitions, reward, gamma, backend)
    tol = check_real("tol", tol, low=0.0, low_inclusive=False)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, low=1)
    tau, r = np.broadcast_arrays(tau, r) if tau.ndim != r.ndim else (tau, r)
    return bellman(tau, expected_reward(r, tau), gamma, 0.0, tol=tol, max_iter=max_iter, backend=backend)


def soft_value_iteration(transitions, reward, gamma, alpha=1.0, *, tol=1e-10, max_iter=None, backend=DEFAULT_BACKEND):
    """Soft (maximal causal entropy) values by soft value iteration.

    Q(s, a) = r̄(s, a) + γ Σ_{s'} τ(s, a, s') V(s'),  V(s) = α log Σ_a exp(Q(s, a)/α); the MCE
    policy is π(a|s) = exp((Q(s, a) − V(s))/α).

    Parameters
    ----------
    alpha : float
        Entropy weight α > 0 (reward units).

    Other parameters, returns and errors as :func:`value_iteration`.
    """
    tau, r, gamma, backend = _validated(transitions, reward, gamma, backend)
    alpha = check_real("alpha", alpha, low=0.0, low_inclusive=False)
    tol = check_real("tol", tol, low=0.0, low_inclusive=False)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, low=1)
    tau, r = np.broadcast_arrays(tau, r) if tau.ndim != r.ndim else (tau, r)
    return bellman(tau, expected_reward(r, tau), gamma, alpha, tol=tol, max_iter=max_iter, backend=backend)


def _evaluate(tau, rbar, policy, gamma):
    n = tau.shape[-1]
    p_pi = np.einsum("...sa,...sat->...st", policy, tau)
    r_pi = np.einsum("...sa,...sa->...s", policy, rbar)
    v = np.linalg.solve(np.eye(n) - gamma * p_pi, r_pi[..., None])[..., 0]
    q = rbar + gamma * np.einsum("...sat,...t->...sa", tau, v)
    return v, q


def policy_evaluation(transitions, reward, policy, gamma):
    """Exact values of a policy by one linear solve per MDP: (I − γ P_π) V^π = r_π.

    Parameters
    ----------
    transitions, reward : array_like, shape (S, A, S) or (B, S, A, S)
    policy : array_like, shape (S, A) or (B, S, A)
        π(a | s); rows sum to 1.
    gamma : float
        Discount in [0, 1).

    Returns
    -------
    v : numpy.ndarray, shape (…, S)
        V^π in reward units.
    q : numpy.ndarray, shape (…, S, A)
        Q^π(s, a) = r̄(s, a) + γ Σ τ(s, a, s') V^π(s').
    """
    tau = check_transitions(transitions)
    r = check_reward(reward, tau)
    pi = check_policy(policy, tau)
    gamma = check_gamma(gamma)
    return _evaluate(tau, expected_reward(r, tau), pi, gamma)


def _occupancy(tau, policy, gamma, initial):
    n = tau.shape[-1]
    p_pi = np.einsum("...sa,...sat->...st", policy, tau)
    m = np.swapaxes(np.eye(n) - gamma * p_pi, -1, -2)
    mu = np.broadcast_to(initial, p_pi.shape[:-1])
    d = np.linalg.solve(m, mu[..., None])[..., 0]
    return d[..., :, None] * policy


def occupancy(transitions, policy, gamma, initial=None):
    """Discounted state-action occupancy ρ(s, a) = Σ_t γ^t P(s_t = s, a_t = a) (s_0 ~ μ₀).

    Parameters
    ----------
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
    policy : array_like, shape (S, A) or (B, S, A)
    gamma : float
        Discount in [0, 1).
    initial : array_like, shape (S,) or (B, S), optional
        μ₀ (uniform by default).

    Returns
    -------
    numpy.ndarray, shape (…, S, A)
        Unnormalised: it sums to 1/(1 − γ); Σ_a ρ(s, a) is the discounted state visitation.
    """
    tau = check_transitions(transitions)
    pi = check_policy(policy, tau)
    gamma = check_gamma(gamma)
    mu = check_initial(initial, tau.shape[-1])
    return _occupancy(tau, pi, gamma, mu)


def policy_value(transitions, reward, policy, gamma, initial=None):
    """J(π) = Σ_s μ₀(s) V^π(s), shape (…) (one value per MDP), by exact policy evaluation."""
    tau = check_transitions(transitions)
    mu = check_initial(initial, tau.shape[-1])
    v, _ = policy_evaluation(tau, reward, policy, gamma)
    return np.sum(mu * v, axis=-1)
