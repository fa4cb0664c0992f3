"""Building named checks of simulation against theory, with tolerances from the MC error.

The default tolerance for a point is ``z · SE + rel · |theory|`` where ``SE`` is the Monte
Carlo standard error of the simulated mean, ``rel`` a small relative slack for the
finite-size/discretisation gap between the simulation and the formula, and ``z`` the larger of
4 and the Bonferroni quantile that keeps the chance of a false alarm over all compared points
below 0.1%.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr
from scipy import stats as _sps

from .stats import summarize
from .study import Check

__all__ = [
    "z_for",
    "within_mc_error",
    "mean_less",
    "condition",
    "checks_to_json",
    "checks_from_json",
    "format_table",
]


def z_for(npoints: int, family_alpha: float = 1e-3, minimum: float = 4.0) -> float:
    """The z multiplier for ``npoints`` simultaneous two-sided comparisons.

    The Bonferroni quantile ``Φ⁻¹(1 − family_alpha / (2·npoints))``, so that the chance of any
    false alarm over all the points stays below ``family_alpha``, but never less than
    ``minimum``.

    Parameters
    ----------
    npoints : int
        Number of compared points (values below 1 count as 1).
    family_alpha : float, optional
        Family-wise false-alarm probability; default 1e-3.
    minimum : float, optional
        Smallest multiplier returned; default 4.

    Returns
    -------
    float
        The multiplier ``z`` (in standard errors).

    Examples
    --------
    >>> z_for(1)
    4.0
    >>> round(z_for(10_000), 2)
    5.33
    """
    npoints = max(int(npoints), 1)
    return float(max(minimum, _sps.norm.isf(family_alpha / (2 * npoints))))


def _coords_text(da: xr.DataArray, index) -> str:
    parts = []
    for dim, i in zip(da.dims, index):
        value = da[dim].values[i] if dim in da.coords else i
        if isinstance(value, (float, np.floating)):
            value = f"{value:g}"
        parts.append(f"{dim}={value}")
    return ", ".join(parts)


def within_mc_error(
    name: str,
    sim: xr.DataArray,
    theory: xr.DataArray,
    *,
    rel: float = 0.02,
    abs_tol: float = 0.0,
    z: float | None = None,
    dim: str = "rep",
    claim: str = "",
    skew_correction: bool = True,
) -> Check:
    """Check that the mean of ``sim`` over ``dim`` matches ``theory`` at every point.

    With ``skew_correction`` (the default) the deviation is first passed through Hall's (1992)
    monotone skewness-removing transform of the studentised mean,
    ``Δ + γΔ²/3 + γ²Δ³/27 + γ/(6R)`` with ``Δ = (mean − theory)/s``, ``γ`` the sample skewness
    and ``R`` the replications.  For a right-skewed statistic (a variance, a squared error) the
    sample mean of a few hundred replications falls below the truth more often than the normal
    approximation says, with a sample SE that is too small at the same time; the plain z test
    then fails a correct simulation far more often than its nominal rate (measured on χ²₁ data
    at R = 150 and z = 4: 1.5·10⁻³ instead of 3·10⁻⁵; 1.0·10⁻⁴ after the transform).  For
    symmetric statistics the transform changes nothing to first order.

    The standard error is estimated from the ``R`` replications of each point, so ``z`` enters
    as the Student-t quantile with ``R − 1`` degrees of freedom of the same tail probability
    (``q = t⁻¹_{R−1}(1 − Φ(−z))``: 5.10 for z = 4 at R = 20, 4.18 at R = 100, 4.06 at R = 300,
    → z for large R).  Measured before this: 2 false alarms in 40 correct quick runs of
    sketched-risk at R = 20 (a paired difference with ``|t| ≈ 3.7`` made significant by the skewness
    transform), none at R = 40.

    Passes when ``|mean − theory| ≤ q·SE + rel·|theory| + abs_tol`` at every point; fails when
    that bound is exceeded anywhere (evidence against the claim).  Inconclusive when no point
    can be compared, or when a compared point has fewer than two replications (no standard
    error, so no evidence either way).  The reported value is the worst ratio
    ``|mean − theory| / tolerance`` (pass if ≤ 1), with the coordinates where it occurred.

    Parameters
    ----------
    name : str
        Short name of the check (as printed in the checks table).
    sim : xarray.DataArray
        Simulated values with a ``dim`` dimension (any units).
    theory : xarray.DataArray
        Predictions broadcastable against ``sim`` without ``dim``, in the units of ``sim``;
        NaN where there is no prediction (such points are not compared).
    rel : float, optional
        Relative slack, a fraction of ``|theory|``; default 0.02.
    abs_tol : float, optional
        Absolute slack, in the units of ``sim``; default 0.
    z : float, optional
        Multiplier of the standard error; default :func:`z_for` of the number of compared points.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    claim : str, optional
        The claim in words (shown by ``simkit describe`` and the checks table).
    skew_correction : bool, optional
        Apply Hall's transform and Cochran's rule (see above); default true.

    Returns
    -------
    Check
        ``value`` is the worst ``|Δ|/tol`` (dimensionless), ``tolerance`` is 1, ``detail`` names
        the worst point with its simulated and predicted values.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> sim = xr.DataArray(np.tile([0.9, 1.1], 50), dims="rep")
    >>> within_mc_error("mean is 1", sim, xr.DataArray(1.0)).outcome
    'pass'
    >>> within_mc_error("mean is 2", sim, xr.DataArray(2.0)).outcome
    'fail'
    >>> within_mc_error("no theory", sim, xr.DataArray(np.nan)).outcome
    'inconclusive'
    """
    s = summarize(sim, dim)
    mean, se = xr.broadcast(s["mean"], s["se"])
    theory = theory.broadcast_like(mean)
    npoints = int(np.isfinite(theory.values).sum())
    zz = z_for(npoints) if z is None else z
    # the standard error is estimated from `count` replications: the multiplier is the Student-t
    # quantile with count − 1 degrees of freedom of the normal tail probability of z (→ z as count grows)
    count_values = np.maximum(s["count"].broadcast_like(mean).values - 1.0, 1.0)
    multiplier = xr.DataArray(_sps.t.isf(_sps.norm.sf(zz), count_values), dims=mean.dims, coords=mean.coords)
    tol = multiplier * se.fillna(0) + rel * abs(theory) + abs_tol
    dev = mean - theory
    if skew_correction:
        dev = _hall_deviation(sim, s, dev, dim).broadcast_like(mean)
    dev = abs(dev)
    ratio = (dev / tol.where(tol > 0)).where(np.isfinite(theory))
    ratio = ratio.where(~((dev == 0) & (tol == 0)), 0.0)
    values = ratio.transpose(*mean.dims).values
    statistic = "|Δ|/tol"
    if np.all(np.isnan(values)):
        return Check(
            name, False, float("nan"), 1.0, "no comparable points", inconclusive=True, claim=claim, statistic=statistic
        )
    compared = np.isfinite(theory.transpose(*mean.dims).values)
    no_se = compared & ~np.isfinite(se.transpose(*mean.dims).values)
    if no_se.any() and float(s["count"].min()) < 2:
        return Check(
            name,
            False,
            float("nan"),
            1.0,
            "fewer than 2 replications at some points: no Monte Carlo error; run at least 2",
            inconclusive=True,
            claim=claim,
            statistic=statistic,
        )
    worst = np.unravel_index(np.nanargmax(values), values.shape)
    worst_ratio = float(values[worst])
    where = _coords_text(mean.transpose(*mean.dims), worst)
    m = float(mean.transpose(*mean.dims).values[worst])
    t = float(theory.transpose(*mean.dims).values[worst])
    used = float(multiplier.transpose(*mean.dims).values[worst])
    quantile = f", t-quantile {used:.2f}" if used > 1.01 * zz else ""
    detail = f"worst of {npoints} points at {where}: sim {m:.4g} vs theory {t:.4g} (z={zz:.2f}{quantile}, rel={rel:g})"
    if worst_ratio > 1.0 and skew_correction:
        # Cochran's rule: the normal approximation of a mean needs about 25·γ² replications.  A
        # deviation seen only where there are fewer is not evidence: the check cannot decide there.
        # γ is the largest sample skewness over the compared points: one point's own sample
        # understates it exactly when it drew none of the rare large values.
        skew = np.abs(_skewness(sim, s, dim).broadcast_like(mean).values)
        gamma = float(np.nanmax(np.where(compared, skew, np.nan))) if compared.any() else 0.0
        needed = np.full(values.shape, 25 * gamma**2)
        count = s["count"].broadcast_like(mean).transpose(*mean.dims).values
        failing = values > 1.0
        # a deviation toward the long tail is evidence at any count: missing rare values pull the
        # sample mean the other way
        signed = np.sign(_skewness(sim, s, dim).broadcast_like(mean).transpose(*mean.dims).values)
        toward_tail = np.sign((mean - theory).transpose(*mean.dims).values) == signed
        decisive = failing & ((count >= needed) | toward_tail)
        if not decisive.any():
            want = int(np.ceil(np.nanmax(np.where(failing, needed, 0.0))))
            return Check(
                name,
                False,
                worst_ratio,
                1.0,
                detail + f"; inconclusive: the statistic is too skewed for {int(np.nanmin(count[failing]))} "
                f"replications (Cochran's rule 25γ² asks for about {want})",
                inconclusive=True,
                claim=claim,
                statistic=statistic,
            )
    return Check(name, bool(worst_ratio <= 1.0), worst_ratio, 1.0, detail, claim=claim, statistic=statistic)


def _skewness(sim: xr.DataArray, s: xr.Dataset, dim: str) -> xr.DataArray:
    """Sample skewness over ``dim`` (0 where there is no spread or fewer than 3 values)."""
    sd = s["se"] * np.sqrt(s["count"])
    usable = (sd > 0) & (s["count"] >= 3) & np.isfinite(sd)
    m3 = ((sim - s["mean"]) ** 3).mean(dim)
    return (m3 / sd.where(usable, 1.0) ** 3).where(usable, 0.0)


def _hall_deviation(sim: xr.DataArray, s: xr.Dataset, dev: xr.DataArray, dim: str) -> xr.DataArray:
    """``dev`` = mean − theory after Hall's skewness-removing transform (same units as ``dev``)."""
    count = s["count"]
    sd = s["se"] * np.sqrt(count)
    m3 = ((sim - s["mean"]) ** 3).mean(dim)
    usable = (sd > 0) & (count >= 3) & np.isfinite(sd)
    sd_safe = sd.where(usable, 1.0)
    gamma = (m3 / sd_safe**3).where(usable, 0.0)
    delta = dev / sd_safe
    hall = sd_safe * (delta + gamma * delta**2 / 3 + gamma**2 * delta**3 / 27 + gamma / (6 * count.where(usable, 1.0)))
    return hall.where(usable, dev)


