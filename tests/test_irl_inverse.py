"""IRL family: closed-form inverses, the worst case over the feasible set, MCE-IRL."""

import numpy as np
import pytest

from simkit.errors import ParameterError
from simkit.irl import (
    boltzmann,
    boltzmann_inverse,
    mce,
    mce_inverse,
    mix_transitions,
    normalised_regret,
    optimal,
    optimality_inverse,
    random_mdp,
    random_transitions,
    starc_distance,
    state_reward,
)
from simkit.irl.feasible import feasible_supremum, worst_case_starc
from simkit.irl.mce_irl import mce_irl
from simkit.rng import Stream, rep_states


@pytest.fixture(scope="module")
def world():
    stream = Stream(rep_states(11, "irl-inv", {}, 1)[0])
    mdp = random_mdp(stream, 6, 3)
    other = random_transitions(stream, 6, 3, kappa=1.0)
    return mdp, other


@pytest.mark.parametrize("gamma_assumed", [0.5, 0.9, 0.97])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_closed_form_inverses_reproduce_the_policy_under_the_assumed_model(world, gamma_assumed, lam):
    mdp, other = world
    tau_a = mix_transitions(mdp.transitions, other, lam)
    pi_b = boltzmann(1.5).policy(mdp.transitions, mdp.reward, 0.9)
    r_b = boltzmann_inverse(pi_b, tau_a, gamma_assumed, 0.4)
    assert np.allclose(boltzmann(0.4).policy(tau_a, r_b, gamma_assumed), pi_b, atol=1e-8)
    pi_m = mce(1.0).policy(mdp.transitions, mdp.reward, 0.9)
    r_m = mce_inverse(pi_m, tau_a, 2.5)
    assert np.allclose(mce(2.5).policy(tau_a, r_m, gamma_assumed), pi_m, atol=1e-8)
    # the MCE closed form lies in the true reward's class whatever γ', τ', α' are assumed.  STARC is
    # ½‖s(R) − s(R̂)‖ computed directly (no square root of a cancellation), so it is linear in the
    # error of R̂: α' log π = α'/α (r̄ + shaping + e) with e = γτ(V_k − V_{k+1}) the last step of
    # the value iteration (tol = 1e-10), ‖e‖∞ ≤ (1 − γ) tol = 1e-11; d ≤ ‖C‖₂ ‖e‖₂ / ‖c(R)‖
    # ≈ 1.3 · √18 · 1e-11 / 2.8 ≈ 2e-11 (C the VAL matrix): 1e-9 holds with margin (1e-15 seen).
    assert starc_distance(mdp.reward, r_m, mdp.transitions, 0.9) <= 1e-9


def test_log_policy_alone_is_not_the_hard_q_boltzmann_inverse(world):
    mdp, _ = world
    pi = boltzmann(1.0).policy(mdp.transitions, mdp.reward, 0.9)
    naive = np.repeat(np.log(pi)[..., None], 6, axis=-1)
    assert not np.allclose(boltzmann(1.0).policy(mdp.transitions, naive, 0.9), pi, atol=1e-3)
    # the right model: R̂ = r̄ + shaping + γτ(V_k − V_{k+1}), the same ≈ 2e-11 bound as above
    assert starc_distance(mdp.reward, boltzmann_inverse(pi, mdp.transitions, 0.9, 1.0), mdp.transitions, 0.9) <= 1e-9


def test_optimality_inverse_has_zero_regret(world):
    mdp, _ = world
    pi = optimal().policy(mdp.transitions, mdp.reward, 0.9)
    r_hat = optimality_inverse(pi, mdp.transitions)
    assert normalised_regret(mdp.reward, r_hat, mdp.transitions, 0.9) <= 1e-12
    assert starc_distance(mdp.reward, r_hat, mdp.transitions, 0.9) > 0.1


def test_inverse_bad_input(world):
    mdp, _ = world
    pi = optimal().policy(mdp.transitions, mdp.reward, 0.9)
    with pytest.raises(ParameterError, match="strictly positive"):
        mce_inverse(pi, mdp.transitions, 1.0)
    with pytest.raises(ParameterError, match="gamma_assumed must be in"):
        boltzmann_inverse(np.full((6, 3), 1 / 3), mdp.transitions, 1.0, 1.0)
    with pytest.raises(ParameterError, match="beta must be in"):
        boltzmann_inverse(np.full((6, 3), 1 / 3), mdp.transitions, 0.9, -2.0)


