"""A study describes itself: references, describe, run --help, --dry-run, --version, dataset conventions."""

from __future__ import annotations

import pytest

from simkit import registry
from simkit.describe import references


@pytest.mark.parametrize("name", [s.name for s in registry.all_studies() if s.family != "test"])
def test_every_study_names_its_paper_by_doi_or_arxiv(name):
    links = references(registry.get_study(name))
    assert links and all(link.startswith(("https://doi.org/10.", "https://arxiv.org/abs/")) for link in links)


def test_version(cli):
    import simkit

    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"simkit {simkit.__version__}"


def test_run_help_lists_the_study_parameters(cli):
    proc = cli("run", "collapse-gaussian", "--help")
    assert proc.returncode == 0
    study = registry.get_study("collapse-gaussian")
    for p in study.params:
        assert p.name in proc.stdout
    assert "swept" in proc.stdout and "fixed" in proc.stdout


def test_dry_run_prints_the_plan_and_writes_nothing(cli, tmp_path):
    proc = cli("run", "engine-demo", "--dry-run", "--backend", "numpy", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "estimated time" in proc.stdout and "nothing was written" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_describe_states_parameters_outputs_and_checks(cli, tmp_path):
    proc = cli("describe", "engine-demo", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    for part in ("parameters:", "outputs", "checks", "cost:", "quick"):
        assert part in proc.stdout


def test_dataset_follows_the_conventions(tmp_path):
    from simkit import run_study

    result = run_study("engine-demo", backend="numpy", out=None, progress=False, reps=4)
    ds = result.dataset
    assert ds.attrs["Conventions"].startswith("CF-")
    assert "simkit" in ds.attrs["source"] and "run_study" in ds.attrs["history"]
    study = result.study
    for p in study.params:
        if p.name in ds.coords:
            assert ds[p.name].attrs.get("long_name")
