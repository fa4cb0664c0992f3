"""Launching a bandit CUDA kernel: one thread per replication, outputs copied back to the host."""

from __future__ import annotations

import numpy as np

THREADS_PER_BLOCK = 64


def launch(kernel, states, args, outputs):
    """Run ``kernel[blocks, threads](states, *args, *outputs)`` and return the outputs as host arrays.

    Parameters
    ----------
    kernel : function
        A :func:`~simkit.kernels.targets.cuda_launcher` whose last arguments are ``outputs``.
    states : numpy.ndarray of uint64, shape (reps, 2)
        Replication streams (a copy is advanced on the device).
    args : tuple
        Scalars and read-only arrays (arrays are copied to the device).
    outputs : tuple of numpy.ndarray
        Arrays with a leading replication axis, written by the kernel.
    """
    from numba import cuda

    from ..kernels.targets import compiled

    reps = states.shape[0]
    dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    d_out = [cuda.to_device(o) for o in outputs]
    blocks = (reps + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    compiled(kernel, "cuda")[blocks, THREADS_PER_BLOCK](cuda.to_device(states), *dev, *d_out)
    cuda.synchronize()
    return tuple(o.copy_to_host() for o in d_out)
