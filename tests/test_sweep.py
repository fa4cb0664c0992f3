"""The sweep engine: determinism across executors, replication invariance, resume, fresh runs."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from simkit.api import run_study
from simkit.registry import get_study
from simkit.storage import VOLATILE_ATTRS as VOLATILE  # noqa: E402
from simkit.storage import read_dataset
from simkit.sweep import config_key, plan_units


def _data(ds):
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in VOLATILE}
    return ds


def test_units_depend_only_on_the_configuration():
    study = get_study("engine-demo")
    cfg = study.config(reps=40)
    units = plan_units(cfg)
    assert len(units) == 6 * 3
    assert sum(u.count for u in units) == 6 * 40
    assert [u.filename() for u in units] == [u.filename() for u in plan_units(study.config(reps=40))]


def test_dataset_layout_and_provenance():
    result = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=12)
    ds = result.dataset
    assert ds["value"].dims == ("mode", "scale", "step", "rep")
    assert list(ds["mode"].values) == ["a", "b"]
    assert list(ds["rep"].values) == list(range(12))
    for key in (
        "study",
        "paper",
        "seed",
        "backend",
        "reps",
        "simkit_version",
        "numpy_version",
        "numba_version",
        "xarray_version",
        "device",
        "wall_seconds",
        "created",
        "checks",
        "n",
    ):
        assert key in ds.attrs, key
    assert ds["value"].attrs["long_name"] == "scaled mean"
    assert result.passed


def test_identical_across_workers_and_dask():
    serial = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=30, seed=5)
    procs = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=30, seed=5, workers=2)
    xr.testing.assert_identical(_data(serial.dataset), _data(procs.dataset))
    pytest.importorskip("distributed")
    dask = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=30, seed=5, workers=2, dask="local")
    xr.testing.assert_identical(_data(serial.dataset), _data(dask.dataset))


def test_replication_r_does_not_depend_on_the_number_of_replications():
    small = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=7).dataset
    large = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=50).dataset
    xr.testing.assert_identical(small["value"], large["value"].isel(rep=slice(0, 7)))


def test_seed_changes_results():
    a = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=5, seed=1).dataset
    b = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=5, seed=2).dataset
    assert not np.array_equal(a["value"].values, b["value"].values)


def test_run_writes_nc_png_pdf_and_cleans_checkpoints(tmp_path):
    result = run_study("engine-demo", backend="numpy", out=tmp_path, progress=False, reps=6)
    folder = tmp_path / "engine-demo"
    assert sorted(p.name for p in folder.iterdir()) == ["engine-demo.nc", "engine-demo.pdf", "engine-demo.png"]
    saved = read_dataset(folder / "engine-demo.nc")
    xr.testing.assert_allclose(saved["value"], result.dataset["value"])
    assert saved.attrs["study"] == "engine-demo"


def _command(out, *extra):
    """``simkit run engine-demo`` into ``out`` (NumPy backend, 0.25 s per unit, no progress bar)."""
    cmd = ["-m", "simkit", "run", "engine-demo", "--backend", "numpy", "--out", str(out), "--set", "pause=0.25"]
    return [sys.executable, *cmd, "--no-progress", *extra]


def _start(out, *extra):
    return subprocess.Popen(_command(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(out, *extra):
    return subprocess.run(_command(out, *extra), capture_output=True, text=True, timeout=300)


def _wait_for_checkpoints(out, count, proc, timeout=60):
    folder = out / "engine-demo" / ".checkpoints"
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = list(folder.glob("*/*.nc")) if folder.exists() else []
        if len(files) >= count:
            return files
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no checkpoints appeared")


@pytest.mark.slow
def test_resume_after_a_killed_run_gives_the_uninterrupted_dataset(tmp_path):
    reference = tmp_path / "reference"
    done = _run(reference)
    assert done.returncode == 0, done.stderr

    out = tmp_path / "killed"
    proc = _start(out)
    _wait_for_checkpoints(out, 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = out / "engine-demo"
    assert not list(folder.glob("*.nc")) and not list(folder.glob("*.png")), "partial output left behind"
    saved = len(list(folder.glob(".checkpoints/*/*.nc")))
    assert 4 <= saved < 18

    rerun = _run(out)
    assert rerun.returncode == 0, rerun.stderr
    reused = int(rerun.stdout.split(" reused from checkpoints")[0].rsplit(", ", 1)[1])
    assert reused >= saved - 1  # the unit being written at the kill may be lost, never corrupted
    a = _data(read_dataset(reference / "engine-demo" / "engine-demo.nc"))
    b = _data(read_dataset(out / "engine-demo" / "engine-demo.nc"))
    xr.testing.assert_identical(a, b)


@pytest.mark.slow
def test_fresh_and_changed_configuration_never_reuse(tmp_path):
    out = tmp_path / "o"
    proc = _start(out)
    _wait_for_checkpoints(out, 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "resume" in err and "Traceback" not in err
    changed = _run(out, "--seed", "1", "--set", "scale=1,2")
    assert changed.returncode == 0 and "reused" not in changed.stdout
    proc = _start(out)
    _wait_for_checkpoints(out, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fresh = _run(out, "--fresh")
    assert fresh.returncode == 0 and "reused" not in fresh.stdout


def test_config_key_changes_with_everything_that_matters():
    study = get_study("engine-demo")
    base = config_key(study.config(reps=10))
    assert base == config_key(study.config(reps=10))
    assert base != config_key(study.config(reps=11))
    assert base != config_key(study.config(reps=10, seed=1))
    assert base != config_key(study.config(reps=10, overrides={"n": 21}))
    assert base != config_key(study.config(reps=10, backend="numpy"))


def test_compiled_kernels_are_identical_across_processes_and_threads():
    """A real study on the numba backend: 1 process (2 threads) vs 2 processes (1 thread each)."""
    kwargs = dict(quick=True, backend="numba", out=None, progress=False, reps=24, overrides={"M": [10, 100]})
    one = run_study("collapse-gaussian", **kwargs)
    two = run_study("collapse-gaussian", workers=2, **kwargs)
    xr.testing.assert_identical(_data(one.dataset), _data(two.dataset))


def test_inner_dimensions_share_draws_and_keep_the_grid_layout():
    study = get_study("engine-inner")
    cfg = study.config(reps=12)
    assert [set(c) for c in cfg.cells()] == [{"mode", "scale"}] * 2
    assert all(c["scale"] == (1.0, 2.0, 3.0) for c in cfg.cells())
    assert len(cfg.points()) == 6
    units = plan_units(cfg)
    assert {u.cell_index for u in units} == {0, 1}
    result = run_study("engine-inner", backend="numpy", out=None, progress=False, reps=12, seed=3)
    ds = result.dataset
    assert ds["value"].dims == ("mode", "scale", "step", "rep")
    assert list(ds["scale"].values) == [1.0, 2.0, 3.0]
    v = ds["value"].sel(step=1)
    np.testing.assert_allclose(v.sel(scale=3.0), 3.0 * v.sel(scale=1.0), rtol=1e-12)
    # the draws are keyed by the outer cell: a different list of scales keeps them
    other = run_study(
        "engine-inner", backend="numpy", out=None, progress=False, reps=12, seed=3, overrides={"scale": [5.0]}
    ).dataset
    np.testing.assert_allclose(other["value"].sel(step=1, scale=5.0), 5.0 * v.sel(scale=1.0), rtol=1e-12)
    procs = run_study("engine-inner", backend="numpy", out=None, progress=False, reps=12, seed=3, workers=2)
    xr.testing.assert_identical(_data(ds), _data(procs.dataset))


# ---------------------------------------------------------------------------------------------
# streamed assembly: the units are copied into the run's arrays as they arrive, never all held


def _assert_same_dataset(old, new):
    """``new`` is ``old`` exactly: values, dims order, coordinates, dtypes, attributes and encoding."""
    xr.testing.assert_identical(old, new)
    assert list(old.variables) == list(new.variables)
    assert list(old.dims) == list(new.dims)
    assert old.encoding == new.encoding
    for name, var in old.variables.items():
        other = new.variables[name]
        assert (var.dims, var.dtype, var.attrs, var.encoding) == (other.dims, other.dtype, other.attrs, other.encoding)
        assert np.array_equal(var.values, other.values, equal_nan=var.dtype.kind in "fc"), name


def _units_of(cfg):
    from simkit.sweep import run_unit

    units = plan_units(cfg)
    return units, {
        i: run_unit(cfg.study, cfg.settings, u.cell, cfg.seed, u.start, u.count, cfg.backend)
        for i, u in enumerate(units)
    }


def _streamed(cfg, units, results, order):
    from simkit.sweep import Assembly

    assembly = Assembly(cfg, units)
    for i in order:
        assembly.add(i, results[i])
    return assembly.finish()


@pytest.mark.parametrize(
    "name, reps",
    [
        ("collapse-gaussian", 40),  # three grid dimensions
        ("varts-prior", 20),  # a text grid dimension, int64 and float variables
        ("ridgeless-double-descent", 40),  # inner dimensions
        ("sketched-optimal-m", 20),  # three inner dimensions, one of them text
        ("preference-doubly-robust", 40),  # inner n and dims_order
        ("irl-temperature", 8),  # rep_dim "mdp"
    ],
)
def test_streamed_assembly_is_the_concatenation_of_the_units(name, reps):
    from simkit.sweep import _combine

    cfg = get_study(name).config(quick=True, reps=reps, backend="numpy")
    units, results = _units_of(cfg)
    old = _combine(cfg, units, results)
    for order in (range(len(units)), reversed(range(len(units)))):  # the executors' order is any
        _assert_same_dataset(old, _streamed(cfg, units, results, order))


def _ragged_study():
    """A study whose cells differ in a dimension's coordinates and in attributes: an outer join."""
    from simkit.study import Param, Study

    def simulate(params, states, backend):
        reps, k = states.shape[0], int(params["k"])
        rep_values = states[:, 0].astype(float)[:, None]
        ds = xr.Dataset(
            {
                "y": (("t", "rep"), (np.arange(k)[:, None] + rep_values.T), {"units": "1"}),
                "count": (("rep",), np.full(reps, k, dtype=np.int64)),
                "label": ((), "cell"),  # no rep: concatenated over rep between units
            },
            coords={"t": np.arange(1, k + 1) * 10, "note": ("t", [f"t{i}" for i in range(k)])},
            attrs={"k": k, "shared": "same"},
        )
        return ds

    return Study(
        name="engine-ragged",
        title="ragged",
        paper="none",
        family="test",
        teaching="",
        params=(Param("k", int, low=1),),
        grid={"k": (2, 3, 5)},
        settings={},
        reps=7,
        quick_grid={"k": (2, 3, 5)},
        quick_settings={},
        quick_reps=7,
        simulate=simulate,
        theory=lambda ds: None,
        checks=lambda ds: [],
        plot=lambda ds: None,
    )


