"""irl-temperature: IRL with a wrong rationality temperature (β' or α') — robust, error stays 0."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.irl.distances import _regret, _starc, epic_distance
from simkit.irl.mdp import random_mdps
from simkit.irl.models import MCE, Boltzmann
from simkit.irl.study_support import RANDOM_MDP_PARAMS
from simkit.study import Param, Study

TEACHING = """\
What is misspecified: the expert's rationality. The expert is Boltzmann-rational (inverse
temperature β, hard Q*) or maximal-causal-entropy (weight α) in a random MDP; the IRL method knows
the discount and the transitions but assumes β' = k·β (or α' = k·α) with k from 0.1 to 10.

What theory predicts (Skalse & Abate 2023, 2024): the closed-form inverses R̂ = Q̂ − γ τ max Q̂ with
Q̂ = (1/β') log π, and R̂ = α' log π, return a positive rescaling of the truth up to potential shaping
and S'-redistribution, so the STARC distance (VAL and minimal canonicalisation) and the regret are
exactly 0 for every k: IRL is robust to a wrong temperature. Each R̂ also reproduces the expert's
policy exactly under the assumed model.

What to look at: both STARC curves and the regret lie on 0 (dashed theory) across two decades of
k. EPIC is NOT 0 and does not depend on k: the inverses return r̄(s, a), an S'-redistribution of
R(s, a, s'), and EPIC is not invariant to S'-redistribution (it is a pseudometric on a finer
equivalence than policy ordering).
"""

VARS = {
    "starc": ("STARC-VAL distance to the true reward", "1"),
    "starc_minimal": ("STARC distance, minimal canonicalisation", "1"),
    "epic": ("EPIC distance to the true reward", "1"),
    "regret": ("normalised regret of the inferred reward", "1"),
    "policy_error": ("max |π̂ − π| of the inferred reward under the assumed model", "1"),
}


def simulate(params, states, backend):
    """One random MDP per replication (:func:`simkit.irl.mdp.random_mdp` draw order), then invert.

    The MDPs of a cell are solved as one batch (each MDP converges on its own, so replication r
    depends only on its stream).
    """
    gamma = params["gamma"]
    tau, r = random_mdps(states, params["n_states"], params["n_actions"], kappa=params["kappa"])
    k = params["ratio"]
    if params["model"] == "boltzmann":
        truth, assumed = Boltzmann(params["temperature"]), Boltzmann(k * params["temperature"])
    else:
        truth, assumed = MCE(params["temperature"]), MCE(k * params["temperature"])
    pi = truth.policy(tau, r, gamma, backend=backend)
    r_hat = assumed.inverse(pi, tau, gamma)
    pi_hat = assumed.policy(tau, r_hat, gamma, backend=backend)
    mu = np.full(tau.shape[1], 1.0 / tau.shape[1])
    values = {
        "starc": _starc(r, r_hat, tau, gamma, "val"),
        "starc_minimal": _starc(r, r_hat, tau, gamma, "minimal"),
        "epic": epic_distance(r, r_hat, tau, gamma),
        "regret": _regret(r, r_hat, tau, gamma, mu, backend=backend),
        "policy_error": np.abs(pi_hat - pi).max(axis=(1, 2)),
    }
    return xr.Dataset({name: (("rep",), values[name], {"long_name": ln, "units": u}) for name, (ln, u) in VARS.items()})


def theory(ds):
    """``starc_theory`` (model, ratio): 0 everywhere (a positive rescaling is in the true class)."""
    zero = xr.zeros_like(ds["ratio"], dtype=float) * xr.zeros_like(ds["model"], dtype=float)
    attrs = {"long_name": "distance predicted by theory (positive rescaling: 0)", "units": "1"}
    return xr.Dataset({"starc_theory": zero.assign_attrs(attrs)})


def checks(ds):
    """STARC (both canonicalisations), regret and policy reproduction at 0; EPIC flat in the ratio."""
    out = []
    for name, bound in (("starc", 1e-8), ("starc_minimal", 1e-8), ("regret", 1e-9), ("policy_error", 1e-8)):
        value = float(ds[name].max())
        out.append(
            ck.condition(
                f"{VARS[name][0]} = 0 for every temperature ratio (max ≤ {bound:g})",
                value <= bound,
                value,
                bound,
                "max over models, ratios and MDPs",
                claim=f"with a wrong temperature (ratio 0.1 to 10), the {VARS[name][0]} is 0 (≤ {bound:g}) for every model, "
                "ratio and MDP: the inverse returns a positive rescaling of the true reward",
                statistic=f"max {name} over models, ratios and MDPs",
                direction="<=",
            )
        )
    epic = ds["epic"]
    spread = float((epic.mean("mdp").max("ratio") - epic.mean("mdp").min("ratio")).max())
    out.append(
        ck.condition(
            "EPIC does not depend on the temperature ratio (its mean varies ≤ 0.05 across ratios)",
            spread <= 0.05,
            spread,
            0.05,
            "EPIC > 0 here comes from S'-redistribution, not from the temperature",
            claim="the mean EPIC distance does not depend on the temperature ratio: it varies by at most 0.05 across ratios "
            "(its level comes from S'-redistribution)",
            statistic="largest range of mean EPIC across ratios",
            direction="<=",
        )
    )
    return out


def plot(ds):
    """One panel per model: distances and regret against the temperature ratio, theory (0) on top."""
    models = list(ds["model"].values)
    fig, axes = plotting.figure(1, len(models), width=3.3, height=2.7, title="IRL with a misspecified temperature")
    x = ds["ratio"].values
    names = ("starc", "starc_minimal", "regret", "epic")
    # the first three coincide at 0: markers of decreasing size (and distinct shapes) keep each one visible
    markers = {"starc": ("s", 7.0), "starc_minimal": ("D", 5.0), "regret": ("o", 3.0), "epic": ("o", 3.5)}
    for j, model in enumerate(models):
        ax = axes[0, j]
        for k, name in enumerate(names):
            marker, size = markers[name]
            plotting.band(
                ax,
                x,
                ds[name].sel(model=model),
                dim="mdp",
                label=VARS[name][0],
                marker=marker,
                markersize=size,
                color=plotting.COLORS[k],
                var=name,
            )
        plotting.theory_line(ax, x, ds["starc_theory"].sel(model=model).values, var="starc_theory")
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.03)
        sym = "$\\beta'/\\beta$" if model == "boltzmann" else "$\\alpha'/\\alpha$"
        ax.set_xlabel(f"assumed/true temperature {sym}")
        if j == 0:
            ax.set_ylabel("distance or regret")
        ax.set_title("Boltzmann (hard $Q$)" if model == "boltzmann" else "maximal causal entropy", loc="left")
    plotting.legend(fig, where="below", ncol=2, theory="theory: STARC and regret = 0")
    return fig


PARAMS = (
    Param("model", str, "behavioural model of the expert and of IRL", choices=("boltzmann", "mce")),
    Param("ratio", float, "assumed/true temperature (β'/β or α'/α)", low=0.0, low_inclusive=False, units="1"),
    Param("gamma", float, "discount (true = assumed)", low=0.0, high=1.0, high_inclusive=False, units="1"),
    Param("temperature", float, "true β (Boltzmann, 1/reward) or α (MCE, reward)", low=0.0, low_inclusive=False),
    *RANDOM_MDP_PARAMS,
)

STUDY = Study(
    name="irl-temperature",
    title="IRL under a misspecified temperature: robust (STARC 0)",
    paper="Skalse & Abate, Misspecification in Inverse Reinforcement Learning, AAAI 2023; ICLR 2024, arXiv:2212.03201, arXiv:2403.06854",
    family="irl",
    teaching=TEACHING,
    params=PARAMS,
    grid={"model": ("boltzmann", "mce"), "ratio": (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)},
    settings={"gamma": 0.9, "temperature": 1.0, "n_states": 16, "n_actions": 4, "kappa": 0.3},
    reps=64,
    quick_grid={"model": ("boltzmann", "mce"), "ratio": (0.1, 0.5, 1.0, 2.0, 10.0)},
    quick_settings={"gamma": 0.9, "temperature": 1.0, "n_states": 16, "n_actions": 4, "kappa": 0.3},
    quick_reps=8,
    # S × A × S tables: transitions, true and recovered rewards, policies, the distances' canonicalisations
    memory=lambda p: 8.0 * 16.0 * p["n_states"] ** 2 * p["n_actions"],
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    rep_dim="mdp",
)
