"""One backend contract for every public simulator of every family (simkit.backends).

Each case below is a public function with a ``backend`` argument, called at a tiny size.  For
every case: a typo backend and ``cuda`` without a GPU raise :class:`BackendError`; malformed
``states`` raise :class:`ParameterTypeError` (not a uint64 array) or :class:`ParameterError`
(wrong shape, no replication); the inputs are unchanged after the call; and ``numpy``, ``numba``
and ``cuda`` (Numba's CUDA simulator under ``NUMBA_ENABLE_CUDASIM=1``) agree.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import simkit.backends
from simkit import bandits, collapse, irl, regression
from simkit.errors import BackendError, ParameterError, ParameterTypeError
from simkit.rng import rep_states

REPS = 3


@dataclasses.dataclass(frozen=True)
class Case:
    """A public simulator: ``prepare(states) -> (args, kwargs)``; ``func(*args, **kwargs, backend=...)``.

    ``takes_states``: the first argument is the replication streams.  ``rtol``/``atol``: agreement
    between backends (the same streams and arithmetic up to rounding everywhere).
    """

    name: str
    func: object
    prepare: object
    takes_states: bool = True
    rtol: float = 1e-9
    atol: float = 1e-12

    def call(self, states, backend):
        args, kwargs = self.prepare(states)
        return self.func(*args, **kwargs, backend=backend)


def _mdps(states):
    return irl.random_mdps(states, 3, 2)


def _expert(states):
    tau, r = irl.random_mdps(states[:1], 3, 2)
    pi = irl.mce(1.0).policy(tau[0], r[0], 0.9, backend="numpy")
    return (pi, tau[0], tau[0], 0.85), {"alpha": 1.0}


_LINEAR_INSTANCE = bandits.make_instance(3, 4, 0.1, 0.02, seed=0)

CASES = [
    Case(
        "bandits.simulate_karmed",
        bandits.simulate_karmed,
        lambda st: ((st, bandits.Policy("varts"), 30), {"prior": bandits.NormalGamma(), "K": 3}),
    ),
    Case(
        "bandits.simulate_karmed-fixed",
        bandits.simulate_karmed,
        lambda st: (
            (st, bandits.Policy("kl-ucb-bernoulli"), 30),
            {"env": "bernoulli", "means": np.array([0.2, 0.5, 0.6])},
        ),
    ),
    Case(
        "bandits.simulate_linear",
        bandits.simulate_linear,
        lambda st: ((st, _LINEAR_INSTANCE, bandits.LinearPolicy("ds-oful", 0.05)), {"horizon": 20}),
    ),
    Case(
        "collapse.simulate_linear_chain",
        collapse.simulate_linear_chain,
        lambda st: ((st,), dict(d=2, T=5, sigma2=0.5, iterations=3, mode="accumulate")),
    ),
    Case(
        "collapse.simulate_generator_ridge",
        collapse.simulate_generator_ridge,
        lambda st: (
            (st,),
            dict(d=3, T0=6, T=6, sigma0_2=0.3, sigma2=0.2, steps=2, record=np.array([0, 2]), lams=np.array([0.0, 0.5])),
        ),
    ),
    Case(
        "collapse.simulate_gaussian_chain",
        collapse.simulate_gaussian_chain,
        lambda st: ((st,), dict(M=4, generations=3, d=2, record=np.array([0, 3]))),
    ),
    Case(
        "collapse.simulate_kde_chain",
        collapse.simulate_kde_chain,
        lambda st: ((st,), dict(M=4, generations=3, h=0.2, mode="accumulate")),
    ),
    Case(
        "regression.simulate_path",
        regression.simulate_path,
        lambda st: ((st,), dict(n=8, points=[(4, 3), (8, 3), (3, 5)], sigma=1.0, sketch="srht")),
    ),
    Case(
        "regression.simulate_sketched",
        regression.simulate_sketched,
        lambda st: ((st,), dict(n=8, p=3, m=5, alpha=1.0, sigma=0.5, sketch="srht", spectrum=np.ones(3))),
    ),
    Case(
        "regression.simulate_validated",
        regression.simulate_validated,
        lambda st: ((st,), dict(n=8, p=3, alpha=1.0, sigma=0.5, n_val=4, candidates=np.array([3, 5, 8]), oracle_m=5)),
    ),
    Case(
        "regression.simulate_krr",
        regression.simulate_krr,
        lambda st: ((st,), dict(n=12, s=1.0, lams=np.array([1e-3, 1e-1]), sigma=0.5)),
    ),
    Case(
        "regression.krr_markov",
        regression.krr_markov,
        lambda st: (
            (
                np.sort(np.random.default_rng(int(st[0, 0] % 1000)).uniform(0.01, 0.99, (2, 6)), axis=1),
                np.arange(12.0).reshape(2, 6),
                1e-2,
            ),
            {},
        ),
        takes_states=False,
    ),
    Case(
        "regression.fwht",
        regression.fwht,
        lambda st: ((np.arange(2 * 6 * 3, dtype=float).reshape(2, 6, 3),), {}),
        takes_states=False,
    ),
    # value iteration (tol 1e-10): the backends may stop a sweep apart, which moves Q, V by ≤ (1 − γ) tol /
    # γ ≈ 1e-11, far inside rtol 1e-9 at these values (|Q|, |V| ≥ 1.2)
    Case(
        "irl.random_mdps+value_iteration",
        lambda st, backend: irl.value_iteration(*_mdps(st), 0.9, backend=backend),
        lambda st: ((st,), {}),
    ),
    Case(
        "irl.soft_value_iteration",
        irl.soft_value_iteration,
        lambda st: ((*_mdps(st), 0.8), {"alpha": 0.5}),
        takes_states=False,
    ),
    Case(
        "irl.normalised_regret",
        irl.normalised_regret,
        lambda st: ((_mdps(st)[1], _mdps(st)[1][::-1].copy(), _mdps(st)[0], 0.9), {}),
        takes_states=False,
    ),
    # L-BFGS-B over an inner soft value iteration (tol 1e-8): each backend's θ is off the optimum by ≲ the
    # gradient error tol / (α (1 − γ')) ≈ 7e-8 over the dual's least curvature (≈ 0.045 here), ≈ 1.5e-6,
    # inside rtol 1e-5 at |θ| ≥ 0.7 (the paths coincide in practice: 1e-14 seen)
    Case("irl.mce_irl", irl.mce_irl, _expert, takes_states=False, rtol=1e-5, atol=1e-7),
]
IDS = [c.name for c in CASES]

BAD_STATES = {
    "float": (np.zeros((2, 2)), ParameterTypeError),
    "list": ([[1, 2], [3, 4]], ParameterTypeError),
    "int64": (np.ones((2, 2), dtype=np.int64), ParameterTypeError),
    "shape-3": (np.ones((2, 3), dtype=np.uint64), ParameterError),
    "one-d": (np.ones(2, dtype=np.uint64), ParameterError),
    "empty": (np.ones((0, 2), dtype=np.uint64), ParameterError),
}


def _states(name):
    return rep_states(0, "backend-contract", {"case": name}, REPS)


def _leaves(value, path="out"):
    """Every array or number inside a result (tuples, dicts, dataclasses), keyed by its path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, (np.ndarray, float, int, np.generic)):
        yield path, np.asarray(value)


