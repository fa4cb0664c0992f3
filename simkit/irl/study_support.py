"""Shared pieces of the irl-discount and irl-dynamics studies: simulate one cell, theory, checks, plot."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import checks as ck
from .. import plotting
from ..rng import Stream
from ..study import Param
from .experiments import METHODS, metrics_dataset_vars, misspecified_irl
from .mdp import mix_transitions, random_mdp, random_transitions

__all__ = [
    "RANDOM_MDP_PARAMS",
    "MDP_PARAMS",
    "simulate_cell",
    "theory",
    "zero_checks",
    "worst_case_checks",
    "plot_methods",
]

RANDOM_MDP_PARAMS = (
    Param("n_states", int, "states per random MDP", low=2, high=64),
    Param("n_actions", int, "actions per state", low=2, high=16),
    Param("kappa", float, "Dirichlet concentration of τ(s, a, ·)", low=0.0, low_inclusive=False, units="1"),
)
"""Parameters of the random MDPs (Dirichlet(κ) transitions), shared by every irl study."""

MDP_PARAMS = (
    *RANDOM_MDP_PARAMS,
    Param("alpha", float, "MCE entropy weight α (true and assumed)", low=0.0, low_inclusive=False, units="reward"),
    Param(
        "beta",
        float,
        "Boltzmann inverse temperature β (true and assumed)",
        low=0.0,
        low_inclusive=False,
        units="1/reward",
    ),
    Param("restarts", int, "starting points of the worst-case search", low=1, high=64),
)
"""Parameters of the random MDPs and the IRL methods, shared by irl-discount and irl-dynamics."""

METHOD_LABELS = {
    "mce": "MCE closed form",
    "boltzmann": "Boltzmann closed form",
    "worst_case": "worst case (L-BFGS-B)",
    "mce_irl": "MCE-IRL, state-only",
}


def simulate_cell(params, states, backend, *, gamma, gamma_assumed, lam):
    """One cell: for each replication, a random MDP (and τ_random) from its stream, all methods.

    Draw order per replication: the MDP (:func:`~simkit.irl.mdp.random_mdp`), then τ_random
    (Dirichlet(1) rows, :func:`~simkit.irl.mdp.random_transitions`); the worst-case starting points
    come from ``numpy.random.default_rng`` seeded with the stream's state after those draws.
    """
    results = []
    for state in states:
        stream = Stream(np.array(state, dtype=np.uint64))
        mdp = random_mdp(stream, params["n_states"], params["n_actions"], kappa=params["kappa"])
        tau_random = random_transitions(stream, params["n_states"], params["n_actions"], kappa=1.0)
        rng = np.random.default_rng([int(w) for w in stream.state])
        tau_assumed = mix_transitions(mdp.transitions, tau_random, lam)
        results.append(
            misspecified_irl(
                mdp,
                gamma,
                gamma_assumed,
                tau_assumed,
                alpha=params["alpha"],
                beta=params["beta"],
                rng=rng,
                restarts=params["restarts"],
                backend=backend,
            )
        )
    return xr.Dataset(metrics_dataset_vars(results), coords={"irl_method": list(METHODS)})


def theory(ds, rep_dim="mdp"):
    """STARC theory per method: 0 for MCE, the Boltzmann error term's prediction, the worst case's supremum.

    Returns ``starc_theory`` (irl_method, grid…), NaN for MCE-IRL (no closed form).
    """
    sup = ds["starc_sup"].mean(rep_dim)
    zero = xr.zeros_like(sup)
    nan = xr.full_like(sup, np.nan)
    boltz = ds["boltzmann_theory"].mean(rep_dim)
    parts = {"mce": zero, "boltzmann": boltz, "worst_case": sup, "mce_irl": nan}
    out = xr.concat([parts[m] for m in ds["irl_method"].values], dim="irl_method")
    out = out.assign_coords(irl_method=ds["irl_method"])
    out.attrs = {
        "long_name": "mean STARC-VAL predicted by theory (MCE: 0; Boltzmann: error term; worst case: supremum)",
        "units": "1",
    }
    return xr.Dataset({"starc_theory": out})


def zero_checks(ds, misspecified, rep_dim="mdp"):
    """Checks that hold exactly: MCE closed form at 0 everywhere, every method at 0 without misspecification."""
    mce = ds["starc"].sel({"irl_method": "mce"})
    out = [
        ck.condition(
            "MCE closed form: STARC = 0 to numerical precision (any misspecification)",
            float(mce.max()) <= 1e-8,
            float(mce.max()),
            1e-8,
            "max over all cells and MDPs",
        ),
        ck.condition(
            "MCE closed form: regret = 0",
            float(ds["regret"].sel({"irl_method": "mce"}).max()) <= 1e-9,
            float(ds["regret"].sel({"irl_method": "mce"}).max()),
            1e-9,
            "max over all cells and MDPs",
        ),
    ]
    exact = ds["starc"].sel({"irl_method": ["mce", "boltzmann", "worst_case"]}).where(~misspecified)
    if int(exact.notnull().sum()):
        value = float(exact.max())
        out.append(
            ck.condition(
                "no misspecification: closed forms and the whole feasible set at STARC 0",
                value <= 1e-6,
                value,
                1e-6,
                "max over MCE, Boltzmann and worst case where the assumed model is the true one",
            )
        )
    return out


def boltzmann_theory_check(ds):
    """The Boltzmann closed form's distance equals its error-term prediction for every MDP."""
    dev = abs(ds["starc"].sel({"irl_method": "boltzmann"}) - ds["boltzmann_theory"])
    value = float(dev.max())
    return ck.condition(
        "Boltzmann closed form = its error-term prediction (γτ − γ'τ')(V* − c) for every MDP (|Δ| ≤ 1e-6)",
        value <= 1e-6,
        value,
        1e-6,
        "max |simulated − predicted| STARC over all cells and MDPs",
    )


