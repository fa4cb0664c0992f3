"""IRL family: property tests (hypothesis) of STARC, EPIC, L2 and normalised regret."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simkit.errors import ParameterError
from simkit.irl import (
    epic_distance,
    l2_distance,
    minimal_canonical,
    normalised_regret,
    random_mdp,
    starc_distance,
    val_canonical,
)
from simkit.irl.distances import epic_canonical
from simkit.rng import Stream, rep_states

CANON = ("val", "minimal")
SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def problems(draw):
    """A random MDP, a reward, a potential, an S'-redistribution and a discount."""
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(2, 5))
    m = draw(st.integers(2, 3))
    kappa = draw(st.sampled_from([0.3, 1.0]))
    gamma = draw(st.floats(0.0, 0.95))
    stream = Stream(rep_states(seed, "irl-prop", {}, 1)[0])
    mdp = random_mdp(stream, n, m, kappa=kappa)
    phi = stream.normal((n,)) * 3.0
    delta = stream.normal((n, m, n)) * 3.0
    tau = mdp.transitions
    delta -= (np.sum(tau * delta, -1) / np.sum(tau * tau, -1))[..., None] * tau
    return mdp, phi, delta, gamma


def shaped(r, phi, gamma):
    return r + gamma * phi[None, None, :] - phi[:, None, None]


@SETTINGS
@given(problems(), st.floats(0.01, 100.0))
def test_starc_is_zero_under_shaping_redistribution_and_scaling(problem, scale):
    mdp, phi, delta, gamma = problem
    other = scale * (shaped(mdp.reward, phi, gamma) + delta)
    # STARC is ½‖s(R₁) − s(R₂)‖ computed directly, so its floor is linear in rounding: ε times the
    # conditioning of the canonicalisation (≲ 2/(1 − γ) = 40, squared for "minimal"'s normal
    # equations) times ‖R₂‖/‖c(R₂)‖ (φ, δ are 3× the reward): ≲ 1e-10; ≤ 1e-13 over 2500 draws
    for c in CANON:
        assert starc_distance(mdp.reward, other, mdp.transitions, gamma, c) <= 1e-7


@SETTINGS
@given(problems())
def test_starc_is_one_for_the_negated_reward(problem):
    mdp, phi, delta, gamma = problem
    for c in CANON:
        assert abs(starc_distance(mdp.reward, -shaped(mdp.reward, phi, gamma), mdp.transitions, gamma, c) - 1) <= 1e-7


@SETTINGS
@given(problems(), st.integers(0, 1000))
def test_distances_symmetric_and_in_range(problem, seed):
    mdp, phi, delta, gamma = problem
    other = np.random.default_rng(seed).normal(size=mdp.reward.shape)
    for c in CANON:
        d12 = starc_distance(mdp.reward, other, mdp.transitions, gamma, c)
        d21 = starc_distance(other, mdp.reward, mdp.transitions, gamma, c)
        assert abs(d12 - d21) <= 1e-12 and 0.0 <= d12 <= 1.0
    e12 = epic_distance(mdp.reward, other, mdp.transitions, gamma)
    assert abs(e12 - epic_distance(other, mdp.reward, mdp.transitions, gamma)) <= 1e-12 and 0 <= e12 <= 1
    assert 0.0 <= l2_distance(mdp.reward, other) <= 1.0
    reg = normalised_regret(mdp.reward, other, mdp.transitions, gamma)
    assert 0.0 <= reg <= 1.0


@SETTINGS
@given(problems())
def test_val_canonical_reward_is_invariant_to_shaping(problem):
    mdp, phi, delta, gamma = problem
    base = val_canonical(mdp.reward, mdp.transitions, gamma)
    assert np.allclose(val_canonical(shaped(mdp.reward, phi, gamma) + delta, mdp.transitions, gamma), base, atol=1e-9)
    # mean over actions of a VAL canonical reward is 0 (it is the uniform policy's advantage)
    assert np.allclose(base.mean(axis=-1), 0.0, atol=1e-9)


@SETTINGS
@given(problems())
def test_minimal_canonical_is_the_least_norm_member_of_the_class(problem):
    mdp, phi, delta, gamma = problem
    c = minimal_canonical(mdp.reward, mdp.transitions, gamma)
    other = shaped(mdp.reward, phi, gamma) + delta
    assert np.allclose(minimal_canonical(other, mdp.transitions, gamma), c, atol=1e-8)
    # it is a member (same VAL canonical reward) with no larger norm than R or any shaped variant
    assert np.allclose(
        val_canonical(c, mdp.transitions, gamma), val_canonical(mdp.reward, mdp.transitions, gamma), atol=1e-8
    )
    assert np.linalg.norm(c) <= min(np.linalg.norm(mdp.reward), np.linalg.norm(other)) + 1e-9


