"""preference-annotators (spec S2): theory against hand values, the BT fit against brute force, the study."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, logit, softmax
from scipy.stats import norm

from simkit.errors import ParameterError
from simkit.rng import rep_states
from simkit.shift_preferences import annotators as sim
from simkit.shift_preferences import annotators_theory as th

# spec S2 §4, K = 10, λ = 0.1: floor, c_proj, c_truth
TABLE = {
    "luce": (0.0, 11.2352, 11.2352),
    "tempered-2": (0.121428, 14.2807, 12.8797),
    "tempered-0.5": (0.058753, 9.3634, 8.3563),
    "probit": (0.000795, 11.4484, 11.5834),
    "mixture": (0.066187, 8.4194, 8.9481),
    "mixture-ids": (0.0, 24.4083, 24.4083),
}


@pytest.mark.parametrize("annotator", th.ANNOTATORS)
def test_theory_table(annotator):
    t = th.annotator_theory(10, annotator)
    floor, c_proj, c_truth = TABLE[annotator]
    assert t.floor == pytest.approx(floor, abs=1e-6)
    assert t.c_proj == pytest.approx(c_proj, abs=1e-4)
    assert t.c_truth == pytest.approx(c_truth, abs=1e-4)


def test_bias_terms_and_compromise():
    gap = {
        a: float(
            (th.annotator_theory(10, a).density_limit - th.annotator_theory(10, a).density_truth)
            @ th.annotator_theory(10, a).bias_coef
        )
        for a in ("tempered-2", "tempered-0.5", "probit", "mixture")
    }
    assert gap["tempered-2"] == pytest.approx(-1.401, abs=1e-3)
    assert gap["tempered-0.5"] == pytest.approx(-1.007, abs=1e-3)
    assert gap["probit"] == pytest.approx(0.135, abs=1e-3)
    assert gap["mixture"] == pytest.approx(0.529, abs=1e-3)
    mix = th.annotator_theory(10, "mixture")
    np.testing.assert_allclose(mix.density_limit[:5], [0.057, 0.082, 0.105, 0.123, 0.134], atol=1.5e-3)
    np.testing.assert_allclose(mix.density_truth[:5], [0.071, 0.119, 0.135, 0.106, 0.070], atol=1e-3)
    pa = th.group_densities(10)[0]
    assert th.kl_divergence(pa, mix.density_limit) == pytest.approx(0.6356, abs=1e-4)
    assert th.kl_divergence(pa, mix.density_truth) == pytest.approx(0.5695, abs=1e-4)
    assert th.crossover_n(10) == pytest.approx(234, abs=0.5)


@pytest.mark.parametrize("c,name,floor", [(2.0, "tempered-2", 0.121428), (0.5, "tempered-0.5", 0.058753)])
def test_tempered_closed_form(c, name, floor):
    t = th.annotator_theory(10, name)
    r = th.single_reward(10)
    np.testing.assert_allclose(t.theta_limit[0], c * (r - r.mean()), atol=1e-12)
    p = softmax(r)
    np.testing.assert_allclose(t.density_limit, p**c / np.sum(p**c), atol=1e-15)
    assert th.tempered_floor(10, c) == pytest.approx(floor, abs=1e-6)
    assert t.floor == pytest.approx(th.tempered_floor(10, c), rel=1e-10)


def test_luce_sandwich_is_inverse_information():
    t = th.annotator_theory(10, "luce")
    p = th.win_probabilities(10, "luce")[0]
    a, a_pinv, j, v = th.bt_information(t.theta_limit[0], p)
    np.testing.assert_allclose(v, a_pinv, atol=1e-12)
    np.testing.assert_allclose(j, a, atol=1e-15)
    np.testing.assert_allclose(a @ a_pinv @ a, a, atol=1e-14)


@pytest.mark.parametrize("delta", [0.3, 1.7, -2.5])
def test_two_items(delta):
    # K = 2 Luce: c_proj = 1/2 for any reward gap; K = 2 probit: θ∞,0 − θ∞,1 = logit Φ(sΔ)
    theta = np.array([delta / 2, -delta / 2])
    p = np.array([[0.5, expit(delta)], [expit(-delta), 0.5]])
    _, _, _, v = th.bt_information(theta, p)
    q = softmax(theta)
    f = np.diag(q) - np.outer(q, q)
    assert 0.5 * np.trace(f @ v) == pytest.approx(0.5, abs=1e-12)
    pp = norm.cdf(th.PROBIT_SCALE * delta)
    fit = th.population_fit(np.array([[0.5, pp], [1 - pp, 0.5]]))
    assert fit[0] - fit[1] == pytest.approx(logit(pp), abs=1e-12)


def test_population_fit_matches_generic_optimiser():
    p = th.win_probabilities(10, "mixture").mean(0)
    i, j = np.triu_indices(10, 1)

    def negll(t):
        d = t[i] - t[j]
        return -np.sum(p[i, j] * -np.logaddexp(0, -d) + (1 - p[i, j]) * -np.logaddexp(0, d))

    res = minimize(negll, np.zeros(10), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(th.population_fit(p), res.x - res.x.mean(), atol=1e-6)


# ---------------------------------------------------------------------------- simulation


def _per_comparison_counts(rng, K, annotator, n):
    """Brute force: draw the n comparisons one by one."""
    probs = th.win_probabilities(K, annotator)
    i, j = np.triu_indices(K, 1)
    g = rng.integers(probs.shape[0], size=n)
    m = rng.integers(i.size, size=n)
    y = rng.random(n) < probs[g, i[m], j[m]]
    w = np.zeros((probs.shape[0], K, K))
    np.add.at(w, (g[y], i[m][y], j[m][y]), 1)
    np.add.at(w, (g[~y], j[m][~y], i[m][~y]), 1)
    return w


@pytest.mark.parametrize("annotator", ["tempered-2", "mixture"])
def test_fast_path_matches_per_comparison_sampling(annotator):
    K, n, R = 5, 40, 3000
    fast = sim.draw_win_counts(rep_states(1, "t", {}, R), K, annotator, [n])[:, 0]
    rng = np.random.default_rng(7)
    slow = np.stack([_per_comparison_counts(rng, K, annotator, n) for _ in range(R)])
    assert fast.sum(axis=(1, 2, 3)).tolist() == [n] * R
    mask = ~np.eye(K, dtype=bool)
    a, b = fast[..., mask], slow[..., mask]
    se = np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / R)
    z = (a.mean(0) - b.mean(0))[se > 0] / se[se > 0]
    assert np.max(np.abs(z)) < 4.5
    # second moments: the variance of the win counts that are not rare
    common = b.mean(0) >= 1.0
    assert common.sum() >= 5
    np.testing.assert_allclose(a.var(0)[common], b.var(0)[common], rtol=0.15)


def test_newton_matches_generic_optimiser_including_separated_data():
    K = 10
    w = sim.draw_win_counts(rep_states(2, "t", {}, 16), K, "tempered-2", [100])[:, 0, 0]
    assert (~sim.mle_exists(w)).sum() >= 8  # most data sets are separated at n = 100
    theta = sim.fit_bt(w, backend="numpy")

    def grad(t, wb):  # independent of the Newton code: d/dθ of the objective, written out
        s = expit(t[:, None] - t[None, :])
        return -(wb * (1 - s)).sum(axis=1) + (wb * (1 - s)).sum(axis=0) + sim.RIDGE * t

    for b in range(w.shape[0]):
        wb = w[b]
        res = minimize(
            lambda t, wb=wb: sim.bt_objective(t[None], wb[None])[0],
            np.zeros(K),
            jac=lambda t, wb=wb: grad(t, wb),
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000},
        )
        np.testing.assert_allclose(theta[b], res.x, atol=2e-5)
    np.testing.assert_allclose(theta.sum(axis=1), 0.0, atol=1e-12)


def test_backends_agree():
    w = sim.draw_win_counts(rep_states(3, "t", {}, 16), 6, "mixture", [50, 5000]).reshape(-1, 6, 6)
    ref = sim.fit_bt(w, backend="numpy")
    np.testing.assert_allclose(sim.fit_bt(w, backend="numba"), ref, atol=1e-10)
    np.testing.assert_allclose(sim.fit_bt(w[:6], backend="cuda"), ref[:6], atol=1e-10)  # simulator


def test_mle_exists_against_strong_components():
    w = sim.draw_win_counts(rep_states(4, "t", {}, 200), 6, "tempered-0.5", [15])[:, 0, 0]
    brute = np.array([connected_components(wb > 0, directed=True, connection="strong")[0] == 1 for wb in w])
    assert 0 < brute.sum() < brute.size
    np.testing.assert_array_equal(sim.mle_exists(w), brute)


def test_identity_per_replication():
    # kl_truth = KL(p*‖p∞) + kl_projection + (p∞ − p*)ᵀ(θ̂ − θ∞), exactly, for a single BT learner
    K = 10
    t = th.annotator_theory(K, "mixture")
    w = sim.draw_win_counts(rep_states(5, "t", {}, 50), K, "mixture", [300]).sum(axis=2)[:, 0]
    theta = sim.fit_bt(w)
    out = sim.simulate_annotators(rep_states(5, "t", {}, 50), K=K, annotator="mixture", n=[300])
    rhs = t.floor + out["kl_projection"][0] + (theta - t.theta_limit[0]) @ (t.density_limit - t.density_truth)
    np.testing.assert_allclose(out["kl_truth"][0], rhs, atol=1e-12)
    np.testing.assert_allclose(out["density"][0], softmax(theta, axis=1), atol=1e-15)


def test_replication_independent_of_reps_and_block():
    states = rep_states(6, "t", {}, 9)
    full = sim.simulate_annotators(states, K=5, annotator="mixture-ids", n=[20, 2000], backend="numba")
    part = sim.simulate_annotators(states[4:7], K=5, annotator="mixture-ids", n=[20, 2000], backend="numba")
    np.testing.assert_array_equal(full["kl_truth"][:, 4:7], part["kl_truth"])
    np.testing.assert_array_equal(full["density"][:, 4:7], part["density"])


def test_mixture_ids_density_uses_known_weights():
    K = 5
    states = rep_states(8, "t", {}, 4)
    w = sim.draw_win_counts(states, K, "mixture-ids", [500])[:, 0]
    theta = sim.fit_bt(w.reshape(-1, K, K)).reshape(4, 2, K)
    out = sim.simulate_annotators(states, K=K, annotator="mixture-ids", n=[500])
    np.testing.assert_allclose(out["density"][0], 0.5 * softmax(theta, axis=2).sum(axis=1), atol=1e-15)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"K": 2}, "K must be"),
        ({"K": 51}, "K must be"),
        ({"annotator": "bogus"}, "annotator must be"),
        ({"n": [100, 100]}, "strictly increasing"),
        ({"n": [0]}, "n must be"),
        ({"n": [2 * 10**9]}, "n must be"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"K": 5, "annotator": "luce", "n": [10], **kwargs}
    with pytest.raises(ParameterError, match=match):
        sim.simulate_annotators(rep_states(0, "t", {}, 2), **args)


def test_study_bad_settings():
    from simkit.registry import get_study

    study = get_study("preference-annotators")
    with pytest.raises(ParameterError, match="K"):
        study.config(quick=True, overrides={"K": 2})
    with pytest.raises(ParameterError, match="annotator"):
        study.config(quick=True, overrides={"annotator": ["luce", "nobody"]})


def test_study_small_run():
    from simkit.api import run_study

    res = run_study(
        "preference-annotators",
        quick=True,
        reps=60,
        out=None,
        progress=False,
        backend="numba",
        overrides={"n": [100, 300, 10**4, 10**6]},
    )
    ds = res.dataset
    assert ds["kl_truth"].dims == ("annotator", "n", "rep") and ds["kl_projection"].dims == ("annotator", "n", "rep")
    assert ds["kl_truth_theory"].dims == ("annotator", "n")
    assert {"density_mean", "density_limit", "density_truth", "no_mle_fraction"} <= set(ds.data_vars)
    for var in ds.data_vars:
        assert ds[var].attrs.get("long_name") and "units" in ds[var].attrs, var
    assert not [c.name for c in res.checks if c.failed]
    # no_mle_fraction at n = 100 (spec S2 §3): tempered-2 about 0.96, mixture-ids 1
    assert float(ds["no_mle_fraction"].sel(annotator="mixture-ids", n=100)) == 1.0
    assert float(ds["no_mle_fraction"].sel(annotator="tempered-0.5", n=300)) < 0.1
    fig = res.study.plot(ds)
    assert fig.axes
