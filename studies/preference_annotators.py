"""preference-annotators: Bradley–Terry reward learning is density estimation; annotator misspecification.

Dumoulin, Johnson, Castro, Larochelle, Dauphin, arXiv:2311.14115; the formulas are in
:mod:`simkit.shift_preferences.annotators_theory`.  One cell per annotator; every comparison budget ``n`` is evaluated
inside the cell (an independent data set per ``n``, drawn by the count fast path).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.errors import ParameterError
from simkit.shift_preferences import annotators_theory as th
from simkit.shift_preferences.annotators import simulate_annotators
from simkit.stats import summarize
from simkit.study import Param, Study

TEACHING = """\
A Bradley–Terry reward model fitted to pairwise choices is a density estimator. For a Luce
annotator, softmax of the learned reward converges to the annotator's implicit preference
distribution p*, with KL falling like c/n. What is misspecified here is the annotator model: if the
annotator is more or less decisive than the Luce rule (tempered-2, tempered-0.5), or its noise is
Gaussian rather than logistic (probit), the same learner converges to another density p∞, the BT
projection (p*², √p*, a slightly sharpened p*), and KL(p*‖p̂) stops at the floor KL(p*‖p∞) while
KL(p∞‖p̂) still falls like c_proj/n. Pooling two groups with opposite tastes (mixture) is worse: the
fitted density peaks at the compromise items, where the population's own density is lowest, and
matches neither group nor their mixture. Recording who answered and fitting one model per group
(mixture-ids) recovers the mixture, at the cost of extra variance when comparisons are few: below
n× ≈ 234 comparisons it is the worse learner.
What to look at: kl_truth on its floor + c_truth/n line (top left), n·kl_projection levelling off at
c_proj (top right; above it at small n, the finite-n gap), and the learned densities on p∞, not p*
(bottom). The annotators, rewards, learner (ridge-MAP BT, λ = 0.1, uniform pairs) and every formula
(limits exact, 1/n coefficients asymptotic) are our own illustration of the paper's claim, derived
from its abstract; only the abstract and the authors' notebook were available."""

PAPER = (
    "Dumoulin, Johnson, Castro, Larochelle, Dauphin, A density estimation perspective on learning from "
    "pairwise human preferences, arXiv:2311.14115 (2023)"
)

#: Bands on |z|: pass if ≤ PASS_Z, inconclusive if ≤ FAIL_Z, else fail.
PASS_Z, FAIL_Z = 4.0, 6.0
#: Theory checks use n ≥ CHECK_N_PER_ITEM · K (measured second-order error < 6K/n).
CHECK_N_PER_ITEM = 1000
SINGLE = ("luce", "tempered-2", "tempered-0.5", "probit")
WELL_SPECIFIED = ("luce", "mixture-ids")
MISSPECIFIED = ("tempered-2", "tempered-0.5", "probit", "mixture")
COLOR = dict(zip(th.ANNOTATORS, plotting.COLORS))
MARKER = dict(zip(th.ANNOTATORS, ("o", "s", "^", "v", "D", "P")))

FULL_N = (100, 300, 1000, 3000, 10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6)
QUICK_N = (100, 1000, 10**4, 10**5, 10**6)


# ------------------------------------------------------------------------------------ simulate