@pytest.mark.parametrize("gamma_assumed, lam", [(0.9, 0.0), (0.89, 0.0), (0.5, 0.0), (0.9, 0.01), (0.8, 0.2)])
def test_worst_case_reaches_but_never_exceeds_the_supremum(world, gamma_assumed, lam):
    mdp, other = world
    tau_a = mix_transitions(mdp.transitions, other, lam)
    pi = mce(1.0).policy(mdp.transitions, mdp.reward, 0.9)
    r_hat = mce_inverse(pi, tau_a, 1.0)
    found = worst_case_starc(
        mdp.reward, r_hat, mdp.transitions, 0.9, tau_a, gamma_assumed, rng=np.random.default_rng(0), restarts=3
    )
    sup = feasible_supremum(mdp.reward, r_hat, mdp.transitions, 0.9, tau_a, gamma_assumed)
    # The distance is sqrt((1 - g) / 2) of a cosine g: a rounding error δ in g becomes sqrt(δ / 2)
    # in the distance.  g is a dot product of unit vectors of S·A·S = 108 entries built through an
    # SVD and solves with condition ~ 1 / (1 - γ) = 10, so δ ≲ 10³ ε and the distance's floor is
    # sqrt(10³ ε / 2) ≈ 3.3e-7 (1.3e-8 was seen on one machine, 7.5e-9 with numpy 1.26, < 1e-9 on another).
    zero = np.sqrt(1e3 * np.finfo(float).eps / 2)
    assert found.supremum == pytest.approx(sup, abs=zero)
    assert found.distance <= sup + zero
    assert found.distance >= sup - 0.01
    if gamma_assumed == 0.9 and lam == 0.0:
        assert sup <= zero  # correct model: every feasible reward is equivalent to the truth
    else:
        assert sup >= 0.5
    if lam > 0:
        assert sup >= 1 - 1e-9  # S'-redistributions under τ' reach every canonical reward


def test_worst_case_member_is_feasible(world):
    mdp, other = world
    tau_a = mix_transitions(mdp.transitions, other, 0.1)
    pi = mce(1.0).policy(mdp.transitions, mdp.reward, 0.9)
    r_hat = mce_inverse(pi, tau_a, 1.0)
    found = worst_case_starc(
        mdp.reward, r_hat, mdp.transitions, 0.9, tau_a, 0.85, rng=np.random.default_rng(1), restarts=2, bound=3.0
    )
    assert np.allclose(np.sum(tau_a * found.redistribution, axis=-1), 0.0, atol=1e-9)
    assert np.allclose(mce(1.0).policy(tau_a, found.reward, 0.85), pi, atol=1e-7)
    assert found.distance > 0.5


def test_mce_irl_recovers_a_state_only_reward_under_the_right_model(world):
    mdp, _ = world
    truth = state_reward(np.random.default_rng(3).normal(size=6), 3)
    pi = mce(1.0).policy(mdp.transitions, truth, 0.9)
    fit = mce_irl(pi, mdp.transitions, mdp.transitions, 0.9, 1.0, l2=1e-7, backend="numba")
    assert fit.converged and fit.visitation_gap <= 1e-4
    assert starc_distance(truth, fit.reward, mdp.transitions, 0.9) <= 1e-3
    same = mce_irl(pi, mdp.transitions, mdp.transitions, 0.9, 1.0, l2=1e-7, backend="numpy")
    # Each θ is a stationary point of the dual up to L-BFGS-B's gtol (1e-9) plus the gradient error of
    # the inner soft value iteration (tol 1e-8 on Q): ≲ tol / (α (1 − γ)) = 1e-7 in the occupancy.
    # Over the dual's least curvature in the identified directions (≈ 0.06 here) that is ≲ 2e-6 per
    # backend.  The constant direction (curvature l2 = 1e-7) is not excited: every gradient sums to
    # ~0 (both occupancies sum to 1/(1 − γ)), so θ's mean stays ~1e-13 on both backends.
    assert np.allclose(same.theta, fit.theta, atol=1e-5)


@pytest.mark.parametrize("gamma_assumed, lam", [(0.85, 0.0), (0.9, 0.2), (0.95, 0.05)])
def test_boltzmann_inverse_error_term_predicts_its_distance_exactly(world, gamma_assumed, lam):
    from simkit.irl.theory import boltzmann_error_term, boltzmann_starc_theory

    mdp, other = world
    tau_a = mix_transitions(mdp.transitions, other, lam)
    pi = boltzmann(2.0).policy(mdp.transitions, mdp.reward, 0.9)
    r_hat = boltzmann_inverse(pi, tau_a, gamma_assumed, 2.0)
    predicted = boltzmann_starc_theory(mdp.transitions, mdp.reward, 0.9, 2.0, tau_a, gamma_assumed)
    # both sides are d(R, r̄ + e) with e from a value iteration (tol 1e-10, possibly on different
    # backends, stopping a sweep apart): their rewards differ by ≲ (1 + γ' + γ + γ') tol ≈ 4e-10 per
    # entry, and STARC is linear in that (no square root of a cancellation): ≤ 1.3 · √18 · 4e-10 / 2.8
    # ≈ 8e-10 (C's norm over ‖c(r̄ + e)‖); the value iteration's error is mostly a constant shift that
    # the canonicalisation removes, hence the ~1e-16 seen.
    assert abs(starc_distance(mdp.reward, r_hat, mdp.transitions, 0.9) - predicted) <= 1e-9
    e = boltzmann_error_term(mdp.transitions, mdp.reward, 0.9, 2.0, tau_a, gamma_assumed)
    # the bound is not tight here (max |e| ≤ 0.65 × bound); the 1e-12 only absorbs rounding
    assert np.abs(e).max() <= abs(0.9 - gamma_assumed) * np.log(3) / 2.0 + 0.9 * lam * 2 * np.log(3) / 2.0 + 1e-12
