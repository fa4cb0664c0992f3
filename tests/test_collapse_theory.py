"""Every collapse theory function against values computed by hand."""

import math

import numpy as np
import pytest
from scipy import special, stats

from simkit.collapse import theory as th
from simkit.errors import ParameterError

EULER = 0.5772156649015329


def test_linear_chain_constants():
    assert th.ols_variance_factor(32, 100) == pytest.approx(32 / 67)
    assert th.linear_collapse_constant(2.0, 4, 10) == pytest.approx(2 * 4 / 5)
    assert th.linear_replace_error([0, 1, 3], 1.0, 32, 100) == pytest.approx([0, 32 / 67, 96 / 67])
    assert th.linear_replace_error(2, 1.0, 32, 100) == pytest.approx(64 / 67)
    assert th.linear_accumulate_error(3, 2.0, 4, 10) == pytest.approx(1.6 * (1 + 1 / 4 + 1 / 9))
    assert th.linear_accumulate_error([0, 1], 2.0, 4, 10) == pytest.approx([0, 1.6])
    assert th.linear_accumulate_bound(1.0, 4, 10) == pytest.approx(0.8 * math.pi**2 / 6)


def test_linear_conditional_constant():
    X = math.sqrt(2) * np.vstack([np.eye(2), np.eye(2)])  # XᵀX = 4 I
    assert th.linear_conditional_constant(X, 3.0) == pytest.approx(3 * 0.5)


def test_generator_ols_test_error():
    # 1·2/(5 − 3) + 2·0.5·2/(7 − 3)
    assert th.generator_ols_test_error(2, sigma2=1.0, d=2, T=5, sigma0_2=0.5, T0=7) == pytest.approx(1.5)
    assert th.generator_ols_test_error([0, 2], sigma2=1.0, d=2, T=5, sigma0_2=0.5, T0=7) == pytest.approx([1.0, 1.5])


def test_ridge_kappa():
    assert th.ridge_kappa(0.5, 0.0) == 0.0
    assert th.ridge_kappa(0.5, 0.5) == pytest.approx(math.sqrt(0.5))  # κ² − 0.5 = 0
    assert th.ridge_kappa(2.0, 0.0) == pytest.approx(1.0)  # φ − 1 for φ > 1
    assert th.ridge_kappa(1e-12, 0.3) == pytest.approx(0.3, rel=1e-9)  # φ → 0: κ = λ


def test_ridge_limit_terms_by_hand():
    k = math.sqrt(0.5)
    u = 0.5 / (1 + k) ** 2
    bias, var, rho = th.ridge_limit_terms(0.5, phi=0.5, w0_norm2=1.0, sigma2=1.0)
    assert bias == pytest.approx(k**2 / (1 + k) ** 2 / (1 - u))
    assert bias == pytest.approx(0.2071068, rel=1e-6)
    assert var == pytest.approx(u / (1 - u))
    assert rho == pytest.approx(1 / (1 + k) ** 2 + (k / (1 + k)) ** 2 * u / (1 - u))
    assert rho == pytest.approx(0.3786797, rel=1e-6)
    # λ = 0 with φ < 1: no bias, OLS variance φ/(1 − φ), synthetic noise passes unchanged
    assert th.ridge_limit_terms(0.0, phi=0.25, w0_norm2=3.0, sigma2=2.0) == pytest.approx((0.0, 2 * 0.25 / 0.75, 1.0))


def test_ridge_limit_test_error_and_optimum():
    bias, var, rho = th.ridge_limit_terms(0.5, phi=0.5, w0_norm2=1.0, sigma2=1.0)
    value = th.ridge_limit_test_error(2, 0.5, d=50, T=100, T0=53, w0_norm2=1.0, sigma2=1.0, sigma0_2=1.0)
    assert value == pytest.approx(bias + var + 2 * 25 * rho)  # 50/(53 − 51) = 25
    # clean data: the isotropic ridge optimum is λ* = σ² φ / ‖w₀‖²
    assert th.ridge_optimal_lambda(0, d=50, T=100, T0=200, w0_norm2=1.0, sigma2=0.5, sigma0_2=1.0) == pytest.approx(
        0.25, rel=1e-4
    )
    lam = th.ridge_optimal_lambda([0, 1, 10, 50], d=50, T=100, T0=200, w0_norm2=1.0, sigma2=0.5, sigma0_2=1.0)
    assert np.all(np.diff(lam) > 0)


