"""Linear contextual bandit regret kernels: DS-OFUL/OFUL, SupLinUCB, linear TS.

One replication plays ``horizon`` rounds.  Arms are either a fixed set of ``n`` rows ``arms`` in R^d
with true mean rewards ``rewards`` (which may differ from any linear function: misspecification),
or (``fresh = 1``) ``n`` fresh unit-norm contexts every round with mean rewards
``<theta*, x> + eta(x)``, ``|eta| <= zeta``.  The reward of arm a is its mean plus ``sigma * N(0, 1)``;
the pseudo-regret ``max_i r_i - r_a`` of the round is accumulated and recorded at the rounds in ``grid``.

Policy codes and parameters ``pp = (Gamma, beta, lambda, v)``:

====  ==========  ================================================================================
code  policy      rule
====  ==========  ================================================================================
0     DS-OFUL     play argmax ``x.theta + beta ||x||_{U^-1}``; the round enters the ridge regression
                  only if ``||x_a||_{U^-1} >= Gamma`` (Gamma = 0: OFUL / LinUCB)
1     SupLinUCB   Chu et al. (2011), Algorithm 2: levels l = 1..L (``L = ceil(log2 sqrt(horizon))``), each
                  with its own regression; widths ``w = beta ||x||_{U_l^-1}`` (Chu's ``(alpha + 1) s``);
                  candidates A = all arms; at level l: if every width in A is <= 1/sqrt(horizon), play
                  argmax ``x.theta_l + w`` without updating; elif the widest arm of A has ``w > 2^-l``,
                  play it and add the round to level l; else keep
                  ``{x in A: x.theta_l + w >= max_A (x.theta_l + w) - 2 * 2^-l}`` and go to level l + 1
2     linear TS   ``theta~ = theta + v chol(U^-1) xi``, ``xi ~ N(0, I_d)``; play argmax ``x.theta~``; always update
====  ==========  ================================================================================

SupLinUCB follows Chu et al.'s rule, not the variant "keep ``x.theta_l >= max x.theta_l - 3 beta 2^-l``" with
unscaled widths (the project reference's DS-OFUL-flavoured form): on the paper's instance (d = 16, 100 arms,
Delta = 0.18) that variant explores about twice as long (regret at 10^4 rounds 1970 ± 45 against 996 ± 38,
each with its best (beta, lambda) on {1, 3, 10}^2, 200 runs).  ``L = ceil(log2 sqrt(horizon))`` levels suffice
(Chu et al. use ``ln horizon``): ``2^-L <= 1/sqrt(horizon)``, so at level L every candidate either has width
``<= 1/sqrt(horizon)`` (exploit) or ``> 2^-L`` (explore), and deeper levels are never reached.

Widths (DS-OFUL, linear TS) are ``||x||_{U^-1}``. Every regression starts at ``U = lambda I``, ``b = 0`` and is updated by
Sherman–Morrison: with ``z = U^-1 x``, ``s = 1 + x.z``: ``U^-1 -= z z^T / s``,
``theta += z (r - x.theta) / s``, and each arm's prediction and squared width are updated with
``c_i = x_i.z`` in O(n d), so a round costs O(d^2 + n d) (linear TS adds an O(d^3) Cholesky).
Ties go to the lowest arm index.

Draw order per round: with fresh contexts, ``n x d`` normals (row by row) then ``n`` uniforms
(:func:`draw_contexts`); linear TS's ``d`` normals (index order); then the reward's one normal.
With fresh contexts the predictions and widths are recomputed every round, O(L n d^2).

Work arrays of one replication (overwritten): ``uinv`` float64[L, d, d], ``theta`` float64[L, d],
``arm_stats`` float64[L, 2, n] (predictions, squared widths), ``scratch`` float64[2, max(n, d)],
``chol`` float64[d, d], ``ctx`` float64[n, d] and ``ctx_rewards`` float64[n] (the round's arms and
mean rewards); ``pulls`` float64[n] receives the final pull counts (per arm, or per context slot with
fresh contexts) and ``regret_out`` float64[G] the regret at the grid rounds.

GPU memory traffic (one thread per replication; every work array stored with the replication
index fastest by :func:`simkit.launch.launch`, so all threads reading the same logical element
make one coalesced access).  Per round with ``n`` fixed arms in ``R^d`` (DS-OFUL, linear TS): the
argmax reads the arms' predictions and squared widths (``16 n`` bytes); the Sherman–Morrison update
reads ``U^-1`` (``8 d^2``) for ``z``, reads and writes it again (``16 d^2``), updates ``theta``
(``16 d``) and each arm's prediction and width (``32 n``): about ``24 d^2 + 48 n`` bytes per
updating round, all coalesced; linear TS adds the Cholesky factor (``chol``, ``d^2`` writes and
``d^3/3`` reads).  SupLinUCB does this per level it visits.  The arm features and mean rewards
(``arms``, ``rewards``) are shared read-only arrays: every thread of a warp reads the row of its
own chosen arm, served from L1/L2 (``n d`` doubles).  With fresh contexts each round writes the
``n x d`` contexts (``8 n d``) and recomputes every prediction and width (``O(L n d^2)`` reads of
``U^-1``).  RNG state: registers, loaded and stored once.
"""

