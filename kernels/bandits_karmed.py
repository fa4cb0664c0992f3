"""K-armed bandit regret kernels: one body for every policy, a ``prange`` launcher and a CUDA grid.

One replication plays ``horizon`` rounds of one K-armed bandit with one policy and records the
cumulative pseudo-regret ``sum_t (mu* - mu_{A_t})`` at the rounds listed in ``grid`` (so memory
is O(reps x grid), never O(reps x horizon)), plus the final pull counts.

The policy is an integer code (one compiled specialisation serves every policy):

====  ================  ===============================================================
code  policy            parameters ``pp``
====  ================  ===============================================================
0     UCB1              none: index ``m + sqrt(2 log t / N)``
1     UCB-V             ``pp[0] = b`` (reward range): ``m + sqrt(2 V E / N) + 3 b E / N``, ``E = log(3 n^2)``
2     KL-UCB Gaussian   ``pp[0] = variance bound``: ``m + sqrt(2 s2 log t / N)``
3     KL-UCB Bernoulli  ``pp[0] = c``: largest ``q`` with ``N kl(m, q) <= log t + c log log t`` (Newton)
4     TS, true var.     ``pp = (mu0, kappa0)``: prior ``N(mu0, s_i^2 / kappa0)``, likelihood ``N(mu, s_i^2)``
5     TS, fixed var.    ``pp = (s2, mu0, v0)``: prior ``N(mu0, v0)``, likelihood ``N(mu, s2)`` for every arm
6     VarTS             ``pp = (mu0, kappa0, alpha0, beta0)``: Normal-Gamma posterior, Gamma with *rate* beta;
                        the sampled mean is drawn from its marginal posterior, a Student t with
                        ``2 alpha_N`` degrees of freedom, location ``mu_N`` and scale
                        ``sqrt(beta_N / (alpha_N kappa_N))`` -- the same law as drawing the precision
                        from ``Gamma(alpha_N, rate beta_N)`` and then the mean, at a third of the cost:
                        ``mu_N + sqrt(2 beta_N / kappa_N) t_polar(1 / alpha_N)`` (:func:`varts_posterior`)
7     Bernoulli TS      ``pp = (a, b)``: Beta prior; rewards binarised by one Bernoulli(clip(y, 0, 1)) draw
====  ================  ===============================================================

UCB policies (codes 0-3) pull every arm once in rounds 1..K; Thompson sampling starts from its prior.
Ties go to the lowest arm index.

Environments (``env``): 0 Gaussian ``N(mu_i, s_i^2)``; 1 Bernoulli(mu_i); 2 Beta(4 mu_i, 4 (1 - mu_i)).
Instances (``inst_mode``): 0 the fixed ``inst_mean``/``inst_var`` arrays; 1 a fresh instance per
replication from the environment prior ``env_prior``: for the Gaussian environment a Normal-Gamma
``(mu0, kappa0, alpha0, beta0)`` (``lambda_i ~ Gamma(alpha0, rate beta0)``, ``s_i^2 = 1/lambda_i``,
``mu_i ~ N(mu0, s_i^2/kappa0)``); for Bernoulli and Beta rewards ``mu_i ~ Beta(a, b)`` with
``env_prior = (a, b)``.

Draw order (the NumPy reference in :mod:`simkit.bandits.reference` follows it):
1. instance (mode 1), arm by arm: Gaussian ``gamma(alpha0)`` then ``normal``; otherwise ``beta(a, b)``;
2. every round: the policy's draws arm by arm (TS codes 4, 5: one ``normal``; VarTS: one
   ``t_polar(1 / alpha_N)``; Bernoulli TS: ``beta``), then the reward (``normal`` / ``bernoulli`` / ``beta``),
   then for Bernoulli TS with non-Bernoulli rewards one ``bernoulli`` binarisation draw.

The work array of one replication, ``float64[9, K]``, holds on return: row 0 the arm means,
row 1 the arm variances, row 2 the pull counts, row 3 the running reward means, row 4 the running
sums of squared deviations (Welford), row 5 the binarised success counts; rows 6-8 VarTS's
posterior ``(mu_N, sqrt(2 beta_N / kappa_N), 1 / alpha_N)`` per arm, refreshed when the arm is pulled.

GPU memory traffic (one thread per replication; :func:`simkit.launch.launch` stores ``work``,
``regret`` and the states with the replication index fastest, so element ``work[r][row, i]`` of
threads ``r, r+1, ...`` are consecutive doubles).  Per round, with K arms: the index loop reads two
per-arm values (count, mean: ``16 K`` bytes) for UCB1 and KL-UCB, three (``24 K``) for UCB-V, Gaussian
TS, VarTS (its cached ``mu_N``, scale and ``1/alpha_N``) and Bernoulli TS; every warp reads the same
arm ``i`` at the same time, so these loads are coalesced.  The pulled arm's update reads 40 bytes
(mean, variance, count, running mean, squared-deviation sum) and writes 24 (48 for VarTS): a gather
/ scatter by arm, since the threads of a warp pull different arms (at most ``min(K, 32)`` 32-byte
segments per access).  The regret is written once per grid round (8 bytes, coalesced).  The RNG
state is read once into a thread-local array (registers after inlining) and written back once
(16 + 16 bytes per replication); the policy parameters, the instance and the grid are shared by
all threads (broadcast loads).
"""

