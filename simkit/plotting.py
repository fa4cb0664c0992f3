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

# The backend is the user's (a notebook's inline backend, a desktop window, Agg on a server):
# importing this module never changes it.  The command line selects Agg (simkit.cli.main).
import matplotlib
import matplotlib.colors as mcolors
import matplotlib.figure
import matplotlib.font_manager
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import matplotlib.transforms as mtransforms
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

#: The series colours, in order (matplotlib's tab10 with red second): simulation in these,
#: theory in a darkened shade of the same (:func:`dark`).
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
    """Context manager applying the house style to figures created inside it.

    The house style is a set of matplotlib rcParams (font sizes, no top/right spines, a light
    grid, :data:`COLORS` as the colour cycle); they apply inside the ``with`` block only.

    Returns
    -------
    contextlib.AbstractContextManager
        Use it in a ``with`` statement; it yields nothing.

    Examples
    --------
    >>> with style():
    ...     print(matplotlib.rcParams["axes.spines.top"], matplotlib.rcParams["font.size"])
    False 9.0
    """
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

    Parameters
    ----------
    nrows, ncols : int, optional
        The grid of panels; default one.
    width, height : float, optional
        Size of one panel, inches (the figure is ``width·ncols`` by ``height·nrows``).
    title : str, optional
        The figure's title (``suptitle``).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (e.g. ``sharex``, ``sharey``).

    Returns
    -------
    fig : HouseFigure
        A :class:`matplotlib.figure.Figure` that applies the house font sizes when drawn.
    axes : numpy.ndarray of matplotlib.axes.Axes, shape (nrows, ncols)

    Examples
    --------
    >>> fig, axes = figure(2, 3, width=2.0, height=1.5, title="demo")
    >>> axes.shape, fig.get_size_inches().tolist()
    ((2, 3), [6.0, 3.0])
    >>> plt.close(fig)
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
    """``color`` mixed with ``amount`` of black: the theory shade of a series colour.

    Parameters
    ----------
    color : color
        Any matplotlib colour.
    amount : float, optional
        Fraction of black, in [0, 1]; default 0.45.

    Returns
    -------
    tuple of float, length 3
        The RGB colour, each channel in [0, 1].

    Examples
    --------
    >>> [float(v) for v in dark("white", 0.5)]
    [0.5, 0.5, 0.5]
    >>> [round(float(v), 3) for v in dark(COLORS[0])]
    [0.067, 0.257, 0.388]
    """
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

    Parameters
    ----------
    x : array_like, shape (n,)
        The x values, in order.
    y : array_like, shape (..., n)
        The values, along the last axis.
    singular : float or sequence of float or None
        The singular x value(s); ``None`` returns the input unchanged (as float arrays).  A point
        exactly at a singular value is dropped.

    Returns
    -------
    x : numpy.ndarray of float, shape (n',)
    y : numpy.ndarray of float, shape (..., n')
        With a NaN column wherever the line would cross ``singular``.

    Examples
    --------
    >>> xs, ys = break_at([0.5, 0.9, 1.1, 2.0], [1.0, 2.0, 3.0, 4.0], 1.0)
    >>> xs.tolist(), ys.tolist()
    ([0.5, 0.9, nan, 1.1, 2.0], [1.0, 2.0, nan, 3.0, 4.0])
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like, shape (n,)
        The x values.
    values : xarray.DataArray, dims (x's dimension, ``dim``)
        The simulated values, one per x and replication.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    label, color, marker, linestyle, linewidth, markersize
        As for :meth:`matplotlib.axes.Axes.plot` (the band takes the line's colour).
    level : float, optional
        Confidence level of the band; default 0.95.
    var : str, optional
        The dataset variable drawn (default ``values.name``).
    singular : float, optional
        An x where the line and band are broken.
    series : str, optional
        Ties the artists to one series (gid suffix ``@SERIES``).

    Returns
    -------
    matplotlib.lines.Line2D
        The mean line (the band is a separate artist with the same gid).

    Examples
    --------
    >>> import xarray as xr
    >>> values = xr.DataArray(np.arange(12.0).reshape(4, 3), dims=("n", "rep"), name="risk")
    >>> fig, axes = figure()
    >>> line = band(axes[0, 0], [1, 2, 3, 4], values, label="simulation")
    >>> line.get_gid(), line.get_ydata().tolist()
    ('sim:risk', [1.0, 4.0, 7.0, 10.0])
    >>> plt.close(fig)
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like, shape (n,)
        The x values.
    values : xarray.DataArray, dims (x's dimension, ``dim``)
        The simulated values.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    label, color, marker, markersize, linestyle
        As for :meth:`matplotlib.axes.Axes.plot` (``linestyle`` of the joining line).
    level : float, optional
        Confidence level of the error bars; default 0.95.
    var : str, optional
        The dataset variable drawn (default ``values.name``).
    singular : float, optional
        An x where the joining line is broken.
    join : bool, optional
        Join the markers with a thin line; default false.
    series : str, optional
        Ties the artists to one series (gid suffix ``@SERIES``).

    Returns
    -------
    matplotlib.lines.Line2D
        The markers (at the means).

    Examples
    --------
    >>> import xarray as xr
    >>> values = xr.DataArray([[1.0, 3.0], [2.0, 6.0]], dims=("n", "rep"), name="error")
    >>> fig, axes = figure()
    >>> marks = points(axes[0, 0], [10, 100], values, color="C1", join=True)
    >>> marks.get_gid(), marks.get_ydata().tolist()
    ('sim:error', [2.0, 4.0])
    >>> plt.close(fig)
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, y : array_like, shape (n,)
        The prediction (``y`` may be a DataArray).
    color : color, optional
        The series colour; the line is drawn in :func:`dark` of it (default black).
    label : str, optional
        Legend label.
    var : str or list of str, optional
        The dataset variable(s) drawn.
    singular : float, optional
        An x where the line is broken.
    linestyle, linewidth : optional
        Default dashed, 1.3 points.
    shade : float, optional
        Fraction of black mixed into ``color``; default 0.45.
    series : str, optional
        Ties the line to one series (gid suffix ``@SERIES``).

    Returns
    -------
    matplotlib.lines.Line2D
        The line, at ``zorder`` :data:`THEORY_Z`, with a white outline.

    Examples
    --------
    >>> fig, axes = figure()
    >>> line = theory_line(axes[0, 0], [1, 2, 3], [3.0, 2.0, 1.0], color=COLORS[0], var="risk_theory")
    >>> line.get_gid(), line.get_zorder() > SIM_Z, line.get_linestyle()
    ('theory:risk_theory', True, '--')
    >>> plt.close(fig)
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, y : array_like, shape (n,)
        The predictions.
    color : color, optional
        The series colour (the markers' edges are :func:`dark` of it; default black).
    label : str, optional
        Legend label.
    var : str, optional
        The dataset variable drawn.
    marker, markersize, markeredgewidth : optional
        Default hollow diamonds (``"D"``), 5 points, edge 1.3 points.
    yerr : array_like, optional
        Error bars, as for :meth:`matplotlib.axes.Axes.errorbar`.

    Returns
    -------
    matplotlib.lines.Line2D
        The markers.

    Examples
    --------
    >>> fig, axes = figure()
    >>> marks = theory_points(axes[0, 0], [1, 2], [0.5, 0.25], label="paper", var="published")
    >>> marks.get_gid(), marks.get_markerfacecolor()
    ('theory:published', 'white')
    >>> plt.close(fig)
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
    """A constant theory prediction (a limit, a fixed point) across the axes, on top of the simulation.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    y : float
        The predicted value.
    color : color, optional
        The series colour (drawn in :func:`dark` of it; default black).
    label : str, optional
        Legend label.
    var : str, optional
        The dataset variable drawn.
    linestyle, linewidth : optional
        Default dotted, 1.2 points.

    Returns
    -------
    matplotlib.lines.Line2D

    Examples
    --------
    >>> fig, axes = figure()
    >>> theory_hline(axes[0, 0], 0.1, label="limit", var="risk_limit").get_gid()
    'theory:risk_limit'
    >>> plt.close(fig)
    """
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
    """A predicted threshold (a vertical line at ``x``), on top of the simulation.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : float
        The predicted threshold.
    color : color, optional
        The series colour (drawn in :func:`dark` of it; default black).
    label : str, optional
        Legend label.
    var : str, optional
        The dataset variable drawn.
    linestyle, linewidth : optional
        Default dash-dotted, 1.2 points.

    Returns
    -------
    matplotlib.lines.Line2D

    Examples
    --------
    >>> fig, axes = figure()
    >>> theory_vline(axes[0, 0], 440.0, label="crossover", var="crossover_n").get_xdata()
    [440.0, 440.0]
    >>> plt.close(fig)
    """
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
    """A guide that is neither simulation nor theory (the real data's value, a threshold).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    y, x : float, optional
        A horizontal line at ``y``, or (without ``y``) a vertical line at ``x``.
    label : str, optional
        Legend label.
    color, linestyle, linewidth : optional
        Default a thin grey dotted line, below the simulation.
    what : str, optional
        What it marks (gid ``ref:WHAT``).

    Returns
    -------
    matplotlib.lines.Line2D

    Examples
    --------
    >>> fig, axes = figure()
    >>> reference_line(axes[0, 0], y=1.0, what="real data").get_gid()
    'ref:real data'
    >>> plt.close(fig)
    """
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x0 : float
        The singular x (e.g. ψ = 1).
    label : str, optional
        Legend label.
    series : str, optional
        The series it belongs to.

    Returns
    -------
    matplotlib.lines.Line2D

    Examples
    --------
    >>> fig, axes = figure()
    >>> mark_singularity(axes[0, 0], 1.0).get_gid(), mark_singularity(axes[0, 0], 2.0, series="s0").get_gid()
    ('singularity', 'singularity@s0')
    >>> plt.close(fig)
    """
    with style():
        line = ax.axvline(x0, color="grey", linestyle=":", linewidth=0.9, label=label, zorder=1.0)
        line.set_gid("singularity" + (f"@{series}" if series else ""))
    return line


def theory_handle(label="theory", color="black"):
    """A legend proxy in the theory style.

    Parameters
    ----------
    label : str, optional
        Its label; default ``"theory"``.
    color : color, optional
        Default black.

    Returns
    -------
    matplotlib.lines.Line2D
        A dashed line that is drawn nowhere (pass it to ``legend(handles=...)``).

    Examples
    --------
    >>> theory_handle("exact").get_label()
    'exact'
    """
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

    Parameters
    ----------
    target : matplotlib.figure.Figure or matplotlib.axes.Axes
        Where the legend goes (a figure legend, or one axes').
    where : {"right", "below", "above"}, optional
        Its side; default ``"right"``.
    handles, labels : list, optional
        Explicit entries (default: gathered from ``axes``).
    theory : str, optional
        Label of an added theory entry.
    title : str, optional
        Legend title.
    ncol : int, optional
        Columns (default 1 on the right, up to 6 below or above).
    axes : list of matplotlib.axes.Axes, optional
        Where to gather the entries from.
    fontsize : float, optional
        Points; default 8.

    Returns
    -------
    matplotlib.legend.Legend

    Examples
    --------
    >>> fig, axes = figure()
    >>> _ = axes[0, 0].plot([0, 1], [0, 1], label="simulation")
    >>> _ = theory_line(axes[0, 0], [0, 1], [0, 1])
    >>> leg = legend(fig, where="below")
    >>> [t.get_text() for t in leg.get_texts()]
    ['simulation', 'theory']
    >>> plt.close(fig)
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    t : array_like, shape (T,)
        The rounds.
    curves : dict of str to xarray.DataArray
        Label → values over ``(t, dim)``, one band each.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    theory : dict of str to (array_like, str), optional
        Label → ``(y, var)``: a theory curve over ``t`` and the variable it draws.
    colors : dict or list, optional
        Colours by label (dict) or in order (list); default :data:`COLORS`.
    styles : dict of str to str, optional
        Line styles by label.
    var : str, optional
        The simulated variable; default ``"regret"``.
    xscale, yscale : str, optional
        Axis scales; default linear.
    xlabel, ylabel, title : str, optional
        Axis labels and title.
    ylim : (float, float), optional
        The y range.

    Returns
    -------
    list of matplotlib.lines.Line2D
        The mean lines, in the order of ``curves``.

    Examples
    --------
    >>> import xarray as xr
    >>> t = np.arange(1, 6)
    >>> regret = xr.DataArray(np.outer(np.sqrt(t), [0.9, 1.1]), dims=("t", "rep"))
    >>> fig, axes = figure()
    >>> lines = regret_curves(axes[0, 0], t, {"ucb": regret, "ts": 0.5 * regret})
    >>> [line.get_label() for line in lines]
    ['ucb', 'ts']
    >>> plt.close(fig)
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
    its ``level`` error bar.  Horizontal, so that long names need no rotation.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    names : list of str
        One name per bar, top to bottom.
    values : list of xarray.DataArray
        One sample over ``dim`` per bar.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    colors : list of color, optional
        Default :data:`COLORS` in order.
    xlabel : str, optional
        Label of the value axis.
    var : str, optional
        The simulated variable (gid ``sim:VAR``).
    title : str, optional
        Default ``"mean, 95% CI"``.
    level : float, optional
        Confidence level of the error bars; default 0.95.

    Returns
    -------
    matplotlib.container.BarContainer
        The bars.

    Examples
    --------
    >>> import xarray as xr
    >>> samples = [xr.DataArray([1.0, 2.0, 3.0], dims="rep"), xr.DataArray([4.0, 5.0, 6.0], dims="rep")]
    >>> fig, axes = figure()
    >>> rects = bars(axes[0, 0], ["varts", "ucb1"], samples, xlabel="regret")
    >>> [float(r.get_width()) for r in rects]
    [2.0, 5.0]
    >>> plt.close(fig)
    """
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like, shape (n,)
        The ratios.
    sims : dict of str to tuple
        Label → ``(DataArray over (x, dim), color)`` or ``(DataArray, color, x0)``.
    theory : sequence of dict, optional
        Theory line specs (see above).
    dim : str, optional
        The replication dimension; default ``"rep"``.
    singular : float, optional
        The ratio where every line is broken (marked with a dotted guide).
    reverse : bool, optional
        Flip the x axis.
    xlabel, ylabel, title : str, optional
        Axis labels (default y label ``"risk"``) and title.
    xscale, yscale : str, optional
        Default linear x, log y.
    var : str, optional
        The simulated variable; default ``"risk"``.
    join : bool, optional
        Join each series' markers with a thin line; default true.
    dodge : float, optional
        Offset between consecutive series, a fraction of the x range; default 0.012.

    Returns
    -------
    None

    Examples
    --------
    >>> import xarray as xr
    >>> psi = np.array([0.5, 0.8, 1.5, 2.0])
    >>> risk = xr.DataArray(np.outer(1 / np.abs(1 - psi), [0.9, 1.1]), dims=("psi", "rep"))
    >>> fig, axes = figure()
    >>> risk_vs_ratio(axes[0, 0], psi, {"sim": (risk, COLORS[0])}, singular=1.0,
    ...               theory=[{"x": psi, "y": 1 / np.abs(1 - psi), "var": "risk_theory"}])
    >>> sorted({line.get_gid() for line in axes[0, 0].get_lines()})
    ['sim:risk', 'singularity', 'theory:risk_theory']
    >>> plt.close(fig)
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
    """Label a log axis at 1, 2, 5 × 10^k (enough labels on a short log range).

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis`` of a log-scaled axes.
    subs : tuple of float, optional
        Mantissas of the labelled ticks; default ``(1, 2, 5)``.

    Returns
    -------
    None

    Examples
    --------
    >>> fig, axes = figure()
    >>> ax = axes[0, 0]
    >>> ax.set_yscale("log")
    >>> _ = ax.set_ylim(1, 30)
    >>> log_ticks(ax.yaxis)
    >>> ax.yaxis.get_major_formatter()(20.0, 0)
    '20'
    >>> plt.close(fig)
    """
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    n : array_like, shape (k,)
        The sample sizes (positive).
    sims : dict of str to (xarray.DataArray, color)
        Label → values over ``(n, dim)`` (positive) and colour.
    slopes : dict of str to float, optional
        Label → predicted exponent of that series.
    dim : str, optional
        The replication dimension; default ``"rep"``.
    var : str, optional
        The simulated variable; default ``"error"``.
    theory_var : str, optional
        The theory variable the slope lines draw.
    xlabel, ylabel, title : str, optional
        Axis labels (default ``$n$`` and ``"error"``) and title.

    Returns
    -------
    None

    Examples
    --------
    >>> import xarray as xr
    >>> n = np.array([100, 1000, 10000])
    >>> error = xr.DataArray(np.outer(1 / n, [0.9, 1.1]), dims=("n", "rep"))
    >>> fig, axes = figure()
    >>> rates(axes[0, 0], n, {"krr": (error, COLORS[0])}, slopes={"krr": -1.0}, theory_var="rate")
    >>> slope_line = [l for l in axes[0, 0].get_lines() if l.get_gid() == "theory:rate"][0]
    >>> np.allclose(slope_line.get_ydata(), 1 / n)
    True
    >>> plt.close(fig)
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

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel (switched off).
    header : sequence of str
        Column titles.
    rows : sequence of sequence of str
        The cells, row by row.
    title : str, optional
        The panel's title.
    fontsize : float, optional
        Points; default :data:`MIN_FONT` + 0.5.
    theory_columns : sequence of int, optional
        Columns holding the theory's (or the paper's) numbers.
    theory_var : str, optional
        The variable those columns show.
    align : sequence of str, optional
        Horizontal alignment per column (default: first left, the others right).
    note : str, optional
        Small print under the table.

    Returns
    -------
    matplotlib.table.Table

    Examples
    --------
    >>> fig, axes = figure()
    >>> table = table_panel(axes[0, 0], ["method", "regret"], [["OFUL", "12.3"], ["DS-OFUL", "8.1"]],
    ...                     theory_columns=(1,), theory_var="paper")
    >>> table[1, 0].get_text().get_text(), table[2, 1].get_gid()
    ('OFUL', 'theory:paper')
    >>> plt.close(fig)
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
    The figure is closed afterwards.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : path
        The files' path without suffix (its folder is created).
    formats : sequence of str, optional
        File formats (suffixes); default ``("png", "pdf")``.

    Returns
    -------
    list of pathlib.Path
        The written files, in the order of ``formats``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig, axes = figure()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = save_figure(fig, pathlib.Path(folder, "demo"), formats=("png",))
    ...     [(p.name, p.stat().st_size > 0) for p in paths]
    [('demo.png', True)]
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