from __future__ import annotations

import math

import numba
from numba import cuda

from .rng import copy_state, normal, uniform
from .targets import cpu_launcher, cuda_launcher, device

__all__ = [
    "LINEAR_POLICY_CODES",
    "FRESH_MISSPEC_CODES",
    "linear_body",
    "linear_cpu",
    "linear_cuda",
    "sup_levels",
    "rls_update",
    "draw_contexts",
    "refresh_stats",
]

LINEAR_POLICY_CODES = {"ds-oful": 0, "suplinucb": 1, "lin-ts": 2}
FRESH_MISSPEC_CODES = {"two-point": 0, "uniform": 1}


def sup_levels(horizon: int) -> int:
    """Number of SupLinUCB levels ``L = max(1, ceil(log2 sqrt(horizon)))`` (so ``2^-L <= 1/sqrt(horizon)``)."""
    return max(1, math.ceil(0.5 * math.log2(max(horizon, 2))))


@device
def rls_update(arms, level, arm, reward, uinv, theta, arm_stats, z):
    """Add ``(arms[arm], reward)`` to regression ``level`` (Sherman–Morrison, O(d^2 + n d))."""
    d = arms.shape[1]
    n = arms.shape[0]
    for j in range(d):
        acc = 0.0
        for k in range(d):
            acc += uinv[level, j, k] * arms[arm, k]
        z[j] = acc
    s = 1.0
    for j in range(d):
        s += arms[arm, j] * z[j]
    err = reward - arm_stats[level, 0, arm]
    for j in range(d):
        theta[level, j] += z[j] * err / s
        for k in range(d):
            uinv[level, j, k] -= z[j] * z[k] / s
    for i in range(n):
        c = 0.0
        for j in range(d):
            c += arms[i, j] * z[j]
        arm_stats[level, 0, i] += c * err / s
        arm_stats[level, 1, i] -= c * c / s


@device
def draw_contexts(state, theta_star, zeta, misspec, ctx, ctx_rewards):
    """Fresh contexts for one round: ``n x d`` normals (row by row) normalised to unit rows, then ``n``
    uniforms for the misspecification (``misspec`` 0: ``eta = -zeta`` if ``u < 1/2`` else ``+zeta``;
    1: ``eta = zeta (2u - 1)``); ``ctx_rewards[i] = <theta*, x_i> + eta_i``."""
    n = ctx.shape[0]
    d = ctx.shape[1]
    for i in range(n):
        sq = 0.0
        for j in range(d):
            v = normal(state)
            ctx[i, j] = v
            sq += v * v
        norm = math.sqrt(sq)
        for j in range(d):
            ctx[i, j] = ctx[i, j] / norm
    for i in range(n):
        u = uniform(state)
        if misspec == 0:
            eta = -zeta if u < 0.5 else zeta
        else:
            eta = zeta * (2.0 * u - 1.0)
        acc = 0.0
        for j in range(d):
            acc += theta_star[j] * ctx[i, j]
        ctx_rewards[i] = acc + eta


