"""Real-GPU tests of the framework's kernels (run with ``pytest -m gpu`` on a machine with a GPU)."""

import numpy as np
import pytest
from simkit.kernels.targets import compiled
from stream_kernels import fill_normal_kernel

from simkit.rng import Stream, rep_states

pytestmark = pytest.mark.gpu


def test_gpu_streams_match_cpu_streams():
    from numba import cuda

    states = rep_states(0, "gpu", {}, 256)
    ref = np.array([Stream(s.copy()).normal((16,)) for s in states])
    out = cuda.to_device(np.zeros((256, 16)))
    compiled(fill_normal_kernel, "cuda")[2, 128](cuda.to_device(states.copy()), out)
    assert np.allclose(out.copy_to_host(), ref, rtol=1e-12, atol=1e-12)
