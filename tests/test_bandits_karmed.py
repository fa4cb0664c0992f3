"""K-armed bandit kernels: hand-computed policy decisions, posteriors, backends against the reference,
seeding invariances and bad input."""

import math

import numba
import numpy as np
import pytest
from scipy import optimize, stats
from simkit.kernels.rng import student_t

from simkit.bandits import reference as ref
from simkit.bandits.karmed import POLICIES, NormalGamma, Policy, log_grid, simulate_karmed
from simkit.bandits.theory import ucb1_upper_bound
from simkit.errors import BackendError, ParameterError, ParameterTypeError
from simkit.rng import Stream, rep_states

TINY = 1e-20  # a reward variance that makes Gaussian rewards equal to the means to double precision


def states(n, key="karmed"):
    return rep_states(7, key, {}, n)


def deterministic_two_arms(policy, horizon):
    return simulate_karmed(states(1), policy, horizon, means=[0.0, 1.0], variances=[TINY, TINY], grid=[horizon])


class TestHandComputedDecisions:
    def test_ucb1_returns_to_the_worse_arm_at_round_7(self):
        # t = 3..6: sqrt(2 ln t) < 1 + sqrt(2 ln t / (t - 2)); t = 7: 1.973 > 1.882, so arm 0 is pulled again.
        six = deterministic_two_arms(Policy("ucb1"), 6)
        seven = deterministic_two_arms(Policy("ucb1"), 7)
        assert six.counts[0].tolist() == [1, 5]
        assert seven.counts[0].tolist() == [2, 5]
        assert seven.regret[0, -1] == pytest.approx(2.0)

    def test_ucb_v_bonus_3bE_over_n(self):
        # n = 4, E = log(48) = 3.87, V = 0: t = 3 -> arm 1 (1 + 11.6 > 11.6); t = 4: arm 0 (11.6 > 1 + 5.8).
        res = deterministic_two_arms(Policy("ucb-v", {"b": 1.0}), 4)
        assert res.counts[0].tolist() == [2, 2]

    def test_ucb_v_smaller_range_exploits(self):
        # b = 0.1: t = 4: arm 0 has 1.161, arm 1 has 1 + 0.581 -> arm 1.
        res = deterministic_two_arms(Policy("ucb-v", {"b": 0.1}), 4)
        assert res.counts[0].tolist() == [1, 3]

    def test_gaussian_klucb_with_unit_bound_is_ucb1(self):
        a = deterministic_two_arms(Policy("kl-ucb", {"variance_bound": 1.0}), 7)
        assert a.counts[0].tolist() == [2, 5]
        # a bound of 1/4 halves the bonus: sqrt(0.5 ln t) > 1 + ... first holds after t = 7
        b = deterministic_two_arms(Policy("kl-ucb", {"variance_bound": 0.25}), 7)
        assert b.counts[0].tolist() == [1, 6]

    def test_klucb_bernoulli_index_solves_the_kl_equation(self):
        for mean, count, level in [(0.3, 5.0, math.log(20)), (0.0, 3.0, 1.0), (0.9, 50.0, 2.0)]:
            q = ref.klucb_bernoulli_index(mean, count, level)
            exact = optimize.brentq(lambda x: count * ref.kl_bernoulli(mean, x) - level, max(mean, 1e-12), 1 - 1e-12)
            # brentq's xtol (2e-12) plus the index's stopping excess (1e-12) over the slope count·kl' ≥ 1
            assert q == pytest.approx(exact, abs=1e-9)

    def test_kernel_klucb_index_matches_reference(self):
        from simkit.kernels.bandits_karmed import klucb_bernoulli_index
        from simkit.kernels.targets import compiled

        f = compiled(klucb_bernoulli_index, "cpu")
        assert f(0.3, 5.0, 3.0) == ref.klucb_bernoulli_index(0.3, 5.0, 3.0)

    def test_gaussian_posterior_by_hand(self):
        # prior N(0, 1), noise variance 1, two rewards with mean 1: v = 1/3, m = 2/3
        m, v = ref.gaussian_posterior(2.0, 1.0, 1.0, 0.0, 1.0)
        assert (m, v) == pytest.approx((2 / 3, 1 / 3))

    def test_known_variance_posterior_is_gaussian_posterior_with_scaled_prior(self):
        count, mean, s2, mu0, kappa0 = (
            np.array([0.0, 3.0, 10.0]),
            np.array([0.0, 0.4, -1.2]),
            np.array([0.5, 2.0, 0.1]),
            0.3,
            2.0,
        )
        a = ref.known_variance_posterior(count, mean, s2, mu0, kappa0)
        b = ref.gaussian_posterior(count, mean, s2, mu0, s2 / kappa0)
        np.testing.assert_allclose(a, b, rtol=1e-12)


