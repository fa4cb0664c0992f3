"""The CuPy paths use only functions, keywords and array methods that CuPy has.

The array code of the ``cuda`` backend (``xp = cupy``) is run here on NumPy through a namespace
restricted to CuPy's API: every ``xp.<name>`` (and ``xp.linalg.<name>``, ``cupyx.<name>``) must
exist in the installed ``cupy``, every keyword passed must be a parameter of the CuPy function
(where CuPy's signature can be read), and every public attribute that simkit code reads from an
array (``a.T``, ``a.reshape``...) must exist on ``cupy.ndarray``.  The branches taken only when
``xp is not numpy`` (batched ``inv``/``qr`` instead of LAPACK loops, ``cupyx.scatter_add``) run
too, and the results must equal the NumPy backend's.  ``import cupy`` works without a GPU.
"""

from __future__ import annotations

import inspect
import sys
import types

import numpy as np
import pytest

cupy = pytest.importorskip("cupy", reason="cupy-cuda12x (the test extra) is needed to read CuPy's API")
cupyx = pytest.importorskip("cupyx")

from simkit.irl import random_mdps  # noqa: E402
from simkit.irl.mdp import expected_reward  # noqa: E402
from simkit.irl.solvers import bellman_xp  # noqa: E402
from simkit.regression import krr, linear, sketches  # noqa: E402
from simkit.rng import rep_states  # noqa: E402


class Surface:
    """Records what the code under test touches that CuPy lacks."""

    def __init__(self):
        self.missing = set()
        self.calls = 0

    def array(self, value):
        if isinstance(value, np.ndarray) and not isinstance(value, CupyLikeArray):
            view = value.view(CupyLikeArray)
            view._surface = self
            return view
        if isinstance(value, tuple):
            return tuple(self.array(v) for v in value)
        return value


WATCHED = ("simkit", __name__)  # modules whose attribute reads on arrays are checked


class CupyLikeArray(np.ndarray):
    """A NumPy array that notes public attributes read by simkit code which ``cupy.ndarray`` lacks."""

    _surface = None

    def __array_finalize__(self, obj):
        self._surface = getattr(obj, "_surface", None)

    def __getattribute__(self, name):
        if not name.startswith("_"):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            surface = np.ndarray.__getattribute__(self, "_surface")
            if surface is not None and caller.startswith(WATCHED) and not hasattr(cupy.ndarray, name):
                surface.missing.add(f"cupy.ndarray.{name}")
        return super().__getattribute__(name)


def _parameters(func):
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # ufuncs and compiled functions: existence only
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}


class Restricted(types.SimpleNamespace):
    """``numpy`` (or a submodule) seen through CuPy's API: ``Restricted(numpy, cupy, "cupy", surface)``."""

    def __init__(self, impl, api, prefix, surface):
        super().__init__()
        object.__setattr__(self, "_impl", impl)
        object.__setattr__(self, "_api", api)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_surface", surface)

    def __getattr__(self, name):
        full = f"{self._prefix}.{name}"
        target = getattr(self._api, name, None)
        if target is None:
            self._surface.missing.add(full)
        value = getattr(self._impl, name)
        if isinstance(value, types.ModuleType):
            return Restricted(value, target, full, self._surface)
        if callable(value) and not isinstance(value, type):
            allowed = None if target is None else _parameters(target)
            surface = self._surface

            def call(*args, **kwargs):
                surface.calls += 1
                if allowed is not None:
                    for key in kwargs:
                        if key not in allowed:
                            surface.missing.add(f"{full}(..., {key}=)")
                return surface.array(value(*args, **kwargs))

            return call
        return value


@pytest.fixture
def surface(monkeypatch):
    found = Surface()
    xp = Restricted(np, cupy, "cupy", found)
    stub = Restricted(types.SimpleNamespace(scatter_add=np.add.at), cupyx, "cupyx", found)

    def get_xp(backend):
        return xp if backend == "cuda" else np

    for module in (linear, sketches, krr):
        monkeypatch.setattr(module, "get_xp", get_xp)
    monkeypatch.setitem(sys.modules, "cupyx", stub)
    found.xp = xp
    return found


