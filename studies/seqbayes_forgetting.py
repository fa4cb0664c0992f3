"""seqbayes-forgetting: exact sequential Bayes still forgets under misspecification.

Our two-task Gaussian-mean instantiation of Kessler, Cobb, Rudner, Zohren, Roberts
(arXiv:2301.01828): a ``shared`` model that wrongly assumes one mean for both tasks, beside a
well-specified ``task-specific`` control.  Each ``n2`` is one cell; both models and both stages use
the same two task data sets per replication.
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.shift_preferences import seqbayes_theory as th
from simkit.shift_preferences.seqbayes import MODELS, STAGES, simulate_seqbayes
from simkit.stats import summarize
from simkit.study import Param, Study

#: Family false-alarm rate of the Bonferroni bound (z = 4 for up to about 70 points).
FAMILY_ALPHA = 5e-3
#: The theory check is inconclusive where z * SE exceeds this share of the exact value.
THEORY_PRECISION = 0.25
#: forgetting-sign tests an n2 only where the expected |z| = |F|/SE reaches this.
SIGN_POWER = 6.0
#: ... and passes it where the simulated F has the exact sign with at least this |z|,
SIGN_PASS = 2.0
#: ... and fails it where it has the opposite sign with at least this |z|.
SIGN_FAIL = 4.0
#: Relative tolerance of the deterministic prediction (task-specific, task 2, after task 1).
DETERMINISTIC_RTOL = 1e-12

TEACHING = """\
What is misspecified: the model of the tasks.  Task 1 has n1 observations with mean θ1, task 2 n2
observations with mean θ2 ≠ θ1 (noise variance σ² known).  The shared model assumes a single mean
θ ~ N(0, prior_var) for both tasks; the task-specific model, one mean per task, is well specified
and is the control.  Both update by exact conjugate Bayes: the task-1 posterior is the prior for
task 2, so the posterior after two tasks is exactly the posterior from all the data.
What theory predicts (exact): even so, the shared model forgets task 1.  Its posterior mean is the
data-weighted average (n1 ȳ1 + n2 ȳ2)/(n1 + n2 + λ), λ = σ²/prior_var, so as task 2 grows the
prediction for task 1 slides to θ2 and its squared error rises to (θ1 − θ2)², while the posterior
variance σ²/(n1 + n2 + λ) shrinks: it is confidently wrong.  How much is forgotten is set by the
imbalance n2/n1: a little task-2 data can even help task 1 when the tasks are close (backward
transfer, F < 0), but beyond Δ² = σ²(1/n1 + 1/n2) (flat-prior rule) it hurts.  The task-specific
model forgets nothing, so the failure comes from the model, not from the inference.
What to look at: the shared after-task-2 markers climbing to the dotted limit (θ1 − θ2)² in the
first panel while the task-specific ones stay on the after-task-1 line; the forgetting F crossing
zero between n2 = 5 and 10; the posterior variance falling as the error rises (last panel).
This is our illustration of Kessler et al.'s claim with a two-task Gaussian mean: the instantiation
and every formula are ours, derived from the paper's abstract."""


def simulate(p, states, backend):
    """One cell ``n2``: ``mse_task1``, ``mse_task2`` over ``(model, stage, rep)`` and ``forgetting`` over ``rep`` (y²)."""
    out = simulate_seqbayes(
        states,
        n1=p["n1"],
        n2=p["n2"],
        theta1=p["theta1"],
        theta2=p["theta2"],
        sigma2=p["sigma2"],
        prior_var=p["prior_var"],
        backend=backend,
    )
    dims = ("model", "stage", "rep")
    ds = xr.Dataset(coords={"model": list(MODELS), "stage": list(STAGES)})
    for t in (1, 2):
        ds[f"mse_task{t}"] = (
            dims,
            out[f"mse_task{t}"].transpose(1, 2, 0),
            {
                "long_name": f"squared error of the posterior-mean prediction for task {t}, (mu - theta{t})^2",
                "units": "y^2",
            },
        )
    shared = out["mse_task1"][:, 0]
    ds["forgetting"] = (
        "rep",
        shared[:, 1] - shared[:, 0],
        {
            "long_name": "forgetting: mse_task1[shared, after-task-2] - mse_task1[shared, after-task-1] (paired)",
            "units": "y^2",
        },
    )
    return ds