def simulate(p, states, backend):
    """One annotator: ``kl_truth``, ``kl_projection``, ``mle_exists`` (n, rep) and ``density`` (n, rep, item)."""
    K = p["K"]
    n = tuple(int(v) for v in p["n"])
    out = simulate_annotators(states, K=K, annotator=p["annotator"], n=n, backend=backend)
    coords = {"n": list(n), "item": np.arange(K)}
    ds = xr.Dataset(
        {
            "kl_truth": (
                ("n", "rep"),
                out["kl_truth"],
                {"long_name": "KL(p*‖p̂): learned density against the annotator's implicit density", "units": "nats"},
            ),
            "kl_projection": (
                ("n", "rep"),
                out["kl_projection"],
                {"long_name": "KL(p∞‖p̂): learned density against the BT projection p∞", "units": "nats"},
            ),
            "density": (
                ("n", "rep", "item"),
                out["density"],
                {
                    "long_name": "learned density p̂ = softmax(θ̂) (mixture-ids: ½ softmax θ̂_A + ½ softmax θ̂_B)",
                    "units": "1",
                },
            ),
            "mle_exists": (
                ("n", "rep"),
                out["mle_exists"],
                {"long_name": "unpenalised BT MLE exists (the 'i beat j' digraph is strongly connected)", "units": "1"},
            ),
        },
        coords=coords,
    )
    ds.attrs.update(
        ridge=th.RIDGE,
        probit_scale=th.PROBIT_SCALE,
        reward_single="r*_k = -3 (x_k - 1/4)^2",
        reward_groups="r^A_k = -4 (x_k - 0.6)^2, r^B_k = -4 (x_k + 0.6)^2",
        pairs="uniform over the K(K-1)/2 unordered pairs",
    )
    ds = ds.assign_coords(x=("item", th.items(K)))
    ds["x"].attrs.update(long_name="item position x_k", units="1")
    ds["n"].attrs.update(long_name="comparisons n", units="1")
    return ds


# -------------------------------------------------------------------------------------- theory


def _attrs(long_name, units="nats", auxiliary=False):
    a = {"long_name": long_name, "units": units}
    if auxiliary:
        a["role"] = "auxiliary"
    return a


def theory(ds):
    """Floors (exact), first-order KL curves (asymptotic), limit densities and replication summaries."""
    K = int(ds.attrs["K"])
    ann = [str(a) for a in ds["annotator"].values]
    n = ds["n"].values.astype(float)
    theo = [th.annotator_theory(K, a) for a in ann]
    floor = np.array([t.floor for t in theo])
    c_proj = np.array([t.c_proj for t in theo])
    c_truth = np.array([t.c_truth for t in theo])
    coords_a = {"annotator": ds["annotator"]}
    out = xr.Dataset(coords={"annotator": ds["annotator"], "n": ds["n"], "item": ds["item"], "group": ["A", "B"]})
    out["kl_truth_theory"] = xr.DataArray(
        floor[:, None] + c_truth[:, None] / n[None],
        dims=("annotator", "n"),
        attrs=_attrs("E KL(p*‖p̂) = KL(p*‖p∞) + c_truth/n (asymptotic, first order in 1/n)"),
    )
    out["kl_projection_theory"] = xr.DataArray(
        c_proj[:, None] / n[None],
        dims=("annotator", "n"),
        attrs=_attrs("E KL(p∞‖p̂) = c_proj/n (asymptotic, first order in 1/n)"),
    )
    out["kl_truth_limit"] = xr.DataArray(
        floor, dims="annotator", coords=coords_a, attrs=_attrs("floor KL(p*‖p∞) (exact)")
    )
    out["c_proj"] = xr.DataArray(
        c_proj, dims="annotator", attrs=_attrs("c_proj = ½ tr(F V) (asymptotic coefficient)", "nats", True)
    )
    out["c_truth"] = xr.DataArray(
        c_truth, dims="annotator", attrs=_attrs("c_truth = c_proj + (p∞ − p*)ᵀβ (asymptotic coefficient)", "nats", True)
    )
    out["kl_projection_sd_theory"] = xr.DataArray(
        np.array([t.sd_n_kl_projection for t in theo])[:, None] / n[None],
        dims=("annotator", "n"),
        attrs=_attrs("SD of KL(p∞‖p̂): √(½ tr((FV)²))/n (asymptotic)", "nats", True),
    )
    out["density_truth"] = xr.DataArray(
        np.stack([t.density_truth for t in theo]),
        dims=("annotator", "item"),
        attrs=_attrs("target density p* (exact)", "1"),
    )
    out["density_limit"] = xr.DataArray(
        np.stack([t.density_limit for t in theo]),
        dims=("annotator", "item"),
        attrs=_attrs("limit density p∞ = softmax(θ∞), the BT projection (exact)", "1"),
    )
    out["density_group"] = xr.DataArray(
        th.group_densities(K), dims=("group", "item"), attrs=_attrs("group densities p_A, p_B (exact)", "1")
    )
    s = summarize(ds["density"])
    out["density_mean"] = s["mean"].assign_attrs(_attrs("replication mean of the learned density p̂", "1", True))
    out["density_sd"] = (
        ds["density"].std("rep", ddof=1).assign_attrs(_attrs("replication SD of the learned density p̂", "1", True))
    )
    out["no_mle_fraction"] = (1.0 - ds["mle_exists"].astype(float).mean("rep")).assign_attrs(
        _attrs("fraction of replications where the unpenalised BT MLE does not exist", "1", True)
    )
    has_mix = {"mixture", "mixture-ids"} <= set(ann)
    out["crossover_n"] = xr.DataArray(
        th.crossover_n(K) if has_mix else np.nan,
        attrs=_attrs(
            "first-order crossover n× = (c_ids − c_truth,mixture)/floor_mixture (asymptotic)", "comparisons", True
        ),
    )
    return out