from __future__ import annotations

import math

import numba
from numba import cuda

from .rng import bernoulli, beta, copy_state, gamma, normal, t_polar
from .targets import cpu_launcher, cuda_launcher, device

__all__ = [
    "POLICY_CODES",
    "ENV_CODES",
    "karmed_body",
    "karmed_cpu",
    "karmed_cuda",
    "kl_bernoulli",
    "klucb_upper_bound",
    "klucb_bernoulli_index",
    "klucb_bernoulli_argmax",
    "varts_posterior",
    "WORK_ROWS",
]

#: Rows of a replication's work array (see the module docstring).
WORK_ROWS = 9

POLICY_CODES = {
    "ucb1": 0,
    "ucb-v": 1,
    "kl-ucb": 2,
    "kl-ucb-bernoulli": 3,
    "ts-known": 4,
    "ts-fixed": 5,
    "varts": 6,
    "ts-bernoulli": 7,
}
ENV_CODES = {"gaussian": 0, "bernoulli": 1, "beta": 2}

_KL_EPS = 1e-15
_NEWTON = 12


@device
def kl_bernoulli(p, q):
    """Bernoulli Kullback–Leibler divergence kl(p, q), arguments clipped to [1e-15, 1 - 1e-15]."""
    p = min(max(p, _KL_EPS), 1.0 - _KL_EPS)
    q = min(max(q, _KL_EPS), 1.0 - _KL_EPS)
    return p * math.log(p / q) + (1.0 - p) * math.log((1.0 - p) / (1.0 - q))


@device
def klucb_upper_bound(mean, count, level):
    """An upper bound on the KL-UCB index from ``kl(p, q) >= 2 (q - p)^2`` (Pinsker) and
    ``kl(p, q) >= (q - p)^2 / (2 q)`` for ``q >= p``: with ``p = clip(mean, 0, 1)``, ``c = level / count``,
    ``min(1, p + sqrt(c / 2), p + c + sqrt(2 p c + c^2))``."""
    p = min(max(mean, 0.0), 1.0)
    c = level / count
    return min(1.0, p + math.sqrt(0.5 * c), p + c + math.sqrt(2.0 * p * c + c * c))


@device
def klucb_bernoulli_index(mean, count, level):
    """Largest q in [mean, 1) with ``count * kl(mean, q) <= level`` (to about 1e-12).

    Newton's method in ``u = -log(1 - q)``, in which ``count * kl(mean, q) - level`` is convex and
    increasing (and nearly linear as q -> 1), started at ``min(klucb_upper_bound, 1 - 1e-15)``: the
    iterates decrease monotonically to the root.  At most 12 steps, stopping once the excess is <= 1e-12.
    """
    p = min(max(mean, 0.0), 1.0)
    pc = min(max(p, _KL_EPS), 1.0 - _KL_EPS)
    q = min(klucb_upper_bound(mean, count, level), 1.0 - _KL_EPS)
    for _ in range(_NEWTON):
        excess = count * kl_bernoulli(mean, q) - level
        if excess <= 1e-12:
            break
        slope = count * (q - pc) / q
        if slope <= 0.0:
            break
        u = -math.log1p(-q) - excess / slope
        q = max(-math.expm1(-u), p)
    return q


@device
def klucb_bernoulli_argmax(work, log_t, c):
    """Arm with the largest Bernoulli KL-UCB index (lowest index on ties) at level ``log t + c log log t``
    (the second term only when ``c > 0`` and ``log t > 1``); returns ``(arm, index)``."""
    k_arms = work.shape[1]
    level = log_t
    if c > 0.0 and log_t > 1.0:
        level += c * math.log(log_t)
    arm = 0
    top = -math.inf
    for i in range(k_arms):
        index = klucb_bernoulli_index(work[3, i], work[2, i], level)
        if index > top:
            top = index
            arm = i
    return arm, top


@device
def varts_posterior(count, mean, ssd, pp):
    """VarTS's Normal-Gamma posterior after ``count`` rewards with sample ``mean`` and squared-deviation sum ``ssd``.

    Returns ``(mu_N, sqrt(2 beta_N / kappa_N), 1 / alpha_N)`` for the prior ``pp = (mu0, kappa0,
    alpha0, beta0)`` (reference section 1): a posterior draw of the mean is
    ``mu_N + sqrt(2 beta_N / kappa_N) * t_polar(1 / alpha_N)``.
    """
    kappa_n = pp[1] + count
    alpha_n = pp[2] + 0.5 * count
    dev = mean - pp[0]
    beta_n = pp[3] + 0.5 * ssd + pp[1] * count * dev * dev / (2.0 * kappa_n)
    return (pp[1] * pp[0] + count * mean) / kappa_n, math.sqrt(2.0 * beta_n / kappa_n), 1.0 / alpha_n


