"""Theory of ``calibration-overlap``: temperature scaling of an interpolator vs Mixup.

``k`` class clusters ``[c, c + W]`` (``W = 1/2``) on a line; the label is the cluster's class
with probability ``1 − α`` and uniform on the ``k`` classes otherwise, so
``q = P(y = c(x) | x) = 1 − α + α/k`` and ``r = α/k`` for every other class.

* ``hard-argmax`` (the Bayes class with confidence 1): ``ECE = 1 − q = α(1 − 1/k)``, exact.
* The interpolating ERM (the linear spline through one-hot labels) at zero temperature has
  accuracy ``a1 = q² + (k−1) r²`` and ``ECE = 1 − a1`` (exact in expectation for every n).
* ``erm-ts`` as ``n → ∞``: a test point's spline segment has equal end labels (``S``, mass
  ``a1``, confidence ``pS``) or different ones (``D``, confidence ``pD(t)`` at fraction ``t`` from
  the nearer end, accuracy ``aD`` flat in ``t``); temperature scaling fits ``β*`` = argmin of the
  population NLL, and ``ECE_inf(β*)`` is the limit (asymptotic).  Integrals by Gauss–Legendre.
* ``mixup-ts``: the Mixup target's expectation is ``P(· | z)``; ECE → 0 like ``n^(−1/2)``.

All of this (data-generating process, learners, ECE functional, formulas) is ours, an
illustration of the paper's claim derived from the abstract of Chidambaram & Ge, ICLR 2024,
arXiv:2306.00740.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.optimize import brentq

from ..errors import ParameterError

__all__ = [
    "WIDTH",
    "BETA_MAX",
    "check_alpha",
    "check_k",
    "label_probabilities",
    "zero_temperature_ece",
    "erm_zero_temperature_accuracy",
    "erm_zero_temperature_ece",
    "segment_statistics",
    "confidence_same",
    "confidence_different",
    "erm_limit_nll",
    "erm_limit_nll_gradient",
    "erm_limit_beta",
    "erm_limit_ece",
    "erm_limit",
]

#: Cluster width W (the gap between clusters is 1 − W).
WIDTH = 0.5
#: Temperature scaling searches β = 1/T in [0, BETA_MAX].
BETA_MAX = 1000.0
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(200)


def check_alpha(alpha):
    """``alpha`` must be in [0, 1)."""
    alpha = float(alpha)
    if not (math.isfinite(alpha) and 0.0 <= alpha < 1.0):
        raise ParameterError(f"alpha must be in [0, 1), got {alpha!r}")
    return alpha


def check_k(k):
    """``k`` must be an integer ≥ 2."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ParameterError(f"k must be an integer >= 2, got {k!r}")
    return int(k)


def label_probabilities(k, alpha):
    """``(q, r)``: probability of the cluster's class and of each other class."""
    k, alpha = check_k(k), check_alpha(alpha)
    return 1.0 - alpha + alpha / k, alpha / k


def zero_temperature_ece(k, alpha):
    """Exact ECE of hard-argmax (confidence 1, accuracy q): ``α(1 − 1/k)``."""
    q, _ = label_probabilities(k, alpha)
    return 1.0 - q


def erm_zero_temperature_accuracy(k, alpha):
    """``a1 = q² + (k − 1) r²``: accuracy of the interpolating ERM (its nearest training label)."""
    q, r = label_probabilities(k, alpha)
    return q * q + (k - 1) * r * r


def erm_zero_temperature_ece(k, alpha):
    """ECE of the ERM without temperature scaling (β → ∞): ``1 − a1`` (exact in expectation)."""
    return 1.0 - erm_zero_temperature_accuracy(k, alpha)


def segment_statistics(k, alpha):
    """``(mS, aS, mD, aD)``: mass and accuracy of equal-label (S) and different-label (D) segments.

    ``aS = (q³ + (k−1) r³)/a1`` and ``aD = (q²(1−q) + (k−1) r²(1−r))/(1 − a1)`` (NaN when a mass is 0).
    """
    q, r = label_probabilities(k, alpha)
    ms = q * q + (k - 1) * r * r
    md = 1.0 - ms
    a_s = (q**3 + (k - 1) * r**3) / ms
    a_d = (q * q * (1 - q) + (k - 1) * r * r * (1 - r)) / md if md > 0 else float("nan")
    return ms, a_s, md, a_d


def confidence_same(beta, k):
    """``pS = e^β / (e^β + k − 1)``: softmax(β e_y) top probability."""
    return 1.0 / (1.0 + (k - 1) * np.exp(-np.asarray(beta, dtype=float)))


