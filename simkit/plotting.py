"""One house style for every figure, and the panel helpers that the studies call.

Figures are written as PNG and PDF with :func:`save_figure` (atomically: no half-written file
is left behind).

House style
-----------
* **Simulation** is the mean over replications with its 95% interval: a line with a shaded band
  (:func:`band`) where the x grid is dense, or markers with 95% error bars (:func:`points`) where it
  is sparse.  Simulation artists sit at ``zorder`` :data:`SIM_Z` (bands just below it).
* **Theory** is drawn *on top* of the simulation (``zorder`` :data:`THEORY_Z`) as a dashed line in a
  darkened shade of the series colour with a light (white) outline (:func:`theory_line`), so it stays
  visible exactly where it agrees with the simulation.  Discrete predictions are hollow diamonds
  with the same outline (:func:`theory_points`); a constant prediction is a dashed horizontal line
  (:func:`theory_hline`).  :func:`legend` always names the theory: a labelled theory artist keeps its
  label, and unlabelled theory lines are represented by one "theory" entry.
* **Legends and tables live outside the data**: :func:`legend` places a figure legend outside the
  axes grid (right, below or above) or an axes legend beside its axes; :func:`table_panel` draws a
  table in its own (axis-less) panel with text of at least :data:`MIN_FONT` points.
* **Singularities** (ψ = p/n, φ = 1, …): :func:`mark_singularity` draws the dotted guide, and every
  helper given ``singular=x0`` breaks its line and band there, so that no line joins points across
  the pole.
* Text is at least :data:`MIN_FONT` (7) points at the saved size; symbols are written in mathtext
  (``$\\alpha$``, ``$\\psi = m/n$``, ``$\\|\\hat f - f^*\\|^2$``) or Unicode (σ², λ), never spelled out.

Artist ids (how tests find the theory)
--------------------------------------
Every helper sets the artist's ``gid``:

``"theory:NAME"``
    a theory artist drawing the dataset variable ``NAME`` (several variables: ``"theory:A,B"``);
    ``NAME`` may be empty for a prediction that is not stored in the dataset (e.g. a curve evaluated
    on a fine grid from the same formula — then pass ``var=`` with the stored variable it extends).
``"sim:NAME"``
    a simulation artist (line, band, markers or error bars) of variable ``NAME``.
``"ref:WHAT"``
    a reference guide that is neither (e.g. the real data's variance, a null predictor).
``"singularity"``
    the vertical guide at a singular x; no ``sim:``/``theory:`` line may cross it.
``…@SERIES``
    a suffix tying an artist to one series (``sim:risk@s0``); a guide ``singularity@s0`` then
    applies only to that series' lines (e.g. the full-sample curve is singular at φ = 1, the
    sketched one is not).

A variable returned by a study's ``theory`` is a *prediction* unless its ``attrs["role"]`` is
``"auxiliary"`` (a by-product: a component of a plotted prediction, a statistic fitted to the
simulated data, a per-cell setting).  tests/test_figures.py renders every study's figure and checks
that each prediction has a visible ``theory:`` artist drawn above the simulation of its axes, that no
two text boxes overlap, that no legend covers plotted data, that no line crosses a singularity, and
that every text is at least :data:`MIN_FONT` points.

Panel helpers
-------------
:func:`regret_curves`
    cumulative regret (or any curve) against rounds, one band per policy, optional theory curves.
:func:`risk_vs_ratio`
    risk (or any statistic) against a ratio such as ψ = m/n or φ = p/n, simulation markers with
    error bars, theory lines, broken at a singular ratio.
:func:`rates`
    a statistic against n on log–log axes with a theory rate anchored on the simulation.
:func:`table_panel`
    a table (header + rows) in its own panel, columns sized to their text.
:func:`bars`
    a statistic per named entry (policy, prior) as horizontal bars with 95% error bars.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.figure  # noqa: E402
import matplotlib.font_manager  # noqa: E402
import matplotlib.patheffects as pe  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .stats import summarize  # noqa: E402
from .storage import publish  # noqa: E402

__all__ = [
    "style",
    "figure",
    "band",
    "points",
    "theory_line",
    "theory_points",
    "theory_hline",
    "theory_vline",
    "reference_line",
    "mark_singularity",
    "break_at",
    "log_ticks",
    "legend",
    "theory_handle",
    "regret_curves",
    "bars",
    "risk_vs_ratio",
    "rates",
    "table_panel",
    "save_figure",
    "dark",
    "COLORS",
    "SIM_Z",
    "THEORY_Z",
    "MIN_FONT",
]

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

#: z-order of simulation lines and markers (bands at ``SIM_Z - 0.5``).
SIM_Z = 2.0
#: z-order of theory artists: always above the simulation.
THEORY_Z = 3.0
#: Smallest font size (points) of any text, at the saved size.
MIN_FONT = 7.0

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "figure.titlesize": 10.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.5,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "mathtext.fontset": "dejavusans",
}

_OUTLINE = "white"


@contextlib.contextmanager
def style():
    """Context manager applying the house style to figures created inside it."""
    with matplotlib.rc_context(_RC):
        yield


def _points(size):
    return matplotlib.font_manager.FontProperties(size=size).get_size_in_points()


class HouseFigure(matplotlib.figure.Figure):
    """A Figure that applies the house font sizes when drawn.

    Matplotlib reads ``axes.titlesize`` and ``axes.labelsize`` when ``set_title``/``set_xlabel`` are
    called, usually outside :func:`style`; texts still at matplotlib's default size are brought to the
    house size here, explicitly sized texts are left alone.
    """

    def draw(self, renderer):
        defaults = matplotlib.rcParamsDefault
        title_default, label_default = _points(defaults["axes.titlesize"]), _points(defaults["axes.labelsize"])
        for ax in self.axes:
            for t in (ax.title, ax._left_title, ax._right_title):
                if abs(t.get_fontsize() - title_default) < 1e-6:
                    t.set_fontsize(_RC["axes.titlesize"])
            for t in (ax.xaxis.label, ax.yaxis.label):
                if abs(t.get_fontsize() - label_default) < 1e-6:
                    t.set_fontsize(_RC["axes.labelsize"])
        with style():
            return super().draw(renderer)


def figure(nrows=1, ncols=1, *, width=3.2, height=2.6, title=None, **kwargs):
    """A house-style figure with a grid of axes (``width``/``height`` per panel, in inches).

    Returns ``(fig, axes)`` with ``axes`` always a 2-D array.  The figure uses constrained layout,
    so titles, labels, outside legends and tables are given room and do not overlap.
    """
    with style():
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(width * ncols, height * nrows),
            squeeze=False,
            layout="constrained",
            FigureClass=HouseFigure,
            **kwargs,
        )
        fig.get_layout_engine().set(h_pad=0.04, w_pad=0.04, hspace=0.04, wspace=0.03)
        if title:
            fig.suptitle(title)
        for ax in axes.flat:
            ax.tick_params(labelsize=_RC["xtick.labelsize"])
    return fig, axes


def dark(color, amount=0.45):
    """``color`` mixed with ``amount`` of black: the theory shade of a series colour."""
    rgb = np.asarray(mcolors.to_rgb(color))
    return tuple((1.0 - amount) * rgb)


def _effects(width):
    return [pe.Stroke(linewidth=width + 2.2, foreground=_OUTLINE, alpha=0.95), pe.Normal()]


def _gid(kind, var, series=None):
    if var is None:
        var = ""
    if isinstance(var, (list, tuple)):
        var = ",".join(var)
    return f"{kind}:{var}" + (f"@{series}" if series else "")


def break_at(x, y, singular):
    """Return ``(x, y)`` with a NaN inserted wherever consecutive points straddle ``singular``.

    Matplotlib does not join points across a NaN, so no line is drawn across the singularity.
    ``y`` may have extra leading dimensions (it is broken along its last axis).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if singular is None or x.size < 2:
        return x, y
    singulars = np.atleast_1d(singular).astype(float)
    out_x, out_y = [x[0]], [y[..., 0]]
    for i in range(1, x.size):
        if any((x[i - 1] - s) * (x[i] - s) < 0 or x[i] == s for s in singulars):
            out_x.append(np.nan)
            out_y.append(np.full(y.shape[:-1], np.nan))
        if x[i] in singulars:
            continue
        out_x.append(x[i])
        out_y.append(y[..., i])
    if x[0] in singulars:
        out_x[0] = np.nan
        out_y[0] = np.full(y.shape[:-1], np.nan)
    return np.asarray(out_x), np.stack(out_y, axis=-1)


