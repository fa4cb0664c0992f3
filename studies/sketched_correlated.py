"""sketched-correlated (Figure 4) and sketched-correlated-optimal-m (Figure 5): correlated features.

The design has ``Sigma = diag(eig_high`` on half the coordinates, ``eig_low`` on the rest``)``; the limits
come from the fixed point of Lemma 4.1 / Theorem 4.2 (:func:`simkit.regression.theory.correlated_limits`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import plotting
from simkit.regression.datasets import (
    attach,
    finite_size_allowance,
    limit_check,
    points_dataset,
    risk_dataset,
    sketch_comparison_checks,
    sketch_size,
)
from simkit.regression.linear import interleaved_spectrum, simulate_path, simulate_sketched, two_level_spectrum
from simkit.regression.theory import correlated_limits, optimal_psi_numeric
from simkit.stats import summarize
from simkit.study import Param, Study

from ._common import largest, regression_memory, with_claims, z_at_least

EXCLUDE = 0.1
ESTIMATORS = ("full", "optimal")


def spectrum(p):
    """The two-level spectrum of a cell or of ``ds.attrs`` (shape ``(p,)``)."""
    return two_level_spectrum(p["p"], p["eig_high"], p["eig_low"])


# ---------------------------------------------------------------- Figure 4: risk against psi


def simulate_psi(p, states, backend):
    """One cell ``(alpha, sketch, psi)``: exact risk, bias and variance with correlated features, shape ``(rep,)``."""
    m = int(sketch_size(p["psi"], p["n"]))
    out = simulate_sketched(
        states,
        n=p["n"],
        p=p["p"],
        m=m,
        alpha=p["alpha"],
        sigma=p["sigma"],
        sketch=p["sketch"],
        spectrum=spectrum(p),
        backend=backend,
    )
    return risk_dataset(out)


def theory_psi(ds):
    """Fixed-point limits (Theorem 4.2) over ``(alpha, sketch, psi)`` (response^2)."""
    n, p, sigma = ds.attrs["n"], ds.attrs["p"], ds.attrs["sigma"]
    m = sketch_size(ds["psi"].values, n)
    spec = spectrum(ds.attrs)
    shape = (ds.sizes["alpha"], ds.sizes["sketch"], ds.sizes["psi"])
    bias, var = np.empty(shape), np.empty(shape)
    for i, a in enumerate(ds["alpha"].values):
        for j, sk in enumerate(ds["sketch"].values):
            bias[i, j], var[i, j] = correlated_limits(p / n, m / n, a, sigma, spec, sketch=str(sk))
    out = xr.Dataset()
    dims = ("alpha", "sketch", "psi")
    attach(out, "bias_theory", bias, dims)
    attach(out, "variance_theory", var, dims)
    attach(out, "risk_theory", bias + var, dims)
    out["variance_theory"].attrs["role"] = "auxiliary"  # risk_theory − bias_theory: both are plotted
    return out


def checks_psi(ds):
    """Risk and bias against the fixed-point limits; orthogonal vs i.i.d. sketches."""
    m = xr.DataArray(sketch_size(ds["psi"].values, ds.attrs["n"]), dims="psi", coords={"psi": ds["psi"]})
    t = ds.attrs["p"] / m
    mask = np.abs(t - 1) >= EXCLUDE
    allowance = finite_size_allowance(ds["risk_theory"], m, ds.attrs["p"])
    out = [
        limit_check(
            f"risk matches the correlated limit (|p/m - 1| >= {EXCLUDE:g})",
            ds["risk"],
            ds["risk_theory"],
            allowance,
            mask,
        )
    ]
    over = mask & (t > 1)
    out.append(
        limit_check(
            "bias matches -alpha^2 c0 for p > m",
            ds["bias"],
            ds["bias_theory"],
            finite_size_allowance(ds["bias_theory"], m, ds.attrs["p"]),
            over,
        )
    )
    return with_claims(out + sketch_comparison_checks(ds, t, mask), CLAIMS_PSI)


CLAIMS_PSI = {
    "risk matches the correlated limit": "the mean risk matches the fixed-point limit of Theorem 4.2 (not the isotropic "
    "one) within Monte Carlo error plus the finite-size allowance, where "
    f"|p/m − 1| ≥ {EXCLUDE:g}",
    "bias matches -alpha^2 c0": "for p > m, the mean bias equals −α²c₀ (c₀ the root of the fixed-point equation) within "
    "Monte Carlo error plus the finite-size allowance",
    "haar beats i.i.d.": {
        "claim": "for p < m, the Haar sketch has lower mean risk than the i.i.d. sketch (z ≥ 3 at every point)",
        "statistic": "smallest z of (i.i.d. − Haar)",
        "direction": ">=",
    },
    "srht beats i.i.d.": {
        "claim": "for p < m, the SRHT sketch has lower mean risk than the i.i.d. sketch (z ≥ 3 at every point)",
        "statistic": "smallest z of (i.i.d. − SRHT)",
        "direction": ">=",
    },
    "haar equals i.i.d.": "for p > m, the Haar and i.i.d. sketches have the same mean risk within Monte Carlo error",
    "srht equals i.i.d.": "for p > m, the SRHT and i.i.d. sketches have the same mean risk within Monte Carlo error",
}


def plot_psi(ds):
    """Risk (top) and bias (bottom) against ψ (reversed) per α: markers with 95% error bars, fixed-point
    limits on top, nothing joined across ψ = p/n."""
    alphas = ds["alpha"].values
    fig, axes = plotting.figure(
        2,
        len(alphas),
        width=3.5,
        height=2.7,
        title=(
            f"Correlated features ($\\Sigma$ eigenvalues {ds.attrs['eig_high']:g} / {ds.attrs['eig_low']:g}), "
            f"$n$ = {ds.attrs['n']}, $p$ = {ds.attrs['p']}"
        ),
    )
    psi = ds["psi"].values
    n, p = ds.attrs["n"], ds.attrs["p"]
    fine = np.linspace(psi.min(), psi.max(), 300)
    near_peak = np.abs(p / (fine * n) - 1) < 0.03
    spec = spectrum(ds.attrs)
    for col, a in enumerate(alphas):
        sims_r, sims_b, lines_r, lines_b = {}, {}, [], []
        for j, sk in enumerate(ds["sketch"].values):
            color = plotting.COLORS[j]
            sims_r[str(sk)] = (ds["risk"].sel(alpha=a, sketch=sk), color)
            sims_b[str(sk)] = (ds["bias"].sel(alpha=a, sketch=sk), color)
            b, v = correlated_limits(p / n, fine, a, ds.attrs["sigma"], spec, sketch=str(sk))
            lines_r.append({"x": fine, "y": np.where(near_peak, np.nan, b + v), "color": color, "var": "risk_theory"})
            lines_b.append({"x": fine, "y": np.where(near_peak, np.nan, b), "color": color, "var": "bias_theory"})
        title = f"$\\alpha$ = {a:g}, $\\sigma$ = {ds.attrs['sigma']:g}"
        plotting.risk_vs_ratio(
            axes[0, col],
            psi,
            sims_r,
            theory=lines_r,
            singular=p / n,
            reverse=True,
            xlabel="$\\psi = m/n$ (reversed)",
            ylabel="out-of-sample risk",
            title=title + ": risk",
        )
        plotting.risk_vs_ratio(
            axes[1, col],
            psi,
            sims_b,
            theory=lines_b,
            singular=p / n,
            reverse=True,
            yscale="linear",
            xlabel="$\\psi = m/n$ (reversed)",
            ylabel="bias",
            var="bias",
            title=title + ": bias",
        )
    plotting.legend(fig, where="right", title="simulation:\nmean, 95% CI", theory="theory: fixed-point limit")
    return fig


COMMON = (
    Param("alpha", float, "signal strength: E||beta||^2 = alpha^2", low=0, low_inclusive=False, units="response"),
    Param("n", int, "number of samples", low=2, units="1"),
    Param("sigma", float, "noise standard deviation", low=0, low_inclusive=False, units="response"),
    Param(
        "eig_high",
        float,
        "eigenvalue of Sigma on the first half of the coordinates",
        low=0,
        low_inclusive=False,
        units="1",
    ),
    Param("eig_low", float, "eigenvalue of Sigma on the second half", low=0, low_inclusive=False, units="1"),
)

PSI = tuple(float(v) for v in np.round(np.concatenate([np.linspace(0.11, 0.49, 10), np.linspace(0.51, 1.0, 10)]), 6))
PAPER = (
    "Chen, Zeng, Yang, Sun, Sketched Ridgeless Linear Regression: The Role of Downsampling, ICML 2023, arXiv:2302.01088"
)

STUDY_PSI = Study(
    name="sketched-correlated",
    title="Sketched ridgeless regression with correlated features: risk against the sketch size",
    paper=PAPER + " (Figure 4)",
    family="regression",
    teaching=(
        "Misspecified: the isotropy assumption of Theorem 3.2. Features now have covariance Sigma with half "
        "its eigenvalues 2 and half 1. Theory (Lemma 4.1 / Theorem 4.2): for p > m the bias is -alpha^2 c0, "
        "with c0 < 0 the unique root of 1 = integral x/(-c0 + x psi/phi) dH(x), and the variance "
        "sigma^2 I/(1 - I), for any sketch; for p < m the bias is 0 and the variance is the isotropic one "
        "(orthogonal below i.i.d.). Each replication redraws X, beta and S. Look at: the simulation on the "
        "dashed fixed-point curves (not the isotropic ones), and orthogonal vs i.i.d. on either side of p = m."
    ),
    params=COMMON
    + (
        Param("p", int, "number of features", low=2, units="1"),
        Param("sketch", str, "sketching matrix", choices=("haar", "srht", "gaussian")),
        Param("psi", float, "sketch ratio m/n", low=0, high=1, low_inclusive=False, units="1"),
    ),
    grid={"alpha": (3.0, 9.0), "sketch": ("srht", "gaussian"), "psi": PSI},
    settings={"n": 400, "p": 200, "sigma": 3.0, "eig_high": 2.0, "eig_low": 1.0},
    reps=500,
    quick_grid={"alpha": (3.0, 9.0), "sketch": ("srht", "gaussian"), "psi": (0.2, 0.35, 0.45, 0.6, 0.8, 1.0)},
    quick_settings={"n": 200, "p": 100, "sigma": 3.0, "eig_high": 2.0, "eig_low": 1.0},
    quick_reps=40,
    # the n × p design, the sketch (m ≤ n rows) and its factorisations
    memory=lambda p: regression_memory(p["n"], p["p"]),
    simulate=simulate_psi,
    theory=theory_psi,
    checks=checks_psi,
    plot=plot_psi,
)


# ---------------------------------------------------------------- Figure 5: risk at m* against phi


def optimal_m(p, phi_value):
    """``(features, m)``: ``p = round(phi n)`` and ``m = round(psi* n)`` minimising the correlated limit."""
    n = p["n"]
    feats = max(2, int(round(phi_value * n)))
    spec = two_level_spectrum(feats, p["eig_high"], p["eig_low"])
    psi, _ = optimal_psi_numeric(feats / n, p["alpha"], p["sigma"], spec, psi_min=1.0 / n)
    return feats, int(np.clip(round(psi * n), 1, n))


def simulate_phi(p, states, backend):
    """Every ``(alpha, estimator, phi)`` from the same draws: ``risk``, ``bias``, ``variance`` at the m used.

    All three are inner dimensions (common random numbers): per replication one standard-normal
    design with the largest ``p``, one direction and one sketch of the largest ``m``
    (``n`` when the full sample is included); each point scales the
    first ``p`` columns by the square root of the two-level spectrum and uses the first ``m`` sketch
    rows (``m = n``: the full sample; :func:`simkit.regression.linear.simulate_path`).  The
    spectrum's coordinates are interleaved (:func:`~simkit.regression.linear.interleaved_spectrum`:
    the same ``p // 2`` high eigenvalues, permuted so that the designs nest over ``p``; the risk's
    distribution is permutation invariant, and the theory sees the same spectrum).
    Shape ``(alpha, estimator, phi, rep)``, response^2.
    """
    coords = {k: tuple(np.atleast_1d(p[k]).tolist()) for k in ("alpha", "estimator", "phi")}
    points, index = [], np.empty(tuple(len(v) for v in coords.values()), dtype=int)
    alphas = np.empty(index.shape)
    for i, a in enumerate(coords["alpha"]):
        for k, phi in enumerate(coords["phi"]):
            feats, m_opt = optimal_m({**p, "alpha": float(a)}, float(phi))
            for j, est in enumerate(coords["estimator"]):
                m = p["n"] if est == "full" else m_opt
                if (m, feats) not in points:
                    points.append((m, feats))
                index[i, j, k] = points.index((m, feats))
                alphas[i, j, k] = a
    out = simulate_path(
        states,
        n=p["n"],
        points=points,
        sigma=p["sigma"],
        sketch=p["sketch"],
        spectrum=lambda q: interleaved_spectrum(q, p["eig_high"], p["eig_low"]),
        backend=backend,
    )
    return points_dataset(out, coords, index, alphas)


def theory_phi(ds):
    """Fixed-point limits at the m used, the m used and p, over ``(alpha, estimator, phi)``."""
    n, sigma = ds.attrs["n"], ds.attrs["sigma"]
    shape = (ds.sizes["alpha"], ds.sizes["estimator"], ds.sizes["phi"])
    lim, msize = np.empty(shape), np.empty(shape, dtype=int)
    feats = np.empty(ds.sizes["phi"], dtype=int)
    for i, a in enumerate(ds["alpha"].values):
        for k, phi in enumerate(ds["phi"].values):
            f, m_opt = optimal_m({**ds.attrs, "alpha": float(a)}, float(phi))
            feats[k] = f
            spec = two_level_spectrum(f, ds.attrs["eig_high"], ds.attrs["eig_low"])
            for j, est in enumerate(ds["estimator"].values):
                m = n if est == "full" else m_opt
                msize[i, j, k] = m
                b, v = correlated_limits(f / n, m / n, a, sigma, spec, sketch="orthogonal")
                lim[i, j, k] = b + v
    out = xr.Dataset()
    attach(out, "risk_theory", lim, ("alpha", "estimator", "phi"))
    out["m"] = xr.DataArray(
        msize,
        dims=("alpha", "estimator", "phi"),
        attrs={"long_name": "sketch size used (n: no sketch)", "units": "1", "role": "auxiliary"},
    )
    out["p_features"] = xr.DataArray(
        feats, dims="phi", attrs={"long_name": "number of features p", "units": "1", "role": "auxiliary"}
    )
    return out


def checks_phi(ds):
    """Limits at the m used and the gain of m* over the full sample."""
    feats, m = ds["p_features"], ds["m"]
    mask = np.abs(feats / m - 1) >= EXCLUDE
    allowance = finite_size_allowance(ds["risk_theory"], m, feats)
    out = with_claims(
        [
            limit_check(
                "risk matches the correlated limit at the m used", ds["risk"], ds["risk_theory"], allowance, mask
            )
        ],
        {
            "risk matches": "the mean risk of the full sample and of the sketch at m* matches the fixed-point limit at the m "
            "used within Monte Carlo error plus the finite-size allowance, where |p/m − 1| ≥ 0.1"
        },
    )
    s = summarize(ds["risk"])
    full, opt = ds["risk_theory"].sel(estimator="full"), ds["risk_theory"].sel(estimator="optimal")
    gain = (opt < 0.9 * full) & mask.sel(estimator="full")
    z = (s["mean"].sel(estimator="full") - s["mean"].sel(estimator="optimal")) / np.hypot(
        s["se"].sel(estimator="full"), s["se"].sel(estimator="optimal")
    )
    zmin = float(z.where(gain).min()) if bool(gain.any()) else float("nan")
    out.append(
        z_at_least(
            "sketching at m* beats the full sample where theory predicts a > 10% gain",
            zmin,
            ds.sizes["rep"],
            detail=f"smallest z of (full - optimal) over {int(gain.sum())} (alpha, phi) points",
            claim="wherever the fixed-point theory predicts a gain above 10%, the sketch at m* has lower mean risk than the "
            "full sample (z ≥ 3 at every such point)",
            statistic="smallest z of (full − sketched)",
        )
    )
    return out


def plot_phi(ds):
    """Risk against φ for the full sample (broken at φ = 1) and the sketch at m*, limits on top."""
    alphas = ds["alpha"].values
    fig, axes = plotting.figure(
        1,
        len(alphas),
        width=max(4.2, 3.4 * len(alphas)),
        height=3.0,
        title=(f"Correlated features: sketch at $m^*$ vs full sample, $n$ = {ds.attrs['n']}"),
    )
    phi = ds["phi"].values
    for ax, a in zip(axes[0], alphas):
        full = ds["risk_theory"].sel(alpha=a, estimator="full").values
        sims = {
            "full sample": (ds["risk"].sel(alpha=a, estimator="full"), plotting.COLORS[0], 1.0),
            "sketch at $m^*$": (ds["risk"].sel(alpha=a, estimator="optimal"), plotting.COLORS[1]),
        }
        lines = [
            {
                "x": phi,
                "y": np.where(np.abs(phi - 1) < EXCLUDE, np.nan, full),
                "color": plotting.COLORS[0],
                "var": "risk_theory",
                "series": "full sample",
                "singular": 1.0,
            },
            {
                "x": phi,
                "y": ds["risk_theory"].sel(alpha=a, estimator="optimal").values,
                "color": plotting.COLORS[1],
                "var": "risk_theory",
                "singular": None,
            },
        ]
        plotting.risk_vs_ratio(
            ax,
            phi,
            sims,
            theory=lines,
            xscale="log",
            xlabel="$\\varphi = p/n$",
            ylabel="out-of-sample risk",
            title=f"$\\alpha$ = {a:g}, $\\sigma$ = {ds.attrs['sigma']:g}",
        )
        ax.set_ylim(None, 20 * a**2)
    plotting.legend(fig, where="right", title="simulation:\nmean, 95% CI", theory="theory: fixed-point limit")
    return fig


STUDY_PHI = Study(
    name="sketched-correlated-optimal-m",
    title="Correlated features: sketching at the optimal size against the full sample",
    paper=PAPER + " (Figure 5)",
    family="regression",
    teaching=(
        "Misspecified: isotropy, as in sketched-correlated, now across aspect ratios. There is no closed-form "
        "m* for correlated features, so m* minimises the fixed-point limit (Theorem 4.2) numerically for each "
        "phi; the orthogonal sketch at m* is compared with the full sample. Theory: sketching removes the "
        "peak at phi = 1 and never does worse than the full sample. Look at: the full-sample peak, the "
        "sketched risk flat through phi = 1, and both on their dashed limits. Each replication draws one design "
        "with the largest p, one coefficient direction and one SRHT of the largest size "
        "(n with the full sample); every point uses their first columns and rows, so the curves share their "
        "draws (the eigenvalue-2 coordinates are the odd-numbered ones, so that the designs nest)."
    ),
    params=COMMON
    + (
        Param("estimator", str, "full sample, or an orthogonal sketch at the optimal size m*", choices=ESTIMATORS),
        Param("phi", float, "aspect ratio p/n", low=0, low_inclusive=False, units="1"),
        Param("sketch", str, "orthogonal sketch used at m*", choices=("haar", "srht")),
    ),
    grid={"alpha": (6.0,), "estimator": ESTIMATORS, "phi": tuple(float(v) for v in np.logspace(-1, 1, 30))},
    settings={"n": 400, "sigma": 3.0, "eig_high": 2.0, "eig_low": 1.0, "sketch": "srht"},
    reps=500,
    quick_grid={"alpha": (6.0,), "estimator": ESTIMATORS, "phi": (0.3, 0.7, 0.85, 1.15, 1.4, 3.0)},
    quick_settings={"n": 120, "sigma": 3.0, "eig_high": 2.0, "eig_low": 1.0, "sketch": "srht"},
    quick_reps=40,
    inner=("alpha", "estimator", "phi"),
    # the n × P design (P = the largest p = phi n), the sketch (m ≤ n rows) and its factorisations
    memory=lambda p: regression_memory(p["n"], max(2.0, round(largest(p["phi"]) * p["n"]))),
    simulate=simulate_phi,
    theory=theory_phi,
    checks=checks_phi,
    plot=plot_phi,
)

STUDIES = [STUDY_PSI, STUDY_PHI]
