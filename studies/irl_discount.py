"""irl-discount: IRL with a wrong discount γ' — closed forms, the worst case, and MCE-IRL."""

from __future__ import annotations

import numpy as np

from simkit import checks as ck
from simkit.irl import study_support as sup
from simkit.stats import loglog_slope
from simkit.study import Param, Study

from ._common import irl_memory, with_claims
from ._irl import IRL_CLAIMS, plot_methods

TEACHING = """\
What is misspecified: the discount. The expert acts in a random MDP with discount γ; the IRL
method assumes γ' (|γ' − γ| from 0.001 to 0.2) and is otherwise right (transitions, temperature).

What theory predicts (Skalse & Abate, ICLR 2024): Boltzmann and MCE policies identify the reward
only up to potential shaping and S'-redistribution, and shaping with the wrong discount is not
harmless: the feasible set {R̂ + γ'Φ(s') − Φ(s)} contains rewards whose STARC distance to the truth
is close to the maximum for ANY γ' ≠ γ, however close. The closed-form MCE inverse α log π happens
to lie in the true reward's class (distance exactly 0 whatever γ'); the closed-form hard-Q
Boltzmann inverse carries an error term (γ − γ')·τ(V* − V_soft), so its distance is small and
grows linearly with |γ' − γ|. The worst case over the feasible set has a closed-form supremum
(dashed line), which an L-BFGS-B search over Φ reaches.

What to look at: the worst case (green) jumps to ≈ 0.9 as soon as γ' ≠ γ and is 0 at γ' = γ —
"very mild misspecification, very large errors"; the closed forms stay near 0 (right: the Boltzmann
error on log–log axes, on its error-term prediction, slope 1); normalised regret follows STARC. MCE-IRL with a state-only reward is wrong by a γ'-independent amount because a
state-only reward cannot express R(s, a, s') (a different misspecification); EPIC is above 0
even for correct closed forms because it is not invariant to S'-redistribution.
"""


def simulate(params, states, backend):
    """One cell (γ, γ'): every method on one random MDP per replication; dims (irl_method, rep).

    See :func:`simkit.irl.study_support.simulate_cell` for the draw order.
    """
    return sup.simulate_cell(
        params, states, backend, gamma=params["gamma_true"], gamma_assumed=params["gamma_assumed"], lam=0.0
    )


def _misspecified(ds):
    return ds["gamma_assumed"] != ds["gamma_true"]


def theory(ds):
    """``starc_theory`` (irl_method, gamma_true, gamma_assumed): 0 for MCE, the mean supremum for the worst case."""
    return sup.theory(ds)


def _boltzmann_by_gap(ds, gamma_true):
    """Boltzmann STARC per |γ' − γ| > 0 for one true γ, pooling the two signs of γ' − γ.

    Returns the sorted gaps and, for each, the array of per-MDP distances.
    """
    starc = ds["starc"].sel({"irl_method": "boltzmann", "gamma_true": gamma_true})
    rows = {}
    for ga in ds["gamma_assumed"].values:
        gap = round(abs(float(ga) - float(gamma_true)), 6)
        if gap > 0:
            rows.setdefault(gap, []).append(starc.sel(gamma_assumed=ga).values)
    keys = sorted(rows)
    return np.array(keys), [np.concatenate(rows[k]) for k in keys]


def checks(ds):
    """Exact zeros, the worst case against its supremum, and the Boltzmann closed form's linear growth."""
    mis = _misspecified(ds)
    out = sup.zero_checks(ds, mis) + [sup.boltzmann_theory_check(ds)] + sup.worst_case_checks(ds, mis)
    worst_small, slopes, details, passed, against = 0.0, [], [], True, False
    for gt in ds["gamma_true"].values:
        gaps, values = _boltzmann_by_gap(ds, gt)
        means = np.array([v.mean() for v in values])
        if np.any(gaps <= 0.0105):
            worst_small = max(worst_small, float(means[gaps <= 0.0105].max()))
        fit_mask = gaps <= 0.0505
        if fit_mask.sum() >= 3:
            fit = loglog_slope(gaps[fit_mask], means[fit_mask])
            ok = fit.lower > 0.0 and (fit.lower <= 1.0 <= fit.upper or abs(fit.slope - 1.0) <= 0.15)
            passed &= ok
            # evidence against: a CI excluding 1 with the slope more than 0.15 away from it
            against |= not (fit.lower <= 1.0 <= fit.upper) and abs(fit.slope - 1.0) > 0.15
            slopes.append(fit.slope)
            details.append(f"γ={gt:g}: {fit.slope:.3f} [{fit.lower:.3f}, {fit.upper:.3f}] ({fit.n} gaps)")
    out.append(
        ck.condition(
            "Boltzmann closed form: small for |γ' − γ| ≤ 0.01 (mean STARC ≤ 0.05)",
            worst_small <= 0.05,
            worst_small,
            0.05,
            "largest mean STARC over true γ and |γ' − γ| ≤ 0.01",
        )
    )
    if slopes:
        worst_slope = max(slopes, key=lambda x: abs(x - 1.0))
        out.append(
            ck.condition(
                "Boltzmann closed form: grows linearly with |γ' − γ| (log–log slope > 0 and ≈ 1 for |γ'−γ| ≤ 0.05)",
                passed,
                worst_slope,
                1.0,
                "slopes with 95% CI: "
                + "; ".join(details)
                + ("" if passed or against else "; inconclusive: a CI too wide to decide, more MDPs would narrow it"),
                inconclusive=not passed and not against,
            )
        )
    return with_claims(out, CLAIMS)


