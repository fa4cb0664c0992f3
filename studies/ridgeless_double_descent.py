"""ridgeless-double-descent: full-sample minimum-norm least squares, risk against p/n (Figure 1)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.regression.datasets import attach, finite_size_allowance, limit_check, path_dataset
from simkit.regression.linear import simulate_path
from simkit.regression.theory import full_sample_limits, gaussian_finite_risk
from simkit.stats import summarize
from simkit.study import Param, Study

from ._common import largest, regression_memory, with_claims, z_at_least


def n_features(phi, n):
    """Number of features ``p = round(phi n)`` (at least 1) used for aspect ratio ``phi``."""
    return np.maximum(1, np.rint(np.asarray(phi, float) * n)).astype(int)


def simulate(p, states, backend):
    """Every ``(alpha, phi)`` from the same draws: full-sample ``risk``, ``bias``, ``variance`` over ``(alpha, phi, rep)``.

    ``alpha`` and ``phi`` are inner dimensions (common random numbers): per replication one
    ``n x P`` design (``P`` the largest ``p``) and one direction; ``p`` features are its first ``p``
    columns and ``beta = alpha g[:p] / sqrt(p)`` (:func:`simkit.regression.linear.simulate_path`).
    In response^2.
    """
    n = p["n"]
    alphas = np.atleast_1d(np.asarray(p["alpha"], float))
    phis = np.atleast_1d(np.asarray(p["phi"], float))
    feats = n_features(phis, n)
    out = simulate_path(
        states, n=n, points=[(n, int(q)) for q in feats], sigma=p["sigma"], sketch="none", backend=backend
    )
    return path_dataset(out, alphas, "phi", phis)


def theory(ds):
    """Limits and exact finite-n Gaussian risks over ``(alpha, phi)`` (response^2)."""
    n, sigma = ds.attrs["n"], ds.attrs["sigma"]
    feats = n_features(ds["phi"].values, n)
    out = xr.Dataset()
    alphas = ds["alpha"].values
    shape = (len(alphas), len(feats))
    lim_b, lim_v, fin = (np.empty(shape) for _ in range(3))
    for i, a in enumerate(alphas):
        lim_b[i], lim_v[i] = full_sample_limits(feats / n, a, sigma)
        b, v = gaussian_finite_risk(n, feats, a, sigma)
        fin[i] = b + v
    dims = ("alpha", "phi")
    attach(out, "bias_theory", lim_b, dims)
    attach(out, "variance_theory", lim_v, dims)
    attach(out, "risk_theory", lim_b + lim_v, dims)
    attach(out, "risk_finite", fin, dims)
    for name in ("bias_theory", "variance_theory"):
        out[name].attrs["role"] = "auxiliary"  # components of the plotted risk_theory
    return out


def _mask(ds):
    feats = n_features(ds["phi"].values, ds.attrs["n"])
    return xr.DataArray(np.abs(feats / ds.attrs["n"] - 1) >= 0.1, dims="phi", coords={"phi": ds["phi"]})


def checks(ds):
    """Simulation against the limit and the finite-n risk; the rise and fall around phi = 1."""
    n = ds.attrs["n"]
    feats = xr.DataArray(n_features(ds["phi"].values, n), dims="phi", coords={"phi": ds["phi"]})
    mask = _mask(ds)
    allowance = finite_size_allowance(ds["risk_theory"], n, feats)
    out = [
        limit_check("risk matches the limit (|p/n - 1| >= 0.1)", ds["risk"], ds["risk_theory"], allowance, mask),
        ck.within_mc_error(
            "risk matches the exact finite-n Gaussian risk",
            ds["risk"],
            ds["risk_finite"].where(mask),
            rel=0.0,
            claim="the mean risk equals the exact finite-n Gaussian risk of the minimum-norm estimator within Monte "
            "Carlo error, where |p/n − 1| ≥ 0.1",
        ),
    ]
    out.append(_double_descent_check(ds, feats.values / n))
    return with_claims(
        out,
        {
            "risk matches the limit": "the mean risk matches the full-sample limit within Monte Carlo error plus the finite-"
            "size allowance 2·|limit|/(|n − p| − 1), where |p/n − 1| ≥ 0.1",
        },
    )


def _double_descent_check(ds, ratio):
    """Risk rises towards phi = 1 and falls after it: z-scores of both gaps, the smaller reported."""
    below = np.flatnonzero(ratio < 1)
    above = np.flatnonzero(ratio > 1)
    claim = (
        "the risk rises towards φ = 1 and falls after it: the mean risk nearest below 1 exceeds the one at the "
        "smallest φ, and the one nearest above 1 exceeds the minimum beyond, both by z ≥ 3, for every α"
    )
    if below.size < 2 or above.size < 2:
        return ck.condition(
            "double descent: rise before phi = 1, descent after",
            False,
            float("nan"),
            3.0,
            "needs two phi values on each side of 1",
            inconclusive=True,
            claim=claim,
            direction=">=",
            statistic="smallest z of the rise and the descent",
        )
    s = summarize(ds["risk"])
    zs = []
    for a in ds["alpha"].values:
        mean, se = s["mean"].sel(alpha=a).values, s["se"].sel(alpha=a).values
        peak_lo, peak_hi = below[-1], above[0]
        low = below[0]
        after = above[1:][np.argmin(mean[above[1:]])]
        zs.append((mean[peak_lo] - mean[low]) / np.hypot(se[peak_lo], se[low]))
        zs.append((mean[peak_hi] - mean[after]) / np.hypot(se[peak_hi], se[after]))
    z = float(np.min(zs))
    return z_at_least(
        "double descent: rise before phi = 1, descent after",
        z,
        ds.sizes["rep"],
        bound=3.0,
        detail="smallest z of (risk nearest below 1 - risk at smallest phi) and (risk nearest above 1 - min risk beyond)",
        claim=claim,
        statistic="smallest z of the rise and the descent",
    )


def plot(ds):
    """Risk against φ (log–log) per α: markers with 95% error bars, limits on top, broken at φ = 1."""
    fig, axes = plotting.figure(1, 1, width=4.4, height=3.3, title="Full-sample ridgeless regression: double descent")
    ax = axes[0, 0]
    phi = ds["phi"].values
    fine = np.logspace(np.log10(phi.min()), np.log10(phi.max()), 400)
    sims, lines = {}, []
    for i, a in enumerate(ds["alpha"].values):
        color = plotting.COLORS[i]
        sims[f"$\\alpha$ = {a:g}"] = (ds["risk"].sel(alpha=a), color)
        b, v = full_sample_limits(fine, a, ds.attrs["sigma"])
        lines.append(
            {"x": fine, "y": np.where(np.abs(fine - 1) < 0.02, np.nan, b + v), "color": color, "var": "risk_theory"}
        )
    plotting.risk_vs_ratio(
        ax,
        phi,
        sims,
        theory=lines,
        singular=1.0,
        xscale="log",
        xlabel="$\\varphi = p/n$",
        ylabel="out-of-sample risk",
        title=f"$n$ = {ds.attrs['n']}, $\\sigma$ = {ds.attrs['sigma']:g}",
    )
    for i, a in enumerate(ds["alpha"].values):
        plotting.theory_points(
            ax,
            phi,
            ds["risk_finite"].sel(alpha=a).values,
            color=plotting.COLORS[i],
            var="risk_finite",
            marker="_",
            markersize=9,
            label="exact finite-$n$ risk" if i == 0 else None,
        )
    plotting.legend(fig, where="right", title="simulation:\nmean, 95% CI", theory="theory: limit")
    return fig


PARAMS = (
    Param("alpha", float, "signal strength: E||beta||^2 = alpha^2", low=0, units="response"),
    Param("phi", float, "aspect ratio p/n (p = round(phi n))", low=0, low_inclusive=False, units="1"),
    Param("n", int, "number of samples", low=2, units="1"),
    Param("sigma", float, "noise standard deviation", low=0, units="response"),
)

SETTINGS = {"n": 400, "sigma": 5.0}

STUDY = Study(
    name="ridgeless-double-descent",
    title="Double descent of the full-sample minimum-norm least-squares estimator",
    paper="Chen, Zeng, Yang, Sun, Sketched Ridgeless Linear Regression: The Role of Downsampling, ICML 2023, arXiv:2302.01088 (Figure 1)",
    family="regression",
    teaching=(
        "Misspecified: the model size. With p features and n samples the minimum-norm least-squares fit "
        "interpolates once p > n, and when p is close to n the design is nearly singular. Theory (isotropic "
        "Gaussian features): the risk is sigma^2 phi/(1 - phi) below the threshold phi = p/n = 1 and "
        "alpha^2 (1 - 1/phi) + sigma^2/(phi - 1) above it, so it blows up at phi = 1 and descends again. "
        "Each replication draws one design with the largest p and one coefficient direction; smaller p use "
        "their first columns and all alphas share them (beta = alpha b), so a curve is one set of draws. "
        "Risks are exact given (X, beta), so no test noise blurs them. Look at: the peak at phi = 1 for every "
        "signal strength, the second descent towards alpha^2, and the simulation on the dashed limits."
    ),
    params=PARAMS,
    grid={"alpha": (5.0, 10.0, 15.0), "phi": tuple(float(v) for v in np.logspace(-1, 1, 20))},
    settings=SETTINGS,
    reps=500,
    quick_grid={"alpha": (5.0, 15.0), "phi": (0.2, 0.5, 0.8, 1.15, 1.6, 5.0)},
    quick_settings={"n": 100, "sigma": 5.0},
    quick_reps=40,
    inner=("alpha", "phi"),
    # the n × P design (P = the largest p = phi n) and its factorisations
    memory=lambda p: regression_memory(p["n"], float(n_features(largest(p["phi"]), p["n"]))),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
)
