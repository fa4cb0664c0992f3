"""End to end: ``simkit reproduce --quick`` runs every registered study and all checks pass."""

import pytest


@pytest.mark.slow
def test_reproduce_quick_passes_every_check(cli, tmp_path):
    proc = cli("reproduce", "--quick", "--out", tmp_path, "--no-progress", env={"SIMKIT_STUDIES": None}, timeout=1800)
    print(proc.stdout)
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert " 0 failed" in proc.stdout
    from simkit import registry

    names = [s.name for s in registry.all_studies() if s.family != "test"]
    assert names, "no studies registered"
    for name in names:
        assert (tmp_path / name / f"{name}.nc").exists(), name
        assert (tmp_path / name / f"{name}.png").exists(), name
    # no dimension may be named like a keyword of Dataset.sel (ds.sel(method=...) would silently
    # mean inexact matching instead of a selection)
    import inspect

    import xarray as xr

    keywords = set(inspect.signature(xr.Dataset.sel).parameters) - {"indexers_kwargs"}
    for name in names:
        with xr.open_dataset(tmp_path / name / f"{name}.nc", engine="h5netcdf") as ds:
            assert not keywords & set(ds.dims), (name, keywords & set(ds.dims))