def _summary(values, dim, level):
    s = summarize(values, dim, level)
    return tuple(np.asarray(s[k].values, dtype=float) for k in ("mean", "lower", "upper"))


def band(
    ax,
    x,
    values,
    *,
    dim="rep",
    label=None,
    color=None,
    marker=None,
    level=0.95,
    var=None,
    linestyle="-",
    singular=None,
    markersize=3.0,
    linewidth=None,
    series=None,
):
    """Plot the mean of ``values`` over ``dim`` against ``x`` with its ``level`` interval shaded.

    ``values`` is a DataArray whose only other dimension matches ``x``.  ``var`` names the
    simulated variable (gid ``sim:VAR``); ``singular`` breaks the line and band at that x.
    Returns the mean line.
    """
    with style():
        mean, lower, upper = _summary(values, dim, level)
        xs, (mean, lower, upper) = break_at(x, np.vstack([mean, lower, upper]), singular)
        (line,) = ax.plot(
            xs,
            mean,
            label=label,
            color=color,
            marker=marker,
            markersize=markersize,
            linestyle=linestyle,
            zorder=SIM_Z,
            linewidth=linewidth,
        )
        line.set_gid(_gid("sim", var if var is not None else getattr(values, "name", ""), series))
        fill = ax.fill_between(xs, lower, upper, color=line.get_color(), alpha=0.2, linewidth=0, zorder=SIM_Z - 0.5)
        fill.set_gid(line.get_gid())
    return line