def _settings(ds):
    a = ds.attrs
    return int(a["n1"]), float(a["theta1"]), float(a["theta2"]), float(a["sigma2"]), float(a["prior_var"])


def theory(ds):
    """Exact ``mse_task{1,2}_theory`` and ``posterior_var_task1`` (model, stage, n2), ``forgetting_theory`` (n2)."""
    n1, t1, t2, s2, pv = _settings(ds)
    n2 = ds["n2"].values.astype(float)
    dims = ("model", "stage", "n2")
    coords = {"model": ds["model"], "stage": ds["stage"], "n2": ds["n2"]}
    out = xr.Dataset(coords=coords)
    for task in (1, 2):
        values = np.array(
            [[th.expected_squared_error(mo, st, task, n1, n2, t1, t2, s2, pv) for st in STAGES] for mo in MODELS]
        )
        out[f"mse_task{task}_theory"] = xr.DataArray(
            values,
            dims=dims,
            attrs={
                "long_name": f"E mse_task{task}, exact (bias^2 + variance of a Gaussian error)",
                "units": "y^2",
                "limit_shared_task1": float(th.forgetting_limit(t1, t2)),
            },
        )
    post = np.array([[th.posterior_variance_task1(mo, st, n1, n2, s2, pv) for st in STAGES] for mo in MODELS])
    out["posterior_var_task1"] = xr.DataArray(
        post,
        dims=dims,
        attrs={"long_name": "posterior variance of the parameter predicting task 1 (deterministic)", "units": "y^2"},
    )
    out["forgetting_theory"] = xr.DataArray(
        th.forgetting(n1, n2, t1, t2, s2, pv),
        dims="n2",
        attrs={
            "long_name": "forgetting F(n2), exact",
            "units": "y^2",
            "forgetting_limit": float(th.forgetting_limit(t1, t2)),
            "flat_prior_threshold_n2": float(th.flat_prior_threshold(n1, t1, t2, s2)),
        },
    )
    return out


# ----------------------------------------------------------------------------------------- checks


def _outcome_check(name, claim, statistic, points, tolerance, direction, empty=""):
    """Three-outcome check from ``(outcome, value, text)`` points: any fail -> fail, any inconclusive -> inconclusive."""
    if not points:
        return ck.condition(
            name,
            False,
            float("nan"),
            tolerance,
            empty,
            inconclusive=True,
            claim=claim,
            direction=direction,
            statistic=statistic,
        )
    decided = [p for p in points if p[0] != "inconclusive" and np.isfinite(p[1])]
    pick = max if direction == "<=" else min
    worst = pick(decided, key=lambda p: p[1]) if decided else None
    value = float(worst[1]) if worst else float("nan")
    failed = [p for p in points if p[0] == "fail"]
    open_ = [p for p in points if p[0] == "inconclusive"]
    if failed:
        return ck.condition(
            name,
            False,
            value,
            tolerance,
            "failed at " + "; ".join(p[2] for p in failed[:6]),
            claim=claim,
            direction=direction,
            statistic=statistic,
        )
    if open_:
        detail = f"{len(open_)} of {len(points)} points undecided: " + "; ".join(p[2] for p in open_[:6])
        return ck.condition(
            name,
            False,
            value,
            tolerance,
            detail,
            inconclusive=True,
            claim=claim,
            direction=direction,
            statistic=statistic,
        )
    return ck.condition(
        name,
        True,
        value,
        tolerance,
        f"all {len(points)} points pass; worst at {worst[2]}",
        claim=claim,
        direction=direction,
        statistic=statistic,
    )


