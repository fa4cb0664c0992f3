"""Theory of ``preference-doubly-robust``: DM, IS and DR preference estimators.

One prompt with ``K = 6`` responses of "length" ``φ(y) = y/5``; a verbose reference (logging)
policy ``π_ref ∝ exp(2.5 φ)``; true preference ``P*(y ≻ y') = σ(s(y) − s(y'))`` with
``s(y) = −12 (φ(y) − 0.45)²``; logged triples ``(y, y', L)``, ``y, y' ~ π_ref`` independent,
``L ~ Bernoulli(P*(y ≻ y'))``.  The value of a policy is ``V(π) = Σ_y π(y) r*(y)`` with
``r* = P* π_ref``; the aligned policy maximises ``J(π) = V(π) − β KL(π‖π_ref)``:
``π* = softmax(log π_ref + r*/β)``.

Nuisance models (fixed population fits, not fitted to the logged data):

* preference ``"correct"``: the saturated BT fit (one score per response; equals ``P*``);
  ``"bt-linear"``: ``P_θ(y ≻ y') = σ(θ(φ(y) − φ(y')))`` at the population MLE ``θ̄``;
* propensity ``"correct"``: ``μ̂ = π_ref``; ``"tempered"``: ``μ̂ ∝ π_ref^τ``.

Every estimator averages a per-triple vector ``ψ ∈ R^K`` (a table over the 72 outcomes
``o = 12y + 2y' + L``), so means, biases and SDs are exact (enumeration); the regret's ``1/n``
coefficient is a second-order delta method (asymptotic).  The instantiation and the derivations
are ours, derived from the abstract of Xu, Ye, Zhou, Zhu, Quinzan, Shi, arXiv:2506.01183.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy.special import expit, log_softmax, logsumexp, softmax

from ..errors import ConvergenceError, ParameterError

__all__ = [
    "K_RESPONSES",
    "PREFERENCE_MODELS",
    "PROPENSITIES",
    "ESTIMATORS",
    "TAU_MAX",
    "lengths",
    "reference_policy",
    "true_scores",
    "true_preference",
    "reference_score",
    "aligned_policy",
    "aligned_objective",
    "fit_bt_linear",
    "fit_bt_saturated",
    "preference_matrix",
    "log_propensity",
    "outcomes",
    "psi_table",
    "DRTheory",
    "dr_theory",
    "check_tau",
    "check_beta",
]

K_RESPONSES = 6
PREFERENCE_MODELS = ("correct", "bt-linear")
PROPENSITIES = ("correct", "tempered")
ESTIMATORS = ("dm", "is", "dr")
#: Largest reference-temperature mismatch accepted (the largest weight grows like e^{2.5 τ}).
TAU_MAX = 50.0
_REF_SLOPE = 2.5
_SCORE = (12.0, 0.45)


def check_tau(tau):
    """``tau`` must be finite and in (0, 50]."""
    tau = float(tau)
    if not (math.isfinite(tau) and 0 < tau <= TAU_MAX):
        raise ParameterError(f"tau must be in (0, {TAU_MAX:g}], got {tau!r}")
    return tau


def check_beta(beta):
    """``beta`` must be finite and > 0."""
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise ParameterError(f"beta must be > 0, got {beta!r}")
    return beta


def lengths():
    """Length feature ``φ(y) = y/5``, shape ``(6,)``."""
    return np.arange(K_RESPONSES) / (K_RESPONSES - 1)


def reference_policy():
    """``π_ref ∝ exp(2.5 φ)``, shape ``(6,)`` (probabilities)."""
    return softmax(_REF_SLOPE * lengths())


def true_scores():
    """``s(y) = −12 (φ(y) − 0.45)²``, shape ``(6,)``."""
    a, b = _SCORE
    return -a * (lengths() - b) ** 2


def true_preference():
    """``P*[y, y'] = σ(s(y) − s(y'))``, shape ``(6, 6)``, with ``P*(y ≻ y) = ½``."""
    s = true_scores()
    return expit(s[:, None] - s[None, :])


def reference_score(pref):
    """``r(y) = Σ_y' π_ref(y') P(y ≻ y')`` for a preference matrix ``pref`` (6, 6), shape ``(6,)``."""
    return pref @ reference_policy()


def aligned_policy(score, beta):
    """``softmax(log π_ref + score/β)``, shape ``(6,)``: the maximiser of ``π·score − β KL(π‖π_ref)``."""
    return softmax(np.log(reference_policy()) + np.asarray(score) / beta)


def aligned_objective(beta):
    """``J(π*) = β log Σ π_ref e^{r*/β}`` (preference units)."""
    return float(beta * logsumexp(np.log(reference_policy()) + reference_score(true_preference()) / beta))


def _pair_weights():
    ref = reference_policy()
    return np.outer(ref, ref)


def fit_bt_linear(*, tol=1e-12, max_iter=100):
    """Population MLE ``θ̄`` of ``P_θ(y ≻ y') = σ(θ(φ(y) − φ(y')))`` under ``y, y' ~ π_ref`` (1-D Newton from 0)."""
    w = _pair_weights()
    p = true_preference()
    dphi = lengths()[:, None] - lengths()[None, :]
    theta = 0.0
    for _ in range(max_iter):
        s = expit(theta * dphi)
        grad = np.sum(w * (p - s) * dphi)  # d loglik / dθ
        hess = -np.sum(w * s * (1 - s) * dphi**2)
        step = -grad / hess
        theta += step
        if abs(step) <= tol:
            return float(theta)
    raise ConvergenceError("bt-linear population fit did not converge")


def fit_bt_saturated(*, tol=1e-14, max_iter=100):
    """Population MLE of the saturated BT model (one score per response, ``θ_0 = 0``), shape ``(6,)``.

    Newton on the five free scores with step halving on the population log-likelihood.
    """
    w = _pair_weights()
    p = true_preference()

    def loglik(t):
        d = t[:, None] - t[None, :]
        return float(np.sum(w * (p * -np.logaddexp(0, -d) + (1 - p) * -np.logaddexp(0, d))))

    theta = np.zeros(K_RESPONSES)
    for _ in range(max_iter):
        d = theta[:, None] - theta[None, :]
        s = expit(d)
        ws = w + w.T
        grad = np.sum(w * (p - s), axis=1) - np.sum(w * (p - s), axis=0)
        h = ws * s * (1 - s)
        hess = -(np.diag(h.sum(axis=1)) - h)
        step = np.zeros(K_RESPONSES)
        step[1:] = -np.linalg.solve(hess[1:, 1:], grad[1:])
        t, base = 1.0, loglik(theta)
        while loglik(theta + t * step) < base - 1e-15 and t > 1e-8:
            t *= 0.5
        theta = theta + t * step
        if np.max(np.abs(t * step)) <= tol:
            return theta
    raise ConvergenceError("saturated BT population fit did not converge")


def preference_matrix(model):
    """The preference model's ``P̂[y, y']``, shape ``(6, 6)``: saturated fit (``correct``) or ``bt-linear``."""
    if model == "correct":
        t = fit_bt_saturated()
        return expit(t[:, None] - t[None, :])
    if model == "bt-linear":
        dphi = lengths()[:, None] - lengths()[None, :]
        return expit(fit_bt_linear() * dphi)
    raise ParameterError(f"preference_model must be one of {', '.join(PREFERENCE_MODELS)}; got {model!r}")


def log_propensity(model, tau):
    """``log μ̂``, shape ``(6,)``: ``log π_ref`` (``correct``) or ``τ log π_ref − logsumexp(τ log π_ref)``."""
    lr = np.log(reference_policy())
    if model == "correct":
        return lr
    if model == "tempered":
        tau = check_tau(tau)
        if tau == 1.0:  # π_ref^1 / Σ π_ref = π_ref exactly: no rounding from renormalising
            return lr
        return log_softmax(tau * lr)
    raise ParameterError(f"propensity must be one of {', '.join(PROPENSITIES)}; got {model!r}")


def outcomes():
    """The 72 outcomes ``o = 12y + 2y' + L``: arrays ``y, y', L`` (int) and probabilities ``p_o``, each shape ``(72,)``."""
    o = np.arange(12 * K_RESPONSES)
    y, rest = np.divmod(o, 2 * K_RESPONSES)
    y2, lab = np.divmod(rest, 2)
    ref = reference_policy()
    ps = true_preference()[y, y2]
    prob = ref[y] * ref[y2] * np.where(lab == 1, ps, 1 - ps)
    return y, y2, lab, prob


def psi_table(estimator, pref, log_mu):
    """Per-outcome contributions ``Ψ[o, k]`` of one estimator, shape ``(72, 6)``.

    ``dm``: ``P̂(k ≻ y')``; ``is``: ``1{y = k} L / μ̂(k)``; ``dr``: ``P̂(k ≻ y') + 1{y = k}(L − P̂(y ≻ y'))/μ̂(k)``.
    ``pref`` is P̂ (6, 6) and ``log_mu`` is log μ̂ (6,).
    """
    y, y2, lab, _ = outcomes()
    inv_mu = np.exp(-np.asarray(log_mu))
    onehot = (y[:, None] == np.arange(K_RESPONSES)[None, :]).astype(float)
    dm = pref[:, y2].T
    if estimator == "dm":
        return dm
    if estimator == "is":
        return onehot * (lab * inv_mu[y])[:, None]
    if estimator == "dr":
        return dm + onehot * ((lab - pref[y, y2]) * inv_mu[y])[:, None]
    raise ParameterError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")


@dataclasses.dataclass(frozen=True)
class DRTheory:
    """Theory of one (tau, beta) cell; arrays indexed ``[preference_model, propensity, estimator]``.

    Attributes
    ----------
    psi : numpy.ndarray, shape (2, 2, 3, 72, 6)
        The estimators' per-outcome tables Ψ.
    true_value, regret_reference, objective : float
        ``V(π*)``, ``β KL(π_ref‖π*)`` and ``J(π*)`` (exact).
    bias, sd1 : numpy.ndarray, shape (2, 2, 3)
        Exact bias of ``V̂(π*)`` and its per-triple SD (``SD = sd1/√n``).
    floor, coef, grad_var, quad_var : numpy.ndarray, shape (2, 2, 3)
        Regret floor ``β KL(π∞‖π*)`` (exact), ``C = tr(HΣ)/(2β)``, ``gᵀΣg`` and ``tr((HΣ)²)/(2β²)``.
    limit_policy : numpy.ndarray, shape (2, 2, 3, 6)
        ``π∞``.
    consistent : numpy.ndarray of bool, shape (2, 2, 3)
        Whether ``A∞ − r*`` is constant (floor 0).
    """

    tau: float
    beta: float
    theta_bar: float
    pi_star: np.ndarray
    psi: np.ndarray
    true_value: float
    regret_reference: float
    objective: float
    bias: np.ndarray
    sd1: np.ndarray
    floor: np.ndarray
    coef: np.ndarray
    grad_var: np.ndarray
    quad_var: np.ndarray
    limit_policy: np.ndarray
    consistent: np.ndarray

    def regret_theory(self, n):
        """``regret_floor + C/n`` (asymptotic), shape ``(2, 2, 3, len(n))``."""
        n = np.asarray(n, dtype=float)
        return self.floor[..., None] + self.coef[..., None] / n

    def regret_sd(self, n):
        """``sqrt(gᵀΣg/n + tr((HΣ)²)/(2β²n²))`` (asymptotic), shape ``(2, 2, 3, len(n))``."""
        n = np.asarray(n, dtype=float)
        return np.sqrt(self.grad_var[..., None] / n + self.quad_var[..., None] / n**2)


@functools.lru_cache(maxsize=64)
def dr_theory(tau, beta):
    """Exact and asymptotic theory for one (tau, beta) cell (cached).

    Parameters
    ----------
    tau : float
        Reference-temperature mismatch of the tempered propensity, in (0, 50].
    beta : float
        KL weight β > 0.

    Returns
    -------
    DRTheory
    """
    tau, beta = check_tau(tau), check_beta(beta)
    ref = reference_policy()
    r_star = reference_score(true_preference())
    pi_star = aligned_policy(r_star, beta)
    log_pi_star = np.log(pi_star)
    true_value = float(pi_star @ r_star)
    _, _, _, prob = outcomes()
    shape = (len(PREFERENCE_MODELS), len(PROPENSITIES), len(ESTIMATORS))
    psi = np.empty(shape + (prob.size, K_RESPONSES))
    out = {k: np.empty(shape) for k in ("bias", "sd1", "floor", "coef", "grad_var", "quad_var")}
    limit = np.empty(shape + (K_RESPONSES,))
    consistent = np.empty(shape, dtype=bool)
    prefs = {m: preference_matrix(m) for m in PREFERENCE_MODELS}
    for a, pm in enumerate(PREFERENCE_MODELS):
        for b, prop in enumerate(PROPENSITIES):
            log_mu = log_propensity(prop, tau)
            for c, est in enumerate(ESTIMATORS):
                table = psi_table(est, prefs[pm], log_mu)
                psi[a, b, c] = table
                mean = prob @ table  # A∞
                centred = table - mean
                sigma = (centred * prob[:, None]).T @ centred  # Cov ψ
                out["bias"][a, b, c] = pi_star @ mean - true_value
                out["sd1"][a, b, c] = math.sqrt(max(float(pi_star @ sigma @ pi_star), 0.0))
                u = (mean - r_star) / beta
                consistent[a, b, c] = bool(np.ptp(u) * beta < 1e-12)
                pi_inf = aligned_policy(mean, beta)
                limit[a, b, c] = pi_inf
                out["floor"][a, b, c] = max(0.0, beta * float(pi_inf @ (np.log(pi_inf) - log_pi_star)))
                jac = np.diag(pi_inf) - np.outer(pi_inf, pi_inf)
                v = pi_inf * (u - pi_inf @ u)
                hess = jac + np.diag(v) - np.outer(v, pi_inf) - np.outer(pi_inf, v)
                hs = hess @ sigma
                g = jac @ u
                out["coef"][a, b, c] = float(np.trace(hs)) / (2 * beta)
                out["grad_var"][a, b, c] = float(g @ sigma @ g)
                out["quad_var"][a, b, c] = float(np.trace(hs @ hs)) / (2 * beta**2)
    regret_reference = beta * float(ref @ (np.log(ref) - log_pi_star))
    return DRTheory(
        tau,
        beta,
        fit_bt_linear(),
        pi_star,
        psi,
        true_value,
        regret_reference,
        aligned_objective(beta),
        out["bias"],
        out["sd1"],
        out["floor"],
        out["coef"],
        out["grad_var"],
        out["quad_var"],
        limit,
        consistent,
    )
