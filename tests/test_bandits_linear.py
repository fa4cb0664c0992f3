"""Linear contextual bandit kernels: instance generator, Sherman–Morrison bookkeeping against the direct
ridge solution, backends, policy behaviour and bad input."""

import math

import numpy as np
import pytest
from simkit.kernels.bandits_linear import sup_levels

from simkit.bandits.linear import (
    FreshContexts,
    LinearInstance,
    LinearPolicy,
    make_fresh_contexts,
    make_instance,
    simulate_linear,
)
from simkit.bandits.linear_reference import ridge
from simkit.bandits.theory import lower_bound_threshold, phase_threshold
from simkit.errors import ParameterError
from simkit.rng import rep_states


def unnormalised_instance(seed=1, n=12, d=4):
    """Arms with clearly different norms, so no two arms tie on the first round."""
    rng = np.random.default_rng(seed)
    return LinearInstance(
        arms=rng.standard_normal((n, d)), theta=rng.standard_normal(d), eta=0.01 * rng.standard_normal(n), zeta=0.03
    )


POLICIES = [
    LinearPolicy("ds-oful", 0.0, beta=1.0),
    LinearPolicy("ds-oful", 0.3, beta=2.0, lam=2.0),
    LinearPolicy("suplinucb", beta=1.0),
    LinearPolicy("lin-ts", lam=3.0, v=0.5),
]


class TestInstance:
    @pytest.mark.parametrize("misspec", ["two-point", "uniform"])
    @pytest.mark.parametrize("gap", [0.05, 0.18, 0.3])
    def test_gap_is_exactly_the_requested_one(self, gap, misspec):
        inst = make_instance(16, 100, gap, 0.02, seed=3, misspec=misspec)
        assert inst.gap == pytest.approx(gap, abs=1e-12)
        np.testing.assert_allclose(np.linalg.norm(inst.arms, axis=1), 1.0, rtol=1e-12)
        assert np.linalg.norm(inst.theta) == pytest.approx(1.0)
        assert np.all(np.abs(inst.eta) <= 0.02 + 1e-15)
        if misspec == "two-point":
            np.testing.assert_allclose(np.abs(inst.eta), 0.02)

    @pytest.mark.parametrize("misspec", ["two-point", "uniform", "sign"])
    @pytest.mark.parametrize("zeta", [0.0, 0.05, 0.5])
    def test_anchored_construction_gap(self, misspec, zeta):
        inst = make_instance(4, 100, 0.1, zeta, seed=1, misspec=misspec, construction="anchored")
        assert inst.gap == pytest.approx(0.1, abs=1e-12)
        np.testing.assert_allclose(np.linalg.norm(inst.arms, axis=1), 1.0, rtol=1e-12)
        best = int(np.argmax(inst.rewards))
        np.testing.assert_allclose(inst.arms[best], inst.theta)
        if misspec == "sign" and zeta > 0:
            assert inst.eta[best] == -zeta

    def test_same_seed_same_instance(self):
        a, b = make_instance(8, 20, 0.1, 0.01, seed=5), make_instance(8, 20, 0.1, 0.01, seed=5)
        np.testing.assert_array_equal(a.arms, b.arms)

    def test_impossible_gap(self):
        with pytest.raises(ParameterError, match="gap"):
            make_instance(16, 100, 1.5, 0.02, seed=0)

    def test_thresholds(self):
        assert phase_threshold(0.18, 16) == pytest.approx(0.045)
        assert lower_bound_threshold(0.18, 16, 100) == pytest.approx(0.18 * math.sqrt(math.log(100) / 16))


