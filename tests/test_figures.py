"""Every study's figure, rendered from a quick run, checked from its artists and bounding boxes.

Conventions (see :mod:`simkit.plotting`): theory artists have gid ``theory:VAR[,VAR…]``, simulation
artists ``sim:VAR``, singular guides ``singularity``.  For each registered study of
``simkit.studies`` (studies added later are picked up automatically) the tests check that

* every prediction returned by ``theory`` (variables without ``attrs["role"] == "auxiliary"``) has a
  visible theory artist drawn above every simulation artist of its axes, in a colour that differs
  from theirs, and the theory is named in a legend;
* no two text boxes overlap, every text lies inside the figure and is at least 7 pt;
* no legend covers plotted data (lines, bands, markers, bars);
* no simulation or theory line (or band) joins points across a marked singularity;
* symbols are mathtext or Unicode, not spelled out (``alpha``, ``psi``, ``^2``, ``f_hat`` …);
* no dataset dimension is named like an xarray keyword (``method``, ``tolerance``, ``drop``,
  ``indexers``), which would break ``ds.sel(NAME=...)``.

Datasets come from quick runs with at most :data:`REPS` replications (the figures do not depend on
many), computed once per session.
"""

from __future__ import annotations

import functools
import os
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from simkit import run_study
from simkit.plotting import MIN_FONT
from simkit.registry import all_studies

pytestmark = pytest.mark.slow  # renders every study from a quick run: about 3 minutes on 2 shared cores

REPS = 24
"""Replications per cell for the figure runs (the quick settings' own count if smaller)."""

#: Studies whose figure needs more replications than REPS to be drawn at all (none so far).
STUDY_REPS: dict[str, int] = {}

XARRAY_KEYWORDS = {"method", "tolerance", "drop", "indexers"}


def _names():
    return [s.name for s in all_studies() if s.simulate.__module__.startswith("simkit.studies.")]


NAMES = _names()


@functools.cache
def _dataset(name):
    study = next(s for s in all_studies() if s.name == name)
    reps = min(study.quick_reps, STUDY_REPS.get(name, REPS))
    result = run_study(name, quick=True, reps=reps, out=None, progress=False, plot=False, backend="numba")
    return study, result.dataset


@functools.cache
def _rendered(name):
    study, ds = _dataset(name)
    fig = study.plot(ds)
    fig.canvas.draw()
    return study, ds, fig


def _renderer(fig):
    return fig.canvas.get_renderer()


# ------------------------------------------------------------------------------------------ helpers


def _drawn_ticks(axis):
    """Tick label texts that are actually drawn (ticks inside the view interval)."""
    out = []
    for tick in axis._update_ticks():  # the ticks matplotlib draws
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text():
                out.append(label)
    return out


def _texts(fig):
    """Every visible, non-empty text of the figure, with a description."""
    found, seen = [], set()

    def add(t, what):
        if t is not None and id(t) not in seen and t.get_visible() and t.get_text().strip() and t.get_alpha() != 0:
            seen.add(id(t))
            found.append((t, what))

    for t in fig.texts:
        add(t, "figure text")
    if fig._suptitle is not None:
        add(fig._suptitle, "suptitle")
    for leg in fig.legends:
        for t in leg.get_texts():
            add(t, "legend entry")
        add(leg.get_title(), "legend title")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for key in ("left", "center", "right"):
            add(
                getattr(ax, {"left": "_left_title", "center": "title", "right": "_right_title"}[key]), f"axes {i} title"
            )
        if ax.axison:
            add(ax.xaxis.label, f"axes {i} xlabel")
            add(ax.yaxis.label, f"axes {i} ylabel")
            add(ax.xaxis.offsetText, f"axes {i} x offset")
            add(ax.yaxis.offsetText, f"axes {i} y offset")
            for t in _drawn_ticks(ax.xaxis):
                add(t, f"axes {i} x tick")
            for t in _drawn_ticks(ax.yaxis):
                add(t, f"axes {i} y tick")
        for t in ax.texts:
            add(t, f"axes {i} text")
        leg = ax.get_legend()
        if leg is not None:
            for t in leg.get_texts():
                add(t, f"axes {i} legend entry")
            add(leg.get_title(), f"axes {i} legend title")
        for table in ax.tables:
            for cell in table.get_celld().values():
                add(cell.get_text(), f"axes {i} table cell")
    return found


