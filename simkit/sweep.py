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
    assembly = Assembly(cfg, units)
    discarded: dict[str, int] = {}
    ckdir = None
    key = config_key(cfg)
    reused = 0
    if checkpoint_dir is not None:
        ckdir = _checkpoint_folder(Path(checkpoint_dir), key)
        remove_stale_temporaries(ckdir)
        if not fresh:
            for i, unit in enumerate(units):
                ds, reason = cp.load(ckdir / unit.filename(), cp.record(cfg, key, unit))
                if ds is not None:
                    assembly.add(i, ds)  # copied into the run's arrays and released
                    reused += 1
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
    todo = [i for i in range(len(units)) if not assembly.has(i)]
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
            if ckdir is not None:
                write_dataset(cp.stamp(ds, cp.record(cfg, key, units[i])), ckdir / units[i].filename())
            assembly.add(i, ds)
            del ds
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
    return assembly.finish(), reused, len(todo)


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


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _combine(cfg: RunConfig, units, results) -> xr.Dataset:
    """Concatenate whole unit datasets into the run's dataset (each cell over ``rep``, then the grid).

    This is the definition of the dataset a run produces; :class:`Assembly` gives the same result
    without holding the units (it applies this function to one replication of each unit, for the
    layout, and copies every unit's values into that layout as it arrives).
    """
    by_cell: dict[int, list[xr.Dataset]] = {}
    for i, unit in enumerate(units):
        by_cell.setdefault(unit.cell_index, []).append(results[i])
    cells = []
    for index, cell in enumerate(cfg.cells()):
        parts = by_cell[index]
        ds = parts[0] if len(parts) == 1 else xr.concat(parts, dim="rep", data_vars="all", join="outer")
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
        combined = xr.combine_nested(
            nested.tolist(), concat_dim=outer, data_vars="all", join="outer", combine_attrs="drop_conflicts"
        )
    order = names + [d for d in cells[0].dims if d not in names]
    return combined.transpose(*order)


def _layout(ds: xr.Dataset) -> tuple:
    """What must agree between the units of one cell (their variables, dims and dtype kinds)."""
    return tuple(sorted((n, v.dims, v.dtype.kind) for n, v in ds.data_vars.items()))


def _signature(ds: xr.Dataset) -> tuple:
    """Everything of a unit but its cell and its replications' values: a unit with the signature of the
    first one fits the arrays laid out from that one (same variables, dims, sizes, dtypes and
    coordinates off ``rep``)."""
    out = []
    for name, var in ds.variables.items():
        shape = tuple(n for d, n in zip(var.dims, var.shape) if d != "rep")
        values = None
        if "rep" not in var.dims:
            values = var.values.tobytes() if var.dtype.kind not in "OUS" else tuple(map(str, var.values.ravel()))
        out.append((name, var.dims, shape, str(var.dtype), name in ds.coords, values))
    return tuple(out)


def _stub(ds: xr.Dataset) -> xr.Dataset:
    """The unit's first replication: its layout, coordinates, attributes and encoding, at 1/count the size."""
    return ds.isel(rep=slice(0, 1)).copy(deep=True)


def _fill(dtype):
    """``(dtype, fill value)`` of an array that an outer join may leave holes in."""
    from xarray.core import dtypes

    promoted, fill = dtypes.maybe_promote(np.dtype(dtype))
    return (np.dtype(dtype), fill) if promoted == np.dtype(dtype) else (np.dtype(dtype), None)


class Assembly:
    """The run's dataset, assembled unit by unit as the units arrive (in any order).

    It is :func:`_combine` of every unit, without holding the units: the variables that carry ``rep``
    are allocated once, in the layout of :func:`_combine` applied to one replication of the first unit
    as if every unit were like it, and each unit's values are copied into their slice as the unit
    arrives (then it is released).  A unit that does not fit that layout (another cell's dimension with
    other coordinates or another length, another dtype) is kept whole; at the end :func:`_combine` of
    every unit's first replication gives the final layout (outer joins, NaN fill, attributes that
    conflict between cells dropped, the first unit's encoding), and the arrays and the kept units are
    copied into it.  The peak is one copy of the results (two when some unit did not fit), plus the
    units in flight.
    """

    def __init__(self, cfg: RunConfig, units):
        self.cfg = cfg
        self.units = units
        self.stubs: dict[int, xr.Dataset] = {}
        self.layouts: dict[int, tuple] = {}
        self.kept: dict[int, xr.Dataset] = {}
        self.signature = None
        self.guess = None
        self.arrays: dict[str, np.ndarray] = {}

    def has(self, i: int) -> bool:
        return i in self.stubs

    def add(self, i: int, ds: xr.Dataset) -> None:
        """Copy unit ``i``'s values into the run's arrays (or keep it, if it does not fit them)."""
        unit = self.units[i]
        layout = _layout(ds)
        ref = self.layouts.setdefault(unit.cell_index, layout)
        if layout != ref:
            raise RuntimeError(f"{self.cfg.study}: units of cell {unit.cell_index} returned different variables")
        self.stubs[i] = _stub(ds)
        signature = _signature(ds)
        if self.guess is None:
            self._lay_out(i, signature)
        if signature == self.signature:
            _place(self.arrays, self.guess, self.cfg, unit, ds)
        else:
            self.kept[i] = ds

    def _lay_out(self, i: int, signature) -> None:
        first = self.stubs[i]
        stubs = {j: first.assign_coords(rep=[u.start]) for j, u in enumerate(self.units)}
        self.guess = _combine(self.cfg, self.units, stubs)
        self.signature = signature
        self.arrays = _allocate(self.guess, self.cfg.reps)

    def finish(self) -> xr.Dataset:
        """The run's dataset, identical to :func:`_combine` of every unit."""
        missing = [i for i in range(len(self.units)) if i not in self.stubs]
        if missing:
            raise RuntimeError(f"{self.cfg.study}: {len(missing)} units were never evaluated")
        final = _combine(self.cfg, self.units, self.stubs)
        if self.kept or not _same_layout(final, self.guess):
            arrays = _allocate(final, self.cfg.reps)
            fitted = _as_units(self.guess, self.arrays, self.cfg, self.units, skip=self.kept)
            for i, unit in enumerate(self.units):
                source = self.kept.pop(i, None)
                _place(arrays, final, self.cfg, unit, source if source is not None else fitted(i))
            self.arrays = arrays
        out = _build(final, self.arrays)
        self.arrays, self.guess, self.stubs = {}, None, {}
        return out


