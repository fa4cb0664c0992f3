"""The public entry point: run a study end to end.

>>> from simkit import run_study
>>> result = run_study("collapse-gaussian", quick=True, out=None, progress=False)  # doctest: +SKIP
>>> all(c.passed for c in result.checks)  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import time
from pathlib import Path

import xarray as xr

from .backends import gpu_name, resolve_backend
from .checks import checks_to_json
from .errors import BackendError, OutputError, ParameterError, ParameterTypeError, SimkitError
from .executors import make_executor
from .locking import FolderBusyError, hold
from .registry import get_study
from .storage import ensure_writable, provenance, remove_stale_temporaries, write_dataset
from .study import Check, Study
from .sweep import config_key, evaluate

__all__ = ["RunResult", "run_study", "finish_dataset", "summarize_dataset"]


@dataclasses.dataclass
class RunResult:
    """What :func:`run_study` returns.

    Parameters
    ----------
    study : Study
        The study that ran.
    dataset : xarray.Dataset
        The full results: the grid's dimensions, the study's own, then the replication dimension
        (``study.rep_dim``); theory variables, settings and provenance attributes, and the checks.
    checks : list of Check
        The study's checks on ``dataset``, each ``pass``, ``fail`` or ``inconclusive``.
    paths : list of pathlib.Path
        The files written (``STUDY.nc``, ``.png``, ``.pdf``); empty with ``out=None``.
    reused : int
        Units (a cell and a block of replications) read back from verified checkpoints.
    computed : int
        Units computed by this run.
    wall_seconds : float
        Wall time of the sweep, in seconds (without writing the outputs).

    Examples
    --------
    >>> result = run_study("seqbayes-forgetting", quick=True, reps=200, out=None, progress=False, plot=False)
    >>> result.computed, result.reused, result.paths
    (20, 0, [])
    >>> {c.outcome for c in result.checks} <= {"pass", "fail", "inconclusive"}
    True
    """

    study: Study
    dataset: xr.Dataset
    checks: list[Check]
    paths: list[Path]
    reused: int
    computed: int
    wall_seconds: float

    @property
    def passed(self) -> bool:
        """True when every check passed (none failed and none was inconclusive)."""
        return all(c.outcome == "pass" for c in self.checks)

    @property
    def failed(self) -> bool:
        """True when some check failed: evidence against its claim (inconclusive is not failure)."""
        return any(c.failed for c in self.checks)


def run_study(
    study,
    *,
    quick: bool = False,
    reps: int | None = None,
    seed: int = 0,
    backend: str = "auto",
    overrides: dict | None = None,
    workers: int = 1,
    dask: str | None = None,
    out="results",
    fresh: bool = False,
    progress: bool = True,
    plot: bool = True,
    store: str = "full",
) -> RunResult:
    """Run ``study`` over its grid, add theory and checks, and (if ``out``) save and plot it.

    Parameters
    ----------
    study : str or Study
        A registered study name or a :class:`~simkit.study.Study`.
    quick : bool
        Use the study's quick grid, settings and replications (seconds, for CI).
    reps : int, optional
        Replications per cell (default: the study's).
    seed : int
        Run seed (>= 0); replication streams derive from it.
    backend : {"auto", "numpy", "numba", "cuda"}
    overrides : dict, optional
        Parameter name → value (a setting) or sequence of values (a grid dimension).
    workers : int
        Local worker processes (1 = run in this process).
    dask : str, optional
        Dask scheduler address, or ``"local"`` for a local cluster.
    out : path or None
        Results folder: writes ``OUT/STUDY/STUDY.nc``, ``.png``, ``.pdf`` and checkpoints.
        ``None`` keeps everything in memory (no checkpoints).
    fresh : bool
        Ignore existing checkpoints.
    store : {"full", "summary"}
        What ``STUDY.nc`` keeps: every replication (``full``), or for each variable with a
        replication dimension its mean, standard error and count over replications (``summary``;
        for large sweeps).  Checks and the figure always use the full data, before it is reduced;
        the returned dataset is always full.

    plot : bool
        Draw and save the figure (``STUDY.png``, ``STUDY.pdf``) when ``out`` is given.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    RunResult
        The dataset (dims: grid, then the study's, then ``rep``), the checks, the files written and
        how many units were reused or computed.

    Raises
    ------
    SimkitError
        A one-line error on bad input, before anything runs: :class:`~simkit.errors.ParameterError`
        for a value out of range or a run too large for the memory (:func:`check_memory`),
        :class:`~simkit.errors.BackendError`, :class:`~simkit.errors.OutputError`, …

    Examples
    --------
    >>> result = run_study("collapse-gaussian", quick=True, out=None, progress=False)  # doctest: +SKIP
    >>> result.dataset["variance"].dims  # doctest: +SKIP
    ('fit', 'mode', 'M', 'generation', 'rep')
    """
    study = _resolve_study(study)
    if store not in ("full", "summary"):
        raise ParameterError(f"store must be 'full' or 'summary', got {store!r}")
    resolved = resolve_backend(backend)
    if resolved not in study.backends:
        raise BackendError(
            f"backend {resolved!r} is not implemented for {study.name}; choose one of {', '.join(study.backends)}"
        )
    cfg = study.config(quick=quick, reps=reps, seed=seed, backend=resolved, overrides=overrides)
    check_memory(study, cfg)
    executor = make_executor(workers, dask)
    folder = None
    created = False
    if out is not None:
        if not isinstance(out, (str, os.PathLike)):
            raise ParameterTypeError(f"out must be a folder path or None, got {type(out).__name__}")
        target = Path(out) / study.name
        created = not target.exists()
        folder = ensure_writable(target)
        for suffix in (".nc", ".png", ".pdf") if plot else (".nc",):
            if (folder / f"{study.name}{suffix}").is_dir():
                _remove_if_empty(folder if created else None)
                raise OutputError(f"cannot write {folder / (study.name + suffix)}: a folder of that name is in the way")
    checkpoints = None if folder is None else folder / ".checkpoints"
    try:
        with contextlib.ExitStack() as stack:
            if folder is not None:
                stack.enter_context(hold(folder))
                remove_stale_temporaries(folder)
            start = time.perf_counter()
            with executor:
                ds, reused, computed = evaluate(
                    study,
                    cfg,
                    executor,
                    checkpoint_dir=checkpoints,
                    fresh=fresh,
                    progress=progress,
                )
            wall = time.perf_counter() - start
            ds, checks = finish_dataset(study, cfg, ds, wall)
            paths = []
            if folder is not None:
                paths = _write_outputs(study, ds, folder, plot, store)
                shutil.rmtree(checkpoints / config_key(cfg), ignore_errors=True)
                _remove_if_empty(checkpoints)
    except SimkitError as exc:
        if folder is not None and not isinstance(exc, FolderBusyError):
            # nothing was checkpointed: leave no empty folders behind
            if checkpoints.is_dir():
                for sub in checkpoints.iterdir():
                    _remove_if_empty(sub)
            _remove_if_empty(checkpoints, folder if created else None)
        raise
    return RunResult(study, ds, checks, paths, reused, computed, wall)


PILOT_THRESHOLD = 200_000  # cell-replications beyond which a run's memory is estimated before it starts
# bytes a run holds at its peak per byte of results: the streamed assembly's arrays (one copy) and the
# theory, checks and temporaries of finish_dataset.  Measured: collapse-gaussian --quick --reps 20000 (an
# 88.5 MB dataset) peaks at 175 MB traced (2.0x; 132 MB of RSS above the interpreter's, 1.5x); holding
# every unit and concatenating them, as before the streamed assembly, took 356 MB (4.0x; 311 MB of RSS)
RESULT_COPIES = 2.0


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation.

    Returns
    -------
    int or None
        Linux ``MemAvailable`` (or the available physical pages elsewhere), in bytes; ``None`` when
        it cannot be read (then :func:`check_memory` refuses nothing).

    Examples
    --------
    >>> available_memory() is None or available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(study: Study, cfg) -> None:
    """Refuse up front a run that cannot fit in memory, before anything is allocated.

    Two estimates are compared with 80% of :func:`available_memory`:

    * the working memory of the replications in flight at once (one per thread, at most
      ``2 * cores``): the study's declared :attr:`~simkit.study.Study.memory` of one replication of
      each cell, times that number;
    * for runs of at least :data:`PILOT_THRESHOLD` cell-replications, the results: one replication
      of the first and of the last cell is evaluated in memory to measure the result size per
      replication, and the run holds about :data:`RESULT_COPIES` times that per cell-replication
      (the assembled dataset, plus the units in flight and the dataset being finished).

    Parameters
    ----------
    study : Study
        The study; its ``memory(params)`` (bytes per replication) is used when declared.
    cfg : RunConfig
        The validated run configuration (:meth:`Study.config`).

    Raises
    ------
    ParameterError
        One line naming what to lower and the estimate against the memory available: for the
        working memory, the parameter that makes a replication large (``NAME=VALUE: one replication
        needs about … GB …``); for the results, ``reps``.  Nothing is raised when the available
        memory is unknown.

    Examples
    --------
    >>> from simkit.registry import get_study
    >>> study = get_study("collapse-gaussian")
    >>> check_memory(study, study.config(quick=True, backend="numpy"))  # fits: returns None
    """
    from .rng import rep_states

    cells = cfg.cells()
    total = cfg.reps * len(cells)
    available = available_memory()
    if available is None:
        return
    check_working_memory(study, cfg)
    if total < PILOT_THRESHOLD:
        return
    per_rep = 0.0
    for i in sorted({0, len(cells) - 1}):
        outer = {k: v for k, v in cells[i].items() if k not in study.inner}
        ds = study.simulate({**cfg.settings, **cells[i]}, rep_states(cfg.seed, study.name, outer, 1), cfg.backend)
        per_rep = max(per_rep, float(ds.nbytes))
    need = RESULT_COPIES * per_rep * total
    if need > 0.8 * available:
        raise ParameterError(
            f"reps: {cfg.reps} replications × {len(cells)} cells need about {need / 1e9:.3g} GB of memory for the "
            f"results, more than the {0.8 * available / 1e9:.3g} GB available; lower --reps or the grid"
        )


def check_working_memory(study: Study, cfg) -> None:
    """Refuse a run whose replications in flight need more working memory than is available.

    The first half of :func:`check_memory`, from the study's declared
    :attr:`~simkit.study.Study.memory` alone (arithmetic, nothing is allocated).
    :meth:`Study.config <simkit.study.Study.config>` calls it before the study's own
    ``validate_cell``, which may build a cell's instance.

    Parameters
    ----------
    study : Study
        The study; nothing is checked when it declares no ``memory``.
    cfg : RunConfig
        The run configuration (grid, settings, replications).

    Raises
    ------
    ParameterError
        ``NAME=VALUE: one replication needs about … GB …``, naming the parameter that makes a
        replication large, when one replication per thread (at most ``2 * cores``) of some cell
        needs more than 80% of :func:`available_memory`.

    Examples
    --------
    >>> from simkit.registry import get_study
    >>> study = get_study("collapse-gaussian")
    >>> check_working_memory(study, study.config(quick=True, backend="numpy"))  # fits: returns None
    """
    from .threads import cores

    if study.memory is None:
        return
    available = available_memory()
    if available is None:
        return
    # replications in flight at once: one per thread (a prange loop or one unit per worker)
    in_flight = min(cfg.reps, 2 * cores())
    for cell in cfg.cells():
        params = {**cfg.settings, **cell}
        try:
            need = float(study.memory(params)) * in_flight
        except (ArithmeticError, ValueError, TypeError, KeyError):
            continue  # a cell the formula cannot size: validate_cell says what is wrong with it
        if need > 0.8 * available:
            raise ParameterError(
                f"{_memory_culprit(study, params)}: one replication needs about {need / in_flight / 1e9:.3g} GB "
                f"of working memory ({need / 1e9:.3g} GB for {in_flight} at once), more than the "
                f"{0.8 * available / 1e9:.3g} GB available; lower it"
            )


def _memory_culprit(study: Study, params: dict) -> str:
    """``NAME=VALUE`` of the parameter that makes one replication of ``params`` large.

    The parameter whose value, put back to the study's own (its setting, or the cheapest of its grid
    values), lowers the declared memory the most; failing that (a run at or below the study's own
    sizes), the numeric parameter whose doubling raises it the most.
    """
    need = float(study.memory(params))

    def memory_with(name, value):
        try:
            return float(study.memory({**params, name: value}))
        except Exception:  # a value the formula cannot take: not the culprit
            return math.inf

    def own_values(name):
        if name in study.inner:
            return [study.grid[name], study.quick_grid[name]]
        if name in study.grid:
            return list(study.grid[name]) + list(study.quick_grid[name])
        return [v[name] for v in (study.settings, study.quick_settings) if name in v]

    best, culprit = need, None
    for name in params:
        for own in own_values(name):
            alt = memory_with(name, own)
            if alt < best:
                best, culprit = alt, name
    if culprit is None:
        best = need
        for name, value in params.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            alt = memory_with(name, 2 * value)
            if math.isfinite(alt) and alt > best:
                best, culprit = alt, name
    if culprit is None:
        return ", ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, tuple)) or "the settings"
    value = params[culprit]
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return f"{culprit}={text}"


def _resolve_study(study) -> Study:
    if isinstance(study, Study):
        return study
    if isinstance(study, str):
        return get_study(study)
    raise ParameterTypeError(f"study must be a study name or a simkit.study.Study, got {type(study).__name__}")


def _write_outputs(study: Study, ds: xr.Dataset, folder: Path, plot: bool, store: str = "full") -> list[Path]:
    """Write ``STUDY.nc`` and the figure; a full disk is one line, and no partial file is left."""
    from .plotting import save_figure

    fig = None
    if plot:
        try:
            fig = study.plot(ds)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise OutputError(
                f"the {study.name} figure could not be drawn from these results ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); the finished units stay checkpointed"
            ) from None
    saved = summarize_dataset(ds, study.rep_dim) if store == "summary" else ds
    paths = [write_dataset(saved, folder / f"{study.name}.nc")]
    if fig is not None:
        for fmt in ("png", "pdf"):
            if (folder / f"{study.name}.{fmt}").is_dir():
                raise OutputError(f"cannot write {folder / f'{study.name}.{fmt}'}: a folder of that name is in the way")
        try:
            paths += save_figure(fig, folder / study.name)
        except OSError as exc:
            raise OutputError(
                f"cannot write the figure in {folder}: {exc.strerror or type(exc).__name__} "
                "(the partial file was removed; the dataset and checkpoints are kept)"
            ) from None
    return paths


def summarize_dataset(ds: xr.Dataset, dim: str = "rep") -> xr.Dataset:
    """``ds`` with each variable over ``dim`` replaced by ``NAME_mean``, ``NAME_se`` and ``NAME_count``.

    Variables without ``dim`` (theory, fitted summaries) are kept as they are.  The dataset's
    attribute ``store`` becomes ``"summary"``.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's dataset (:attr:`RunResult.dataset`).
    dim : str
        The replication dimension to reduce (``study.rep_dim``).

    Returns
    -------
    xarray.Dataset
        The same dimensions without ``dim``: ``NAME_mean`` and ``NAME_se`` (the standard error of
        the mean) in the variable's units, ``NAME_count`` (int64, finite replications), for each
        variable that had ``dim``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"x": (("rep",), np.array([1.0, 2.0, 3.0]))})
    >>> s = summarize_dataset(ds)
    >>> float(s["x_mean"]), int(s["x_count"]), s.attrs["store"]
    (2.0, 3, 'summary')
    """
    from .stats import summarize

    out = ds.drop_vars([n for n, v in ds.data_vars.items() if dim in v.dims])
    for name, var in ds.data_vars.items():
        if dim not in var.dims:
            continue
        s = summarize(var, dim)
        base = dict(var.attrs)
        long_name = base.get("long_name", name)
        out[f"{name}_mean"] = s["mean"].assign_attrs({**base, "long_name": f"mean over {dim} of {long_name}"})
        out[f"{name}_se"] = s["se"].assign_attrs({**base, "long_name": f"standard error of the mean of {long_name}"})
        out[f"{name}_count"] = (
            s["count"].astype("int64").assign_attrs({"long_name": f"finite replications of {long_name}", "units": "1"})
        )
    if dim in out.coords:
        out = out.drop_vars(dim)
    return out.assign_attrs(store="summary")


def _api_call(study: Study, cfg) -> str:
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    cli = os.path.basename(argv0) == "simkit" or argv0.endswith(os.path.join("simkit", "__main__.py"))
    if cli and len(sys.argv) > 1:
        return " ".join(["simkit", *sys.argv[1:]])
    return (
        f"simkit.run_study({study.name!r}, reps={cfg.reps}, seed={cfg.seed}, backend={cfg.backend!r}, "
        f"grid={ {k: list(v) for k, v in cfg.grid.items()} })"
    )


def _source() -> str:
    """``simkit VERSION`` and, for a source checkout, its git revision."""
    import subprocess

    from . import __version__

    text = f"simkit {__version__}"
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            rev = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
            )
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            if rev.returncode == 0 and rev.stdout.strip():
                text += f" (git {rev.stdout.strip()}{'+changes' if dirty.stdout.strip() else ''})"
        except (OSError, subprocess.SubprocessError):
            pass
    return text


def _remove_if_empty(*folders) -> None:
    for folder in folders:
        if folder is None:
            continue
        with contextlib.suppress(OSError):
            Path(folder).rmdir()


def finish_dataset(study: Study, cfg, ds: xr.Dataset, wall_seconds: float, history: str | None = None):
    """Attach settings and provenance attributes, theory variables and checks to ``ds``.

    Follows the CF conventions' global attributes (``Conventions``, ``title``, ``history``,
    ``source``, ``references``) and gives every grid coordinate the ``long_name`` and ``units``
    of its declared :class:`~simkit.study.Param`.

    Parameters
    ----------
    study : Study
        The study that produced ``ds``.
    cfg : RunConfig
        Its run configuration (settings, seed, backend, reps, grid).
    ds : xarray.Dataset
        The combined sweep (:func:`simkit.sweep.evaluate`), with a ``rep`` dimension.
    wall_seconds : float
        Wall time of the sweep, in seconds (stored as provenance).
    history : str, optional
        The command recorded in the ``history`` attribute (default: this process's command line
        or the equivalent :func:`run_study` call).

    Returns
    -------
    ds : xarray.Dataset
        ``ds`` with ``rep`` renamed to ``study.rep_dim``, dims ordered by ``study.dims_order``, the
        theory variables merged and the attributes set (``checks`` as JSON, ``checks_passed``,
        ``checks_failed``, ``checks_inconclusive``).
    checks : list of Check
        The study's checks on it.

    Examples
    --------
    >>> from simkit.executors import SerialExecutor
    >>> from simkit.registry import get_study
    >>> from simkit.sweep import evaluate
    >>> study = get_study("seqbayes-forgetting")
    >>> cfg = study.config(quick=True, reps=200, backend="numpy")
    >>> with SerialExecutor() as executor:
    ...     ds, reused, computed = evaluate(study, cfg, executor, progress=False)
    >>> ds, checks = finish_dataset(study, cfg, ds, wall_seconds=0.0)
    >>> import json
    >>> ds.attrs["Conventions"], len(json.loads(ds.attrs["checks"])) == len(checks) == 6
    ('CF-1.10', True)
    """
    from .describe import references

    attrs = dict(cfg.settings)
    attrs.update(
        provenance(
            study=study.name,
            paper=study.paper,
            seed=cfg.seed,
            backend=cfg.backend,
            reps=cfg.reps,
            wall_seconds=wall_seconds,
            device=gpu_name() if cfg.backend == "cuda" else "cpu",
        )
    )
    attrs["title"] = study.title
    attrs["Conventions"] = "CF-1.10"
    attrs["source"] = _source()
    attrs["references"] = "; ".join([study.paper, *references(study)])
    attrs["history"] = f"{attrs['created']}: {history or _api_call(study, cfg)}"
    attrs["quick_grid"] = {k: list(v) for k, v in cfg.grid.items()} == {k: list(v) for k, v in study.quick_grid.items()}
    ds = ds.assign_attrs(attrs)
    for p in study.params:
        if p.name in ds.coords:
            ds[p.name].attrs.setdefault("long_name", p.help or p.name)
            if p.units:
                ds[p.name].attrs.setdefault("units", p.units)
    if "rep" in ds.coords:
        ds["rep"].attrs.setdefault("long_name", "replication index (its own random stream)")
    if study.rep_dim != "rep":
        ds = ds.rename(rep=study.rep_dim)
    if study.dims_order:
        ds = ds.transpose(*study.dims_order, ..., missing_dims="ignore")
    theory = study.theory(ds)
    if theory is not None:
        ds = ds.merge(theory, combine_attrs="override")
        ds.attrs.update({k: v for k, v in theory.attrs.items() if k not in ds.attrs})
    try:
        checks = list(study.checks(ds))
    except (KeyError, IndexError) as exc:
        # a --set grid without values the checks compare (e.g. a reference arm left out): say so,
        # keep the dataset, and do not call it a failure
        what = exc.args[0] if exc.args else exc
        checks = [
            Check(
                "checks",
                False,
                float("nan"),
                float("nan"),
                f"the checks compare grid values this run does not have ({type(exc).__name__}: {what}); "
                "run with the study's grid values to evaluate them",
                inconclusive=True,
                claim=f"{study.name}'s checks need the grid values they compare",
            )
        ]
    ds.attrs["checks"] = checks_to_json(checks)
    ds.attrs["checks_passed"] = int(all(c.outcome == "pass" for c in checks))
    ds.attrs["checks_failed"] = int(sum(c.failed for c in checks))
    ds.attrs["checks_inconclusive"] = int(sum(c.outcome == "inconclusive" for c in checks))
    return ds, checks