class TestNormalGammaPosterior:
    def test_matches_numerical_conjugate_update_with_scipy(self):
        mu0, kappa0, alpha0, beta0 = 0.5, 2.0, 3.0, 1.5
        y = np.array([0.2, 1.1, -0.4, 0.9, 0.7])
        mu_n, kappa_n, alpha_n, beta_n = ref.normal_gamma_posterior(
            len(y), y.mean(), ((y - y.mean()) ** 2).sum(), mu0, kappa0, alpha0, beta0
        )
        lam = np.linspace(1e-4, 12, 1500)[:, None]
        mu = np.linspace(-4, 5, 1501)[None, :]
        log_post = (
            stats.gamma.logpdf(lam, alpha0, scale=1 / beta0)
            + stats.norm.logpdf(mu, mu0, 1 / np.sqrt(kappa0 * lam))
            + stats.norm.logpdf(y[:, None, None], mu, 1 / np.sqrt(lam)).sum(axis=0)
        )
        w = np.exp(log_post - log_post.max())
        w /= w.sum()
        assert (w * lam).sum() == pytest.approx(alpha_n / beta_n, rel=1e-3)
        assert (w * mu).sum() == pytest.approx(mu_n, rel=1e-3)
        # Var(mu) = beta_N / (kappa_N (alpha_N - 1)) under the Normal-Gamma posterior
        var_mu = (w * (mu - mu_n) ** 2).sum()
        assert var_mu == pytest.approx(beta_n / (kappa_n * (alpha_n - 1)), rel=2e-3)

    def test_marginal_of_the_mean_is_the_student_t_varts_samples(self):
        """VarTS draws the mean from its marginal posterior: a t with 2 alpha_N dof and scale^2
        beta_N/(alpha_N kappa_N), the law of lambda ~ Gamma(alpha_N, rate beta_N), mu ~ N(mu_N, 1/(kappa_N lambda))."""
        mu_n, kappa_n, alpha_n, beta_n = 0.3, 4.0, 2.5, 1.7
        law = stats.t(2 * alpha_n, loc=mu_n, scale=np.sqrt(beta_n / (alpha_n * kappa_n)))
        gen = np.random.default_rng(11)
        lam = gen.gamma(alpha_n, 1 / beta_n, 40000)
        mixture = mu_n + gen.standard_normal(40000) / np.sqrt(kappa_n * lam)
        assert stats.kstest(mixture, law.cdf).pvalue > 1e-4
        s = Stream(rep_states(4, "t-law", {}, 1)[0].copy())
        ours = mu_n + np.sqrt(beta_n / (alpha_n * kappa_n)) * np.array(
            [s.scalar(student_t, 2 * alpha_n) for _ in range(20000)]
        )
        assert stats.kstest(ours, law.cdf).pvalue > 1e-4

    def test_prior_moments(self):
        p = NormalGamma(0.0, 2.0, 3.0, 4.0)
        assert p.mean_variance() == 2.0
        assert p.mean_prior_variance() == 1.0


def _runs(kind, env, backend, reps=3, horizon=120, k=4, **params):
    prior = NormalGamma(0.0, 1.0, 2.0, 1.0) if env == "gaussian" else (1.0, 1.0)
    return simulate_karmed(
        states(reps, "agree"), Policy(kind, params), horizon, env=env, prior=prior, K=k, backend=backend
    )


class TestBackendsAgree:
    @pytest.mark.parametrize("kind", POLICIES)
    @pytest.mark.parametrize("env", ["gaussian", "bernoulli", "beta"])
    def test_numba_equals_numpy_reference(self, kind, env):
        a, b = _runs(kind, env, "numba"), _runs(kind, env, "numpy")
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(a.means, b.means)

    @pytest.mark.parametrize(
        "kind,env",
        [("varts", "gaussian"), ("ts-bernoulli", "beta"), ("kl-ucb-bernoulli", "bernoulli"), ("ucb-v", "gaussian")],
    )
    def test_cuda_simulator_equals_numba(self, kind, env):
        a = _runs(kind, env, "cuda", reps=2, horizon=40, k=3)
        b = _runs(kind, env, "numba", reps=2, horizon=40, k=3)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_allclose(a.regret, b.regret, rtol=1e-12, atol=1e-12)

    def test_fixed_instance_is_shared(self):
        res = simulate_karmed(states(5), Policy("varts"), 50, means=[0.1, 0.2, 0.3], variances=[1.0, 0.5, 0.2])
        assert (res.means == [0.1, 0.2, 0.3]).all()
        assert (res.counts.sum(axis=1) == 50).all()