# -------------------------------------------------------------------------------------- checks


def _band(z):
    """pass / inconclusive / fail for a worst |z| (the bands above)."""
    return z <= PASS_Z, PASS_Z < z <= FAIL_Z


def _zcheck(name, claim, z, where, extra=""):
    if z.size == 0 or not np.all(np.isfinite(z)):
        return ck.condition(
            name,
            False,
            float("nan"),
            PASS_Z,
            "no checkable points (need n ≥ 1000·K and ≥ 2 reps)" + extra,
            inconclusive=True,
            claim=claim,
            statistic="max |z|",
        )
    i = int(np.argmax(np.abs(z)))
    worst = float(np.abs(z[i]))
    passed, inconcl = _band(worst)
    detail = f"max |z| {worst:.2f} of {z.size} points at {where[i]}" + extra
    if inconcl:
        detail += "; 4 < |z| ≤ 6: rerun with more reps or larger n to decide"
    return ck.condition(name, passed, worst, PASS_Z, detail, inconclusive=inconcl, claim=claim, statistic="max |z|")


def _mean_se(da):
    s = summarize(da)
    return s["mean"], s["se"]


def checks(ds):
    """The eight checks (pass / fail / inconclusive)."""
    K = int(ds.attrs["K"])
    reps = ds.sizes["rep"]
    ann = [str(a) for a in ds["annotator"].values]
    n = ds["n"].values.astype(int)
    nchk = n[n >= CHECK_N_PER_ITEM * K]
    nmax = int(n.max())
    out = []
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

    # 1, 2: first-order KL curves at n ≥ 1000 K
    for var, claim in (
        ("kl_projection", "E KL(p∞‖p̂) = c_proj/n for every annotator (n ≥ 1000K)"),
        ("kl_truth", "E KL(p*‖p̂) = KL(p*‖p∞) + c_truth/n for every annotator (n ≥ 1000K)"),
    ):
        sel = ds[var].sel(n=nchk)
        m, se = _mean_se(sel)
        z = ((m - ds[var + "_theory"].sel(n=nchk)) / se).transpose("annotator", "n")
        where = [
            f"annotator={a}, n={v}: sim {float(m.sel(annotator=a, n=v)):.5g} vs theory "
            f"{float(ds[var + '_theory'].sel(annotator=a, n=v)):.5g}"
            for a in ann
            for v in nchk
        ]
        out.append(_zcheck(f"{var}-first-order", claim, z.values.ravel(), where))

    # 3: learned density mean = p∞ at n_max
    if nmax >= CHECK_N_PER_ITEM * K:
        mean = ds["density_mean"].sel(n=nmax)
        se = ds["density_sd"].sel(n=nmax) / np.sqrt(reps)
        z = ((mean - ds["density_limit"]) / se).transpose("annotator", "item")
        where = [f"annotator={a}, item={k}" for a in ann for k in range(K)]
        out.append(
            _zcheck(
                "density-limit",
                f"mean learned density at n_max = {nmax} equals p∞ (every item)",
                z.values.ravel(),
                where,
            )
        )
    else:
        out.append(
            ck.condition(
                "density-limit",
                False,
                float("nan"),
                PASS_Z,
                f"n_max = {nmax} < 1000·K: the O(1/n) bias is not negligible; use n_max ≥ {1000 * K}",
                inconclusive=True,
                claim="mean learned density at n_max equals p∞",
                statistic="max |z|",
            )
        )

    # 4: well-specified learners are consistent
    out.append(_consistent(ds, ann, nchk))
    # 5: misspecified learners floor
    out.append(_floors(ds, ann, nmax))
    # 6, 7: the pooled density
    if "mixture" in ann and nmax >= CHECK_N_PER_ITEM * K:
        out.extend(_pooled(ds, K, nmax))
    # 8: identities fix it, at a price
    if {"mixture", "mixture-ids"} <= set(ann):
        out.append(_identities(ds, n, nmax))
    return out