def points(
    ax,
    x,
    values,
    *,
    dim="rep",
    label=None,
    color=None,
    marker="o",
    level=0.95,
    var=None,
    singular=None,
    markersize=3.5,
    join=False,
    linestyle="-",
    series=None,
):
    """Simulation as markers with ``level`` error bars (mean over ``dim``) — for sparse x grids.

    With ``join=True`` the markers are also joined by a thin line (broken at ``singular``).
    Returns the marker line (its colour is the series colour).
    """
    with style():
        mean, lower, upper = _summary(values, dim, level)
        gid = _gid("sim", var if var is not None else getattr(values, "name", ""), series)
        x = np.asarray(x, dtype=float)
        cont = ax.errorbar(
            x,
            mean,
            yerr=np.vstack([mean - lower, upper - mean]),
            fmt="none",
            ecolor=color,
            elinewidth=1.0,
            capsize=0,
            zorder=SIM_Z,
        )
        color = cont.lines[2][0].get_color()[0] if color is None else color
        for art in cont.lines[2]:
            art.set_gid(gid)
            art.set_color(color)
        if join:
            xs, ys = break_at(x, mean, singular)
            (jl,) = ax.plot(xs, ys, color=color, linewidth=0.9, linestyle=linestyle, zorder=SIM_Z, alpha=0.8)
            jl.set_gid(gid)
        (line,) = ax.plot(
            x,
            mean,
            linestyle="none",
            marker=marker,
            markersize=markersize,
            color=color,
            label=label,
            zorder=SIM_Z + 0.1,
        )
        line.set_gid(gid)
    return line