def mean_less(
    name: str,
    a: xr.DataArray,
    b: xr.DataArray,
    *,
    z: float = 3.0,
    dim: str = "rep",
    factor: float = 1.0,
    claim: str = "",
) -> Check:
    """Check that ``mean(a) < factor · mean(b)``, with three outcomes.

    ``a`` and ``b`` are 1-D over ``dim`` (independent samples).  The statistic is the gap in
    standard errors, ``t = (factor·mean b − mean a) / se``.  **pass** when ``t ≥ z`` (the claim
    is supported), **fail** when ``t ≤ −z`` (evidence that ``mean a`` exceeds ``factor·mean b``),
    and **inconclusive** in between: the replications cannot decide, and ``detail`` estimates how
    many would (the count at which the observed gap would reach ``z`` standard errors).

    Parameters
    ----------
    name : str
        Short name of the check.
    a, b : xarray.DataArray, shape (R,)
        The two samples over ``dim``, in the same units.
    z : float, optional
        Standard errors the gap must reach to decide; default 3.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    factor : float, optional
        Compare ``mean(a)`` with ``factor · mean(b)``; default 1.
    claim : str, optional
        The claim in words.

    Returns
    -------
    Check
        ``value`` is the gap in standard errors, ``tolerance`` is ``z`` and ``direction`` is
        ``">="``; ``detail`` gives both means with their standard errors.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.tile([0.0, 1.0], 50), dims="rep")
    >>> mean_less("a < b", a, a + 1.0).outcome
    'pass'
    >>> mean_less("a < b", a + 1.0, a).outcome
    'fail'
    """
    sa, sb = summarize(a, dim), summarize(b, dim)
    gap = factor * float(sb["mean"]) - float(sa["mean"])
    se = float(np.hypot(float(sa["se"]), factor * float(sb["se"])))
    if not np.isfinite(se):
        value = float("nan")
    else:
        value = gap / se if se > 0 else (np.inf if gap > 0 else (-np.inf if gap < 0 else 0.0))
    detail = (
        f"{float(sa['mean']):.4g} ± {float(sa['se']):.2g} vs {factor:g}×{float(sb['mean']):.4g} ± {float(sb['se']):.2g}"
    )
    statistic = "gap/SE"
    if np.isfinite(value) and value >= z:
        return Check(name, True, float(value), z, detail, claim=claim, direction=">=", statistic=statistic)
    if np.isfinite(value) and value <= -z:
        return Check(
            name,
            False,
            float(value),
            z,
            detail + f" (gap {value:.2f} SE against the claim)",
            claim=claim,
            direction=">=",
            statistic=statistic,
        )
    n = int(min(float(sa["count"]), float(sb["count"])))
    if np.isfinite(value) and value > 0:
        needed = int(np.ceil(n * (z / value) ** 2))
        detail += f"; inconclusive at {n} reps: about {needed} would decide if the gap holds"
    else:
        detail += f"; inconclusive at {n} reps: the gap is within {z:g} SE of zero"
    return Check(
        name, False, float(value), z, detail, inconclusive=True, claim=claim, direction=">=", statistic=statistic
    )