def _consistent(ds, ann, nchk):
    claim = "well-specified learners (luce, mixture-ids) are consistent: n·E kl_truth stays at its 1/n level"
    cells = [a for a in WELL_SPECIFIED if a in ann]
    if not cells or nchk.size < 2:
        return ck.condition(
            "well-specified-consistent",
            False,
            float("nan"),
            PASS_Z,
            "needs luce or mixture-ids and two grid n ≥ 1000·K",
            inconclusive=True,
            claim=claim,
            statistic="one-sided z of ρ − 1",
        )
    n0, n1 = int(nchk.min()), int(nchk.max())
    zs, parts = [], []
    for a in cells:
        m0, s0 = (float(v) for v in _mean_se(ds["kl_truth"].sel(annotator=a, n=n0)))
        m1, s1 = (float(v) for v in _mean_se(ds["kl_truth"].sel(annotator=a, n=n1)))
        rho = n1 * m1 / (n0 * m0)
        se = rho * np.hypot(s1 / m1, s0 / m0)
        zs.append((rho - 1) / se)
        parts.append(f"{a}: ρ = {rho:.4f} ± {se:.4f} (z = {zs[-1]:+.2f})")
    z = max(zs)
    passed, inconcl = _band(z)
    detail = f"ρ = n_max·m(n_max)/(n₀·m(n₀)), n₀ = {n0}, n_max = {n1}: " + "; ".join(parts)
    if inconcl:
        detail += "; 4 < z ≤ 6: rerun with more reps"
    return ck.condition(
        "well-specified-consistent",
        passed,
        z,
        PASS_Z,
        detail,
        inconclusive=inconcl,
        claim=claim,
        statistic="max one-sided z of ρ − 1",
    )


def _floors(ds, ann, nmax):
    claim = "misspecified learners floor: mean kl_truth at n_max exceeds ten times the estimation error c_proj/n_max"
    cells = [a for a in MISSPECIFIED if a in ann]
    if not cells:
        return ck.condition(
            "misspecified-floor",
            False,
            float("nan"),
            1.0,
            "no misspecified annotator in the grid",
            inconclusive=True,
            claim=claim,
            direction=">=",
        )
    ratios, parts, fails, unpowered = [], [], [], []
    for a in cells:
        m, se = (float(v) for v in _mean_se(ds["kl_truth"].sel(annotator=a, n=nmax)))
        cp = float(ds["c_proj"].sel(annotator=a))
        floor = float(ds["kl_truth_limit"].sel(annotator=a))
        bound = 10 * cp / nmax
        ratios.append((m - 4 * se) / bound)
        parts.append(f"{a}: {m:.4g} − 4·{se:.2g} vs 10·c_proj/n_max = {bound:.3g} (floor {floor:.4g})")
        if floor < 20 * cp / nmax:
            unpowered.append(a)
        elif ratios[-1] <= 1:
            fails.append(a)
    value = min(ratios)
    detail = "; ".join(parts)
    if fails:
        return ck.condition(
            "misspecified-floor",
            False,
            value,
            1.0,
            detail + f"; no floor for {', '.join(fails)}",
            claim=claim,
            direction=">=",
            statistic="min (m − 4 SE)/(10 c_proj/n_max)",
        )
    if unpowered:
        need = max(
            20 * float(ds["c_proj"].sel(annotator=a)) / float(ds["kl_truth_limit"].sel(annotator=a)) for a in unpowered
        )
        return ck.condition(
            "misspecified-floor",
            False,
            value,
            1.0,
            detail + f"; grid too short for {', '.join(unpowered)}: needs n_max ≥ {need:.3g}",
            inconclusive=True,
            claim=claim,
            direction=">=",
            statistic="min (m − 4 SE)/(10 c_proj/n_max)",
        )
    return ck.condition(
        "misspecified-floor",
        True,
        value,
        1.0,
        detail,
        claim=claim,
        direction=">=",
        statistic="min (m − 4 SE)/(10 c_proj/n_max)",
    )


