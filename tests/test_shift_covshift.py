"""covshift-mle-mwle (spec S1): theory against hand values, estimators against brute force, checks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from simkit.studies import covshift_mle_mwle as study_module

from simkit.errors import ParameterError, ParameterTypeError
from simkit.rng import rep_states
from simkit.shift_preferences import covshift as cs
from simkit.shift_preferences import covshift_theory as th

STUDY = study_module.STUDY
D, M, S2 = 2, 0.75, 1.0


# ------------------------------------------------------------------------------------------ theory


def test_theory_hand_values_at_the_defaults():
    # spec S1, "Theory unit tests, hand values at d = 2, m = 0.75, sigma^2 = 1"
    assert th.mle_noise_trace(25, D, M) == pytest.approx(0.1658333, abs=5e-8)
    assert th.mle_excess_risk(25, D, M, S2, 0.2) == pytest.approx(0.3040991, abs=5e-8)
    assert th.mwle_excess_risk(25, D, M, S2, 0.2) == pytest.approx(0.3695768, abs=5e-8)
    assert np.exp(M**2) * (D + 1 + M**2) == pytest.approx(6.252382, abs=5e-7)
    assert th.weight_second_moment(M) * th.mwle_misfit_constant(D, M) == pytest.approx(74.67595, abs=5e-6)
    assert th.mle_risk_floor(M, 0.2) == pytest.approx(0.1026563, abs=5e-8)
    assert float(th.crossover_n(D, M, S2, 0.1)) == pytest.approx(125.385, abs=5e-4)
    # n_asym(m) = 10 / P(N(0,1) > 2m + 1): 440 (m = 0.5), 1610 (0.75), 7410 (1)
    assert [round(float(th.mwle_asymptotic_n(m)), -1) for m in (0.5, 0.75, 1.0)] == [440, 1610, 7410]


def test_theory_closed_forms_by_hand():
    # A(n) = 1/n + (d(1 + 1/n) + m^2)/(n - d - 2) at d = 5, n = 12, m = 1: 1/12 + (5.41667 + 1)/5
    assert th.mle_noise_trace(12, 5, 1.0) == pytest.approx(1 / 12 + (5 * (1 + 1 / 12) + 1) / 5, rel=1e-14)
    assert th.mle_noise_trace(12, 5, 1.0) == pytest.approx(1.3667, abs=5e-5)  # spec S1_mle_exact
    assert th.mwle_misfit_constant(1, 0.0) == 12.0  # d(2) + 10
    # well-specified first-order ratio MWLE/MLE -> e^{m^2}
    big = 1e9
    ratio = th.mwle_excess_risk(big, D, M, S2, 0.0) / th.mle_excess_risk(big, D, M, S2, 0.0)
    assert ratio == pytest.approx(np.exp(M**2), rel=1e-6)
    # no floor, no crossover at c = 0 or m = 0
    assert np.isinf(th.crossover_n(D, M, S2, 0.0)) and np.isinf(th.crossover_n(D, 0.0, S2, 0.1))
    # at n*(c) the plain first-order MLE risk equals the MWLE's
    c = 0.1
    n_star = float(th.crossover_n(D, M, S2, c))
    plain = th.mle_risk_floor(M, c) + (S2 * (1 + D + M**2) + c**2 * (2 * D + 10 + 14 * M**2)) / n_star
    assert plain == pytest.approx(float(th.mwle_excess_risk(n_star, D, M, S2, c)), rel=1e-12)
    with pytest.raises(ValueError, match="n must be > d \\+ 2"):
        th.mle_noise_trace(4, 2, 0.5)


def test_population_fits_and_target_moment_match_large_samples():
    rng = np.random.default_rng(7)
    d, m, c = 3, 0.75, 0.5
    beta = np.full(d, 1 / np.sqrt(d))
    for shift, expected in ((0.0, th.source_best_fit(d, c)), (m, th.target_best_fit(d, m, c))):
        x = rng.standard_normal((400_000, d))
        x[:, 0] += shift
        y = x @ beta + c * (x[:, 0] ** 2 - 1)
        phi = np.column_stack([np.ones(len(x)), x])
        fit = np.linalg.lstsq(phi, y, rcond=None)[0]
        np.testing.assert_allclose(fit, expected, atol=0.01)
        if shift:
            np.testing.assert_allclose(phi.T @ phi / len(x), th.target_second_moment(d, m), atol=0.015)
    # the floor is the target excess risk of the source fit, exactly
    delta = th.source_best_fit(d, c) - th.target_best_fit(d, m, c)
    assert delta @ th.target_second_moment(d, m) @ delta == pytest.approx(th.mle_risk_floor(m, c), rel=1e-12)


# ------------------------------------------------------------------------------------------ estimators


def test_weighted_least_squares_matches_lstsq_on_scaled_rows_and_ignores_weight_scale():
    rng = np.random.default_rng(3)
    reps, n, p = 4, 9, 3
    phi = np.concatenate([np.ones((reps, n, 1)), rng.standard_normal((reps, n, p - 1))], axis=-1)
    w = rng.exponential(size=(reps, n))
    y = rng.standard_normal((reps, n, 2))
    got = cs.weighted_least_squares(phi, w, y)
    for r in range(reps):
        sw = np.sqrt(w[r])[:, None]
        np.testing.assert_allclose(
            got[r], np.linalg.lstsq(sw * phi[r], sw * y[r], rcond=None)[0], rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            cs.weighted_least_squares(phi, None, y)[r],
            np.linalg.lstsq(phi[r], y[r], rcond=None)[0],
            rtol=1e-10,
            atol=1e-12,
        )
    scaled = cs.weighted_least_squares(phi, w * np.array([1e-3, 1.0, 7.0, 1e5])[:, None], y)
    np.testing.assert_allclose(scaled, got, rtol=1e-10, atol=1e-12)


def test_density_ratio_weights_are_the_ratio_up_to_a_per_replication_constant():
    x1 = np.array([[0.0, 1.0, -2.0], [30.0, 31.0, 29.0]])  # exp(0.75 * 31) would be large but fine; ratios matter
    w = cs.density_ratio_weights(x1, 0.75)
    exact = np.exp(0.75 * x1 - 0.75**2 / 2)
    np.testing.assert_allclose(w / w[:, :1], exact / exact[:, :1], rtol=1e-12)
    assert np.all(w.max(axis=1) == 1.0)


def test_simulator_matches_a_brute_force_fit_with_nonzero_beta():
    d, n, m, sigma2, cvals = 3, 11, 0.6, 0.7, [0.0, 0.3, 1.2]
    states = rep_states(5, "test-covshift", {"n": n}, 6)
    got = cs.simulate_covshift(states, n=n, d=d, m=m, sigma2=sigma2, c=cvals)
    x, eps = cs.draw_source(states, n, d)
    beta = np.full(d, 1 / np.sqrt(d))
    sigma_t = th.target_second_moment(d, m)
    for r in range(states.shape[0]):
        phi = np.column_stack([np.ones(n), x[r]])
        sw = np.sqrt(np.exp(m * x[r, :, 0] - m**2 / 2))[:, None]
        for k, c in enumerate(cvals):
            y = x[r] @ beta + c * (x[r, :, 0] ** 2 - 1) + np.sqrt(sigma2) * eps[r]
            for e, fit in enumerate(
                (np.linalg.lstsq(phi, y, rcond=None)[0], np.linalg.lstsq(sw * phi, sw[:, 0] * y, rcond=None)[0])
            ):
                delta = fit - th.target_best_fit(d, m, c, beta)
                assert got[r, k, e] == pytest.approx(delta @ sigma_t @ delta, rel=1e-9, abs=1e-13)


def test_replications_are_independent_of_count_blocking_and_backend(monkeypatch):
    kw = dict(n=30, d=2, m=0.75, sigma2=1.0, c=[0.0, 0.2])
    states = rep_states(1, "covshift-mle-mwle", {"n": 30}, 9)
    full = cs.simulate_covshift(states, **kw)
    np.testing.assert_array_equal(cs.simulate_covshift(states[:4], **kw), full[:4])
    monkeypatch.setattr(cs, "MAX_BLOCK_BYTES", 1)  # one replication per block
    np.testing.assert_array_equal(cs.simulate_covshift(states, **kw), full)
    for backend in ("numba", "cuda"):
        np.testing.assert_allclose(cs.simulate_covshift(states, backend=backend, **kw), full, rtol=1e-12)
    before = states.copy()
    cs.simulate_covshift(states, **kw)
    np.testing.assert_array_equal(states, before)


def test_exact_mle_formula_at_small_n_and_larger_d():
    # spec S1_mle_exact: d = 5, n = 12, m = 1: 1.3639 +- 0.0026 vs 1.3667 (plain first order 0.583)
    states = rep_states(0, "test-covshift-exact", {"n": 12}, 20000)
    risk = cs.simulate_covshift(states, n=12, d=5, m=1.0, sigma2=1.0, c=[0.0])[:, 0, 0]
    se = risk.std(ddof=1) / np.sqrt(risk.size)
    assert abs(risk.mean() - float(th.mle_noise_trace(12, 5, 1.0))) <= 4 * se
    assert abs(risk.mean() - (1 + 5 + 1) / 12) > 20 * se  # the plain first order is far off


# ------------------------------------------------------------------------------------------ study


@pytest.fixture(scope="module")
def quick():
    from simkit import run_study

    return run_study("covshift-mle-mwle", quick=True, out=None, progress=False, plot=False, backend="numpy")


def test_quick_run_passes_every_check_and_has_the_issue_layout(quick):
    ds = quick.dataset
    assert ds["excess_risk"].dims == ("c", "estimator", "n", "rep")
    assert list(ds["estimator"].values) == ["mle", "mwle"]
    assert ds["excess_risk_theory"].dims == ("c", "estimator", "n")
    assert "exact for MLE at c = 0" in ds["excess_risk_theory"].attrs["long_name"]
    assert "asymptotic" in ds["excess_risk_theory"].attrs["long_name"]
    assert bool(ds["theory_exact"].sel(c=0.0, estimator="mle")) and not bool(
        ds["theory_exact"].sel(c=0.1, estimator="mle")
    )
    assert float(ds["excess_risk_limit"].sel(c=0.2, estimator="mwle")) == 0.0
    assert np.isinf(float(ds["crossover_n"].sel(c=0.0)))
    outcomes = {c.name: c.outcome for c in quick.checks}
    assert outcomes == dict.fromkeys(
        [
            "mle-exact",
            "mle-asymptotic",
            "mwle-upper",
            "mwle-converged",
            "well-specified-mle-wins",
            "misspecified-mwle-wins",
            "crossover",
        ],
        "pass",
    ), [(c.name, c.outcome, c.detail) for c in quick.checks]
    assert all(c.claim for c in quick.checks)


def test_common_random_numbers_across_c(quick):
    ds = quick.dataset
    # c enters linearly in the fit: at fixed draws the risk is a quadratic in c, so the c = 0.1 values are
    # determined by c = 0, 0.2 and one more point only if the draws are shared; check the quadratic identity
    r0, r1, r2 = (ds["excess_risk"].sel(c=c).values for c in (0.0, 0.1, 0.2))
    # q(c) = A c^2 + B c + C  =>  q(0.2) - 2 q(0.1) + q(0) = 2 A (0.1)^2 >= 0 (A = a^T Sigma_T a)
    assert np.all(r2 - 2 * r1 + r0 >= -1e-12)


def _with(ds, **replace):
    out = ds.copy()
    for name, value in replace.items():
        out[name] = value
    return out


def test_checks_fail_for_an_unweighted_mwle(quick):
    ds = quick.dataset
    fake = ds["excess_risk"].copy()
    fake.loc[{"estimator": "mwle"}] = ds["excess_risk"].sel(estimator="mle").values
    out = {c.name: c for c in study_module.checks(_with(ds, excess_risk=fake))}
    assert out["mwle-upper"].outcome == "fail"  # keeps the MLE's floor at c > 0
    assert out["mwle-converged"].outcome == "fail"  # r ~ e^{-m^2} at c = 0
    assert out["well-specified-mle-wins"].outcome == "inconclusive"  # identical estimators: no evidence
    assert out["misspecified-mwle-wins"].outcome == "inconclusive"


def _small_dataset(ns, reps, cvals=(0.0,), m=M, d=D):
    parts = []
    for n in ns:
        states = rep_states(0, "covshift-mle-mwle", {"n": n}, reps)
        parts.append(
            study_module.simulate({"n": n, "d": d, "m": m, "sigma2": S2, "c": cvals}, states, "numpy").expand_dims(
                n=[n]
            )
        )
    ds = xr.concat(parts, "n").transpose("c", "estimator", "n", "rep").assign_attrs(d=d, m=m, sigma2=S2)
    return ds.merge(study_module.theory(ds), combine_attrs="override")


def test_mle_exact_catches_n_minus_d_minus_1_for_n_minus_d_minus_2():
    ds = _small_dataset((12,), 10000)
    assert {c.name: c.outcome for c in study_module.checks(ds)}["mle-exact"] == "pass"
    n = ds["n"].values
    wrong = ds["excess_risk_theory"].copy()
    wrong.loc[{"c": 0.0, "estimator": "mle"}] = S2 * (1 / n + (D * (1 + 1 / n) + M**2) / (n - D - 1))
    out = {c.name: c for c in study_module.checks(_with(ds, excess_risk_theory=wrong))}
    assert out["mle-exact"].outcome == "fail", out["mle-exact"].detail


def test_checks_are_inconclusive_without_power(quick):
    ds = quick.dataset.isel(rep=slice(0, 40))
    out = {c.name: c for c in study_module.checks(ds)}
    assert out["mle-exact"].outcome == "inconclusive"  # z SE > 10% of the theory at 40 reps
    one = quick.dataset.isel(rep=slice(0, 1))
    for c in study_module.checks(one):
        assert c.outcome == "inconclusive", (c.name, c.outcome, c.detail)  # no standard error: no evidence


def test_mwle_converged_is_inconclusive_below_n_asym(quick):
    ds = quick.dataset.sel(n=[25, 100, 400])
    out = {c.name: c for c in study_module.checks(ds)}
    assert out["mwle-converged"].outcome == "inconclusive"
    assert "n_asym" in out["mwle-converged"].detail


def test_well_specified_check_is_inconclusive_at_m_zero():
    ds = _small_dataset((50,), 200, cvals=(0.0, 0.1), m=0.0)
    np.testing.assert_array_equal(ds["excess_risk"].sel(estimator="mle"), ds["excess_risk"].sel(estimator="mwle"))
    out = {c.name: c for c in study_module.checks(ds)}
    assert out["well-specified-mle-wins"].outcome == "inconclusive"
    assert out["crossover"].outcome == "inconclusive"


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"d": 30}, r"d must be < n - 2 for every n \(the exact OLS formula needs n > d \+ 2\); got d = 30, n = 25"),
        ({"n": [4, 100]}, r"d must be < n - 2"),
        ({"m": 2.0}, r"m must be in \[0, 1.5\]"),
        ({"m": -0.1}, r"m must be in \[0, 1.5\]"),
        ({"sigma2": 0.0}, r"sigma2 must be in \(0, inf\]"),
        ({"sigma2": -1.0}, r"sigma2 must be in \(0, inf\]"),
        ({"c": [0.0, -0.1]}, r"c must be in \[0, inf\]"),
        ({"c": [float("nan")]}, r"c must be a finite number"),
        ({"d": 0}, r"d must be in \[1, inf\]"),
    ],
)
def test_bad_input_gives_one_line_errors_naming_the_parameter(overrides, match):
    with pytest.raises(ParameterError, match=match) as info:
        STUDY.config(quick=True, overrides=overrides)
    assert "\n" not in str(info.value)


def test_non_integer_n_is_a_type_error():
    with pytest.raises(ParameterTypeError, match="n must be an integer"):
        STUDY.config(quick=True, overrides={"n": [25.5]})


def test_simulator_rejects_bad_arguments():
    states = rep_states(0, "x", {}, 2)
    with pytest.raises(ParameterError, match="n must be in"):
        cs.simulate_covshift(states, n=2, d=2, m=0.5, sigma2=1.0, c=[0.0])
    with pytest.raises(ParameterError, match="sigma2"):
        cs.simulate_covshift(states, n=10, d=2, m=0.5, sigma2=-1.0, c=[0.0])
    with pytest.raises(ParameterError, match="states"):
        cs.simulate_covshift(states.astype(np.int64), n=10, d=2, m=0.5, sigma2=1.0, c=[0.0])
