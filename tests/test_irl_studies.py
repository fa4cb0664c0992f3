"""IRL family: the four studies — backends agree, replications independent, datasets well formed."""

import numpy as np
import pytest
from simkit.studies import irl_discount, irl_dynamics, irl_temperature, starc_regret

from simkit.api import run_study
from simkit.backends import cuda_available
from simkit.rng import rep_states

SMALL = {"n_states": 5, "n_actions": 2}
CASES = {
    "irl-temperature": (irl_temperature.STUDY, {"model": "boltzmann", "ratio": 2.0}),
    "irl-discount": (irl_discount.STUDY, {"gamma_true": 0.9, "gamma_assumed": 0.85}),
    "irl-dynamics": (irl_dynamics.STUDY, {"lam": 0.1}),
    "starc-regret": (starc_regret.STUDY, {"steps": 4}),
}


def _params(study, cell):
    return {**study.quick_settings, **SMALL, **cell}


@pytest.mark.parametrize("name", list(CASES))
def test_numba_agrees_with_numpy_and_replications_are_independent(name):
    study, cell = CASES[name]
    params = _params(study, cell)
    states = rep_states(0, name, cell, 3)
    a = study.simulate(params, states, "numpy")
    b = study.simulate(params, states, "numba")
    c = study.simulate(params, states[:2], "numba")
    for var in a.data_vars:
        assert a[var].attrs.get("long_name") and "units" in a[var].attrs
        x, y = a[var], b[var]
        if "irl_method" in x.dims and var != "starc":
            # the worst case maximises STARC; the maximiser is not unique, so only its STARC is compared
            x, y = (
                x.sel({"irl_method": x["irl_method"] != "worst_case"}),
                y.sel({"irl_method": y["irl_method"] != "worst_case"}),
            )
        assert np.allclose(x.values, y.values, atol=1e-5, equal_nan=True), var
        assert np.allclose(b[var].isel(rep=slice(0, 2)).values, c[var].values, atol=1e-12, equal_nan=True), var
    assert a.sizes["rep"] == 3


def test_cuda_backend_agrees_under_the_simulator():
    if not cuda_available():
        pytest.skip("no CUDA (set NUMBA_ENABLE_CUDASIM=1)")
    study, cell = CASES["irl-temperature"]
    params = {**_params(study, cell), "n_states": 3}
    states = rep_states(1, "irl-temperature", cell, 2)
    a = study.simulate(params, states, "cuda")
    b = study.simulate(params, states, "numba")
    for var in a.data_vars:
        assert np.allclose(a[var].values, b[var].values, atol=1e-9), var


def test_temperature_quick_run_passes_its_checks():
    result = run_study("irl-temperature", quick=True, out=None, backend="numba", progress=False)
    assert result.passed, [(c.name, c.value, c.detail) for c in result.checks if not c.passed]
    assert set(result.dataset["starc"].dims) == {"model", "ratio", "mdp"}


def test_discount_dataset_has_the_documented_dims_and_checks_run():
    result = run_study(
        "irl-discount",
        quick=True,
        out=None,
        backend="numba",
        progress=False,
        reps=2,
        overrides={"gamma_true": [0.9], "gamma_assumed": [0.85, 0.89, 0.899, 0.9], "n_states": 6},
    )
    ds = result.dataset
    for var in ("starc", "epic", "regret"):
        assert set(ds[var].dims) == {"irl_method", "gamma_true", "gamma_assumed", "mdp"}
    assert list(ds["irl_method"].values) == ["mce", "boltzmann", "worst_case", "mce_irl"]
    names = {c.name: c for c in result.checks}
    assert names["MCE closed form: STARC = 0 to numerical precision (any misspecification)"].passed
    assert names["worst case over the feasible set: STARC ≥ 0.5 for every MDP under any misspecification"].passed
    assert "starc_theory" in ds


def test_dynamics_worst_case_is_maximal():
    result = run_study(
        "irl-dynamics",
        quick=True,
        out=None,
        backend="numba",
        progress=False,
        reps=2,
        overrides={"lam": [0.0, 0.01], "n_states": 6},
    )
    worst = result.dataset["starc"].sel(irl_method="worst_case")
    assert float(worst.sel(lam=0.0).max()) <= 1e-9
    assert float(worst.sel(lam=0.01).min()) >= 0.99


def test_starc_regret_disguises_do_not_change_starc():
    study = starc_regret.STUDY
    params = {**study.quick_settings, **SMALL, "steps": 4}
    states = rep_states(2, "starc-regret", {}, 2)
    plain = study.simulate({**params, "shaping_scale": 0.0, "redistribution_scale": 0.0}, states, "numba")
    disguised = study.simulate(params, states, "numba")
    for var in ("starc_val", "starc_minimal", "regret"):
        assert np.allclose(plain[var].values, disguised[var].values, atol=1e-8), var
    assert not np.allclose(plain["l2"].values, disguised["l2"].values, atol=1e-3)
