"""IRL family: random MDPs, batched (soft) value iteration on every backend, policy evaluation, bad input."""

import numpy as np
import pytest

from simkit.errors import BackendError, ConvergenceError, ParameterError, ParameterTypeError
from simkit.irl import (
    boltzmann,
    mce,
    occupancy,
    policy_evaluation,
    policy_value,
    random_mdp,
    random_mdps,
    soft_value_iteration,
    value_iteration,
)
from simkit.irl.mdp import expected_reward
from simkit.irl.models import greedy_policy, softmax
from simkit.irl.reference import bellman_one, occupancy_one, policy_evaluation_one
from simkit.irl.solvers import bellman
from simkit.rng import Stream, rep_states


@pytest.fixture(scope="module")
def batch():
    return random_mdps(rep_states(3, "irl-test", {}, 5), 6, 3)


def test_random_mdp_rows_are_distributions_and_reproducible():
    state = rep_states(1, "irl-test", {}, 1)[0]
    a = random_mdp(Stream(state.copy()), 5, 3, kappa=0.1)
    b = random_mdp(Stream(state.copy()), 5, 3, kappa=0.1)
    assert np.array_equal(a.transitions, b.transitions) and np.array_equal(a.reward, b.reward)
    assert np.allclose(a.transitions.sum(-1), 1.0) and (a.transitions >= 0).all()
    sparse = random_mdp(Stream(state.copy()), 7, 2, successors=2)
    assert ((sparse.transitions > 0).sum(-1) <= 2).all()
    assert np.allclose(sparse.transitions.sum(-1), 1.0)


def test_replication_depends_only_on_its_stream():
    states = rep_states(2, "irl-test", {}, 4)
    tau4, r4 = random_mdps(states, 4, 2)
    tau2, r2 = random_mdps(states[:2], 4, 2)
    assert np.array_equal(tau4[:2], tau2) and np.array_equal(r4[:2], r2)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_batched_value_iteration_matches_per_mdp_reference(batch, alpha, backend):
    tau, r = batch
    gamma = 0.9
    q, v = bellman(tau, expected_reward(r, tau), gamma, alpha, tol=1e-11, backend=backend)
    for b in range(tau.shape[0]):
        q_ref, v_ref, _ = bellman_one(tau[b], expected_reward(r[b], tau[b]), gamma, alpha, tol=1e-11)
        assert np.allclose(q[b], q_ref, atol=1e-9) and np.allclose(v[b], v_ref, atol=1e-9)


@pytest.mark.backends("numpy", "numba")
def test_batch_answer_does_not_depend_on_the_other_mdps(batch, backend):
    tau, r = batch
    rbar = expected_reward(r, tau)
    q_all, _ = bellman(tau, rbar, 0.95, 1.0, backend=backend)
    q_one, _ = bellman(tau[2:3], rbar[2:3], 0.95, 1.0, backend=backend)
    assert np.array_equal(q_all[2], q_one[0])


def test_cuda_launcher_matches_cpu_under_simulator():
    from simkit.backends import cuda_available

    if not cuda_available():
        pytest.skip("no CUDA (set NUMBA_ENABLE_CUDASIM=1)")
    tau, r = random_mdps(rep_states(4, "irl-test", {}, 2), 3, 2)
    rbar = expected_reward(r, tau)
    for alpha in (0.0, 1.0):
        q_gpu, v_gpu = bellman(tau, rbar, 0.5, alpha, tol=1e-10, backend="cuda")
        q_cpu, v_cpu = bellman(tau, rbar, 0.5, alpha, tol=1e-10, backend="numba")
        assert np.allclose(q_gpu, q_cpu, atol=1e-12) and np.allclose(v_gpu, v_cpu, atol=1e-12)


def test_value_iteration_agrees_with_policy_evaluation_of_its_greedy_policy(batch):
    tau, r = batch
    q, v = value_iteration(tau, r, 0.9, tol=1e-11)
    v_pi, q_pi = policy_evaluation(tau, r, greedy_policy(q), 0.9)
    assert np.allclose(v_pi, v, atol=1e-9) and np.allclose(q_pi, q, atol=1e-9)
    v_ref, _ = policy_evaluation_one(tau[0], expected_reward(r[0], tau[0]), greedy_policy(q[0]), 0.9)
    assert np.allclose(v_ref, v[0], atol=1e-9)


