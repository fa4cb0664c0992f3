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

    >>> z_for(1)
    4.0
    >>> round(z_for(10_000), 2)
    5.61
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
) -> Check:
    """Check that the mean of ``sim`` over ``dim`` matches ``theory`` at every point.

    Passes when ``|mean − theory| ≤ z·SE + rel·|theory| + abs_tol`` at every point.  The
    reported value is the worst ratio ``|mean − theory| / tolerance`` (pass if ≤ 1), with the
    coordinates where it occurred.

    Parameters
    ----------
    sim : xarray.DataArray
        Simulated values with a ``dim`` dimension.
    theory : xarray.DataArray
        Predictions broadcastable against ``sim`` without ``dim``.
    """
    s = summarize(sim, dim)
    mean, se = xr.broadcast(s["mean"], s["se"])
    theory = theory.broadcast_like(mean)
    npoints = int(np.isfinite(theory.values).sum())
    zz = z_for(npoints) if z is None else z
    tol = zz * se.fillna(0) + rel * abs(theory) + abs_tol
    dev = abs(mean - theory)
    ratio = (dev / tol.where(tol > 0)).where(np.isfinite(theory))
    ratio = ratio.where(~((dev == 0) & (tol == 0)), 0.0)
    values = ratio.transpose(*mean.dims).values
    if np.all(np.isnan(values)):
        return Check(name, False, float("nan"), 1.0, "no comparable points")
    worst = np.unravel_index(np.nanargmax(values), values.shape)
    worst_ratio = float(values[worst])
    where = _coords_text(mean.transpose(*mean.dims), worst)
    m = float(mean.transpose(*mean.dims).values[worst])
    t = float(theory.transpose(*mean.dims).values[worst])
    detail = f"worst of {npoints} points at {where}: sim {m:.4g} vs theory {t:.4g} (z={zz:.2f}, rel={rel:g})"
    return Check(name, bool(worst_ratio <= 1.0), worst_ratio, 1.0, detail)


def mean_less(name: str, a: xr.DataArray, b: xr.DataArray, *, z: float = 3.0, dim: str = "rep", factor: float = 1.0) -> Check:
    """Check that ``mean(a) < factor · mean(b)`` significantly: the gap exceeds ``z`` standard errors.

    ``a`` and ``b`` are 1-D over ``dim`` (independent samples).  The value reported is the
    gap in standard errors, ``(factor·mean b − mean a) / se``; it must be at least ``z``.
    """
    sa, sb = summarize(a, dim), summarize(b, dim)
    gap = factor * float(sb["mean"]) - float(sa["mean"])
    se = float(np.hypot(float(sa["se"]), factor * float(sb["se"])))
    value = gap / se if se > 0 else (np.inf if gap > 0 else -np.inf)
    detail = f"{float(sa['mean']):.4g} ± {float(sa['se']):.2g} vs {factor:g}×{float(sb['mean']):.4g} ± {float(sb['se']):.2g}"
    return Check(name, bool(value >= z), float(value), z, detail)


def condition(name: str, passed: bool, value: float, tolerance: float, detail: str = "") -> Check:
    """A check from an already-computed statistic and its bound."""
    return Check(name, bool(passed), float(value), float(tolerance), detail)


def checks_to_json(checks) -> str:
    """Serialise checks for a dataset attribute."""
    return json.dumps([c.as_dict() for c in checks])


def checks_from_json(text: str) -> list[Check]:
    """Read back checks serialised by :func:`checks_to_json`."""
    return [Check(d["name"], d["passed"], float(d["value"]), float(d["tolerance"]), d.get("detail", "")) for d in json.loads(text)]


def format_table(rows) -> str:
    """Format ``(study, Check)`` pairs as a fixed-width text table."""
    rows = list(rows)
    header = ("study", "check", "value", "bound", "result")
    body = [
        (study, c.name, f"{c.value:.4g}", f"{c.tolerance:.4g}", "PASS" if c.passed else "FAIL")
        for study, c in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in body]
    return "\n".join(out)