@device
def karmed_body(state, env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work, regret_out):
    """Play one replication; see the module docstring for codes, draw order and ``work`` rows.

    Parameters
    ----------
    state : uint64[2]
        This replication's generator state (advanced in place).
    env, inst_mode, policy : int
        Environment, instance mode and policy codes.
    inst_mean, inst_var : float64[K]
        The fixed instance (read when ``inst_mode == 0``).
    env_prior : float64[4]
        Environment prior (read when ``inst_mode == 1``).
    pp : float64[4]
        Policy parameters.
    horizon : int
        Number of rounds n >= 1.
    grid : int64[G]
        Increasing rounds in 1..n at which the cumulative regret is recorded.
    work : float64[9, K]
        Scratch and per-arm results (overwritten).
    regret_out : float64[G]
        Cumulative pseudo-regret at the grid rounds.
    """
    k_arms = work.shape[1]
    for i in range(k_arms):
        if inst_mode == 1:
            if env == 0:
                lam = gamma(state, env_prior[2]) / env_prior[3]
                work[1, i] = 1.0 / lam
                work[0, i] = env_prior[0] + normal(state) * math.sqrt(work[1, i] / env_prior[1])
            else:
                work[0, i] = beta(state, env_prior[0], env_prior[1])
                work[1, i] = work[0, i] * (1.0 - work[0, i])
                if env == 2:
                    work[1, i] = work[1, i] / 5.0
        else:
            work[0, i] = inst_mean[i]
            work[1, i] = inst_var[i]
        for row in range(2, 6):
            work[row, i] = 0.0
        if policy == 6:
            work[6, i], work[7, i], work[8, i] = varts_posterior(0.0, 0.0, 0.0, pp)
    best = work[0, 0]
    for i in range(1, k_arms):
        best = max(best, work[0, i])

    explore_level = math.log(3.0 * float(horizon) * float(horizon))
    cumulative = 0.0
    g = 0
    for t in range(1, horizon + 1):
        arm = 0
        if policy <= 3 and t <= k_arms:
            arm = t - 1
        else:
            log_t = math.log(float(t)) if policy <= 3 else 0.0
            top = -math.inf
            if policy == 3:
                arm, top = klucb_bernoulli_argmax(work, log_t, pp[0])
            else:
                for i in range(k_arms):
                    n = work[2, i]
                    m = work[3, i]
                    if policy == 0:
                        index = m + math.sqrt(2.0 * log_t / n)
                    elif policy == 1:
                        index = (
                            m + math.sqrt(2.0 * (work[4, i] / n) * explore_level / n) + 3.0 * pp[0] * explore_level / n
                        )
                    elif policy == 2:
                        index = m + math.sqrt(2.0 * pp[0] * log_t / n)
                    elif policy == 4:
                        post_var = work[1, i] / (pp[1] + n)
                        index = (pp[1] * pp[0] + n * m) / (pp[1] + n) + math.sqrt(post_var) * normal(state)
                    elif policy == 5:
                        post_var = 1.0 / (1.0 / pp[2] + n / pp[0])
                        index = post_var * (pp[1] / pp[2] + n * m / pp[0]) + math.sqrt(post_var) * normal(state)
                    elif policy == 6:
                        index = work[6, i] + work[7, i] * t_polar(state, work[8, i])
                    else:
                        index = beta(state, pp[0] + work[5, i], pp[1] + n - work[5, i])
                    if index > top:
                        top = index
                        arm = i
        mu = work[0, arm]
        if env == 0:
            reward = mu + math.sqrt(work[1, arm]) * normal(state)
        elif env == 1:
            reward = bernoulli(state, mu)
        else:
            reward = beta(state, 4.0 * mu, 4.0 * (1.0 - mu))
        if policy == 7:
            if env == 1:
                work[5, arm] += reward
            else:
                work[5, arm] += bernoulli(state, min(max(reward, 0.0), 1.0))
        n = work[2, arm] + 1.0
        work[2, arm] = n
        delta = reward - work[3, arm]
        work[3, arm] += delta / n
        work[4, arm] += delta * (reward - work[3, arm])
        if policy == 6:
            work[6, arm], work[7, arm], work[8, arm] = varts_posterior(n, work[3, arm], work[4, arm], pp)
        cumulative += best - mu
        if g < grid.shape[0] and grid[g] == t:
            regret_out[g] = cumulative
            g += 1


@cpu_launcher
def karmed_cpu(states, env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work, regret):
    """Run replication ``r`` of :func:`karmed_body` on ``states[r]``, ``work[r]``, ``regret[r]``, in parallel."""
    for r in numba.prange(states.shape[0]):
        karmed_body(
            states[r], env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work[r], regret[r]
        )


@cuda_launcher
def karmed_cuda(states, env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work, regret):
    """One CUDA thread per replication of :func:`karmed_body`."""
    r = cuda.grid(1)
    if r < states.shape[0]:
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        karmed_body(
            state, env, inst_mode, inst_mean, inst_var, env_prior, policy, pp, horizon, grid, work[r], regret[r]
        )
        copy_state(state, states[r])