def test_soft_values_satisfy_the_soft_bellman_equation(batch):
    tau, r = batch
    alpha = 0.5
    q, v = soft_value_iteration(tau, r, 0.8, alpha, tol=1e-12)
    assert np.allclose(v, alpha * np.log(np.exp(q / alpha).sum(-1)), atol=1e-10)
    assert np.allclose(q, expected_reward(r, tau) + 0.8 * np.einsum("bsat,bt->bsa", tau, v), atol=1e-12)
    # the MCE policy is the soft-greedy policy: its soft value (entropy bonus) equals V
    pi = softmax(q / alpha)
    bonus = -alpha * np.sum(pi * np.log(pi), axis=-1)
    p_pi = np.einsum("bsa,bsat->bst", pi, tau)
    r_pi = np.einsum("bsa,bsa->bs", pi, expected_reward(r, tau)) + bonus
    v_soft = np.linalg.solve(np.eye(6) - 0.8 * p_pi, r_pi[..., None])[..., 0]
    assert np.allclose(v_soft, v, atol=1e-9)


def test_occupancy_sums_and_gives_the_policy_value(batch):
    tau, r = batch
    pi = mce(1.0).policy(tau, r, 0.9)
    rho = occupancy(tau, pi, 0.9)
    assert np.allclose(rho.sum(axis=(-2, -1)), 1 / (1 - 0.9))
    j = policy_value(tau, r, pi, 0.9)
    assert np.allclose(np.sum(rho * expected_reward(r, tau), axis=(-2, -1)), j)
    assert np.allclose(rho[1], occupancy_one(tau[1], pi[1], 0.9, np.full(6, 1 / 6)))


def test_convergence_failure_is_an_error(batch):
    tau, r = batch
    with pytest.raises(ConvergenceError, match="did not reach"):
        value_iteration(tau, r, 0.99, max_iter=5)
    with pytest.raises(ConvergenceError):
        bellman_one(tau[0], expected_reward(r[0], tau[0]), 0.99, max_iter=5)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5])
def test_bad_gamma(batch, gamma):
    tau, r = batch
    with pytest.raises(ParameterError, match=r"gamma must be in \[0, 1\)"):
        value_iteration(tau, r, gamma)


def test_bad_inputs(batch):
    tau, r = batch
    bad_tau = tau.copy()
    bad_tau[0, 0, 0] *= 0.5
    with pytest.raises(ParameterError, match="must sum to 1"):
        value_iteration(bad_tau, r, 0.9)
    with pytest.raises(ParameterError, match="transitions must be >= 0"):
        value_iteration(-tau, r, 0.9)
    with pytest.raises(ParameterError, match="reward must have shape"):
        value_iteration(tau, r[..., :-1], 0.9)
    with pytest.raises(ParameterError, match="batch of"):
        value_iteration(tau, r[:2], 0.9)
    with pytest.raises(ParameterError, match="beta must be in"):
        boltzmann(-1.0)
    with pytest.raises(ParameterError, match="alpha must be in"):
        mce(0.0)
    with pytest.raises(ParameterError, match="alpha must be in"):
        soft_value_iteration(tau, r, 0.9, alpha=-1.0)
    with pytest.raises(ParameterTypeError):
        value_iteration(tau, r, "0.9")
    with pytest.raises(BackendError):
        value_iteration(tau, r, 0.9, backend="tpu")
    with pytest.raises(ParameterError, match="policy"):
        policy_evaluation(tau, r, np.ones((5, 6, 3)), 0.9)


@pytest.mark.gpu
def test_real_gpu_kernel_and_cupy_array_code_match_numba():
    cupy = pytest.importorskip("cupy")
    from simkit.irl.solvers import bellman_xp

    tau, r = random_mdps(rep_states(9, "irl-test", {}, 64), 16, 4)
    rbar = expected_reward(r, tau)
    q_cpu, v_cpu = bellman(tau, rbar, 0.95, 1.0, tol=1e-10, backend="numba")
    q_gpu, v_gpu = bellman(tau, rbar, 0.95, 1.0, tol=1e-10, backend="cuda")
    assert np.allclose(q_gpu, q_cpu, atol=1e-9)
    q_xp, v_xp, iters = bellman_xp(
        cupy.asarray(tau), cupy.asarray(rbar), 0.95, 1.0, 1e-10, 100_000, cupy.zeros((64, 16)), cupy
    )
    assert (iters > 0).all()
    assert np.allclose(cupy.asnumpy(q_xp), q_cpu, atol=1e-9) and np.allclose(cupy.asnumpy(v_xp), v_cpu, atol=1e-9)