@SETTINGS
@given(problems(), st.floats(0.01, 100.0))
def test_epic_ignores_shaping_and_scaling(problem, scale):
    mdp, phi, delta, gamma = problem
    # EPIC is sqrt((1 − ρ)/2): a rounding error δ in ρ = 1 becomes sqrt(δ/2) in the distance (sqrt(ε) =
    # 1.5e-8 is seen).  ρ is a correlation over N = S·A·S ≤ 75 entries (a dot product and two norms),
    # δ ≲ 3 N ε ≈ 5e-14, so the floor is ≲ 1.6e-7; 1e-6 is sqrt(δ/2) for δ = 2e-12 ≈ 10⁴ ε.
    assert epic_distance(mdp.reward, scale * shaped(mdp.reward, phi, gamma), mdp.transitions, gamma) <= 1e-6
    # ρ = −1: d = sqrt((1 − ρ)/2) has slope 1/4 there, no amplification
    assert abs(epic_distance(mdp.reward, -mdp.reward, mdp.transitions, gamma) - 1.0) <= 1e-7


def _epic_by_definition(r1, r2, gamma):
    """EPIC written out with loops from its defining formula (an independent implementation)."""
    n, m, _ = r1.shape

    def canon(r):
        c = np.empty_like(r)
        total = sum(r[x, a, y] for x in range(n) for a in range(m) for y in range(n)) / (n * m * n)
        for s in range(n):
            for a in range(m):
                for s2 in range(n):
                    after = sum(r[s2, b, y] for b in range(m) for y in range(n)) / (m * n)
                    before = sum(r[s, b, y] for b in range(m) for y in range(n)) / (m * n)
                    c[s, a, s2] = r[s, a, s2] + gamma * after - before - gamma * total
        return c.ravel()

    rho = np.corrcoef(canon(r1), canon(r2))[0, 1]
    return np.sqrt((1 - rho) / 2), canon(r1)


@settings(max_examples=10, deadline=None)
@given(problems(), st.integers(0, 1000))
def test_epic_matches_its_defining_formula(problem, seed):
    mdp, phi, delta, gamma = problem
    other = np.random.default_rng(seed).normal(size=mdp.reward.shape)
    want, canonical = _epic_by_definition(mdp.reward, other, gamma)
    assert abs(epic_distance(mdp.reward, other, mdp.transitions, gamma) - want) <= 1e-10
    assert np.allclose(epic_canonical(mdp.reward, gamma).ravel(), canonical, atol=1e-12)


def test_epic_is_not_invariant_to_redistribution():
    mdp = random_mdp(Stream(rep_states(5, "irl-prop", {}, 1)[0]), 5, 3)
    tau = mdp.transitions
    delta = np.random.default_rng(0).normal(size=tau.shape) * 3
    delta -= (np.sum(tau * delta, -1) / np.sum(tau * tau, -1))[..., None] * tau
    assert epic_distance(mdp.reward, mdp.reward + delta, tau, 0.9) > 0.1
    assert starc_distance(mdp.reward, mdp.reward + delta, tau, 0.9) <= 1e-8


@SETTINGS
@given(problems())
def test_regret_zero_for_equivalent_and_one_for_opposite(problem):
    mdp, phi, delta, gamma = problem
    other = 2.0 * shaped(mdp.reward, phi, gamma) + delta
    assert normalised_regret(mdp.reward, other, mdp.transitions, gamma) <= 1e-9
    assert abs(normalised_regret(mdp.reward, -mdp.reward, mdp.transitions, gamma) - 1.0) <= 1e-9


def test_batched_distances_match_one_by_one():
    states = rep_states(6, "irl-prop", {}, 3)
    mdps = [random_mdp(Stream(s.copy()), 4, 2) for s in states]
    tau = np.stack([m.transitions for m in mdps])
    r1 = np.stack([m.reward for m in mdps])
    r2 = np.roll(r1, 1, axis=0)
    for c in CANON:
        batched = starc_distance(r1, r2, tau, 0.9, c)
        assert batched.shape == (3,)
        assert np.allclose(batched, [starc_distance(r1[i], r2[i], tau[i], 0.9, c) for i in range(3)])
    assert np.allclose(epic_distance(r1, r2, tau, 0.9), [epic_distance(r1[i], r2[i], tau[i], 0.9) for i in range(3)])
    assert np.allclose(
        normalised_regret(r1, r2, tau, 0.9, backend="numba"),
        [normalised_regret(r1[i], r2[i], tau[i], 0.9) for i in range(3)],
    )


def test_zero_reward_convention():
    mdp = random_mdp(Stream(rep_states(7, "irl-prop", {}, 1)[0]), 4, 2)
    zero = np.zeros_like(mdp.reward)
    assert starc_distance(zero, zero, mdp.transitions, 0.9) == 0.0
    assert abs(starc_distance(mdp.reward, zero, mdp.transitions, 0.9) - 0.5) <= 1e-12
    assert normalised_regret(zero, mdp.reward, mdp.transitions, 0.9) == 0.0


def test_distance_bad_input():
    mdp = random_mdp(Stream(rep_states(8, "irl-prop", {}, 1)[0]), 4, 2)
    with pytest.raises(ParameterError, match="canonicalisation must be one of"):
        starc_distance(mdp.reward, mdp.reward, mdp.transitions, 0.9, "epic")
    with pytest.raises(ParameterError, match="reward2 must have shape"):
        starc_distance(mdp.reward, mdp.reward[:3], mdp.transitions, 0.9)
    with pytest.raises(ParameterError, match="gamma must be in"):
        epic_distance(mdp.reward, mdp.reward, mdp.transitions, 1.0)