def _pooled(ds, K, nmax):
    mean = ds["density_mean"].sel(annotator="mixture", n=nmax).transpose("item").values
    groups = th.group_densities(K)
    kls = th.kl_divergence(groups, mean[None])
    out = [
        ck.condition(
            "no-group-holds-pooled",
            bool(np.all(kls >= 0.25)),
            float(kls.min()),
            0.25,
            f"KL(p_A‖p̂) = {kls[0]:.4f}, KL(p_B‖p̂) = {kls[1]:.4f} at n_max = {nmax} (theory "
            f"{float(th.kl_divergence(groups[0], ds['density_limit'].sel(annotator='mixture').values)):.4f})",
            claim="no group holds the pooled density: KL(p_g‖pooled p̂) ≥ 0.25 nats for both groups",
            direction=">=",
            statistic="min_g KL(p_g‖density_mean[mixture, n_max])",
        )
    ]
    claim = "the pooled mode is a compromise: the pooled fit peaks at an item that is neither group's mode"
    modes = set(int(k) for k in np.argmax(groups, axis=1))
    limit_mode = int(np.argmax(ds["density_limit"].sel(annotator="mixture").values))
    if limit_mode in modes:
        out.append(
            ck.condition(
                "pooled-mode-compromise",
                False,
                float("nan"),
                PASS_Z,
                "n/a: argmax p∞ is a group mode at this K",
                inconclusive=True,
                claim=claim,
                direction=">=",
                statistic="z",
            )
        )
        return out
    k_hat = int(np.argmax(mean))
    g_star = max(modes, key=lambda k: mean[k])
    per_rep = ds["density"].sel(annotator="mixture", n=nmax)
    diff = per_rep.isel(item=k_hat) - per_rep.isel(item=g_star)
    m, se = (float(v) for v in _mean_se(diff))
    z = m / se if se > 0 else (np.inf if m > 0 else -np.inf)
    passed = k_hat not in modes and z > PASS_Z
    out.append(
        ck.condition(
            "pooled-mode-compromise",
            passed,
            z,
            PASS_Z,
            f"argmax pooled p̂ = item {k_hat} (group modes {sorted(modes)}); margin over item {g_star}: {m:.4f} ± {se:.2g}",
            claim=claim,
            direction=">=",
            statistic="z of p̂[k̂] − max_g p̂[mode_g]",
        )
    )
    return out


