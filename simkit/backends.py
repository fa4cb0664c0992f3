"""Backend names and what is available on this machine.

=========  ===============================================================
``numpy``  plain NumPy; the executable specification and test oracle
``numba``  ``@njit`` kernels parallel over replications (the CPU default)
``cuda``   Numba-CUDA kernels and CuPy array code (needs a GPU)
``auto``   ``cuda`` when a real GPU is visible, else ``numba``
=========  ===============================================================

Under ``NUMBA_ENABLE_CUDASIM=1`` the ``cuda`` backend runs in Numba's CUDA simulator (for
tests at small sizes); ``auto`` never picks the simulator.
"""

from __future__ import annotations

import functools

from .errors import BackendError

__all__ = ["BACKENDS", "resolve_backend", "cuda_available", "cuda_simulated", "gpu_name", "get_xp", "to_numpy"]

BACKENDS = ("auto", "numpy", "numba", "cuda")


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


def get_xp(backend: str):
    """The array module for array-generic code: :mod:`cupy` for ``cuda``, else :mod:`numpy`.

    Under the CUDA simulator, array code for ``cuda`` runs through NumPy (CuPy needs a GPU).
    """
    import numpy

    if backend == "cuda" and not cuda_simulated():
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