def _check_theory(ds):
    claim = "E mse_task1 and E mse_task2 equal their exact formulas for both models, both stages and every n2"
    points = []
    cells = []
    for var in ("mse_task1", "mse_task2"):
        s = summarize(ds[var])
        for mo in MODELS:
            for st in STAGES:
                for n2 in ds["n2"].values:
                    exact = float(ds[f"{var}_theory"].sel(model=mo, stage=st, n2=n2))
                    mean, se = (float(s[k].sel(model=mo, stage=st, n2=n2)) for k in ("mean", "se"))
                    deterministic = var == "mse_task2" and mo == "task-specific" and st == "after-task-1"
                    if not deterministic:
                        cells.append((var, mo, st, int(n2), mean, se, exact))
    z_crit = ck.z_for(len(cells), family_alpha=FAMILY_ALPHA)
    for var, mo, st, n2, mean, se, exact in cells:
        z = (mean - exact) / se if se > 0 else float("nan")
        text = f"{var}[{mo}, {st}, n2={n2}]: {mean:.5g} ± {se:.2g} vs {exact:.5g} (z={z:+.2f})"
        if not np.isfinite(z):
            points.append(("inconclusive", z, text + " [no standard error: run at least 2 replications]"))
        elif z_crit * se > THEORY_PRECISION * exact:
            need = int(np.ceil(ds.sizes["rep"] * (z_crit * se / (THEORY_PRECISION * exact)) ** 2))
            points.append(
                ("inconclusive", abs(z), text + f" [{z_crit:.2f}·SE > 25% of exact: about {need} reps decide]")
            )
        else:
            points.append(("pass" if abs(z) <= z_crit else "fail", abs(z), text))
    return _outcome_check("theory", claim, "max |mean − exact| / SE", points, z_crit, "<=")


def _check_deterministic(ds):
    _, _, t2, _, _ = _settings(ds)
    sim = ds["mse_task2"].sel(model="task-specific", stage="after-task-1").values
    dev = float(np.max(np.abs(sim - t2**2)) / max(t2**2, np.finfo(float).tiny))
    return ck.condition(
        "deterministic",
        dev <= DETERMINISTIC_RTOL,
        dev,
        DETERMINISTIC_RTOL,
        f"task-specific, after task 1, task 2 predicts its prior mean 0: mse = theta2^2 = {t2**2:.6g}; "
        f"max relative deviation {dev:.2g} over every n2 and replication",
        claim="the untrained task-specific task-2 prediction has squared error θ2² exactly, in every replication",
        statistic="max |mse − θ2²| / θ2²",
    )


def _check_keeps_task1(ds):
    before = ds["mse_task1"].sel(model="task-specific", stage="after-task-1").values
    after = ds["mse_task1"].sel(model="task-specific", stage="after-task-2").values
    changed = int(np.count_nonzero(before != after))
    return ck.condition(
        "task-specific-keeps-task-1",
        changed == 0,
        changed,
        0,
        f"{changed} of {before.size} replication-cells changed their task-1 error when task 2 arrived",
        claim="the well-specified task-specific model forgets nothing: task 2 leaves every task-1 error bitwise unchanged",
        statistic="number of (n2, rep) with a changed task-1 error",
    )


def _z_outcome(z, z_crit):
    if not np.isfinite(z):
        return "inconclusive"
    return "pass" if z >= z_crit else ("fail" if z <= -z_crit else "inconclusive")


def _check_shared_forgets(ds):
    claim = "the misspecified shared model forgets: its task-1 error after task 2 exceeds that after task 1 at the largest n2"
    n2 = ds["n2"].values.max()
    s = summarize(ds["forgetting"].sel(n2=n2))
    mean, se = float(s["mean"]), float(s["se"])
    exact = float(ds["forgetting_theory"].sel(n2=n2))
    z = mean / se if se > 0 else float("nan")
    z_crit = ck.z_for(1, family_alpha=FAMILY_ALPHA)
    text = f"n2={int(n2)}: F = {mean:.5g} ± {se:.2g} (exact {exact:.5g}), z = {z:+.1f}"
    outcome = _z_outcome(z, z_crit)
    if exact <= 0:
        outcome, text = "inconclusive", text + " [exact F ≤ 0 here (e.g. θ1 = θ2): the claim does not apply]"
    elif outcome == "inconclusive":
        text += f" [|z| < {z_crit:g}: more replications or a larger n2 decide]"
    return _outcome_check("shared-forgets", claim, "z = mean(F)/SE (paired)", [(outcome, z, text)], z_crit, ">=")


