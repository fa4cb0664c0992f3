"""Bandit theory helpers, prior estimation and per-run statistics."""

import math

import numpy as np
import pytest
import xarray as xr

from simkit.bandits import theory
from simkit.bandits.datasets import late_share, linear_runs
from simkit.bandits.karmed import NormalGamma
from simkit.bandits.priors import estimate_normal_gamma
from simkit.bandits.reference import klucb_bernoulli_index, klucb_upper_bound
from simkit.errors import ParameterError


def test_ucb1_bound_by_hand():
    # gaps 0.5 and 0.25: 8 log n (2 + 4) + (1 + pi^2/3)(0.75)
    n = 100
    expected = 8 * math.log(n) * 6 + (1 + math.pi**2 / 3) * 0.75
    assert float(theory.ucb1_upper_bound([1.0, 0.5, 0.75], n)) == pytest.approx(expected)


def test_lai_robbins_and_uniform_regret():
    assert float(theory.lai_robbins_gaussian([0.0, 1.0], [2.0, 1.0], math.e)) == pytest.approx(4.0)
    assert float(theory.uniform_regret([0.0, 1.0, 0.5], 10)) == pytest.approx(5.0)


def test_paper_table_has_every_gamma():
    assert set(theory.PAPER_TABLE) == {
        "oful",
        "ds-oful-0.02",
        "ds-oful-0.05",
        "ds-oful-0.08",
        "ds-oful-0.13",
        "suplinucb",
    }


def test_klucb_upper_bound_is_above_the_index():
    rng = np.random.default_rng(0)
    for _ in range(500):
        m, n, level = rng.random(), float(rng.integers(1, 500)), math.log(rng.integers(2, 10_000))
        assert klucb_upper_bound(m, n, level) >= klucb_bernoulli_index(m, n, level) - 1e-12


def test_estimated_prior_recovers_the_true_one():
    true = NormalGamma(0.3, 2.0, 3.0, 1.5)
    rng = np.random.default_rng(1)
    lam = rng.gamma(true.alpha0, 1 / true.beta0, 20_000)
    means = true.mu0 + rng.standard_normal(lam.size) / np.sqrt(true.kappa0 * lam)
    fit = estimate_normal_gamma(means, 1 / lam)
    assert fit.mu0 == pytest.approx(true.mu0, abs=0.02)
    assert fit.kappa0 == pytest.approx(true.kappa0, rel=0.05)
    assert fit.alpha0 == pytest.approx(true.alpha0, rel=0.05)
    assert fit.beta0 == pytest.approx(true.beta0, rel=0.05)
    with pytest.raises(ParameterError):
        estimate_normal_gamma([0.0, 1.0], [1.0, -1.0])


def test_late_share_and_linear_runs():
    t = np.array([1, 10, 50, 100])
    regret = xr.DataArray(
        np.array([[1.0, 5.0, 10.0, 10.0], [1.0, 10.0, 50.0, 100.0], [0.0, 0.0, 0.0, 0.0]]).T,
        dims=("t", "rep"),
        coords={"t": t},
    )
    np.testing.assert_allclose(late_share(regret).values, [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(linear_runs(regret).values, [0.0, 1.0, 0.0])
