"""Behavioural models: maps from a reward to the policy an expert with that reward follows.

All are infinite-horizon and discounted:

- :func:`optimal`: uniform over argmax_a Q*(s, a) (Q* from hard value iteration);
- :func:`boltzmann` (inverse temperature β): π(a|s) ∝ exp(β Q*(s, a)) with the **hard** Q*;
- :func:`mce` (entropy weight α): π(a|s) = exp((Q(s, a) − V(s))/α) from soft value iteration.

Each model also has its closed-form inverse (:mod:`simkit.irl.inverse`): the reward IRL returns
when it assumes this model with a given discount and transitions.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backends import DEFAULT_BACKEND
from ..validation import check_real
from . import inverse as _inverse
from .solvers import soft_value_iteration, value_iteration

__all__ = ["Optimal", "Boltzmann", "MCE", "optimal", "boltzmann", "mce", "greedy_policy", "softmax"]

TIE_RTOL = 1e-8


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis`` computed stably."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def greedy_policy(q):
    """Uniform over the maximising actions of ``q`` (…, S, A); actions within TIE_RTOL·max(1, |Q|) tie."""
    top = q.max(axis=-1, keepdims=True)
    atol = TIE_RTOL * np.maximum(1.0, np.abs(q).max(axis=(-2, -1), keepdims=True))
    best = (q >= top - atol).astype(float)
    return best / best.sum(axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Optimal:
    """The optimality model: uniform over the optimal actions."""

    name = "optimal"

    def policy(self, transitions, reward, gamma, *, backend=DEFAULT_BACKEND, tol=1e-10):
        """π (…, S, A) for rewards (…, S, A, S) under τ (…, S, A, S) and discount ``gamma``."""
        q, _ = value_iteration(transitions, reward, gamma, tol=tol, backend=backend)
        return greedy_policy(q)

    def inverse(self, policy, transitions, gamma):
        """Closed-form inverse R̂(s, a, s') = 1[π(a|s) > 0] (see :func:`simkit.irl.inverse.optimality_inverse`)."""
        return _inverse.optimality_inverse(policy, transitions)


@dataclasses.dataclass(frozen=True)
class Boltzmann:
    """Boltzmann rationality with inverse temperature ``beta`` > 0 (1/reward units) and the hard Q*."""

    beta: float = 1.0
    name = "boltzmann"

    def __post_init__(self):
        object.__setattr__(self, "beta", check_real("beta", self.beta, low=0.0, low_inclusive=False))

    def policy(self, transitions, reward, gamma, *, backend=DEFAULT_BACKEND, tol=1e-10):
        """π(a|s) ∝ exp(β Q*(s, a)), shape (…, S, A)."""
        q, _ = value_iteration(transitions, reward, gamma, tol=tol, backend=backend)
        return softmax(self.beta * q)

    def inverse(self, policy, transitions, gamma):
        """Closed-form hard-Q inverse under the assumed τ, γ (:func:`simkit.irl.inverse.boltzmann_inverse`)."""
        return _inverse.boltzmann_inverse(policy, transitions, gamma, self.beta)


@dataclasses.dataclass(frozen=True)
class MCE:
    """Maximal causal entropy with entropy weight ``alpha`` > 0 (reward units)."""

    alpha: float = 1.0
    name = "mce"

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_real("alpha", self.alpha, low=0.0, low_inclusive=False))

    def policy(self, transitions, reward, gamma, *, backend=DEFAULT_BACKEND, tol=1e-10):
        """π(a|s) = exp((Q(s, a) − V(s))/α) from soft value iteration, shape (…, S, A)."""
        q, v = soft_value_iteration(transitions, reward, gamma, self.alpha, tol=tol, backend=backend)
        return softmax(q / self.alpha)

    def inverse(self, policy, transitions, gamma):
        """Closed-form inverse R̂ = α log π (:func:`simkit.irl.inverse.mce_inverse`)."""
        return _inverse.mce_inverse(policy, transitions, self.alpha)


def optimal() -> Optimal:
    """The optimality behavioural model."""
    return Optimal()


def boltzmann(beta: float = 1.0) -> Boltzmann:
    """The Boltzmann-rational model with inverse temperature ``beta`` > 0 (hard Q*)."""
    return Boltzmann(beta)


def mce(alpha: float = 1.0) -> MCE:
    """The maximal-causal-entropy model with entropy weight ``alpha`` > 0."""
    return MCE(alpha)
