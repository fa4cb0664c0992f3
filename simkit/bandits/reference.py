"""The readable NumPy reference of the K-armed bandit kernel (the test oracle).

It reads replication r's stream through :class:`simkit.rng.Stream` in the order documented in
:mod:`simkit.kernels.bandits_karmed`, so on the same state it takes the same actions as the
compiled kernels (scalar logarithms use :func:`math.log`, as the kernels do).  The scalar draws
and the KL-UCB index are the kernel's own bodies run as plain Python (re-exported here); the KL-UCB
index is checked independently against a root finder in the tests.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.bandits_karmed import kl_bernoulli, klucb_bernoulli_index, klucb_upper_bound
from ..kernels.rng import bernoulli, beta, t_polar
from ..rng import Stream

__all__ = [
    "karmed_reference",
    "kl_bernoulli",
    "klucb_upper_bound",
    "klucb_bernoulli_index",
    "gaussian_posterior",
    "known_variance_posterior",
    "normal_gamma_posterior",
]


def gaussian_posterior(count, mean, noise_var, prior_mean, prior_var):
    """Posterior (mean, variance) of an arm's mean under a Gaussian prior and known noise variance.

    ``v = 1/(1/prior_var + count/noise_var)``, ``m = v (prior_mean/prior_var + count·mean/noise_var)``;
    arguments broadcast (arrays of shape (K,) or scalars).
    """
    v = 1.0 / (1.0 / prior_var + count / noise_var)
    return v * (prior_mean / prior_var + count * mean / noise_var), v


def known_variance_posterior(count, mean, noise_var, mu0, kappa0):
    """Posterior (mean, variance) of an arm's mean with its true variance ``s^2`` and prior ``N(mu0, s^2/kappa0)``.

    Equals :func:`gaussian_posterior` with ``prior_var = s^2/kappa0``:
    ``((kappa0 mu0 + count mean)/(kappa0 + count), s^2/(kappa0 + count))``.
    """
    return (kappa0 * mu0 + count * mean) / (kappa0 + count), noise_var / (kappa0 + count)


def normal_gamma_posterior(count, mean, ssd, mu0, kappa0, alpha0, beta0):
    """Normal-Gamma posterior ``(mu_N, kappa_N, alpha_N, beta_N)`` after ``count`` rewards.

    ``mean`` is the sample mean and ``ssd`` the sum of squared deviations from it; ``beta`` is a rate.
    """
    kappa_n = kappa0 + count
    mu_n = (kappa0 * mu0 + count * mean) / kappa_n
    alpha_n = alpha0 + 0.5 * count
    dev = mean - mu0
    beta_n = beta0 + 0.5 * ssd + kappa0 * count * dev * dev / (2.0 * kappa_n)
    return mu_n, kappa_n, alpha_n, beta_n


def karmed_reference(
    state, env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work, regret_out
):
    """NumPy version of :func:`simkit.kernels.bandits_karmed.karmed_body` (same arguments and outputs)."""
    s = Stream(state)
    k = work.shape[1]
    mu = np.empty(k)
    var = np.empty(k)
    if inst_mode == 1:
        for i in range(k):
            if env == 0:
                var[i] = 1.0 / (s.gamma(env_prior[2]) / env_prior[3])
                mu[i] = env_prior[0] + s.normal() * math.sqrt(var[i] / env_prior[1])
            else:
                mu[i] = s.scalar(beta, env_prior[0], env_prior[1])
                var[i] = mu[i] * (1.0 - mu[i]) / (5.0 if env == 2 else 1.0)
    else:
        mu[:] = inst_mean
        var[:] = inst_var
    count = np.zeros(k)
    mean = np.zeros(k)
    ssd = np.zeros(k)
    wins = np.zeros(k)
    best = mu.max()
    explore_level = math.log(3.0 * float(horizon) * float(horizon))
    cumulative, g = 0.0, 0
    for t in range(1, horizon + 1):
        if policy <= 3 and t <= k:
            arm = t - 1
        else:
            log_t = math.log(float(t))
            if policy == 0:
                index = mean + np.sqrt(2.0 * log_t / count)
            elif policy == 1:
                index = (
                    mean + np.sqrt(2.0 * (ssd / count) * explore_level / count) + 3.0 * pp[0] * explore_level / count
                )
            elif policy == 2:
                index = mean + np.sqrt(2.0 * pp[0] * log_t / count)
            elif policy == 3:
                level = log_t + (pp[0] * math.log(log_t) if pp[0] > 0.0 and log_t > 1.0 else 0.0)
                index = np.array([klucb_bernoulli_index(mean[i], count[i], level) for i in range(k)])
            elif policy == 4:
                m, v = known_variance_posterior(count, mean, var, pp[0], pp[1])
                index = m + np.sqrt(v) * s.normal((k,))
            elif policy == 5:
                m, v = gaussian_posterior(count, mean, pp[0], pp[1], pp[2])
                index = m + np.sqrt(v) * s.normal((k,))
            elif policy == 6:
                mu_n, kappa_n, alpha_n, beta_n = normal_gamma_posterior(count, mean, ssd, *pp)
                # the marginal posterior of the mean: Student t, 2 alpha_N dof, scale^2 beta_N/(alpha_N kappa_N)
                t_draws = np.array([s.scalar(t_polar, 1.0 / alpha_n[i]) for i in range(k)])
                index = mu_n + np.sqrt(2.0 * beta_n / kappa_n) * t_draws
            else:
                index = np.array([s.scalar(beta, pp[0] + wins[i], pp[1] + count[i] - wins[i]) for i in range(k)])
            arm = int(np.argmax(index))
        if env == 0:
            reward = mu[arm] + math.sqrt(var[arm]) * s.normal()
        elif env == 1:
            reward = s.scalar(bernoulli, mu[arm])
        else:
            reward = s.scalar(beta, 4.0 * mu[arm], 4.0 * (1.0 - mu[arm]))
        if policy == 7:
            wins[arm] += reward if env == 1 else s.scalar(bernoulli, min(max(reward, 0.0), 1.0))
        count[arm] += 1.0
        delta = reward - mean[arm]
        mean[arm] += delta / count[arm]
        ssd[arm] += delta * (reward - mean[arm])
        cumulative += best - mu[arm]
        if g < len(grid) and grid[g] == t:
            regret_out[g] = cumulative
            g += 1
    work[0], work[1], work[2], work[3], work[4], work[5] = mu, var, count, mean, ssd, wins
    if policy == 6:
        mu_n, kappa_n, alpha_n, beta_n = normal_gamma_posterior(count, mean, ssd, *pp)
        work[6], work[7], work[8] = mu_n, np.sqrt(2.0 * beta_n / kappa_n), 1.0 / alpha_n
