"""Closed-form predictions for the closed-form inverses under a misspecified model.

Hard-Q Boltzmann inverse under an assumed (τ', γ', β' = β): with Q* the true optimal Q, V* = max_a Q*
and c(s) = (1/β) log Σ_a exp(β Q*(s, a)), the inverse Q̂ = (1/β) log π = Q* − c gives

    R̂ = Q̂ − γ' τ' max Q̂ = r̄ + (γτ − γ'τ')(V* − c) + [γ τ c − c],

and the bracket is a potential shaping under the *true* (τ, γ), so R̂ is equivalent to the
state-action reward r̄ + e with the error term e = (γτ − γ'τ')(V* − c).  For γ' ≠ γ (τ' = τ) this is
(γ − γ') τ(V* − c); for τ' = (1 − λ)τ + λτ_r (γ' = γ) it is λγ(τ − τ_r)(V* − c): both linear in the
size of the misspecification, and V* − c ∈ [−log A / β, 0] keeps them small.
"""

from __future__ import annotations

import numpy as np

from .distances import _starc
from .mdp import expected_reward, state_action_reward
from .solvers import bellman

__all__ = ["boltzmann_error_term", "boltzmann_starc_theory"]


def boltzmann_error_term(transitions, reward, gamma, beta, transitions_assumed, gamma_assumed, *, backend="numpy"):
    """e(s, a) = Σ_{s'} (γ τ − γ' τ')(s, a, s') (V* − c)(s'), shape (S, A) (reward units).

    Parameters
    ----------
    transitions, reward : numpy.ndarray, shape (S, A, S)
        The true MDP.
    gamma, beta : float
        True discount and inverse temperature.
    transitions_assumed : numpy.ndarray, shape (S, A, S)
    gamma_assumed : float
    """
    q, v = bellman(transitions, expected_reward(reward, transitions), gamma, 0.0, backend=backend)
    top = q.max(axis=-1, keepdims=True)
    c = (top + np.log(np.exp(beta * (q - top)).sum(axis=-1, keepdims=True)) / beta)[..., 0]
    gap = v - c
    return gamma * transitions @ gap - gamma_assumed * transitions_assumed @ gap


def boltzmann_starc_theory(transitions, reward, gamma, beta, transitions_assumed, gamma_assumed, *, backend="numpy"):
    """Predicted STARC-VAL distance of the hard-Q Boltzmann inverse: d(R, r̄ + e) under the true (τ, γ)."""
    e = boltzmann_error_term(transitions, reward, gamma, beta, transitions_assumed, gamma_assumed, backend=backend)
    equivalent = state_action_reward(expected_reward(reward, transitions) + e)
    return float(_starc(reward, equivalent, transitions, gamma))