def _identities(ds, n, nmax):
    claim = (
        "identities fix it, at a price: mixture-ids beats the pooled fit for n ≥ 4n× (ratio ≤ 0.05 at n_max) "
        "and loses for n ≤ n×/2"
    )
    nx = float(ds["crossover_n"])
    m_ids, s_ids = _mean_se(ds["kl_truth"].sel(annotator="mixture-ids"))
    m_mix, s_mix = _mean_se(ds["kl_truth"].sel(annotator="mixture"))
    z = ((m_ids - m_mix) / np.hypot(s_ids, s_mix)).values
    ratio = (m_ids / m_mix).values
    large = n >= 4 * nx
    small = n <= nx / 2
    parts = [f"n× = {nx:.0f}"]
    fail1 = (not large.any()) or np.any(z[large] >= -PASS_Z) or ratio[n == nmax][0] > 0.05
    parts.append(
        "n ≥ 4n×: "
        + (
            ", ".join(f"n={v}: z={zz:+.1f}, ratio {r:.3g}" for v, zz, r in zip(n[large], z[large], ratio[large]))
            or "none"
        )
    )
    if small.any():
        fail2 = np.any(z[small] <= PASS_Z)
        parts.append(
            "n ≤ n×/2: "
            + ", ".join(f"n={v}: z={zz:+.1f}, ratio {r:.3g}" for v, zz, r in zip(n[small], z[small], ratio[small]))
        )
    else:
        fail2 = False
        parts.append("n ≤ n×/2: no grid point (second part inconclusive)")
    value = float(np.min(-z[large])) if large.any() else float("nan")
    detail = "; ".join(parts)
    if fail1 or fail2:
        return ck.condition(
            "identities-fix-at-a-price",
            False,
            value,
            PASS_Z,
            detail,
            claim=claim,
            direction=">=",
            statistic="min −z(m_ids − m_mixture) at n ≥ 4n×",
        )
    return ck.condition(
        "identities-fix-at-a-price",
        bool(small.any()),
        value,
        PASS_Z,
        detail,
        inconclusive=not small.any(),
        claim=claim,
        direction=">=",
        statistic="min −z(m_ids − m_mixture) at n ≥ 4n×",
    )


# ---------------------------------------------------------------------------------------- plot


def _label(a):
    return {
        "luce": "Luce",
        "tempered-2": "tempered ×2",
        "tempered-0.5": "tempered ×½",
        "probit": "probit",
        "mixture": "pooled mixture",
        "mixture-ids": "mixture with ids",
    }[a]


def _tex(v):
    e = int(np.floor(np.log10(v)))
    m = v / 10**e
    return rf"10^{{{e}}}" if m == 1 else rf"{m:g}\cdot 10^{{{e}}}"


