"""Compile one kernel body for several targets (Numba CPU and Numba CUDA).

A *body* is a plain Python function written in the subset of Python that both ``numba.njit``
and ``numba.cuda.jit(device=True)`` accept: scalar maths from :mod:`math`, indexing and
slicing of arrays that the caller allocated, loops, and calls to other bodies.  Mark it with
:func:`device`.  A *launcher* (the ``prange`` loop or the CUDA grid) is marked with
:func:`cpu_launcher` or :func:`cuda_launcher`.

``compiled(func, "cpu")`` returns the compiled function for a target.  Calls from one body to
another are resolved per target: before compiling, the function's globals are copied and every
global that names a registered body is replaced by that body's compiled version for the same
target.  Bodies must therefore be imported by name (``from .rng import normal``), not reached
through attributes (``rng.normal``).

Nothing here needs a GPU: the CUDA versions are compiled on first use, and under
``NUMBA_ENABLE_CUDASIM=1`` they run in Numba's CUDA simulator.
"""

from __future__ import annotations

import threading
import types

__all__ = ["device", "cpu_launcher", "cuda_launcher", "compiled"]

_BODIES: set[int] = set()
_LAUNCHERS: dict[int, tuple[str, dict]] = {}
_CACHE: dict[tuple[int, str], object] = {}
_LOCK = threading.RLock()


def device(func):
    """Mark ``func`` as a kernel body compiled for every target (returns it unchanged)."""
    _BODIES.add(id(func))
    return func


def cpu_launcher(func=None, *, parallel=True):
    """Mark ``func`` as a CPU launcher, compiled with ``numba.njit(parallel=parallel, cache=True)``."""

    def mark(f):
        _LAUNCHERS[id(f)] = ("cpu", {"parallel": parallel})
        return f

    return mark if func is None else mark(func)


def cuda_launcher(func):
    """Mark ``func`` as a CUDA kernel (a ``numba.cuda.jit`` global function)."""
    _LAUNCHERS[id(func)] = ("cuda", {})
    return func


def compiled(func, target):
    """Return ``func`` compiled for ``target`` ("cpu" or "cuda"), compiling on first use."""
    if target not in ("cpu", "cuda"):
        raise ValueError(f"target must be 'cpu' or 'cuda', got {target!r}")
    key = (id(func), target)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        namespace = dict(func.__globals__)
        for name in func.__code__.co_names:
            value = namespace.get(name)
            if callable(value) and (id(value) in _BODIES or id(value) in _LAUNCHERS):
                namespace[name] = compiled(value, target)
        rebound = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)
        rebound.__qualname__ = func.__qualname__
        rebound.__module__ = func.__module__
        result = _jit(rebound, func, target)
        _CACHE[key] = result
        return result


def _jit(rebound, original, target):
    launcher = _LAUNCHERS.get(id(original))
    if target == "cpu":
        import numba

        if launcher is not None:
            return numba.njit(parallel=launcher[1]["parallel"], cache=True)(rebound)
        return numba.njit(cache=True, inline="never")(rebound)
    from numba import cuda

    if launcher is not None:
        return cuda.jit(rebound)
    return cuda.jit(device=True)(rebound)
