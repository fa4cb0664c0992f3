"""What a study says about itself: parameters, outputs, checks, cost, and the plan of a run.

:func:`describe` renders ``simkit describe STUDY``; :func:`parameter_table` is also shown by
``simkit run STUDY --help``; :func:`plan` is ``simkit run ... --dry-run``: it evaluates one
cell at two replications in memory (a pilot: nothing is written) to measure the time and the
result size per replication, and extrapolates to the whole run.
"""

from __future__ import annotations

import math
import re
import textwrap
import time

from .study import Param, RunConfig, Study

__all__ = ["references", "parameter_table", "describe", "quick_facts", "pilot", "plan", "Pilot"]

_ARXIV = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5})", re.I)
_DOI = re.compile(r"(?:doi:\s*|https?://doi\.org/)(10\.\d{4,9}/[^\s,;)]+)", re.I)


def references(study: Study) -> list[str]:
    """The DOI and arXiv links named in ``study.paper``, as URLs.

    Parameters
    ----------
    study : Study
        Anything with a ``paper`` string (a citation).

    Returns
    -------
    list of str
        ``https://doi.org/...`` links first, then ``https://arxiv.org/abs/...``; empty when the
        citation has neither.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> references(SimpleNamespace(paper="A et al., Title, ICML 2023, arXiv:2303.09390"))
    ['https://arxiv.org/abs/2303.09390']
    """
    out = [f"https://doi.org/{m}" for m in _DOI.findall(study.paper)]
    out += [f"https://arxiv.org/abs/{m}" for m in _ARXIV.findall(study.paper)]
    return out


def _range_text(p: Param) -> str:
    if p.choices is not None:
        return "{" + ", ".join(map(str, p.choices)) + "}"
    if p.kind is bool:
        return "true/false"
    if p.kind is str:
        return "text"
    lo = "-∞" if p.low is None else f"{p.low:g}"
    hi = "∞" if p.high is None else f"{p.high:g}"
    left = "[" if (p.low is not None and p.low_inclusive) else "("
    right = "]" if (p.high is not None and p.high_inclusive) else ")"
    return f"{left}{lo}, {hi}{right}"