def plot(ds):
    """kl_truth and n·kl_projection against n; learned densities at n_max against p∞ and p*."""
    ann = [str(a) for a in ds["annotator"].values]
    n = ds["n"].values.astype(float)
    nmax = int(n.max())
    fine = np.geomspace(n.min(), n.max(), 200)
    x = ds["x"].values
    fig, axes = plotting.figure(
        2,
        2,
        width=3.7,
        height=2.7,
        title=(
            rf"Bradley–Terry fits as density estimation, $K={int(ds.attrs['K'])}$ items, "
            rf"ridge $\lambda={th.RIDGE:g}$ ({ds.sizes['rep']} reps)"
        ),
    )
    ax, bx = axes[0]
    cx, dx = axes[1]
    for a in ann:
        c = COLOR[a]
        plotting.points(
            ax, n, ds["kl_truth"].sel(annotator=a), color=c, marker=MARKER[a], var="kl_truth", label=_label(a)
        )
        floor = float(ds["kl_truth_limit"].sel(annotator=a))
        plotting.theory_line(
            ax,
            fine,
            floor + float(ds["c_truth"].sel(annotator=a)) / fine,
            color=c,
            var="kl_truth_theory",
            label=f"{_label(a)}, theory",
        )
        if floor > 1e-12:
            plotting.theory_hline(ax, floor, color=c, var="kl_truth_limit")
        plotting.points(
            bx, n, n[:, None] * ds["kl_projection"].sel(annotator=a), color=c, marker=MARKER[a], var="kl_projection"
        )
        plotting.theory_hline(
            bx, float(ds["c_proj"].sel(annotator=a)), color=c, var="kl_projection_theory", linestyle="--"
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"comparisons $n$",
        ylabel=r"$\mathrm{KL}(p^*\|\hat p)$ (nats)",
        title=r"dotted: floors $\mathrm{KL}(p^*\|p_\infty)$",
    )
    bx.set(
        xscale="log",
        xlabel=r"comparisons $n$",
        ylabel=r"$n\,\mathrm{KL}(p_\infty\|\hat p)$",
        title=r"dashed: $c_{\mathrm{proj}}$",
    )
    # densities at n_max
    single = [a for a in ann if a in SINGLE]
    if single:
        plotting.theory_line(
            cx,
            x,
            ds["density_truth"].sel(annotator=single[0]).values,
            color="black",
            var="density_truth",
            label=r"$p^*$ (Luce target)",
            linestyle="-",
        )
    for a in single:
        c = COLOR[a]
        plotting.points(
            cx, x, ds["density"].sel(annotator=a, n=nmax), color=c, marker=MARKER[a], var="density", markersize=5
        )
        plotting.theory_line(cx, x, ds["density_limit"].sel(annotator=a).values, color=c, var="density_limit")
    cx.set(xlabel=r"item position $x_k$", ylabel=r"density", title=rf"single annotators, $n = {_tex(nmax)}$")
    plotting.legend(
        fig,
        where="below",
        axes=[ax, cx],
        ncol=4,
        title="markers: simulation mean ± 95% CI; dark dashed lines: theory (first order in 1/n)",
    )
    groups = ds["density_group"].transpose("group", "item").values
    for g, style in zip(range(2), ((0, (1, 1.5)), (0, (3, 1.5, 1, 1.5)))):
        plotting.theory_line(
            dx,
            x,
            groups[g],
            color="0.35",
            var="density_group",
            linestyle=style,
            label=rf"$p_{'AB'[g]}$ (group {'AB'[g]})",
        )
    mix = [a for a in ann if a.startswith("mixture")]
    if mix:
        plotting.theory_line(
            dx,
            x,
            ds["density_truth"].sel(annotator=mix[0]).values,
            color="black",
            var="density_truth",
            label=r"$p^* = \frac{1}{2}p_A + \frac{1}{2}p_B$",
            linestyle="-",
        )
    for a in mix:
        c = COLOR[a]
        plotting.points(
            dx, x, ds["density"].sel(annotator=a, n=nmax), color=c, marker=MARKER[a], var="density", markersize=6
        )
        if a == "mixture":
            plotting.theory_line(
                dx,
                x,
                ds["density_limit"].sel(annotator=a).values,
                color=c,
                var="density_limit",
                label=r"pooled limit $p_\infty$",
            )
    dx.set(xlabel=r"item position $x_k$", ylabel="density", title=rf"two groups, $n = {_tex(nmax)}$")
    plotting.legend(dx, where="right")
    return fig


# ----------------------------------------------------------------------------------------- study


def validate_cell(p):
    """``K`` in [3, 50]; every ``n`` in [1, 10⁹] (declared bounds do the rest)."""
    if not (3 <= p["K"] <= 50):
        raise ParameterError(f"K must be an integer in [3, 50], got {p['K']}")


PARAMS = (
    Param("K", int, "number of items (3 ≤ K ≤ 50)", low=3, high=50, units="1"),
    Param("n", int, "comparisons per data set (strictly increasing list)", low=1, high=10**9, units="1"),
    Param("annotator", str, "annotator model", choices=th.ANNOTATORS),
)

STUDY = Study(
    name="preference-annotators",
    title="Bradley–Terry reward learning is density estimation: misspecified annotators converge to the BT projection",
    paper=PAPER,
    family="shift_preferences",
    teaching=TEACHING,
    params=PARAMS,
    grid={"annotator": th.ANNOTATORS, "n": FULL_N},
    settings={"K": 10},
    reps=10000,
    quick_grid={"annotator": th.ANNOTATORS, "n": QUICK_N},
    quick_settings={"K": 10},
    quick_reps=400,
    # per comparison count n: the K × K win counts of each annotator group and the Newton fits' K × K Hessians
    memory=lambda p: 8.0 * len(p["n"]) * (30.0 * p["K"] ** 2 + 60.0 * p["K"]),
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    validate_cell=validate_cell,
    inner=("n",),
)