def test_overparam_generator_error():
    assert th.overparam_generator_error(1, d=10, T0=4, sigma0_2=0.0, w0_norm2=2.0) == pytest.approx(1.2)
    # a = 0.4: 2(1 − 0.16) + 4/5 · 0.84/0.6
    assert th.overparam_generator_error(2, d=10, T0=4, sigma0_2=1.0, w0_norm2=2.0) == pytest.approx(2.8)
    assert th.overparam_generator_error([0, 200], d=10, T0=4, sigma0_2=0.0, w0_norm2=2.0) == pytest.approx([0.0, 2.0])


def test_c4():
    assert th.c4(2) == pytest.approx(math.sqrt(2 / math.pi))
    assert th.c4(3) == pytest.approx(math.sqrt(math.pi) / 2)


def test_gaussian_replace_moments():
    assert th.gaussian_variance_mean(3, 4, fit="unbiased", sigma0_2=2.0) == pytest.approx(2.0)
    assert th.gaussian_variance_mean(3, 4, fit="mle", sigma0_2=2.0) == pytest.approx(2 * 0.75**3)
    assert th.gaussian_variance_var(2, 3, fit="unbiased") == pytest.approx(3.0)  # (1 + 1)² − 1
    assert th.gaussian_variance_var(1, 2, fit="mle") == pytest.approx(0.5)  # Var(χ²₁/2)
    assert th.gaussian_log_variance_mean(1, 3, fit="unbiased") == pytest.approx(-EULER)
    assert th.gaussian_log_variance_mean(2, 3, fit="mle", sigma0_2=math.e) == pytest.approx(
        1 + 2 * (-EULER - math.log(1.5))
    )
    assert th.gaussian_sd_mean(2, 3, fit="unbiased") == pytest.approx(math.pi / 4)
    assert th.gaussian_sd_mean(1, 3, fit="mle", sigma0_2=4.0) == pytest.approx(
        2 * math.sqrt(math.pi) / 2 * math.sqrt(2 / 3)
    )


def test_gaussian_mean_and_w2():
    assert th.gaussian_mean_sq_error(2, 4, fit="unbiased", mode="replace") == pytest.approx(0.5)
    assert th.gaussian_mean_sq_error(2, 4, fit="mle", mode="replace") == pytest.approx((1 + 0.75) / 4)
    assert th.gaussian_mean_sq_error(2, 4, fit="mle", mode="accumulate") == pytest.approx((1 + 0.75 / 4) / 4)
    assert th.gaussian_accumulate_mean_sq_bound(6, sigma0_2=2.0) == pytest.approx(2 * math.pi**2 / 36)
    assert th.gaussian_w2_mean(1, 2, fit="unbiased") == pytest.approx(0.5 + 2 * (1 - math.sqrt(2 / math.pi)))
    assert th.gaussian_w2_mean(0, 5) == pytest.approx(0.0)


def test_gaussian_accumulate():
    assert th.gaussian_accumulate_variance_mean(2, 4, fit="mle") == pytest.approx(0.75 * 0.9375)
    assert th.gaussian_accumulate_variance_mean([0, 1, 2], 4, fit="unbiased", sigma0_2=2.0) == pytest.approx(
        [2, 2, 2 * 13 / 14]
    )
    assert th.gaussian_accumulate_variance_limit(4, fit="mle") == pytest.approx(2 / math.pi)
    far = th.gaussian_accumulate_variance_mean(100_000, 7, fit="unbiased")
    assert th.gaussian_accumulate_variance_limit(7, fit="unbiased") == pytest.approx(far, rel=1e-5)
    assert th.gaussian_accumulate_variance_mean(100_000, 7, fit="mle") == pytest.approx(
        th.gaussian_accumulate_variance_limit(7, fit="mle"), rel=1e-5
    )


