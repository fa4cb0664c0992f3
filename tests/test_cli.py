"""The command line: every bad input ends with exit status 2, one line, no traceback, no output file."""

import time

import pytest

from simkit.cli import main


def _outputs(folder):
    return [p for p in folder.rglob("*") if p.suffix in (".nc", ".png", ".pdf")] if folder.exists() else []


def _call(capsys, *args):
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


BAD_RUNS = [
    (["run", "no-such-study"], "unknown study 'no-such-study'"),
    (["run", "engine-demo", "--backend", "tpu"], "backend must be one of"),
    (["run", "engine-demo", "--reps", "0"], "reps must be in [1, 1000000000], got 0"),
    (["run", "engine-demo", "--reps", "-3"], "reps must be in [1, 1000000000]"),
    (["run", "engine-demo", "--reps", "2.5"], "--reps must be an integer"),
    (["run", "engine-demo", "--seed", "-1"], "seed must be in [0, 2**128 - 1]"),
    (["run", "engine-demo", "--set", "bogus=1"], "--set bogus: engine-demo has no such parameter"),
    (["run", "engine-demo", "--set", "scale"], "expected name=value"),
    (["run", "engine-demo", "--set", "=3"], "expected name=value"),
    (["run", "engine-demo", "--set", "n=abc"], "--set n: expected an integer, got 'abc'"),
    (["run", "engine-demo", "--set", "scale=x"], "--set scale: expected a number"),
    (["run", "engine-demo", "--set", "scale=-1"], "scale must be in [0, inf], got -1"),
    (["run", "engine-demo", "--set", "scale=nan"], "scale must be a finite number"),
    (["run", "engine-demo", "--set", "mode=c"], "mode must be one of 'a', 'b'"),
    (["run", "engine-demo", "--set", "n=20000"], "n must be <= 10000"),
    (["run", "engine-demo", "--workers", "0"], "workers must be in [1, inf]"),
    (["run", "collapse-linear", "--set", "sigma2=-1"], "sigma2"),
    (["run", "collapse-linear", "--set", "sigma2=nan"], "sigma2"),
    (["run", "collapse-linear", "--set", "T=30"], "T"),
]


@pytest.mark.parametrize("args,message", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_input_is_one_line_and_status_2(capsys, tmp_path, args, message):
    status, out, err = _call(capsys, *args, "--out", tmp_path / "out", "--no-progress")
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err
    assert not _outputs(tmp_path)


def test_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    status, _, err = _call(capsys, "run", "engine-demo", "--quick", "--out", blocker / "sub", "--no-progress")
    assert status == 2
    assert err.strip().startswith("simkit: error: --out") and len(err.strip().splitlines()) == 1


def test_cuda_without_gpu_is_an_error(cli, tmp_path):
    proc = cli("run", "engine-demo", "--backend", "cuda", "--out", tmp_path, env={"NUMBA_ENABLE_CUDASIM": None})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "simkit: error: backend 'cuda' needs a CUDA GPU, and none is visible on this machine (use numba or auto)"
    ]
    assert not _outputs(tmp_path)


def test_backend_not_implemented_by_study(capsys, tmp_path):
    status, _, err = _call(capsys, "run", "engine-demo", "--backend", "cuda", "--out", tmp_path)
    assert status == 2 and "not implemented for engine-demo" in err


def test_dask_address_that_does_not_answer(capsys, tmp_path):
    start = time.time()
    status, _, err = _call(capsys, "run", "engine-demo", "--quick", "--dask", "127.0.0.1:9", "--out", tmp_path)
    assert time.time() - start < 20
    assert status == 2
    assert "--dask 127.0.0.1:9: no Dask scheduler answered" in err and len(err.strip().splitlines()) == 1
    assert not _outputs(tmp_path)


@pytest.mark.parametrize("content", [None, b"this is not netcdf", "netcdf-not-simkit"])
def test_plot_rejects_unreadable_or_foreign_files(capsys, tmp_path, content):
    path = tmp_path / "x.nc"
    if content == "netcdf-not-simkit":
        import xarray as xr

        xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
        expected = "not a simkit result"
    elif content is not None:
        path.write_bytes(content)
        expected = "not a readable NetCDF file"
    else:
        expected = "no such file"
    status, _, err = _call(capsys, "plot", path)
    assert status == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.png"))


def test_run_then_plot_redraws(capsys, tmp_path):
    status, out, _ = _call(
        capsys, "run", "engine-demo", "--quick", "--backend", "numpy", "--out", tmp_path, "--no-progress"
    )
    assert status == 0, out
    assert "pass" in out and "mean is zero" in out
    nc = tmp_path / "engine-demo" / "engine-demo.nc"
    (tmp_path / "engine-demo" / "engine-demo.png").unlink()
    status, out, _ = _call(capsys, "plot", nc)
    assert status == 0 and (tmp_path / "engine-demo" / "engine-demo.png").exists()


def test_failed_check_exits_1(capsys, tmp_path, monkeypatch):
    import dataclasses

    from simkit import registry
    from simkit.checks import condition

    study = registry.get_study("engine-demo")
    broken = dataclasses.replace(study, checks=lambda ds: [condition("always fails", False, 2.0, 1.0, "by design")])
    monkeypatch.setitem(registry._load(), "engine-demo", broken)
    status, out, _ = _call(
        capsys, "run", "engine-demo", "--quick", "--backend", "numpy", "--out", tmp_path, "--no-progress"
    )
    assert status == 1 and "FAIL" in out


def test_list_and_info(capsys):
    status, out, _ = _call(capsys, "list")
    assert status == 0 and "engine-demo" in out
    status, out, _ = _call(capsys, "info")
    assert status == 0 and "numba" in out and "gpu:" in out
