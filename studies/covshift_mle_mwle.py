"""covshift-mle-mwle: source MLE vs density-ratio-weighted MLE under covariate shift.

Our instantiation of Ge, Tang, Fan, Ma, Jin (ICLR 2024, arXiv:2311.15961): a Gaussian mean shift
of size ``m``, a linear model with intercept, and a quadratic misfit ``c (x_1^2 - 1)`` the model
cannot represent (``c = 0``: well specified).  Every ``c`` and both estimators come from the same
draws (``c`` is an inner dimension); each ``n`` is one cell.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.errors import ParameterError
from simkit.shift_preferences import covshift_theory as th
from simkit.shift_preferences.covshift import ESTIMATORS, simulate_covshift
from simkit.stats import summarize
from simkit.study import Param, Study

#: Family false-alarm rate of the Bonferroni bounds: z = 4 up to about 80 points.
FAMILY_ALPHA = 5e-3
#: Relative slack of the asymptotic MLE formula at c > 0 (check mle-asymptotic).
MLE_ASYMPTOTIC_REL = 0.04
#: The MWLE may sit below its first-order formula, never more than this far above it.
MWLE_UPPER_REL = 0.10
#: Relative slack of the MWLE at the largest n, once n >= n_asym(m) (check mwle-converged).
MWLE_CONVERGED_REL = 0.10
#: mle-exact is inconclusive where z * SE exceeds this share of the theory.
MLE_EXACT_PRECISION = 0.10

TEACHING = """\
What is misspecified: the regression function.  Inputs shift from the source N(0, I) to the target
N(m e₁, I); the learners fit y on (1, x) by least squares on source data only, while the truth adds a
curvature c·(x₁² − 1) that a linear model cannot represent (c = 0: well specified).  mle is ordinary
least squares; mwle weights each source point by the exact density ratio w(x) = exp(m x₁ − m²/2).
What theory predicts: when the model is right, source and target share the same best parameters, so
maximum likelihood on source data alone is already aimed at the target, and weighting only adds
variance: a factor e^{m²} in risk at large n (the MLE's risk is exact: σ²A(n)).  When the model is
wrong (c > 0) the best linear fit depends on where the inputs lie: the MLE converges to the source's
best fit and keeps a bias floor c²(m⁴ + 4m²) on the target, while the weighted MLE converges to the
target's best fit.  The MWLE therefore wins once n is large enough to pay for its extra variance (near
the first-order crossover n*), and loses before.  The unbounded density ratio also shows at finite n:
the weighted fit approaches its first-order risk slowly, from below (about n ≥ n_asym(m) =
10/P(N(0,1) > 2m + 1) for 10%), and for shifts much beyond one standard deviation not at any practical n.
What to look at: the MLE markers on the exact curve at c = 0 and flattening onto the dotted floor for
c > 0; the MWLE markers below their dashed first-order line at small n, joining it at large n; the
curves crossing near n*; the lower row, simulation/theory, for the approach to first order.
This is our illustration of Ge et al.'s result, not a proof of minimax optimality: the Gaussian
instantiation, the estimators' setting and every formula are ours, derived from the paper's abstract."""


def simulate(p, states, backend):
    """One cell ``n``: ``excess_risk`` over ``(c, estimator, rep)``, every ``c`` from the same draws (response^2)."""
    cs = tuple(float(v) for v in np.atleast_1d(p["c"]))
    risk = simulate_covshift(states, n=p["n"], d=p["d"], m=p["m"], sigma2=p["sigma2"], c=cs, backend=backend)
    ds = xr.Dataset(
        {
            "excess_risk": (
                ("c", "estimator", "rep"),
                risk.transpose(1, 2, 0),
                {
                    "long_name": "target excess risk R_T(theta_hat) - R_T(theta*_T), exact from the coefficients",
                    "units": "response^2",
                },
            )
        },
        coords={"c": list(cs), "estimator": list(ESTIMATORS)},
    )
    ds["c"].attrs.update(long_name="misfit coefficient c of c (x_1^2 - 1) (0 = well specified)", units="response")
    return ds


def _settings(ds):
    return int(ds.attrs["d"]), float(ds.attrs["m"]), float(ds.attrs["sigma2"])


def theory(ds):
    """``excess_risk_theory`` (c, estimator, n), ``theory_exact``, ``excess_risk_limit`` (c, estimator), ``crossover_n`` (c)."""
    d, m, sigma2 = _settings(ds)
    n = ds["n"].values.astype(float)
    cs = ds["c"].values.astype(float)
    risk = np.empty((cs.size, len(ESTIMATORS), n.size))
    exact = np.zeros((cs.size, len(ESTIMATORS)), dtype=bool)
    limit = np.zeros((cs.size, len(ESTIMATORS)))
    for i, c in enumerate(cs):
        risk[i, 0] = th.mle_excess_risk(n, d, m, sigma2, c)
        risk[i, 1] = th.mwle_excess_risk(n, d, m, sigma2, c)
        exact[i, 0] = c == 0
        limit[i, 0] = th.mle_risk_floor(m, c)
    coords = {"c": ds["c"], "estimator": ds["estimator"], "n": ds["n"]}
    n_asym = float(th.mwle_asymptotic_n(m))
    out = xr.Dataset(coords=coords)
    out["excess_risk_theory"] = xr.DataArray(
        risk,
        dims=("c", "estimator", "n"),
        attrs={
            "long_name": (
                "excess target risk, theory: exact for MLE at c = 0; MLE at c > 0 asymptotic (exact noise part + "
                "first-order misfit part); MWLE first-order asymptotic"
            ),
            "units": "response^2",
            "n_asym": n_asym,
        },
    )
    out["theory_exact"] = xr.DataArray(
        exact,
        dims=("c", "estimator"),
        attrs={"long_name": "true where excess_risk_theory is exact (MLE at c = 0)", "role": "auxiliary"},
    )
    out["excess_risk_limit"] = xr.DataArray(
        limit,
        dims=("c", "estimator"),
        attrs={
            "long_name": "exact n -> inf limit: c^2 (m^4 + 4 m^2) for the MLE, 0 for the MWLE",
            "units": "response^2",
        },
    )
    out["crossover_n"] = xr.DataArray(
        th.crossover_n(d, m, sigma2, cs),
        dims="c",
        attrs={
            "long_name": "first-order crossover n*(c) where the MWLE starts to win (asymptotic; inf at c = 0)",
            "units": "1",
            "n_asym": n_asym,
        },
    )
    return out


# ----------------------------------------------------------------------------------------- checks


def _summary(da):
    s = summarize(da)
    return s["mean"], s["se"]


def _fmt_point(c, n):
    return f"c={c:g}, n={int(n)}"


def _aggregate(name, claim, statistic, points, tolerance, direction, empty):
    """One three-outcome check from per-point results.

    ``points`` is a list of ``(outcome, value, text)``; fail if any point fails, inconclusive if
    any (or every, when there are none) is inconclusive, else pass.  The reported value is the
    worst decided value in ``direction`` (the largest for ``<=``, the smallest for ``>=``).
    """
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
        detail = "failed at " + "; ".join(p[2] for p in failed)
        return ck.condition(
            name, False, value, tolerance, detail, claim=claim, direction=direction, statistic=statistic
        )
    if open_:
        detail = f"{len(open_)} of {len(points)} points undecided: " + "; ".join(p[2] for p in open_)
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
    detail = f"all {len(points)} points pass; worst at {worst[2]}"
    return ck.condition(name, True, value, tolerance, detail, claim=claim, direction=direction, statistic=statistic)


def _check_mle_exact(ds):
    d, m, _ = _settings(ds)
    claim = "MLE risk at c = 0 equals the exact formula σ²A(n) at every n (|z| within the Bonferroni bound)"
    name = "mle-exact"
    if 0.0 not in ds["c"].values:
        return _aggregate(name, claim, "|z|", [], 4.0, "<=", "no c = 0 in the grid: add c = 0 to decide")
    mean, se = _summary(ds["excess_risk"].sel(c=0.0, estimator="mle"))
    theory = ds["excess_risk_theory"].sel(c=0.0, estimator="mle")
    z_crit = ck.z_for(ds.sizes["n"], family_alpha=FAMILY_ALPHA)
    points = []
    for n in ds["n"].values:
        mu, s, t = float(mean.sel(n=n)), float(se.sel(n=n)), float(theory.sel(n=n))
        z = (mu - t) / s if s > 0 else float("nan")
        text = f"{_fmt_point(0, n)}: {mu:.5g} ± {s:.2g} vs {t:.5g} (z={z:+.2f})"
        if n <= d + 4:
            points.append(("inconclusive", z, text + f" [n ≤ d + 4 = {d + 4}: infinite variance; use n > d + 4]"))
        elif not np.isfinite(z):
            points.append(("inconclusive", z, text + " [no standard error: run at least 2 replications]"))
        elif z_crit * s > MLE_EXACT_PRECISION * t:
            need = int(np.ceil(ds.sizes["rep"] * (z_crit * s / (MLE_EXACT_PRECISION * t)) ** 2))
            points.append(
                ("inconclusive", abs(z), text + f" [{z_crit:.2f}·SE > 10% of theory: about {need} reps decide]")
            )
        else:
            points.append(("pass" if abs(z) <= z_crit else "fail", abs(z), text))
    return _aggregate(name, claim, "max |mean − exact| / SE over n", points, z_crit, "<=", "")


def _check_ratio(ds, name, claim, sel_points, rel, two_sided, inconclusive_if):
    """|r − 1| (or r − 1) against ``rel + z·SE_r`` at the selected points; value = worst ratio to that bound."""
    mean, se = _summary(ds["excess_risk"])
    theory = ds["excess_risk_theory"]
    z_crit = ck.z_for(max(1, len(sel_points)), family_alpha=FAMILY_ALPHA)
    points = []
    for c, est, n in sel_points:
        mu, s, t = (float(a.sel(c=c, estimator=est, n=n)) for a in (mean, se, theory))
        r, se_r = mu / t, s / t
        bound = rel + z_crit * se_r
        gap = abs(r - 1) if two_sided else r - 1
        ratio = gap / bound if np.isfinite(bound) else float("nan")
        text = f"{est} {_fmt_point(c, n)}: r = {r:.4f} ± {se_r:.4f}"
        reason = inconclusive_if(c, est, n)
        if reason:
            points.append(("inconclusive", ratio, text + f" [{reason}]"))
        elif not np.isfinite(ratio):
            points.append(("inconclusive", ratio, text + " [no standard error: run at least 2 replications]"))
        else:
            points.append(("pass" if ratio <= 1 else "fail", ratio, text))
    stat = f"worst {'|r − 1|' if two_sided else 'r − 1'} / ({rel:g} + {z_crit:.2f}·SE_r), r = simulation/theory"
    return _aggregate(name, claim, stat, points, 1.0, "<=", "no points of this kind in the grid")


def _paired_z(ds, c, n):
    mean, se = _summary(
        ds["excess_risk"].sel(c=c, estimator="mle", n=n) - ds["excess_risk"].sel(c=c, estimator="mwle", n=n)
    )
    mu, s = float(mean), float(se)
    return (mu / s if s > 0 else float("nan")), mu, s


def _sign_points(ds, targets, z_crit):
    """Per ``(c, n, expected sign)``: pass if ``sign·z ≥ z_crit``, fail if ``sign·z ≤ −z_crit``, else inconclusive."""
    points = []
    for c, n, sign in targets:
        z, mu, s = _paired_z(ds, c, n)
        who = "MLE" if sign < 0 else "MWLE"
        text = f"{_fmt_point(c, n)}: mean(MLE − MWLE) = {mu:.3g} ± {s:.2g}, z = {z:+.1f} (expect {who} wins)"
        v = sign * z
        if not np.isfinite(v):
            why = "the estimators coincide (m = 0)" if float(ds.attrs["m"]) == 0 else "no standard error"
            points.append(("inconclusive", v, text + f" [{why}]"))
        elif v >= z_crit:
            points.append(("pass", v, text))
        elif v <= -z_crit:
            points.append(("fail", v, text))
        else:
            need = int(np.ceil(ds.sizes["rep"] * (z_crit / v) ** 2)) if v > 0 else None
            hint = f"about {need} reps decide" if need else "the gap points the other way, within the noise"
            points.append(("inconclusive", v, text + f" [|z| < {z_crit:.2f}: {hint}]"))
    return points


def _check_sign(ds, name, claim, targets, empty):
    z_crit = ck.z_for(max(1, len(targets)), family_alpha=FAMILY_ALPHA)
    points = _sign_points(ds, targets, z_crit)
    stat = "min over points of s·z, z = mean(MLE − MWLE)/SE (paired), s = +1 where the MWLE should win, −1 where the MLE should"
    return _aggregate(name, claim, stat, points, z_crit, ">=", empty)


def _check_crossover(ds):
    claim = (
        "around the first-order crossover n*: the MLE wins at every grid n ≤ n*/4 and the MWLE at every grid "
        "n ≥ 2n* (the band between is not tested)"
    )
    targets, skipped = [], []
    for c in ds["c"].values:
        if c <= 0:
            continue
        star = float(ds["crossover_n"].sel(c=c))
        if not np.isfinite(star):
            skipped.append(f"c={c:g}: no crossover (m = 0)")
            continue
        mine = [(c, n, -1) for n in ds["n"].values if n <= star / 4] + [
            (c, n, +1) for n in ds["n"].values if n >= 2 * star
        ]
        if not mine:
            skipped.append(f"c={c:g}: no grid n ≤ n*/4 = {star / 4:.0f} or ≥ 2n* = {2 * star:.0f}")
        targets += mine
    check = _check_sign(ds, "crossover", claim, targets, "no c > 0 with a tested n in the grid")
    if skipped and check.outcome == "pass":
        return ck.condition(
            check.name,
            False,
            check.value,
            check.tolerance,
            check.detail + "; untested: " + "; ".join(skipped),
            inconclusive=True,
            claim=claim,
            direction=">=",
            statistic=check.statistic,
        )
    return check


def checks(ds):
    """The seven checks, each pass / fail / inconclusive."""
    d, m, _ = _settings(ds)
    cs = [float(c) for c in ds["c"].values]
    ns = [int(n) for n in ds["n"].values]
    n_max = max(ns)
    n_asym = float(th.mwle_asymptotic_n(m))
    small = lambda c, est, n: f"n ≤ d + 4 = {d + 4}: infinite variance" if n <= d + 4 else ""  # noqa: E731
    unconverged = lambda c, est, n: (  # noqa: E731
        f"max n = {n_max} < n_asym(m) = {n_asym:.0f}: the MWLE has not reached first order; use n ≥ {n_asym:.0f}"
        if n_max < n_asym
        else ""
    )
    out = [
        _check_mle_exact(ds),
        _check_ratio(
            ds,
            "mle-asymptotic",
            f"MLE risk at c > 0 within {MLE_ASYMPTOTIC_REL:.0%} (+ MC error) of the asymptotic formula at every n",
            [(c, "mle", n) for c in cs if c > 0 for n in ns],
            MLE_ASYMPTOTIC_REL,
            True,
            small,
        ),
        _check_ratio(
            ds,
            "mwle-upper",
            f"MWLE risk never above its first-order formula by more than {MWLE_UPPER_REL:.0%} (+ MC error)",
            [(c, "mwle", n) for c in cs for n in ns],
            MWLE_UPPER_REL,
            False,
            lambda *a: "",
        ),
        _check_ratio(
            ds,
            "mwle-converged",
            f"at the largest n the MWLE risk is within {MWLE_CONVERGED_REL:.0%} (+ MC error) of first order, every c",
            [(c, "mwle", n_max) for c in cs],
            MWLE_CONVERGED_REL,
            True,
            unconverged,
        ),
        _check_sign(
            ds,
            "well-specified-mle-wins",
            "well specified (c = 0): the MLE has lower risk than the MWLE at every n",
            [(0.0, n, -1) for n in ns] if 0.0 in cs else [],
            "no c = 0 in the grid",
        ),
        _check_sign(
            ds,
            "misspecified-mwle-wins",
            "misspecified (c > 0): the MWLE has lower risk than the MLE at the largest n",
            [(c, n_max, +1) for c in cs if c > 0],
            "no c > 0 in the grid",
        ),
        _check_crossover(ds),
    ]
    return out


# ----------------------------------------------------------------------------------------- figure

_SIM = {"mle": plotting.COLORS[0], "mwle": plotting.COLORS[1]}
_LABEL = {"mle": "MLE", "mwle": "MWLE"}
_MARKER = {"mle": "o", "mwle": "s"}
_NUDGE = {"mle": 1 / 1.04, "mwle": 1.04}


def plot(ds):
    """Top row: risk against n per c (markers: simulation ± 95% CI; lines on top: theory); bottom: simulation/theory."""
    d, m, sigma2 = _settings(ds)
    cs = ds["c"].values
    n = ds["n"].values.astype(float)
    fine = np.geomspace(n.min(), n.max(), 200)  # every n > d + 2 (validated): no singularity inside
    n_asym = float(th.mwle_asymptotic_n(m))
    fig, axes = plotting.figure(
        2,
        len(cs),
        width=2.9,
        height=2.5,
        sharex=True,
        title=(
            rf"Covariate shift $N(0,I)\to N({m:g}e_1,I)$, $d={d}$, $\sigma^2={sigma2:g}$: source MLE vs "
            rf"density-ratio weighted MLE ({ds.sizes['rep']} reps)"
        ),
    )
    with plotting.style():
        for j, c in enumerate(cs):
            ax, bx = axes[0, j], axes[1, j]
            for est in ESTIMATORS:
                sim = ds["excess_risk"].sel(c=c, estimator=est)
                plotting.points(
                    ax,
                    n * _NUDGE[est],
                    sim,
                    color=_SIM[est],
                    marker=_MARKER[est],
                    var="excess_risk",
                    label=f"{_LABEL[est]}: simulation (mean ± 95% CI)",
                    markersize=4.5,
                )
                exact = est == "mle" and c == 0
                kind = "exact (c = 0)" if exact else ("asymptotic (c > 0)" if est == "mle" else "first order")
                theory_fn = th.mle_excess_risk if est == "mle" else th.mwle_excess_risk
                plotting.theory_line(
                    ax,
                    fine,
                    theory_fn(fine, d, m, sigma2, c),
                    color=_SIM[est],
                    linestyle="-" if exact else "--",
                    var="excess_risk_theory",
                    label=f"{_LABEL[est]}: theory, {kind}",
                )
                ratio = sim / ds["excess_risk_theory"].sel(c=c, estimator=est)
                plotting.points(
                    bx, n * _NUDGE[est], ratio, color=_SIM[est], marker=_MARKER[est], var="excess_risk", markersize=4.5
                )
            floor = float(ds["excess_risk_limit"].sel(c=c, estimator="mle"))
            if floor > 0:
                plotting.theory_hline(
                    ax,
                    floor,
                    color=_SIM["mle"],
                    var="excess_risk_limit",
                    label=r"MLE floor $c^2(m^4+4m^2)$ (exact limit)",
                )
            star = float(ds["crossover_n"].sel(c=c))
            if np.isfinite(star) and n.min() <= star <= n.max():
                line = ax.axvline(
                    star,
                    color="0.3",
                    linestyle="-.",
                    linewidth=1.0,
                    zorder=plotting.THEORY_Z,
                    label=r"theory: crossover $n^*(c)$ (first order)",
                )
                line.set_gid("theory:crossover_n")
            ax.set(xscale="log", yscale="log", title=rf"$c = {c:g}$" + (" (well specified)" if c == 0 else ""))
            plotting.theory_hline(bx, 1.0, var="excess_risk_theory", linestyle="-", label="lower row: theory = 1")
            bx.axhspan(1 - MWLE_CONVERGED_REL, 1 + MWLE_CONVERGED_REL, color="0.9", zorder=0.5, linewidth=0)
            if n.min() <= n_asym <= n.max():
                plotting.reference_line(
                    bx, x=n_asym, linestyle=(0, (1, 2)), what="n_asym", label=r"$n_{asym}(m)$; grey band: ±10%"
                )
            bx.set(xscale="log", xlabel=r"source sample size $n$")
        axes[0, 0].set_ylabel(r"$\mathbb{E}\,R_T(\hat\theta) - R_T(\theta^*_T)$")
        axes[1, 0].set_ylabel("simulation / theory")
        found = {}
        for axis in axes.ravel():
            for h, lab in zip(*axis.get_legend_handles_labels()):
                found.setdefault(lab, h)
        order = [
            f"{_LABEL[e]}: {what}"
            for e in ESTIMATORS
            for what in (
                "simulation (mean ± 95% CI)",
                "theory, exact (c = 0)",
                "theory, asymptotic (c > 0)",
                "theory, first order",
            )
        ]
        labels = [lab for lab in order if lab in found] + [lab for lab in found if lab not in order]
        plotting.legend(fig, where="below", ncol=3, handles=[found[lab] for lab in labels], labels=labels)
    return fig


# ----------------------------------------------------------------------------------------- study


def validate_cell(p):
    """``d < n − 2`` for every ``n`` (the exact OLS formula needs ``n > d + 2``)."""
    if p["d"] >= p["n"] - 2:
        raise ParameterError(
            f"d must be < n - 2 for every n (the exact OLS formula needs n > d + 2); got d = {p['d']}, n = {p['n']}"
        )


PARAMS = (
    Param("d", int, "input dimension", low=1, units="1"),
    Param(
        "m",
        float,
        "target mean shift along x_1 (risk symmetric in m; above 1.5 the MWLE theory is unreachable)",
        low=0,
        high=1.5,
        units="x",
    ),
    Param("sigma2", float, "noise variance", low=0, low_inclusive=False, units="response^2"),
    Param(
        "c",
        float,
        "quadratic misfit c (x_1^2 - 1); 0 = well specified (risk depends on c only through c^2)",
        low=0,
        units="response",
    ),
    Param("n", int, "source sample size (> d + 2)", low=1, units="1"),
)

STUDY = Study(
    name="covshift-mle-mwle",
    title="Covariate shift: source MLE vs importance-weighted MLE, well specified and misspecified",
    paper=(
        "Ge, Tang, Fan, Ma, Jin, Maximum Likelihood Estimation is All You Need for Well-Specified Covariate Shift, "
        "ICLR 2024, arXiv:2311.15961"
    ),
    family="shift_preferences",
    teaching=TEACHING,
    params=PARAMS,
    grid={"c": (0.0, 0.05, 0.1, 0.2), "n": (25, 50, 100, 200, 400, 800, 1600, 3200)},
    settings={"d": 2, "m": 0.75, "sigma2": 1.0},
    reps=20000,
    quick_grid={"c": (0.0, 0.1, 0.2), "n": (25, 100, 400, 3200)},
    quick_settings={"d": 2, "m": 0.75, "sigma2": 1.0},
    quick_reps=4000,
    # the n × d source sample and its n × (d + 1) features, fitted for each misfit c (weighted copies)
    memory=lambda p: 8.0 * p["n"] * (p["d"] + 3) * (2.0 + len(p["c"])) + 64.0 * (p["d"] + 1) ** 2 * len(p["c"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    validate_cell=validate_cell,
    dims_order=("c", "estimator", "n"),
    inner=("c",),
)
