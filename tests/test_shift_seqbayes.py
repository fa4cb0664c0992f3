"""seqbayes-forgetting (spec S5): exact theory against hand values, the updates against batch Bayes, checks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from simkit.studies import seqbayes_forgetting as study_module

from simkit.errors import ParameterError, ParameterTypeError
from simkit.rng import Stream, rep_states
from simkit.shift_preferences import seqbayes as sb
from simkit.shift_preferences import seqbayes_theory as th

STUDY = study_module.STUDY
DEFAULTS = dict(n1=20, theta1=0.5, theta2=1.0, sigma2=1.0, prior_var=1.0)
ARGS = (20, 0.5, 1.0, 1.0, 1.0)  # n1, theta1, theta2, sigma2, prior_var


def _e(model, stage, task, n2, n1=20, t1=0.5, t2=1.0, s2=1.0, pv=1.0):
    return float(th.expected_squared_error(model, stage, task, n1, n2, t1, t2, s2, pv))


# ------------------------------------------------------------------------------------------ theory


def test_theory_hand_values_at_the_defaults():
    # spec S5, "Theory unit tests, hand values at the defaults"
    assert _e("shared", "after-task-1", 1, 5) == pytest.approx(0.0459184, abs=5e-8)
    assert _e("task-specific", "after-task-1", 1, 5) == pytest.approx(0.0459184, abs=5e-8)
    # ((n2 Delta - lam theta1)/b)^2 + N sigma^2/b^2 = (9.5/41)^2 + 40/41^2 = 0.07748364 (the spec prints 0.0774837)
    assert _e("shared", "after-task-2", 1, 20) == pytest.approx((9.5 / 41) ** 2 + 40 / 41**2, rel=1e-14)
    assert _e("shared", "after-task-2", 1, 20) == pytest.approx(0.0774837, abs=1e-7)
    assert _e("task-specific", "after-task-2", 2, 1) == pytest.approx(0.5, abs=1e-15)
    assert float(th.forgetting(20, 1000, 0.5, 1.0, 1.0, 1.0)) == pytest.approx(0.194402, abs=5e-7)
    assert th.flat_prior_threshold(20, 0.5, 1.0, 1.0) == pytest.approx(5.0, rel=1e-12)
    # after task 1 (independent of n2): 0.04592 both models; task 2: 0.31973 shared, 1 task-specific
    assert _e("shared", "after-task-1", 2, 7) == pytest.approx(0.31973, abs=5e-6)
    assert _e("task-specific", "after-task-1", 2, 7) == 1.0


def test_theory_table_of_the_spec():
    n2 = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    table = {
        ("shared", 1): [0.04339, 0.04206, 0.04290, 0.05229, 0.07748, 0.13296, 0.17555, 0.20721, 0.23125, 0.24032],
        ("shared", 2): [0.29339, 0.27032, 0.21598, 0.15713, 0.09578, 0.03789, 0.01646, 0.00698, 0.00236, 0.00109],
        ("task-specific", 2): [
            0.50000,
            0.33333,
            0.16667,
            0.09091,
            0.04762,
            0.01961,
            0.00990,
            0.00498,
            0.00200,
            0.00100,
        ],
    }
    for (model, task), want in table.items():
        got = th.expected_squared_error(model, "after-task-2", task, 20, n2, 0.5, 1.0, 1.0, 1.0)
        np.testing.assert_allclose(got, want, atol=5e-6)
    f = th.forgetting(20, n2, 0.5, 1.0, 1.0, 1.0)
    np.testing.assert_allclose(
        f, [-0.00253, -0.00386, -0.00302, 0.00637, 0.03157, 0.08704, 0.12963, 0.16129, 0.18533, 0.19440], atol=5e-6
    )
    assert float(th.forgetting(20, 1e9, 0.5, 1.0, 1.0, 1.0)) == pytest.approx(0.25 - 0.0459184, abs=1e-6)


def test_flat_prior_limit_and_rules():
    # lambda -> 0 (prior_var huge): the exact F tends to (n2/N)(n2 Delta^2/N - sigma^2/n1)
    n2 = np.array([1.0, 3.0, 10.0, 400.0])
    np.testing.assert_allclose(
        th.forgetting(7, n2, -0.3, 0.4, 2.0, 1e12),
        th.flat_prior_forgetting(7, n2, -0.3, 0.4, 2.0),
        rtol=1e-8,
        atol=1e-12,
    )
    # sign rule: F > 0 iff Delta^2 > sigma^2 (1/n1 + 1/n2); at the threshold F = 0
    thr = th.flat_prior_threshold(20, 0.5, 1.0, 1.0)
    assert float(th.flat_prior_forgetting(20, thr, 0.5, 1.0, 1.0)) == pytest.approx(0.0, abs=1e-15)
    assert th.flat_prior_threshold(20, 0.5, 0.6, 1.0) == np.inf
    # n2* minimises the flat-prior task-1 error: n1 q/(1 - q), q = sigma^2/(2 Delta^2 n1) = 0.1 -> 2.222
    best = th.flat_prior_best_n2(20, 0.5, 1.0, 1.0)
    assert best == pytest.approx(20 * 0.1 / 0.9, rel=1e-12)
    grid = np.linspace(0.5, 10, 2001)
    error = th.expected_squared_error("shared", "after-task-2", 1, 20, grid, 0.5, 1.0, 1.0, 1e15)
    assert grid[np.argmin(error)] == pytest.approx(best, abs=0.01)
    assert th.flat_prior_best_n2(20, 0.5, 0.55, 1.0) == np.inf
    # well specified: F < 0 for every n2 (with a prior whenever n1 >= lambda)
    assert np.all(th.forgetting(20, np.geomspace(1, 1e6, 50), 0.7, 0.7, 1.0, 1.0) < 0)


def test_squared_error_variance_matches_a_noncentral_chi_square():
    rng = np.random.default_rng(2)
    mean, var = th.prediction_error_moments("shared", "after-task-2", 1, 20, 50, 0.5, 1.0, 1.0, 1.0)
    err = float(mean) + np.sqrt(float(var)) * rng.standard_normal(400_000)
    exact = float(th.squared_error_variance("shared", "after-task-2", 1, 20, 50, 0.5, 1.0, 1.0, 1.0))
    assert np.var(err**2) == pytest.approx(exact, rel=0.02)
    assert exact == pytest.approx(2 * float(var) ** 2 + 4 * float(mean) ** 2 * float(var), rel=1e-14)


def test_posterior_variance_shrinks_for_the_shared_model_only():
    n2 = np.array([1.0, 100.0])
    shared = th.posterior_variance_task1("shared", "after-task-2", 20, n2, 1.0, 1.0)
    np.testing.assert_allclose(shared, 1 / (21 + n2), rtol=1e-15)
    np.testing.assert_allclose(th.posterior_variance_task1("task-specific", "after-task-2", 20, n2, 1.0, 1.0), 1 / 21)


def test_theory_rejects_unknown_labels():
    with pytest.raises(ValueError, match="model"):
        th.prediction_error_moments("joint", "after-task-1", 1, *ARGS[:1], 5, *ARGS[1:])
    with pytest.raises(ValueError, match="task"):
        th.prediction_error_moments("shared", "after-task-1", 3, *ARGS[:1], 5, *ARGS[1:])


# ------------------------------------------------------------------------------------------ simulator


def test_stream_normals_are_the_replication_streams():
    states = rep_states(3, "test-seqbayes", {}, 6)
    got = sb.stream_normals(states, 5)
    want = np.stack([Stream(s.copy()).normal((5,)) for s in states])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(states, rep_states(3, "test-seqbayes", {}, 6))  # not modified


def test_sequential_equals_batch_and_task_specific_task1_is_untouched():
    states = rep_states(0, "test-seqbayes", {"n2": 37}, 500)
    kw = dict(n1=13, n2=37, theta1=-0.4, theta2=1.3, sigma2=2.5, prior_var=0.7)
    out = sb.simulate_seqbayes(states, **kw)
    ybar1, ybar2 = sb.draw_task_means(states, n1=13, n2=37, theta1=-0.4, theta2=1.3, sigma2=2.5)
    lam = 2.5 / 0.7
    batch = (13 * ybar1 + 37 * ybar2) / (13 + 37 + lam)
    pred = out["posterior_mean"]
    np.testing.assert_allclose(pred[:, 0, 1, 0], batch, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pred[:, 0, 0, 0], 13 * ybar1 / (13 + lam), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pred[:, 1, 1, 1], 37 * ybar2 / (37 + lam), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(pred[:, 1, 0, 1], 0.0)  # untrained task-specific mean: prior mean
    np.testing.assert_array_equal(pred[:, 1, 1, 0], pred[:, 1, 0, 0])  # exact equality: no forgetting
    np.testing.assert_array_equal(pred[:, 0, :, 0], pred[:, 0, :, 1])  # shared: one mean for both tasks
    np.testing.assert_allclose(out["mse_task1"], (pred[..., 0] + 0.4) ** 2, rtol=1e-15)


def test_conjugate_update_by_hand():
    mean, precision = sb.conjugate_update(np.array([1.0]), 2.0, 4, np.array([3.0]), 0.5)
    # p' = 2 + 4/0.5 = 10, mu' = (2*1 + 8*3)/10 = 2.6
    assert float(precision) == 10.0 and float(mean[0]) == pytest.approx(2.6, rel=1e-15)


def test_full_data_path_matches_the_canonical_path_in_distribution():
    kw = dict(n1=5, n2=8, theta1=-1.0, theta2=2.0, sigma2=2.0, prior_var=0.5)
    states = rep_states(1, "test-seqbayes-full", {}, 20000)
    fast = sb.simulate_seqbayes(states, **kw)
    full = sb.simulate_seqbayes(states, data="full", **kw)
    for var in ("mse_task1", "mse_task2"):
        for m in range(2):
            for s in range(2):
                a, b = fast[var][:, m, s], full[var][:, m, s]
                exact = _e(th.MODELS[m], th.STAGES[s], int(var[-1]), 8, 5, -1.0, 2.0, 2.0, 0.5)
                if np.ptp(a) == 0:
                    assert np.all(a == exact) and np.all(b == exact)
                    continue
                se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(a.size)
                assert abs(a.mean() - b.mean()) <= 4.5 * se
                assert abs(b.mean() - exact) <= 4.5 * b.std(ddof=1) / np.sqrt(b.size)
    # the sample means of the full data have the right variance sigma^2/n
    y1, _ = sb.draw_task_means(states, n1=5, n2=8, theta1=-1.0, theta2=2.0, sigma2=2.0, data="full")
    assert np.var(y1) == pytest.approx(2.0 / 5, rel=0.04)


def test_replications_are_independent_of_count_and_backend():
    states = rep_states(2, "seqbayes-forgetting", {"n2": 10}, 50)
    kw = dict(n1=20, n2=10, theta1=0.5, theta2=1.0, sigma2=1.0, prior_var=1.0)
    full = sb.simulate_seqbayes(states, **kw)
    part = sb.simulate_seqbayes(states[:7], **kw)
    np.testing.assert_array_equal(part["mse_task1"], full["mse_task1"][:7])
    for backend in ("numba", "cuda"):
        other = sb.simulate_seqbayes(states, backend=backend, **kw)
        np.testing.assert_allclose(other["mse_task2"], full["mse_task2"], rtol=1e-14)


def test_simulation_matches_off_default_theory():
    # spec S5_verify off-default: n1 = 5, theta = (-1, 2), sigma^2 = 2, prior_var = 0.5: F(100) = +7.47516
    states = rep_states(0, "test-seqbayes-off", {"n2": 100}, 40000)
    out = sb.simulate_seqbayes(states, n1=5, n2=100, theta1=-1.0, theta2=2.0, sigma2=2.0, prior_var=0.5)
    f = out["mse_task1"][:, 0, 1] - out["mse_task1"][:, 0, 0]
    exact = float(th.forgetting(5, 100, -1.0, 2.0, 2.0, 0.5))
    assert exact == pytest.approx(7.47516, abs=5e-5)
    assert abs(f.mean() - exact) <= 4 * f.std(ddof=1) / np.sqrt(f.size)


# ------------------------------------------------------------------------------------------ study


@pytest.fixture(scope="module")
def quick():
    from simkit import run_study

    return run_study("seqbayes-forgetting", quick=True, out=None, progress=False, plot=False, backend="numpy")


def test_quick_run_passes_every_check_and_has_the_issue_layout(quick):
    ds = quick.dataset
    for var in ("mse_task1", "mse_task2"):
        assert ds[var].dims == ("model", "stage", "n2", "rep")
        assert ds[f"{var}_theory"].dims == ("model", "stage", "n2")
    assert list(ds["model"].values) == ["shared", "task-specific"]
    assert list(ds["stage"].values) == ["after-task-1", "after-task-2"]
    assert ds["forgetting"].dims == ("n2", "rep")
    assert ds["posterior_var_task1"].dims == ("model", "stage", "n2")
    assert ds["forgetting_theory"].attrs["flat_prior_threshold_n2"] == pytest.approx(5.0)
    assert ds["forgetting_theory"].attrs["forgetting_limit"] == pytest.approx(0.25)
    outcomes = {c.name: c.outcome for c in quick.checks}
    assert outcomes == dict.fromkeys(
        [
            "theory",
            "deterministic",
            "task-specific-keeps-task-1",
            "shared-forgets",
            "imbalance-forgets-more",
            "forgetting-sign",
        ],
        "pass",
    ), [(c.name, c.outcome, c.detail) for c in quick.checks]
    assert all(c.claim for c in quick.checks)
    # the after-task-1 values do not depend on n2: the same law in every n2 cell
    after1 = ds["mse_task1"].sel(model="shared", stage="after-task-1").mean("rep")
    assert float(after1.std()) < 4 * float(ds["mse_task1"].sel(model="shared", stage="after-task-1").std()) / np.sqrt(
        1e4
    )


def _with(ds, **replace):
    out = ds.copy()
    for name, value in replace.items():
        out[name] = value
    return out


def test_checks_fail_for_a_wrong_formula_and_a_forgetting_control(quick):
    ds = quick.dataset
    wrong = ds["mse_task1_theory"] * 1.05  # a 5% error: fails where the relative SE is small (large n2)
    out = {c.name: c for c in study_module.checks(_with(ds, mse_task1_theory=wrong))}
    assert out["theory"].outcome == "fail"
    # a task-specific model that forgets: its task-1 error after task 2 is the shared one
    fake = ds["mse_task1"].copy()
    fake.loc[{"model": "task-specific", "stage": "after-task-2"}] = (
        ds["mse_task1"].sel(model="shared", stage="after-task-2").values
    )
    out = {c.name: c for c in study_module.checks(_with(ds, mse_task1=fake))}
    assert out["task-specific-keeps-task-1"].outcome == "fail"
    # the wrong sign of forgetting fails
    out = {c.name: c for c in study_module.checks(_with(ds, forgetting=-ds["forgetting"]))}
    assert out["shared-forgets"].outcome == "fail"
    assert out["imbalance-forgets-more"].outcome == "fail"
    assert out["forgetting-sign"].outcome == "fail"
    fake2 = ds["mse_task2"].copy()
    fake2.loc[{"model": "task-specific", "stage": "after-task-1"}] = 1.0 + 1e-9
    assert {c.name: c.outcome for c in study_module.checks(_with(ds, mse_task2=fake2))}["deterministic"] == "fail"


def test_checks_are_inconclusive_when_the_claim_does_not_apply_or_power_is_lacking():
    from simkit import run_study

    same = run_study(
        "seqbayes-forgetting",
        quick=True,
        reps=2000,
        out=None,
        progress=False,
        plot=False,
        backend="numpy",
        overrides={"theta2": 0.5},
    ).checks
    out = {c.name: c for c in same}
    assert out["shared-forgets"].outcome == "inconclusive"  # theta1 = theta2: exact F < 0
    assert out["imbalance-forgets-more"].outcome == "inconclusive"
    assert out["theory"].outcome == "pass" and out["task-specific-keeps-task-1"].outcome == "pass"
    few = {
        c.name: c
        for c in run_study(
            "seqbayes-forgetting", quick=True, reps=30, out=None, progress=False, plot=False, backend="numpy"
        ).checks
    }
    assert few["forgetting-sign"].outcome == "inconclusive"  # expected |z| < 6 at n2 = 1 with 30 reps
    assert "reps decide" in few["forgetting-sign"].detail
    nearest = {
        c.name: c
        for c in run_study(
            "seqbayes-forgetting",
            quick=True,
            reps=200,
            out=None,
            progress=False,
            plot=False,
            backend="numpy",
            overrides={"n2": [20]},
        ).checks
    }
    assert nearest["imbalance-forgets-more"].outcome == "inconclusive"


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"n1": 0}, r"n1 must be in \[1, inf\]"),
        ({"n2": [5, 0]}, r"n2 must be in \[1, inf\]"),
        ({"sigma2": 0.0}, r"sigma2 must be in \(0, inf\]"),
        ({"sigma2": -1.0}, r"sigma2 must be in \(0, inf\]"),
        ({"prior_var": 0.0}, r"prior_var must be in \(0, inf\]"),
        ({"prior_var": float("inf")}, r"prior_var must be a finite number"),
        ({"theta1": float("nan")}, r"theta1 must be a finite number"),
        ({"theta2": float("-inf")}, r"theta2 must be a finite number"),
    ],
)
def test_bad_input_gives_one_line_errors_naming_the_parameter(overrides, match):
    with pytest.raises(ParameterError, match=match) as info:
        STUDY.config(quick=True, overrides=overrides)
    assert "\n" not in str(info.value)


def test_non_integer_sizes_are_type_errors():
    with pytest.raises(ParameterTypeError, match="n2 must be an integer"):
        STUDY.config(quick=True, overrides={"n2": [2.5]})
    with pytest.raises(ParameterError, match="n1 must be in"):
        sb.simulate_seqbayes(rep_states(0, "x", {}, 2), n1=0, n2=1, theta1=0, theta2=0, sigma2=1, prior_var=1)