def _values(study: Study, name: str, quick: bool) -> str:
    grid = study.quick_grid if quick else study.grid
    settings = study.quick_settings if quick else study.settings
    if name in grid:
        return ",".join(_fmt(v) for v in grid[name])
    if name in settings:
        return _fmt(settings[name])
    return "-"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def parameter_table(study: Study, width: int = 100) -> str:
    """One row per declared parameter: name, swept or fixed, type, allowed range, units, values.

    Long cells are cut with ``…``; each parameter's help text follows the table, wrapped.

    Parameters
    ----------
    study : Study
    width : int, optional
        Largest line length of the help texts; default 100.

    Returns
    -------
    str
        The table (as in ``simkit describe`` and ``simkit run STUDY --help``).

    Examples
    --------
    >>> from simkit.study import Param, Study
    >>> study = Study("demo", "t", "p", "demo", "", (Param("M", int, "sample size", low=2, units="1"),),
    ...               {"M": (10, 100)}, {}, 100, {"M": (10,)}, {}, 10, None, None, None, None)
    >>> print(parameter_table(study))
      name  role   type  range   units  full    quick
      -----------------------------------------------
      M     swept  int   [2, ∞)  1      10,100  10
    <BLANKLINE>
      M: sample size
    """
    rows = [("name", "role", "type", "range", "units", "full", "quick")]
    for p in study.params:
        role = "swept" if p.name in study.grid else "fixed"
        rows.append(
            (
                p.name,
                role,
                p.kind.__name__,
                _range_text(p),
                p.units or "-",
                _values(study, p.name, False),
                _values(study, p.name, True),
            )
        )
    caps = [14, 5, 5, 18, 10, 20, 16]
    cut = [tuple(c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, caps)) for r in rows]
    widths = [max(len(r[i]) for r in cut) for i in range(len(caps))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cut]
    lines.insert(1, "  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
    helps = [f"{p.name}: {p.help}" for p in study.params if p.help]
    if helps:
        lines.append("")
        for h in helps:
            lines += textwrap.wrap(h, width, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


class Pilot:
    """Time and size per replication measured on one cell (see :func:`pilot`).

    Parameters
    ----------
    seconds_per_rep : float
        Wall-clock seconds per replication of the cell (fixed cost of a call removed).
    bytes_per_rep : float
        Bytes of the cell's result dataset per replication (in memory, before compression).
    dataset : xarray.Dataset
        The larger pilot's dataset.

    Examples
    --------
    >>> p = Pilot(0.002, 800.0, None)
    >>> p.seconds_per_rep * 1000   # seconds for 1000 replications
    2.0
    """

    def __init__(self, seconds_per_rep: float, bytes_per_rep: float, dataset):
        self.seconds_per_rep = seconds_per_rep
        self.bytes_per_rep = bytes_per_rep
        self.dataset = dataset


def pilot(study: Study, cfg: RunConfig, reps: int = 16, cell_index: int = 0) -> Pilot:
    """Evaluate the first cell in memory at 2 and at ``reps`` replications (after a warm-up call
    that compiles), and return the slope: seconds and result bytes per replication of one cell.
    The slope removes the fixed cost of a call (thread start-up, allocation) from the estimate.

    Parameters
    ----------
    study : Study
        A registered study (the cell is evaluated by name, as a worker would).
    cfg : RunConfig
        The run's configuration (:meth:`Study.config`).
    reps : int, optional
        Replications of the larger pilot (at most ``cfg.reps``); default 16.
    cell_index : int, optional
        Which of ``cfg.cells()`` to time; default the first.

    Returns
    -------
    Pilot
        Seconds and bytes per replication, and the larger pilot's dataset.

    Examples
    --------
    >>> import simkit
    >>> study = simkit.get_study("preference-doubly-robust")
    >>> p = pilot(study, study.config(quick=True, backend="numpy"), reps=4)
    >>> p.seconds_per_rep > 0, p.dataset.sizes["rep"]
    (True, 4)
    """
    from .sweep import run_unit

    cell = cfg.cells()[cell_index]
    big = max(2, min(reps, cfg.reps))
    small = min(2, big)

    def timed(count):
        start = time.perf_counter()
        ds = run_unit(cfg.study, cfg.settings, cell, cfg.seed, 0, count, cfg.backend)
        return time.perf_counter() - start, ds

    timed(small)
    t_small, _ = timed(small)
    t_big, ds = timed(big)
    if big > small:
        per_rep = max((t_big - t_small) / (big - small), 0.1 * t_big / big)
    else:
        per_rep = t_big / big
    return Pilot(per_rep, ds.nbytes / big, ds)


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def _human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.2g} s"
    if s < 7200:
        return f"{s / 60:.2g} min"
    return f"{s / 3600:.3g} h"


def plan(study: Study, cfg: RunConfig, out, workers: int = 1) -> str:
    """The plan of a run, printed by ``--dry-run``: cells, units, replications, files, estimates.

    Runs :func:`pilot` on the first and the last cell (in memory: nothing is written).

    Parameters
    ----------
    study : Study
        A registered study.
    cfg : RunConfig
        The run's configuration.
    out : path or None
        The results folder the run would write to (``None``: in memory).
    workers : int, optional
        Worker processes the run would use (for the time estimate); default 1.

    Returns
    -------
    str
        The plan, one line per item, ending with ``dry run: nothing was written``.

    Examples
    --------
    >>> import simkit
    >>> study = simkit.get_study("preference-doubly-robust")
    >>> text = plan(study, study.config(quick=True, backend="numpy"), None)
    >>> print(text.splitlines()[0])
    preference-doubly-robust: 1 cell × 400 replications = 400 cell-replications in 16 units (backend numpy, seed 0)
    >>> text.splitlines()[-2:]
    ['files: none (in memory)', 'dry run: nothing was written']
    """
    from .sweep import plan_units
    from .threads import cores

    units = plan_units(cfg)
    cells = cfg.cells()
    pilots = [pilot(study, cfg, cell_index=i) for i in sorted({0, len(cells) - 1})]
    seconds_per_rep = sum(q.seconds_per_rep for q in pilots) / len(pilots)
    bytes_per_rep = sum(q.bytes_per_rep for q in pilots) / len(pilots)
    total_reps = cfg.reps * len(cells)
    serial = seconds_per_rep * total_reps
    lines = [
        f"{study.name}: {len(cells)} cell{'s' if len(cells) != 1 else ''} × {cfg.reps} replications "
        f"= {total_reps} cell-replications in {len(units)} units (backend {cfg.backend}, seed {cfg.seed})",
        "grid: " + "; ".join(f"{k} = {','.join(_fmt(v) for v in vals)}" for k, vals in cfg.grid.items()),
    ]
    if cfg.inner:
        lines.append(f"evaluated together in each cell (shared draws): {', '.join(cfg.inner)}")
    lines.append(
        f"estimated time: {_human_seconds(serial)} in one process"
        + (
            f", about {_human_seconds(serial / min(workers, cores()))} with {min(workers, cores())} workers"
            if workers > 1
            else ""
        )
        + " (from pilots of the first and last cells at 2 and 16 replications; other cells may differ)"
    )
    lines.append(
        f"estimated result size in memory: {_human_bytes(bytes_per_rep * total_reps)} (before compression on disk)"
    )
    if out is None:
        lines.append("files: none (in memory)")
    else:
        from pathlib import Path

        folder = Path(out) / study.name
        lines.append(f"files: {folder / (study.name + '.nc')}, .png, .pdf; checkpoints under {folder / '.checkpoints'}")
    lines.append("dry run: nothing was written")
    return "\n".join(lines)


def describe(study: Study, width: int = 100) -> str:
    """The text of ``simkit describe STUDY``.

    The title, the paper and its links, what the study teaches, the parameter table, the cost
    of a full and a quick run, the output variables (with dimensions and units) and the checks'
    claims.  The last two come from :func:`quick_facts` (one quick run, then cached).

    Parameters
    ----------
    study : Study
    width : int, optional
        Largest line length; default 100.

    Returns
    -------
    str
        The description (no trailing newline).

    Examples
    --------
    >>> import simkit
    >>> text = describe(simkit.get_study("preference-doubly-robust"))
    >>> print(text.splitlines()[0])
    preference-doubly-robust — Doubly robust preference estimation: consistent when either the preference model or the propensity is right
    >>> "outputs (dataset variables" in text and "checks (each passes" in text
    True
    """
    refs = references(study)
    cells_full = math.prod(len(v) for v in study.grid.values())
    cells_quick = math.prod(len(v) for v in study.quick_grid.values())
    wrap = lambda text, indent="  ": "\n".join(  # noqa: E731
        textwrap.fill(par, width, initial_indent=indent, subsequent_indent=indent)
        for par in text.split("\n")
        if par.strip()
    )
    parts = [
        f"{study.name} — {study.title}",
        "",
        f"paper: {study.paper}",
        f"links: {', '.join(refs) if refs else '(no DOI or arXiv identifier recorded)'}",
        f"family: {study.family}; backends: {', '.join(study.backends)}",
        "",
        "what it teaches:",
        wrap(study.teaching),
        "",
        "parameters:",
        parameter_table(study, width),
        "",
        "cost:",
        f"  full:  {cells_full} grid points × {study.reps} replications   (simkit run {study.name})",
        f"  quick: {cells_quick} grid points × {study.quick_reps} replications   (simkit run {study.name} --quick)",
        f"  a time estimate for any settings: simkit run {study.name} [--quick] [--set ...] --dry-run",
    ]
    facts = quick_facts(study)
    parts += ["", f"outputs (dataset variables; dims in order, {study.rep_dim} = replication):"]
    for v in facts["variables"]:
        units = f" [{v['units']}]" if v["units"] else ""
        line = f"{v['name']}({', '.join(v['dims'])}){units}: {v['long_name']}"
        parts += textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="      ")
    parts += [
        "",
        "checks (each passes, fails on evidence against its claim, or is inconclusive when the",
        "replications cannot decide):",
    ]
    for claim in facts["checks"]:
        parts += textwrap.wrap(claim, width, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(parts)


def quick_facts(study: Study) -> dict:
    """The variables and check claims of ``study``, from one quick run in memory (cached).

    The cache lives under ``$XDG_CACHE_HOME/simkit`` (default ``~/.cache/simkit``), keyed by the
    simkit version and a hash of the study module's source, so a changed study is run again.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict
        ``variables``: a list of dicts with ``name``, ``dims`` (list of str), ``units`` and
        ``long_name`` for every data variable of the result; ``checks``: the checks' claims
        (list of str).

    Examples
    --------
    >>> import simkit
    >>> facts = quick_facts(simkit.get_study("preference-doubly-robust"))
    >>> facts["variables"][0]["name"], facts["variables"][0]["units"]
    ('estimate', 'preference')
    >>> len(facts["checks"])
    5
    """
    import hashlib
    import inspect
    import json
    import os
    from pathlib import Path

    from . import __version__

    try:
        source = inspect.getsource(inspect.getmodule(study.simulate))
    except (OSError, TypeError):
        source = repr(study)
    key = hashlib.sha256(f"{__version__}\0{study.name}\0{source}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simkit" / "describe"
    path = cache / f"{study.name}-{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    from .api import run_study

    result = run_study(study, quick=True, out=None, progress=False)
    ds = result.dataset
    facts = {
        "variables": [
            {
                "name": name,
                "dims": list(var.dims),
                "units": str(var.attrs.get("units", "")),
                "long_name": str(var.attrs.get("long_name", name)),
            }
            for name, var in ds.data_vars.items()
        ],
        "checks": [c.claim or c.name for c in result.checks],
    }
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(facts))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: describe still works, only slower next time
    return facts
