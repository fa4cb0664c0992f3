"""sketched-risk: risk of sketched ridgeless regression against the sketch ratio m/n (Figure 2)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.regression.datasets import (
    attach,
    finite_size_allowance,
    limit_check,
    path_dataset,
    sketch_comparison_checks,
    sketch_size,
)
from simkit.regression.linear import simulate_path
from simkit.regression.sketches import SKETCH_NAMES
from simkit.regression.theory import ORTHOGONAL, gaussian_finite_risk, isotropic_limits
from simkit.study import Param, Study

from ._common import regression_memory, with_claims

#: The sketches of the paper (and of the default grid); others (CountSketch) are simulated without theory.
PAPER_SKETCHES = ("haar", "srht", "gaussian")

#: Points with |p/m - 1| below this are plotted but not compared (the risk is heavy-tailed there).
EXCLUDE = 0.1


def simulate(p, states, backend):
    """One sketch, every ``(alpha, psi)`` from the same draws: ``risk``, ``bias``, ``variance`` over ``(alpha, psi, rep)``.

    ``alpha`` and ``psi`` are inner dimensions (common random numbers): per replication one ``X``,
    one direction ``b`` (``beta = alpha b``) and one sketch of the largest size, whose first ``m``
    rows are the size-``m`` sketch (:func:`simkit.regression.linear.simulate_path`); a CountSketch,
    which does not nest, is drawn once per size instead.  In response^2.
    """
    alphas = np.atleast_1d(np.asarray(p["alpha"], float))
    psis = np.atleast_1d(np.asarray(p["psi"], float))
    m = sketch_size(psis, p["n"])
    out = simulate_path(
        states, n=p["n"], points=[(int(v), p["p"]) for v in m], sigma=p["sigma"], sketch=p["sketch"], backend=backend
    )
    return path_dataset(out, alphas, "psi", psis)


def theory(ds):
    """Limits (Theorem 3.2) and exact finite-size Gaussian risks over ``(alpha, sketch, psi)``."""
    n, p, sigma = ds.attrs["n"], ds.attrs["p"], ds.attrs["sigma"]
    m = sketch_size(ds["psi"].values, n)
    shape = (ds.sizes["alpha"], ds.sizes["sketch"], ds.sizes["psi"])
    bias, var, fin = np.empty(shape), np.empty(shape), np.full(shape, np.nan)
    for i, a in enumerate(ds["alpha"].values):
        for j, sk in enumerate(ds["sketch"].values):
            if str(sk) not in PAPER_SKETCHES:  # CountSketch: no theory (the paper did not study it)
                bias[i, j] = var[i, j] = np.nan
                continue
            bias[i, j], var[i, j] = isotropic_limits(p / n, m / n, a, sigma, str(sk))
            b, v = gaussian_finite_risk(m, p, a, sigma)
            exact = (m < p) | (str(sk) in ORTHOGONAL)  # known exactly: orthogonal sketches, and any sketch for p > m
            fin[i, j] = np.where(exact, b + v, np.nan)
    out = xr.Dataset()
    dims = ("alpha", "sketch", "psi")
    attach(out, "bias_theory", bias, dims)
    attach(out, "variance_theory", var, dims)
    attach(out, "risk_theory", bias + var, dims)
    attach(out, "risk_finite", fin, dims)
    for name in ("bias_theory", "variance_theory"):
        out[name].attrs["role"] = "auxiliary"  # components of the plotted risk_theory
    return out


def _ratio(ds):
    m = sketch_size(ds["psi"].values, ds.attrs["n"])
    return xr.DataArray(ds.attrs["p"] / m, dims="psi", coords={"psi": ds["psi"]})


def checks(ds):
    """Simulation against the limits; orthogonal vs i.i.d. sketches on both sides of p = m."""
    t = _ratio(ds)
    mask = np.abs(t - 1) >= EXCLUDE
    m = sketch_size(ds["psi"], ds.attrs["n"])
    allowance = finite_size_allowance(ds["risk_theory"], m, ds.attrs["p"])
    out = [
        limit_check(
            f"risk matches the limit (|p/m - 1| >= {EXCLUDE:g})", ds["risk"], ds["risk_theory"], allowance, mask
        ),
        ck.within_mc_error(
            "risk matches the exact finite-size Gaussian risk",
            ds["risk"],
            ds["risk_finite"].where(mask),
            rel=0.0,
            claim="the mean risk equals the exact finite-size Gaussian risk (orthogonal sketches, and "
            f"any sketch for p > m) within Monte Carlo error, where |p/m − 1| ≥ {EXCLUDE:g}",
        ),
    ]
    out += sketch_comparison_checks(ds, t, mask)
    return with_claims(out, CLAIMS)


CLAIMS = {
    "risk matches the limit": "the mean risk matches the limit of Theorem 3.2 within Monte Carlo error plus the finite-"
    f"size allowance 2·|limit|/(|m − p| − 1), wherever |p/m − 1| ≥ {EXCLUDE:g}",
    "haar beats i.i.d.": {
        "claim": "for p < m, the Haar sketch has lower mean risk than the i.i.d. Gaussian sketch at "
        "every α and ψ (z ≥ 3)",
        "statistic": "smallest z of (i.i.d. − Haar)",
        "direction": ">=",
    },
    "srht beats i.i.d.": {
        "claim": "for p < m, the SRHT sketch has lower mean risk than the i.i.d. Gaussian sketch at "
        "every α and ψ (z ≥ 3)",
        "statistic": "smallest z of (i.i.d. − SRHT)",
        "direction": ">=",
    },
    "haar equals i.i.d.": "for p > m, the Haar and i.i.d. sketches have the same mean risk within Monte Carlo error",
    "srht equals i.i.d.": "for p > m, the SRHT and i.i.d. sketches have the same mean risk within Monte Carlo error",
}


def plot(ds):
    """Risk against ψ (reversed axis) per α: markers with 95% error bars per sketch, limits on top,
    nothing joined across the pole ψ = p/n."""
    alphas = ds["alpha"].values
    fig, axes = plotting.figure(
        1,
        len(alphas),
        width=3.5,
        height=3.0,
        title=f"Sketched ridgeless regression, $n$ = {ds.attrs['n']}, $p$ = {ds.attrs['p']}",
    )
    psi = ds["psi"].values
    fine = np.linspace(psi.min(), psi.max(), 600)
    n, p = ds.attrs["n"], ds.attrs["p"]
    pole = p / n
    for ax, a in zip(axes[0], alphas):
        sims = {
            str(sk): (ds["risk"].sel(alpha=a, sketch=sk), plotting.COLORS[j])
            for j, sk in enumerate(ds["sketch"].values)
        }
        lines = []
        for sk, color in (("haar", None), ("gaussian", plotting.COLORS[2])):
            b, v = isotropic_limits(p / n, fine, a, ds.attrs["sigma"], sk)
            r = np.where(np.abs(p / (fine * n) - 1) < 0.03, np.nan, b + v)
            lines.append(
                {
                    "x": fine,
                    "y": r,
                    "color": color,
                    "var": "risk_theory",
                    "label": f"limit ({'orthogonal' if sk == 'haar' else 'i.i.d.'})",
                }
            )
        plotting.risk_vs_ratio(
            ax,
            psi,
            sims,
            theory=lines,
            singular=pole,
            reverse=True,
            xlabel="$\\psi = m/n$ (reversed)",
            ylabel="out-of-sample risk",
            title=f"$\\alpha$ = {a:g}, $\\sigma$ = {ds.attrs['sigma']:g}",
        )
        if "haar" in ds["sketch"].values:
            plotting.theory_points(
                ax,
                psi,
                ds["risk_finite"].sel(alpha=a, sketch="haar").values,
                var="risk_finite",
                label="exact finite-size risk (orthogonal)",
                marker="_",
                markersize=7,
                markeredgewidth=1.1,
            )
    plotting.legend(fig, where="right", title="simulation:\nmean, 95% CI")
    return fig


PARAMS = (
    Param("alpha", float, "signal strength: E||beta||^2 = alpha^2", low=0, units="response"),
    Param(
        "sketch",
        str,
        "sketching matrix (countsketch: sparse, not in the paper; simulated only, "
        "one sketch per size as it does not nest)",
        choices=SKETCH_NAMES,
    ),
    Param("psi", float, "sketch ratio m/n (m = round(psi n))", low=0, high=1, low_inclusive=False, units="1"),
    Param("n", int, "number of samples", low=2, units="1"),
    Param("p", int, "number of features", low=1, units="1"),
    Param("sigma", float, "noise standard deviation", low=0, units="response"),
)

PSI = tuple(float(v) for v in np.round(np.concatenate([np.linspace(0.11, 0.49, 10), np.linspace(0.51, 1.0, 10)]), 6))

STUDY = Study(
    name="sketched-risk",
    title="Sketched ridgeless regression: risk against the sketch size, orthogonal vs i.i.d. sketches",
    paper="Chen, Zeng, Yang, Sun, Sketched Ridgeless Linear Regression: The Role of Downsampling, ICML 2023, arXiv:2302.01088 (Figure 2)",
    family="regression",
    teaching=(
        "Misspecified: how much data to use. The minimum-norm fit is computed on m sketched samples S X, S y "
        "instead of all n. Theory (Theorem 3.2, isotropic features): with t = p/m the risk is sigma^2 t/(1-t) for "
        "p < m with an orthogonal sketch (Haar rows or the subsampled randomized Hadamard transform), an extra "
        "sigma^2 phi/(1-phi) for an i.i.d. Gaussian sketch, and alpha^2 (1 - 1/t) + sigma^2/(t - 1) for p > m "
        "for both. The peak moves from p = n to p = m, and for a strong signal a sketch with m < p can beat the "
        "full sample. Each replication draws X, a direction b (beta = alpha b) and one sketch of the largest size "
        "(m = n at psi = 1); the sketch of size m is its first m rows, so a whole curve, and both alphas, come "
        "from the same draws (the paper, too, fixes S per curve). Risks are exact given them. Look at: the "
        "reversed psi axis, orthogonal below i.i.d. to the right of the dotted p = m line and all sketches "
        "together to its left, and the simulation on the dashed limits."
    ),
    params=PARAMS,
    grid={"alpha": (5.0, 15.0), "sketch": PAPER_SKETCHES, "psi": PSI},
    settings={"n": 400, "p": 200, "sigma": 5.0},
    reps=500,
    quick_grid={"alpha": (5.0, 15.0), "sketch": PAPER_SKETCHES, "psi": (0.2, 0.35, 0.45, 0.6, 0.8, 1.0)},
    quick_settings={"n": 200, "p": 100, "sigma": 5.0},
    quick_reps=40,
    inner=("alpha", "psi"),
    # the n × p design, the sketch (m ≤ n rows; haar: an n × n orthogonal matrix) and its factorisations
    memory=lambda p: regression_memory(p["n"], p["p"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    validate_cell=None,
)
