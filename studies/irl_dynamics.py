"""irl-dynamics: IRL with wrong transition dynamics τ' = (1 − λ)τ + λτ_random."""

from __future__ import annotations

from simkit import checks as ck
from simkit.irl import study_support as sup
from simkit.stats import loglog_slope
from simkit.study import Param, Study

from ._common import irl_memory, with_claims
from ._irl import IRL_CLAIMS, plot_methods

TEACHING = """\
What is misspecified: the environment dynamics. The expert acts in a random MDP with transitions
τ; the IRL method assumes τ' = (1 − λ)τ + λ·τ_random (τ_random a second random transition
function, Dirichlet(1) rows), λ from 0.001 to 0.5, and is otherwise right (discount, temperature).

What theory predicts (Skalse & Abate, ICLR 2024): under τ' the policy identifies the reward only
up to S'-redistributions δ with Σ_{s'} τ'(s, a, s') δ = 0, and these are not invisible under the
true τ: for ANY λ > 0 every canonical reward is reachable, so the worst case over the feasible set
is the maximal STARC distance 1 (the reward IRL may return is as bad as −R). The closed-form MCE
inverse α log π does not use τ' and stays at 0; the hard-Q Boltzmann inverse Q̂ − γ τ' max Q̂
errs by γ(τ − τ')·max Q̂, which is linear in λ.

What to look at: the worst case (green) sits at 1 for every λ > 0 — the dashed line is the
closed-form supremum — with regret 1; MCE closed form on 0; Boltzmann small and growing like λ
(right panel, on its error-term prediction); state-only MCE-IRL wrong mostly because of its reward class, slightly more as λ grows.
"""


def simulate(params, states, backend):
    """One cell (λ): every method on one random MDP per replication; dims (irl_method, rep).

    See :func:`simkit.irl.study_support.simulate_cell` for the draw order.
    """
    return sup.simulate_cell(
        params, states, backend, gamma=params["gamma"], gamma_assumed=params["gamma"], lam=params["lam"]
    )


def theory(ds):
    """``starc_theory`` (irl_method, lam): 0 for MCE, the mean supremum (1 for λ > 0) for the worst case."""
    return sup.theory(ds)


def checks(ds):
    """Exact zeros, the worst case at its maximum, and the Boltzmann closed form's linear growth in λ."""
    mis = ds["lam"] > 0
    out = sup.zero_checks(ds, mis) + [sup.boltzmann_theory_check(ds)] + sup.worst_case_checks(ds, mis)
    worst = float(ds["starc"].sel({"irl_method": "worst_case"}).where(mis).min())
    out.append(
        ck.condition(
            "worst case is maximal (STARC ≥ 0.99) for every λ > 0, however small",
            worst >= 0.99,
            worst,
            0.99,
            "min over λ > 0 and MDPs",
        )
    )
    boltz = ds["starc"].sel({"irl_method": "boltzmann"}).mean("mdp")
    lam = ds["lam"].values
    fit_mask = (lam > 0) & (lam <= 0.1)
    if fit_mask.sum() >= 3:
        fit = loglog_slope(lam[fit_mask], boltz.values[fit_mask])
        passed = fit.lower > 0.0 and (fit.lower <= 1.0 <= fit.upper or abs(fit.slope - 1.0) <= 0.15)
        # evidence against linear growth: a CI that excludes 1 with a slope more than 0.15 away;
        # a CI that contains 1 but also reaches 0 is too wide to decide (few MDPs)
        against = not (fit.lower <= 1.0 <= fit.upper) and abs(fit.slope - 1.0) > 0.15
        out.append(
            ck.condition(
                "Boltzmann closed form: grows linearly with λ (log–log slope > 0 and ≈ 1 for λ ≤ 0.1)",
                passed,
                fit.slope,
                1.0,
                f"slope {fit.slope:.3f}, 95% CI [{fit.lower:.3f}, {fit.upper:.3f}] over {fit.n} values of λ"
                + (
                    ""
                    if passed or against
                    else "; inconclusive: the CI is too wide to decide, more MDPs would narrow it"
                ),
                inconclusive=not passed and not against,
            )
        )
    small = float(boltz.where((ds["lam"] > 0) & (ds["lam"] <= 0.01)).max())
    out.append(
        ck.condition(
            "Boltzmann closed form: small for λ ≤ 0.01 (mean STARC ≤ 0.05)",
            small <= 0.05,
            small,
            0.05,
            "largest mean STARC over λ ≤ 0.01",
        )
    )
    return with_claims(out, CLAIMS)


CLAIMS = {
    **IRL_CLAIMS,
    "worst case is maximal": {
        "claim": "for every λ > 0, however small, the worst reward of the feasible set is at STARC ≥ 0.99",
        "statistic": "min STARC over λ > 0 and MDPs",
        "direction": ">=",
    },
    "Boltzmann closed form: grows linearly": {
        "claim": "the Boltzmann closed form's mean STARC grows linearly in λ (λ ≤ 0.1): positive log–log slope whose 95% CI contains 1, or within 0.15 of 1",
        "statistic": "fitted log–log slope (pass: CI > 0 and contains 1, or |slope − 1| ≤ 0.15)",
        "direction": "<=",
    },
    "Boltzmann closed form: small for": {
        "claim": "the Boltzmann closed form stays close for small dynamics errors: mean STARC ≤ 0.05 for λ ≤ 0.01",
        "statistic": "largest mean STARC over λ ≤ 0.01",
        "direction": "<=",
    },
}


def plot(ds):
    """STARC, EPIC and regret against λ per method, and the Boltzmann error on log–log axes."""
    return plot_methods(
        ds,
        [(f"γ = {ds.attrs.get('gamma', '')}", {})],
        lambda da: da["lam"].values,
        "mixing weight $\\lambda$ of $\\tau_{\\mathrm{random}}$",
        gap_of=lambda da: da["lam"].values,
        gap_label="λ",
        title="IRL with misspecified dynamics $\\tau' = (1 - \\lambda)\\tau + \\lambda\\tau_{\\mathrm{random}}$",
        linthresh=1e-3,
    )


PARAMS = (
    Param("lam", float, "weight λ of τ_random in the assumed dynamics", low=0.0, high=1.0, units="1"),
    Param("gamma", float, "discount (true = assumed)", low=0.0, high=1.0, high_inclusive=False, units="1"),
    *sup.MDP_PARAMS,
)

STUDY = Study(
    name="irl-dynamics",
    title="IRL under misspecified dynamics: closed forms, worst case and MCE-IRL",
    paper="Skalse & Abate, Quantifying the Sensitivity of Inverse Reinforcement Learning to Misspecification, ICLR 2024, arXiv:2403.06854",
    family="irl",
    teaching=TEACHING,
    params=PARAMS,
    grid={"lam": (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.5)},
    settings={"gamma": 0.9, "n_states": 16, "n_actions": 4, "kappa": 0.3, "alpha": 1.0, "beta": 1.0, "restarts": 4},
    reps=64,
    quick_grid={"lam": (0.0, 0.001, 0.01, 0.1, 0.5)},
    quick_settings={
        "gamma": 0.9,
        "n_states": 16,
        "n_actions": 4,
        "kappa": 0.3,
        "alpha": 1.0,
        "beta": 1.0,
        "restarts": 3,
    },
    quick_reps=8,
    # S × A × S tables (transitions, rewards, the feasible set's worst-case search) and S × S solves
    memory=lambda p: irl_memory(p["n_states"], p["n_actions"], p["restarts"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    rep_dim="mdp",
    dims_order=("irl_method",),
)
