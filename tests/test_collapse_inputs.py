"""Bad input to the collapse API and studies: one ParameterError line naming the parameter."""

import numpy as np
import pytest

from simkit.collapse import (
    simulate_gaussian_chain,
    simulate_generator_ridge,
    simulate_kde_chain,
    simulate_linear_chain,
)
from simkit.errors import ParameterError, ParameterTypeError, SimkitError
from simkit.registry import get_study
from simkit.rng import rep_states

STATES = rep_states(0, "collapse-inputs", {}, 2)
LINEAR = dict(d=4, T=10, sigma2=1.0, iterations=2)
GEN = dict(d=4, T0=8, T=8, sigma0_2=1.0, sigma2=1.0, steps=2, record=[0, 2], lams=[0.0, 1.0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "sigma2": -1.0}), "sigma2"),
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "sigma2": float("nan")}), "sigma2"),
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "T": 5}), r"T must be at least d \+ 2 = 6 .*T=5, d=4"),
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "mode": "append"}), "mode"),
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "ridge": -0.1}), "ridge"),
        (lambda: simulate_linear_chain(STATES, **{**LINEAR, "iterations": 0}), "iterations"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "T0": 4}), "T0"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "T": 5}), r"T must be at least d \+ 2"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "sigma0_2": -1.0}), "sigma0_2"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "record": [2, 1]}), "record"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "record": [0, 3]}), "record"),
        (lambda: simulate_generator_ridge(STATES, **{**GEN, "lams": [-1.0]}), "lams"),
        (lambda: simulate_gaussian_chain(STATES, M=3, generations=2, d=3), "M"),
        (lambda: simulate_gaussian_chain(STATES, M=10, generations=2, sigma0_2=0.0), "sigma0_2"),
        (lambda: simulate_gaussian_chain(STATES, M=10, generations=2, sigma0_2=float("nan")), "sigma0_2"),
        (lambda: simulate_gaussian_chain(STATES, M=10, generations=2, fit="robust"), "fit"),
        (lambda: simulate_gaussian_chain(STATES, M=10, generations=2, record=[0, 5]), "record"),
        (lambda: simulate_kde_chain(STATES, M=10, generations=2, h=-0.1), "h"),
        (lambda: simulate_kde_chain(STATES, M=1, generations=2, h=0.1), "M"),
        (lambda: simulate_kde_chain(STATES, M=10, generations=2, h=0.1, sigma0_2=-2.0), "sigma0_2"),
    ],
)
def test_bad_api_input(call, match):
    with pytest.raises(ParameterError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_states_must_be_uint64_pairs():
    # the same rule for every family: tests/test_backend_contract.py
    with pytest.raises(ParameterTypeError, match="states"):
        simulate_linear_chain(np.zeros((2, 2)), **LINEAR)
    with pytest.raises(ParameterError, match="states"):
        simulate_kde_chain(STATES[:, :1].copy(), M=10, generations=1, h=0.1)


@pytest.mark.parametrize(
    "study, overrides, match",
    [
        ("collapse-linear", {"T": 33}, r"T must be at least d \+ 2 = 34 .*T=33, d=32"),
        ("collapse-linear", {"d": 99}, r"d \+ 2"),
        ("collapse-linear", {"sigma2": -0.5}, "sigma2"),
        ("collapse-linear", {"sigma2": float("nan")}, "sigma2"),
        ("collapse-linear", {"mode": "mix"}, "mode"),
        ("collapse-ridge", {"T0": 101}, r"T0 must be at least d \+ 2"),
        ("collapse-ridge", {"T": 50}, r"T must be at least d \+ 2"),
        ("collapse-ridge", {"overparam_T0": 99}, "overparam_T0"),
        ("collapse-ridge", {"sigma0_2": -1.0}, "sigma0_2"),
        ("collapse-gaussian", {"M": 1}, "M"),
        ("collapse-gaussian", {"sigma0_2": 0.0}, "sigma0_2"),
        ("collapse-gaussian", {"fit": "robust"}, "fit"),
        ("collapse-kde", {"h": -1.0}, "h"),
    ],
)
def test_bad_study_settings_rejected_before_running(study, overrides, match):
    with pytest.raises(SimkitError, match=match):
        get_study(study).config(overrides=overrides)


@pytest.mark.parametrize("name", ["collapse-linear", "collapse-ridge", "collapse-gaussian", "collapse-kde"])
def test_study_declares_its_parameters(name):
    study = get_study(name)
    declared = {p.name for p in study.params}
    for table in (study.grid, study.settings, study.quick_grid, study.quick_settings):
        assert set(table) <= declared
    study.config()
    study.config(quick=True)
    assert study.family == "collapse" and study.teaching.count("What") >= 3


def test_linear_dataset_layout():
    from simkit.api import run_study

    result = run_study(
        "collapse-linear",
        quick=True,
        reps=3,
        backend="numba",
        out=None,
        progress=False,
        overrides={"sigma2": [1.0], "T": [40], "iterations": 3},
    )
    ds = result.dataset
    assert ds["test_error"].dims == ("mode", "sigma2", "T", "iteration", "rep")
    assert list(ds["mode"].values) == ["replace", "accumulate"]
    assert ds["test_error_theory"].dims == ("mode", "sigma2", "T", "iteration")
    assert ds.attrs["d"] == 32
    assert ds["test_error"].attrs["units"] and ds["test_error"].attrs["long_name"]


def test_gaussian_dataset_layout():
    from simkit.api import run_study

    result = run_study(
        "collapse-gaussian",
        quick=True,
        reps=3,
        backend="numba",
        out=None,
        progress=False,
        overrides={"M": [10], "generations": 5},
    )
    ds = result.dataset
    for name in ("variance", "mean", "w2"):
        assert ds[name].dims == ("fit", "mode", "M", "generation", "rep")
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    np.testing.assert_allclose(ds["w2"], (ds["mean"] - 0.0) ** 2 + (np.sqrt(ds["variance"]) - 1.0) ** 2)
