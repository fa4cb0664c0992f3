"""Exact theory of sequential Bayes forgetting for two Gaussian-mean tasks (*derived* here).

Our instantiation of Kessler, Cobb, Rudner, Zohren, Roberts (arXiv:2301.01828): task ``t`` has
``n_t`` observations ``y ~ N(theta_t, sigma2)``; the ``shared`` model assumes one mean
``theta ~ N(0, prior_var)`` for both tasks (misspecified when ``theta1 != theta2``), the
``task-specific`` model one independent mean per task (well specified).  Predictions are
posterior means; the error of a prediction for task ``t`` is Gaussian (the sample means are), so
every expectation here is **exact**: ``E mse = bias^2 + variance``.

Notation: ``lam = sigma2 / prior_var`` (the prior's weight in pseudo-observations),
``a = n1 + lam``, ``N = n1 + n2``, ``b = N + lam``, ``Delta = theta2 - theta1``.  Sample sizes may
be real-valued (for drawing theory as a curve); every function broadcasts over ``n2``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MODELS",
    "STAGES",
    "prior_weight",
    "prediction_error_moments",
    "expected_squared_error",
    "squared_error_variance",
    "forgetting",
    "posterior_variance_task1",
    "forgetting_limit",
    "flat_prior_forgetting",
    "flat_prior_threshold",
    "flat_prior_best_n2",
]

#: The two learners, in the order of the ``model`` axis.
MODELS = ("shared", "task-specific")
#: When predictions are made, in the order of the ``stage`` axis.
STAGES = ("after-task-1", "after-task-2")


def prior_weight(sigma2, prior_var):
    """``lam = sigma2 / prior_var``: the prior's weight in pseudo-observations (dimensionless)."""
    return sigma2 / prior_var


def prediction_error_moments(model, stage, task, n1, n2, theta1, theta2, sigma2, prior_var):
    """Mean and variance of the prediction error ``prediction - theta_task`` (exact).

    Parameters
    ----------
    model : {"shared", "task-specific"}
    stage : {"after-task-1", "after-task-2"}
    task : {1, 2}
        The task whose mean is predicted.
    n1 : float
        Task-1 sample size.
    n2 : float or array_like
        Task-2 sample size(s).
    theta1, theta2 : float
        True task means (units of y).
    sigma2 : float
        Known noise variance (y^2).
    prior_var : float
        Prior variance of each mean (y^2).

    Returns
    -------
    mean, var : numpy.ndarray
        Broadcast over ``n2``; units y and y^2.  A deterministic prediction has ``var = 0``.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if task not in (1, 2):
        raise ValueError(f"task must be 1 or 2, got {task!r}")
    n2 = np.asarray(n2, dtype=float)
    zero = np.zeros_like(n2)
    lam = prior_weight(sigma2, prior_var)
    a = n1 + lam
    theta = theta1 if task == 1 else theta2
    if stage == "after-task-1" and (model == "shared" or task == 1):
        # mu1 = n1 ybar1 / a predicts both tasks (shared) or task 1 (task-specific)
        return zero + n1 * theta1 / a - theta, zero + n1 * sigma2 / a**2
    if stage == "after-task-1":  # task-specific, task 2 not yet updated: prior mean 0
        return zero - theta2, zero
    if model == "shared":  # mu12 = (n1 ybar1 + n2 ybar2) / b
        b = n1 + n2 + lam
        return (n1 * theta1 + n2 * theta2) / b - theta, (n1 + n2) * sigma2 / b**2
    if task == 1:  # task-specific: task 2 leaves theta_1's posterior untouched
        return zero + n1 * theta1 / a - theta1, zero + n1 * sigma2 / a**2
    c = n2 + lam
    return n2 * theta2 / c - theta2, n2 * sigma2 / c**2


def expected_squared_error(model, stage, task, n1, n2, theta1, theta2, sigma2, prior_var):
    """``E (prediction - theta_task)^2 = bias^2 + variance`` (exact), y^2; broadcast over ``n2``.

    Parameters as in :func:`prediction_error_moments`.
    """
    mean, var = prediction_error_moments(model, stage, task, n1, n2, theta1, theta2, sigma2, prior_var)
    return mean**2 + var


def squared_error_variance(model, stage, task, n1, n2, theta1, theta2, sigma2, prior_var):
    """``Var (prediction - theta_task)^2 = 2 v^2 + 4 mu^2 v`` (scaled noncentral chi-square), y^4."""
    mean, var = prediction_error_moments(model, stage, task, n1, n2, theta1, theta2, sigma2, prior_var)
    return 2 * var**2 + 4 * mean**2 * var


def forgetting(n1, n2, theta1, theta2, sigma2, prior_var):
    """``F(n2) = E mse_task1[shared, after-task-2] - E mse_task1[shared, after-task-1]`` (exact), y^2.

    Positive: task 2 made the shared model's task-1 prediction worse (forgetting); negative:
    backward transfer.
    """
    args = (n1, n2, theta1, theta2, sigma2, prior_var)
    return expected_squared_error("shared", "after-task-2", 1, *args) - expected_squared_error(
        "shared", "after-task-1", 1, *args
    )


def posterior_variance_task1(model, stage, n1, n2, sigma2, prior_var):
    """Posterior variance of the parameter that predicts task 1 (deterministic), y^2.

    ``sigma2/(n1 + lam)`` after task 1 (both models) and for the task-specific model after task 2;
    ``sigma2/(n1 + n2 + lam)`` for the shared model after task 2.
    """
    n2 = np.asarray(n2, dtype=float)
    lam = prior_weight(sigma2, prior_var)
    if model == "shared" and stage == "after-task-2":
        return sigma2 / (n1 + n2 + lam)
    return np.zeros_like(n2) + sigma2 / (n1 + lam)


def forgetting_limit(theta1, theta2):
    """``lim_{n2 -> inf} E mse_task1[shared, after-task-2] = (theta1 - theta2)^2`` (exact), y^2."""
    return (theta2 - theta1) ** 2


def flat_prior_forgetting(n1, n2, theta1, theta2, sigma2):
    """Flat-prior limit (``lam -> 0``) of :func:`forgetting`: ``(n2/N) [n2 Delta^2/N - sigma2/n1]``, y^2."""
    n2 = np.asarray(n2, dtype=float)
    total = n1 + n2
    return (n2 / total) * (n2 * (theta2 - theta1) ** 2 / total - sigma2 / n1)


def flat_prior_threshold(n1, theta1, theta2, sigma2):
    """Flat-prior ``n2`` above which there is forgetting: ``1/(Delta^2/sigma2 - 1/n1)``; inf if ``Delta^2 <= sigma2/n1``."""
    gap = (theta2 - theta1) ** 2 / sigma2 - 1.0 / n1
    return 1.0 / gap if gap > 0 else np.inf


def flat_prior_best_n2(n1, theta1, theta2, sigma2):
    """Flat-prior ``n2*`` minimising the task-1 error: ``n1 q/(1 - q)``, ``q = sigma2/(2 Delta^2 n1)``.

    ``inf`` when ``q >= 1`` (more task-2 data always helps task 1).
    """
    delta2 = (theta2 - theta1) ** 2
    if delta2 == 0:
        return np.inf
    q = sigma2 / (2 * delta2 * n1)
    return n1 * q / (1 - q) if q < 1 else np.inf