def _check_imbalance(ds):
    claim = "imbalance forgets more: F at the largest n2 exceeds F at the n2 nearest n1"
    n1 = _settings(ds)[0]
    grid = ds["n2"].values
    big = grid.max()
    near = grid[np.argmin(np.abs(grid - n1))]
    z_crit = ck.z_for(1, family_alpha=FAMILY_ALPHA)
    if near == big:
        return _outcome_check(
            "imbalance-forgets-more",
            claim,
            "",
            [],
            z_crit,
            ">=",
            f"the n2 nearest n1 = {n1} is the largest n2: add a larger n2 to decide",
        )
    a, b = summarize(ds["forgetting"].sel(n2=big)), summarize(ds["forgetting"].sel(n2=near))
    gap = float(a["mean"]) - float(b["mean"])
    se = float(np.hypot(a["se"], b["se"]))
    z = gap / se if se > 0 else float("nan")
    exact = float(ds["forgetting_theory"].sel(n2=big) - ds["forgetting_theory"].sel(n2=near))
    text = f"F({int(big)}) − F({int(near)}) = {gap:.5g} ± {se:.2g} (exact {exact:.5g}), z = {z:+.1f}"
    outcome = _z_outcome(z, z_crit)
    if exact <= 0:
        outcome, text = "inconclusive", text + " [exact difference ≤ 0: the claim does not apply]"
    elif outcome == "inconclusive":
        text += f" [|z| < {z_crit:g}: more replications decide]"
    return _outcome_check(
        "imbalance-forgets-more", claim, "z of the difference (independent cells)", [(outcome, z, text)], z_crit, ">="
    )


def _check_sign(ds):
    claim = (
        "the simulated forgetting F has the exact sign at every n2 (backward transfer where F < 0, "
        "forgetting where F > 0)"
    )
    s = summarize(ds["forgetting"])
    points = []
    for n2 in ds["n2"].values:
        mean, se = float(s["mean"].sel(n2=n2)), float(s["se"].sel(n2=n2))
        exact = float(ds["forgetting_theory"].sel(n2=n2))
        z = mean / se if se > 0 else float("nan")
        expected = abs(exact) / se if se > 0 else float("nan")
        sign = np.sign(exact)
        v = sign * z
        text = f"n2={int(n2)}: F = {mean:.4g} ± {se:.2g} (exact {exact:+.4g}), z = {z:+.1f}"
        if not np.isfinite(se):
            points.append(("inconclusive", v, text + " [no standard error: run at least 2 replications]"))
        elif sign == 0 or se == 0:
            points.append(("inconclusive", v, text + " [exact F = 0 or a deterministic F: no sign to test]"))
        elif expected < SIGN_POWER:
            need = int(np.ceil(ds.sizes["rep"] * (SIGN_POWER / expected) ** 2))
            points.append(
                (
                    "inconclusive",
                    v,
                    text + f" [expected |z| = {expected:.1f} < {SIGN_POWER:g}: about {need} reps decide]",
                )
            )
        elif v >= SIGN_PASS:
            points.append(("pass", v, text))
        elif v <= -SIGN_FAIL:
            points.append(("fail", v, text))
        else:
            points.append(
                (
                    "inconclusive",
                    v,
                    text + f" [|z| < {SIGN_PASS:g} with the right sign, or < {SIGN_FAIL:g} "
                    "with the wrong one: more replications decide]",
                )
            )
    return _outcome_check("forgetting-sign", claim, "min over n2 of sign(F_exact)·z", points, SIGN_PASS, ">=")


def checks(ds):
    """The six checks, each pass / fail / inconclusive."""
    return [
        _check_theory(ds),
        _check_deterministic(ds),
        _check_keeps_task1(ds),
        _check_shared_forgets(ds),
        _check_imbalance(ds),
        _check_sign(ds),
    ]


# ----------------------------------------------------------------------------------------- figure

