"""Validation shared by the collapse API: states, backends, modes and fits, sample sizes."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from ..validation import check_choice

__all__ = ["MODES", "FITS", "KERNEL_BACKENDS", "check_states", "check_backend", "check_mode", "check_fit", "check_ols_size"]

MODES = ("replace", "accumulate")
FITS = ("unbiased", "mle")
KERNEL_BACKENDS = ("numpy", "numba", "cuda")


def check_states(states) -> np.ndarray:
    """Return ``states`` if it is a ``(reps, 2)`` uint64 array with ``reps ≥ 1``."""
    if not isinstance(states, np.ndarray) or states.dtype != np.uint64 or states.ndim != 2 or states.shape[1] != 2:
        raise ParameterTypeError("states must be a (reps, 2) uint64 array from simkit.rng.rep_states")
    if states.shape[0] < 1:
        raise ParameterError("states must hold at least one replication")
    return states


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is a resolved backend name (``numpy``, ``numba`` or ``cuda``)."""
    check_choice("backend", backend, KERNEL_BACKENDS)
    if backend == "cuda":
        from ..backends import resolve_backend

        resolve_backend("cuda")
    return backend


def check_mode(mode: str) -> int:
    """``0`` for ``"replace"``, ``1`` for ``"accumulate"``."""
    return MODES.index(check_choice("mode", mode, MODES))


def check_fit(fit: str) -> int:
    """The variance divisor offset: ``1`` for ``"unbiased"`` (ddof 1), ``0`` for ``"mle"``."""
    return 1 if check_choice("fit", fit, FITS) == "unbiased" else 0


def check_ols_size(T: int, d: int, name: str = "T") -> None:
    """Raise unless ``T ≥ d + 2`` (OLS with a finite expected test error needs it)."""
    if T < d + 2:
        raise ParameterError(
            f"{name} must be at least d + 2 = {d + 2} for an OLS fit (got {name}={T}, d={d}); "
            f"use more samples or a ridge penalty"
        )