def _legends(fig):
    out = list(fig.legends)
    out += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [leg for leg in out if leg.get_visible()]


def _densify(xy, step=2.0):
    """Points every ``step`` pixels along a display-space polyline (NaN breaks respected)."""
    pts = []
    for a, b in zip(xy[:-1], xy[1:]):
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            continue
        k = max(2, int(np.hypot(*(b - a)) / step) + 1)
        pts.append(a + np.linspace(0, 1, k)[:, None] * (b - a))
    if not pts:
        return xy[np.all(np.isfinite(xy), axis=1)]
    return np.vstack(pts)


def _inside(points, box, margin=1.0):
    if len(points) == 0:
        return np.zeros(0, bool)
    return (
        (points[:, 0] > box.x0 + margin)
        & (points[:, 0] < box.x1 - margin)
        & (points[:, 1] > box.y0 + margin)
        & (points[:, 1] < box.y1 - margin)
    )


def _clip(points, ax):
    return points[_inside(points, ax.bbox, margin=-0.5)] if len(points) else points


def _line_display(line):
    xy = np.column_stack([np.asarray(line.get_xdata(orig=False), float), np.asarray(line.get_ydata(orig=False), float)])
    with np.errstate(all="ignore"):
        return line.get_transform().transform(xy)


def _data_points(ax):
    """Display-space points of everything plotted in ``ax`` (for the legend test)."""
    out = []
    for line in ax.get_lines():
        if not line.get_visible() or (line.get_gid() or "").startswith(("ref:", "singularity")):
            continue
        xy = _line_display(line)
        if line.get_linestyle() not in ("None", "none", "", " "):
            out.append(_clip(_densify(xy), ax))
        else:
            out.append(_clip(xy[np.all(np.isfinite(xy), axis=1)], ax))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                out.append(_clip(_densify(coll.get_transform().transform(seg)), ax))
        elif isinstance(coll, PathCollection):
            out.append(_clip(coll.get_offset_transform().transform(coll.get_offsets()), ax))
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_visible():
            bb = patch.get_window_extent()
            gx, gy = np.meshgrid(np.linspace(bb.x0, bb.x1, 12), np.linspace(bb.y0, bb.y1, 12))
            out.append(_clip(np.column_stack([gx.ravel(), gy.ravel()]), ax))
    return np.vstack([o for o in out if len(o)]) if any(len(o) for o in out) else np.zeros((0, 2))


def _bands_cover(ax, box):
    """True when a filled band (PolyCollection) of ``ax`` covers part of ``box``."""
    gx, gy = np.meshgrid(np.linspace(box.x0 + 2, box.x1 - 2, 9), np.linspace(box.y0 + 2, box.y1 - 2, 5))
    probe = _clip(np.column_stack([gx.ravel(), gy.ravel()]), ax)
    if not len(probe):
        return False
    for coll in ax.collections:
        if isinstance(coll, PolyCollection) and coll.get_visible() and coll.get_alpha() != 0:
            for path in coll.get_paths():
                disp = coll.get_transform().transform_path(path)
                if disp.contains_points(probe).any():
                    return True
    return False


def _gid_vars(artist, kind):
    gid = (artist.get_gid() or "").split("@")[0]
    if not gid.startswith(kind + ":"):
        return set()
    return {v for v in gid[len(kind) + 1 :].split(",") if v}


def _series(artist):
    """The series an artist belongs to (gid suffix ``@SERIES``), or None."""
    gid = artist.get_gid() or ""
    return gid.split("@", 1)[1] if "@" in gid else None


def _artists(ax):
    items = list(ax.get_lines()) + list(ax.collections) + list(ax.texts) + list(ax.patches)
    for table in ax.tables:
        items += [c.get_text() for c in table.get_celld().values()]
    return items


def _shows_in_axes(artist, ax):
    """The artist is visible and has something inside the axes' view."""
    if not artist.get_visible() or artist.get_alpha() == 0:
        return False
    if isinstance(artist, Line2D):
        if artist.get_linewidth() == 0 and artist.get_marker() in ("None", None, "", " "):
            return False
        xy = _line_display(artist)
        return bool(len(_clip(xy[np.all(np.isfinite(xy), axis=1)], ax)))
    if isinstance(artist, LineCollection):
        return any(len(_clip(artist.get_transform().transform(s), ax)) for s in artist.get_segments())
    if isinstance(artist, Text):
        return bool(artist.get_text().strip())
    return True


