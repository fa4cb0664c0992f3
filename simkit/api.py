"""The public entry point: run a study end to end.

>>> from simkit import run_study
>>> result = run_study("collapse-gaussian", quick=True, out=None, progress=False)  # doctest: +SKIP
>>> all(c.passed for c in result.checks)  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import xarray as xr

from .backends import gpu_name, resolve_backend
from .checks import checks_to_json
from .errors import BackendError
from .executors import make_executor
from .registry import get_study
from .storage import ensure_writable, provenance, write_dataset
from .study import Check, Study
from .sweep import evaluate

__all__ = ["RunResult", "run_study", "finish_dataset"]


@dataclasses.dataclass
class RunResult:
    """What :func:`run_study` returns."""

    study: Study
    dataset: xr.Dataset
    checks: list[Check]
    paths: list[Path]
    reused: int
    computed: int
    wall_seconds: float

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)


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

    Returns
    -------
    RunResult
    """
    study = get_study(study) if isinstance(study, str) else study
    resolved = resolve_backend(backend)
    if resolved not in study.backends:
        raise BackendError(
            f"backend {resolved!r} is not implemented for {study.name}; choose one of {', '.join(study.backends)}"
        )
    cfg = study.config(quick=quick, reps=reps, seed=seed, backend=resolved, overrides=overrides)
    executor = make_executor(workers, dask)
    with executor:
        folder = None
        if out is not None:
            folder = ensure_writable(Path(out) / study.name)
        start = time.perf_counter()
        ds, reused, computed = evaluate(
            study, cfg, executor,
            checkpoint_dir=None if folder is None else folder / ".checkpoints",
            fresh=fresh, progress=progress,
        )
    wall = time.perf_counter() - start
    ds, checks = finish_dataset(study, cfg, ds, wall)
    paths = []
    if folder is not None:
        from .plotting import save_figure

        fig = study.plot(ds) if plot else None
        paths.append(write_dataset(ds, folder / f"{study.name}.nc"))
        if fig is not None:
            paths += save_figure(fig, folder / study.name)
        shutil.rmtree(folder / ".checkpoints", ignore_errors=True)
    return RunResult(study, ds, checks, paths, reused, computed, wall)


def finish_dataset(study: Study, cfg, ds: xr.Dataset, wall_seconds: float):
    """Attach settings and provenance attributes, theory variables and checks to ``ds``."""
    attrs = dict(cfg.settings)
    attrs.update(
        provenance(
            study=study.name, paper=study.paper, seed=cfg.seed, backend=cfg.backend, reps=cfg.reps,
            wall_seconds=wall_seconds, device=gpu_name() if cfg.backend == "cuda" else "cpu",
        )
    )
    attrs["title"] = study.title
    attrs["quick_grid"] = {k: list(v) for k, v in cfg.grid.items()} == {k: list(v) for k, v in study.quick_grid.items()}
    ds = ds.assign_attrs(attrs)
    if study.rep_dim != "rep":
        ds = ds.rename(rep=study.rep_dim)
    if study.dims_order:
        ds = ds.transpose(*study.dims_order, ..., missing_dims="ignore")
    theory = study.theory(ds)
    if theory is not None:
        ds = ds.merge(theory, combine_attrs="override")
    checks = list(study.checks(ds))
    ds.attrs["checks"] = checks_to_json(checks)
    ds.attrs["checks_passed"] = int(all(c.passed for c in checks))
    return ds, checks
