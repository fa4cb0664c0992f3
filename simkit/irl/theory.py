r"""Closed-form predictions for the closed-form inverses under a misspecified model.

After Skalse & Abate, "Quantifying the Sensitivity of Inverse Reinforcement Learning to
Misspecification" (ICLR 2024), with distances from Skalse et al., "STARC" (ICLR 2024).

Hard-Q Boltzmann inverse under an assumed :math:`(\tau', \gamma', \beta' = \beta)`: with
:math:`Q^*` the true optimal Q, :math:`V^* = \max_a Q^*` and
:math:`c(s) = \frac1\beta \log \sum_a \exp(\beta Q^*(s, a))`, the inverse
:math:`\hat Q = \frac1\beta \log \pi = Q^* - c` gives

.. math::

   \hat R = \hat Q - \gamma'\tau' \max \hat Q
          = \bar r + (\gamma\tau - \gamma'\tau')(V^* - c) + \big[\gamma\tau c - c\big],

and the bracket is a potential shaping under the *true* :math:`(\tau, \gamma)`, so :math:`\hat R`
is equivalent to the state-action reward :math:`\bar r + e` with the error term

.. math::

   e = (\gamma\tau - \gamma'\tau')(V^* - c).

For :math:`\gamma' \ne \gamma` (:math:`\tau' = \tau`) this is :math:`(\gamma - \gamma')\,\tau(V^* - c)`;
for :math:`\tau' = (1 - \lambda)\tau + \lambda\tau_r` (:math:`\gamma' = \gamma`) it is
:math:`\lambda\gamma(\tau - \tau_r)(V^* - c)`: both linear in the size of the misspecification,
and :math:`V^* - c \in [-\log A / \beta, 0]` keeps them small.
"""

from __future__ import annotations

import numpy as np

from .distances import _starc
from .mdp import expected_reward, state_action_reward
from .solvers import bellman

__all__ = ["boltzmann_error_term", "boltzmann_starc_theory"]


def boltzmann_error_term(transitions, reward, gamma, beta, transitions_assumed, gamma_assumed, *, backend="numpy"):
    r"""e(s, a) = Σ_{s'} (γ τ − γ' τ')(s, a, s') (V* − c)(s'), shape (S, A) (reward units).

    .. math::

       e(s, a) = \sum_{s'} \big(\gamma\,\tau - \gamma'\tau'\big)(s, a, s')\,\big(V^* - c\big)(s'), \qquad c(s) = \frac1\beta \log \sum_a e^{\beta Q^*(s, a)}

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
    r"""Predicted STARC-VAL distance of the hard-Q Boltzmann inverse: d(R, r̄ + e) under the true (τ, γ).

    .. math::

       d_{\text{STARC}}\big(R,\; \bar r + e\big) \text{ under the true } (\tau, \gamma)
    """
    e = boltzmann_error_term(transitions, reward, gamma, beta, transitions_assumed, gamma_assumed, backend=backend)
    equivalent = state_action_reward(expected_reward(reward, transitions) + e)
    return float(_starc(reward, equivalent, transitions, gamma))