@device
def refresh_stats(ctx, uinv, theta, arm_stats):
    """Every level's predictions ``x.theta_l`` and squared widths ``x^T U_l^-1 x`` for the arms in ``ctx``."""
    n = ctx.shape[0]
    d = ctx.shape[1]
    for level in range(uinv.shape[0]):
        for i in range(n):
            pred = 0.0
            quad = 0.0
            for j in range(d):
                pred += ctx[i, j] * theta[level, j]
                row = 0.0
                for k in range(d):
                    row += uinv[level, j, k] * ctx[i, k]
                quad += ctx[i, j] * row
            arm_stats[level, 0, i] = pred
            arm_stats[level, 1, i] = quad


@device
def linear_body(
    state,
    arms,
    rewards,
    fresh,
    theta_star,
    zeta,
    misspec,
    sigma,
    policy,
    pp,
    horizon,
    grid,
    uinv,
    theta,
    arm_stats,
    scratch,
    chol,
    ctx,
    ctx_rewards,
    pulls,
    regret_out,
):
    """Play one replication; see the module docstring for policies, updates and draw order.

    Parameters
    ----------
    state : uint64[2]
        This replication's generator state (advanced in place).
    arms : float64[n, d]
        The fixed arm set (read when ``fresh == 0``).
    rewards : float64[n]
        True mean reward of each fixed arm (linear part plus misspecification).
    fresh : int
        1: fresh unit-norm contexts every round (:func:`draw_contexts`), 0: the fixed arms.
    theta_star : float64[d]
        The linear parameter (read when ``fresh == 1``).
    zeta : float
        Misspecification level of fresh contexts.
    misspec : int
        Misspecification of fresh contexts: 0 two-point ``±zeta``, 1 uniform on ``[-zeta, zeta]``.
    sigma : float
        Reward noise standard deviation.
    policy : int
        Policy code.
    pp : float64[4]
        ``(Gamma, beta, lambda, v)``.
    horizon : int
        Rounds K >= 1.
    grid : int64[G]
        Increasing rounds at which the cumulative regret is recorded.
    ctx, ctx_rewards : float64[n, d], float64[n]
        The current round's arms and mean rewards (work arrays).
    """
    n = ctx.shape[0]
    d = ctx.shape[1]
    levels = uinv.shape[0]
    gamma_thr = pp[0]
    beta_r = pp[1]
    lam = pp[2]
    if fresh == 0:
        for i in range(n):
            ctx_rewards[i] = rewards[i]
            for j in range(d):
                ctx[i, j] = arms[i, j]
    best = ctx_rewards[0]
    for i in range(1, n):
        best = max(best, ctx_rewards[i])
    for level in range(levels):
        for j in range(d):
            theta[level, j] = 0.0
            for k in range(d):
                uinv[level, j, k] = 0.0
            uinv[level, j, j] = 1.0 / lam
        for i in range(n):
            sq = 0.0
            for j in range(d):
                sq += ctx[i, j] * ctx[i, j]
            arm_stats[level, 0, i] = 0.0
            arm_stats[level, 1, i] = sq / lam
    for i in range(n):
        pulls[i] = 0.0
    cand = scratch[1]
    small = 1.0 / math.sqrt(float(horizon))
    cumulative = 0.0
    g = 0
    for t in range(1, horizon + 1):
        if fresh == 1:
            draw_contexts(state, theta_star, zeta, misspec, ctx, ctx_rewards)
            best = ctx_rewards[0]
            for i in range(1, n):
                best = max(best, ctx_rewards[i])
            refresh_stats(ctx, uinv, theta, arm_stats)
        arm = 0
        update_level = -1
        if policy == 0:
            top = -math.inf
            for i in range(n):
                score = arm_stats[0, 0, i] + beta_r * math.sqrt(max(arm_stats[0, 1, i], 0.0))
                if score > top:
                    top = score
                    arm = i
            if math.sqrt(max(arm_stats[0, 1, arm], 0.0)) >= gamma_thr:
                update_level = 0
        elif policy == 1:
            for i in range(n):
                cand[i] = 1.0
            for level in range(levels):
                thr = 0.5 ** (level + 1)
                widest = -1.0
                wide_arm = 0
                top_ucb = -math.inf
                ucb_arm = 0
                for i in range(n):
                    if cand[i] > 0.0:
                        w = beta_r * math.sqrt(max(arm_stats[level, 1, i], 0.0))
                        if w > widest:
                            widest = w
                            wide_arm = i
                        score = arm_stats[level, 0, i] + w
                        if score > top_ucb:
                            top_ucb = score
                            ucb_arm = i
                if widest <= small:
                    arm = ucb_arm
                    break
                if widest > thr or level == levels - 1:
                    arm = wide_arm
                    update_level = level
                    break
                cut = top_ucb - 2.0 * thr
                for i in range(n):
                    if (
                        cand[i] > 0.0
                        and arm_stats[level, 0, i] + beta_r * math.sqrt(max(arm_stats[level, 1, i], 0.0)) < cut
                    ):
                        cand[i] = 0.0
        else:
            for j in range(d):
                for k in range(j + 1):
                    acc = uinv[0, j, k]
                    for m in range(k):
                        acc -= chol[j, m] * chol[k, m]
                    if j == k:
                        chol[j, j] = math.sqrt(max(acc, 0.0))
                    else:
                        chol[j, k] = acc / chol[k, k] if chol[k, k] > 0.0 else 0.0
            xi = scratch[0]
            for j in range(d):
                xi[j] = normal(state)
            sample = scratch[1]
            for j in range(d):
                acc = theta[0, j]
                for k in range(j + 1):
                    acc += pp[3] * chol[j, k] * xi[k]
                sample[j] = acc
            top = -math.inf
            for i in range(n):
                score = 0.0
                for j in range(d):
                    score += ctx[i, j] * sample[j]
                if score > top:
                    top = score
                    arm = i
            update_level = 0
        reward = ctx_rewards[arm] + sigma * normal(state)
        if update_level >= 0:
            rls_update(ctx, update_level, arm, reward, uinv, theta, arm_stats, scratch[0])
        pulls[arm] += 1.0
        cumulative += best - ctx_rewards[arm]
        if g < grid.shape[0] and grid[g] == t:
            regret_out[g] = cumulative
            g += 1


