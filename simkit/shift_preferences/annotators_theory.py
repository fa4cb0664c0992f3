"""Theory of ``preference-annotators``: Bradley–Terry reward learning as density estimation.

Everything here is deterministic (no randomness): the items and rewards of the toy, the win
probabilities of the six annotators, the population Bradley–Terry fit ``θ∞`` (the BT projection),
its density ``p∞ = softmax(θ∞)``, the floor ``KL(p*‖p∞)`` (exact) and the first-order
coefficients ``c_proj``, ``c_truth`` of ``E[kl_projection] = c_proj/n`` and
``E[kl_truth] = KL(p*‖p∞) + c_truth/n`` (asymptotic, O(n⁻²) remainder).

Notation: pairs ``{i < j}`` are drawn uniformly, each with weight ``w = 1/M``,
``M = K(K−1)/2``; ``u = e_i − e_j``; ``d_ij = θ∞_i − θ∞_j``;

* ``A = w Σ σ'_ij uuᵀ`` (information per comparison), ``J = w Σ [P(1−P) + (P − σ)²] uuᵀ``
  (score covariance), ``V = A⁺ J A⁺`` (sandwich);
* ``F = diag(p∞) − p∞p∞ᵀ``; ``c_proj = ½ tr(F V)``;
* ``β = A⁺[−λθ∞ − w Σ σ'(P − σ)(uᵀA⁺u) u − ½ w Σ σ''(uᵀVu) u]`` (the ``O(1/n)`` mean of
  ``θ̂ − θ∞``, ridge ``λ`` included) and ``c_truth = c_proj + (p∞ − p*)ᵀβ``;
* mixture-ids: ``c_ids = ¼ Σ_g tr(D*⁻¹ F_g A_g⁺ F_g)``.

The instantiation (items on [−1, 1], quadratic rewards, tempered/probit/mixture annotators,
uniform pairs) and all formulas are ours, derived from the paper's abstract (Dumoulin et al.,
arXiv:2311.14115).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy.special import expit, log_softmax, softmax
from scipy.stats import norm

from ..errors import ConvergenceError, ParameterError
from ..validation import check_int

__all__ = [
    "ANNOTATORS",
    "RIDGE",
    "PROBIT_SCALE",
    "SINGLE_REWARD",
    "GROUP_REWARD",
    "K_RANGE",
    "AnnotatorTheory",
    "items",
    "single_reward",
    "group_rewards",
    "target_density",
    "group_densities",
    "win_probabilities",
    "population_fit",
    "pseudo_inverse_laplacian",
    "bt_information",
    "annotator_theory",
    "kl_divergence",
    "tempered_floor",
    "crossover_n",
]

#: The six annotator models, in the study's order.
ANNOTATORS = ("luce", "tempered-2", "tempered-0.5", "probit", "mixture", "mixture-ids")
#: Ridge (MAP prior precision) of the learner: a N(0, 1/λ) prior on each θ_k.
RIDGE = 0.1
#: Probit slope s = √(π/8): Φ(sΔ) has the logistic's slope ¼ at ties.
PROBIT_SCALE = math.sqrt(math.pi / 8.0)
#: Single annotator's reward r*_k = −a (x_k − b)²: (a, b).
SINGLE_REWARD = (3.0, 0.25)
#: Group rewards r^A_k = −a (x_k − b)², r^B_k = −a (x_k + b)²: (a, b).
GROUP_REWARD = (4.0, 0.6)
#: Allowed numbers of items (inclusive).
K_RANGE = (3, 50)

_TEMPER = {"tempered-2": 2.0, "tempered-0.5": 0.5}


def _check_k(K):
    return check_int("K", K, low=K_RANGE[0], high=K_RANGE[1])


def _check_annotator(annotator):
    if annotator not in ANNOTATORS:
        raise ParameterError(f"annotator must be one of {', '.join(ANNOTATORS)}; got {annotator!r}")
    return annotator


def items(K):
    """Item positions ``x_k = −1 + 2k/(K−1)``, shape ``(K,)`` (dimensionless)."""
    K = _check_k(K)
    return -1.0 + 2.0 * np.arange(K) / (K - 1)


def single_reward(K):
    """The single annotator's reward ``r*_k = −3 (x_k − 1/4)²``, shape ``(K,)``, in nats."""
    a, b = SINGLE_REWARD
    return -a * (items(K) - b) ** 2


def group_rewards(K):
    """The two groups' rewards ``r^A = −4 (x − 0.6)²``, ``r^B = −4 (x + 0.6)²``, shape ``(2, K)``, nats."""
    a, b = GROUP_REWARD
    x = items(K)
    return np.stack([-a * (x - b) ** 2, -a * (x + b) ** 2])


def group_densities(K):
    """``p_A = softmax(r^A)``, ``p_B = softmax(r^B)``, shape ``(2, K)``."""
    return softmax(group_rewards(K), axis=-1)


