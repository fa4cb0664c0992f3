"""Small helpers shared by the studies' checks (not a study: the registry skips ``_`` modules)."""

from __future__ import annotations

import dataclasses
import math

from simkit import checks as ck


def z_at_least(name, z, n, *, bound=3.0, detail="", claim="", statistic="z"):
    """A one-sided z test with three outcomes: ``z ≥ bound`` passes, ``z ≤ −bound`` fails (evidence
    against the claim), anything between is inconclusive — the ``n`` replications cannot decide —
    and ``detail`` says about how many would (the count at which the observed z would reach
    ``bound``, as z grows like √n).  A NaN z (nothing to compare on this grid) is inconclusive too.
    """
    z = float(z)
    if math.isfinite(z) and z >= bound:
        return ck.condition(name, True, z, bound, detail, claim=claim, direction=">=", statistic=statistic)
    if math.isfinite(z) and z <= -bound:
        return ck.condition(
            name,
            False,
            z,
            bound,
            detail + f" (z = {z:.2f}: evidence against the claim)",
            claim=claim,
            direction=">=",
            statistic=statistic,
        )
    if not math.isnan(z) and z > 0:
        needed = int(math.ceil(n * (bound / z) ** 2))
        more = f"; inconclusive at {n} replications: about {needed} would decide if the effect holds"
    elif math.isnan(z):
        more = "; inconclusive: no point of this grid can be compared"
    else:
        more = f"; inconclusive at {n} replications: z = {z:.2f} is within {bound:g} of zero"
    return ck.condition(
        name, False, z, bound, detail + more, inconclusive=True, claim=claim, direction=">=", statistic=statistic
    )


def with_claims(checks, claims):
    """``checks`` with ``claim`` (and, where given, ``statistic``/``direction``) filled in from ``claims``:
    a dict from a check's name (or the start of it) to a claim string or a dict of fields."""
    out = []
    for c in checks:
        spec = claims.get(c.name)
        if spec is None:
            spec = next((v for k, v in claims.items() if c.name.startswith(k)), None)
        if spec is not None:
            fields = {"claim": spec} if isinstance(spec, str) else dict(spec)
            c = dataclasses.replace(c, **fields)
        out.append(c)
    return out


# ------------------------------------------------------------------------------- memory declarations
# Study.memory: bytes one replication of a cell holds while it runs (see simkit.study); float64 = 8 bytes.
# Each bound is the NumPy reference's (the largest backend's) arrays, checked against the measured peak
# allocation in tests/test_memory.py.


def largest(value) -> float:
    """The largest of a cell value that may be an inner dimension's tuple of values."""
    return float(max(value)) if isinstance(value, (tuple, list)) else float(value)


def karmed_memory(policies: int, K: int, grid_points: int) -> float:
    """A K-armed bandit replication for each of ``policies``: per policy the kernel's work rows
    (9 K), the NumPy reference's K-long temporaries (about 20 K) and the outputs (regret on the grid,
    counts, means, variances), then the stacked dataset (regret and pulls)."""
    return 8.0 * policies * (32.0 * K + 2.0 * grid_points)


def linear_bandit_memory(policies: int, n_arms: int, d: int, horizon: int, grid_points: int) -> float:
    """A linear-bandit replication: the arms ``n x d`` and the reference's ``n x d`` temporaries (einsum,
    fresh contexts), SupLinUCB's ``levels`` ridge statistics ``d x d`` and ``n``-long widths, and per
    policy the pull counts and the regret on the grid."""
    from simkit.bandits.linear import sup_levels

    levels = sup_levels(horizon)
    return 8.0 * (4.0 * n_arms * d + levels * (d * d + d + 2.0 * n_arms) + 4.0 * d * d + 10.0 * n_arms) + 8.0 * (
        policies * (grid_points + n_arms)
    )


def regression_memory(n: float, p: float) -> float:
    """A sketched / full-sample least-squares replication: the ``n x p`` design and its sketched, scaled and
    factorised copies (about 8 of them), and an ``n x n`` sketch or projection (about 4)."""
    return 8.0 * (8.0 * n * p + 4.0 * n * n + 4.0 * (n + p))


def irl_memory(n_states: int, n_actions: int, restarts: int) -> float:
    """An IRL replication on one random MDP: S × A × S tables (transitions, true, assumed and recovered
    rewards, canonicalised copies for the distances; per restart of the worst-case search its iterates)
    solved by iteration, so nothing is S × S × S."""
    sas = float(n_states) ** 2 * n_actions
    return 8.0 * (40.0 + 10.0 * restarts) * sas