def _rgb(artist):
    try:
        c = artist.get_color()
    except AttributeError:
        return None
    arr = np.asarray(matplotlib.colors.to_rgba_array(c))[:, :3]
    return arr


def _predictions(study, ds):
    theory = study.theory(ds)
    if theory is None:
        return []
    return [v for v in theory.data_vars if theory[v].attrs.get("role") != "auxiliary"]


# ------------------------------------------------------------------------------------------ tests


@pytest.fixture(scope="module", params=NAMES)
def rendered(request):
    study, ds, fig = _rendered(request.param)
    yield study, ds, fig
    plt.close(fig)
    _rendered.cache_clear()


def test_every_prediction_is_drawn_visibly_above_the_simulation(rendered):
    study, ds, fig = rendered
    problems = []
    theory_labels = set()
    for var in _predictions(study, ds):
        ok = False
        why = "no artist with gid theory:" + var
        for ax in fig.axes:
            arts = _artists(ax)
            sims = [a for a in arts if (a.get_gid() or "").startswith("sim:")]
            top = max((a.get_zorder() for a in sims), default=-np.inf)
            sim_colors = [c for a in sims if isinstance(a, Line2D) for c in [_rgb(a)] if c is not None]
            for a in arts:
                if var not in _gid_vars(a, "theory"):
                    continue
                if not _shows_in_axes(a, ax):
                    why = f"theory:{var} artist is hidden or outside the view"
                    continue
                if not a.get_zorder() > top:
                    why = f"theory:{var} (zorder {a.get_zorder()}) is not above the simulation (zorder {top})"
                    continue
                mine = _rgb(a)
                if (
                    isinstance(a, Line2D)
                    and a.get_linestyle() not in ("None", "none")
                    and mine is not None
                    and any(np.allclose(mine[0], c[0], atol=0.02) for c in sim_colors)
                ):
                    why = f"theory:{var} has the colour of a simulation line under it"
                    continue
                ok = True
                if isinstance(a, Line2D) and a.get_label() and not a.get_label().startswith("_"):
                    theory_labels.add(a.get_label())
        for ax in fig.axes:
            for cont in ax.containers:
                kids = [c for c in cont.get_children() if var in _gid_vars(c, "theory")]
                if kids and cont.get_label() and not cont.get_label().startswith("_"):
                    theory_labels.add(cont.get_label())
        if not ok:
            problems.append(why)
    if _predictions(study, ds):
        legend_texts = {t.get_text() for leg in _legends(fig) for t in leg.get_texts()}
        if not any("theory" in t.lower() or t in theory_labels for t in legend_texts):
            problems.append(f"no legend names the theory (legend entries: {sorted(legend_texts)})")
    assert not problems, f"{study.name}: " + "; ".join(problems)


GAP = 1.0
"""Texts must be at least this many pixels apart (at the figure's dpi): touching is overlapping."""


def test_no_two_text_boxes_overlap_and_all_text_is_inside_and_large_enough(rendered):
    study, ds, fig = rendered
    r = _renderer(fig)
    items = [(t, what, t.get_window_extent(r)) for t, what in _texts(fig)]
    figbox = fig.bbox
    problems = []
    for t, what, bb in items:
        if t.get_fontsize() < MIN_FONT - 1e-9:
            problems.append(f"{what} {t.get_text()!r} is {t.get_fontsize():g} pt")
        if bb.x0 < figbox.x0 - 1 or bb.x1 > figbox.x1 + 1 or bb.y0 < figbox.y0 - 1 or bb.y1 > figbox.y1 + 1:
            problems.append(f"{what} {t.get_text()!r} runs off the figure")
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            (a, wa, ba), (b, wb, bb) = items[i], items[j]
            grown_a = Bbox.from_extents(ba.x0 - GAP, ba.y0 - GAP, ba.x1 + GAP, ba.y1 + GAP)
            if grown_a.overlaps(bb):
                problems.append(f"{wa} {a.get_text()!r} overlaps {wb} {b.get_text()!r}")
    assert not problems, f"{study.name}: " + "; ".join(problems[:12])


