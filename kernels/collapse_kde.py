"""Kernel-density-estimate loop: resample from a Gaussian KDE of the previous data.

Generation 0 is ``M`` real samples from ``N(μ₀, σ₀²)``.  Generation ``n ≥ 1`` is ``M`` draws
from the Gaussian KDE (bandwidth ``h``) of the previous generation (*replace*) or of all
generations so far (*accumulate*): pick a stored point uniformly, add ``h·N(0, 1)``.

Outputs for ``n = 0..G``: the generation's own variance ``sₙ²`` (divisor ``M``) and the
variance of all data the next KDE is built on (divisor the pool size; equal to ``sₙ²`` for
replace).

Draw order: generation 0, ``M`` normals; each later generation, for each new point one
uniform index (one word) then one normal.

GPU memory traffic (one thread per replication; ``pool`` and the outputs stored with the
replication index fastest by :func:`simkit.launch.launch`).  Per generation of ``M`` points:
``M`` reads of uniformly chosen stored points (8 bytes each, a gather: each thread picks its own
index, so these are not coalesced), ``M`` coalesced writes of the new points (``8 M`` bytes) and
two coalesced passes over them for the mean and variance (``16 M`` bytes); two outputs (16 bytes,
coalesced).  RNG state: registers, loaded and stored once.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from .rng import copy_state, normal, randint
from .targets import cpu_launcher, cuda_launcher, device


@device
def kde_chain_body(state, M, mu0, sigma0, h, accumulate, pool, out_var, out_pooled):
    """Run one replication (model and draw order in the module docstring).

    Parameters
    ----------
    M : int
        Points per generation.
    mu0, sigma0, h : float
        Truth mean and standard deviation, KDE bandwidth.
    accumulate : int
        1 to build each KDE on all generations so far.
    pool : float64[(G + 1)·M] for accumulate, float64[2·M] for replace
        Work array holding the stored points.
    out_var, out_pooled : float64[G + 1]
        Outputs.
    """
    G = out_var.shape[0] - 1
    for i in range(M):
        pool[i] = mu0 + sigma0 * normal(state)
    cur = 0
    size = M
    pooled_mean = 0.0
    pooled_m2 = 0.0
    for n in range(G + 1):
        if n > 0:
            if accumulate != 0:
                src = 0
                nsrc = size
                dst = size
            else:
                src = cur
                nsrc = M
                dst = M - cur
            for i in range(M):
                j = randint(state, nsrc)
                pool[dst + i] = pool[src + j] + h * normal(state)
            cur = dst
            size = dst + M
        s = 0.0
        for i in range(M):
            s += pool[cur + i]
        mean = s / M
        m2 = 0.0
        for i in range(M):
            t = pool[cur + i] - mean
            m2 += t * t
        out_var[n] = m2 / M
        if accumulate != 0:
            old = n * M
            new = old + M
            gap = mean - pooled_mean
            pooled_m2 += m2 + gap * gap * old * M / new
            pooled_mean += gap * M / new
            out_pooled[n] = pooled_m2 / new
        else:
            out_pooled[n] = m2 / M


@cpu_launcher
def kde_chain_cpu(states, M, mu0, sigma0, h, accumulate, out_var, out_pooled):
    """CPU launcher: replication ``r`` fills ``out_var[r]`` and ``out_pooled[r]`` from ``states[r]``."""
    G = out_var.shape[1] - 1
    capacity = (G + 1) * M if accumulate != 0 else 2 * M
    for r in numba.prange(states.shape[0]):
        pool = np.empty(capacity)
        kde_chain_body(states[r], M, mu0, sigma0, h, accumulate, pool, out_var[r], out_pooled[r])


@cuda_launcher
def kde_chain_cuda(states, M, mu0, sigma0, h, accumulate, pool, out_var, out_pooled):
    """CUDA launcher, one thread per replication; ``pool`` is ``(reps, capacity)`` work space."""
    r = cuda.grid(1)
    if r < states.shape[0]:
        state = cuda.local.array(2, numba.uint64)
        copy_state(states[r], state)
        kde_chain_body(state, M, mu0, sigma0, h, accumulate, pool[r], out_var[r], out_pooled[r])
        copy_state(state, states[r])