def condition(
    name: str,
    passed: bool,
    value: float,
    tolerance: float,
    detail: str = "",
    *,
    inconclusive: bool = False,
    claim: str = "",
    direction: str = "<=",
    statistic: str = "",
) -> Check:
    """A check from an already-computed statistic and its bound.

    ``passed`` is ignored (the check is not passed) when ``inconclusive`` is true.

    Parameters
    ----------
    name : str
        Short name of the check.
    passed : bool
        Whether the data support the claim.
    value : float
        The measured statistic (converted to float).
    tolerance : float
        Its bound.
    detail : str, optional
        Where and by how much, or for an inconclusive check what would decide.
    inconclusive : bool, optional
        The data cannot decide; default false.
    claim : str, optional
        The claim in words.
    direction : {"<=", ">="}, optional
        Which side of ``tolerance`` passes; default ``"<="``.
    statistic : str, optional
        What ``value`` measures (e.g. ``"|Δ|/tol"``).

    Returns
    -------
    Check

    Examples
    --------
    >>> c = condition("slope near -1", abs(-0.98 + 1) <= 0.05, 0.02, 0.05, statistic="|slope + 1|")
    >>> c.outcome, c.value
    ('pass', 0.02)
    >>> condition("too few runs", True, 0.0, 1.0, inconclusive=True).outcome
    'inconclusive'
    """
    return Check(
        name,
        bool(passed) and not inconclusive,
        float(value),
        float(tolerance),
        detail,
        inconclusive=bool(inconclusive),
        claim=claim,
        direction=direction,
        statistic=statistic,
    )


