"""O(n) kernel ridge regression for the Brownian-motion and Brownian-bridge kernels.

On sorted inputs ``0 < x_1 < ... < x_n < 1`` the kernel matrices of ``min(x, y)`` (Brownian
motion) and ``min(x, y) - x y`` (Brownian bridge) are covariances of Markov processes, so their
inverses ``Q = K^-1`` are tridiagonal.  With gaps ``h_i = x_i - x_{i-1}`` (``x_0 = 0``) and, for
the bridge, ``h_{n+1} = 1 - x_n``:

``Q_ii = 1/h_i + 1/h_{i+1}``, ``Q_{i,i+1} = -1/h_{i+1}`` (Brownian motion: ``Q_nn = 1/h_n``).

The KRR coefficients ``c = (K + mu I)^-1 y`` (``mu = n lambda``) solve the tridiagonal system
``(I + mu Q) c = Q y``, which is symmetric positive definite, so Gaussian elimination without
pivoting (the Thomas algorithm) is stable.  Cost O(n).  Fitted values are ``K c = y - mu c``.

GPU memory traffic (one thread per problem; ``x``, ``y``, ``mu``, the work arrays and ``c``
stored with the problem index fastest by :func:`simkit.launch.launch`, all accesses coalesced
across problems).  Per point: the set-up pass reads ``x``, ``y`` (and their successors) and writes
``dd``, ``rr`` (about 32 bytes read, 16 written); elimination reads ``x`` twice and reads and
writes ``dd``, ``rr`` (48 read, 16 written); back substitution reads ``x``, ``rr``, ``dd``, ``c``
and writes ``c`` (40 read, 8 written).  The solve is sequential along a problem, so a single
problem (``R = 1``, e.g. ``n = 10^7``) runs on one thread and is latency-bound: the GPU pays off
for many problems at once.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from .targets import cpu_launcher, cuda_launcher, device


@device
def markov_krr_body(x, y, mu, bridge, dd, rr, c):
    """Solve ``(K + mu I) c = y`` for one sorted input vector ``x`` (1-D, in (0, 1)).

    ``bridge`` is 1 for the Brownian bridge and 0 for Brownian motion; ``dd`` and ``rr`` are
    work arrays of length ``n``; ``c`` receives the coefficients.
    """
    n = x.shape[0]
    prev_x = 0.0
    prev_y = 0.0
    for i in range(n):
        h = x[i] - prev_x
        if i + 1 < n:
            h_next = x[i + 1] - x[i]
            y_next = y[i + 1]
        elif bridge == 1:
            h_next = 1.0 - x[i]
            y_next = 0.0
        else:
            h_next = 0.0
            y_next = 0.0
        q = 1.0 / h
        qy = (y[i] - prev_y) / h
        if h_next > 0.0:
            q += 1.0 / h_next
            qy += (y[i] - y_next) / h_next
        dd[i] = 1.0 + mu * q
        rr[i] = qy
        prev_x = x[i]
        prev_y = y[i]
    # forward elimination; the off-diagonal between i-1 and i is -mu / (x_i - x_{i-1})
    for i in range(1, n):
        e = -mu / (x[i] - x[i - 1])
        w = e / dd[i - 1]
        dd[i] -= w * e
        rr[i] -= w * rr[i - 1]
    c[n - 1] = rr[n - 1] / dd[n - 1]
    for i in range(n - 2, -1, -1):
        e = -mu / (x[i + 1] - x[i])
        c[i] = (rr[i] - e * c[i + 1]) / dd[i]


@cpu_launcher
def markov_krr_cpu(x, y, mu, bridge, c):
    """Solve one system per row of ``x``/``y`` (shape ``(R, n)``), in parallel over rows; ``mu`` has shape ``(R,)``."""
    n = x.shape[1]
    for r in numba.prange(x.shape[0]):
        dd = np.empty(n)
        rr = np.empty(n)
        markov_krr_body(x[r], y[r], mu[r], bridge, dd, rr, c[r])


@cuda_launcher
def markov_krr_cuda(x, y, mu, bridge, dd, rr, c):
    """One CUDA thread per row of ``x``/``y``; ``dd`` and ``rr`` are ``(R, n)`` work arrays."""
    r = cuda.grid(1)
    if r < x.shape[0]:
        markov_krr_body(x[r], y[r], mu[r], bridge, dd[r], rr[r], c[r])
