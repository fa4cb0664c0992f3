"""collapse-ridge: ridge regression trained on the n-th synthetic generation (Dohmatob et al. 2024).

Panel 1: downstream test error against the ridge strength λ for generations n ∈ {0, 1, 5, 10, 50}
of an OLS generator chain (λ = 0: the exact unregularised formula; λ > 0: the isotropic
proportional limit).  Panel 2: the optimal λ grows with n.  Panel 3: an over-parameterised
generator (T₀ < d, minimum-norm fits) collapses exponentially fast, with and without label noise.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.collapse import simulate_generator_ridge
from simkit.collapse import theory as th
from simkit.collapse.inputs import check_ols_size
from simkit.errors import ParameterError
from simkit.stats import summarize
from simkit.study import Param, Study

from ._common import z_at_least

GENERATIONS = (0, 1, 5, 10, 50)

TEACHING = """\
What is misspecified: the downstream ridge model is trained on labels from the n-th generation
of a chain of generators, each an OLS fit to noisy labels of the previous one (n = 0 is clean
data); the learner treats the synthetic labels as if they came from the truth w₀.
What theory predicts: without regularisation the test error grows linearly,
σ²d/(T − d − 1) + n σ₀²d/(T₀ − d − 1); with ridge λ the synthetic noise is damped by a factor
ρ(λ) and the best λ grows roughly linearly in n (adaptive regularisation), keeping the error
below that of the null predictor ‖w₀‖². An over-parameterised generator (T₀ < d, minimum-norm
fits) loses a factor T₀/d of the signal every generation: its error reaches ‖w₀‖²
exponentially fast even without label noise.
What to look at: the U-shaped curves rising and their minima moving right as n grows (left);
the simulated best λ following the theory's λ*(n) (middle); the over-parameterised error
saturating at ‖w₀‖² within a few generations (right)."""


def _lams(params):
    return np.concatenate([[0.0], np.logspace(params["log10_lam_min"], params["log10_lam_max"], params["lam_count"])])


def simulate(params, states, backend):
    """One run: ``test_error`` (generation, lam, rep) and ``overparam_error`` (overparam_sigma0_2, step, rep)."""
    lams = _lams(params)
    steps = max(GENERATIONS)
    _, test = simulate_generator_ridge(
        states,
        d=params["d"],
        T0=params["T0"],
        T=params["T"],
        w_norm=params["w_norm"],
        sigma0_2=params["sigma0_2"],
        sigma2=params["sigma2"],
        steps=steps,
        record=GENERATIONS,
        lams=lams,
        backend=backend,
    )
    noise = (0.0, params["overparam_sigma0_2"])
    over = []  # the three chains of a replication start from its one stream (common random numbers)
    for s0 in noise:
        gen_err, _ = simulate_generator_ridge(
            states,
            d=params["d"],
            T0=params["overparam_T0"],
            T=params["T"],
            w_norm=params["w_norm"],
            sigma0_2=s0,
            sigma2=params["sigma2"],
            steps=params["overparam_steps"],
            record=[],
            lams=[],
            backend=backend,
        )
        over.append(gen_err.T)
    ds = xr.Dataset(
        {
            "test_error": (
                ("generation", "lam", "rep"),
                np.moveaxis(test, 0, -1),
                {"long_name": "downstream ridge test error ‖ŵ − w₀‖²", "units": "y²"},
            ),
            "overparam_error": (
                ("overparam_sigma0_2", "step", "rep"),
                np.stack(over),
                {"long_name": "over-parameterised generator error ‖ŵₙ − w₀‖²", "units": "y²"},
            ),
        },
        coords={
            "generation": list(GENERATIONS),
            "lam": lams,
            "overparam_sigma0_2": list(noise),
            "step": np.arange(params["overparam_steps"] + 1),
        },
    )
    ds["generation"].attrs.update(long_name="generator generation n (0 = clean data)", units="1")
    ds["lam"].attrs.update(long_name="ridge strength λ", units="1")
    ds["overparam_sigma0_2"].attrs.update(
        long_name="over-parameterised generator's label-noise variance σ₀²", units="y²"
    )
    ds["step"].attrs.update(long_name="generator generation n", units="1")
    return ds


def _a(ds, name):
    return ds.attrs[name]


def theory(ds):
    """``test_error_theory``, ``optimal_lam_theory`` and ``overparam_error_theory``."""
    d, T, T0 = int(_a(ds, "d")), int(_a(ds, "T")), int(_a(ds, "T0"))
    w2, s2, s02 = float(_a(ds, "w_norm")) ** 2, float(_a(ds, "sigma2")), float(_a(ds, "sigma0_2"))
    n = ds["generation"].values
    lam = ds["lam"].values
    test = np.empty((n.size, lam.size))
    for j, l in enumerate(lam):
        if l == 0:
            test[:, j] = th.generator_ols_test_error(n, sigma2=s2, d=d, T=T, sigma0_2=s02, T0=T0)
        else:
            test[:, j] = th.ridge_limit_test_error(n, l, d=d, T=T, T0=T0, w0_norm2=w2, sigma2=s2, sigma0_2=s02)
    best = th.ridge_optimal_lambda(n, d=d, T=T, T0=T0, w0_norm2=w2, sigma2=s2, sigma0_2=s02)
    over = np.stack(
        [
            th.overparam_generator_error(
                ds["step"].values, d=d, T0=int(_a(ds, "overparam_T0")), sigma0_2=float(s0), w0_norm2=w2
            )
            for s0 in ds["overparam_sigma0_2"].values
        ]
    )
    return xr.Dataset(
        {
            "test_error_theory": (
                ("generation", "lam"),
                test,
                {"long_name": "theory: exact at λ = 0, isotropic proportional limit at λ > 0", "units": "y²"},
            ),
            "optimal_lam_theory": (
                ("generation",),
                best,
                {"long_name": "λ minimising the theory's test error", "units": "1"},
            ),
            "overparam_error_theory": (
                ("overparam_sigma0_2", "step"),
                over,
                {"long_name": "theory: ‖w₀‖²(1 − aⁿ) + σ₀²T₀/(d − T₀ − 1)(1 − aⁿ)/(1 − a)", "units": "y²"},
            ),
        },
        coords={k: ds[k] for k in ("generation", "lam", "overparam_sigma0_2", "step")},
    )


def checks(ds):
    """Exact λ = 0 formula, ridge limit, λ* growing with n and optimal in simulation, beating null, over-param collapse."""
    out = []
    w2 = float(_a(ds, "w_norm")) ** 2
    err, theo = ds["test_error"], ds["test_error_theory"]
    out.append(
        ck.within_mc_error(
            "λ = 0: σ²d/(T − d − 1) + n σ₀²d/(T₀ − d − 1) (exact)",
            err.sel(lam=0.0),
            theo.sel(lam=0.0),
            rel=0.0,
            abs_tol=1e-12,
            claim="at λ = 0 the mean test error on generation n equals σ²d/(T − d − 1) + n·σ₀²d/(T₀ − d − 1) within Monte Carlo error",
        )
    )
    positive = ds["lam"] > 0
    out.append(
        ck.within_mc_error(
            "λ > 0: isotropic ridge limit Bias + Var + n·σ₀²d/(T₀ − d − 1)·ρ",
            err.where(positive, drop=True),
            theo.where(positive, drop=True),
            rel=0.05,
            claim="at λ > 0 the mean test error follows the isotropic proportional-limit formula Bias + Var + n·σ₀²d/(T₀ − d − 1)·ρ within Monte Carlo error and 5% finite-size slack",
        )
    )
    s = summarize(err)
    idx = s["mean"].argmin("lam")
    best = ds["lam"].values[idx.values]
    grows = bool(np.all(np.diff(best) >= 0) and best[-1] >= 10 * max(best[0], ds["lam"].values[1]))
    out.append(
        ck.condition(
            "optimal λ grows with n (simulation)",
            grows,
            float(best[-1] / max(best[0], 1e-300)),
            10.0,
            "argmin over the λ grid for n = "
            + ", ".join(f"{int(n)}: {b:.3g}" for n, b in zip(ds["generation"].values, best)),
            claim="in simulation, the λ minimising the mean test error never decreases with the generation n and grows at least tenfold over the grid",
            statistic="λ*(last n) / λ*(first n)",
            direction=">=",
        )
    )
    worst, where = -np.inf, ""
    lam_pos = ds["lam"].values[1:]
    z = ck.z_for(ds.sizes["generation"])
    for i, n in enumerate(ds["generation"].values):
        target = float(ds["optimal_lam_theory"][i])
        j = 1 + int(np.argmin(abs(np.log(lam_pos) - np.log(target))))
        m, se = s["mean"].isel(generation=i), s["se"].isel(generation=i)
        k = int(idx[i])
        excess = float(m[j] - m[k]) / float(z * np.hypot(se[j], se[k]) + 0.02 * m[k])
        if excess > worst:
            worst, where = (
                excess,
                f"n={int(n)}: sim at theory λ*≈{ds['lam'].values[j]:.3g} is {float(m[j]):.4g}, sim min {float(m[k]):.4g} at λ={ds['lam'].values[k]:.3g}",
            )
    out.append(
        ck.condition(
            "theory's λ*(n) is optimal in simulation",
            worst <= 1,
            worst,
            1.0,
            where,
            claim="at every generation, the simulated error at the grid λ nearest the theory's λ*(n) is no worse than the simulated minimum beyond Monte Carlo error (and 2%)",
            statistic="largest (error at theory λ* − min error) / tolerance",
            direction="<=",
        )
    )
    gaps = [
        (w2 - float(s["mean"].isel(generation=i, lam=int(idx[i])))) / float(s["se"].isel(generation=i, lam=int(idx[i])))
        for i in range(ds.sizes["generation"])
    ]
    out.append(
        z_at_least(
            "tuned ridge beats the null predictor ‖w₀‖²",
            min(gaps),
            ds.sizes["rep"],
            bound=3.0,
            detail="smallest (‖w₀‖² − min_λ mean)/SE over generations",
            claim="at every generation, ridge at the best λ has mean test error below the null "
            "predictor's ‖w₀‖² by at least 3 standard errors",
            statistic="smallest (‖w₀‖² − min_λ mean) / SE",
        )
    )
    out.append(
        ck.within_mc_error(
            "over-parameterised generator: ‖w₀‖²(1 − aⁿ) + noise term",
            ds["overparam_error"],
            ds["overparam_error_theory"],
            rel=0.0,
            abs_tol=1e-12,
            claim="with an over-parameterised generator (T₀ < d), the error follows ‖w₀‖²(1 − aⁿ) + noise term within Monte Carlo error: it collapses towards the null predictor",
        )
    )
    return out


def plot(ds):
    """Test error vs λ per generation; optimal λ vs n; over-parameterised collapse; legends outside."""
    fig, axes = plotting.figure(
        1,
        3,
        width=3.3,
        height=2.8,
        title=f"Ridge on the $n$-th synthetic generation ($d$ = {int(_a(ds, 'd'))}, "
        f"$T$ = {int(_a(ds, 'T'))}, $T_0$ = {int(_a(ds, 'T0'))})",
    )
    ax = axes[0, 0]
    lam = ds["lam"].values
    pos = lam > 0
    left = lam[pos][0] / 3
    null = float(_a(ds, "w_norm")) ** 2
    for i, n in enumerate(ds["generation"].values):
        color = plotting.COLORS[i % len(plotting.COLORS)]
        plotting.band(
            ax,
            lam[pos],
            ds["test_error"].isel(generation=i, lam=np.flatnonzero(pos)),
            color=color,
            label=f"$n$ = {int(n)}",
            var="test_error",
        )
        plotting.theory_line(
            ax, lam[pos], ds["test_error_theory"].isel(generation=i).values[pos], color=color, var="test_error_theory"
        )
        plotting.points(
            ax,
            [left],
            ds["test_error"].isel(generation=i).sel(lam=0.0).expand_dims(lam=[left]),
            color=color,
            var="test_error",
        )
        plotting.theory_points(
            ax,
            [left],
            [float(ds["test_error_theory"].isel(generation=i).sel(lam=0.0))],
            color=color,
            var="test_error_theory",
            marker="_",
            markersize=9,
        )
    plotting.reference_line(ax, y=null, label="null predictor $\\|w_0\\|^2$", what="null")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="ridge $\\lambda$ (markers at left: $\\lambda$ = 0)",
        ylabel="test error",
        title="test error vs $\\lambda$",
    )
    plotting.legend(ax, where="below", ncol=2, theory="theory")

    ax = axes[0, 1]
    s = summarize(ds["test_error"].isel(lam=np.flatnonzero(pos)))
    best = lam[pos][s["mean"].argmin("lam").values]
    gens = ds["generation"].values
    (line,) = ax.plot(
        np.maximum(gens, 0.5),
        best,
        marker="o",
        linestyle="none",
        label="simulation (grid argmin)",
        zorder=plotting.SIM_Z,
    )
    line.set_gid("sim:test_error")
    fine = np.unique(np.concatenate([[0], np.round(np.logspace(0, np.log10(max(gens)), 30))])).astype(int)
    lam_star = th.ridge_optimal_lambda(
        fine,
        d=int(_a(ds, "d")),
        T=int(_a(ds, "T")),
        T0=int(_a(ds, "T0")),
        w0_norm2=null,
        sigma2=float(_a(ds, "sigma2")),
        sigma0_2=float(_a(ds, "sigma0_2")),
    )
    plotting.theory_line(ax, np.maximum(fine, 0.5), lam_star, label="theory $\\lambda^*(n)$", var="optimal_lam_theory")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="generation $n$ ($n$ = 0 plotted at 0.5)",
        ylabel="optimal $\\lambda$",
        title="adaptive regularisation",
    )
    plotting.legend(ax, where="below")

    ax = axes[0, 2]
    step = ds["step"].values
    for i, s0 in enumerate(ds["overparam_sigma0_2"].values):
        color = plotting.COLORS[i % len(plotting.COLORS)]
        plotting.band(
            ax,
            step,
            ds["overparam_error"].isel(overparam_sigma0_2=i),
            color=color,
            label=f"σ₀² = {s0:g}",
            var="overparam_error",
        )
        plotting.theory_line(
            ax,
            step,
            ds["overparam_error_theory"].isel(overparam_sigma0_2=i).values,
            color=color,
            var="overparam_error_theory",
        )
    plotting.reference_line(ax, y=null, label="$\\|w_0\\|^2$", what="null")
    ax.set(
        xlabel="generator generation $n$",
        ylabel="$\\|\\hat w_n - w_0\\|^2$",
        title=f"over-param. generator, $T_0$ = {int(_a(ds, 'overparam_T0'))}",
    )
    plotting.legend(ax, where="below", ncol=2, theory="theory")
    return fig


def validate_cell(params):
    """OLS downstream at λ = 0 and the OLS generator need T, T₀ ≥ d + 2; the over-parameterised one T₀ ≤ d − 2."""
    check_ols_size(params["T"], params["d"])
    check_ols_size(params["T0"], params["d"], "T0")
    if params["overparam_T0"] > params["d"] - 2:
        raise ParameterError(
            f"overparam_T0 must be at most d - 2 = {params['d'] - 2} (got overparam_T0={params['overparam_T0']}, d={params['d']})"
        )
    if params["log10_lam_min"] >= params["log10_lam_max"]:
        raise ParameterError("log10_lam_min must be below log10_lam_max")


_COMMON = {
    "w_norm": 1.0,
    "sigma2": 0.25,
    "sigma0_2": 1.0,
    "overparam_sigma0_2": 0.25,
    "log10_lam_min": -2.0,
    "log10_lam_max": 3.0,
}

STUDY = Study(
    name="collapse-ridge",
    title="Ridge regression on synthetic generations (Dohmatob et al. 2024)",
    paper="Dohmatob, Feng, Kempe 2024, Model Collapse Demystified: The Case of Regression (NeurIPS), arXiv:2402.07712",
    family="collapse",
    teaching=TEACHING,
    params=(
        Param("d", int, "dimension", low=3, units="1"),
        Param("T", int, "downstream samples (T ≥ d + 2)", low=5, units="1"),
        Param("T0", int, "samples per generator step (T0 ≥ d + 2)", low=5, units="1"),
        Param("w_norm", float, "norm of the truth ‖w₀‖", low=0, low_inclusive=False, units="y"),
        Param("sigma2", float, "downstream label-noise variance σ²", low=0, units="y²"),
        Param("sigma0_2", float, "generator label-noise variance σ₀²", low=0, units="y²"),
        Param("log10_lam_min", float, "log10 of the smallest λ > 0", low=-8, high=6, units="1"),
        Param("log10_lam_max", float, "log10 of the largest λ", low=-8, high=6, units="1"),
        Param("lam_count", int, "number of log-spaced λ > 0 (plus λ = 0)", low=2, units="1"),
        Param("overparam_T0", int, "samples per step of the over-parameterised generator (≤ d − 2)", low=1, units="1"),
        Param(
            "overparam_sigma0_2",
            float,
            "its label-noise variance (the second curve; the first has 0)",
            low=0,
            units="y²",
        ),
        Param("overparam_steps", int, "its number of generations", low=1, units="1"),
    ),
    grid={},
    settings={"d": 100, "T": 200, "T0": 300, "lam_count": 21, "overparam_T0": 50, "overparam_steps": 20, **_COMMON},
    reps=500,
    quick_grid={},
    quick_settings={"d": 40, "T": 80, "T0": 120, "lam_count": 11, "overparam_T0": 20, "overparam_steps": 15, **_COMMON},
    quick_reps=200,
    # the downstream T × d and generator T0 × d designs (and lstsq's copies), d × d Gram matrices, the outputs
    memory=lambda p: (
        8.0
        * (
            3.0 * p["T"] * p["d"]
            + 4.0 * max(p["T0"], p["overparam_T0"]) * p["d"]
            + 4.0 * p["d"] ** 2
            + 5.0 * (p["lam_count"] + 1)
            + 3.0 * (p["overparam_steps"] + 51)
        )
    ),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    validate_cell=validate_cell,
)
