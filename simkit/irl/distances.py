"""Reward distances (STARC, EPIC, L2) and normalised regret, with their conventions.

All functions accept rewards R(s, a, s') of shape (S, A, S) or batches (B, S, A, S), with
transitions of the same leading shape, and return one number per MDP (shape () or (B,)).

STARC (Skalse et al., ICLR 2024)
    d(R₁, R₂) = ½ ‖s(R₁) − s(R₂)‖₂ with s(R) = c(R)/‖c(R)‖ (or c(R) when ‖c(R)‖ = 0, taken as
    ‖c(R)‖ ≤ 1e-10·‖R‖).  The **½ factor** puts d in [0, 1]: 0 iff R₁, R₂ induce the same policy
    ordering (equal up to potential shaping, S'-redistribution and positive scaling), 1 iff
    R₂ is equivalent to −R₁.  The canonicalisation c is relative to (τ, γ):

    - ``"val"`` (value-adjusted levelling, π uniform): c(R)(s, a) = r̄(s, a) − V^π(s) +
      γ Σ_{s'} τ(s, a, s') V^π(s'), shape (…, S, A), norm over the S·A entries;
    - ``"minimal"``: the member of R's equivalence class {R + γΦ(s') − Φ(s) + δ : Σ_{s'} τ δ = 0}
      of least L2 norm over the S·A·S entries (a weighted least-squares projection), shape (…, S, A, S).

EPIC (Gleave et al., ICLR 2021)
    C(R)(s, a, s') = R(s, a, s') + γ E[R(s', A, S')] − E[R(s, A, S')] − γ E[R(S, A, S')] with S, S'
    uniform over states and A uniform over actions (independent); d = sqrt((1 − ρ)/2), ρ the
    Pearson correlation of C(R₁), C(R₂) over all (s, a, s') with equal weights; d ∈ [0, 1].  When a
    canonical reward is constant, ρ is taken as 1 if both are constant and 0 otherwise.  EPIC does
    not use τ (it is accepted so that every distance has one signature) and is not invariant to
    S'-redistribution.

L2
    ½ ‖R₁/‖R₁‖ − R₂/‖R₂‖‖₂ over the raw (S, A, S) arrays (no canonicalisation), in [0, 1].

Normalised regret
    (J_R(π*_R) − J_R(π*_R̂)) / (J_R(π*_R) − J_R(π*_{−R})) in [0, 1], where π*_X is uniform over
    the optimal actions of X under (τ, γ) and J is computed exactly by linear solves; 0 when the
    denominator is 0 (every policy is equally good).
"""

from __future__ import annotations

import numpy as np

from ..backends import DEFAULT_BACKEND
from ..validation import check_choice
from .mdp import check_gamma, check_initial, check_reward, check_transitions, expected_reward
from .models import greedy_policy
from .solvers import _evaluate, bellman

__all__ = [
    "canonicalise",
    "val_canonical",
    "minimal_canonical",
    "starc_distance",
    "epic_canonical",
    "epic_distance",
    "l2_distance",
    "normalised_regret",
    "val_matrix",
    "ZERO_RTOL",
]

ZERO_RTOL = 1e-10


def _pair(r1, r2, transitions, gamma):
    tau = check_transitions(transitions)
    r1 = check_reward(r1, tau, "reward1")
    r2 = check_reward(r2, tau, "reward2")
    gamma = check_gamma(gamma)
    tau, r1, r2 = np.broadcast_arrays(tau, r1, r2)
    return tau, r1, r2, gamma


def _val(rbar, tau, gamma):
    n_states = tau.shape[-1]
    p_u = tau.mean(axis=-2)
    v = np.linalg.solve(np.eye(n_states) - gamma * p_u, rbar.mean(axis=-1)[..., None])[..., 0]
    return rbar - v[..., :, None] + gamma * np.einsum("...sat,...t->...sa", tau, v)


