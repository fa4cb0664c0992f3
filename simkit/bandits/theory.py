"""Closed-form regret predictions for the bandit studies.

From Auer, Cesa-Bianchi, Fischer 2002 (UCB1), Lai & Robbins 1985 (the asymptotic lower bound),
Saha & Kveton 2024 ("Only Pay for What Is Uncertain: Variance-Adaptive Thompson Sampling", ICLR)
and Zhang, He, Fan, Gu 2023 ("On the Interplay Between Misspecification and Sub-optimality Gap in
Linear Contextual Bandits", ICML); each formula is written out in its function's docstring.

All regrets are pseudo-regrets in reward units; ``n`` is a round count (>= 1).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gaps",
    "ucb1_upper_bound",
    "lai_robbins_gaussian",
    "uniform_regret",
    "phase_threshold",
    "lower_bound_threshold",
    "PAPER_TABLE",
]


def gaps(means):
    r"""Sub-optimality gaps ``mu* - mu_i``, shape like ``means`` (last axis = arms).

    .. math::

       \Delta_i = \mu^* - \mu_i, \qquad \mu^* = \max_j \mu_j
    """
    means = np.asarray(means, dtype=float)
    return means.max(axis=-1, keepdims=True) - means


def ucb1_upper_bound(means, n):
    r"""Auer, Cesa-Bianchi, Fischer (2002), Theorem 1, for rewards in [0, 1]:
    ``sum_{Delta_i > 0} 8 log n / Delta_i + (1 + pi^2/3) sum_i Delta_i``.

    .. math::

       \mathbb E R_n \le \sum_{i:\,\Delta_i > 0} \frac{8 \log n}{\Delta_i} + \Big(1 + \frac{\pi^2}{3}\Big) \sum_i \Delta_i

    Parameters
    ----------
    means : array_like, shape (K,)
        Arm means.
    n : int or array_like
        Horizon(s).
    """
    d = gaps(means)
    d = d[d > 0]
    n = np.asarray(n, dtype=float)
    return 8.0 * np.log(n) * np.sum(1.0 / d) + (1.0 + math.pi**2 / 3.0) * np.sum(d)


def lai_robbins_gaussian(means, variances, n):
    r"""Asymptotic lower bound for consistent policies on Gaussian arms, ``sum 2 s_i^2 / Delta_i · log n``.

    .. math::

       \liminf_{n\to\infty} \frac{\mathbb E R_n}{\log n} \ge \sum_{i:\,\Delta_i > 0} \frac{2 s_i^2}{\Delta_i}
    """
    d = gaps(means)
    v = np.asarray(variances, dtype=float)
    mask = d > 0
    n = np.asarray(n, dtype=float)
    return np.log(n) * np.sum(2.0 * v[mask] / d[mask])


def uniform_regret(means, t):
    r"""Expected regret of uniform random play after ``t`` rounds, ``t · (mu* - mean_i mu_i)``.

    .. math::

       \mathbb E R_t = t\Big(\mu^* - \frac1K \sum_i \mu_i\Big)

    ``means`` has shape (..., K); ``t`` broadcasts against ``means[..., 0]``.
    """
    means = np.asarray(means, dtype=float)
    return np.asarray(t, dtype=float) * (means.max(axis=-1) - means.mean(axis=-1))


def phase_threshold(gap, d):
    r"""The misspecification level ``Delta / sqrt(d)`` below which constant regret is achievable
    (Zhang, He, Fan, Gu 2023): DS-OFUL with ``Gamma ≈ Delta/sqrt(d)`` has regret O~(d^2/Delta).

    .. math::

       \zeta^\dagger = \frac{\Delta}{\sqrt d}
    """
    return gap / math.sqrt(d)


def lower_bound_threshold(gap, d, n_arms):
    r"""Misspecification ``Delta sqrt(log|D| / d)`` above which no algorithm avoids linear regret
    for ``K ≲ |D|`` rounds (the paper's lower bound).

    .. math::

       \zeta_{\text{lower}} = \Delta \sqrt{\frac{\log |\mathcal D|}{d}}
    """
    return gap * math.sqrt(math.log(n_arms) / d)


#: Zhang et al. (2023), synthetic experiment: cumulative regret at 10k rounds (mean, ± as
#: published) and regret over the last 1,000 rounds, d = 16, 100 arms, zeta = 0.02, 8 runs.
PAPER_TABLE = {
    "oful": (405.0, 77.0, 4.9),
    "ds-oful-0.02": (327.0, 68.0, 0.0),
    "ds-oful-0.05": (236.0, 40.0, 0.0),
    "ds-oful-0.08": (412.0, 567.0, 22.0),
    "ds-oful-0.13": (1790.0, 1919.0, 174.0),
    "suplinucb": (748.0, 330.0, 0.0),
}