def test_gaussian_determinant():
    assert th.gaussian_det_mean(2, 5, 2, fit="unbiased", sigma0_2=2.0) == pytest.approx(4 * 0.75**2)
    assert th.gaussian_det_mean(1, 5, 2, fit="mle") == pytest.approx(4 / 5 * 3 / 5)
    assert th.gaussian_logdet_mean(1, 3, 1, fit="unbiased") == pytest.approx(-EULER)
    assert th.gaussian_logdet_mean(2, 6, 2, fit="mle", sigma0_2=math.e) == pytest.approx(
        2 + 2 * (special.digamma(2.5) + special.digamma(2.0) + 2 * math.log(2) - 2 * math.log(6))
    )


def test_gaussian_log_variance_distribution():
    # n = 1: log(χ²₉/9) ≤ x  ⇔  χ²₉ ≤ 9 eˣ
    assert th.gaussian_log_variance_cdf(0.2, 1, 10) == pytest.approx(stats.chi2.cdf(9 * math.exp(0.2), 9), abs=1e-7)
    # n = 2, M = 3: χ²₂/2 ~ Exp(1), P(E₁E₂ ≤ 1) = 1 − 2 K₁(2)
    assert th.gaussian_log_variance_cdf(0.0, 2, 3) == pytest.approx(1 - 2 * special.k1(2.0), abs=1e-7)
    assert th.gaussian_variance_median(1, 10) == pytest.approx(stats.chi2.median(9) / 9, rel=1e-8)
    assert th.gaussian_variance_median(1, 10, fit="mle", sigma0_2=2.0) == pytest.approx(
        2 * stats.chi2.median(9) / 10, rel=1e-8
    )
    assert th.gaussian_variance_median(0, 10, sigma0_2=3.0) == 3.0


def test_kde():
    assert th.kde_fixed_point(11, 0.5) == pytest.approx(2.5)
    assert th.kde_collapse_bandwidth(5, 4.0) == pytest.approx(1.0)
    # M = 2, h = 1: s₀² = 0.5, s₁² = 0.5·1.5, s₂² = 0.5·1.75
    assert th.kde_replace_variance([0, 1, 2], 2, 1.0) == pytest.approx([0.5, 0.75, 0.875])
    gen, pooled = th.kde_accumulate_variance([0, 1], 2, 1.0)
    assert gen == pytest.approx([0.5, 0.75])
    assert pooled == pytest.approx([0.5, (0.5 + 1.5 * 0.75) / 2])


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.ols_variance_factor(32, 33),
        lambda: th.linear_collapse_constant(-1.0, 4, 10),
        lambda: th.linear_collapse_constant(float("nan"), 4, 10),
        lambda: th.linear_replace_error(-1, 1.0, 4, 10),
        lambda: th.linear_replace_error(1.5, 1.0, 4, 10),
        lambda: th.generator_ols_test_error(1, sigma2=1.0, d=10, T=20, sigma0_2=1.0, T0=11),
        lambda: th.overparam_generator_error(1, d=10, T0=9, sigma0_2=0.0, w0_norm2=1.0),
        lambda: th.gaussian_variance_mean(1, 1),
        lambda: th.gaussian_variance_mean(1, 10, fit="bogus"),
        lambda: th.gaussian_log_variance_mean(1, 10, sigma0_2=-1.0),
        lambda: th.gaussian_mean_sq_error(1, 10, mode="bogus"),
        lambda: th.gaussian_det_mean(1, 3, 3),
        lambda: th.kde_replace_variance(1, 10, -0.1),
        lambda: th.ridge_kappa(0.5, -1.0),
    ],
)
def test_bad_input_raises_parameter_error(call):
    with pytest.raises(ParameterError):
        call()


def test_ols_size_error_names_T_and_d():
    with pytest.raises(ParameterError, match=r"T must be at least d \+ 2 = 34 .*T=33, d=32"):
        th.ols_variance_factor(32, 33)