def target_density(K, annotator):
    """The density the learner should recover, ``p*``, shape ``(K,)``.

    ``softmax(r*)`` for the single annotators; the mixture ``½p_A + ½p_B`` for ``mixture`` and
    ``mixture-ids``.
    """
    annotator = _check_annotator(annotator)
    if annotator.startswith("mixture"):
        return group_densities(K).mean(axis=0)
    return softmax(single_reward(K))


def _diff(r):
    return r[..., :, None] - r[..., None, :]


def win_probabilities(K, annotator):
    """Per-group win probabilities ``P[g, i, j] = P(i ≻ j)``, shape ``(G, K, K)``.

    ``G = 1`` for the single annotators, ``G = 2`` (groups A, B, chosen with probability ½ each)
    for ``mixture`` and ``mixture-ids``; the pooled learner sees ``P.mean(0)``.  The diagonal is ½.
    """
    annotator = _check_annotator(annotator)
    if annotator.startswith("mixture"):
        return expit(_diff(group_rewards(K)))
    delta = _diff(single_reward(K))
    if annotator == "luce":
        p = expit(delta)
    elif annotator in _TEMPER:
        p = expit(_TEMPER[annotator] * delta)
    else:  # probit
        p = norm.cdf(PROBIT_SCALE * delta)
    return p[None]


def pseudo_inverse_laplacian(a):
    """``A⁺ = (A + 11ᵀ/K)⁻¹ − 11ᵀ/K`` for a Laplacian-like ``A`` (null space ``1``), shape ``(K, K)``."""
    k = a.shape[-1]
    ones = np.full((k, k), 1.0 / k)
    return np.linalg.inv(a + ones) - ones


def _laplacian(s):
    return np.diag(s.sum(axis=-1)) - s


def population_fit(p, *, tol=1e-13, max_iter=100):
    """The population Bradley–Terry fit ``θ∞`` (centred), shape ``(K,)``.

    Maximises ``Σ_{i<j} [P_ij log σ(θ_i−θ_j) + (1−P_ij) log σ(θ_j−θ_i)]`` (no ridge) by Newton with the
    pseudo-inverse of the Laplacian Hessian, from ``θ = 0``, until ``‖step‖∞ < tol``.

    Parameters
    ----------
    p : numpy.ndarray, shape (K, K)
        Win probabilities with ``P_ij + P_ji = 1`` and ``0 < P_ij < 1``.
    """
    p = np.asarray(p, dtype=float)
    k = p.shape[0]
    theta = np.zeros(k)
    offdiag = ~np.eye(k, dtype=bool)
    for _ in range(max_iter):
        s = expit(_diff(theta))
        grad = -np.where(offdiag, p - s, 0.0).sum(axis=1)
        hess = _laplacian(np.where(offdiag, s * (1 - s), 0.0))
        step = pseudo_inverse_laplacian(hess) @ grad
        big = np.max(np.abs(step))
        theta = theta - step * min(1.0, 5.0 / big) if big > 0 else theta
        if big < tol:
            return theta - theta.mean()
    raise ConvergenceError(f"population Bradley-Terry fit: no convergence in {max_iter} Newton steps")


def bt_information(theta, p):
    """Per-comparison information ``A``, score covariance ``J`` and sandwich ``V = A⁺JA⁺``.

    Parameters
    ----------
    theta : numpy.ndarray, shape (K,)
        The point of expansion (the population fit).
    p : numpy.ndarray, shape (K, K)
        The annotator's win probabilities.

    Returns
    -------
    a, a_pinv, j, v : numpy.ndarray, each shape (K, K)
    """
    k = theta.size
    w = 2.0 / (k * (k - 1))
    offdiag = ~np.eye(k, dtype=bool)
    s = expit(_diff(theta))
    a = w * _laplacian(np.where(offdiag, s * (1 - s), 0.0))
    j = w * _laplacian(np.where(offdiag, p * (1 - p) + (p - s) ** 2, 0.0))
    a_pinv = pseudo_inverse_laplacian(a)
    return a, a_pinv, j, a_pinv @ j @ a_pinv