def theory_line(
    ax, x, y, *, color=None, label=None, var=None, singular=None, linestyle="--", linewidth=1.3, shade=0.45, series=None
):
    """Plot a theory curve on top of the simulation: dashed, in a dark shade of ``color``, outlined.

    ``var`` names the theory variable it draws (gid ``theory:VAR``); ``singular`` breaks the line
    there.  Unlabelled theory lines are named "theory" by :func:`legend`.
    """
    with style():
        base = "black" if color is None else color
        xs, ys = break_at(x, np.asarray(y, dtype=float), singular)
        (line,) = ax.plot(
            xs,
            ys,
            linestyle=linestyle,
            color=dark(base, shade) if color is not None else "black",
            linewidth=linewidth,
            label=label,
            zorder=THEORY_Z,
            dash_capstyle="butt",
        )
        line.set_path_effects(_effects(linewidth))
        line.set_gid(_gid("theory", var, series))
    return line


def theory_points(
    ax, x, y, *, color=None, label=None, var=None, marker="D", markersize=5.0, yerr=None, markeredgewidth=1.3
):
    """Discrete theory predictions (or published values): hollow markers on top of the simulation.

    ``yerr`` adds error bars (e.g. a paper's reported spread), drawn in the same layer.
    """
    with style():
        base = "black" if color is None else dark(color, 0.45)
        gid = _gid("theory", var)
        if yerr is not None:
            cont = ax.errorbar(x, y, yerr=yerr, fmt="none", ecolor=base, elinewidth=1.1, zorder=THEORY_Z)
            for art in cont.lines[2]:
                art.set_gid(gid)
        (line,) = ax.plot(
            x,
            y,
            linestyle="none",
            marker=marker,
            markersize=markersize,
            markerfacecolor="white",
            markeredgecolor=base,
            markeredgewidth=markeredgewidth,
            color=base,
            label=label,
            zorder=THEORY_Z + 0.1,
        )
        line.set_path_effects(_effects(0.8))
        line.set_gid(gid)
    return line


def theory_hline(ax, y, *, color=None, label=None, var=None, linestyle=(0, (1.5, 1.5)), linewidth=1.2):
    """A constant theory prediction (a limit, a fixed point) across the axes, on top of the simulation."""
    with style():
        line = ax.axhline(
            y,
            color=dark(color) if color is not None else "black",
            linestyle=linestyle,
            linewidth=linewidth,
            label=label,
            zorder=THEORY_Z,
        )
        line.set_path_effects(_effects(linewidth))
        line.set_gid(_gid("theory", var))
    return line


def theory_vline(ax, x, *, color=None, label=None, var=None, linestyle="-.", linewidth=1.2):
    """A predicted threshold (a vertical line at ``x``), on top of the simulation."""
    with style():
        line = ax.axvline(
            x,
            color=dark(color) if color is not None else "black",
            linestyle=linestyle,
            linewidth=linewidth,
            label=label,
            zorder=THEORY_Z,
        )
        line.set_path_effects(_effects(linewidth))
        line.set_gid(_gid("theory", var))
    return line


def reference_line(ax, *, y=None, x=None, label=None, color="grey", linestyle=":", linewidth=0.9, what=""):
    """A guide that is neither simulation nor theory (the real data's value, a threshold)."""
    with style():
        if y is not None:
            line = ax.axhline(y, color=color, linestyle=linestyle, linewidth=linewidth, label=label, zorder=1.0)
        else:
            line = ax.axvline(x, color=color, linestyle=linestyle, linewidth=linewidth, label=label, zorder=1.0)
        line.set_gid(f"ref:{what}")
    return line


def mark_singularity(ax, x0, *, label=None, series=None):
    """Dotted vertical guide at the singular ``x0``; helpers given ``singular=x0`` break their lines there.

    With ``series`` the singularity belongs to that series only (artists whose gid ends in ``@SERIES``).
    """
    with style():
        line = ax.axvline(x0, color="grey", linestyle=":", linewidth=0.9, label=label, zorder=1.0)
        line.set_gid("singularity" + (f"@{series}" if series else ""))
    return line


def theory_handle(label="theory", color="black"):
    """A legend proxy in the theory style."""
    line = Line2D([], [], color=color, linestyle="--", linewidth=1.3, label=label)
    line.set_path_effects(_effects(1.3))
    return line