def checks_to_json(checks) -> str:
    """Serialise checks for a dataset attribute (the ``checks`` attribute of every result).

    Parameters
    ----------
    checks : iterable of Check

    Returns
    -------
    str
        A JSON list of :meth:`Check.as_dict` (non-finite numbers as strings such as ``"nan"``).

    Examples
    --------
    >>> text = checks_to_json([Check("gap", True, 0.4, 1.0)])
    >>> text[:40]
    '[{"name": "gap", "passed": true, "outcom'
    """
    return json.dumps([c.as_dict() for c in checks])


def checks_from_json(text: str) -> list[Check]:
    """Read back checks serialised by :func:`checks_to_json`.

    Parameters
    ----------
    text : str
        The JSON text (as stored in a dataset's ``checks`` attribute).

    Returns
    -------
    list of Check
        Equal to the checks that were written (outcomes, values and texts).

    Examples
    --------
    >>> checks = [Check("gap", True, 0.4, 1.0), Check("tail", False, float("nan"), 1.0, inconclusive=True)]
    >>> back = checks_from_json(checks_to_json(checks))
    >>> [c.outcome for c in back], back[0] == checks[0]
    (['pass', 'inconclusive'], True)
    """
    out = []
    for d in json.loads(text):
        outcome = d.get("outcome", "pass" if d["passed"] else "fail")
        out.append(
            Check(
                d["name"],
                outcome == "pass",
                float(d["value"]),
                float(d["tolerance"]),
                d.get("detail", ""),
                inconclusive=outcome == "inconclusive",
                claim=d.get("claim", ""),
                direction=d.get("direction", "<="),
                statistic=d.get("statistic", ""),
            )
        )
    return out


