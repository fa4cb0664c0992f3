"""Running a collapse kernel on the ``numba`` or ``cuda`` backend.

The CPU launchers allocate their work arrays per replication; the CUDA launchers receive
work arrays with a leading replication axis (device code cannot allocate), built here.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.targets import compiled

__all__ = ["run_cpu", "run_cuda", "THREADS_PER_BLOCK"]

THREADS_PER_BLOCK = 64


def run_cpu(launcher, states, *args):
    """Call ``launcher`` compiled for the CPU on a copy of ``states`` (the caller's array is kept)."""
    compiled(launcher, "cpu")(states.copy(), *args)


def run_cuda(launcher, states, args, outputs):
    """Call ``launcher`` compiled for CUDA with one thread per replication.

    Parameters
    ----------
    launcher : function
        A ``@cuda_launcher`` whose first argument is the states array.
    states : numpy.ndarray of uint64, shape (reps, 2)
        Copied to the device; the caller's array is not modified.
    args : sequence
        The remaining arguments; NumPy arrays are copied to the device, scalars passed as is.
    outputs : dict
        Maps an index into ``args`` to the host array that receives that argument's final value.
    """
    from numba import cuda

    reps = states.shape[0]
    device_args = [cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args]
    threads = min(THREADS_PER_BLOCK, reps)
    blocks = math.ceil(reps / threads)
    compiled(launcher, "cuda")[blocks, threads](cuda.to_device(states.copy()), *device_args)
    cuda.synchronize()
    for index, host in outputs.items():
        host[...] = device_args[index].copy_to_host()
