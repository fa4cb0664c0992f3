"""preference-doubly-robust (spec S3): exact theory against hand values, estimators against brute force."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax

from simkit.errors import ParameterError
from simkit.rng import rep_states
from simkit.shift_preferences import doubly_robust as sim
from simkit.shift_preferences import doubly_robust_theory as th

# spec S3 §4 at beta = 0.1, tau = 0.5: (pm, prop, est) -> bias, sd·√n, floor, C
TABLE = {
    ("correct", "correct", "dm"): (0.0, 0.2022721610, 0.0, 0.00721775),
    ("correct", "correct", "is"): (0.0, 1.2787669290, 0.0, 22.36004915),
    ("correct", "correct", "dr"): (0.0, 0.6406538651, 0.0, 4.07105732),
    ("correct", "tempered", "is"): (-0.1480216673, 0.9882200232, 0.0691613079, 4.96542449),
    ("correct", "tempered", "dr"): (0.0, 0.5199973703, 0.0, 2.33609443),
    ("bt-linear", "correct", "dm"): (-0.1028290976, 0.1788304334, 0.1721871221, 0.00496532),
    ("bt-linear", "correct", "dr"): (0.0, 0.6964811380, 0.0, 5.32458335),
    ("bt-linear", "tempered", "dr"): (-0.0110557702, 0.5586988784, 0.0114188462, 4.77723384),
}


def _idx(pm, prop, est):
    return th.PREFERENCE_MODELS.index(pm), th.PROPENSITIES.index(prop), th.ESTIMATORS.index(est)


def test_constants():
    np.testing.assert_allclose(th.reference_policy(), [0.03399, 0.05604, 0.09239, 0.15233, 0.25116, 0.41409], atol=5e-6)
    np.testing.assert_allclose(th.true_scores(), [-2.43, -0.75, -0.03, -0.27, -1.47, -3.63], atol=1e-12)
    np.testing.assert_allclose(
        th.reference_score(th.true_preference()), [0.43701, 0.70616, 0.80644, 0.77515, 0.59273, 0.25143], atol=5e-6
    )
    assert th.fit_bt_linear() == pytest.approx(-3.103990548, abs=1e-9)
    np.testing.assert_allclose(
        th.reference_score(th.preference_matrix("bt-linear")),
        [0.88509, 0.81776, 0.72577, 0.61022, 0.47902, 0.34719],
        atol=5e-6,
    )
    np.testing.assert_allclose(
        np.exp(th.log_propensity("tempered", 0.5)), [0.08158, 0.10475, 0.13450, 0.17270, 0.22175, 0.28473], atol=5e-6
    )


@pytest.mark.parametrize("key", sorted(TABLE))
def test_theory_table(key):
    t = th.dr_theory(0.5, 0.1)
    bias, sd1, floor, coef = TABLE[key]
    i = _idx(*key)
    assert t.bias[i] == pytest.approx(bias, abs=1e-10)
    assert t.sd1[i] == pytest.approx(sd1, abs=1e-10)
    assert t.floor[i] == pytest.approx(floor, abs=1e-10)
    assert t.coef[i] == pytest.approx(coef, abs=1e-8)
    assert t.consistent[i] == (floor == 0.0)


def test_value_objective_and_policies():
    t = th.dr_theory(0.5, 0.1)
    assert t.true_value == pytest.approx(0.7554061864, abs=1e-10)
    assert t.objective == pytest.approx(0.6703540868, abs=1e-10)
    assert t.regret_reference == pytest.approx(0.1703540868, abs=1e-10)
    np.testing.assert_allclose(t.pi_star, [0.00330, 0.08016, 0.36029, 0.43441, 0.11557, 0.00628], atol=5e-6)
    np.testing.assert_allclose(
        t.limit_policy[_idx("bt-linear", "correct", "dm")], [0.349, 0.294, 0.193, 0.100, 0.044, 0.020], atol=6e-4
    )
    np.testing.assert_allclose(
        t.limit_policy[_idx("bt-linear", "tempered", "dr")], [0.047, 0.141, 0.293, 0.374, 0.141, 0.004], atol=6e-4
    )
    # the product of errors is not always small (beta = 0.05, tau = 2)
    t2 = th.dr_theory(2.0, 0.05)
    assert t2.bias[_idx("bt-linear", "tempered", "dr")] == pytest.approx(0.1165, abs=1e-4)
    assert t2.bias[_idx("bt-linear", "correct", "dm")] == pytest.approx(-0.1105, abs=1e-4)


def test_fits_and_moment_conditions():
    np.testing.assert_allclose(th.preference_matrix("correct"), th.true_preference(), atol=1e-15)
    ref, phi = th.reference_policy(), th.lengths()
    gap = th.reference_score(th.true_preference()) - th.reference_score(th.preference_matrix("bt-linear"))
    assert abs(ref @ gap) < 1e-15 and abs(ref @ (phi * gap)) < 1e-15


def test_closed_forms_equal_enumeration():
    t = th.dr_theory(0.5, 0.1)
    ref, pi = th.reference_policy(), t.pi_star
    r_star = th.reference_score(th.true_preference())
    rho = np.exp(np.log(ref) - th.log_propensity("tempered", 0.5))
    for pm in th.PREFERENCE_MODELS:
        pref = th.preference_matrix(pm)
        r_hat = th.reference_score(pref)
        h = pi @ pref
        var_dm = ref @ h**2 - (pi @ r_hat) ** 2
        assert t.sd1[_idx(pm, "correct", "dm")] ** 2 == pytest.approx(var_dm, abs=1e-14)
        assert t.bias[_idx(pm, "tempered", "dm")] == pytest.approx(pi @ (r_hat - r_star), abs=1e-15)
        assert t.bias[_idx(pm, "tempered", "dr")] == pytest.approx(pi @ ((1 - rho) * (r_hat - r_star)), abs=1e-15)
        w = pi / np.exp(th.log_propensity("tempered", 0.5))
        p_star = th.true_preference()
        second = np.sum(
            ref[:, None]
            * ref[None, :]
            * ((h[None, :] + w[:, None] * (p_star - pref)) ** 2 + w[:, None] ** 2 * p_star * (1 - p_star))
        )
        mean = pi @ (r_hat + rho * (r_star - r_hat))
        assert t.sd1[_idx(pm, "tempered", "dr")] ** 2 == pytest.approx(second - mean**2, abs=1e-13)
    w = pi / np.exp(th.log_propensity("tempered", 0.5))
    assert t.bias[_idx("correct", "tempered", "is")] == pytest.approx(pi @ ((rho - 1) * r_star), abs=1e-15)
    second_is = ref @ (w**2 * r_star)
    assert t.sd1[_idx("correct", "tempered", "is")] ** 2 == pytest.approx(
        second_is - (pi @ (rho * r_star)) ** 2, abs=1e-13
    )


def test_tau_one_is_correct_bit_for_bit():
    t = th.dr_theory(1.0, 0.1)
    np.testing.assert_array_equal(t.psi[:, 0], t.psi[:, 1])
    out = sim.simulate_doubly_robust(rep_states(0, "t", {}, 5), tau=1.0, beta=0.1, n=[10, 100])
    np.testing.assert_array_equal(out["estimate"][:, 0], out["estimate"][:, 1])
    np.testing.assert_array_equal(out["regret"][:, 0], out["regret"][:, 1])


def test_duplicates_bit_identical():
    out = sim.simulate_doubly_robust(rep_states(1, "t", {}, 7), tau=0.5, beta=0.1, n=[30, 300])
    dm, is_ = th.ESTIMATORS.index("dm"), th.ESTIMATORS.index("is")
    np.testing.assert_array_equal(out["estimate"][:, 0, dm], out["estimate"][:, 1, dm])
    np.testing.assert_array_equal(out["regret"][0, :, is_], out["regret"][1, :, is_])


def test_closed_form_argmax_and_regret():
    beta = 0.1
    t = th.dr_theory(0.5, beta)
    ref = th.reference_policy()
    r_star = th.reference_score(th.true_preference())
    a_hat = r_star + np.array([0.05, -0.02, 0.01, 0.0, 0.03, -0.04])
    pi_hat = th.aligned_policy(a_hat, beta)

    def neg(logits):
        p = softmax(logits)
        return -(p @ a_hat - beta * p @ (np.log(p) - np.log(ref)))

    res = minimize(neg, np.zeros(6), method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(softmax(res.x), pi_hat, atol=1e-6)
    j = lambda p: p @ r_star - beta * p @ (np.log(p) - np.log(ref))  # noqa: E731
    assert j(t.pi_star) - j(pi_hat) == pytest.approx(beta * pi_hat @ (np.log(pi_hat) - np.log(t.pi_star)), abs=1e-14)
    # the count path's regret for one replication, against J evaluated directly
    counts = sim.draw_outcome_counts(rep_states(2, "t", {}, 1), [500])
    _, regret = sim.estimates_from_counts(counts, [500], 0.5, beta)
    psi = t.psi[_idx("bt-linear", "tempered", "dr")]
    p = th.aligned_policy(counts[0, 0] @ psi / 500, beta)
    assert regret[_idx("bt-linear", "tempered", "dr")][0, 0] == pytest.approx(j(t.pi_star) - j(p), abs=1e-13)


def test_counts_are_nested_prefixes_and_rep_independent():
    states = rep_states(3, "t", {}, 6)
    c = sim.draw_outcome_counts(states, [10, 50, 200])
    assert (c.sum(axis=2) == np.array([10, 50, 200])).all()
    assert (np.diff(c, axis=1) >= 0).all()
    np.testing.assert_array_equal(sim.draw_outcome_counts(states[2:4], [10, 50, 200]), c[2:4])


@pytest.mark.parametrize("n", [40, 300])
def test_count_path_matches_per_triple_brute_force(n):
    tau, beta, reps = 0.5, 0.1, 800
    fast = sim.simulate_doubly_robust(rep_states(4, "t", {}, reps), tau=tau, beta=beta, n=[n])["estimate"]
    slow = sim.per_triple_estimates(np.random.default_rng(11), n, tau, beta, reps)
    t = th.dr_theory(tau, beta)
    se = t.sd1 / np.sqrt(n) * np.sqrt(2.0 / reps)
    z = (fast.mean(-1) - slow.mean(-1)) / se
    assert np.max(np.abs(z)) < 4.5
    np.testing.assert_allclose(fast.std(-1), slow.std(-1), rtol=0.15)
    np.testing.assert_allclose(slow.mean(-1), t.true_value + t.bias, atol=5 * float(np.max(t.sd1)) / np.sqrt(n * reps))


def test_backends_agree():
    states = rep_states(5, "t", {}, 4)
    a = sim.simulate_doubly_robust(states, tau=0.5, beta=0.1, n=[20, 200], backend="numpy")
    b = sim.simulate_doubly_robust(states, tau=0.5, beta=0.1, n=[20, 200], backend="cuda")  # simulator: xp = numpy
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"tau": 0.0}, "tau must be in"),
        ({"tau": -1.0}, "tau must be in"),
        ({"tau": 51.0}, "tau must be in"),
        ({"tau": float("nan")}, "tau must be in"),
        ({"beta": 0.0}, "beta must be > 0"),
        ({"beta": -0.1}, "beta must be > 0"),
        ({"beta": float("inf")}, "beta must be > 0"),
        ({"n": [100, 50]}, "strictly increasing"),
        ({"n": []}, "strictly increasing"),
        ({"n": [0, 5]}, "strictly"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"tau": 0.5, "beta": 0.1, "n": [10, 20], **kwargs}
    with pytest.raises(ParameterError, match=match):
        sim.simulate_doubly_robust(rep_states(0, "t", {}, 2), **args)


def test_study_bad_settings():
    from simkit.registry import get_study

    study = get_study("preference-doubly-robust")
    for over, match in (({"tau": 0}, "tau"), ({"beta": -1}, "beta"), ({"tau": 60}, "tau")):
        with pytest.raises(ParameterError, match=match):
            study.config(quick=True, overrides=over)


def test_study_small_run():
    from simkit.api import run_study

    res = run_study("preference-doubly-robust", quick=True, reps=200, out=None, progress=False)
    ds = res.dataset
    assert ds["estimate"].dims == ("tau", "beta", "preference_model", "propensity", "estimator", "rep")
    assert ds["regret"].dims == ("tau", "beta", "preference_model", "propensity", "estimator", "n", "rep")
    assert "true_value" in ds and ds["regret_theory"].dims[-1] == "n"
    for var in ds.data_vars:
        assert ds[var].attrs.get("long_name") and "units" in ds[var].attrs, var
    assert not [c.name for c in res.checks if c.failed]
    assert res.study.plot(ds).axes
