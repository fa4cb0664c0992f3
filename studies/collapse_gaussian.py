"""collapse-gaussian: refitting a Gaussian to its own samples (Shumailov et al. 2024, Theorem 3.1).

Fits {unbiased, MLE} × modes {replace, accumulate} × sample sizes M, up to 1000 generations
recorded on a log-spaced schedule.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D

from simkit import checks as ck
from simkit import plotting
from simkit.collapse import log_generations, simulate_gaussian_chain
from simkit.collapse import theory as th
from simkit.collapse.inputs import FITS, MODES
from simkit.study import Param, Study

TEACHING = """\
What is misspecified: each generation's Gaussian is fitted to M samples of the previous fit
instead of the real data, so estimation error compounds; accumulate instead fits all samples
drawn so far, the real ones included.
What theory predicts (Shumailov et al., Theorem 3.1): under replace with unbiased fits
σₙ² = σ₀² Πₖ χ²ₖ/(M − 1), each χ²ₖ with M − 1 degrees of freedom,
is a martingale (E σₙ² = σ₀²) yet σₙ² → 0 almost surely:
E log σₙ² falls like −n/(M − 1), E σₙ = σ₀ c₄(M)ⁿ and the median collapses, while the mean is
held up by ever rarer huge values and E W₂² grows like n/M. MLE fits shrink faster
(E σₙ² = σ₀²((M − 1)/M)ⁿ). Accumulating the data stops the collapse: E σₙ² → σ₀² sin(π/√M)/(π/√M)
(MLE) and E(μₙ − μ₀)² ≤ π²σ₀²/(6M).
What to look at: the straight fall of E log σₙ² (left), the accumulate variance levelling
off at its limit (middle), and the median σₙ² plunging under replace while it stays put
under accumulate (right); small M collapses fastest."""


def simulate(params, states, backend):
    """One cell: ``variance``, ``mean`` and ``w2`` at the recorded generations, dims ``(generation, rep)``."""
    gens = log_generations(params["generations"], params["points"])
    chain = simulate_gaussian_chain(
        states,
        M=params["M"],
        generations=params["generations"],
        d=1,
        mu0=params["mu0"],
        sigma0_2=params["sigma0_2"],
        fit=params["fit"],
        mode=params["mode"],
        record=gens,
        backend=backend,
    )
    variance = chain.trace.T
    mean = chain.mean[:, :, 0].T
    w2 = (mean - params["mu0"]) ** 2 + (np.sqrt(variance) - np.sqrt(params["sigma0_2"])) ** 2
    coords = {"generation": gens}
    ds = xr.Dataset(
        {
            "variance": (("generation", "rep"), variance, {"long_name": "fitted variance σₙ²", "units": "x²"}),
            "mean": (("generation", "rep"), mean, {"long_name": "fitted mean μₙ", "units": "x"}),
            "w2": (
                ("generation", "rep"),
                w2,
                {"long_name": "squared 2-Wasserstein distance W₂² to the truth", "units": "x²"},
            ),
        },
        coords=coords,
    )
    ds["generation"].attrs.update(long_name="generation n (1 = fit on real data)", units="1")
    return ds


_THEORY = {
    "variance_theory": ("E σₙ²", "x²"),
    "log_variance_theory": ("E log σₙ² (replace)", "log x²"),
    "sd_theory": ("E σₙ (replace)", "x"),
    "variance_median_theory": ("median σₙ² (replace)", "x²"),
    "mean_sq_theory": ("E (μₙ − μ₀)²", "x²"),
    "w2_theory": ("E W₂² (replace)", "x²"),
}


def theory(ds):
    """Expected variance, log variance, sd, median, squared mean error and W₂², dims without ``rep``."""
    s2 = float(ds.attrs["sigma0_2"])
    n = ds["generation"].values
    shape = (ds.sizes["fit"], ds.sizes["mode"], ds.sizes["M"], n.size)
    out = {k: np.full(shape, np.nan) for k in _THEORY}
    for i, fit in enumerate(ds["fit"].values):
        for j, mode in enumerate(ds["mode"].values):
            for k, M in enumerate(ds["M"].values):
                M = int(M)
                out["mean_sq_theory"][i, j, k] = th.gaussian_mean_sq_error(n, M, fit=fit, mode=mode, sigma0_2=s2)
                if mode == "accumulate":
                    out["variance_theory"][i, j, k] = th.gaussian_accumulate_variance_mean(n, M, fit=fit, sigma0_2=s2)
                    continue
                out["variance_theory"][i, j, k] = th.gaussian_variance_mean(n, M, fit=fit, sigma0_2=s2)
                out["log_variance_theory"][i, j, k] = th.gaussian_log_variance_mean(n, M, fit=fit, sigma0_2=s2)
                out["sd_theory"][i, j, k] = th.gaussian_sd_mean(n, M, fit=fit, sigma0_2=s2)
                out["w2_theory"][i, j, k] = th.gaussian_w2_mean(n, M, fit=fit, sigma0_2=s2)
                out["variance_median_theory"][i, j, k] = [
                    th.gaussian_variance_median(int(g), M, fit=fit, sigma0_2=s2) for g in n
                ]
    dims = ("fit", "mode", "M", "generation")
    coords = {k: ds[k] for k in dims}
    return xr.Dataset(
        {
            k: xr.DataArray(v, dims=dims, coords=coords, attrs={"long_name": _THEORY[k][0], "units": _THEORY[k][1]})
            for k, v in out.items()
        }
    )


def _early(ds, da, factor=0.5):
    """``da`` where the generation is at most ``factor·M``, else NaN.

    Under replace the relative variance of σₙ² is ``(1 + 2/(M − 1))ⁿ − 1 ≈ e^{2n/M} − 1`` and that
    of σₙ is ``c₄(M)^{−2n} − 1 ≈ e^{n/(2M)} − 1``: beyond a few M generations their sample means
    are carried by rare huge values and their standard errors are unreliable.
    """
    return da.where(ds["generation"] <= factor * ds["M"])


def _median_check(ds):
    """Exact test of the theoretical median: the count of σₙ² below it is Binomial(R, 1/2)."""
    rep = ds.sizes["rep"]
    sel = ds.sel(mode="replace").where(ds["generation"] > 0, drop=True)
    below = (sel["variance"] <= sel["variance_median_theory"]).mean("rep")
    npoints = int(below.size)
    z = ck.z_for(npoints)
    ratio = abs(below - 0.5) / (z * 0.5 / np.sqrt(rep))
    worst = ratio.argmax(...)
    where = ", ".join(f"{k}={sel[k].values[v.item()]}" for k, v in worst.items())
    value = float(ratio.max())
    return ck.condition(
        "median σₙ² (replace) follows theory",
        value <= 1,
        value,
        1.0,
        f"share of σₙ² below the theoretical median, worst of {npoints} points at {where}: "
        f"{float(below[worst]):.3f} vs 0.5 (z={z:.2f})",
        claim="under replace, the share of runs whose σₙ² lies below the theoretical median is 1/2 within binomial error (z from the number of points) at every generation",
        statistic="worst |share below − 1/2| / (z·0.5/√R)",
        direction="<=",
    )


def checks(ds):
    """Checks on statistics not dominated by rare values (see the collapse reference)."""
    rep = ds.sel(mode="replace") if "replace" in ds["mode"].values else None
    acc = ds.sel(mode="accumulate") if "accumulate" in ds["mode"].values else None
    out = []
    if rep is not None:
        out.append(
            ck.within_mc_error(
                "E log σₙ² (replace) falls like n[ψ((M−1)/2) − log((M−ddof)/2)]",
                np.log(rep["variance"]),
                rep["log_variance_theory"],
                rel=0.0,
                abs_tol=1e-9,
                claim="under replace, E log σₙ² falls linearly in n, as n[ψ((M−1)/2) − log((M−ddof)/2)] ≈ −n/(M−1), within Monte Carlo error",
            )
        )
        out.append(
            ck.within_mc_error(
                "E σₙ (replace, n ≤ M) = σ₀ c₄(M)ⁿ (× sqrt((M−1)/M)ⁿ for MLE)",
                np.sqrt(rep["variance"]),
                _early(ds, rep["sd_theory"], 1.0),
                rel=0.0,
                abs_tol=1e-12,
                claim="under replace, E σₙ = σ₀ c₄(M)ⁿ (times √((M−1)/M)ⁿ for MLE fits) within Monte Carlo error for n ≤ M",
            )
        )
        out.append(_median_check(ds))
        out.append(
            ck.within_mc_error(
                "E σₙ² (replace, n ≤ M/2): σ₀² unbiased, σ₀²((M−1)/M)ⁿ MLE",
                rep["variance"],
                _early(ds, rep["variance_theory"]),
                rel=0.0,
                abs_tol=1e-12,
                claim="under replace, E σₙ² stays σ₀² for unbiased fits and shrinks as σ₀²((M−1)/M)ⁿ for MLE fits, within Monte Carlo error for n ≤ M/2",
            )
        )
        out.append(
            ck.within_mc_error(
                "E (μₙ − μ₀)² (replace, n ≤ M/2)",
                (rep["mean"] - float(ds.attrs["mu0"])) ** 2,
                _early(ds, rep["mean_sq_theory"]),
                rel=0.0,
                abs_tol=1e-12,
                claim="under replace, the squared error of the fitted mean follows its formula within Monte Carlo error for n ≤ M/2",
            )
        )
        out.append(
            ck.within_mc_error(
                "E W₂² (replace, n ≤ M/2) = σ₀²[n/M + 2(1 − c₄ⁿ)] (unbiased)",
                rep["w2"],
                _early(ds, rep["w2_theory"]),
                rel=0.0,
                abs_tol=1e-12,
                claim="under replace, E W₂² to the truth follows σ₀²[n/M + 2(1 − c₄ⁿ)] (unbiased fits) within Monte Carlo error for n ≤ M/2",
            )
        )
    if acc is not None:
        out.append(
            ck.within_mc_error(
                "E σₙ² (accumulate) → σ₀² sin(π/√M)/(π/√M) (MLE): no collapse",
                acc["variance"],
                acc["variance_theory"],
                rel=0.0,
                abs_tol=1e-12,
                claim="under accumulate, E σₙ² converges to σ₀² sin(π/√M)/(π/√M) (MLE) and follows its formula within Monte Carlo error: no collapse",
            )
        )
        out.append(
            ck.within_mc_error(
                "E (μₙ − μ₀)² (accumulate) = Σ E σₖ₋₁²/(M k²) ≤ π²σ₀²/(6M)",
                (acc["mean"] - float(ds.attrs["mu0"])) ** 2,
                acc["mean_sq_theory"],
                rel=0.0,
                abs_tol=1e-12,
                claim="under accumulate, E(μₙ − μ₀)² = Σ E σₖ₋₁²/(M k²), bounded by π²σ₀²/(6M), within Monte Carlo error",
            )
        )
    return out


_PANELS = (
    ("replace", "log_variance", "replace: $E\\,\\log\\sigma_n^2$", False),
    ("replace", "sd", "replace: $E\\,\\sigma_n$", True),
    ("replace", "w2", "replace: $E\\,W_2^2$", True),
    ("both", "variance_median", "median $\\sigma_n^2$", True),
    ("accumulate", "variance", "accumulate: $E\\,\\sigma_n^2$", False),
    ("both", "mean_sq", "$E\\,(\\mu_n - \\mu_0)^2$", True),
)


def _sim(sel, name, mu0):
    v = sel["variance"]
    return {
        "log_variance": np.log(v),
        "sd": np.sqrt(v),
        "w2": sel["w2"],
        "variance": v,
        "variance_median": v,
        "mean_sq": (sel["mean"] - mu0) ** 2,
    }[name]


def plot(ds):
    """Rows: fit; columns: E log σₙ², E σₙ, E W₂² (replace), median σₙ², E σₙ² (accumulate), E (μₙ − μ₀)²."""
    fits = list(ds["fit"].values)
    modes = list(ds["mode"].values)
    fig, axes = plotting.figure(
        len(fits),
        len(_PANELS),
        width=2.6,
        height=2.35,
        title="Refitting a Gaussian to its own samples: replace collapses, accumulate does not",
    )
    sel = ds.where(ds["generation"] >= 1, drop=True)
    n = sel["generation"].values
    mu0 = float(ds.attrs["mu0"])
    styles = {"replace": "-", "accumulate": ":"}
    for i, fit in enumerate(fits):
        for col, (where, name, title, logy) in enumerate(_PANELS):
            ax = axes[i, col]
            for mode in modes if where == "both" else [where]:
                if mode not in modes:
                    continue
                for k, M in enumerate(ds["M"].values):
                    color = plotting.COLORS[k % len(plotting.COLORS)]
                    cell = sel.sel(fit=fit, mode=mode, M=M)
                    sim = _sim(cell, name, mu0)
                    if name == "variance_median":
                        (line,) = ax.plot(
                            n,
                            sim.median("rep"),
                            color=color,
                            linestyle=styles[mode],
                            zorder=plotting.SIM_Z,
                            label=f"$M$ = {int(M)}",
                        )
                        line.set_gid("sim:variance")
                    else:
                        plotting.band(
                            ax,
                            n,
                            sim,
                            color=color,
                            linestyle=styles[mode],
                            label=f"$M$ = {int(M)}",
                            var="variance" if name != "w2" else "w2",
                        )
                    y = cell[f"{name}_theory"].values
                    if np.isfinite(y).any():
                        plotting.theory_line(ax, n, y, color=color, var=f"{name}_theory")
                    if name == "variance" and mode == "accumulate":
                        limit = th.gaussian_accumulate_variance_limit(
                            int(M), fit=fit, sigma0_2=float(ds.attrs["sigma0_2"])
                        )
                        plotting.theory_hline(
                            ax, limit, color=color, linewidth=0.9, linestyle="-.", var="variance_theory"
                        )
            ax.set_title(f"{fit}, {title}" if col == 0 else title)
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel("generation $n$")
    handles = [
        Line2D([], [], color=plotting.COLORS[k % len(plotting.COLORS)], label=f"$M$ = {int(M)}")
        for k, M in enumerate(ds["M"].values)
    ]
    handles += [Line2D([], [], color="black", linestyle=styles[m], label=m) for m in modes]
    handles += [plotting.theory_handle("theory (Theorem 3.1)")]
    if "accumulate" in modes:
        handles.append(Line2D([], [], color="black", linestyle="-.", linewidth=0.9, label="accumulate limit"))
    plotting.legend(fig, where="right", handles=handles, title="mean, 95% band\n(median: no band)")
    return fig


STUDY = Study(
    name="collapse-gaussian",
    title="Refitting a Gaussian to its own samples (Shumailov et al. 2024)",
    paper="Shumailov et al. 2024, AI models collapse when trained on recursively generated data, Nature 631, doi:10.1038/s41586-024-07566-y",
    family="collapse",
    teaching=TEACHING,
    params=(
        Param("fit", str, "unbiased (divisor N − 1) or mle (divisor N) variance", choices=FITS),
        Param("mode", str, "replace: fit the newest samples only; accumulate: fit all samples so far", choices=MODES),
        Param("M", int, "samples per generation", low=2, units="1"),
        Param("generations", int, "number of refits", low=1, units="1"),
        Param("points", int, "number of log-spaced generations recorded", low=2, units="1"),
        Param("mu0", float, "mean of the real data", units="x"),
        Param("sigma0_2", float, "variance of the real data", low=0, low_inclusive=False, high=1e100, units="x²"),
    ),
    grid={"fit": FITS, "mode": MODES, "M": (10, 100, 1000)},
    settings={"generations": 1000, "points": 40, "mu0": 0.0, "sigma0_2": 1.0},
    reps=1000,
    quick_grid={"fit": FITS, "mode": MODES, "M": (10, 100)},
    quick_settings={"generations": 200, "points": 25, "mu0": 0.0, "sigma0_2": 1.0},
    quick_reps=300,
    # one generation's M draws and their two centred copies (float64), and the recorded outputs
    memory=lambda p: 8.0 * 4.0 * p["M"] + 32.0 * p["points"],
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
)