def _allocate(template: xr.Dataset, reps: int) -> dict[str, np.ndarray]:
    """One array per variable of ``template`` that has ``rep``, with ``reps`` replications."""
    arrays = {}
    for name, var in template.variables.items():
        if "rep" not in var.dims:
            continue
        shape = tuple(reps if d == "rep" else n for d, n in zip(var.dims, var.shape))
        dtype, fill = _fill(var.dtype)
        arrays[name] = np.full(shape, fill, dtype=dtype) if fill is not None else np.empty(shape, dtype=dtype)
    return arrays


def _same_layout(a: xr.Dataset, b: xr.Dataset) -> bool:
    """Whether ``a`` and ``b`` (combined one-replication stubs) lay out the same arrays."""
    if list(a.variables) != list(b.variables):
        return False
    for name, var in a.variables.items():
        other = b.variables[name]
        if var.dims != other.dims or var.shape != other.shape or var.dtype != other.dtype:
            return False
        if name in a.indexes and name != "rep" and not a.indexes[name].equals(b.indexes[name]):
            return False
    return True


def _indexers(template: xr.Dataset, cfg: RunConfig, unit, var_dims, source: xr.Dataset, name: str):
    """Positions in ``template``'s variable ``name`` of ``unit``'s values, one integer array per dim."""
    outer = [k for k in cfg.grid if k not in cfg.inner]
    out = []
    for d in var_dims:
        if d == "rep":
            out.append(np.arange(unit.start, unit.start + unit.count))
        elif d in outer:
            out.append(np.asarray(template.indexes[d].get_indexer([unit.cell[d]])))
        elif d in template.indexes and d in source.indexes:
            where = template.indexes[d].get_indexer(source.indexes[d])
            if (where < 0).any():
                raise RuntimeError(f"{cfg.study}: {name!r} has {d} values the combined dataset lacks")
            out.append(where)
        else:
            out.append(np.arange(template.sizes[d]))
    return out


def _place(arrays, template: xr.Dataset, cfg: RunConfig, unit, ds: xr.Dataset) -> None:
    """Copy unit ``ds``'s values of every variable in ``arrays`` into its slice of ``template``'s layout."""
    for name, target in arrays.items():
        dims = template.variables[name].dims
        src = ds.variables[name]
        own = [d for d in dims if d in src.dims]
        values = np.asarray(src.transpose(*own).values)
        # dims the unit lacks: the cell's (one position) and, for a variable concatenated over rep
        # without having it, rep (its value repeats over the unit's replications)
        values = values.reshape([src.sizes[d] if d in src.dims else 1 for d in dims])
        target[np.ix_(*_indexers(template, cfg, unit, dims, ds, name))] = values


def _as_units(template: xr.Dataset, arrays, cfg: RunConfig, units, skip):
    """Unit ``i``'s variables read back from arrays laid out as ``template`` (views, for re-layout)."""

    def unit_view(i):
        unit = units[i]
        variables = {}
        for name, target in arrays.items():
            dims = template.variables[name].dims
            idx = _indexers(template, cfg, unit, dims, template, name)
            keep = [d for d in dims if d not in cfg.grid or d in cfg.inner]
            block = target[np.ix_(*idx)]
            block = block.reshape([n for d, n in zip(dims, block.shape) if d in keep])
            variables[name] = xr.Variable(keep, block)
        coords = {d: template.indexes[d] for d in template.indexes if d not in cfg.grid or d in cfg.inner}
        coords = {d: c for d, c in coords.items() if d != "rep"}
        return xr.Dataset({k: v for k, v in variables.items()}, coords=coords)

    return unit_view


def _build(template: xr.Dataset, arrays) -> xr.Dataset:
    """``template`` (a combined one-replication stub) with its ``rep`` variables replaced by ``arrays``.

    The variables keep the template's order (coordinates and data variables interleaved as
    xarray's combine left them, which differs between xarray versions).
    """
    variables = {}
    for name, var in template.variables.items():
        if name in arrays:
            var = xr.Variable(var.dims, arrays[name], attrs=var.attrs, encoding=var.encoding)
        variables[name] = var
    out = xr.Dataset(variables, attrs=template.attrs)
    out = out.set_coords([name for name in template.coords if name not in out.coords])
    out.encoding = dict(template.encoding)
    return out
