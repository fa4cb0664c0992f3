"""sketched-correlated (Figure 4) and sketched-correlated-optimal-m (Figure 5): correlated features.

The design has ``Sigma = diag(eig_high`` on half the coordinates, ``eig_low`` on the rest``)``; the limits
come from the fixed point of Lemma 4.1 / Theorem 4.2 (:func:`simkit.regression.theory.correlated_limits`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.ticker import NullFormatter

from simkit import checks as ck
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

EXCLUDE = 0.1
ESTIMATORS = ("full", "optimal")


def spectrum(p):
    """The two-level spectrum of a cell or of ``ds.attrs`` (shape ``(p,)``)."""
    return two_level_spectrum(p["p"], p["eig_high"], p["eig_low"])


# ---------------------------------------------------------------- Figure 4: risk against psi


def simulate_psi(p, states, backend):
    """One cell ``(alpha, sketch, psi)``: exact risk, bias and variance with correlated features, shape ``(rep,)``."""
    m = int(sketch_size(p["psi"], p["n"]))
    out = simulate_sketched(states, n=p["n"], p=p["p"], m=m, alpha=p["alpha"], sigma=p["sigma"],
                            sketch=p["sketch"], spectrum=spectrum(p), backend=backend)
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
    return out


def checks_psi(ds):
    """Risk and bias against the fixed-point limits; orthogonal vs i.i.d. sketches."""
    m = xr.DataArray(sketch_size(ds["psi"].values, ds.attrs["n"]), dims="psi", coords={"psi": ds["psi"]})
    t = ds.attrs["p"] / m
    mask = np.abs(t - 1) >= EXCLUDE
    allowance = finite_size_allowance(ds["risk_theory"], m, ds.attrs["p"])
    out = [limit_check(f"risk matches the correlated limit (|p/m - 1| >= {EXCLUDE:g})", ds["risk"],
                       ds["risk_theory"], allowance, mask)]
    over = mask & (t > 1)
    out.append(limit_check("bias matches -alpha^2 c0 for p > m", ds["bias"], ds["bias_theory"],
                           finite_size_allowance(ds["bias_theory"], m, ds.attrs["p"]), over))
    return out + sketch_comparison_checks(ds, t, mask)


def plot_psi(ds):
    """Risk against psi (reversed axis) per alpha, dashed fixed-point limits."""
    alphas = ds["alpha"].values
    fig, axes = plotting.figure(1, len(alphas), width=3.8, height=3.2, title=(
        f"Correlated features (Sigma eigenvalues {ds.attrs['eig_high']:g} / {ds.attrs['eig_low']:g}), "
        f"n = {ds.attrs['n']}, p = {ds.attrs['p']}; dashed: fixed-point limit"))
    psi = ds["psi"].values
    n, p = ds.attrs["n"], ds.attrs["p"]
    fine = np.linspace(psi.min(), psi.max(), 300)
    near_peak = np.abs(p / (fine * n) - 1) < 0.03
    spec = spectrum(ds.attrs)
    for ax, a in zip(axes[0], alphas):
        for j, sk in enumerate(ds["sketch"].values):
            color = plotting.COLORS[j]
            plotting.band(ax, psi, ds["risk"].sel(alpha=a, sketch=sk), label=str(sk), color=color, marker="o")
            b, v = correlated_limits(p / n, fine, a, ds.attrs["sigma"], spec, sketch=str(sk))
            plotting.theory_line(ax, fine, np.where(near_peak, np.nan, b + v), color=color)
        ax.axvline(p / n, color="grey", linewidth=0.8, linestyle=":")
        ax.set(yscale="log", xlabel="psi = m/n (reversed)", ylabel="out-of-sample risk",
               title=f"alpha = {a:g}, sigma = {ds.attrs['sigma']:g}",
               xlim=(psi.max() + 0.02, psi.min() - 0.02))
        ax.yaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].legend(loc="upper left")
    return fig


COMMON = (
    Param("alpha", float, "signal strength: E||beta||^2 = alpha^2", low=0, low_inclusive=False, units="response"),
    Param("n", int, "number of samples", low=2, units="1"),
    Param("sigma", float, "noise standard deviation", low=0, low_inclusive=False, units="response"),
    Param("eig_high", float, "eigenvalue of Sigma on the first half of the coordinates", low=0, low_inclusive=False,
          units="1"),
    Param("eig_low", float, "eigenvalue of Sigma on the second half", low=0, low_inclusive=False, units="1"),
)

PSI = tuple(float(v) for v in np.round(np.concatenate([np.linspace(0.11, 0.49, 10), np.linspace(0.51, 1.0, 10)]), 6))
PAPER = "Chen, Zeng, Yang, Sun, Sketched Ridgeless Linear Regression: The Role of Downsampling, ICML 2023"

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
    params=COMMON + (
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
    out = simulate_path(states, n=p["n"], points=points, sigma=p["sigma"], sketch=p["sketch"],
                        spectrum=lambda q: interleaved_spectrum(q, p["eig_high"], p["eig_low"]), backend=backend)
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
    out["m"] = xr.DataArray(msize, dims=("alpha", "estimator", "phi"),
                            attrs={"long_name": "sketch size used (n: no sketch)", "units": "1"})
    out["p_features"] = xr.DataArray(feats, dims="phi", attrs={"long_name": "number of features p", "units": "1"})
    return out


def checks_phi(ds):
    """Limits at the m used and the gain of m* over the full sample."""
    feats, m = ds["p_features"], ds["m"]
    mask = np.abs(feats / m - 1) >= EXCLUDE
    allowance = finite_size_allowance(ds["risk_theory"], m, feats)
    out = [limit_check("risk matches the correlated limit at the m used", ds["risk"], ds["risk_theory"],
                       allowance, mask)]
    s = summarize(ds["risk"])
    full, opt = ds["risk_theory"].sel(estimator="full"), ds["risk_theory"].sel(estimator="optimal")
    gain = (opt < 0.9 * full) & mask.sel(estimator="full")
    z = (s["mean"].sel(estimator="full") - s["mean"].sel(estimator="optimal")) / np.hypot(
        s["se"].sel(estimator="full"), s["se"].sel(estimator="optimal"))
    zmin = float(z.where(gain).min()) if bool(gain.any()) else float("nan")
    out.append(ck.condition(
        "sketching at m* beats the full sample where theory predicts a > 10% gain", zmin >= 3.0, zmin, 3.0,
        f"smallest z of (full - optimal) over {int(gain.sum())} (alpha, phi) points",
    ))
    return out


def plot_phi(ds):
    """Risk against phi for the full sample and the sketch at m*, dashed limits."""
    alphas = ds["alpha"].values
    fig, axes = plotting.figure(1, len(alphas), width=max(4.6, 3.6 * len(alphas)), height=3.2, title=(
        f"Correlated features: sketch at m* vs full sample, n = {ds.attrs['n']}"))
    phi = ds["phi"].values
    for ax, a in zip(axes[0], alphas):
        for j, est in enumerate(ds["estimator"].values):
            color = plotting.COLORS[j]
            label = "full sample" if est == "full" else "sketch at m*"
            plotting.band(ax, phi, ds["risk"].sel(alpha=a, estimator=est), label=label, color=color, marker="o")
            r = ds["risk_theory"].sel(alpha=a, estimator=est).values
            if est == "full":
                r = np.where(np.abs(phi - 1) < EXCLUDE, np.nan, r)
            plotting.theory_line(ax, phi, r, color=color)
        ax.set(xscale="log", yscale="log", xlabel="phi = p/n", ylabel="out-of-sample risk",
               title=f"alpha = {a:g}, sigma = {ds.attrs['sigma']:g}", ylim=(None, 20 * a**2))
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].legend(loc="upper left")
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
    params=COMMON + (
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
    simulate=simulate_phi,
    theory=theory_phi,
    checks=checks_phi,
    plot=plot_phi,
)

STUDIES = [STUDY_PSI, STUDY_PHI]
