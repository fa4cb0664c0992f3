"""Bandit kernels on a real GPU (run with ``pytest -m gpu``): the CUDA launchers agree with numba."""

import numpy as np
import pytest

from simkit.bandits.karmed import NormalGamma, Policy, simulate_karmed
from simkit.bandits.linear import LinearPolicy, make_instance, simulate_linear
from simkit.rng import rep_states

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("kind", ["ucb1", "kl-ucb-bernoulli", "ts-known", "varts", "ts-bernoulli"])
def test_karmed_gpu_equals_numba(kind):
    st = rep_states(0, "gpu", {"kind": kind}, 512)
    prior = NormalGamma(0.0, 1.0, 2.0, 0.5)
    a = simulate_karmed(st, Policy(kind), 2000, prior=prior, K=10, backend="cuda")
    b = simulate_karmed(st, Policy(kind), 2000, prior=prior, K=10, backend="numba")
    # GPU maths may differ from the CPU's in the last bit (log, exp, fused multiply-add), which can flip a
    # near-tie; almost every run must still match exactly, and the means must agree.
    same = np.all(a.counts == b.counts, axis=1).mean()
    assert same >= 0.95
    se = np.hypot(a.regret[:, -1].std(), b.regret[:, -1].std()) / np.sqrt(512)
    assert abs(a.regret[:, -1].mean() - b.regret[:, -1].mean()) <= 4 * se + 1e-9


@pytest.mark.parametrize(
    "policy",
    [LinearPolicy("ds-oful", 0.05, beta=3.0, lam=10.0), LinearPolicy("suplinucb"), LinearPolicy("lin-ts", lam=10.0)],
    ids=lambda p: p.kind,
)
def test_linear_gpu_agrees_with_numba(policy):
    inst = make_instance(16, 100, 0.18, 0.02, seed=0)
    st = rep_states(0, "gpu-linear", {}, 256)
    a = simulate_linear(st, inst, policy, 2000, backend="cuda").regret[:, -1]
    b = simulate_linear(st, inst, policy, 2000, backend="numba").regret[:, -1]
    se = np.hypot(a.std(), b.std()) / np.sqrt(len(a))
    assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9