@cpu_launcher
def linear_cpu(
    states,
    arms,
    rewards,
    fresh,
    theta_star,
    zeta,
    misspec,
    sigma,
    policy,
    pp,
    horizon,
    grid,
    uinv,
    theta,
    arm_stats,
    scratch,
    chol,
    ctx,
    ctx_rewards,
    pulls,
    regret,
):
    """Run replication ``r`` of :func:`linear_body` on ``states[r]`` and row ``r`` of every work array, in parallel."""
    for r in numba.prange(states.shape[0]):
        linear_body(
            states[r],
            arms,
            rewards,
            fresh,
            theta_star,
            zeta,
            misspec,
            sigma,
            policy,
            pp,
            horizon,
            grid,
            uinv[r],
            theta[r],
            arm_stats[r],
            scratch[r],
            chol[r],
            ctx[r],
            ctx_rewards[r],
            pulls[r],
            regret[r],
        )


@cuda_launcher
def linear_cuda(
    states,
    arms,
    rewards,
    fresh,
    theta_star,
    zeta,
    misspec,
    sigma,
    policy,
    pp,
    horizon,
    grid,
    uinv,
    theta,
    arm_stats,
    scratch,
    chol,
    ctx,
    ctx_rewards,
    pulls,
    regret,
):
    """One CUDA thread per replication of :func:`linear_body`."""
    r = cuda.grid(1)
    if r < states.shape[0]:
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        linear_body(
            state,
            arms,
            rewards,
            fresh,
            theta_star,
            zeta,
            misspec,
            sigma,
            policy,
            pp,
            horizon,
            grid,
            uinv[r],
            theta[r],
            arm_stats[r],
            scratch[r],
            chol[r],
            ctx[r],
            ctx_rewards[r],
            pulls[r],
            regret[r],
        )
        copy_state(state, states[r])
