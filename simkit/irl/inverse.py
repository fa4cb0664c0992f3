"""Closed-form IRL inverses: the reward an IRL method returns when it assumes a behavioural model.

The assumed model has its own discount γ', transitions τ' and temperature (β' or α'); each
inverse below returns a reward R̂(s, a, s') (shape (…, S, A, S), constant in s') that reproduces
the observed policy **exactly** under the assumed model:

- MCE: R̂(s, a) = α' log π(a|s).  Soft value iteration with R̂ gives V̂ = 0 and Q̂ = α' log π
  under any γ', τ', so π is reproduced whatever γ', τ' are assumed.
- Boltzmann (hard Q): Q̂ = (1/β') log π, R̂(s, a) = Q̂(s, a) − γ' Σ_{s'} τ'(s, a, s') max_{a'} Q̂(s', a').
  Q̂ is then the hard Q* of R̂ under (τ', γ'), and softmax(β' Q̂) = π.
- optimality: R̂(s, a) = 1[π(a|s) > 0].
"""

from __future__ import annotations

import numpy as np

from ..validation import check_real
from .mdp import check_gamma, check_policy, check_transitions

__all__ = ["mce_inverse", "boltzmann_inverse", "optimality_inverse"]


def _broadcast_next(r_sa, n_states):
    return np.repeat(r_sa[..., None], n_states, axis=-1)


def mce_inverse(policy, transitions, alpha):
    """R̂(s, a, s') = α' log π(a|s), shape (…, S, A, S).

    Parameters
    ----------
    policy : array_like, shape (S, A) or (B, S, A)
        Observed policy, strictly positive.
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
        Assumed τ' (only its shape is used: the inverse does not depend on τ' or γ').
    alpha : float
        Assumed entropy weight α' > 0.
    """
    tau = check_transitions(transitions, "transitions_assumed")
    pi = check_policy(policy, tau, positive=True)
    alpha = check_real("alpha", alpha, low=0.0, low_inclusive=False)
    return _broadcast_next(alpha * np.log(pi), tau.shape[-1])


def boltzmann_inverse(policy, transitions, gamma, beta):
    """Hard-Q Boltzmann inverse under assumed (τ', γ', β'), shape (…, S, A, S).

    Parameters
    ----------
    policy : array_like, shape (S, A) or (B, S, A)
        Observed policy, strictly positive.
    transitions : array_like, shape (S, A, S) or (B, S, A, S)
        Assumed transitions τ'.
    gamma : float
        Assumed discount γ' in [0, 1).
    beta : float
        Assumed inverse temperature β' > 0.
    """
    tau = check_transitions(transitions, "transitions_assumed")
    pi = check_policy(policy, tau, positive=True)
    gamma = check_gamma(gamma, "gamma_assumed")
    beta = check_real("beta", beta, low=0.0, low_inclusive=False)
    q_hat = np.log(pi) / beta
    r_sa = q_hat - gamma * np.einsum("...sat,...t->...sa", tau, q_hat.max(axis=-1))
    return _broadcast_next(r_sa, tau.shape[-1])


def optimality_inverse(policy, transitions):
    """R̂(s, a, s') = 1[π(a|s) > 0], shape (…, S, A, S) (τ' gives the shape only)."""
    tau = check_transitions(transitions, "transitions_assumed")
    pi = check_policy(policy, tau)
    return _broadcast_next((pi > 0).astype(float), tau.shape[-1])
