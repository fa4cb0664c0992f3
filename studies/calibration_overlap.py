"""calibration-overlap: temperature scaling cannot calibrate an interpolator on overlapping classes; Mixup can.

Chidambaram & Ge, "On the Limitations of Temperature Scaling for Distributions with Overlaps",
ICLR 2024, arXiv:2306.00740; formulas in :mod:`simkit.shift_preferences.calibration_theory`.  One cell per
(k, alpha); a replication is one training set and one calibration set, shared by the three methods.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.errors import ParameterError
from simkit.shift_preferences import calibration_theory as th
from simkit.shift_preferences.calibration import (
    METHODS,
    NODES_PER_PIECE,
    RELIABILITY_BINS,
    check_bandwidth,
    simulate_calibration,
)
from simkit.stats import summarize
from simkit.study import Param, Study

TEACHING = """\
Chidambaram & Ge show that temperature scaling cannot repair an interpolating classifier when classes
overlap, while training with a Mixup-type risk can. This study is an illustration of the paper's claim
in one dimension, not the paper's construction: the data-generating process, the two learners, the ECE
functional and every formula are ours, derived from the paper's abstract. Each class lives in its
own cluster, and label noise of rate α makes every class appear everywhere. What is misspecified: an
interpolating learner (a linear spline through the one-hot labels, zero training loss) models the
label as a deterministic function of x and copies every noisy label. Between two training points with
different labels its confidence falls and rises along the segment while its chance of being right does
not move (0.3 to 0.5), so one temperature cannot fit both these regions and the clean ones: the
calibration error stays near the derived limit ECE_inf(β*) (0.04 to 0.10 here, an asymptotic
prediction), grows with α and does not shrink with more data. Mixup mixes neighbouring points and
their labels, so its predictions average many labels, converge to the true class probabilities, and
its error falls like one over the square root of the sample size. The Bayes classifier with
confidence 1 (hard-argmax) marks the exact zero-temperature line α(1 − 1/k).
What to look at: erm-ts on the ECE_inf curve, far above mixup-ts, at every k (left panels); in the
reliability diagram, erm-ts's accuracy flat at aD across a range of confidences, mixup-ts near the
diagonal."""

PAPER = (
    "Muthu Chidambaram, Rong Ge, On the Limitations of Temperature Scaling for Distributions with Overlaps, "
    "ICLR 2024, arXiv:2306.00740"
)

#: C1 and C5 tolerance (deterministic quantities).
EXACT_TOL = 1e-9
#: C2: tolerance 4 SE + ERM_ABS (quadrature error and O(1/n) edge terms); power needs tol ≤ ERM_POWER · limit.
ERM_ABS, ERM_POWER = 3e-4, 0.15
#: C3 and C4 z bound.
CLAIM_Z = 3.0
#: Full-run replications: 50 replications would leave C4's weakest pair (k = 2, alpha 0.2 -> 0.3; expected
#: z = 0.68 sqrt(R), per-rep SDs 0.0069 and 0.0061) inconclusive in about 4% of runs; 100 make that 1e-4.
FULL_REPS = 100
COLOR = {"hard-argmax": "0.3", "erm-ts": plotting.COLORS[1], "mixup-ts": plotting.COLORS[0]}
MARKER = {"hard-argmax": "s", "erm-ts": "o", "mixup-ts": "^"}
LABEL = {"hard-argmax": "hard-argmax", "erm-ts": "ERM + TS", "mixup-ts": "Mixup + TS"}


# ------------------------------------------------------------------------------------ simulate


def simulate(p, states, backend):
    """One (k, alpha) cell: ``ece`` and ``beta`` (calibration_method, rep); reliability sums (calibration_method, rep, bin)."""
    out = simulate_calibration(states, k=p["k"], alpha=p["alpha"], n=p["n"], bandwidth=p["bandwidth"], backend=backend)
    coords = {"calibration_method": list(METHODS), "bin": np.arange(RELIABILITY_BINS)}
    ds = xr.Dataset(
        {
            "ece": (
                ("calibration_method", "rep"),
                out["ece"],
                {
                    "long_name": "population top-label ECE of the fitted model (1000 bins, exact test integral)",
                    "units": "1",
                },
            ),
            "beta": (
                ("calibration_method", "rep"),
                out["beta"],
                {"long_name": "fitted inverse temperature 1/T (NaN for hard-argmax)", "units": "1"},
            ),
            "bin_mass": (
                ("calibration_method", "rep", "bin"),
                out["bin_mass"],
                {"long_name": "test mass in each of 15 confidence bins", "units": "1"},
            ),
            "bin_confidence": (
                ("calibration_method", "rep", "bin"),
                out["bin_confidence"],
                {"long_name": "mass-weighted confidence summed over each of 15 bins", "units": "1"},
            ),
            "bin_accuracy": (
                ("calibration_method", "rep", "bin"),
                out["bin_accuracy"],
                {"long_name": "mass-weighted exact accuracy summed over each of 15 bins", "units": "1"},
            ),
        },
        coords=coords,
    )
    ds["bin"].attrs.update(long_name="reliability bin (15 equal-width confidence bins)", units="1")
    return ds


# -------------------------------------------------------------------------------------- theory


def _attrs(long_name, units="1", auxiliary=False):
    a = {"long_name": long_name, "units": units}
    if auxiliary:
        a["role"] = "auxiliary"
    return a


def theory(ds):
    """Exact zero-temperature ECEs, the erm-ts limit ECE_inf(β*) (asymptotic) and pooled reliability bins."""
    ks = [int(v) for v in ds["k"].values]
    alphas = [float(v) for v in ds["alpha"].values]
    shape = (len(ks), len(alphas))
    zero, erm0, beta_star, erm_inf = (np.empty(shape) for _ in range(4))
    for i, k in enumerate(ks):
        for j, a in enumerate(alphas):
            zero[i, j] = th.zero_temperature_ece(k, a)
            erm0[i, j] = th.erm_zero_temperature_ece(k, a)
            beta_star[i, j], erm_inf[i, j] = th.erm_limit(k, a)
    limit = np.stack([zero, erm_inf, np.zeros(shape)], axis=-1)
    coords = {"k": ds["k"], "alpha": ds["alpha"], "calibration_method": ds["calibration_method"]}
    out = xr.Dataset(coords=coords)
    out["ece_zero_temperature"] = xr.DataArray(
        zero, dims=("k", "alpha"), attrs=_attrs("exact zero-temperature limit alpha(1 - 1/k) (ECE of hard-argmax)")
    )
    out["ece_limit"] = xr.DataArray(
        limit,
        dims=("k", "alpha", "calibration_method"),
        attrs=_attrs(
            "limit ECE: hard-argmax alpha(1 - 1/k) exact; erm-ts ECE_inf(beta*) asymptotic, n -> inf; "
            "mixup-ts 0 asymptotic, n -> inf"
        ),
    )
    out["ece_limit_exact"] = xr.DataArray(
        np.broadcast_to(np.array([True, False, False]), limit.shape).copy(),
        dims=("k", "alpha", "calibration_method"),
        attrs=_attrs("whether ece_limit is exact at every n (else asymptotic)", auxiliary=True),
    )
    out["ece_erm_zero_temperature"] = xr.DataArray(
        erm0,
        dims=("k", "alpha"),
        attrs=_attrs("ECE of the interpolating ERM without temperature scaling, 1 - a1 (exact in expectation)"),
    )
    out["beta_limit"] = xr.DataArray(
        beta_star,
        dims=("k", "alpha"),
        attrs=_attrs(
            "limit inverse temperature beta* of erm-ts, argmin of the population NLL on [0, 1000] (asymptotic)"
        ),
    )
    mass = ds["bin_mass"].sum("rep")
    safe = mass.where(mass > 0)
    out["reliability_mass"] = (mass / ds.sizes["rep"]).assign_attrs(
        _attrs("test mass per 15-bin confidence bin, mean over reps", auxiliary=True)
    )
    out["reliability_confidence"] = (ds["bin_confidence"].sum("rep") / safe).assign_attrs(
        _attrs("mean confidence per bin (node weights pooled over reps)", auxiliary=True)
    )
    out["reliability_accuracy"] = (ds["bin_accuracy"].sum("rep") / safe).assign_attrs(
        _attrs("mean exact accuracy per bin (node weights pooled over reps)", auxiliary=True)
    )
    return out


# -------------------------------------------------------------------------------------- checks


def _where(k, a):
    return f"k={int(k)}, alpha={float(a):g}"


def checks(ds):
    """The five checks C1–C5."""
    reps = ds.sizes["rep"]
    if reps < 2:
        return [
            ck.condition(
                "reps",
                False,
                reps,
                2,
                "fewer than 2 replications: no Monte Carlo error",
                inconclusive=True,
                claim="enough replications to judge",
                direction=">=",
            )
        ]
    s = summarize(ds["ece"])
    mean, se = s["mean"], s["se"]
    out = []
    # C1: hard-argmax is exact
    dev = abs(mean.sel({"calibration_method": "hard-argmax"}) - ds["ece_zero_temperature"])
    worst = float(dev.max())
    out.append(
        ck.condition(
            "hard-argmax-exact",
            worst <= EXACT_TOL,
            worst,
            EXACT_TOL,
            f"max |mean ECE − α(1 − 1/k)| = {worst:.2g} over {dev.size} cells",
            claim="hard-argmax has ECE exactly α(1 − 1/k) (the zero-temperature limit)",
            statistic="max |mean − theory|",
        )
    )
    pos = ds["alpha"] > 0
    if not bool(pos.any()):
        out.append(
            ck.condition(
                "erm-ts-limit",
                False,
                float("nan"),
                1.0,
                "no cell with alpha > 0",
                inconclusive=True,
                claim="erm-ts reaches ECE_inf(β*)",
            )
        )
        out.append(
            ck.condition(
                "ts-vs-mixup",
                False,
                float("nan"),
                CLAIM_Z,
                "no cell with alpha > 0",
                inconclusive=True,
                claim="Mixup + TS is better calibrated than ERM + TS",
                direction=">=",
            )
        )
    else:
        out.append(_c2(ds, mean, se, pos))
        out.append(_c3(ds, pos))
    out.append(_c4(ds, mean, se))
    out.append(_c5(ds))
    return out


def _c2(ds, mean, se, pos):
    claim = "erm-ts stays at its derived limit ECE_inf(β*) (asymptotic in n)"
    m = mean.sel({"calibration_method": "erm-ts"}).where(pos, drop=True)
    e = se.sel({"calibration_method": "erm-ts"}).where(pos, drop=True)
    lim = ds["ece_limit"].sel({"calibration_method": "erm-ts"}).where(pos, drop=True)
    tol = 4 * e + ERM_ABS
    ratio = (abs(m - lim) / tol).transpose("k", "alpha")
    idx = np.unravel_index(int(np.argmax(ratio.values)), ratio.shape)
    kk, aa = ratio["k"].values[idx[0]], ratio["alpha"].values[idx[1]]
    worst = float(ratio.values[idx])
    detail = (
        f"worst of {ratio.size} cells at {_where(kk, aa)}: {float(m.sel(k=kk, alpha=aa)):.5f} ± "
        f"{float(e.sel(k=kk, alpha=aa)):.5f} vs limit {float(lim.sel(k=kk, alpha=aa)):.5f}"
    )
    stat = "worst |mean − ECE_inf| / (4 SE + 3e-4)"
    if worst > 1:
        return ck.condition("erm-ts-limit", False, worst, 1.0, detail, claim=claim, statistic=stat)
    weak = (tol > ERM_POWER * lim).transpose("k", "alpha")
    if bool(weak.any()):
        cells = [_where(weak["k"].values[i], weak["alpha"].values[j]) for i, j in zip(*np.nonzero(weak.values))]
        return ck.condition(
            "erm-ts-limit",
            False,
            worst,
            1.0,
            detail + f"; no power to see a 15% error at {', '.join(cells)} (more reps would decide)",
            inconclusive=True,
            claim=claim,
            statistic=stat,
        )
    return ck.condition("erm-ts-limit", True, worst, 1.0, detail, claim=claim, statistic=stat)


def _c3(ds, pos):
    claim = "the paper's claim: Mixup + TS is better calibrated than ERM + TS wherever classes overlap (α > 0)"
    d = (ds["ece"].sel({"calibration_method": "erm-ts"}) - ds["ece"].sel({"calibration_method": "mixup-ts"})).where(
        pos, drop=True
    )
    s = summarize(d)
    z = (s["mean"] / s["se"]).transpose("k", "alpha")
    idx = np.unravel_index(int(np.argmin(z.values)), z.shape)
    zmin = float(z.values[idx])
    detail = (
        f"min paired z over {z.size} cells: {zmin:.1f} at {_where(z['k'].values[idx[0]], z['alpha'].values[idx[1]])}"
        f" (mean gap {float(s['mean'].transpose('k', 'alpha').values[idx]):.4f})"
    )
    if zmin >= CLAIM_Z:
        return ck.condition(
            "ts-vs-mixup",
            True,
            zmin,
            CLAIM_Z,
            detail,
            claim=claim,
            direction=">=",
            statistic="min paired z of ECE(erm-ts) − ECE(mixup-ts)",
        )
    failed = bool((z <= -CLAIM_Z).any())
    return ck.condition(
        "ts-vs-mixup",
        False,
        zmin,
        CLAIM_Z,
        detail + ("" if failed else "; |z| < 3 somewhere: more reps or larger n would decide"),
        inconclusive=not failed,
        claim=claim,
        direction=">=",
        statistic="min paired z of ECE(erm-ts) − ECE(mixup-ts)",
    )


def _c4(ds, mean, se):
    claim = "temperature scaling degrades with overlap: erm-ts ECE moves with α as ECE_inf does (rises on the grid)"
    alphas = ds["alpha"].values
    zs, parts, undecided = [], [], False
    for k in ds["k"].values:
        for a1, a2 in zip(alphas[:-1], alphas[1:]):
            sign = np.sign(
                float(ds["ece_limit"].sel({"k": k, "alpha": a2, "calibration_method": "erm-ts"}))
                - float(ds["ece_limit"].sel({"k": k, "alpha": a1, "calibration_method": "erm-ts"}))
            )
            m1, m2 = (float(mean.sel({"k": k, "alpha": a, "calibration_method": "erm-ts"})) for a in (a1, a2))
            s1, s2 = (float(se.sel({"k": k, "alpha": a, "calibration_method": "erm-ts"})) for a in (a1, a2))
            z = sign * (m2 - m1) / np.hypot(s1, s2) if sign != 0 else 0.0
            undecided |= sign == 0
            zs.append(z)
            parts.append(f"k={int(k)}, α {a1:g}→{a2:g}: z={z:+.1f}")
    if not zs:
        return ck.condition(
            "ts-degrades-with-overlap",
            False,
            float("nan"),
            CLAIM_Z,
            "needs at least two alpha values",
            inconclusive=True,
            claim=claim,
            direction=">=",
        )
    zmin = min(zs)
    detail = "; ".join(parts)
    stat = "min z of the change in mean erm-ts ECE along α"
    if zmin >= CLAIM_Z and not undecided:
        return ck.condition(
            "ts-degrades-with-overlap", True, zmin, CLAIM_Z, detail, claim=claim, direction=">=", statistic=stat
        )
    failed = zmin <= -CLAIM_Z
    return ck.condition(
        "ts-degrades-with-overlap",
        False,
        zmin,
        CLAIM_Z,
        detail + ("" if failed else "; some pair with |z| < 3 (more reps would decide)"),
        inconclusive=not failed,
        claim=claim,
        direction=">=",
        statistic=stat,
    )


def _c5(ds):
    claim = "separable case (α = 0): every method is calibrated, ECE ≤ 1e-9"
    zero = ds["alpha"] == 0
    if not bool(zero.any()):
        return ck.condition(
            "separable-calibrated",
            False,
            float("nan"),
            EXACT_TOL,
            "no alpha = 0 cell in the grid",
            inconclusive=True,
            claim=claim,
        )
    worst = float(ds["ece"].where(zero, drop=True).max())
    return ck.condition(
        "separable-calibrated",
        worst <= EXACT_TOL,
        worst,
        EXACT_TOL,
        f"max ECE over methods, reps and k at alpha = 0: {worst:.2g}",
        claim=claim,
        statistic="max ECE at α = 0",
    )


# ---------------------------------------------------------------------------------------- plot


def _reliability_k(ks):
    return 10 if 10 in ks else ks[len(ks) // 2]


def plot(ds):
    """ECE against α per k (theory lines over the simulation); reliability diagram at k = 10, largest α."""
    ks = [int(v) for v in ds["k"].values]
    alphas = ds["alpha"].values.astype(float)
    fine = np.linspace(0.0, max(float(alphas.max()), 1e-3), 61)
    npan = len(ks) + 1
    ncols = min(3, npan)
    nrows = int(np.ceil(npan / ncols))
    fig, axes = plotting.figure(
        nrows,
        ncols,
        width=3.0,
        height=2.6,
        title=(
            rf"Temperature scaling vs Mixup on overlapping classes: $n={int(ds.attrs['n'])}$ per cluster, "
            rf"$h={float(ds.attrs['bandwidth']):g}$ ({ds.sizes['rep']} reps)"
        ),
    )
    flat = list(axes.flat)
    for ax, k in zip(flat, ks):
        sel = ds.sel(k=k)
        erm_curve = [th.erm_limit(k, a)[1] for a in fine]
        plotting.theory_line(
            ax,
            fine,
            fine * (1 - 1 / k),
            color=COLOR["hard-argmax"],
            var="ece_zero_temperature",
            linestyle="-",
            label=r"exact $\alpha(1-1/k)$",
        )
        plotting.theory_line(
            ax,
            fine,
            [th.erm_zero_temperature_ece(k, a) for a in fine],
            color=COLOR["erm-ts"],
            var="ece_erm_zero_temperature",
            linestyle=(0, (1.2, 1.6)),
            label=r"ERM, no TS: $1-a_1$ (exact)",
        )
        plotting.theory_line(
            ax,
            fine,
            erm_curve,
            color=COLOR["erm-ts"],
            var="ece_limit",
            label=r"ERM + TS limit $\mathrm{ECE}_\infty(\beta^*)$ (asymptotic)",
        )
        plotting.theory_hline(
            ax, 0.0, color=COLOR["mixup-ts"], var="ece_limit", linestyle="--", label=r"Mixup + TS limit 0 (asymptotic)"
        )
        for m in METHODS:
            plotting.points(
                ax,
                alphas,
                sel["ece"].sel({"calibration_method": m}),
                color=COLOR[m],
                marker=MARKER[m],
                var="ece",
                label=f"{LABEL[m]}: simulation ± 95% CI",
                markersize=5.5 if m == "hard-argmax" else 4,
            )
        ax.set(xlabel=r"label noise $\alpha$", ylabel="ECE", title=rf"$k = {k}$")
    # reliability diagram
    bx = flat[len(ks)]
    kr = _reliability_k(ks)
    ar = float(alphas.max())
    q, _ = th.label_probabilities(kr, ar)
    sel = ds.sel(k=kr, alpha=ar)
    bx.plot([0, 1], [0, 1], color="0.6", linewidth=0.9, zorder=1, gid="ref:diagonal")
    for m in ("erm-ts", "mixup-ts"):
        mass = sel["reliability_mass"].sel({"calibration_method": m}).values
        keep = mass > 1e-4
        conf = sel["reliability_confidence"].sel({"calibration_method": m}).values[keep]
        acc = sel["reliability_accuracy"].sel({"calibration_method": m}).values[keep]
        art = bx.scatter(
            conf,
            acc,
            s=8 + 400 * mass[keep],
            color=COLOR[m],
            alpha=0.75,
            marker=MARKER[m],
            zorder=plotting.SIM_Z,
            linewidths=0,
        )
        art.set_gid("sim:ece")
    if ar > 0:
        b = float(sel["beta_limit"])
        ms, a_s, md, a_d = th.segment_statistics(kr, ar)
        ps = float(th.confidence_same(b, kr))
        pdh = float(th.confidence_different(0.5, b, kr))
        plotting.theory_line(
            bx,
            [pdh, ps],
            [a_d, a_d],
            color=COLOR["erm-ts"],
            var="beta_limit",
            linestyle="-",
            label=r"ERM + TS limit: flat $a_D$, point $(p_S, a_S)$",
        )
        plotting.theory_points(bx, [ps], [a_s], color=COLOR["erm-ts"], var="beta_limit")
    plotting.theory_points(
        bx,
        [1.0],
        [q],
        color=COLOR["hard-argmax"],
        var="ece_zero_temperature",
        marker="s",
        label=r"hard-argmax $(1, q)$",
    )
    bx.set(
        xlim=(0, 1.03),
        ylim=(0, 1.03),
        xlabel="confidence",
        ylabel="accuracy",
        title=rf"reliability, $k={kr}$, $\alpha={ar:g}$",
    )
    bx.text(0.98, 0.03, "15 bins, area ∝ mass", transform=bx.transAxes, ha="right", va="bottom", fontsize=7)
    for ax in flat[npan:]:
        ax.set_visible(False)
    plotting.legend(fig, where="below", axes=flat[:npan], ncol=3)
    return fig


# ----------------------------------------------------------------------------------------- study


def validate_cell(p):
    """k ≥ 2 integer, alpha in [0, 1), n ≥ 2, bandwidth in (0, 1/2)."""
    th.check_k(p["k"])
    th.check_alpha(p["alpha"])
    if p["n"] < 2:
        raise ParameterError(f"n must be an integer >= 2 (points per cluster), got {p['n']}")
    check_bandwidth(p["bandwidth"])


PARAMS = (
    Param("k", int, "number of classes (one cluster each)", low=2, units="1"),
    Param(
        "alpha",
        float,
        "label-noise rate (overlap): label uniform with probability alpha",
        low=0,
        high=1,
        high_inclusive=False,
        units="1",
    ),
    Param("n", int, "training and calibration points per cluster", low=2, units="1"),
    Param(
        "bandwidth",
        float,
        "Mixup pair bandwidth h (< the gap 1/2 between clusters)",
        low=0,
        high=0.5,
        low_inclusive=False,
        high_inclusive=False,
        units="x",
    ),
)


def calibration_memory(p):
    """Bytes one replication needs: see :func:`simkit.shift_preferences.calibration.simulate_calibration`."""
    k, n = p["k"], p["n"]
    nodes = k * (n + 1) * NODES_PER_PIECE
    # the NumPy path evaluates the Mixup target on chunks of clusters of about 2e5 nodes
    chunk = min(k, max(1, 200_000 // ((n + 1) * NODES_PER_PIECE))) * (n + 1) * NODES_PER_PIECE
    return 8.0 * (14.0 * nodes + 2.0 * chunk * k + 12.0 * k * k * n + 16.0 * k * n)


STUDY = Study(
    name="calibration-overlap",
    title="Temperature scaling cannot calibrate an interpolator on overlapping classes; Mixup can",
    paper=PAPER,
    family="shift_preferences",
    teaching=TEACHING,
    params=PARAMS,
    grid={"k": (2, 5, 10, 20), "alpha": (0.0, 0.1, 0.2, 0.3)},
    settings={"n": 1000, "bandwidth": 0.2},
    reps=FULL_REPS,
    quick_grid={"k": (2, 10), "alpha": (0.0, 0.1, 0.3)},
    quick_settings={"n": 200, "bandwidth": 0.2},
    quick_reps=32,
    # the k (n + 1) 32 exact test nodes (positions, weights, confidences, ...) and the Mixup target's class
    # probabilities over a chunk of clusters' nodes (nodes × k), the k × n × k Mixup pair sums
    memory=calibration_memory,
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    validate_cell=validate_cell,
)
