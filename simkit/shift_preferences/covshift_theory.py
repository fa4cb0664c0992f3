"""Theory of MLE vs importance-weighted MLE under a Gaussian mean shift (*derived* here).

The instantiation is ours (derived from the abstract of Ge, Tang, Fan, Ma, Jin, ICLR 2024,
arXiv:2311.15961): source ``x ~ N(0, I_d)``, target ``x ~ N(m e_1, I_d)``,
``y = beta^T x + c (x_1^2 - 1) + eps`` with ``eps ~ N(0, sigma2)``, a linear model with
intercept, features ``phi(x) = (1, x)``.  Risks are target excess squared-error risks
``(theta_hat - theta*_T)^T Sigma_T (theta_hat - theta*_T)`` in response^2.

Which formulas are exact:

* :func:`mle_noise_trace` (``A(n)``) and hence the MLE risk at ``c = 0`` are **exact**
  (Wishart moments; needs ``n > d + 2``);
* the MLE risk at ``c > 0`` is **asymptotic**: exact noise part plus the first-order misfit part
  with the Frisch-Waugh-Lovell correction on ``x_2 .. x_d``;
* the MWLE risk is **first-order asymptotic** at every ``c``; at finite ``n`` the simulation sits
  below it (the density ratio is unbounded), within 10% from about :func:`mwle_asymptotic_n`;
* :func:`mle_risk_floor` (the ``n -> infinity`` limit of the MLE) is **exact**, the MWLE's limit is 0.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _sps

__all__ = [
    "source_best_fit",
    "target_best_fit",
    "target_second_moment",
    "weight_second_moment",
    "mle_noise_trace",
    "mle_excess_risk",
    "mwle_misfit_constant",
    "mwle_excess_risk",
    "mle_risk_floor",
    "crossover_n",
    "mwle_asymptotic_n",
]


def _beta(d, beta):
    return np.full(d, 1.0 / np.sqrt(d)) if beta is None else np.asarray(beta, dtype=float).reshape(d)


def source_best_fit(d, c, beta=None):
    """Best linear fit on the source, ``theta*_S = (0, beta)`` (exact; independent of ``c``).

    Parameters
    ----------
    d : int
        Input dimension.
    c : float
        Misfit coefficient (unused: ``x_1^2 - 1`` is uncorrelated with ``(1, x)`` on the source).
    beta : array_like, shape (d,), optional
        Linear coefficients; default ``(1, ..., 1)/sqrt(d)``.

    Returns
    -------
    numpy.ndarray, shape (d + 1,)
        ``(intercept, slopes)``.
    """
    del c
    return np.concatenate([[0.0], _beta(d, beta)])


def target_best_fit(d, m, c, beta=None):
    """Best linear fit on the target, ``theta*_T = (-c m^2, beta + 2 m c e_1)`` (exact).

    Parameters
    ----------
    d : int
    m : float
        Mean shift along coordinate 1.
    c : float
    beta : array_like, shape (d,), optional

    Returns
    -------
    numpy.ndarray, shape (d + 1,)
    """
    theta = np.concatenate([[-c * m**2], _beta(d, beta)])
    theta[1] += 2.0 * m * c
    return theta


def target_second_moment(d, m):
    """``Sigma_T = E_T[phi phi^T] = [[1, m e_1^T], [m e_1, I + m^2 e_1 e_1^T]]``, shape (d + 1, d + 1)."""
    sigma = np.eye(d + 1)
    sigma[0, 1] = sigma[1, 0] = m
    sigma[1, 1] += m**2
    return sigma


def weight_second_moment(m):
    """``E_S[w^2] = exp(m^2)`` for the density ratio ``w(x) = exp(m x_1 - m^2/2)`` (exact)."""
    return np.exp(np.asarray(m, dtype=float) ** 2)


def mle_noise_trace(n, d, m):
    """``A(n) = E tr(Sigma_T (Phi^T Phi)^-1) = 1/n + (d (1 + 1/n) + m^2)/(n - d - 2)`` (exact).

    Parameters
    ----------
    n : int or array_like
        Source sample size(s); every value must exceed ``d + 2`` (the expectation is infinite
        otherwise).
    d : int
    m : float

    Returns
    -------
    numpy.ndarray
        Same shape as ``n``, dimensionless (multiply by ``sigma2``).
    """
    n = np.asarray(n, dtype=float)
    if np.any(n <= d + 2):
        raise ValueError(f"n must be > d + 2 = {d + 2} for the exact OLS formula, got min n = {n.min():g}")
    return 1.0 / n + (d * (1.0 + 1.0 / n) + m**2) / (n - d - 2)


def mle_excess_risk(n, d, m, sigma2, c):
    """Expected target excess risk of the source MLE (OLS), response^2.

    ``sigma2 A(n) + c^2 [m^4 + 4 m^2 + (12 + 14 m^2)/n + 2 (d - 1)/(n - d - 2)]``: exact at
    ``c = 0``, asymptotic (exact noise part, first-order misfit part) for ``c > 0``.

    Parameters
    ----------
    n : int or array_like
        Sample sizes (``> d + 2``).
    d : int
    m, sigma2, c : float

    Returns
    -------
    numpy.ndarray, same shape as ``n``
    """
    n = np.asarray(n, dtype=float)
    misfit = m**4 + 4 * m**2 + (12 + 14 * m**2) / n + 2 * (d - 1) / (n - d - 2)
    return sigma2 * mle_noise_trace(n, d, m) + c**2 * misfit


def mwle_misfit_constant(d, m):
    """``K = d (m^4 + 4 m^2 + 2) + m^6 + 13 m^4 + 34 m^2 + 10`` (so ``e^{m^2} K`` is the c^2 trace)."""
    return d * (m**4 + 4 * m**2 + 2) + m**6 + 13 * m**4 + 34 * m**2 + 10


def mwle_excess_risk(n, d, m, sigma2, c):
    """First-order (asymptotic) target excess risk of the MWLE, response^2.

    ``(e^{m^2}/n) [sigma2 (d + 1 + m^2) + c^2 K]`` (:func:`mwle_misfit_constant`).

    Parameters
    ----------
    n : int or array_like
    d : int
    m, sigma2, c : float

    Returns
    -------
    numpy.ndarray, same shape as ``n``
    """
    n = np.asarray(n, dtype=float)
    return weight_second_moment(m) * (sigma2 * (d + 1 + m**2) + c**2 * mwle_misfit_constant(d, m)) / n


def mle_risk_floor(m, c):
    """Exact ``n -> infinity`` limit of the MLE's excess risk, ``c^2 (m^4 + 4 m^2)``, response^2."""
    return c**2 * (m**4 + 4 * m**2)