def _collect(axes):
    handles, labels, unlabelled_theory = [], [], False
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
        for line in ax.get_lines():
            gid = line.get_gid() or ""
            label = line.get_label() or ""
            if gid.startswith("theory:") and (not label or label.startswith("_")) and label != "_nolegend_":
                unlabelled_theory = True
    return handles, labels, unlabelled_theory


def legend(
    target, *, where="right", handles=None, labels=None, theory=None, title=None, ncol=None, axes=None, fontsize=None
):
    """Place a legend **outside the data** and name the theory in it.

    ``target`` is a Figure (a figure legend outside the axes grid: ``where`` is ``"right"``,
    ``"below"`` or ``"above"``) or an Axes (a legend just outside that axes: ``"right"``,
    ``"below"`` or ``"above"``).  Handles are gathered from ``axes`` (default: every axes of the
    figure, or the given axes), deduplicated by label.  ``theory`` is the label of an added theory
    proxy entry; by default one "theory" entry is added when some theory line has no label and no
    labelled theory artist is in the legend.
    """
    fig = target if isinstance(target, matplotlib.figure.Figure) else target.figure
    if axes is None:
        axes = fig.axes if target is fig else [target]
    if handles is None:
        handles, labels, unlabelled = _collect(axes)
    else:
        labels = list(labels) if labels is not None else [h.get_label() for h in handles]
        unlabelled = False
    handles, labels = list(handles), list(labels)
    rank = {"sim": 0, "theory": 1, "ref": 2}

    def kind(h):
        if isinstance(h, tuple) or not hasattr(h, "get_gid"):
            h = h[0] if len(h) else None
        gid = h.get_gid() if h is not None and hasattr(h, "get_gid") else ""
        return rank.get(str(gid or "").split(":")[0], 0)

    order = sorted(range(len(handles)), key=lambda i: kind(handles[i]))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]

    def is_theory(h):
        return str(getattr(h, "get_gid", lambda: "")() or "").startswith("theory:")

    if theory is None and unlabelled and not any(is_theory(h) for h in handles):
        theory = "theory"
    if theory and theory not in labels:
        handles.append(theory_handle(theory))
        labels.append(theory)
    kw = {"title": title, "fontsize": fontsize or _RC["legend.fontsize"], "frameon": False}
    with style():
        if target is fig:
            loc = {"right": "outside right center", "below": "outside lower center", "above": "outside upper center"}[
                where
            ]
            if ncol is None:
                ncol = 1 if where == "right" else min(len(labels), 6)
            leg = fig.legend(handles, labels, loc=loc, ncol=ncol, **kw)
        else:
            # offsets in points clear the tick labels and axis label (below) or the title (above)
            anchor = {
                "right": ("center left", (1.0, 0.5), (8, 0)),
                "below": ("upper center", (0.5, 0.0), (0, -34)),
                "above": ("lower center", (0.5, 1.0), (0, 22)),
            }[where]
            shift = mtransforms.ScaledTranslation(anchor[2][0] / 72, anchor[2][1] / 72, fig.dpi_scale_trans)
            leg = target.legend(
                handles,
                labels,
                loc=anchor[0],
                bbox_to_anchor=anchor[1],
                ncol=ncol or 1,
                borderaxespad=0.0,
                bbox_transform=target.transAxes + shift,
                **kw,
            )
    return leg


# --------------------------------------------------------------------------------------------
# panel helpers
# --------------------------------------------------------------------------------------------


