"""Bandit studies: registration, declared parameters, dataset layout, and the whole pipeline at tiny sizes.

The studies' own checks are exercised by their quick runs (``simkit reproduce --quick``); here the
sizes are too small for the checks to be meaningful, so only their form is tested.
"""

import matplotlib.figure
import numpy as np
import pytest
from simkit.studies import (
    linear_misspec_phase,
    linear_misspec_table,
    varts_prior,
    varts_regret,
    varts_rewards,
    varts_variance,
)

from simkit.api import run_study
from simkit.errors import ParameterError
from simkit.rng import rep_states
from simkit.study import Check

MODULES = [varts_regret, varts_prior, varts_variance, varts_rewards, linear_misspec_table, linear_misspec_phase]

TINY = {
    "varts-regret": {"horizon": 60, "grid_points": 6},
    "varts-prior": {"horizon": 60, "grid_points": 6, "prior": ["correct", "var-x10", "estimated"]},
    "varts-variance": {"horizon": 60, "grid_points": 6, "mean_variance": [0.1, 1.0, 10.0], "alpha0": [1.5, 16.0]},
    "varts-rewards": {"horizon": 60, "grid_points": 6},
    "linear-misspec-table": {"horizon": 1200, "grid_points": 6},
    "linear-misspec-phase": {"horizon": 60, "d": [4], "ratio": [0.1, 1.0, 10.0]},
}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.STUDY.name)
def test_every_setting_and_grid_value_is_declared_and_valid(module):
    study = module.STUDY
    assert study.family == "bandits" and study.teaching and study.paper
    for quick in (False, True):
        cfg = study.config(quick=quick)
        assert cfg.reps >= 1
    assert study.quick_reps <= study.reps


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.STUDY.name)
def test_tiny_run_has_regret_with_units_and_checks(module):
    study = module.STUDY
    result = run_study(study, quick=True, reps=6, overrides=TINY[study.name], out=None, progress=False, backend="numba")
    ds = result.dataset
    assert "regret" in ds and "rep" in ds["regret"].dims and "policy" in ds["regret"].dims
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs and "units" in ds[name].attrs, name
    assert np.all(np.isfinite(ds["regret"].values)) and np.all(ds["regret"].values >= 0)
    assert result.checks and all(isinstance(c, Check) for c in result.checks)
    assert isinstance(study.plot(ds), matplotlib.figure.Figure)


def test_varts_regret_dataset_layout():
    p = {**varts_regret.STUDY.quick_settings, "horizon": 50, "grid_points": 5}
    ds = varts_regret.simulate(p, rep_states(0, "varts-regret", {}, 4), "numba")
    assert ds["regret"].dims == ("policy", "t", "rep")
    assert list(ds["policy"].values) == ["ucb1", "ucb-v", "kl-ucb", "ts-known", "ts-over", "ts-under", "varts"]
    assert int(ds["t"].values[-1]) == 50
    # regret is cumulative: non-decreasing in t
    assert np.all(np.diff(ds["regret"].values, axis=1) >= 0)
    # every policy faced the same instances
    assert (ds["pulls"].sum("arm") == 50).all()


def test_linear_table_policy_names():
    assert linear_misspec_table.policy_names() == [
        "oful",
        "ds-oful-0.02",
        "ds-oful-0.05",
        "ds-oful-0.08",
        "ds-oful-0.13",
        "suplinucb",
        "lin-ts",
    ]


def test_linear_table_tuning():
    # every paper method has pilot-tuned (beta, lambda) on the paper's grid; "shared" uses the settings instead
    assert set(linear_misspec_table.TUNED) == set(linear_misspec_table.policy_names()) - {"lin-ts"}
    assert all(
        b in linear_misspec_table.TUNING_GRID and lam in linear_misspec_table.TUNING_GRID
        for b, lam in linear_misspec_table.TUNED.values()
    )
    p = {**linear_misspec_table.STUDY.settings, "tuning": "shared", "beta": 2.0, "lam": 5.0}
    pols = linear_misspec_table.policies(p)
    assert pols["ds-oful-0.05"].beta == 2.0 and pols["ds-oful-0.05"].lam == 5.0
    pols = linear_misspec_table.policies({**p, "tuning": "pilot"})
    assert (pols["ds-oful-0.05"].beta, pols["ds-oful-0.05"].lam) == linear_misspec_table.TUNED["ds-oful-0.05"]


def test_linear_table_check_helpers():
    import xarray as xr

    late = xr.DataArray(np.r_[np.zeros(95), np.ones(5)], dims="rep")
    c = linear_misspec_table.zero_late_check("x", late, 0.05)
    assert (
        c.passed and c.value == pytest.approx(0.05) and c.tolerance == pytest.approx(0.05 + 3 * np.sqrt(0.0475 / 100))
    )
    assert not linear_misspec_table.zero_late_check(
        "x", xr.DataArray(np.r_[np.zeros(80), np.ones(20)], dims="rep"), 0.05
    ).passed
    a = xr.DataArray(np.r_[np.zeros(70), np.full(30, 9.0)], dims="rep")
    b = xr.DataArray(np.full(100, 1.0), dims="rep")
    c = linear_misspec_table.paired_sign("x", a, b)
    assert c.passed and c.value == pytest.approx((0.7 - 0.5) / 0.05)


def test_studies_agree_across_numpy_and_numba():
    p = {**varts_rewards.STUDY.quick_settings, "env": "beta", "horizon": 40, "grid_points": 4}
    st = rep_states(0, "varts-rewards", {"env": "beta"}, 2)
    a = varts_rewards.simulate(p, st, "numba")
    b = varts_rewards.simulate(p, st, "numpy")
    np.testing.assert_allclose(a["regret"].values, b["regret"].values, rtol=1e-12, atol=1e-12)


def test_study_runs_on_the_cuda_simulator():
    from simkit.backends import cuda_available

    if not cuda_available():
        pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 or a GPU")
    p = {**linear_misspec_phase.STUDY.quick_settings, "d": 4, "ratio": 1.0, "horizon": 20, "n_arms": 8}
    st = rep_states(0, "phase", {}, 2)
    a = linear_misspec_phase.simulate(p, st, "cuda")
    b = linear_misspec_phase.simulate(p, st, "numba")
    np.testing.assert_allclose(a["regret"].values, b["regret"].values, rtol=1e-12)


def test_bad_overrides_are_rejected():
    with pytest.raises(ParameterError, match="horizon"):
        varts_regret.STUDY.config(quick=True, overrides={"horizon": 0})
    with pytest.raises(ParameterError, match="prior"):
        varts_prior.STUDY.config(quick=True, overrides={"prior": ["correct", "nonsense"]})
    with pytest.raises(ParameterError, match="gap"):
        linear_misspec_table.STUDY.config(quick=True, overrides={"gap": 1.5})