def test_no_legend_covers_plotted_data(rendered):
    study, ds, fig = rendered
    r = _renderer(fig)
    problems = []
    for leg in _legends(fig):
        box = leg.get_window_extent(r)
        for i, ax in enumerate(fig.axes):
            if not ax.get_visible() or not box.overlaps(ax.bbox):
                continue
            pts = _data_points(ax)
            n = int(_inside(pts, box).sum())
            if n:
                problems.append(f"a legend covers {n} plotted points of axes {i} ({ax.get_title()!r})")
            elif _bands_cover(ax, box):
                problems.append(f"a legend covers a band of axes {i} ({ax.get_title()!r})")
        for other in fig.axes:
            for table in other.tables:
                if box.overlaps(table.get_window_extent(r)):
                    problems.append("a legend covers a table")
    assert not problems, f"{study.name}: " + "; ".join(problems)


def test_no_line_crosses_a_singularity(rendered):
    study, ds, fig = rendered
    problems = []
    for i, ax in enumerate(fig.axes):
        poles = [
            (float(np.asarray(line.get_xdata())[0]), _series(line))
            for line in ax.get_lines()
            if (line.get_gid() or "").split("@")[0] == "singularity"
        ]
        if not poles:
            continue
        for line in ax.get_lines():
            gid = line.get_gid() or ""
            if not (gid.startswith("sim:") or gid.startswith("theory:")):
                continue
            if line.get_linestyle() in ("None", "none", "", " "):
                continue
            x = np.asarray(line.get_xdata(), float)
            y = np.asarray(line.get_ydata(), float)
            ok = np.isfinite(x) & np.isfinite(y)
            for x0, series in poles:
                if series is not None and series != _series(line):
                    continue
                side = np.sign(x - x0)
                cross = ok[:-1] & ok[1:] & (side[:-1] * side[1:] < 0)
                if cross.any():
                    problems.append(
                        f"axes {i}: {gid} joins x={x[:-1][cross][0]:g} and x={x[1:][cross][0]:g} across {x0:g}"
                    )
        for coll in ax.collections:
            if not isinstance(coll, PolyCollection) or not (coll.get_gid() or "").startswith(("sim:", "theory:")):
                continue
            for path in coll.get_paths():
                xs = path.vertices[:, 0]
                for x0, series in poles:
                    if series is not None and series != _series(coll):
                        continue
                    if xs.min() < x0 - 1e-12 and xs.max() > x0 + 1e-12:
                        problems.append(f"axes {i}: band {coll.get_gid()} spans the singularity at {x0:g}")
    assert not problems, f"{study.name}: " + "; ".join(problems)


_SPELLED = re.compile(
    r"(?<![A-Za-z])(alpha|beta|gamma|delta|Delta|zeta|eta|theta|kappa|lambda|mu|sigma|tau|phi|psi|Gamma|Psi|Phi)"
    r"(?![A-Za-z])|\^\d|_hat|\bsqrt\(|\|\|"
)


def test_symbols_are_mathtext_not_spelled_out(rendered):
    study, ds, fig = rendered
    problems = []
    for t, what in _texts(fig):
        plain = re.sub(r"\$[^$]*\$", "", t.get_text())
        m = _SPELLED.search(plain)
        if m:
            problems.append(f"{what} {t.get_text()!r} spells {m.group(0)!r}")
    assert not problems, f"{study.name}: " + "; ".join(problems[:12])


@pytest.mark.parametrize("name", NAMES)
def test_no_dimension_is_named_like_an_xarray_keyword(name):
    study, ds = _dataset(name)
    clash = XARRAY_KEYWORDS & set(map(str, ds.dims))
    assert not clash, f"{name}: dimensions {sorted(clash)} collide with xarray keywords (ds.sel(NAME=...) fails)"
    for dim in ds.dims:
        if dim in ds.coords and ds[dim].size:
            ds.sel(**{str(dim): ds[dim].values[0]})  # selecting by keyword works for every dimension


def test_importing_plotting_keeps_the_users_backend():
    """A notebook's inline backend (here: svg, chosen before the import) survives ``import simkit.plotting``."""
    import subprocess
    import sys

    code = "import matplotlib; matplotlib.use('svg'); import simkit.plotting; print(matplotlib.get_backend())"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "svg"