def _states(name, reps=3):
    return rep_states(0, "cupy-surface", {"case": name}, reps)


CASES = {
    "simulate_path-srht": lambda b: linear.simulate_path(
        _states("path"), n=16, points=[(6, 4), (12, 4), (16, 4), (5, 9)], sigma=1.0, sketch="srht", backend=b
    ),
    "simulate_path-gaussian-spectrum": lambda b: linear.simulate_path(
        _states("path-g"),
        n=12,
        points=[(5, 4), (12, 4), (4, 8)],
        sigma=0.5,
        sketch="gaussian",
        spectrum=lambda q: linear.interleaved_spectrum(q, 2.0, 1.0),
        backend=b,
    ),
    "simulate_path-countsketch": lambda b: linear.simulate_path(
        _states("path-c"), n=12, points=[(5, 4), (8, 4)], sigma=0.5, sketch="countsketch", backend=b
    ),
    "simulate_path-none": lambda b: linear.simulate_path(
        _states("path-n"), n=10, points=[(10, 4), (10, 14)], sigma=0.5, sketch="none", backend=b
    ),
    "simulate_sketched-haar-ridge": lambda b: linear.simulate_sketched(
        _states("sk"), n=12, p=5, m=7, alpha=1.0, sigma=0.5, sketch="haar", ridge=0.1, backend=b
    ),
    "simulate_sketched-countsketch": lambda b: linear.simulate_sketched(
        _states("sk-c"), n=12, p=5, m=7, alpha=1.0, sigma=0.5, sketch="countsketch", backend=b
    ),
    "simulate_validated": lambda b: linear.simulate_validated(
        _states("val"), n=16, p=6, alpha=1.0, sigma=0.5, n_val=5, candidates=[3, 6, 10, 16], oracle_m=6, backend=b
    ),
    "simulate_krr-eigen": lambda b: krr.simulate_krr(
        _states("krr"), n=20, s=1.0, lams=[1e-3, 1e-1], sigma=0.5, solver="eigen", backend=b
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cupy_path_uses_only_cupy_api(surface, name):
    ref = CASES[name]("numpy")
    out = CASES[name]("cuda")
    assert surface.calls > 3  # the CuPy path ran through the restricted namespace
    assert not surface.missing, sorted(surface.missing)
    pairs = [(out[k], ref[k]) for k in ref] if isinstance(ref, dict) else [(out, ref)]
    for got, want in pairs:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-8, atol=1e-10)


def test_bellman_xp_uses_only_cupy_api(surface):
    tau, r = random_mdps(_states("mdp", 4), 4, 3)
    rbar = expected_reward(r, tau)
    xp = surface.xp
    q, v, iters = bellman_xp(xp.asarray(tau), xp.asarray(rbar), 0.9, 0.5, 1e-10, 5000, xp.zeros((4, 4)), xp=xp)
    q_ref, v_ref, _ = bellman_xp(tau, rbar, 0.9, 0.5, 1e-10, 5000, np.zeros((4, 4)), xp=np)
    assert not surface.missing, sorted(surface.missing)
    np.testing.assert_allclose(np.asarray(q), q_ref, rtol=1e-12)
    assert np.all(np.asarray(iters) > 0)


def test_the_restriction_catches_what_cupy_lacks(surface):
    xp = surface.xp
    a = xp.asarray(np.arange(4.0).reshape(2, 2))
    xp.sum(xp.swapaxes(a, 0, 1).T, axis=0, keepdims=True)
    assert not surface.missing
    xp.nanquantile(a, 0.5)  # NumPy has it, CuPy does not
    xp.sum(a, initial=1.0)  # a NumPy keyword CuPy's sum lacks
    a.setflags(write=True)  # an ndarray method cupy.ndarray lacks
    assert surface.missing == {"cupy.nanquantile", "cupy.sum(..., initial=)", "cupy.ndarray.setflags"}