_COLOR = {
    ("shared", "after-task-1"): plotting.COLORS[0],
    ("shared", "after-task-2"): plotting.COLORS[1],
    ("task-specific", "after-task-1"): plotting.COLORS[2],
    ("task-specific", "after-task-2"): plotting.COLORS[3],
}
_MARKER = {
    ("shared", "after-task-1"): "o",
    ("shared", "after-task-2"): "s",
    ("task-specific", "after-task-1"): "^",
    ("task-specific", "after-task-2"): "D",
}
_NUDGE = {
    ("shared", "after-task-1"): 0.92,
    ("shared", "after-task-2"): 1.0,
    ("task-specific", "after-task-1"): 1.08,
    ("task-specific", "after-task-2"): 1.16,
}


def _symlog_axis(ax, values):
    """Symlog y axis whose linear part just holds the negative (backward-transfer) values; sparse ticks."""
    values = np.asarray(values, dtype=float)
    neg, pos = -values[values < 0], values[values > 0]
    linthresh = 1.5 * float(neg.max()) if neg.size else (float(pos.min()) if pos.size else 1e-3)
    ax.set_yscale("symlog", linthresh=linthresh, linscale=1.5)
    ticks = [0.0]
    if neg.size:
        ticks.insert(0, -float(f"{neg.max():.1g}"))
    if pos.size:
        ticks += [10.0**k for k in range(int(np.ceil(np.log10(linthresh))), int(np.floor(np.log10(pos.max()))) + 1)]
    ax.set_yticks(ticks, [f"{t:g}".replace("-", "−") for t in ticks])
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def plot(ds):
    """Panels: E mse_task1, E mse_task2 (markers: simulation ± 95% CI; lines on top: exact theory), F, posterior variance."""
    n1, t1, t2, s2, pv = _settings(ds)
    n2 = ds["n2"].values.astype(float)
    fine = np.geomspace(n2.min(), n2.max(), 300)
    x, xf = n2 / n1, fine / n1
    fig, axes = plotting.figure(
        2,
        2,
        width=3.7,
        height=2.7,
        title=(
            rf"Sequential Bayes on two tasks: $\theta_1={t1:g}$, $\theta_2={t2:g}$, $n_1={n1}$, $\sigma^2={s2:g}$, "
            rf"prior variance ${pv:g}$ ({ds.sizes['rep']} reps)"
        ),
    )
    with plotting.style():
        for j, task in enumerate((1, 2)):
            ax = axes[0, j]
            var = f"mse_task{task}"
            for mo in MODELS:
                for st in STAGES:
                    key = (mo, st)
                    plotting.points(
                        ax,
                        x * _NUDGE[key],
                        ds[var].sel(model=mo, stage=st),
                        color=_COLOR[key],
                        marker=_MARKER[key],
                        var=var,
                        markersize=5.5,
                        label=f"{mo}, {st}: simulation (mean ± 95% CI)",
                    )
                    plotting.theory_line(
                        ax,
                        xf,
                        th.expected_squared_error(mo, st, task, n1, fine, t1, t2, s2, pv),
                        color=_COLOR[key],
                        linestyle="-",
                        var=f"{var}_theory",
                        label=f"{mo}, {st}: exact theory",
                    )
            ax.set(
                xscale="log",
                yscale="log",
                xlabel=r"imbalance $n_2/n_1$",
                ylabel=rf"$\mathbb{{E}}\,(\hat\mu-\theta_{task})^2$",
                title=f"task {task} error",
            )
        limit = float(th.forgetting_limit(t1, t2))
        if limit > 0:
            plotting.theory_hline(
                axes[0, 0],
                limit,
                var="mse_task1_theory",
                label=r"shared limit $(\theta_1-\theta_2)^2$ as $n_2\to\infty$ (exact)",
            )
        fx = axes[1, 0]
        plotting.reference_line(fx, y=0.0, color="0.4", linestyle="-", linewidth=0.8, what="zero")
        red = _COLOR[("shared", "after-task-2")]
        plotting.points(
            fx,
            x,
            ds["forgetting"],
            color=red,
            marker="s",
            var="forgetting",
            markersize=5.5,
            label=r"forgetting $F$: simulation (mean ± 95% CI)",
        )
        plotting.theory_line(
            fx,
            xf,
            th.forgetting(n1, fine, t1, t2, s2, pv),
            color=red,
            linestyle="-",
            var="forgetting_theory",
            label=r"forgetting $F$: exact theory",
        )
        plotting.theory_line(
            fx,
            xf,
            th.flat_prior_forgetting(n1, fine, t1, t2, s2),
            color="0.45",
            linestyle="--",
            label=r"$F$: flat-prior limit $\lambda\to 0$ (theory)",
        )
        thr = th.flat_prior_threshold(n1, t1, t2, s2)
        if np.isfinite(thr) and fine.min() <= thr <= fine.max():
            plotting.reference_line(
                fx,
                x=thr / n1,
                color="0.35",
                linestyle="-.",
                what="flat-prior threshold",
                label=r"flat-prior threshold $\Delta^2=\sigma^2(1/n_1+1/n_2)$",
            )
        _symlog_axis(fx, ds["forgetting_theory"].values)
        fx.set(
            xscale="log",
            xlabel=r"imbalance $n_2/n_1$",
            ylabel=r"$F(n_2)$ (symlog scale)",
            title="forgetting of task 1 (shared model)",
        )
        px = axes[1, 1]
        key = ("shared", "after-task-2")
        plotting.points(
            px,
            x,
            ds["mse_task1"].sel(model="shared", stage="after-task-2"),
            color=_COLOR[key],
            marker=_MARKER[key],
            var="mse_task1",
            markersize=5.5,
        )
        plotting.theory_line(
            px,
            xf,
            th.expected_squared_error("shared", "after-task-2", 1, n1, fine, t1, t2, s2, pv),
            color=_COLOR[key],
            linestyle="-",
            var="mse_task1_theory",
        )
        plotting.theory_line(
            px,
            xf,
            th.posterior_variance_task1("shared", "after-task-2", n1, fine, s2, pv),
            linestyle="--",
            var="posterior_var_task1",
            label="shared, after-task-2: posterior variance (exact)",
        )
        px.set(
            xscale="log",
            yscale="log",
            xlabel=r"imbalance $n_2/n_1$",
            ylabel=r"task 1: error and variance",
            title="confidently wrong",
        )
        found = {}
        for axis in axes.ravel():
            for h, lab in zip(*axis.get_legend_handles_labels()):
                found.setdefault(lab, h)
        order = [
            f"{mo}, {st}: {what}"
            for mo in MODELS
            for st in STAGES
            for what in ("simulation (mean ± 95% CI)", "exact theory")
        ]
        labels = [lab for lab in order if lab in found] + [lab for lab in found if lab not in order]
        plotting.legend(fig, where="below", ncol=2, handles=[found[lab] for lab in labels], labels=labels)
    return fig