def _minimal(rbar, tau, gamma):
    *batch, n_states, n_actions, _ = tau.shape
    weights = 1.0 / np.sum(tau * tau, axis=-1)  # 1/‖τ(s, a, ·)‖²
    g = gamma * tau - np.eye(n_states)[:, None, :]  # (…, S, A, S): ∂(r̄ + γτΦ − Φ)/∂Φ
    g = g.reshape(*batch, n_states * n_actions, n_states)
    w = weights.reshape(*batch, n_states * n_actions)
    y0 = rbar.reshape(*batch, n_states * n_actions)
    gtw = np.swapaxes(g, -1, -2) * w[..., None, :]
    phi = np.linalg.solve(gtw @ g, -(gtw @ y0[..., None]))[..., 0]
    y = (y0 + (g @ phi[..., None])[..., 0]).reshape(*batch, n_states, n_actions)
    return (y * weights)[..., None] * tau


def val_canonical(reward, transitions, gamma):
    """VAL canonical reward c(R)(s, a), shape (…, S, A) (see the module docstring)."""
    tau = check_transitions(transitions)
    r = check_reward(reward, tau)
    gamma = check_gamma(gamma)
    tau, r = np.broadcast_arrays(tau, r)
    return _val(expected_reward(r, tau), tau, gamma)


def minimal_canonical(reward, transitions, gamma):
    """Minimal (least-L2-norm) canonical reward, shape (…, S, A, S) (see the module docstring)."""
    tau = check_transitions(transitions)
    r = check_reward(reward, tau)
    gamma = check_gamma(gamma)
    tau, r = np.broadcast_arrays(tau, r)
    return _minimal(expected_reward(r, tau), tau, gamma)


def canonicalise(reward, transitions, gamma, method="val"):
    """STARC canonical reward by ``method`` ("val" → (…, S, A), "minimal" → (…, S, A, S))."""
    check_choice("canonicalisation", method, ("val", "minimal"))
    return (val_canonical if method == "val" else minimal_canonical)(reward, transitions, gamma)


def val_matrix(transitions, gamma):
    """The VAL canonicalisation as a matrix: c = C r̄ with r̄, c flattened over (s, a); shape (…, SA, SA)."""
    tau = np.asarray(transitions, dtype=float)
    *batch, n_states, n_actions, _ = tau.shape
    sa = n_states * n_actions
    eye = np.broadcast_to(np.eye(sa).reshape(sa, n_states, n_actions), (*batch, sa, n_states, n_actions))
    cols = _val(np.moveaxis(eye, -3, 0), tau, gamma)  # (SA, …, S, A): canonical of each unit r̄
    return np.moveaxis(cols.reshape(sa, *batch, sa), 0, -1)


def _normalise(c, raw_norm, axes):
    n = np.sqrt(np.sum(c * c, axis=axes, keepdims=True))
    zero = n <= ZERO_RTOL * raw_norm
    return np.where(zero, c, c / np.where(zero, 1.0, n))


def starc_distance(reward1, reward2, transitions, gamma, canonicalisation="val"):
    """STARC distance ½‖s(R₁) − s(R₂)‖₂ ∈ [0, 1], relative to (τ, γ); shape () or (B,).

    Parameters
    ----------
    reward1, reward2 : array_like, shape (S, A, S) or (B, S, A, S)
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
    gamma : float
        Discount in [0, 1).
    canonicalisation : {"val", "minimal"}
    """
    check_choice("canonicalisation", canonicalisation, ("val", "minimal"))
    tau, r1, r2, gamma = _pair(reward1, reward2, transitions, gamma)
    return _starc(r1, r2, tau, gamma, canonicalisation)


def _starc(r1, r2, tau, gamma, canonicalisation="val"):
    fn = _val if canonicalisation == "val" else _minimal
    axes = (-2, -1) if canonicalisation == "val" else (-3, -2, -1)
    out = []
    for r in (r1, r2):
        raw = np.sqrt(np.sum(r * r, axis=(-3, -2, -1)))
        raw = raw.reshape(raw.shape + (1,) * len(axes))
        out.append(_normalise(fn(expected_reward(r, tau), tau, gamma), raw, axes))
    d = 0.5 * np.sqrt(np.sum((out[0] - out[1]) ** 2, axis=axes))
    return np.clip(d, 0.0, 1.0)


def epic_canonical(reward, gamma):
    """EPIC canonical reward C(R), shape (…, S, A, S) (uniform S, A, S'; see the module docstring)."""
    r = np.asarray(reward, dtype=float)
    m = r.mean(axis=(-2, -1))  # E[R(x, A, S')] for each x
    total = r.mean(axis=(-3, -2, -1))
    return r + gamma * m[..., None, None, :] - m[..., :, None, None] - gamma * total[..., None, None, None]


