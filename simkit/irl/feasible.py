"""The worst case over the feasible set: how far from the truth can a reward IRL returns be?

Under an assumed model with discount γ' and transitions τ', every reward in

    F = { R̂(s, a, s') + γ'Φ(s') − Φ(s) + δ(s, a, s') :  Σ_{s'} τ'(s, a, s') δ(s, a, s') = 0 }

produces the observed policy (Boltzmann and MCE identify the reward only up to potential shaping
and S'-redistribution under the *assumed* τ', γ').  Measured with STARC-VAL relative to the *true*
(τ, γ), the canonical rewards of F form an affine set c(R̂) + range(L): the Φ directions
C(γ'T − E)Φ vanish exactly when γ' = γ, and the δ directions (one per (s, a), moving r̄(s, a)
along the part of τ(s, a, ·) orthogonal to τ'(s, a, ·)) vanish when τ' = τ.

:func:`worst_case_starc` maximises the STARC distance over (Φ, δ) with scipy's L-BFGS-B from
several starts (the closed-form inverse and random points) and reports the best member found,
rebuilt as an explicit (S, A, S) reward and measured with :func:`~simkit.irl.distances.starc_distance`.

:func:`feasible_supremum` gives the exact supremum: with û = c(R)/‖c(R)‖, P the projector on
range(L), a = û⊥·c(R̂)⊥, b = ‖Pû‖ and c = ‖c(R̂)⊥‖ (⊥: orthogonal to range(L)), the least cosine
between û and a member is g = −b when a ≥ 0 (approached as the member grows along −Pû) and
g = −sqrt(a² + b²c²)/c when a < 0; the supremum distance is sqrt((1 − g)/2).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize

from ..errors import ParameterError
from ..threads import one_blas_thread
from ..validation import check_int, check_real
from .distances import _starc, val_matrix
from .mdp import check_gamma, check_reward, check_transitions, expected_reward

__all__ = ["WorstCase", "feasible_directions", "feasible_supremum", "worst_case_starc"]

COLUMN_RTOL = 1e-10
MAXITER, FTOL, GTOL = 1000, 1e-15, 1e-14  # L-BFGS-B settings of the worst-case search


@dataclasses.dataclass(frozen=True)
class WorstCase:
    """Result of :func:`worst_case_starc` for one MDP.

    Attributes
    ----------
    distance : float
        STARC-VAL distance (in [0, 1]) of ``reward`` to the truth: the best the optimiser found.
    supremum : float
        Exact supremum of the distance over the feasible set (:func:`feasible_supremum`).
    reward : numpy.ndarray, shape (S, A, S)
        The feasible reward found.
    potential : numpy.ndarray, shape (S,)
        Its potential Φ.
    redistribution : numpy.ndarray, shape (S, A, S)
        Its S'-redistribution δ (Σ_{s'} τ' δ = 0).
    """

    distance: float
    supremum: float
    reward: np.ndarray
    potential: np.ndarray
    redistribution: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Directions:
    u: np.ndarray  # c(R_true), (SA,)
    v0: np.ndarray  # c(R_hat), (SA,)
    lmat: np.ndarray  # unit-norm columns, (SA, k)
    phi_of_y: np.ndarray  # (S, k): Φ = phi_of_y @ y
    theta_of_y: np.ndarray  # (SA, k): θ = theta_of_y @ y
    w_unit: np.ndarray  # (S, A, S): δ(s, a, ·) = θ(s, a) w_unit(s, a, ·)


def _directions(r, r_hat, tau, gamma, tau_a, gamma_a):
    n_states, n_actions, _ = tau.shape
    sa = n_states * n_actions
    cmat = val_matrix(tau, gamma)
    t = tau.reshape(sa, n_states)
    e = np.repeat(np.eye(n_states), n_actions, axis=0)
    phi_cols = cmat @ (gamma_a * t - e)  # canonical change per unit Φ(s)
    proj = np.sum(tau * tau_a, axis=-1) / np.sum(tau_a * tau_a, axis=-1)
    w = tau - proj[..., None] * tau_a  # part of τ(s, a, ·) orthogonal to τ'(s, a, ·)
    w2 = np.sum(w * w, axis=-1)
    active = np.sqrt(w2) > COLUMN_RTOL * np.sqrt(np.sum(tau * tau, axis=-1))
    w_unit = np.where(active[..., None], w / np.where(active, w2, 1.0)[..., None], 0.0)
    cols = np.concatenate([phi_cols, cmat[:, active.ravel()]], axis=1)
    norms = np.linalg.norm(cols, axis=0)
    keep = norms > COLUMN_RTOL * max(1.0, float(np.linalg.norm(cmat)))
    scale = np.where(keep, 1.0 / np.where(keep, norms, 1.0), 0.0)
    to_params = np.zeros((n_states + sa, cols.shape[1]))
    to_params[:n_states, :n_states] = np.eye(n_states)
    to_params[n_states + np.flatnonzero(active.ravel()), n_states + np.arange(int(active.sum()))] = 1.0
    to_params = (to_params * scale)[:, keep]
    u = cmat @ expected_reward(r, tau).ravel()
    if np.linalg.norm(u) <= 1e-12 * max(1.0, float(np.linalg.norm(r))):
        raise ParameterError("reward_true is trivial under (transitions, gamma): its canonical reward is 0")
    return _Directions(
        u=u,
        v0=cmat @ expected_reward(r_hat, tau).ravel(),
        lmat=(cols * scale)[:, keep],
        phi_of_y=to_params[:n_states],
        theta_of_y=to_params[n_states:],
        w_unit=w_unit,
    )


def _validate(reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed):
    tau = check_transitions(transitions)
    tau_a = check_transitions(transitions_assumed, "transitions_assumed")
    if tau.ndim != 3 or tau_a.shape != tau.shape:
        raise ParameterError("worst case: transitions and transitions_assumed must both have shape (S, A, S) (one MDP)")
    r = check_reward(reward_true, tau, "reward_true")
    r_hat = check_reward(reward_hat, tau, "reward_hat")
    if r.ndim != 3 or r_hat.ndim != 3:
        raise ParameterError("worst case: rewards must have shape (S, A, S) (one MDP)")
    return r, r_hat, tau, check_gamma(gamma), tau_a, check_gamma(gamma_assumed, "gamma_assumed")


def feasible_directions(reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed):
    """Canonical (VAL, true τ, γ) rewards of the truth and of R̂, and the feasible directions.

    Returns
    -------
    u : numpy.ndarray, shape (S·A,)
        c(R_true).
    v0 : numpy.ndarray, shape (S·A,)
        c(R̂).
    directions : numpy.ndarray, shape (S·A, k)
        Unit-norm canonical changes spanning range(L) (k = 0 when γ' = γ and τ' = τ).
    """
    d = _directions(*_validate(reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed))
    return d.u, d.v0, d.lmat


def _supremum(u, v0, lmat):
    u_hat = u / np.linalg.norm(u)
    if lmat.shape[1]:
        left, sing, _ = np.linalg.svd(lmat, full_matrices=False)
        basis = left[:, sing > COLUMN_RTOL * sing.max()]
    else:
        basis = np.zeros((u.size, 0))
    u_par = basis @ (basis.T @ u_hat)
    v_perp = v0 - basis @ (basis.T @ v0)
    a = float((u_hat - u_par) @ v_perp)
    b = float(np.linalg.norm(u_par))
    c = float(np.linalg.norm(v_perp))
    if basis.shape[1] == 0:
        g = float(u_hat @ v0) / c if c > 0 else 0.0  # nothing to move: the member is R̂ itself
    elif c <= COLUMN_RTOL * max(1.0, float(np.linalg.norm(v0))):
        g = -b if b > 0 else 0.0  # s(0) = 0: the zero reward sits at cosine 0
    elif a >= 0:
        g = min(-b, a / c)
    else:
        g = -np.sqrt(a * a + b * b * c * c) / c
    return float(np.sqrt(np.clip((1.0 - g) / 2.0, 0.0, 1.0)))


def feasible_supremum(reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed):
    """Exact supremum of the STARC-VAL distance to the truth over the feasible set (see module docstring).

    Parameters
    ----------
    reward_true, reward_hat : array_like, shape (S, A, S)
        The true reward and the closed-form inverse under the assumed model.
    transitions : array_like, shape (S, A, S)
        True τ (the distance is relative to the true τ, γ).
    gamma : float
        True discount.
    transitions_assumed : array_like, shape (S, A, S)
        Assumed τ'.
    gamma_assumed : float
        Assumed γ'.

    Returns
    -------
    float
        In [0, 1].
    """
    return _supremum(
        *feasible_directions(reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed)
    )


def _cosine_and_grad(y, u_hat, v0, lmat):
    # elementwise products instead of BLAS gemv: multithreaded BLAS on tiny matrices is slow on busy machines
    v = v0 + (lmat * y).sum(axis=1)
    n = np.sqrt((v * v).sum())
    if n == 0.0:
        return 0.0, np.zeros_like(y)
    v_hat = v / n
    g = float((u_hat * v_hat).sum())
    return g, (lmat * ((u_hat - g * v_hat) / n)[:, None]).sum(axis=0)


def worst_case_starc(
    reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed, *, rng, restarts=4, bound=1e4
) -> WorstCase:
    """Maximise the STARC-VAL distance to the truth over the feasible set with L-BFGS-B.

    Parameters
    ----------
    reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed
        As in :func:`feasible_supremum`.
    rng : numpy.random.Generator
        Draws the random starting points (build it from the replication's stream).
    restarts : int
        Number of starts: the first is R̂ itself, the others random (≥ 1).
    bound : float
        Box |y_j| ≤ bound·max(‖c(R̂)‖, ‖c(R)‖) on the coordinates along unit-norm canonical
        directions (the supremum may only be approached as members grow).

    Returns
    -------
    WorstCase
    """
    restarts = check_int("restarts", restarts, low=1)
    bound = check_real("bound", bound, low=0.0, low_inclusive=False)
    r, r_hat, tau, gamma, tau_a, gamma_a = _validate(
        reward_true, reward_hat, transitions, gamma, transitions_assumed, gamma_assumed
    )
    with one_blas_thread():
        return _worst_case(r, r_hat, tau, gamma, tau_a, gamma_a, rng, restarts, bound)


def _worst_case(r, r_hat, tau, gamma, tau_a, gamma_a, rng, restarts, bound):
    d = _directions(r, r_hat, tau, gamma, tau_a, gamma_a)
    sup = _supremum(d.u, d.v0, d.lmat)
    k = d.lmat.shape[1]
    best_y = np.zeros(k)
    if k:
        u_hat = d.u / np.linalg.norm(d.u)
        size = max(float(np.linalg.norm(d.v0)), float(np.linalg.norm(d.u)))
        box = [(-bound * size, bound * size)] * k
        best_g = _cosine_and_grad(best_y, u_hat, d.v0, d.lmat)[0]
        for i in range(restarts):
            y0 = np.zeros(k) if i == 0 else rng.normal(size=k) * size * 10.0 ** (i % 3)
            res = optimize.minimize(
                _cosine_and_grad,
                y0,
                args=(u_hat, d.v0, d.lmat),
                jac=True,
                method="L-BFGS-B",
                bounds=box,
                options={"maxiter": MAXITER, "ftol": FTOL, "gtol": GTOL},
            )
            if res.fun < best_g:
                best_g, best_y = float(res.fun), res.x
    n_states, n_actions, _ = tau.shape
    phi = d.phi_of_y @ best_y
    theta = (d.theta_of_y @ best_y).reshape(n_states, n_actions)
    delta = theta[..., None] * d.w_unit
    member = r_hat + gamma_a * phi[None, None, :] - phi[:, None, None] + delta
    distance = float(_starc(r, member, tau, gamma))
    return WorstCase(distance, sup, member, phi, delta)
