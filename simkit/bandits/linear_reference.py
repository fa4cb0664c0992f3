"""The readable NumPy reference of the linear bandit kernel (the test oracle).

It keeps the design matrix ``U`` and the vector ``b`` and solves the ridge regression directly
at every round (``theta = U^-1 b``, widths ``sqrt(x^T U^-1 x)``) instead of the kernel's rank-one
updates, so it checks the kernel's Sherman–Morrison bookkeeping.  It reads the replication's
stream in the kernel's order (linear TS's ``d`` normals, then the reward's normal).  The two
agree to rounding; on instances whose arms have (near-)equal scores a rounding difference can
change a tie-break, after which the runs differ but stay equal in distribution.
"""

from __future__ import annotations

import numpy as np

from ..kernels.bandits_linear import sup_levels
from ..rng import Stream

__all__ = ["linear_reference", "ridge", "draw_contexts"]


def ridge(u, b, arms):
    """Ridge estimate and arm statistics: ``theta = U^-1 b``, predictions ``X theta``, widths ``||x||_{U^-1}``.

    Returns ``(theta (d,), U^-1 (d, d), predictions (n,), widths (n,))``.
    """
    uinv = np.linalg.inv(u)
    theta = uinv @ b
    widths = np.sqrt(np.maximum(np.einsum("id,de,ie->i", arms, uinv, arms), 0.0))
    return theta, uinv, arms @ theta, widths


def draw_contexts(s, theta, n, zeta, misspec):
    """One round of fresh contexts from stream ``s``: ``(contexts (n, d), mean rewards (n,))``.

    ``n x d`` normals normalised row by row, then ``n`` uniforms: ``eta = -zeta`` if ``u < 1/2`` else
    ``+zeta`` (two-point) or ``zeta (2u - 1)`` (uniform).
    """
    x = s.normal((n, theta.shape[0]))
    x /= np.sqrt((x * x).sum(axis=1, keepdims=True))
    u = s.uniform((n,))
    eta = np.where(u < 0.5, -zeta, zeta) if misspec == "two-point" else zeta * (2.0 * u - 1.0)
    return x, x @ theta + eta


def linear_reference(state, instance, policy, horizon, grid, sigma):
    """One replication of :func:`simkit.kernels.bandits_linear.linear_body` in NumPy.

    ``instance`` is a :class:`~simkit.bandits.linear.LinearInstance` (fixed arms) or
    :class:`~simkit.bandits.linear.FreshContexts`.  Returns ``(regret at the grid rounds (G,),
    pull counts (n,))``.
    """
    s = Stream(state)
    fresh = not hasattr(instance, "arms")
    if fresh:
        n, d = instance.n_arms, instance.theta.shape[0]
    else:
        arms = np.asarray(instance.arms, dtype=float)
        rewards = arms @ instance.theta + instance.eta
        n, d = arms.shape
    levels = sup_levels(horizon) if policy.kind == "suplinucb" else 1
    u = [policy.lam * np.eye(d) for _ in range(levels)]
    b = [np.zeros(d) for _ in range(levels)]
    small = 1.0 / np.sqrt(float(horizon))
    pulls = np.zeros(n)
    regret = np.zeros(len(grid))
    cumulative, g = 0.0, 0
    for t in range(1, horizon + 1):
        if fresh:
            arms, rewards = draw_contexts(s, instance.theta, n, instance.zeta, instance.misspec)
        best = rewards.max()
        update = -1
        if policy.kind == "ds-oful":
            _, _, pred, width = ridge(u[0], b[0], arms)
            arm = int(np.argmax(pred + policy.beta * width))
            update = 0 if width[arm] >= policy.gamma else -1
        elif policy.kind == "suplinucb":
            cand = np.ones(n, dtype=bool)
            for level in range(levels):
                _, _, pred, width = ridge(u[level], b[level], arms)
                w = policy.beta * width
                ucb = pred + w
                idx = np.flatnonzero(cand)
                threshold = 0.5 ** (level + 1)
                if w[idx].max() <= small:
                    arm = int(idx[np.argmax(ucb[idx])])
                    break
                if w[idx].max() > threshold or level == levels - 1:
                    arm, update = int(idx[np.argmax(w[idx])]), level
                    break
                cand &= ucb >= ucb[idx].max() - 2.0 * threshold
        else:
            theta, uinv, _, _ = ridge(u[0], b[0], arms)
            chol = np.linalg.cholesky(uinv)
            sample = theta + policy.v * chol @ s.normal((d,))
            arm = int(np.argmax(arms @ sample))
            update = 0
        reward = rewards[arm] + sigma * s.normal()
        if update >= 0:
            u[update] += np.outer(arms[arm], arms[arm])
            b[update] += reward * arms[arm]
        pulls[arm] += 1
        cumulative += best - rewards[arm]
        if g < len(grid) and grid[g] == t:
            regret[g] = cumulative
            g += 1
    return regret, pulls