def epic_distance(reward1, reward2, transitions, gamma):
    """EPIC distance sqrt((1 − ρ)/2) ∈ [0, 1]; shape () or (B,) (see the module docstring)."""
    tau, r1, r2, gamma = _pair(reward1, reward2, transitions, gamma)
    axes = (-3, -2, -1)
    c1 = epic_canonical(r1, gamma)
    c2 = epic_canonical(r2, gamma)
    c1 = c1 - c1.mean(axis=axes, keepdims=True)
    c2 = c2 - c2.mean(axis=axes, keepdims=True)
    n1 = np.sqrt(np.sum(c1 * c1, axis=axes))
    n2 = np.sqrt(np.sum(c2 * c2, axis=axes))
    z1 = n1 <= ZERO_RTOL * np.sqrt(np.sum(r1 * r1, axis=axes))
    z2 = n2 <= ZERO_RTOL * np.sqrt(np.sum(r2 * r2, axis=axes))
    rho = np.sum(c1 * c2, axis=axes) / np.where(z1 | z2, 1.0, n1 * n2)
    rho = np.where(z1 & z2, 1.0, np.where(z1 | z2, 0.0, rho))
    return np.sqrt(np.clip((1.0 - rho) / 2.0, 0.0, 1.0))


def l2_distance(reward1, reward2):
    """½‖R₁/‖R₁‖ − R₂/‖R₂‖‖₂ ∈ [0, 1] over the raw arrays (…, S, A, S); shape () or (B,)."""
    r1 = np.asarray(reward1, dtype=float)
    r2 = np.asarray(reward2, dtype=float)
    axes = (-3, -2, -1)
    n1 = np.sqrt(np.sum(r1 * r1, axis=axes, keepdims=True))
    n2 = np.sqrt(np.sum(r2 * r2, axis=axes, keepdims=True))
    s1 = r1 / np.where(n1 > 0, n1, 1.0)
    s2 = r2 / np.where(n2 > 0, n2, 1.0)
    return 0.5 * np.sqrt(np.sum((s1 - s2) ** 2, axis=axes))


def normalised_regret(reward_true, reward_hat, transitions, gamma, initial=None, *, tol=1e-10, backend=DEFAULT_BACKEND):
    """Normalised regret of optimising ``reward_hat`` when the truth is ``reward_true``; shape () or (B,).

    Parameters
    ----------
    reward_true, reward_hat : array_like, shape (S, A, S) or (B, S, A, S)
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
        The true τ (the estimate is optimised and evaluated in the true MDP).
    gamma : float
        The true discount.
    initial : array_like, shape (S,) or (B, S), optional
        μ₀ (uniform by default).
    tol : float
        Value-iteration tolerance for the optimal policies.
    backend : {"numba", "numpy", "cuda", "auto"}
        Backend of the value iterations (:func:`simkit.backends.check_backend`).
    """
    tau, r, r_hat, gamma = _pair(reward_true, reward_hat, transitions, gamma)
    mu = check_initial(initial, tau.shape[-1])
    return _regret(r, r_hat, tau, gamma, mu, tol, backend)


def _regret(r, r_hat, tau, gamma, mu, tol=1e-10, backend=DEFAULT_BACKEND):
    single = tau.ndim == 3
    if single:
        r, r_hat, tau = r[None], r_hat[None], tau[None]
    rbar = expected_reward(r, tau)
    rbar_hat = expected_reward(r_hat, tau)
    stacked = np.concatenate([rbar, rbar_hat, -rbar])
    taus = np.concatenate([tau, tau, tau])
    q, _ = bellman(taus, stacked, gamma, 0.0, tol=tol, backend=backend)
    policies = greedy_policy(q)
    v, _ = _evaluate(taus, np.concatenate([rbar, rbar, rbar]), policies, gamma)
    j = np.sum(mu * v, axis=-1).reshape(3, -1)
    best, got, worst = j
    span = best - worst
    scale = np.maximum(1.0, np.abs(best))
    ok = span > 1e-12 * scale
    out = np.where(ok, np.clip(best - got, 0.0, None) / np.where(ok, span, 1.0), 0.0)
    return np.clip(out[0] if single else out, 0.0, 1.0)