def _assert_same(a, b, path="input"):
    left, right = dict(_leaves(a, path)), dict(_leaves(b, path))
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype and left[key].shape == right[key].shape, key
        np.testing.assert_array_equal(left[key], right[key], err_msg=key)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_typo_backend_is_a_backend_error(case):
    for typo in ("nmba", "gpu", "", None, 1):
        with pytest.raises(BackendError, match="backend") as info:
            case.call(_states(case.name), typo)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cuda_without_a_gpu_is_a_backend_error(case, monkeypatch):
    monkeypatch.setattr(simkit.backends, "cuda_available", lambda: False)
    monkeypatch.setattr(simkit.backends, "_real_gpu", lambda: False)
    with pytest.raises(BackendError, match="cuda.*GPU") as info:
        case.call(_states(case.name), "cuda")
    assert "\n" not in str(info.value)
    case.call(_states(case.name), "auto")  # auto falls back to numba without a GPU


@pytest.mark.parametrize("bad", list(BAD_STATES), ids=list(BAD_STATES))
@pytest.mark.parametrize("case", [c for c in CASES if c.takes_states], ids=[c.name for c in CASES if c.takes_states])
def test_malformed_states(case, bad):
    states, error = BAD_STATES[bad]
    good_args, good_kwargs = case.prepare(_states(case.name))
    with pytest.raises(error, match="states") as info:
        case.func(states, *good_args[1:], **good_kwargs, backend="numba")
    assert "\n" not in str(info.value)
    if error is ParameterError:
        assert not isinstance(info.value, ParameterTypeError)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_inputs_unchanged(case, backend):
    states = _states(case.name)
    args, kwargs = case.prepare(states)
    before = copy.deepcopy((args, kwargs))
    case.func(*args, **kwargs, backend=backend)
    _assert_same((args, kwargs), before)
    np.testing.assert_array_equal(states, _states(case.name))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.backends("numba", "cuda")