def regret_curves(
    ax,
    t,
    curves,
    *,
    dim="rep",
    theory=None,
    colors=None,
    styles=None,
    var="regret",
    xscale="linear",
    yscale="linear",
    xlabel="round $t$",
    ylabel="cumulative regret",
    title=None,
    ylim=None,
):
    """Cumulative regret against rounds: one band per entry of ``curves`` (label → DataArray over
    ``(t, dim)``), and optional theory curves ``theory`` (label → ``(y, var)``), drawn on top.

    Returns the list of simulation lines.
    """
    lines = []
    for k, (label, da) in enumerate(curves.items()):
        color = (
            (colors or {}).get(label, COLORS[k % len(COLORS)])
            if isinstance(colors, dict) or colors is None
            else colors[k]
        )
        ls = (styles or {}).get(label, "-")
        lines.append(band(ax, t, da, dim=dim, label=label, color=color, var=var, linestyle=ls))
    for label, (y, tvar) in (theory or {}).items():
        theory_line(ax, t, y, label=label, var=tvar)
    ax.set(xscale=xscale, yscale=yscale, xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    return lines


def bars(ax, names, values, *, dim="rep", colors=None, xlabel="", var="", title="mean, 95% CI", level=0.95):
    """One horizontal bar per entry (first on top): the mean of each ``values[i]`` over ``dim`` with
    its ``level`` error bar.  Horizontal, so that long names need no rotation."""
    with style():
        means, half = [], []
        for da in values:
            s = summarize(da, dim, level)
            means.append(float(s["mean"]))
            half.append(float(s["upper"]) - float(s["mean"]))
        y = np.arange(len(names))[::-1]
        colors = colors or [COLORS[k % len(COLORS)] for k in range(len(names))]
        rects = ax.barh(y, means, xerr=half, color=colors, zorder=SIM_Z, error_kw={"zorder": SIM_Z + 0.1})
        for rect in rects:
            rect.set_gid(_gid("sim", var))
        ax.set_yticks(y, names)
        ax.tick_params(axis="y", length=0)
        ax.set(xlabel=xlabel, title=title)
        ax.grid(axis="y", visible=False)
    return rects


def risk_vs_ratio(
    ax,
    x,
    sims,
    *,
    theory=(),
    dim="rep",
    singular=None,
    reverse=False,
    xlabel="",
    ylabel="risk",
    title=None,
    xscale="linear",
    yscale="log",
    var="risk",
    join=True,
    dodge=0.012,
):
    """A statistic against a ratio (ψ = m/n, φ = p/n …): simulation markers with 95% error bars
    (``sims``: label → ``(DataArray over (x, dim), color)``), theory lines on top (``theory``: a
    sequence of dicts with keys ``x``, ``y``, ``color``, ``label``, ``var``), all broken at
    ``singular`` (marked with a dotted guide); a spec may also set ``linestyle``, ``linewidth`` and
    ``shade`` (of :func:`theory_line`).  A series whose own singularity differs gives it as a third
    element, ``(DataArray, color, x0)``; a theory spec of that series then names it with ``"series"``
    (its label in ``sims``) and its ``"singular"``.  ``reverse`` flips the x axis.  ``dodge`` sets the
    series side by side around each x (consecutive series ``dodge`` of the x range apart; on log axes of
    the log range) so that their markers do not cover each other.
    """
    x = np.asarray(x, dtype=float)
    k = len(sims)
    gx = np.log(x) if xscale == "log" else x
    step = float(np.ptp(gx)) if x.size > 1 else 0.0
    own = []
    for i, (label, spec) in enumerate(sims.items()):
        da, color = spec[0], spec[1]
        pole, series = (spec[2], f"s{i}") if len(spec) > 2 else (singular, None)
        # dodge: series side by side around each x (a fraction of the x range), so markers do not hide
        shift = (i - (k - 1) / 2) * dodge * step
        xs = x * np.exp(shift) if xscale == "log" else x + shift
        if pole is not None:
            xs = np.where(np.sign(xs - pole) != np.sign(x - pole), x, xs)  # dodging never crosses the pole
            xs = np.where(x == pole, np.nan, xs)  # and a point at the pole itself is not drawn
        points(
            ax,
            xs,
            da,
            dim=dim,
            label=label,
            color=color,
            var=var,
            singular=pole,
            join=join,
            markersize=4.5,
            series=series,
        )
        if series and pole is not None:
            own.append((pole, series))
    for spec in theory:
        series = spec.get("series")
        if series is not None:
            series = f"s{list(sims).index(series)}"
        theory_line(
            ax,
            spec["x"],
            spec["y"],
            color=spec.get("color"),
            label=spec.get("label"),
            var=spec.get("var"),
            singular=spec.get("singular", singular),
            series=series,
            linestyle=spec.get("linestyle", "--"),
            linewidth=spec.get("linewidth", 1.3),
            shade=spec.get("shade", 0.45),
        )
    if singular is not None:
        mark_singularity(ax, singular)
    for pole, series in own:
        mark_singularity(ax, pole, series=series)
    ax.set(xscale=xscale, yscale=yscale, xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if reverse:
        lo, hi = ax.get_xlim()
        ax.set_xlim(max(lo, hi), min(lo, hi))
    if yscale == "log":
        log_ticks(ax.yaxis)
    if xscale == "log":
        log_ticks(ax.xaxis)
    else:
        ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))


