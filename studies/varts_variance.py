"""varts-variance: "only pay for what is uncertain" — Bayes regret vs the reward variance and prior informativeness."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.bandits.datasets import karmed_dataset
from simkit.bandits.karmed import NormalGamma, Policy, log_grid, simulate_karmed
from simkit.stats import summarize
from simkit.study import Param, Study

from ._common import karmed_memory, z_at_least


def prior(p) -> NormalGamma:
    """Normal-Gamma prior with mean arm variance ``mean_variance``: ``beta0 = mean_variance (alpha0 - 1)``."""
    return NormalGamma(0.0, p["kappa0"], p["alpha0"], p["mean_variance"] * (p["alpha0"] - 1.0))


def simulate(p, states, backend):
    pr = prior(p)
    policies = {
        "varts": Policy("varts", {"prior": pr}),
        "ts-known": Policy("ts-known", {"mu0": pr.mu0, "kappa0": pr.kappa0}),
    }
    grid = log_grid(p["horizon"], p["grid_points"])
    return karmed_dataset(
        {
            n: simulate_karmed(states, pol, p["horizon"], prior=pr, K=p["K"], grid=grid, backend=backend)
            for n, pol in policies.items()
        }
    )


def theory(ds):
    """Scale law: multiplying every variance by c multiplies every reward deviation by sqrt(c) (the
    arm means' prior spread is sqrt(variance/kappa0)), and both policies are scale-equivariant, so
    ``R(v) = C sqrt(v)`` exactly in distribution; ``C`` is the pooled estimate of ``R(v)/sqrt(v)``
    over the swept variances (weighted by inverse variance)."""
    final = ds["regret"].isel(t=-1)
    s = summarize(final, "rep")
    root = np.sqrt(ds["mean_variance"])
    ratio, se = s["mean"] / root, s["se"] / root
    w = 1.0 / se**2
    constant = (ratio * w).sum("mean_variance") / w.sum("mean_variance")
    out = xr.Dataset({"regret_scale_law": constant * root})
    out["regret_scale_law"].attrs.update(
        long_name="C sqrt(mean variance): regret at the horizon by the scale law", units="reward"
    )
    return out


def checks(ds):
    final = ds["regret"].isel(t=-1)
    out = [
        ck.within_mc_error(
            "regret at the horizon scales as sqrt(mean variance)",
            final,
            ds["regret_scale_law"],
            rel=0.0,
            claim="the mean regret at the horizon equals C·√v (C pooled over the swept mean "
            "variances v) within Monte Carlo error, for both policies and every α₀",
        )
    ]
    v0 = float(ds["mean_variance"].values[len(ds["mean_variance"]) // 2])
    alphas = ds["alpha0"].values
    ratios = []
    for a in alphas:
        vt, tk = (
            summarize(final.sel(mean_variance=v0, alpha0=a, policy="varts")),
            summarize(final.sel(mean_variance=v0, alpha0=a, policy="ts-known")),
        )
        r = float(vt["mean"]) / float(tk["mean"])
        se = r * float(np.hypot(vt["se"] / vt["mean"], tk["se"] / tk["mean"]))
        ratios.append((r, se))
    (r_lo, se_lo), (r_hi, se_hi) = ratios[0], ratios[-1]
    z = (r_lo - r_hi) / float(np.hypot(se_lo, se_hi))
    out.append(
        z_at_least(
            f"VarTS closer to ts-known with a more informative variance prior (alpha0 {alphas[0]:g} -> {alphas[-1]:g})",
            z,
            ds.sizes["rep"],
            detail=f"regret ratio varts/ts-known {r_lo:.3f} ± {se_lo:.3f} -> {r_hi:.3f} ± {se_hi:.3f} at mean variance {v0:g}",
            claim=f"the price of unknown variances (VarTS's regret over ts-known's) falls as the variance prior becomes "
            f"more informative, from α₀ = {alphas[0]:g} to {alphas[-1]:g} (z ≥ 3)",
            statistic="z of the drop in the regret ratio",
        )
    )
    for a in alphas:
        lo, hi = ds["mean_variance"].values[0], ds["mean_variance"].values[-1]
        out.append(
            ck.mean_less(
                f"alpha0={a:g}: VarTS pays less for lower variance ({lo:g} vs {hi:g})",
                final.sel(mean_variance=lo, alpha0=a, policy="varts"),
                final.sel(mean_variance=hi, alpha0=a, policy="varts"),
                claim=f"with α₀ = {a:g}, VarTS's mean regret is lower at mean variance {lo:g} than at "
                f"{hi:g} (gap ≥ 3 SE)",
            )
        )
    return out


def plot(ds):
    """Regret at the horizon against the mean variance (log–log) with the scale law on top; the price of
    unknown variances against the prior's shape."""
    fig, axes = plotting.figure(1, 2, width=3.5, height=3.0, title="Only pay for what is uncertain")
    ax, bx = axes[0]
    v = ds["mean_variance"].values
    final = ds["regret"].isel(t=-1)
    sims, lines = {}, []
    for k, a in enumerate(ds["alpha0"].values):
        sims[f"VarTS, $\\alpha_0$ = {a:g}"] = (final.sel(alpha0=a, policy="varts"), plotting.COLORS[k])
        sims[f"ts-known, $\\alpha_0$ = {a:g}"] = (final.sel(alpha0=a, policy="ts-known"), plotting.COLORS[k + 3])
        lines.append(
            {
                "x": v,
                "y": ds["regret_scale_law"].sel(alpha0=a, policy="varts").values,
                "color": plotting.COLORS[k],
                "var": "regret_scale_law",
            }
        )
        lines.append(
            {
                "x": v,
                "y": ds["regret_scale_law"].sel(alpha0=a, policy="ts-known").values,
                "color": plotting.COLORS[k + 3],
                "var": "regret_scale_law",
            }
        )
    plotting.risk_vs_ratio(
        ax,
        v,
        sims,
        theory=lines,
        xscale="log",
        yscale="log",
        var="regret",
        xlabel="prior mean of the arm variances",
        ylabel=f"regret at $n$ = {ds['t'].values[-1]}",
        title="regret vs variance",
    )
    v0 = ds["mean_variance"].values[len(v) // 2]
    s_v = summarize(final.sel(mean_variance=v0, policy="varts"))["mean"]
    s_k = summarize(final.sel(mean_variance=v0, policy="ts-known"))["mean"]
    (line,) = bx.plot(
        ds["alpha0"].values,
        (s_v / s_k).values,
        marker="o",
        color=plotting.COLORS[0],
        zorder=plotting.SIM_Z,
        label="VarTS / ts-known",
    )
    line.set_gid("sim:regret")
    plotting.reference_line(bx, y=1.0, color="black", linestyle="--", linewidth=0.8, what="one")
    bx.set(
        xscale="log",
        xlabel="$\\alpha_0$ (variance-prior informativeness)",
        ylabel="regret VarTS / ts-known",
        title=f"price of unknown variances ($v$ = {v0:g})",
    )
    bx.set_xticks(ds["alpha0"].values, [f"{a:g}" for a in ds["alpha0"].values])
    bx.minorticks_off()
    plotting.legend(fig, where="right", title="simulation: mean, 95% CI", theory="theory: $C\\sqrt{v}$")
    return fig


PARAMS = (
    Param(
        "mean_variance",
        float,
        "prior mean of the arm variances E[1/lambda]",
        low=0,
        low_inclusive=False,
        units="reward^2",
    ),
    Param(
        "alpha0",
        float,
        "Gamma shape of the precisions: larger = variances more alike and better known",
        low=1,
        low_inclusive=False,
        units="1",
    ),
    Param(
        "kappa0",
        float,
        "prior strength of the means: Var(mu_i | s_i) = s_i^2/kappa0",
        low=0,
        low_inclusive=False,
        units="1",
    ),
    Param("K", int, "number of arms", low=2, units="1"),
    Param("horizon", int, "rounds per run n", low=2, units="1"),
    Param("grid_points", int, "log-spaced rounds at which regret is recorded", low=3, units="1"),
)

SETTINGS = {"kappa0": 1.0, "K": 10, "horizon": 10_000, "grid_points": 30}

STUDY = Study(
    name="varts-variance",
    title="Only pay for what is uncertain: VarTS regret vs reward variance and variance-prior informativeness",
    paper="Saha & Kveton, Only Pay for What Is Uncertain: Variance-Adaptive Thompson Sampling, ICLR 2024, arXiv:2303.09033",
    family="bandits",
    teaching=(
        "What is uncertain: the reward variances. Instances come from a Normal-Gamma prior whose mean variance is "
        "swept from 0.1 to 10 and whose shape alpha0 (how alike and how well known the variances are) from 1.5 to "
        "16. Theory: regret scales with the noise, exactly as sqrt(variance) here (the problem is scale-"
        "equivariant), so low-variance problems are cheap — VarTS pays for the variance it actually faces, not a "
        "worst-case bound; and the price of not knowing the variances (VarTS over the oracle ts-known) shrinks "
        "as the variance prior becomes informative. Look at: parallel lines of slope 1/2 on log-log axes (dashed: "
        "the scale law), and the VarTS/ts-known ratio falling towards 1 as alpha0 grows."
    ),
    params=PARAMS,
    grid={"mean_variance": (0.1, 0.3, 1.0, 3.0, 10.0), "alpha0": (1.5, 4.0, 16.0)},
    settings=SETTINGS,
    reps=2_000,
    quick_grid={"mean_variance": (0.1, 1.0, 10.0), "alpha0": (1.5, 16.0)},
    quick_settings={**SETTINGS, "horizon": 1_000, "grid_points": 20},
    quick_reps=1_000,
    # two policies' K-armed runs: K-long statistics and the regret on the grid
    memory=lambda p: karmed_memory(2, p["K"], p["grid_points"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
)