def _bound_text(c: Check) -> str:
    sign = "≤" if c.direction == "<=" else "≥"
    return f"{sign} {c.tolerance:.3g}"


STATISTICS = {
    "|Δ|/tol": "worst |simulation − theory| over the compared points divided by its tolerance z·SE + rel·|theory|",
    "gap/SE": "the gap the claim predicts, in standard errors of the difference of the means",
}


def format_table(rows, width: int = 100) -> str:
    """Format ``(study, Check)`` pairs as a text table at most ``width`` columns wide.

    One block per study; each row gives the claim in words (wrapped), the statistic, its value,
    the bound with the direction that passes (``≤ 1``: at most 1; ``≥ 3``: at least 3), and the
    outcome.  Rows that did not pass are followed by the check's detail (where, and for an
    inconclusive check what would decide); a footnote explains the statistics used.

    Parameters
    ----------
    rows : iterable of (str, Check)
        Study name and check, grouped by study (a new block starts when the name changes).
    width : int, optional
        Largest line length in characters; default 100.

    Returns
    -------
    str
        The table, lines separated by ``\\n`` (no trailing newline).

    Examples
    --------
    >>> c = Check("gap", True, 0.4, 1.0, claim="mean equals theory", statistic="|Δ|/tol")
    >>> print(format_table([("demo", c)], width=72))
      claim                    statistic       value  bound     outcome
    -------------------------------------------------------------------
    demo
      mean equals theory       |Δ|/tol           0.4  ≤ 1       pass
    <BLANKLINE>
    |Δ|/tol: worst |simulation − theory| over the compared points divided by
        its tolerance z·SE + rel·|theory|
    """
    import textwrap

    stat_w, value_w, bound_w, outcome_w = 10, 9, 8, 12
    claim_w = max(20, width - (stat_w + value_w + bound_w + outcome_w) - 2 - 4 * 2)
    header = (
        f"  {'claim':<{claim_w}}  {'statistic':<{stat_w}}  {'value':>{value_w}}  "
        f"{'bound':<{bound_w}}  {'outcome':<{outcome_w}}"
    ).rstrip()
    out = [header, "-" * min(width, len(header))]
    last = None
    used = []
    for study, c in rows:
        if study != last:
            out.append(study)
            last = study
        lines = textwrap.wrap(c.claim or c.name, claim_w) or [""]
        stat = c.statistic if len(c.statistic) <= stat_w else c.statistic[: stat_w - 1] + "…"
        if c.statistic and c.statistic not in used:
            used.append(c.statistic)
        outcome = c.outcome if c.outcome == "pass" else c.outcome.upper()
        out.append(
            f"  {lines[0]:<{claim_w}}  {stat:<{stat_w}}  {c.value:>{value_w}.4g}  "
            f"{_bound_text(c):<{bound_w}}  {outcome}"
        )
        out += [f"    {line}" for line in lines[1:]]
        if c.outcome != "pass" and c.detail:
            out += textwrap.wrap(c.detail, width - 6, initial_indent="      ", subsequent_indent="      ")
    notes = [f"{name}: {STATISTICS.get(name, name)}" for name in used if name in STATISTICS]
    if notes:
        out.append("")
        for note in notes:
            out += textwrap.wrap(note, width, subsequent_indent="    ")
    return "\n".join(out)