class TestShermanMorrison:
    def test_ridge_helper_by_hand(self):
        arms = np.array([[1.0, 0.0], [0.0, 2.0]])
        theta, uinv, pred, width = ridge(np.diag([2.0, 4.0]), np.array([1.0, 2.0]), arms)
        np.testing.assert_allclose(theta, [0.5, 0.5])
        np.testing.assert_allclose(width, [math.sqrt(0.5), 1.0])
        np.testing.assert_allclose(pred, [0.5, 1.0])

    @pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.kind}-{p.gamma}")
    def test_numba_equals_direct_ridge_reference(self, policy):
        inst = unnormalised_instance()
        st = rep_states(0, "linear", {}, 3)
        a = simulate_linear(st, inst, policy, 250, sigma=0.5, backend="numba")
        b = simulate_linear(st, inst, policy, 250, sigma=0.5, backend="numpy")
        np.testing.assert_array_equal(a.pulls, b.pulls)
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-10, atol=1e-10)

    def test_statistical_agreement_on_a_normalised_instance(self):
        # unit-norm arms tie on round 1 up to rounding, so runs may differ; their mean regrets may not
        inst = make_instance(4, 10, 0.2, 0.02, seed=2)
        st = rep_states(0, "linear-stat", {}, 150)
        pol = LinearPolicy("ds-oful", 0.05, beta=1.0)
        a = simulate_linear(st, inst, pol, 150, backend="numba").regret[:, -1]
        b = simulate_linear(st, inst, pol, 150, backend="numpy").regret[:, -1]
        se = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(len(a))
        assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9

    @pytest.mark.parametrize("policy", [POLICIES[1], POLICIES[2], POLICIES[3]], ids=lambda p: p.kind)
    def test_cuda_simulator_equals_numba(self, policy):
        inst = unnormalised_instance(n=6, d=3)
        st = rep_states(0, "linear-cuda", {}, 2)
        a = simulate_linear(st, inst, policy, 40, backend="cuda")
        b = simulate_linear(st, inst, policy, 40, backend="numba")
        np.testing.assert_array_equal(a.pulls, b.pulls)
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-12, atol=1e-12)


class TestFreshContexts:
    @pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.kind}-{p.gamma}")
    @pytest.mark.parametrize("misspec", ["two-point", "uniform"])
    def test_numba_equals_numpy_reference(self, policy, misspec):
        inst = make_fresh_contexts(4, 6, 0.05, seed=1, misspec=misspec)
        st = rep_states(0, "fresh", {}, 2)
        a = simulate_linear(st, inst, policy, 80, sigma=0.5, backend="numba")
        b = simulate_linear(st, inst, policy, 80, sigma=0.5, backend="numpy")
        np.testing.assert_array_equal(a.pulls, b.pulls)
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-9, atol=1e-9)

    def test_cuda_simulator_equals_numba(self):
        inst = make_fresh_contexts(3, 4, 0.05, seed=1)
        st = rep_states(0, "fresh-cuda", {}, 2)
        pol = LinearPolicy("ds-oful", 0.1, beta=1.0)
        a = simulate_linear(st, inst, pol, 25, backend="cuda")
        b = simulate_linear(st, inst, pol, 25, backend="numba")
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-12, atol=1e-12)

    def test_oful_learns_theta_with_fresh_contexts(self):
        # well-specified, low noise: per-round regret in the second half far below the first rounds'
        inst = make_fresh_contexts(4, 10, 0.0, seed=2)
        res = simulate_linear(
            rep_states(0, "fresh-learn", {}, 8),
            inst,
            LinearPolicy("ds-oful", beta=0.5),
            2000,
            sigma=0.1,
            grid=[100, 1000, 2000],
        )
        early = res.regret[:, 0].mean() / 100
        late = (res.regret[:, 2] - res.regret[:, 1]).mean() / 1000
        assert late < 0.1 * early

    def test_bad_fresh_parameters(self):
        with pytest.raises(ParameterError, match="misspec"):
            make_fresh_contexts(4, 10, 0.1, seed=0, misspec="sign")
        with pytest.raises(ParameterError, match="n_arms"):
            make_fresh_contexts(4, 1, 0.1, seed=0)
        with pytest.raises(ParameterError, match="n_arms"):
            simulate_linear(rep_states(0, "x", {}, 1), FreshContexts(np.ones(3) / np.sqrt(3), 1, 0.0), POLICIES[0], 10)