def log_ticks(axis, subs=(1.0, 2.0, 5.0)):
    """Label a log axis at 1, 2, 5 × 10^k (enough labels on a short log range)."""
    axis.set_major_locator(mticker.LogLocator(base=10, subs=subs))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(mticker.LogLocator(base=10, subs=np.arange(1, 10)))
    axis.set_minor_formatter(mticker.NullFormatter())


def rates(
    ax, n, sims, *, slopes=None, dim="rep", var="error", theory_var=None, xlabel="$n$", ylabel="error", title=None
):
    """A statistic against ``n`` on log–log axes: ``sims`` label → ``(DataArray over (n, dim), color)``
    as markers with 95% error bars joined by a thin line; ``slopes`` label → theory exponent, drawn
    as a line of that slope anchored at the simulation's geometric mean (on top, same colour shade).
    """
    n = np.asarray(n, dtype=float)
    for label, (da, color) in sims.items():
        points(ax, n, da, dim=dim, label=label, color=color, var=var, join=True)
        if slopes is not None and label in slopes:
            mean = np.asarray(summarize(da, dim)["mean"].values, dtype=float)
            anchor = np.exp(np.mean(np.log(mean)))
            y = anchor * (n / np.exp(np.mean(np.log(n)))) ** float(slopes[label])
            theory_line(ax, n, y, color=color, var=theory_var)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)


def table_panel(
    ax, header, rows, *, title=None, fontsize=MIN_FONT + 0.5, theory_columns=(), theory_var=None, align=None, note=None
):
    """A table in its own panel (the axes is switched off): ``header`` (column titles) over ``rows``
    (lists of strings), each column as wide as its widest text, text of ``fontsize`` points.

    Cells of ``theory_columns`` (column indices) are the theory's (or the paper's) numbers: they get
    gid ``theory:THEORY_VAR``.  ``note`` is a line of small print under the table.
    Returns the matplotlib Table.
    """
    ax.axis("off")
    ncols = len(header)
    align = align or (["left"] + ["right"] * (ncols - 1))
    with style():
        table = ax.table(
            cellText=[list(r) for r in rows],
            colLabels=list(header),
            loc="upper center",
            cellLoc="right",
            edges="horizontal",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(fontsize)
        table.auto_set_column_width(list(range(ncols)))
        for (r, c), cell in table.get_celld().items():
            cell.set_text_props(ha=align[c] if c < len(align) else "right", family="monospace" if r > 0 else None)
            cell.PAD = 0.09
            cell.set_height(1.0 / (len(rows) + 2))
            cell.set_linewidth(0.6 if r == 0 else 0.0)
            if r == 0:
                cell.set_text_props(weight="bold")
            if c in theory_columns:
                cell.get_text().set_gid(_gid("theory", theory_var))
                cell.set_gid(_gid("theory", theory_var))
        if title:
            ax.set_title(title, fontsize=_RC["axes.titlesize"])
        if note:
            ax.text(0.5, 0.0, note, transform=ax.transAxes, ha="center", va="top", fontsize=MIN_FONT, wrap=True)
    return table


def save_figure(fig, stem, formats=("png", "pdf")):
    """Write ``fig`` to ``stem.png`` and ``stem.pdf`` atomically; return the paths.

    Each file is written under a temporary name in the same folder and renamed into place.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        final = stem.with_suffix("." + fmt)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        try:
            with style():
                fig.savefig(tmp, format=fmt)
            publish(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        paths.append(final)
    plt.close(fig)
    return paths
