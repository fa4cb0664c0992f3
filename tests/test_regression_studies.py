"""Regression studies: registration, dataset layout, backends agreeing on one cell, bad settings."""

import numpy as np
import pytest

from simkit.errors import ParameterError
from simkit.registry import get_study
from simkit.rng import rep_states

# study -> small overrides that keep a run to a second or two
SMALL = {
    "ridgeless-double-descent": {"n": 30, "phi": [0.5, 2.0], "alpha": [5.0]},
    "sketched-risk": {"n": 32, "p": 12, "psi": [0.25, 0.75], "alpha": [5.0]},
    "sketched-optimal-m": {"n": 40, "phi": [0.5, 1.3], "alpha": [6.0]},
    "sketched-correlated": {"n": 32, "p": 12, "psi": [0.25, 0.75], "alpha": [3.0]},
    "sketched-correlated-optimal-m": {"n": 40, "phi": [0.5, 1.3]},
    "krr-rates": {"n": [50, 100, 200], "s": [0.5]},
    "krr-lambda": {"n": [50, 100, 200], "s": [1.0], "lambda_points": 9},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_study_runs_and_dataset_is_documented(name):
    from simkit.api import run_study

    study = get_study(name)
    assert study.family == "regression" and len(study.teaching) > 200
    result = run_study(name, quick=True, reps=4, overrides=SMALL[name], out=None, progress=False, backend="numba")
    ds = result.dataset
    assert "rep" in ds.dims and ds.sizes["rep"] == 4
    for var in ds.data_vars:
        assert ds[var].attrs.get("long_name") and "units" in ds[var].attrs, var
    assert result.checks and all(np.isfinite(c.value) or not c.passed for c in result.checks)
    fig = study.plot(ds)
    assert fig.axes


def test_sketched_risk_layout():
    from simkit.api import run_study

    ds = run_study(
        "sketched-risk", quick=True, reps=3, overrides=SMALL["sketched-risk"], out=None, progress=False, backend="numba"
    ).dataset
    for var in ("risk", "bias", "variance"):
        assert ds[var].dims == ("alpha", "sketch", "psi", "rep")
    assert ds["risk_theory"].dims == ("alpha", "sketch", "psi")
    assert {"n", "p", "sigma"} <= set(ds.attrs)


def test_krr_rates_layout():
    from simkit.api import run_study

    ds = run_study("krr-rates", quick=True, reps=3, overrides=SMALL["krr-rates"], out=None, progress=False).dataset
    assert ds["l2_error"].dims == ("s", "n", "rep")
    assert ds["slope"].dims == ("s",) and ds["slope_theory"].dims == ("s",)


@pytest.mark.parametrize(
    "name,cell",
    [
        ("sketched-risk", {"n": 16, "p": 6, "sigma": 1.0, "alpha": 2.0, "sketch": "srht", "psi": 0.5}),
        (
            "sketched-correlated",
            {
                "n": 16,
                "p": 6,
                "sigma": 1.0,
                "alpha": 2.0,
                "sketch": "gaussian",
                "psi": 0.75,
                "eig_high": 2.0,
                "eig_low": 1.0,
            },
        ),
        ("krr-rates", {"n": 40, "s": 0.3, "sigma": 0.5, "lambda_c": 1.0}),
    ],
)
@pytest.mark.backends("numba", "cuda")
def test_backends_agree_on_one_cell(name, cell, backend):
    study = get_study(name)
    states = rep_states(0, name, cell, 2)
    ref = study.simulate(cell, states.copy(), "numpy")
    out = study.simulate(cell, states.copy(), backend)
    for var in ref.data_vars:
        np.testing.assert_allclose(out[var].values, ref[var].values, rtol=1e-9, atol=1e-12)


def test_bad_settings_are_rejected():
    with pytest.raises(ParameterError, match="sketch"):
        get_study("sketched-risk").config(quick=True, overrides={"sketch": ["sparse_jl"]})
    with pytest.raises(ParameterError, match="s must be in"):
        get_study("krr-rates").config(quick=True, overrides={"s": [2.5]})
    with pytest.raises(ParameterError, match="sigma"):
        get_study("ridgeless-double-descent").config(quick=True, overrides={"sigma": -1.0})
