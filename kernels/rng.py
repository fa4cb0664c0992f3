"""Per-replication random streams: xoroshiro128+ and the distributions built on it.

Each replication owns a state ``state`` of two ``uint64`` words (a row of a ``(reps, 2)``
array made by :func:`simkit.rng.rep_states`).  Every function here is a kernel body
(:func:`~simkit.kernels.targets.device`), so the same draws come out of the NumPy reference
(through :class:`simkit.rng.Stream`), the Numba CPU kernels and the CUDA kernels.

Draw order is part of a kernel's contract: a kernel documents the order in which it consumes
its stream so that the NumPy reference can consume it in the same order.
"""

from __future__ import annotations

import math

import numpy as np

from .targets import device

_S24 = np.uint64(24)
_S40 = np.uint64(40)
_S16 = np.uint64(16)
_S37 = np.uint64(37)
_S27 = np.uint64(27)
_S11 = np.uint64(11)
_S48 = np.uint64(48)
_S36 = np.uint64(36)
_TWO53_INV = 1.0 / 9007199254740992.0
_TWO_PI = 6.283185307179586


@device
def copy_state(source, target):
    """Copy a generator state (uint64[2]) from ``source`` to ``target``.

    CUDA launchers load a thread's state from its row of the device array into a thread-local
    array once, run the body on that copy (which the compiler keeps in registers), and store it
    back once, instead of reading and writing device memory at every draw.
    """
    target[0] = source[0]
    target[1] = source[1]


@device
def next_u64(state):
    """Advance ``state`` (uint64[2]) by one xoroshiro128+ step and return the output word."""
    s0 = state[0]
    s1 = state[1]
    result = s0 + s1
    s1 ^= s0
    state[0] = ((s0 << _S24) | (s0 >> _S40)) ^ s1 ^ (s1 << _S16)
    state[1] = (s1 << _S37) | (s1 >> _S27)
    return result


@device
def uniform(state):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return float(next_u64(state) >> _S11) * _TWO53_INV


@device
def uniform_open(state):
    """A float64 uniform on (0, 1] (safe under ``log``)."""
    return (float(next_u64(state) >> _S11) + 1.0) * _TWO53_INV


@device
def normal(state):
    """A standard normal variate (Box–Muller; consumes exactly two words)."""
    u1 = uniform_open(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@device
def gamma(state, shape):
    """A Gamma(shape, scale=1) variate (Marsaglia–Tsang; ``shape > 0``; variable number of words).

    For ``shape < 1`` it draws Gamma(shape + 1) and multiplies by ``U**(1/shape)``.  The
    squeeze ``u < 1 - 0.0331 x^4`` accepts most proposals without logarithms; it lies inside the
    acceptance region, so it changes the speed, not the variates.
    """
    boost = 1.0
    a = shape
    if a < 1.0:
        boost = math.pow(uniform_open(state), 1.0 / a)
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform_open(state)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v * boost


@device
def t_polar(state, inv_alpha):
    """``T / sqrt(2 alpha)`` for ``T`` Student-t with ``2 alpha`` degrees of freedom, given ``1/alpha > 0``.

    Bailey's polar method (R. W. Bailey, Math. Comp. 62, 1994), exact: draws ``(u, v)`` uniform
    on the square ``[-1, 1)^2`` until ``0 < w = u^2 + v^2 <= 1`` (two words per try, acceptance
    pi/4) and returns ``u sqrt((w^(-1/alpha) - 1) / w)``.  One logarithm and one exponential per
    variate, a third of the cost of the gamma-then-normal scale mixture.  ``w^(-1/alpha) - 1`` is
    formed as ``exp(.) - 1``: for very large ``alpha`` its relative rounding error grows like
    ``1e-16 alpha``, still below 1e-10 for ``alpha < 1e6``.
    """
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        w = u * u + v * v
        if 0.0 < w <= 1.0:
            return u * math.sqrt((math.exp(-inv_alpha * math.log(w)) - 1.0) / w)


@device
def student_t(state, df):
    """A Student-t variate with ``df > 0`` degrees of freedom (:func:`t_polar`, exact)."""
    return math.sqrt(df) * t_polar(state, 2.0 / df)


@device
def chisquare(state, df):
    """A chi-square variate with ``df > 0`` degrees of freedom."""
    return 2.0 * gamma(state, 0.5 * df)


@device
def beta(state, a, b):
    """A Beta(a, b) variate via two gammas."""
    x = gamma(state, a)
    y = gamma(state, b)
    return x / (x + y)


@device
def bernoulli(state, p):
    """1.0 with probability ``p``, else 0.0 (consumes one word)."""
    return 1.0 if uniform(state) < p else 0.0


@device
def randint(state, n):
    """A uniform integer in ``0 .. n-1`` (``n >= 1``; consumes one word; bias < n / 2**53)."""
    return int(uniform(state) * n)


@device
def fill_normal(state, out):
    """Fill the 1-D array ``out`` with standard normals, in index order."""
    for i in range(out.shape[0]):
        out[i] = normal(state)


@device
def fill_uniform(state, out):
    """Fill the 1-D array ``out`` with uniforms on [0, 1), in index order."""
    for i in range(out.shape[0]):
        out[i] = uniform(state)


@device
def fill_gamma(state, shape, out):
    """Fill the 1-D array ``out`` with Gamma(shape, 1) variates, in index order."""
    for i in range(out.shape[0]):
        out[i] = gamma(state, shape)
