"""Theory of the regression family: hand-computed values and consistency between formulas."""

import math

import numpy as np
import pytest

from simkit.errors import ParameterError
from simkit.regression import theory as th


def test_isotropic_hand_values():
    # p < m, orthogonal: sigma^2 t/(1-t); t = 0.5 -> sigma^2
    b, v = th.isotropic_limits(0.25, 0.5, 3.0, 2.0, "haar")
    assert float(b) == 0.0 and float(v) == pytest.approx(4.0)
    # i.i.d.: adds sigma^2 phi/(1-phi) = 4/3
    b, v = th.isotropic_limits(0.25, 0.5, 3.0, 2.0, "gaussian")
    assert float(v) == pytest.approx(4.0 + 4.0 / 3.0)
    # p > m: t = 2 -> bias alpha^2/2, variance sigma^2
    for sk in ("srht", "gaussian"):
        b, v = th.isotropic_limits(1.0, 0.5, 3.0, 2.0, sk)
        assert float(b) == pytest.approx(4.5) and float(v) == pytest.approx(4.0)
    b, v = th.isotropic_limits(0.5, 0.5, 1.0, 1.0)
    assert np.isinf(v)


def test_full_sample_double_descent():
    phi = np.array([0.1, 0.5, 2.0, 10.0])
    b, v = th.full_sample_limits(phi, 10.0, 5.0)
    np.testing.assert_allclose(b, [0, 0, 50.0, 90.0])
    np.testing.assert_allclose(v, [25 * 0.1 / 0.9, 25.0, 25.0, 25 / 9])


def test_optimal_sketch_regimes_and_stable_curve():
    alpha, sigma = 6.0, 2.0
    lo, hi = 1 - sigma / (2 * alpha), alpha / (alpha - sigma)
    phi = np.array([0.5, (lo + hi) / 2, 1.0, 3.0])
    psi, risk = th.optimal_sketch(phi, alpha, sigma)
    assert psi[0] == 1.0 and psi[3] == 1.0
    assert psi[1] == pytest.approx((1 - sigma / alpha) * phi[1])
    assert risk[1] == pytest.approx(2 * alpha * sigma - sigma**2) == risk[2]
    # risk at psi* equals the sketched limit there
    b, v = th.isotropic_limits(phi[1], psi[1], alpha, sigma)
    assert float(b + v) == pytest.approx(risk[1])
    # low SNR: m* << n beyond alpha^2/(alpha^2+sigma^2), risk alpha^2
    psi, risk = th.optimal_sketch(np.array([0.3, 0.9]), 3.0, 4.0, small_psi=1 / 40)
    assert psi[1] == 1 / 40 and risk[1] == 9.0 and psi[0] == 1.0


@pytest.mark.parametrize("alpha,sigma", [(3.0, 4.0), (6.0, 2.0), (5.0, 5.0)])
def test_stable_risk_continuous_monotone_bounded(alpha, sigma):
    phi = np.logspace(-1, 1, 2001)
    r = th.stable_risk(phi, alpha, sigma)
    assert np.all(np.diff(r) >= -1e-9)
    assert np.all(r <= alpha**2 + 1e-9)
    assert np.max(np.abs(np.diff(r))) < 0.05 * alpha**2  # no jump, no peak at phi = 1


@pytest.mark.parametrize("phi", [0.6, 0.9, 1.2, 1.4])
def test_closed_form_m_star_matches_numeric_minimum(phi):
    alpha, sigma = 6.0, 2.0
    psi_num, risk_num = th.optimal_psi_numeric(phi, alpha, sigma)
    psi, risk = th.optimal_sketch(phi, alpha, sigma)
    assert risk_num == pytest.approx(float(risk), rel=1e-6)
    assert psi_num == pytest.approx(float(psi), rel=1e-3, abs=1e-3)


def test_correlated_delta_one_is_isotropic():
    phi = np.array([0.5, 0.5, 1.0, 2.0, 5.0])
    psi = np.array([0.2, 0.9, 0.3, 0.7, 1.0])
    for sk in ("haar", "gaussian"):
        b1, v1 = th.isotropic_limits(phi, psi, 4.0, 3.0, sk)
        b2, v2 = th.correlated_limits(phi, psi, 4.0, 3.0, [1.0], sketch=sk)
        np.testing.assert_allclose(b2, b1, rtol=1e-10)
        np.testing.assert_allclose(v2, v1, rtol=1e-10)


def test_correlated_scaled_identity():
    # Sigma = c I: the bias (Sigma-norm) scales by c, the variance does not change
    b1, v1 = th.isotropic_limits(2.0, 0.5, 4.0, 3.0)
    b2, v2 = th.correlated_limits(2.0, 0.5, 4.0, 3.0, [2.5, 2.5])
    assert float(b2) == pytest.approx(2.5 * float(b1), rel=1e-10)
    assert float(v2) == pytest.approx(float(v1), rel=1e-10)


def test_correlated_c0_solves_equation():
    spec, t = np.array([2.0, 1.0]), 3.0
    c0 = th.correlated_c0(t, spec)
    assert c0 < 0
    assert np.mean(spec / (-c0 + spec / t)) == pytest.approx(1.0, abs=1e-12)
    assert th.correlated_c0(1.0 + 1e-9, spec) < 0


def test_krr_exponents_and_schedule():
    np.testing.assert_allclose(th.krr_rate_exponent([0.1, 0.2, 0.5, 0.8]), [-1 / 6, -2 / 7, -0.5, -1.6 / 2.6])
    assert float(th.krr_lambda_schedule(10_000, 1.0, 2.0, c=2.0)) == pytest.approx(2 * 10_000 ** (-2 / 3))


@pytest.mark.parametrize("a", [0.6, 1.0, 1.5, 2.6, 3.0])
def test_sine_series_against_partial_sums(a):
    theta = np.array([0.2, 1.0, 2.5])
    k = np.arange(1, 400_001)[:, None]
    partial = np.cumsum(k ** (-a) * np.sin(k * theta), axis=0)
    direct = partial[-50_000:].mean(axis=0)  # averaging the tail of partial sums damps the oscillation
    np.testing.assert_allclose(th.sine_series(a, theta), direct, atol=2e-4 if a < 1 else 1e-7)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="sigma"):
        th.isotropic_limits(0.5, 0.5, 1.0, -1.0)
    with pytest.raises(ParameterError, match="psi"):
        th.isotropic_limits(0.5, 1.5, 1.0, 1.0)
    with pytest.raises(ParameterError, match="s must be in"):
        th.krr_rate_exponent(2.5)
    with pytest.raises(ParameterError, match="s must be in"):
        th.krr_lambda_schedule(100, 0.0)
    with pytest.raises(ParameterError, match="sketch"):
        th.isotropic_limits(0.5, 0.5, 1.0, 1.0, "fancy")
    with pytest.raises(ParameterError, match="spectrum"):
        th.correlated_limits(2.0, 0.5, 1.0, 1.0, [1.0, -1.0])
    assert math.isfinite(th.correlated_c0(50.0, [3.0, 1.0, 0.01]))
