"""One house style for every figure: simulation mean with a 95% band, theory dashed.

Figures are written as PNG and PDF with :func:`save_figure` (atomically: no half-written file
is left behind).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .stats import summarize  # noqa: E402
from .storage import publish  # noqa: E402

__all__ = ["style", "figure", "band", "theory_line", "save_figure", "COLORS"]

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.5,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
}


@contextlib.contextmanager
def style():
    """Context manager applying the house style to figures created inside it."""
    with matplotlib.rc_context(_RC):
        yield


def figure(nrows=1, ncols=1, *, width=3.2, height=2.6, title=None, **kwargs):
    """A house-style figure with a grid of axes (``width``/``height`` per panel, in inches).

    Returns ``(fig, axes)`` with ``axes`` always a 2-D array.
    """
    with style():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, constrained_layout=True, **kwargs
        )
        if title:
            fig.suptitle(title)
    return fig, axes


def band(ax, x, values, *, dim="rep", label=None, color=None, marker=None, level=0.95):
    """Plot the mean of ``values`` over ``dim`` against ``x`` with its ``level`` interval shaded.

    ``values`` is a DataArray whose only other dimension matches ``x``.
    """
    with style():
        s = summarize(values, dim, level)
        mean = np.asarray(s["mean"].values, dtype=float)
        lower = np.asarray(s["lower"].values, dtype=float)
        upper = np.asarray(s["upper"].values, dtype=float)
        (line,) = ax.plot(x, mean, label=label, color=color, marker=marker, markersize=3)
        ax.fill_between(x, lower, upper, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def theory_line(ax, x, y, *, color=None, label=None):
    """Plot a theory curve as a dashed black-edged line in ``color``."""
    with style():
        (line,) = ax.plot(x, y, linestyle="--", color=color or "black", linewidth=1.2, label=label)
    return line


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