def test_streamed_assembly_joins_cells_that_differ_like_concatenation():
    from simkit.rng import rep_states
    from simkit.sweep import _combine

    study = _ragged_study()
    cfg = study.config(quick=True, reps=7, backend="numpy")
    units = plan_units(cfg)
    assert len(units) > len(cfg.cells())  # several units per cell
    results = {}
    for i, u in enumerate(units):
        ds = study.simulate({**cfg.settings, **u.cell}, rep_states(0, study.name, u.cell, u.count, start=u.start), "x")
        results[i] = ds.assign_coords(rep=np.arange(u.start, u.start + u.count))
    old = _combine(cfg, units, results)
    assert old["y"].isnull().any() and old["count"].dtype == np.int64  # an outer join with NaN fill
    for order in (range(len(units)), reversed(range(len(units)))):
        _assert_same_dataset(old, _streamed(cfg, units, results, order))


def test_streamed_assembly_of_checkpointed_and_computed_units(tmp_path):
    """Units read back from checkpoints (NetCDF dtypes and encoding) mixed with computed ones."""
    from simkit import checkpoints as cp
    from simkit.executors import make_executor
    from simkit.sweep import _combine, evaluate

    study = get_study("varts-prior")
    cfg = study.config(quick=True, reps=12, backend="numpy")
    with make_executor(1, None) as ex:
        evaluate(study, cfg, ex, checkpoint_dir=tmp_path, progress=False)
    folder = tmp_path / config_key(cfg)
    units = plan_units(cfg)
    for unit in units[::2]:
        (folder / unit.filename()).unlink()  # half the units are recomputed
    with make_executor(1, None) as ex:
        new, reused, computed = evaluate(study, cfg, ex, checkpoint_dir=tmp_path, progress=False)
    assert reused == len(units) - len(units[::2]) and computed == len(units[::2])
    key = config_key(cfg)
    results = {}
    for i, unit in enumerate(units):
        ds, _ = cp.load(folder / unit.filename(), cp.record(cfg, key, unit))
        results[i] = ds
    assert all(ds is not None for ds in results.values())
    # the reference: the loaded units where they were reused, the computed ones where they were not
    _, computed_units = _units_of(cfg)
    for unit_index in range(0, len(units), 2):
        results[unit_index] = computed_units[unit_index]
    _assert_same_dataset(_combine(cfg, units, results), new)
