"""Backend names and what is available on this machine.

=========  ===============================================================
``numpy``  plain NumPy; the executable specification and test oracle
``numba``  ``@njit`` kernels parallel over replications (the CPU default)
``cuda``   Numba-CUDA kernels and CuPy array code (needs a GPU)
``auto``   ``cuda`` when a real GPU is visible, else ``numba``
=========  ===============================================================

Under ``NUMBA_ENABLE_CUDASIM=1`` the ``cuda`` backend runs in Numba's CUDA simulator (for
tests at small sizes); ``auto`` never picks the simulator.

The contract every public simulator follows (tested in ``tests/test_backend_contract.py``):

* its ``backend`` argument defaults to :data:`DEFAULT_BACKEND` and goes through
  :func:`check_backend`: an unknown name (``"nmba"``) or ``cuda`` without a GPU raises
  :class:`~simkit.errors.BackendError`, never a silent fallback nor a driver exception;
* its ``states`` argument goes through :func:`check_states`: anything but a ``uint64`` NumPy
  array raises :class:`~simkit.errors.ParameterTypeError`, a wrong shape or zero replications
  :class:`~simkit.errors.ParameterError`;
* it never modifies its inputs (kernels advance a copy of ``states``);
* compiled kernels are started by :func:`simkit.launch.launch`, for the CPU and for CUDA alike.
"""

from __future__ import annotations

import functools

import numpy as np

from .errors import BackendError, ParameterError, ParameterTypeError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "resolve_backend",
    "check_backend",
    "check_states",
    "cuda_available",
    "cuda_simulated",
    "gpu_name",
    "get_xp",
    "to_numpy",
]

BACKENDS = ("auto", "numpy", "numba", "cuda")

#: The default ``backend`` of every public simulator: the compiled CPU kernels, identical on
#: every machine (``auto`` would change the numbers' last bits when a GPU appears).
DEFAULT_BACKEND = "numba"


def cuda_simulated() -> bool:
    """True when Numba's CUDA simulator is enabled (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


@functools.lru_cache(maxsize=1)
def _real_gpu() -> bool:
    if cuda_simulated():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # a broken driver counts as no GPU, and is reported by `simkit info`
        return False


def cuda_available() -> bool:
    """True when the ``cuda`` backend can run: a real GPU, or the CUDA simulator."""
    return cuda_simulated() or _real_gpu()


def gpu_name() -> str | None:
    """Name of the first GPU, ``"CUDA simulator"`` under the simulator, or None."""
    if cuda_simulated():
        return "CUDA simulator"
    if not _real_gpu():
        return None
    from numba import cuda

    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def resolve_backend(name: str) -> str:
    """Turn a requested backend name into the one that will run.

    Raises
    ------
    BackendError
        For an unknown name, or ``cuda`` on a machine without a GPU.

    Examples
    --------
    >>> resolve_backend("numpy")
    'numpy'
    """
    if name not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name == "auto":
        return "cuda" if _real_gpu() else "numba"
    if name == "cuda" and not cuda_available():
        raise BackendError("backend 'cuda' needs a CUDA GPU, and none is visible on this machine (use numba or auto)")
    return name


def check_backend(backend) -> str:
    """Validate a simulator's ``backend`` argument and return the backend that will run.

    ``auto`` becomes ``cuda`` on a machine with a real GPU, else ``numba``.

    Raises
    ------
    BackendError
        For anything but ``auto``, ``numpy``, ``numba`` or ``cuda``, or ``cuda`` without a GPU
        (nor the CUDA simulator).

    Examples
    --------
    >>> check_backend("numba")
    'numba'
    """
    if not isinstance(backend, str):
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    from . import launch

    if backend == "cuda" and launch.recording_active():
        return "cuda"  # gpu-check --compile-only: kernels are compiled, not run
    return resolve_backend(backend)


def check_states(states) -> np.ndarray:
    """Validate replication streams: a ``uint64`` array of shape ``(reps, 2)``, ``reps >= 1``.

    Returns the array itself (callers never modify it; kernels advance a copy).

    Raises
    ------
    ParameterTypeError
        When ``states`` is not a NumPy array of dtype ``uint64``.
    ParameterError
        When its shape is not ``(reps, 2)`` or it holds no replication.

    Examples
    --------
    >>> from simkit.rng import rep_states
    >>> check_states(rep_states(0, "demo", {}, 3)).shape
    (3, 2)
    """
    if not isinstance(states, np.ndarray) or states.dtype != np.uint64:
        kind = type(states).__name__ if not isinstance(states, np.ndarray) else f"{states.dtype} array"
        raise ParameterTypeError(
            f"states must be a uint64 array of shape (reps, 2) from simkit.rng.rep_states, got {kind}"
        )
    if states.ndim != 2 or states.shape[1] != 2:
        raise ParameterError(f"states must have shape (reps, 2) (from simkit.rng.rep_states), got {states.shape}")
    if states.shape[0] < 1:
        raise ParameterError("states must hold at least one replication (reps >= 1), got 0")
    return states


def get_xp(backend: str):
    """The array module for array-generic code: :mod:`cupy` for ``cuda``, else :mod:`numpy`.

    Under the CUDA simulator, array code for ``cuda`` runs through NumPy (CuPy needs a GPU).
    """
    import numpy

    from . import launch

    if backend == "cuda" and not cuda_simulated() and not launch.recording_active():
        try:
            import cupy
        except ImportError:
            raise BackendError("backend 'cuda' needs CuPy for array code: pip install 'simkit[gpu]'") from None
        return cupy
    return numpy


def to_numpy(array):
    """Copy a CuPy array to the host (NumPy arrays pass through)."""
    get = getattr(array, "get", None)
    return get() if callable(get) else array
