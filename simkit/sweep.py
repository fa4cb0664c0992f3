"""The sweep engine: evaluate a study's grid cell by cell, checkpoint, combine into one dataset.

Work is split into *units*: one grid cell and a contiguous block of replications.  The split
depends only on the configuration (never on the number of workers), every unit's randomness
comes from its replications' own streams, and so the combined dataset is bit-identical
whatever the executor, the number of workers or threads, and whether the run was resumed.

Each finished unit is written at once to ``OUT/STUDY/.checkpoints/CONFIG/`` (atomic rename).
``CONFIG`` is a hash of everything that determines the numbers (study, grid, settings, reps,
seed, backend, simkit version), so a changed configuration never reuses stale units.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import OutputError
from .executors import ExecutorError
from .rng import rep_states, stable_key
from .storage import remove_stale_temporaries, write_dataset
from .study import RunConfig, Study

__all__ = ["Unit", "plan_units", "config_key", "run_unit", "evaluate"]

TARGET_UNITS = 16


class Unit(tuple):
    """``(cell_index, cell, start, count)``: one cell and the replications ``start..start+count-1``."""

    __slots__ = ()

    @property
    def cell_index(self):
        return self[0]

    @property
    def cell(self):
        return self[1]

    @property
    def start(self):
        return self[2]

    @property
    def count(self):
        return self[3]

    def filename(self) -> str:
        return f"cell{self.cell_index:05d}-{stable_key(self.cell):08x}-r{self.start}-{self.start + self.count}.nc"


def plan_units(cfg: RunConfig) -> list[Unit]:
    """Split the run into units: at least :data:`TARGET_UNITS` when the grid is small."""
    cells = cfg.cells()
    chunks = max(1, min(cfg.reps, math.ceil(TARGET_UNITS / len(cells))))
    size = math.ceil(cfg.reps / chunks)
    units = []
    for i, cell in enumerate(cells):
        for start in range(0, cfg.reps, size):
            units.append(Unit((i, cell, start, min(size, cfg.reps - start))))
    return units


def config_key(cfg: RunConfig) -> str:
    """A short hash of the configuration (names the checkpoint folder)."""
    from . import __version__

    payload = {
        "study": cfg.study,
        "grid": {k: list(v) for k, v in cfg.grid.items()},
        "settings": cfg.settings,
        "reps": cfg.reps,
        "seed": cfg.seed,
        "backend": cfg.backend,
        "inner": list(cfg.inner),
        "version": __version__,
    }
    return f"{stable_key(payload):08x}"


def run_unit(study_name, settings, cell, seed, start, count, backend, threads=None):
    """Evaluate one unit (in any process): the study's ``simulate`` on its replications' streams."""
    from .registry import get_study

    if threads is not None:
        from .threads import limit_threads

        limit_threads(threads)
    study = get_study(study_name)
    outer = {k: v for k, v in cell.items() if k not in study.inner}
    states = rep_states(seed, study_name, outer, count, start=start)
    if backend == "numpy":
        # the NumPy references loop over replications with small matrices: a multithreaded BLAS
        # only oversubscribes the cores there (10x slower seen on 2 cores); results are unchanged
        from .threads import one_blas_thread

        with one_blas_thread():
            ds = study.simulate({**settings, **cell}, states, backend)
    else:
        ds = study.simulate({**settings, **cell}, states, backend)
    if "rep" not in ds.dims or ds.sizes["rep"] != count:
        raise RuntimeError(f"{study_name}.simulate returned no 'rep' dimension of length {count}")
    for name in study.inner:
        if name not in ds.dims or [_plain(v) for v in ds[name].values] != [_plain(v) for v in cell[name]]:
            raise RuntimeError(f"{study_name}.simulate must return the inner dimension {name!r} with the cell's values")
    return ds.assign_coords(rep=np.arange(start, start + count))


def evaluate(study: Study, cfg: RunConfig, executor, *, checkpoint_dir=None, fresh=False, progress=True):
    """Evaluate every unit of ``cfg`` and combine them into one dataset.

    Returns ``(dataset, reused, computed)``: the combined dataset (grid parameters as leading
    dimensions, then the study's own dimensions, then ``rep``) and the counts of units read
    from checkpoints and computed now.
    """
    from tqdm.auto import tqdm

    from . import checkpoints as cp

    units = plan_units(cfg)
    results: dict[int, xr.Dataset] = {}
    discarded: dict[str, int] = {}
    ckdir = None
    key = config_key(cfg)
    if checkpoint_dir is not None:
        ckdir = _checkpoint_folder(Path(checkpoint_dir), key)
        remove_stale_temporaries(ckdir)
        if not fresh:
            for i, unit in enumerate(units):
                ds, reason = cp.load(ckdir / unit.filename(), cp.record(cfg, key, unit))
                if ds is not None:
                    results[i] = ds
                elif reason is not None:
                    discarded[reason] = discarded.get(reason, 0) + 1
    if discarded:
        total = sum(discarded.values())
        why = "; ".join(f"{n} {reason}" for reason, n in sorted(discarded.items()))
        print(
            f"{cfg.study}: discarded {total} checkpoint{'s' if total != 1 else ''} that did not verify ({why}); "
            "recomputing them",
            file=sys.stderr,
        )
    reused = len(results)
    todo = [i for i in range(len(units)) if i not in results]
    threads = getattr(executor, "threads", None)
    args = [
        (cfg.study, cfg.settings, units[i].cell, cfg.seed, units[i].start, units[i].count, cfg.backend, threads)
        for i in todo
    ]
    bar = tqdm(
        total=len(units),
        initial=reused,
        desc=cfg.study,
        unit="unit",
        disable=not progress,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    done = reused
    try:
        for j, ds in executor.imap(run_unit, args):
            i = todo[j]
            results[i] = ds
            if ckdir is not None:
                write_dataset(cp.stamp(ds, cp.record(cfg, key, units[i])), ckdir / units[i].filename())
            done += 1
            bar.update(1)
    except ExecutorError as exc:
        saved = (
            f"{done} of {len(units)} units are checkpointed"
            if ckdir is not None
            else "nothing was checkpointed (out=None)"
        )
        raise ExecutorError(f"{exc}; {saved}: run the same command again to resume") from None
    finally:
        bar.close()
    _check_layouts(cfg, units, results)
    return _combine(cfg, units, results), reused, len(todo)


def _checkpoint_folder(root: Path, key: str) -> Path:
    """Create ``root/key``; a file in the way of either is one line, not a traceback."""
    for folder in (root, root / key):
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder} exists and is not a folder; move it away so checkpoints can be written there")
    try:
        (root / key).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the checkpoint folder {root / key}: {exc.strerror or type(exc).__name__}"
        ) from None
    return root / key


def _check_layouts(cfg, units, results) -> None:
    """Every unit of one cell must have the same variables; ``simulate`` returning otherwise is a bug."""
    first: dict[int, tuple] = {}
    for i, unit in enumerate(units):
        layout = tuple(sorted((n, v.dims, v.dtype.kind) for n, v in results[i].data_vars.items()))
        ref = first.setdefault(unit.cell_index, layout)
        if layout != ref:
            raise RuntimeError(f"{cfg.study}: units of cell {unit.cell_index} returned different variables")


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _combine(cfg: RunConfig, units, results) -> xr.Dataset:
    by_cell: dict[int, list[xr.Dataset]] = {}
    for i, unit in enumerate(units):
        by_cell.setdefault(unit.cell_index, []).append(results[i])
    cells = []
    for index, cell in enumerate(cfg.cells()):
        parts = by_cell[index]
        ds = parts[0] if len(parts) == 1 else xr.concat(parts, dim="rep")
        ds = ds.expand_dims({name: [value] for name, value in cell.items() if name not in cfg.inner})
        cells.append(ds)
    outer = [k for k in cfg.grid if k not in cfg.inner]
    names = list(cfg.grid)
    if not outer:
        combined = cells[0]
    else:
        shape = [len(cfg.grid[k]) for k in outer]
        nested = np.empty(shape, dtype=object)
        for flat, ds in enumerate(cells):
            nested[np.unravel_index(flat, shape)] = ds
        combined = xr.combine_nested(nested.tolist(), concat_dim=outer, combine_attrs="drop_conflicts")
    order = names + [d for d in cells[0].dims if d not in names]
    return combined.transpose(*order)