def worst_case_checks(ds, misspecified, rep_dim="mdp"):
    """Checks of the worst case: ≥ 0.5 for every misspecified MDP, and reaching the closed-form supremum."""
    worst = ds["starc"].sel({"irl_method": "worst_case"})
    mis = worst.where(misspecified)
    gap = (ds["starc_sup"] - worst).where(misspecified)
    return [
        ck.condition(
            "worst case over the feasible set: STARC ≥ 0.5 for every MDP under any misspecification",
            float(mis.min()) >= 0.5,
            float(mis.min()),
            0.5,
            "min over misspecified cells and MDPs",
        ),
        ck.condition(
            "optimiser reaches the closed-form supremum (gap ≤ 0.01) and never exceeds it",
            float(gap.max()) <= 0.01 and float(gap.min()) >= -1e-9,
            float(gap.max()),
            0.01,
            f"supremum − found: max {float(gap.max()):.2e}, min {float(gap.min()):.2e}",
        ),
    ]


def plot_methods(
    ds, panels, x_of, xlabel, *, gap_of=None, gap_label="", xscale="symlog", linthresh=1e-3, title=None, rep_dim="mdp"
):
    """Rows = ``panels`` (list of (label, selector dict)), columns = metrics; lines = methods.

    ``x_of(sub)`` gives the x coordinate values for a panel's data (one value per cell).  With
    ``gap_of`` (the size of the misspecification per cell), a fourth column shows the Boltzmann
    closed form's STARC against it on log–log axes, beside its error-term theory.
    """
    metrics = (("starc", "STARC-VAL distance"), ("epic", "EPIC distance"), ("regret", "normalised regret"))
    fig, axes = plotting.figure(len(panels), 3 + (gap_of is not None), width=3.3, height=2.5, title=title)
    if gap_of is not None:
        for row, (_label, sel) in enumerate(panels):
            _boltzmann_loglog(
                axes[row, 3],
                ds["starc"].sel({"irl_method": "boltzmann", **sel}),
                ds["starc_theory"].sel({"irl_method": "boltzmann", **sel}),
                gap_of,
                gap_label,
                rep_dim,
            )
    for row, (label, sel) in enumerate(panels):
        for col, (name, ylabel) in enumerate(metrics):
            ax = axes[row, col]
            for k, method in enumerate(ds["irl_method"].values):
                da = ds[name].sel({"irl_method": method, **sel})
                x = np.asarray(x_of(da))
                order = np.argsort(x)
                da = da.isel({da.dims[0]: order})
                plotting.band(
                    ax,
                    x[order],
                    da,
                    dim=rep_dim,
                    label=METHOD_LABELS[str(method)],
                    color=plotting.COLORS[k],
                    marker="o",
                )
                if name == "starc" and method in ("mce", "boltzmann", "worst_case"):
                    th = ds["starc_theory"].sel({"irl_method": method, **sel}).isel({da.dims[0]: order})
                    plotting.theory_line(ax, x[order], th.values, color=plotting.COLORS[k])
            ax.set_xscale(xscale, **({"linthresh": linthresh} if xscale == "symlog" else {}))
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if col == 0:
                ax.set_title(label, loc="left")
    axes[0, 1].legend(loc="lower center", fontsize=6.5)  # EPIC sits high, its lower half is empty
    return fig


def _boltzmann_loglog(ax, da, th, gap_of, gap_label, rep_dim):
    gaps = np.round(np.asarray(gap_of(da), dtype=float), 9)
    cell = da.dims[0]
    keep = gaps > 0
    da, th, gaps = da.isel({cell: np.flatnonzero(keep)}), th.isel({cell: np.flatnonzero(keep)}), gaps[keep]
    order = np.argsort(gaps, kind="stable")
    da, th, gaps = da.isel({cell: order}), th.isel({cell: order}), gaps[order]
    plotting.band(ax, gaps, da, dim=rep_dim, color=plotting.COLORS[1], marker="o", label="Boltzmann closed form")
    plotting.theory_line(ax, gaps, th.values, color="black", label="error-term theory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(gap_label)
    ax.set_ylabel("STARC-VAL distance")
    ax.legend(loc="upper left", fontsize=6)