class TestSeeding:
    def test_rep_r_does_not_depend_on_number_of_reps(self):
        prior = NormalGamma()
        small = simulate_karmed(rep_states(3, "s", {}, 3), Policy("varts"), 200, prior=prior, K=5)
        large = simulate_karmed(rep_states(3, "s", {}, 8), Policy("varts"), 200, prior=prior, K=5)
        np.testing.assert_array_equal(small.regret, large.regret[:3])

    def test_same_seed_same_result_whatever_the_threads(self):
        prior = NormalGamma()
        st = rep_states(4, "threads", {}, 6)
        before = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            one = simulate_karmed(st, Policy("ts-known"), 150, prior=prior, K=4)
            numba.set_num_threads(before)
            many = simulate_karmed(st, Policy("ts-known"), 150, prior=prior, K=4)
        finally:
            numba.set_num_threads(before)
        np.testing.assert_array_equal(one.regret, many.regret)

    def test_states_not_modified(self):
        st = states(2)
        copy = st.copy()
        simulate_karmed(st, Policy("ucb1"), 30, prior=NormalGamma(), K=3)
        np.testing.assert_array_equal(st, copy)


class TestRegretOrder:
    def test_ucb1_two_arms_logarithmic_and_below_auer_bound(self):
        means = [0.4, 0.6]
        horizon = 4000
        res = simulate_karmed(
            rep_states(1, "ucb1-order", {}, 200),
            Policy("ucb1"),
            horizon,
            env="bernoulli",
            means=means,
            grid=[1000, 2000, 4000],
        )
        r1, r2, r4 = res.regret.mean(axis=0)
        lai_robbins = math.log(horizon) * 0.2 / ref.kl_bernoulli(0.4, 0.6)
        assert lai_robbins < r4 < float(ucb1_upper_bound(means, horizon))
        # log n regret adds the same amount per doubling of n (ratio 1); linear regret doubles it (ratio 2)
        assert (r4 - r2) / (r2 - r1) < 1.4


class TestBadInput:
    def test_k_below_two(self):
        with pytest.raises(ParameterError, match="K"):
            simulate_karmed(states(1), Policy("ucb1"), 10, means=[0.1], variances=[1.0])
        with pytest.raises(ParameterError, match="K"):
            simulate_karmed(states(1), Policy("ucb1"), 10, prior=NormalGamma(), K=1)

    def test_negative_variance(self):
        with pytest.raises(ParameterError, match="variances"):
            simulate_karmed(states(1), Policy("ucb1"), 10, means=[0.1, 0.2], variances=[1.0, -1.0])

    @pytest.mark.parametrize("horizon", [0, -5])
    def test_horizon_not_positive(self, horizon):
        with pytest.raises(ParameterError, match="horizon"):
            simulate_karmed(states(1), Policy("ucb1"), horizon, prior=NormalGamma(), K=3)

    def test_horizon_not_integer(self):
        with pytest.raises(ParameterTypeError, match="horizon"):
            simulate_karmed(states(1), Policy("ucb1"), 2.5, prior=NormalGamma(), K=3)

    def test_unknown_policy_and_parameter(self):
        with pytest.raises(ParameterError, match="policy"):
            Policy("egreedy")
        with pytest.raises(ParameterError, match="ucb1 has no parameter"):
            Policy("ucb1", {"c": 2})

    def test_policy_parameter_range(self):
        with pytest.raises(ParameterError, match="variance"):
            simulate_karmed(states(1), Policy("ts-fixed", {"variance": 0.0}), 10, prior=NormalGamma(), K=3)

    def test_prior_parameters(self):
        with pytest.raises(ParameterError, match="alpha0"):
            NormalGamma(alpha0=-1.0)

    def test_bernoulli_means_outside_unit_interval(self):
        with pytest.raises(ParameterError, match="means"):
            simulate_karmed(states(1), Policy("ucb1"), 10, env="bernoulli", means=[0.2, 1.5])

    def test_unknown_environment_and_backend(self):
        with pytest.raises(ParameterError, match="env"):
            simulate_karmed(states(1), Policy("ucb1"), 10, env="poisson", prior=NormalGamma(), K=2)
        with pytest.raises(BackendError, match="backend"):
            simulate_karmed(states(1), Policy("ucb1"), 10, prior=NormalGamma(), K=2, backend="gpu")

    def test_bad_grid(self):
        with pytest.raises(ParameterError, match="grid"):
            simulate_karmed(states(1), Policy("ucb1"), 10, prior=NormalGamma(), K=2, grid=[5, 3])
        with pytest.raises(ParameterError, match="grid"):
            simulate_karmed(states(1), Policy("ucb1"), 10, prior=NormalGamma(), K=2, grid=[1, 11])

    def test_bad_states(self):
        with pytest.raises(ParameterTypeError, match="states"):
            simulate_karmed(np.zeros((2, 2)), Policy("ucb1"), 10, prior=NormalGamma(), K=2)


def test_log_grid_ends_at_horizon_and_increases():
    g = log_grid(10_000, 40)
    assert g[0] == 1 and g[-1] == 10_000 and np.all(np.diff(g) > 0)


def test_bounded_rewards_need_a_beta_prior():
    with pytest.raises(ParameterError, match="pair"):
        simulate_karmed(states(1), Policy("ucb1"), 10, env="bernoulli", prior=NormalGamma(), K=3)