def crossover_n(d, m, sigma2, c):
    """First-order crossover ``n*(c)`` where the MWLE starts to beat the MLE (asymptotic).

    ``[(e^{m^2} - 1) sigma2 (1 + d + m^2) + c^2 (e^{m^2} K - 2d - 10 - 14 m^2)] / [c^2 (m^4 + 4 m^2)]``;
    ``inf`` where the MLE has no floor (``c = 0`` or ``m = 0``).

    Parameters
    ----------
    d : int
    m, sigma2 : float
    c : float or array_like

    Returns
    -------
    numpy.ndarray, same shape as ``c`` (sample size, real-valued)
    """
    c = np.asarray(c, dtype=float)
    e = float(weight_second_moment(m))
    num = (e - 1) * sigma2 * (1 + d + m**2) + c**2 * (e * mwle_misfit_constant(d, m) - 2 * d - 10 - 14 * m**2)
    den = c**2 * (m**4 + 4 * m**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)


def mwle_asymptotic_n(m):
    """Heuristic (ours) sample size from which the MWLE is within 10% of first order at c <= 0.2.

    ``n_asym(m) = 10 / P(N(0, 1) > 2m + 1)``: about ten source points beyond ``x_1 = 2m + 1``.
    """
    return 10.0 / _sps.norm.sf(2.0 * np.asarray(m, dtype=float) + 1.0)
