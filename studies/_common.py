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