def kl_divergence(p, q):
    """``KL(p‖q) = Σ p (log p − log q)`` in nats along the last axis."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return np.sum(p * (np.log(p) - np.log(q)), axis=-1)


def tempered_floor(K, c):
    """Closed-form floor of a tempered-``c`` annotator: ``(1−c) Σ p* log p* + log Σ p*^c`` (nats)."""
    p = softmax(single_reward(K))
    return float((1 - c) * np.sum(p * np.log(p)) + np.log(np.sum(p**c)))


def _softmax_fisher(p):
    return np.diag(p) - np.outer(p, p)


@dataclasses.dataclass(frozen=True)
class AnnotatorTheory:
    """Deterministic theory of one annotator.

    Attributes
    ----------
    theta_limit : numpy.ndarray, shape (G, K)
        Population fit(s) ``θ∞`` (centred; ``G = 2`` for mixture-ids, one per group).
    density_truth, density_limit : numpy.ndarray, shape (K,)
        ``p*`` and the limit ``p∞`` of the learned density.
    floor : float
        ``KL(p*‖p∞)`` in nats (exact).
    c_proj, c_truth : float
        First-order coefficients of ``E kl_projection`` and ``E kl_truth − floor`` (nats × comparisons).
    bias_coef : numpy.ndarray, shape (K,)
        ``β``, the first-order mean of ``n(θ̂ − θ∞)`` (NaN for mixture-ids).
    sd_n_kl_projection : float
        Asymptotic SD of ``n·kl_projection``.
    sd_kl_truth_coef : float
        ``√((p∞−p*)ᵀV(p∞−p*))``: SD of ``√n·kl_truth`` for a misspecified annotator.
    """

    annotator: str
    K: int
    theta_limit: np.ndarray
    density_truth: np.ndarray
    density_limit: np.ndarray
    floor: float
    c_proj: float
    c_truth: float
    bias_coef: np.ndarray
    sd_n_kl_projection: float
    sd_kl_truth_coef: float


@functools.cache
def annotator_theory(K, annotator, ridge=RIDGE):
    """The deterministic theory of ``annotator`` with ``K`` items (cached).

    Parameters
    ----------
    K : int
        Number of items, ``3 ≤ K ≤ 50``.
    annotator : str
        One of :data:`ANNOTATORS`.
    ridge : float
        The learner's ridge λ (enters ``c_truth`` only).

    Returns
    -------
    AnnotatorTheory
    """
    K = _check_k(K)
    annotator = _check_annotator(annotator)
    p_star = target_density(K, annotator)
    probs = win_probabilities(K, annotator)
    if annotator == "mixture-ids":
        thetas = np.stack([population_fit(pg) for pg in probs])
        d_inv = np.diag(1.0 / p_star)
        sigma = np.zeros((K, K))
        for theta_g, p_g in zip(thetas, probs):
            _, a_pinv, _, _ = bt_information(theta_g, p_g)
            f_g = _softmax_fisher(softmax(theta_g))
            sigma += 0.5 * f_g @ a_pinv @ f_g  # covariance of n^½ (p̂ − p*): ¼ Σ_g F_g (2 A_g⁺) F_g
        m = d_inv @ sigma
        c = 0.5 * float(np.trace(m))
        sd = math.sqrt(0.5 * float(np.trace(m @ m)))
        return AnnotatorTheory(annotator, K, thetas, p_star, p_star.copy(), 0.0, c, c, np.full(K, np.nan), sd, 0.0)
    p = probs.mean(axis=0)
    theta = population_fit(p)
    p_inf = softmax(theta)
    a, a_pinv, j, v = bt_information(theta, p)
    fisher = _softmax_fisher(p_inf)
    c_proj = 0.5 * float(np.trace(fisher @ v))
    w = 2.0 / (K * (K - 1))
    offdiag = ~np.eye(K, dtype=bool)
    s = expit(_diff(theta))
    s1 = s * (1 - s)
    s2 = s1 * (1 - 2 * s)
    diag_a = np.diag(a_pinv)
    quad_a = diag_a[:, None] + diag_a[None, :] - 2 * a_pinv
    diag_v = np.diag(v)
    quad_v = diag_v[:, None] + diag_v[None, :] - 2 * v
    # Σ_{i<j} c_ij (e_i − e_j) = Σ_{j≠i} c_ij e_i for antisymmetric c_ij
    term1 = w * np.where(offdiag, s1 * (p - s) * quad_a, 0.0).sum(axis=1)
    term2 = 0.5 * w * np.where(offdiag, s2 * quad_v, 0.0).sum(axis=1)
    beta = a_pinv @ (-ridge * theta - term1 - term2)
    gap = p_inf - p_star
    c_truth = c_proj + float(gap @ beta)
    fv = fisher @ v
    return AnnotatorTheory(
        annotator,
        K,
        theta[None],
        p_star,
        p_inf,
        float(kl_divergence(p_star, p_inf)),
        c_proj,
        c_truth,
        beta,
        math.sqrt(0.5 * float(np.trace(fv @ fv))),
        math.sqrt(max(float(gap @ v @ gap), 0.0)),
    )


def crossover_n(K, ridge=RIDGE):
    """First-order crossover ``n× = (c_ids − c_truth,mixture)/floor_mixture`` (comparisons).

    Below ``n×`` the per-group learner (mixture-ids) has the larger expected ``kl_truth``.
    """
    ids = annotator_theory(K, "mixture-ids", ridge)
    mix = annotator_theory(K, "mixture", ridge)
    return (ids.c_truth - mix.c_truth) / mix.floor


def log_density(theta):
    """``log softmax(θ)`` along the last axis (helper for the estimators' KL)."""
    return log_softmax(theta, axis=-1)