def test_backend_agrees_with_numpy(case, backend):
    ref = dict(_leaves(case.call(_states(case.name), "numpy")))
    out = dict(_leaves(case.call(_states(case.name), backend)))
    assert ref.keys() == out.keys() and ref
    for key in ref:
        assert ref[key].shape == out[key].shape, key
        assert np.all(np.isfinite(ref[key].astype(float))), key
        np.testing.assert_allclose(out[key], ref[key], rtol=case.rtol, atol=case.atol, err_msg=f"{case.name} {key}")


def test_one_default_backend():
    import inspect

    for case in CASES:
        func = case.func
        if case.name.startswith("irl.random_mdps"):
            func = irl.value_iteration
        default = inspect.signature(func).parameters["backend"].default
        assert default == simkit.backends.DEFAULT_BACKEND == "numba", case.name


def test_family_exports():
    for family, names in [
        (bandits, ["simulate_karmed", "simulate_linear"]),
        (
            collapse,
            ["simulate_linear_chain", "simulate_generator_ridge", "simulate_gaussian_chain", "simulate_kde_chain"],
        ),
        (regression, ["simulate_path", "simulate_sketched", "simulate_validated", "simulate_krr"]),
        (irl, ["value_iteration", "soft_value_iteration", "random_mdps", "mce_irl", "normalised_regret"]),
    ]:
        assert set(names) <= set(family.__all__), family.__name__


_NO_GPU_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from simkit.backends import _real_gpu
from simkit.errors import BackendError
import test_backend_contract as contract
if _real_gpu():
    print(json.dumps({{"skip": "a real GPU is visible"}}))
    raise SystemExit(0)
out = {{}}
for case in contract.CASES:
    try:
        case.call(contract._states(case.name), "cuda")
        out[case.name] = "ran"
    except BackendError as exc:
        out[case.name] = "BackendError: " + str(exc)
    except BaseException as exc:
        out[case.name] = type(exc).__module__ + "." + type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""


def test_cuda_without_a_gpu_outside_the_simulator():
    """With numba-cuda installed and no driver (CI), ``cuda`` is a BackendError, never a CudaSupportError."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = _NO_GPU_SCRIPT.format(tests=str(Path(__file__).parent))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    assert set(result) == set(IDS)
    for name, outcome in result.items():
        assert outcome.startswith("BackendError: backend 'cuda' needs a CUDA GPU"), (name, outcome)
