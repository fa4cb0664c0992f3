"""Fast Walsh–Hadamard transform along the rows of a batch of matrices (for SRHT sketches).

The transform is orthonormal and block-diagonal: a length ``n`` axis is split into blocks of the
sizes in the binary expansion of ``n`` (largest first, e.g. 400 = 256 + 128 + 16), and each block
gets the normalised Sylvester-Hadamard transform ``H_b / sqrt(b)`` (the ordering of
``scipy.linalg.hadamard``).  For ``n`` a power of two it is the usual transform; for other ``n``
it is still exactly orthogonal, so an SRHT built on it keeps ``S S^T = I_m``.  Cost
``O(n log n)`` per column.

Launchers work on a ``(R, n, k)`` float64 array in place:

* ``fwht_cpu(chunk, a)``: ``prange`` over (matrix, block of ``chunk`` columns) pairs;
* ``fwht_cuda(a)``: one CUDA thread per (matrix, column).

GPU memory traffic (one thread per (matrix, column), launched with ``layout="as-given"``:
thread ``t`` works on column ``t % k`` of matrix ``t // k``, so in C order the threads of a warp
already touch consecutive columns of the same row — coalesced when ``k >= 32``, and a reordering
would break that).  Per butterfly stage each thread reads and writes its whole column once
(``16 n`` bytes); ``ceil(log2 n)`` stages plus one scaling pass.
"""

from __future__ import annotations

import math

import numba
from numba import cuda

from .targets import cpu_launcher, cuda_launcher, device


@device
def fwht_block(a, start, size, c0, c1):
    """Normalised Hadamard transform of rows ``start .. start+size-1`` of ``a`` (2-D), columns ``c0 .. c1-1``.

    ``size`` must be a power of two.  In place.
    """
    h = 1
    while h < size:
        for i0 in range(start, start + size, 2 * h):
            for i in range(i0, i0 + h):
                for c in range(c0, c1):
                    x = a[i, c]
                    y = a[i + h, c]
                    a[i, c] = x + y
                    a[i + h, c] = x - y
        h *= 2
    scale = 1.0 / math.sqrt(size)
    for i in range(start, start + size):
        for c in range(c0, c1):
            a[i, c] *= scale


@device
def fwht_blockdiag(a, c0, c1):
    """Block-diagonal normalised Hadamard transform of all rows of ``a`` (2-D), columns ``c0 .. c1-1``."""
    start = 0
    remaining = a.shape[0]
    while remaining > 0:
        size = 1
        while size * 2 <= remaining:
            size *= 2
        fwht_block(a, start, size, c0, c1)
        start += size
        remaining -= size


@cpu_launcher
def fwht_cpu(chunk, a):
    """Transform every ``a[r]`` of the ``(R, n, k)`` array ``a`` in place (parallel over column blocks)."""
    nchunks = (a.shape[2] + chunk - 1) // chunk
    for task in numba.prange(a.shape[0] * nchunks):
        r = task // nchunks
        j = task - r * nchunks
        c0 = j * chunk
        c1 = min(a.shape[2], c0 + chunk)
        fwht_blockdiag(a[r], c0, c1)


@cuda_launcher
def fwht_cuda(a):
    """Transform every ``a[r]`` of the ``(R, n, k)`` device array in place; one thread per column."""
    t = cuda.grid(1)
    if t < a.shape[0] * a.shape[2]:
        r = t // a.shape[2]
        c = t - r * a.shape[2]
        fwht_blockdiag(a[r], c, c + 1)
