"""Fitting a Normal-Gamma prior to earlier bandit instances (empirical Bayes for VarTS)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import ParameterError
from ..validation import check_array
from .karmed import NormalGamma

__all__ = ["estimate_normal_gamma"]


def estimate_normal_gamma(means, variances) -> NormalGamma:
    """Maximum-likelihood Normal-Gamma prior from the arms of earlier instances.

    The precisions ``1/variances`` are fitted by a Gamma(alpha0, rate beta0) (scipy, location 0), then
    ``mu_i | lambda_i ~ N(mu0, 1/(kappa0 lambda_i))`` gives ``mu0 = sum lambda_i mu_i / sum lambda_i`` and
    ``kappa0 = m / sum lambda_i (mu_i - mu0)^2``.  The arms' true means and variances are taken as
    observed (the earlier instances were played long enough to know them).

    Parameters
    ----------
    means, variances : array_like, shape (m,)
        Arm means (reward units) and variances (reward^2, > 0) of m >= 2 earlier arms.

    Returns
    -------
    NormalGamma
    """
    means = check_array("means", means, ndim=1)
    variances = check_array("variances", variances, shape=(means.shape[0],))
    if means.shape[0] < 2 or np.any(variances <= 0):
        raise ParameterError("estimate_normal_gamma needs at least 2 arms with variances > 0")
    lam = 1.0 / variances
    alpha0, _, scale = stats.gamma.fit(lam, floc=0.0)
    mu0 = float(np.sum(lam * means) / np.sum(lam))
    kappa0 = float(means.shape[0] / np.sum(lam * (means - mu0) ** 2))
    return NormalGamma(mu0, kappa0, float(alpha0), float(1.0 / scale))
