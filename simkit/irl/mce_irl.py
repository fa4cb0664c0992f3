"""Gradient-based maximal-causal-entropy IRL with a state-only reward, under an assumed model.

A practitioner observes the expert in the true environment, computes its discounted state
visitation d_E(s) = Σ_t γ'^t P(s_t = s) with the **assumed** discount γ' (exact expectations here,
i.e. infinitely many demonstrations), and fits a state-only reward R_θ(s, a, s') = θ(s) so that the
MCE policy of R_θ under the **assumed** (τ', γ', α') visits states as the expert does.  It maximises
the concave MCE-IRL dual

    F(θ) = θ·d_E − μ₀·V_θ − (l2/2)‖θ‖²,     ∇F(θ) = d_E − d_θ − l2·θ,

where V_θ is the soft value of R_θ (soft value iteration under τ', γ', α') and d_θ the discounted
state visitation of its MCE policy under τ' (the gradient is the visitation mismatch by the
envelope theorem).  The small ridge ``l2`` keeps θ finite when no state-only reward matches d_E
(e.g. under τ' ≠ τ) and fixes the constant shift that F ignores.  scipy's L-BFGS-B does the ascent.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize

from ..backends import DEFAULT_BACKEND, check_backend
from ..errors import ParameterError
from ..threads import one_blas_thread
from ..validation import check_int, check_real
from .mdp import check_gamma, check_initial, check_policy, check_transitions
from .models import softmax
from .solvers import _occupancy, bellman

__all__ = ["MCEIRLResult", "mce_irl"]


@dataclasses.dataclass(frozen=True)
class MCEIRLResult:
    """Result of :func:`mce_irl`.

    Attributes
    ----------
    theta : numpy.ndarray, shape (S,)
        Fitted state reward θ(s) (reward units).
    reward : numpy.ndarray, shape (S, A, S)
        R(s, a, s') = θ(s).
    visitation_gap : float
        ‖d_E − d_θ‖₁ / ‖d_E‖₁ at the fit (0 when the visitations match).
    iterations : int
        L-BFGS-B iterations.
    converged : bool
        Whether L-BFGS-B reported convergence.
    """

    theta: np.ndarray
    reward: np.ndarray
    visitation_gap: float
    iterations: int
    converged: bool


def mce_irl(
    policy,
    transitions,
    transitions_assumed,
    gamma_assumed,
    alpha=1.0,
    initial=None,
    *,
    l2=1e-3,
    tol=1e-8,
    max_iter=500,
    backend=DEFAULT_BACKEND,
) -> MCEIRLResult:
    """Fit a state-only reward to an expert policy by MCE-IRL under an assumed model.

    Parameters
    ----------
    policy : array_like, shape (S, A)
        The expert's policy (observed in the true environment).
    transitions : array_like, shape (S, A, S)
        True τ (generates the expert's visitation).
    transitions_assumed : array_like, shape (S, A, S)
        τ' assumed by the IRL method.
    gamma_assumed : float
        γ' in [0, 1), used for the visitation counts and the soft values.
    alpha : float
        Assumed entropy weight α' > 0.
    initial : array_like, shape (S,), optional
        μ₀ (uniform by default).
    l2 : float
        Ridge weight (≥ 0) on θ.
    tol : float
        Soft value iteration tolerance.
    max_iter : int
        L-BFGS-B iterations at most.
    backend : {"numba", "numpy", "cuda", "auto"}
        Backend of the inner soft value iterations (:func:`simkit.backends.check_backend`).

    Returns
    -------
    MCEIRLResult
    """
    backend = check_backend(backend)
    tau = check_transitions(transitions)
    tau_a = check_transitions(transitions_assumed, "transitions_assumed")
    if tau.ndim != 3 or tau_a.shape != tau.shape:
        raise ParameterError("mce_irl: transitions and transitions_assumed must both have shape (S, A, S)")
    pi = check_policy(policy, tau)
    gamma = check_gamma(gamma_assumed, "gamma_assumed")
    alpha = check_real("alpha", alpha, low=0.0, low_inclusive=False)
    l2 = check_real("l2", l2, low=0.0)
    max_iter = check_int("max_iter", max_iter, low=1)
    n_states, n_actions, _ = tau.shape
    mu = check_initial(initial, n_states)
    d_expert = _occupancy(tau, pi, gamma, mu).sum(axis=-1)
    tau_a = np.ascontiguousarray(tau_a)
    warm = {"v": np.zeros(n_states)}

    def negative_dual(theta):
        rbar = np.repeat(theta[:, None], n_actions, axis=1)
        q, v = bellman(tau_a, rbar, gamma, alpha, tol=tol, v0=warm["v"], backend=backend)
        warm["v"] = v
        d_theta = _occupancy(tau_a, softmax(q / alpha), gamma, mu).sum(axis=-1)
        value = theta @ d_expert - mu @ v - 0.5 * l2 * theta @ theta
        return -value, -(d_expert - d_theta - l2 * theta)

    with one_blas_thread():
        res = optimize.minimize(
            negative_dual,
            np.zeros(n_states),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9},
        )
    theta = res.x
    rbar = np.repeat(theta[:, None], n_actions, axis=1)
    q, _ = bellman(tau_a, rbar, gamma, alpha, tol=tol, backend=backend)
    d_theta = _occupancy(tau_a, softmax(q / alpha), gamma, mu).sum(axis=-1)
    gap = float(np.abs(d_expert - d_theta).sum() / d_expert.sum())
    reward = np.broadcast_to(theta[:, None, None], (n_states, n_actions, n_states)).copy()
    return MCEIRLResult(theta, reward, gap, int(res.nit), bool(res.success))
