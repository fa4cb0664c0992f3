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


def _start(out, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simkit",
            "run",
            "engine-demo",
            "--backend",
            "numpy",
            "--out",
            str(out),
            "--set",
            "pause=0.25",
            "--no-progress",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simkit",
            "run",
            "engine-demo",
            "--backend",
            "numpy",
            "--out",
            str(reference),
            "--set",
            "pause=0.25",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
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

    rerun = subprocess.run(
        [
            sys.executable,
            "-m",
            "simkit",
            "run",
            "engine-demo",
            "--backend",
            "numpy",
            "--out",
            str(out),
            "--set",
            "pause=0.25",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
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
    changed = subprocess.run(
        [
            sys.executable,
            "-m",
            "simkit",
            "run",
            "engine-demo",
            "--backend",
            "numpy",
            "--out",
            str(out),
            "--set",
            "pause=0.25",
            "--seed",
            "1",
            "--no-progress",
            "--set",
            "scale=1,2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert changed.returncode == 0 and "reused" not in changed.stdout
    proc = _start(out)
    _wait_for_checkpoints(out, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fresh = subprocess.run(
        [
            sys.executable,
            "-m",
            "simkit",
            "run",
            "engine-demo",
            "--backend",
            "numpy",
            "--out",
            str(out),
            "--set",
            "pause=0.25",
            "--fresh",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
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
