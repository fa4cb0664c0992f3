"""Tabular MDPs: validation of their arrays and random generation from a replication's stream.

Conventions used throughout :mod:`simkit.irl`:

- ``transitions`` τ has shape ``(S, A, S)`` (one MDP) or ``(B, S, A, S)`` (a batch of ``B`` MDPs):
  ``τ[..., s, a, s']`` is the probability of moving to ``s'`` after action ``a`` in state ``s``.
- rewards ``R`` have shape ``(S, A, S)`` or ``(B, S, A, S)``: ``R(s, a, s')``, in reward units.
  ``r̄(s, a) = Σ_{s'} τ(s, a, s') R(s, a, s')`` (:func:`expected_reward`).
- policies have shape ``(S, A)`` or ``(B, S, A)``; rows sum to 1.
- ``gamma`` is one discount in ``[0, 1)`` shared by the batch; the initial distribution μ₀ is
  uniform unless given (shape ``(S,)`` or ``(B, S)``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backends import check_states
from ..errors import ParameterError
from ..rng import Stream
from ..validation import check_array, check_int, check_real

__all__ = [
    "MDP",
    "check_gamma",
    "check_transitions",
    "check_reward",
    "check_policy",
    "check_initial",
    "expected_reward",
    "random_transitions",
    "random_mdp",
    "random_mdps",
    "mix_transitions",
    "state_reward",
    "state_action_reward",
]

ROW_SUM_TOL = 1e-8


@dataclasses.dataclass(frozen=True)
class MDP:
    """One tabular MDP without its discount.

    Attributes
    ----------
    transitions : numpy.ndarray, shape (S, A, S)
    reward : numpy.ndarray, shape (S, A, S)
    initial : numpy.ndarray, shape (S,)
        Initial state distribution μ₀ (uniform for random MDPs).
    """

    transitions: np.ndarray
    reward: np.ndarray
    initial: np.ndarray

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[1]


def check_gamma(gamma, name="gamma") -> float:
    """Return the discount as a float after checking ``0 <= gamma < 1``."""
    return check_real(name, gamma, low=0.0, high=1.0, high_inclusive=False)


def check_transitions(transitions, name="transitions") -> np.ndarray:
    """Return τ as a float array of shape (S, A, S) or (B, S, A, S) with non-negative rows summing to 1."""
    tau = check_array(name, transitions, low=0.0)
    if tau.ndim not in (3, 4) or tau.shape[-3] != tau.shape[-1] or tau.shape[-1] < 1 or tau.shape[-2] < 1:
        raise ParameterError(f"{name} must have shape (S, A, S) or (B, S, A, S), got {tau.shape}")
    sums = tau.sum(axis=-1)
    worst = float(np.max(np.abs(sums - 1.0))) if sums.size else 0.0
    if worst > ROW_SUM_TOL:
        raise ParameterError(
            f"{name}: every row τ(s, a, ·) must sum to 1 (within {ROW_SUM_TOL:g}); the worst row is off by {worst:.3g}"
        )
    return tau


def check_reward(reward, tau, name="reward") -> np.ndarray:
    """Return ``reward`` as a float array shaped like ``tau`` ((S, A, S) or (B, S, A, S)); batches broadcast."""
    r = check_array(name, reward)
    if r.ndim not in (3, 4) or r.shape[-3:] != tau.shape[-3:]:
        raise ParameterError(f"{name} must have shape (S, A, S) = {tau.shape[-3:]} or (B, S, A, S), got {r.shape}")
    if r.ndim == 4 and tau.ndim == 4 and r.shape[0] != tau.shape[0]:
        raise ParameterError(f"{name} has a batch of {r.shape[0]} but transitions a batch of {tau.shape[0]}")
    return r


def check_policy(policy, tau, name="policy", positive=False) -> np.ndarray:
    """Return a policy of shape (S, A) or (B, S, A) matching ``tau``; rows must sum to 1."""
    pi = check_array(name, policy, low=0.0)
    if pi.ndim not in (2, 3) or pi.shape[-2:] != tau.shape[-3:-1]:
        raise ParameterError(f"{name} must have shape (S, A) = {tau.shape[-3:-1]} or (B, S, A), got {pi.shape}")
    worst = float(np.max(np.abs(pi.sum(axis=-1) - 1.0)))
    if worst > 1e-6:
        raise ParameterError(f"{name}: every row π(· | s) must sum to 1; the worst row is off by {worst:.3g}")
    if positive and np.any(pi <= 0.0):
        raise ParameterError(f"{name} must be strictly positive for this inverse (it takes log π)")
    return pi


def check_initial(initial, n_states, name="initial") -> np.ndarray:
    """Return μ₀ (uniform when ``None``) after checking shape (S,) or (B, S), non-negativity and sum 1."""
    if initial is None:
        return np.full(n_states, 1.0 / n_states)
    mu = check_array(name, initial, low=0.0)
    if mu.ndim not in (1, 2) or mu.shape[-1] != n_states:
        raise ParameterError(f"{name} must have shape (S,) = ({n_states},) or (B, S), got {mu.shape}")
    if np.max(np.abs(mu.sum(axis=-1) - 1.0)) > ROW_SUM_TOL:
        raise ParameterError(f"{name} must sum to 1")
    return mu


def expected_reward(reward, transitions, xp=np):
    """r̄(s, a) = Σ_{s'} τ(s, a, s') R(s, a, s'); shape (..., S, A)."""
    return xp.sum(transitions * reward, axis=-1)


def state_reward(theta, n_actions):
    """The reward R(s, a, s') = θ(s) of a state-only reward ``theta`` (shape (..., S)) as (..., S, A, S)."""
    theta = np.asarray(theta, dtype=float)
    n = theta.shape[-1]
    return np.broadcast_to(theta[..., :, None, None], theta.shape[:-1] + (n, n_actions, n)).copy()


def state_action_reward(r):
    """The reward R(s, a, s') = r(s, a) of a state-action reward ``r`` (shape (..., S, A)) as (..., S, A, S)."""
    r = np.asarray(r, dtype=float)
    n = r.shape[-2]
    return np.broadcast_to(r[..., None], r.shape + (n,)).copy()


def random_transitions(stream: Stream, n_states: int, n_actions: int, *, kappa: float = 0.3, successors=None):
    """Random transitions τ (S, A, S) drawn from ``stream``.

    Draw order (part of the contract): for each (s, a) in C order, either ``S`` Gamma(κ) variates
    normalised to sum 1 (``successors is None``: τ(s, a, ·) ~ Dirichlet(κ·1)), or ``S`` uniforms
    whose ``successors`` smallest pick the reachable states followed by ``successors`` Gamma(κ)
    weights (sparse successors).
    """
    n_states = check_int("n_states", n_states, low=1)
    n_actions = check_int("n_actions", n_actions, low=1)
    kappa = check_real("kappa", kappa, low=0.0, low_inclusive=False)
    if successors is not None:
        successors = check_int("successors", successors, low=1, high=n_states)
    tau = np.zeros((n_states, n_actions, n_states))
    for s in range(n_states):
        for a in range(n_actions):
            if successors is None:
                w = stream.gamma(kappa, (n_states,))
                idx = np.arange(n_states)
            else:
                idx = np.argsort(stream.uniform((n_states,)), kind="stable")[:successors]
                w = stream.gamma(kappa, (successors,))
            total = w.sum()
            if total <= 0.0:  # every Gamma(κ) draw underflowed: put the mass on one successor
                w = np.zeros_like(w)
                w[0] = 1.0
                total = 1.0
            tau[s, a, idx] = w / total
    return tau


def random_mdp(stream: Stream, n_states: int, n_actions: int, *, kappa: float = 0.3, successors=None) -> MDP:
    """A random MDP from one replication's stream: τ (:func:`random_transitions`), then R ~ N(0, 1).

    The reward array (S, A, S) is drawn after the transitions, in C order; μ₀ is uniform.
    """
    tau = random_transitions(stream, n_states, n_actions, kappa=kappa, successors=successors)
    reward = stream.normal((n_states, n_actions, n_states))
    return MDP(tau, reward, np.full(n_states, 1.0 / n_states))


def random_mdps(states, n_states, n_actions, *, kappa=0.3, successors=None):
    """One random MDP per row of ``states`` ((B, 2) uint64 replication streams, not modified).

    Returns
    -------
    transitions : numpy.ndarray, shape (B, S, A, S)
    reward : numpy.ndarray, shape (B, S, A, S)
    """
    states = check_states(states)
    mdps = [
        random_mdp(Stream(np.array(st, dtype=np.uint64)), n_states, n_actions, kappa=kappa, successors=successors)
        for st in states
    ]
    return np.stack([m.transitions for m in mdps]), np.stack([m.reward for m in mdps])


def mix_transitions(transitions, other, lam):
    """τ' = (1 − λ) τ + λ τ_other (same shapes; ``lam`` in [0, 1])."""
    lam = check_real("lam", lam, low=0.0, high=1.0)
    return (1.0 - lam) * np.asarray(transitions) + lam * np.asarray(other)