class TestBehaviour:
    def test_gamma_above_every_width_never_learns(self):
        # Gamma > 1/sqrt(lambda) >= every width: no round enters the regression, the first arm is played forever
        inst = unnormalised_instance()
        norms = np.linalg.norm(inst.arms, axis=1)
        res = simulate_linear(rep_states(0, "never", {}, 2), inst, LinearPolicy("ds-oful", 10.0, beta=1.0), 50)
        assert (res.pulls[:, int(np.argmax(norms))] == 50).all()

    def test_oful_finds_best_arm_without_noise(self):
        inst = make_instance(4, 8, 0.3, 0.0, seed=1)
        res = simulate_linear(
            rep_states(0, "noiseless", {}, 2), inst, LinearPolicy("ds-oful", 0.0, beta=0.5), 400, sigma=0.0
        )
        best = int(np.argmax(inst.rewards))
        assert (res.pulls[:, best] > 300).all()

    @pytest.mark.backends("numba", "numpy")
    def test_suplinucb_eliminates_by_hand(self, backend):
        # arms e1, e2 with rewards 1 and -1, no noise, beta = lambda = 1, horizon 16: 1/sqrt(16) = 0.25, two levels.
        # Level 1 (threshold 1/2) alternates e1, e2 while a width exceeds 1/2: widths 1/sqrt(1 + n_i) reach 1/2 at
        # n = 3 each (6 rounds).  Then predictions 3/4 r_i, UCBs 3/4 r_i + 1/2: 1.25 and -0.25; Chu et al.'s rule
        # keeps UCB >= 1.25 - 2 * 1/2 = 0.25, so e2 is eliminated and the 10 remaining rounds explore e1 at level 2.
        inst = LinearInstance(arms=np.eye(2), theta=np.array([1.0, -1.0]), eta=np.zeros(2), zeta=0.0)
        res = simulate_linear(
            rep_states(0, "x", {}, 1),
            inst,
            LinearPolicy("suplinucb", beta=1.0, lam=1.0),
            16,
            sigma=0.0,
            grid=[6, 16],
            backend=backend,
        )
        np.testing.assert_array_equal(res.pulls, [[13, 3]])
        np.testing.assert_allclose(res.regret, [[6.0, 6.0]])

    def test_suplinucb_widths_scale_with_beta(self):
        # beta = 2: widths 2/sqrt(1 + n_i) stay above 1/2 until n_i = 15, so all 16 rounds explore level 1 in turn
        inst = LinearInstance(arms=np.eye(2), theta=np.array([1.0, -1.0]), eta=np.zeros(2), zeta=0.0)
        res = simulate_linear(
            rep_states(0, "x", {}, 1), inst, LinearPolicy("suplinucb", beta=2.0, lam=1.0), 16, sigma=0.0
        )
        np.testing.assert_array_equal(res.pulls, [[8, 8]])

    def test_sup_levels_reach_one_over_sqrt_horizon(self):
        for horizon in (2, 100, 10_000, 12345):
            assert 0.5 ** sup_levels(horizon) <= 1 / math.sqrt(horizon) + 1e-12

    def test_rep_r_independent_of_reps(self):
        inst = make_instance(4, 10, 0.2, 0.02, seed=2)
        a = simulate_linear(rep_states(0, "inv", {}, 2), inst, POLICIES[3], 100)
        b = simulate_linear(rep_states(0, "inv", {}, 5), inst, POLICIES[3], 100)
        np.testing.assert_array_equal(a.regret, b.regret[:2])


class TestBadInput:
    def test_negative_gamma(self):
        with pytest.raises(ParameterError, match="Gamma"):
            LinearPolicy("ds-oful", -0.1)

    def test_bad_lambda_and_kind(self):
        with pytest.raises(ParameterError, match="lambda"):
            LinearPolicy("ds-oful", lam=0.0)
        with pytest.raises(ParameterError, match="policy"):
            LinearPolicy("linucb-x")

    def test_dimension_mismatch(self):
        inst = unnormalised_instance()
        bad = LinearInstance(arms=inst.arms, theta=np.ones(inst.d + 1), eta=inst.eta, zeta=0.0)
        with pytest.raises(ParameterError, match="dimension"):
            simulate_linear(rep_states(0, "x", {}, 1), bad, POLICIES[0], 10)

    def test_horizon_and_sigma(self):
        inst = unnormalised_instance()
        with pytest.raises(ParameterError, match="horizon"):
            simulate_linear(rep_states(0, "x", {}, 1), inst, POLICIES[0], 0)
        with pytest.raises(ParameterError, match="sigma"):
            simulate_linear(rep_states(0, "x", {}, 1), inst, POLICIES[0], 10, sigma=-1.0)

    def test_instance_parameters(self):
        with pytest.raises(ParameterError, match="d must"):
            make_instance(1, 10, 0.1, 0.0, seed=0)
        with pytest.raises(ParameterError, match="zeta"):
            make_instance(4, 10, 0.1, -0.1, seed=0)
        with pytest.raises(ParameterError, match="gap"):
            make_instance(4, 10, 0.0, 0.1, seed=0)
