"""The figure and the check claims shared by irl-discount and irl-dynamics (not a study: the registry skips
``_`` modules)."""

from __future__ import annotations

import numpy as np

from simkit import plotting
from simkit.irl.study_support import METHOD_LABELS

#: Markers per method: the exact methods often coincide at 0, so the one drawn first is the largest.
MARKERS = {"mce": "s", "boltzmann": "o", "worst_case": "o", "mce_irl": "o"}
SIZES = {"mce": 6.0, "boltzmann": 3.5}

METRICS = (("starc", "STARC-VAL distance"), ("epic", "EPIC distance"), ("regret", "normalised regret"))


def symlog_ticks(ax, x, linthresh):
    """Ticks of a symlog x axis at 0 and ±10^k inside the data, thinned so that labels cannot collide."""
    x = np.asarray(x, dtype=float)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    decades = [10.0**k for k in range(int(np.floor(np.log10(linthresh))), 2)]
    neg = [-d for d in decades if -d >= lo * 1.0001 - 1e-15]
    pos = [d for d in decades if d <= hi * 1.0001 + 1e-15]
    keep = 2  # labels per side: more would not fit a 3-inch panel
    step_n, step_p = max(1, int(np.ceil(len(neg) / keep))), max(1, int(np.ceil(len(pos) / keep)))
    neg, pos = neg[::-1][::step_n][::-1] if neg else [], pos[::step_p]
    ticks = sorted(set(neg + ([0.0] if lo <= 0 <= hi else []) + pos))

    def label(v):
        if v == 0:
            return "0"
        k = int(round(np.log10(abs(v))))
        return f"$-10^{{{k}}}$" if v < 0 else f"$10^{{{k}}}$"

    ax.set_xticks(ticks, [label(v) for v in ticks])
    ax.minorticks_off()


def plot_methods(
    ds, panels, x_of, xlabel, *, gap_of=None, gap_label="", xscale="symlog", linthresh=1e-3, title=None, rep_dim="mdp"
):
    """Rows = ``panels`` (list of (label, selector dict)), columns = metrics; one series per IRL method.

    ``x_of(sub)`` gives the x values of a panel's cells.  The STARC column carries each method's theory
    (0 for the MCE closed form, the error-term prediction for Boltzmann, the supremum for the worst
    case) on top of the simulation.  With ``gap_of`` (the size of the misspecification per cell), a
    fourth column shows the Boltzmann closed form's STARC against it on log–log axes.
    """
    methods = [str(m) for m in ds["irl_method"].values]
    colors = {m: plotting.COLORS[k] for k, m in enumerate(methods)}
    ncols = 3 + (gap_of is not None)
    fig, axes = plotting.figure(len(panels), ncols, width=3.0, height=2.35, title=title)
    for row, (label, sel) in enumerate(panels):
        for col, (name, ylabel) in enumerate(METRICS):
            ax = axes[row, col]
            for method in methods:
                da = ds[name].sel({"irl_method": method, **sel})
                x = np.asarray(x_of(da))
                order = np.argsort(x)
                da = da.isel({da.dims[0]: order})
                plotting.band(
                    ax,
                    x[order],
                    da,
                    dim=rep_dim,
                    label=METHOD_LABELS[method],
                    color=colors[method],
                    marker=MARKERS.get(method, "o"),
                    markersize=SIZES.get(method, 3.0),
                    var=name,
                )
                if name == "starc" and method in ("mce", "boltzmann", "worst_case"):
                    th = ds["starc_theory"].sel({"irl_method": method, **sel}).isel({da.dims[0]: order})
                    plotting.theory_line(ax, x[order], th.values, color=colors[method], var="starc_theory")
            if xscale == "symlog":
                ax.set_xscale("symlog", linthresh=linthresh)
                symlog_ticks(ax, x, linthresh)
            else:
                ax.set_xscale(xscale)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if col == 0:
                ax.set_title(label, loc="left")
        if gap_of is not None:
            _boltzmann_loglog(
                axes[row, 3],
                ds["starc"].sel({"irl_method": "boltzmann", **sel}),
                ds["starc_theory"].sel({"irl_method": "boltzmann", **sel}),
                gap_of,
                gap_label,
                rep_dim,
                colors["boltzmann"],
            )
    plotting.legend(
        fig, where="below", title=None, ncol=4, theory="theory (STARC): 0, error term, supremum of the feasible set"
    )
    return fig


def _boltzmann_loglog(ax, da, th, gap_of, gap_label, rep_dim, color):
    gaps = np.round(np.asarray(gap_of(da), dtype=float), 9)
    cell = da.dims[0]
    keep = gaps > 0
    da, th, gaps = da.isel({cell: np.flatnonzero(keep)}), th.isel({cell: np.flatnonzero(keep)}), gaps[keep]
    order = np.argsort(gaps, kind="stable")
    da, th, gaps = da.isel({cell: order}), th.isel({cell: order}), gaps[order]
    plotting.band(ax, gaps, da, dim=rep_dim, color=color, marker="o", var="starc")
    plotting.theory_line(ax, gaps, th.values, color=color, var="starc_theory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(gap_label)
    ax.set_ylabel("STARC-VAL (Boltzmann)")
    ax.set_title("Boltzmann: log–log")


# claims of the checks both studies take from simkit.irl.study_support
IRL_CLAIMS = {
    "MCE closed form: STARC = 0": {
        "claim": "the MCE closed-form inverse returns the true reward up to shaping and redistribution: STARC-VAL ≤ 1e-8 "
        "for every MDP and every misspecification",
        "statistic": "max STARC over cells and MDPs",
    },
    "MCE closed form: regret = 0": {
        "claim": "the reward from the MCE closed form has zero regret (≤ 1e-9) for every MDP and misspecification",
        "statistic": "max normalised regret over cells and MDPs",
    },
    "no misspecification: closed forms": {
        "claim": "without misspecification, the closed forms and every reward of the feasible set are at STARC 0 "
        "(≤ 1e-6)",
        "statistic": "max STARC where the assumed model is the true one",
    },
    "Boltzmann closed form = its error-term prediction": {
        "claim": "the Boltzmann closed form's STARC equals its error-term prediction (γτ − γ'τ')(V* − c) for every MDP "
        "(|Δ| ≤ 1e-6)",
        "statistic": "max |simulated − predicted| STARC",
    },
    "worst case over the feasible set": {
        "claim": "under any misspecification, the worst reward of the feasible set is at STARC ≥ 0.5 from the truth for "
        "every MDP",
        "statistic": "min STARC over misspecified cells and MDPs",
        "direction": ">=",
    },
    "optimiser reaches the closed-form supremum": {
        "claim": "the worst-case search reaches the closed-form supremum of STARC over the feasible set (gap ≤ 0.01) and "
        "never exceeds it",
        "statistic": "max (supremum − found)",
    },
}