# ----------------------------------------------------------------------------------------- study

PARAMS = (
    Param("n1", int, "task-1 sample size", low=1, units="1"),
    Param("n2", int, "task-2 sample size", low=1, units="1"),
    Param("theta1", float, "true task-1 mean", units="y"),
    Param("theta2", float, "true task-2 mean", units="y"),
    Param("sigma2", float, "known noise variance", low=0, low_inclusive=False, units="y^2"),
    Param(
        "prior_var",
        float,
        "prior variance of each mean (finite; a flat prior has no prior mean to predict with)",
        low=0,
        low_inclusive=False,
        units="y^2",
    ),
)

SETTINGS = {"n1": 20, "theta1": 0.5, "theta2": 1.0, "sigma2": 1.0, "prior_var": 1.0}

STUDY = Study(
    name="seqbayes-forgetting",
    title="Exact sequential Bayes forgets under misspecification: a shared mean for two tasks",
    paper=(
        "Kessler, Cobb, Rudner, Zohren, Roberts, On Sequential Bayesian Inference for Continual Learning, "
        "Entropy 25(6):884 (2023), arXiv:2301.01828"
    ),
    family="shift_preferences",
    teaching=TEACHING,
    params=PARAMS,
    grid={"n2": (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)},
    settings=dict(SETTINGS),
    reps=100000,
    quick_grid={"n2": (1, 2, 20, 100, 1000)},
    quick_settings=dict(SETTINGS),
    quick_reps=10000,
    # a few scalars per replication: the two task means, both models' posteriors at both stages
    memory=lambda p: 8.0 * 64.0,
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    dims_order=("model", "stage", "n2"),
)
