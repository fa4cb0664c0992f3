"""A CUDA launcher over the stream kernels, shared by the simulator and real-GPU tests."""

from numba import cuda
from simkit.kernels.rng import fill_normal
from simkit.kernels.targets import cuda_launcher


@cuda_launcher
def fill_normal_kernel(states, out):
    r = cuda.grid(1)
    if r < states.shape[0]:
        fill_normal(states[r], out[r])