def confidence_different(t, beta, k):
    """``pD(t) = e^{β(1−t)} / (e^{β(1−t)} + e^{βt} + k − 2)`` at fraction ``t ≤ ½`` from the nearer end."""
    t = np.asarray(t, dtype=float)
    beta = np.asarray(beta, dtype=float)
    return 1.0 / (1.0 + np.exp(beta * (2 * t - 1)) + (k - 2) * np.exp(-beta * (1 - t)))


def _log_z_d(t, beta, k):
    hi = beta * (1 - t)
    terms = [np.zeros_like(t), beta * t - hi]
    total = 1.0 + np.exp(terms[1])
    if k > 2:
        total = total + (k - 2) * np.exp(-hi)
    return hi + np.log(total)


def _nodes(a, b):
    half = 0.5 * (b - a)
    return a + half * (_NODES + 1.0), half * _WEIGHTS


def erm_limit_nll(beta, k, alpha):
    """Population calibration NLL of the limit spline at inverse temperature ``beta`` (nats)."""
    q, r = label_probabilities(k, alpha)
    b = float(beta)
    log_zs = b + math.log1p((k - 1) * math.exp(-b)) if b > 0 else math.log(k)
    log_ps = b - log_zs
    log_po = -log_zs  # every other class

    def ls(a):
        return -(a * log_ps + (1 - a) * log_po) if a < 1 else -log_ps

    t, w = _nodes(0.0, 0.5)
    lz = _log_z_d(t, b, k)
    lpl, lpr, lpo = b * (1 - t) - lz, b * t - lz, -lz

    def ld(u, v):
        rest = 1 - u - v
        return -(u * lpl + v * lpr + (rest * lpo if rest > 0 else 0.0))

    inner = q * (1 - q) * ld(q, r) + (1 - q) * q * ld(r, q) + (k - 1) * (k - 2) * r * r * ld(r, r)
    return q * q * ls(q) + (k - 1) * r * r * ls(r) + 2.0 * float(np.sum(w * inner))


def erm_limit_nll_gradient(beta, k, alpha):
    """``d NLL / dβ`` of :func:`erm_limit_nll` (the population mean of ``E_p z − z_y``)."""
    q, r = label_probabilities(k, alpha)
    b = float(beta)
    ps = float(confidence_same(b, k))
    t, w = _nodes(0.0, 0.5)
    lz = _log_z_d(t, b, k)
    pl, pr = np.exp(b * (1 - t) - lz), np.exp(b * t - lz)
    ez = (1 - t) * pl + t * pr

    def dd(u, v):
        return ez - (1 - t) * u - t * v

    inner = q * (1 - q) * dd(q, r) + (1 - q) * q * dd(r, q) + (k - 1) * (k - 2) * r * r * dd(r, r)
    return q * q * (ps - q) + (k - 1) * r * r * (ps - r) + 2.0 * float(np.sum(w * inner))


def erm_limit_beta(k, alpha):
    """``β*`` = argmin over [0, 1000] of the limit NLL (convex): the root of its gradient, or 1000."""
    k, alpha = check_k(k), check_alpha(alpha)
    g_hi = erm_limit_nll_gradient(BETA_MAX, k, alpha)
    if g_hi <= 0:
        return BETA_MAX
    g_lo = erm_limit_nll_gradient(0.0, k, alpha)
    if g_lo >= 0:
        return 0.0
    return float(brentq(erm_limit_nll_gradient, 0.0, BETA_MAX, args=(k, alpha), xtol=1e-13, rtol=1e-15, maxiter=500))


def erm_limit_ece(beta, k, alpha):
    """``ECE_inf(β) = mS |pS − aS| + 2 mD ∫_0^½ |pD(t) − aD| dt`` (quadrature split at pD = aD)."""
    ms, a_s, md, a_d = segment_statistics(k, alpha)
    b = float(beta)
    out = ms * abs(float(confidence_same(b, k)) - a_s)
    if md <= 0:
        return out

    def f(t):
        return float(confidence_different(t, b, k)) - a_d

    cuts = [0.0, 0.5]
    if f(0.0) * f(0.5) < 0:
        cuts = [0.0, brentq(f, 0.0, 0.5, xtol=1e-15), 0.5]
    total = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        t, w = _nodes(lo, hi)
        total += float(np.sum(w * np.abs(confidence_different(t, b, k) - a_d)))
    return out + 2.0 * md * total


@functools.cache
def erm_limit(k, alpha):
    """``(β*, ECE_inf(β*))`` of erm-ts as ``n, n_cal → ∞`` (asymptotic; cached)."""
    beta = erm_limit_beta(k, alpha)
    return beta, erm_limit_ece(beta, k, alpha)
