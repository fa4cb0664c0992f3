"""Small dense linear algebra written as kernel bodies (shared by the CPU and CUDA launchers).

Every function works in place on arrays the caller allocated (CUDA device code cannot
allocate), so one Cholesky solve serves the OLS, ridge and minimum-norm refits of the
collapse kernels on both targets.
"""

from __future__ import annotations

import math

from .rng import normal
from .targets import device


@device
def cholesky_shifted(A, shift, L):
    """Factor ``A + shift·I = L Lᵀ`` (``A`` symmetric ``(p, p)``, only its lower triangle is read).

    Writes the lower-triangular factor into ``L`` (``(p, p)``; the strict upper triangle is
    set to zero).  Returns False, leaving ``L`` partly written, when the matrix is not
    numerically positive definite.
    """
    p = A.shape[0]
    for j in range(p):
        s = A[j, j] + shift
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not (s > 0.0):
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, p):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / ljj
        for i in range(j):
            L[i, j] = 0.0
    return True


@device
def cholesky_solve(L, b, x):
    """Solve ``L Lᵀ x = b`` for ``x`` (``(p,)``) given the Cholesky factor ``L`` (``(p, p)``).

    ``x`` may be the same array as ``b``.
    """
    p = L.shape[0]
    for i in range(p):
        t = b[i]
        for k in range(i):
            t -= L[i, k] * x[k]
        x[i] = t / L[i, i]
    for i in range(p - 1, -1, -1):
        t = x[i]
        for k in range(i + 1, p):
            t -= L[k, i] * x[k]
        x[i] = t / L[i, i]


@device
def gram(X, G):
    """``G = Xᵀ X`` for ``X`` of shape ``(n, p)`` (``G`` is ``(p, p)``, both triangles written)."""
    n = X.shape[0]
    p = X.shape[1]
    for a in range(p):
        for b in range(a + 1):
            s = 0.0
            for i in range(n):
                s += X[i, a] * X[i, b]
            G[a, b] = s
            G[b, a] = s


@device
def outer_gram(X, G):
    """``G = X Xᵀ`` for ``X`` of shape ``(n, p)`` (``G`` is ``(n, n)``, both triangles written)."""
    n = X.shape[0]
    p = X.shape[1]
    for a in range(n):
        for b in range(a + 1):
            s = 0.0
            for k in range(p):
                s += X[a, k] * X[b, k]
            G[a, b] = s
            G[b, a] = s


@device
def matvec(X, v, out):
    """``out = X v`` for ``X`` ``(n, p)``, ``v`` ``(p,)``, ``out`` ``(n,)``."""
    n = X.shape[0]
    p = X.shape[1]
    for i in range(n):
        s = 0.0
        for k in range(p):
            s += X[i, k] * v[k]
        out[i] = s


@device
def rmatvec(X, v, out):
    """``out = Xᵀ v`` for ``X`` ``(n, p)``, ``v`` ``(n,)``, ``out`` ``(p,)``."""
    n = X.shape[0]
    p = X.shape[1]
    for k in range(p):
        out[k] = 0.0
    for i in range(n):
        vi = v[i]
        for k in range(p):
            out[k] += X[i, k] * vi


@device
def sq_distance(a, b):
    """``‖a − b‖²`` for two vectors of the same length."""
    s = 0.0
    for i in range(a.shape[0]):
        t = a[i] - b[i]
        s += t * t
    return s


@device
def fill_normal_matrix(state, X):
    """Fill the 2-D array ``X`` with standard normals in row-major (C) order."""
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            X[i, j] = normal(state)