CLAIMS = {
    **IRL_CLAIMS,
    "Boltzmann closed form: small for": {
        "claim": "the Boltzmann closed form stays close for a small discount error: mean STARC ≤ 0.05 for |γ' − γ| ≤ 0.01 at every true γ",
        "statistic": "largest mean STARC over |γ' − γ| ≤ 0.01",
        "direction": "<=",
    },
    "Boltzmann closed form: grows linearly": {
        "claim": "the Boltzmann closed form's mean STARC grows linearly in |γ' − γ| (|γ' − γ| ≤ 0.05): positive log–log slope whose 95% CI contains 1, or within 0.15 of 1",
        "statistic": "log–log slope farthest from 1 (pass: CI > 0 and contains 1, or |slope − 1| ≤ 0.15)",
        "direction": "<=",
    },
}


def plot(ds):
    """Rows: true γ; columns: STARC, EPIC, regret against γ' − γ, and the Boltzmann error on log–log axes."""
    panels = [(f"true γ = {g:g}", {"gamma_true": g}) for g in ds["gamma_true"].values]
    return plot_methods(
        ds,
        panels,
        lambda da: da["gamma_assumed"].values - float(da["gamma_true"]),
        "assumed γ' − true γ",
        gap_of=lambda da: np.abs(da["gamma_assumed"].values - float(da["gamma_true"])),
        gap_label="|γ' − γ|",
        title="IRL with a misspecified discount",
    )


PARAMS = (
    # γ = 0 makes every |γ' − γ| gap degenerate on the log axes (and STARC's value term vanishes)
    Param(
        "gamma_true", float, "true discount γ", low=0.0, low_inclusive=False, high=1.0, high_inclusive=False, units="1"
    ),
    Param(
        "gamma_assumed",
        float,
        "discount γ' assumed by IRL",
        low=0.0,
        low_inclusive=False,
        high=1.0,
        high_inclusive=False,
        units="1",
    ),
    *sup.MDP_PARAMS,
)

STUDY = Study(
    name="irl-discount",
    title="IRL under a misspecified discount: closed forms, worst case and MCE-IRL",
    paper="Skalse & Abate, Quantifying the Sensitivity of Inverse Reinforcement Learning to Misspecification, ICLR 2024, arXiv:2403.06854",
    family="irl",
    teaching=TEACHING,
    params=PARAMS,
    grid={
        "gamma_true": (0.9, 0.95, 0.99),
        "gamma_assumed": (
            0.7,
            0.75,
            0.79,
            0.8,
            0.85,
            0.89,
            0.899,
            0.9,
            0.901,
            0.91,
            0.94,
            0.949,
            0.95,
            0.951,
            0.96,
            0.98,
            0.989,
            0.99,
        ),
    },
    settings={"n_states": 16, "n_actions": 4, "kappa": 0.3, "alpha": 1.0, "beta": 1.0, "restarts": 4},
    reps=32,
    quick_grid={"gamma_true": (0.9, 0.95), "gamma_assumed": (0.85, 0.89, 0.899, 0.9, 0.94, 0.949, 0.95)},
    quick_settings={"n_states": 16, "n_actions": 4, "kappa": 0.3, "alpha": 1.0, "beta": 1.0, "restarts": 3},
    quick_reps=4,
    # S × A × S tables (transitions, rewards, the feasible set's worst-case search) and S × S solves
    memory=lambda p: irl_memory(p["n_states"], p["n_actions"], p["restarts"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    rep_dim="mdp",
    dims_order=("irl_method",),
)
