"""Ridge-MAP Bradley–Terry fits by Newton's method: one body, a CPU and a CUDA launcher.

The body fits one data set of win counts ``W`` (``W[i, j]`` = times item ``i`` beat item ``j``):

    θ̂ = argmin  −Σ_{i≠j} W_ij log σ(θ_i − θ_j) + (λ/2)‖θ‖²

from ``θ = 0``.  Gradient ``g_i = −Σ_j (W_ij − N_ij σ_ij) + λθ_i`` (``N = W + Wᵀ``), Hessian
``H = Lap(N∘σ(1−σ)) + λI`` (SPD), Newton step ``s = H⁻¹g`` by a Cholesky solve, scaled by
``min(1, cap/‖s‖∞)``; stop when ``‖s‖∞ < tol``.  The iteration count is returned, or ``-1`` when
``max_iter`` steps did not reach ``tol``.  No randomness is used.

The module also holds the pair sums of the local Mixup target used by ``calibration-overlap``
(:func:`mixup_cluster_body`), the other per-replication loop of the family.

GPU memory traffic (one thread per data set or (replication, cluster) row; every per-row array
stored with the row index fastest by :func:`simkit.launch.launch`, all accesses coalesced except
the label-indexed ones noted).  Bradley–Terry Newton step with ``K`` items: the gradient and the
Hessian read ``W`` twice (``16 K^2`` bytes) and write the Hessian (``8 K^2``); the Cholesky solve
reads and writes ``O(K^3/3)`` doubles of it.  Mixup pair sums with ``n`` points, ``kc`` classes:
each pair within the bandwidth reads two positions and labels and updates up to eight entries of
the difference arrays, the class column chosen by the pair's labels (a gather/scatter across a
warp); the running sums read and write ``(n - 1)(2 kc + 2)`` doubles once.  Mixup nodes: per node
about ``4 kc + 6`` doubles read and 2 written.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

from .targets import cpu_launcher, cuda_launcher, device


@device
def _sigmoid(d):
    if d >= 0.0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


@device
def bt_newton_body(w, lam, tol, max_iter, cap, theta, hess, grad):
    """Fit one ridge-MAP Bradley–Terry model in place.

    Parameters
    ----------
    w : float64 array, shape (K, K)
        Win counts, ``w[i, j]`` = wins of ``i`` over ``j`` (diagonal ignored).
    lam : float
        Ridge λ > 0.
    tol : float
        Stop when the unscaled step's sup-norm is below ``tol``.
    max_iter : int
        Largest number of Newton steps.
    cap : float
        Largest sup-norm of a step.
    theta : float64 array, shape (K,)
        Output: the fit (sums to 0 up to rounding).
    hess : float64 array, shape (K, K)
        Work space (holds the Cholesky factor on exit).
    grad : float64 array, shape (K,)
        Work space (holds the last step on exit).

    Returns
    -------
    int
        Newton steps used, or -1 if not converged.
    """
    k = theta.shape[0]
    for i in range(k):
        theta[i] = 0.0
    for it in range(max_iter):
        for i in range(k):
            grad[i] = lam * theta[i]
            for j in range(k):
                hess[i, j] = 0.0
            hess[i, i] = lam
        for i in range(k):
            for j in range(i + 1, k):
                nij = w[i, j] + w[j, i]
                if nij == 0.0:
                    continue
                s = _sigmoid(theta[i] - theta[j])
                gi = nij * s - w[i, j]
                grad[i] += gi
                grad[j] -= gi
                h = nij * s * (1.0 - s)
                hess[i, i] += h
                hess[j, j] += h
                hess[i, j] = -h
                hess[j, i] = -h
        # Cholesky H = L Lᵀ in the lower triangle
        for j in range(k):
            acc = hess[j, j]
            for m in range(j):
                acc -= hess[j, m] * hess[j, m]
            ljj = math.sqrt(acc)
            hess[j, j] = ljj
            for i in range(j + 1, k):
                acc = hess[i, j]
                for m in range(j):
                    acc -= hess[i, m] * hess[j, m]
                hess[i, j] = acc / ljj
        # solve L y = g, then Lᵀ s = y (in grad)
        for i in range(k):
            acc = grad[i]
            for m in range(i):
                acc -= hess[i, m] * grad[m]
            grad[i] = acc / hess[i, i]
        for i in range(k - 1, -1, -1):
            acc = grad[i]
            for m in range(i + 1, k):
                acc -= hess[m, i] * grad[m]
            grad[i] = acc / hess[i, i]
        big = 0.0
        for i in range(k):
            a = abs(grad[i])
            if a > big:
                big = a
        scale = 1.0
        if big > cap:
            scale = cap / big
        for i in range(k):
            theta[i] -= scale * grad[i]
        if big < tol:
            return it + 1
    return -1


@cpu_launcher
def bt_newton_cpu(w, lam, tol, max_iter, cap, theta, iters):
    """Run :func:`bt_newton_body` for every data set, in parallel.

    ``w`` (B, K, K) win counts, ``theta`` (B, K) output, ``iters`` (B,) int64 output (-1: not converged).
    """
    k = w.shape[1]
    for b in numba.prange(w.shape[0]):
        hess = np.empty((k, k))
        grad = np.empty(k)
        iters[b] = bt_newton_body(w[b], lam, tol, max_iter, cap, theta[b], hess, grad)


@cuda_launcher
def bt_newton_cuda(w, lam, tol, max_iter, cap, hess, grad, theta, iters):
    """CUDA kernel: one thread per data set; ``hess`` (B, K, K) and ``grad`` (B, K) are work space.

    Argument order follows :func:`simkit.launch.launch`: inputs, scratch, outputs.
    """
    b = cuda.grid(1)
    if b < w.shape[0]:
        iters[b] = bt_newton_body(w[b], lam, tol, max_iter, cap, theta[b], hess[b], grad[b])


# --------------------------------------------------------------------------------------------
# Mixup pair sums for ``calibration-overlap`` (:mod:`simkit.shift_preferences.calibration`).  They live here because this
# family has one kernel module; the body is independent of the Bradley–Terry fit above.
# --------------------------------------------------------------------------------------------


@device
def mixup_cluster_body(x, y, h, d_out, a_out, b_out, cnt_out, dd, da, db, dc):
    """Pair sums of the local Mixup target on one cluster's segments.

    For the sorted cluster-local training positions ``x`` (n,) with labels ``y`` (n,), every pair
    ``i < j`` with ``d = x_j − x_i ≤ h`` covers the segments ``i .. j−1`` and adds, on each of them,
    ``1/d`` to ``D``, ``x_j/d²`` to ``A[·, y_i]``, ``−x_i/d²`` to ``A[·, y_j]``, ``−1/d²`` to
    ``B[·, y_i]``, ``+1/d²`` to ``B[·, y_j]`` and 1 to the cover count, so that the Mixup target
    on segment m is ``p(z) = (A[m] + B[m] z) / D[m]``.  Pairs of consecutive points (which can
    have ``1/d²`` near 1e14) are added directly; longer pairs through difference arrays and one
    running sum.  Segments with no covering pair get ``D = A = B = 0`` exactly.

    Parameters
    ----------
    x : float64 array, shape (n,)
        Sorted positions (cluster-local coordinates).
    y : int64 array, shape (n,)
        Labels in ``0 .. kc−1``.
    h : float
        Bandwidth.
    d_out, cnt_out : float64 arrays, shape (n−1,)
        Outputs: ``D`` and the number of covering pairs per segment.
    a_out, b_out : float64 arrays, shape (n−1, kc)
        Outputs: ``A`` and ``B``.
    dd, dc : float64 arrays, shape (n,)
        Work space.
    da, db : float64 arrays, shape (n, kc)
        Work space.
    """
    n = x.shape[0]
    kc = a_out.shape[1]
    for m in range(n):
        dd[m] = 0.0
        dc[m] = 0.0
        for c in range(kc):
            da[m, c] = 0.0
            db[m, c] = 0.0
    for m in range(n - 1):
        d_out[m] = 0.0
        cnt_out[m] = 0.0
        for c in range(kc):
            a_out[m, c] = 0.0
            b_out[m, c] = 0.0
    for i in range(n - 1):
        yi = y[i]
        for j in range(i + 1, n):
            d = x[j] - x[i]
            if d > h:
                break
            inv = 1.0 / d
            inv2 = inv * inv
            yj = y[j]
            if j == i + 1:
                d_out[i] += inv
                cnt_out[i] += 1.0
                a_out[i, yi] += x[j] * inv2
                a_out[i, yj] -= x[i] * inv2
                b_out[i, yi] -= inv2
                b_out[i, yj] += inv2
            else:
                dd[i] += inv
                dd[j] -= inv
                dc[i] += 1.0
                dc[j] -= 1.0
                da[i, yi] += x[j] * inv2
                da[j, yi] -= x[j] * inv2
                da[i, yj] -= x[i] * inv2
                da[j, yj] += x[i] * inv2
                db[i, yi] -= inv2
                db[j, yi] += inv2
                db[i, yj] += inv2
                db[j, yj] -= inv2
    # running sums turn the difference arrays into per-segment sums (entry 0 .. n−2)
    for m in range(1, n - 1):
        dd[m] += dd[m - 1]
        dc[m] += dc[m - 1]
        for c in range(kc):
            da[m, c] += da[m - 1, c]
            db[m, c] += db[m - 1, c]
    for m in range(n - 1):
        count = cnt_out[m] + dc[m]
        if count < 0.5:
            d_out[m] = 0.0
            cnt_out[m] = 0.0
            for c in range(kc):
                a_out[m, c] = 0.0
                b_out[m, c] = 0.0
            continue
        cnt_out[m] = count
        d_out[m] += dd[m]
        for c in range(kc):
            a_out[m, c] += da[m, c]
            b_out[m, c] += db[m, c]


@cpu_launcher
def mixup_cpu(x, y, h, d_out, a_out, b_out, cnt_out):
    """Run :func:`mixup_cluster_body` for every (replication, cluster) row, in parallel.

    ``x`` (B, n), ``y`` (B, n) int64; outputs ``d_out``, ``cnt_out`` (B, n−1), ``a_out``, ``b_out`` (B, n−1, kc).
    """
    n = x.shape[1]
    kc = a_out.shape[2]
    for b in numba.prange(x.shape[0]):
        dd = np.empty(n)
        dc = np.empty(n)
        da = np.empty((n, kc))
        db = np.empty((n, kc))
        mixup_cluster_body(x[b], y[b], h, d_out[b], a_out[b], b_out[b], cnt_out[b], dd, da, db, dc)


@cuda_launcher
def mixup_cuda(x, y, h, dd, da, db, dc, d_out, a_out, b_out, cnt_out):
    """CUDA kernel: one thread per (replication, cluster) row; ``dd, dc`` (B, n), ``da, db`` (B, n, kc) scratch."""
    b = cuda.grid(1)
    if b < x.shape[0]:
        mixup_cluster_body(x[b], y[b], h, d_out[b], a_out[b], b_out[b], cnt_out[b], dd[b], da[b], db[b], dc[b])


@device
def mixup_nodes_body(z, aa, bb, dd, zf, cov, uni, beta, cls, conf, hit):
    """Tempered Mixup confidence and correctness at the test nodes of one cluster.

    ``z`` (P, G) node positions of the P pieces; per half-piece (index 0: nodes nearer the left
    end, 1: the others) the target's source: ``aa``, ``bb`` (P, 2, kc), ``dd``, ``zf`` (P, 2) and the
    flags ``cov`` (the node's own z is used) and ``uni`` (the target is 1/kc), float 0/1 (P, 2).
    Writes ``conf`` (P, G), the top softmax probability of ``beta · p``, and ``hit`` (P, G), 1 where
    the first maximiser of ``p`` is the cluster's class ``cls``.
    """
    pieces = z.shape[0]
    nodes = z.shape[1]
    kc = aa.shape[2]
    half = nodes // 2
    for p in range(pieces):
        for g in range(nodes):
            s = 0 if g < half else 1
            if uni[p, s] > 0.5:
                conf[p, g] = 1.0 / kc
                hit[p, g] = 1.0 if cls == 0 else 0.0
                continue
            zz = z[p, g] if cov[p, s] > 0.5 else zf[p, s]
            den = dd[p, s]
            best = (aa[p, s, 0] + bb[p, s, 0] * zz) / den
            arg = 0
            for c in range(1, kc):
                v = (aa[p, s, c] + bb[p, s, c] * zz) / den
                if v > best:
                    best = v
                    arg = c
            total = 0.0
            for c in range(kc):
                v = (aa[p, s, c] + bb[p, s, c] * zz) / den
                total += math.exp(beta * (v - best))
            conf[p, g] = 1.0 / total
            hit[p, g] = 1.0 if arg == cls else 0.0


@cpu_launcher
def mixup_nodes_cpu(z, aa, bb, dd, zf, cov, uni, beta, cls, conf, hit):
    """:func:`mixup_nodes_body` for every (replication, cluster) row ``b``; ``beta`` (B,), ``cls`` (B,) int64."""
    for b in numba.prange(z.shape[0]):
        mixup_nodes_body(z[b], aa[b], bb[b], dd[b], zf[b], cov[b], uni[b], beta[b], cls[b], conf[b], hit[b])


@cuda_launcher
def mixup_nodes_cuda(z, aa, bb, dd, zf, cov, uni, beta, cls, conf, hit):
    """CUDA kernel: one thread per (replication, cluster) row."""
    b = cuda.grid(1)
    if b < z.shape[0]:
        mixup_nodes_body(z[b], aa[b], bb[b], dd[b], zf[b], cov[b], uni[b], beta[b], cls[b], conf[b], hit[b])
