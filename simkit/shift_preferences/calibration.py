"""Simulation of ``calibration-overlap``: temperature scaling of an interpolator vs Mixup.

A replication is one training set and one independent calibration set, each with ``n`` points
per cluster (cluster ``c`` is ``[c, c + W]``, ``W = 1/2``; label = ``c`` with probability
``1 − α``, else uniform on the ``k`` classes).  The three methods use the same replication:

``hard-argmax``
    the Bayes class with confidence 1 (deterministic; computed through the ECE routine).
``erm-ts``
    the linear spline through the one-hot training labels (interpolates; constant outside the
    data), temperature-scaled on the calibration set.  Fast path: a point needs only the labels
    at its segment's two ends and its fraction ``t`` along it.
``mixup-ts``
    the pointwise minimiser of the local Mixup risk (pairs closer than ``bandwidth``), ``p(z) =
    (A + Bz)/D`` on each segment between consecutive training points of a cluster, the value at
    the nearest training point (from the covered side) where no pair covers ``z``, ``1/k`` in a
    cluster without a covered segment; its logits are ``p`` and it is temperature-scaled.

The test distribution is integrated exactly: each cluster is cut at the training points
(``N + k`` pieces), ``G = 32`` midpoints per piece with weight ``length / (G k W)``; the exact
accuracy at a point is ``q`` when the prediction is the cluster's class, else ``r``.  The ECE is
``Σ_b |Σ_{g ∈ b} w_g (conf_g − acc_g)|`` over ``B = 1000`` equal-width bins (last bin closed); the
reliability diagram uses 15 bins.

Randomness: replication ``r`` uses only ``states[r]``: ``numpy.random.default_rng([s0, s1])``
draws, in this order, the training positions (k·n uniforms), the training noise flags (k·n
uniforms), the training random labels (k·n integers), then the same three for the calibration
set.  Labels are iid given the cluster and independent of the position, so the positions are
sorted within each cluster and the labels kept in draw order.

Backends: the array code (``xp``) runs every step; the Mixup pair sums, a per-cluster loop over
pairs, use the compiled kernel ``simkit.kernels.preference_bt.mixup_cpu`` (``numba``) or
``mixup_cuda`` (``cuda``) and a vectorised loop over rank offsets (``numpy``, the reference).
"""

from __future__ import annotations

import numpy as np

from ..backends import get_xp
from ..errors import ConvergenceError, ParameterError
from ..validation import check_int, check_real
from .calibration_theory import BETA_MAX, WIDTH, check_alpha, check_k, label_probabilities

__all__ = [
    "METHODS",
    "NODES_PER_PIECE",
    "ECE_BINS",
    "RELIABILITY_BINS",
    "check_bandwidth",
    "draw_datasets",
    "node_positions",
    "erm_nodes",
    "erm_points",
    "erm_confidence",
    "mixup_coefficients",
    "mixup_probabilities",
    "fit_temperature",
    "binned_ece",
    "reliability_sums",
    "simulate_calibration",
]

METHODS = ("hard-argmax", "erm-ts", "mixup-ts")
NODES_PER_PIECE = 32
ECE_BINS = 1000
RELIABILITY_BINS = 15
TS_TOL = 1e-12
TS_MAX_ITER = 300
#: Doubles allowed per block of replications (the node arrays of the largest method).
BLOCK_DOUBLES = 2**22


def check_bandwidth(h):
    """``bandwidth`` must be in (0, 1/2): below the gap between clusters."""
    return check_real("bandwidth", h, low=0.0, high=1.0 - WIDTH, low_inclusive=False, high_inclusive=False)


def _check_n(n):
    return check_int("n", n, low=2)


def draw_datasets(states, k, alpha, n):
    """Training and calibration sets of every replication.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
    k : int
        Number of classes (clusters), ``k ≥ 2``.
    alpha : float
        Label-noise rate in [0, 1).
    n : int
        Points per cluster, ``n ≥ 2``.

    Returns
    -------
    x_train, x_cal : numpy.ndarray, shape (R, k, n)
        Cluster-local positions in ``[0, W]``, sorted within each cluster.
    y_train, y_cal : numpy.ndarray of int64, shape (R, k, n)
        Labels.
    """
    k, alpha, n = check_k(k), check_alpha(alpha), _check_n(n)
    reps = states.shape[0]
    xs = np.empty((2, reps, k, n))
    ys = np.empty((2, reps, k, n), dtype=np.int64)
    clean = np.arange(k)[:, None]
    for r, state in enumerate(states):
        rng = np.random.default_rng([int(state[0]), int(state[1])])
        for s in range(2):
            u = rng.random((k, n))
            noisy = rng.random((k, n)) < alpha
            other = rng.integers(0, k, size=(k, n))
            xs[s, r] = np.sort(u, axis=1) * WIDTH
            ys[s, r] = np.where(noisy, other, clean)
    return xs[0], ys[0], xs[1], ys[1]


# ------------------------------------------------------------------------------------------ geometry


def _pieces(x):
    """Piece boundaries of each cluster: ``(left, right)`` with shape (R, k, n + 1)."""
    zero = np.zeros(x.shape[:-1] + (1,))
    left = np.concatenate([zero, x], axis=-1)
    right = np.concatenate([x, zero + WIDTH], axis=-1)
    return left, right


def _node_fraction():
    return (np.arange(NODES_PER_PIECE) + 0.5) / NODES_PER_PIECE


def node_positions(x):
    """Test nodes: cluster-local positions (R, k, n+1, G) and weights (R, k, n+1, G) summing to 1 per rep."""
    left, right = _pieces(x)
    g = _node_fraction()
    z = left[..., None] + (right - left)[..., None] * g
    k = x.shape[1]
    w = np.broadcast_to(((right - left) / (NODES_PER_PIECE * k * WIDTH))[..., None], z.shape)
    return z, w


# ------------------------------------------------------------------------------------------------ ERM


def erm_nodes(x, y):
    """ERM spline at the test nodes: ``(same, t_near, correct)``, each shape (R, k, n+1, G).

    ``same``: the segment's end labels agree (confidence ``pS``); ``t_near``: fraction from the
    nearer end (confidence ``pD(t_near)`` otherwise); ``correct``: the prediction (the nearer
    end's label) is the cluster's class.
    """
    reps, k, n = x.shape
    g = _node_fraction()
    z, _ = node_positions(x)
    la = np.empty((reps, k, n + 1), dtype=np.int64)
    lb = np.empty_like(la)
    la[..., 1:n] = y[..., :-1]
    lb[..., 1:n] = y[..., 1:]
    t = np.empty(z.shape)
    t[..., 1:n, :] = g
    # left edge pieces: the segment from the previous cluster's last point (none for cluster 0)
    la[:, 0, 0] = lb[:, 0, 0] = y[:, 0, 0]
    t[:, 0, 0] = 0.0
    if k > 1:
        la[:, 1:, 0] = y[:, :-1, -1]
        lb[:, 1:, 0] = y[:, 1:, 0]
        xl = (np.arange(k - 1) + x[:, :-1, -1])[..., None]  # global positions
        xr = (np.arange(1, k) + x[:, 1:, 0])[..., None]
        t[:, 1:, 0] = (np.arange(1, k)[None, :, None] + z[:, 1:, 0] - xl) / (xr - xl)
        # right edge pieces: to the next cluster's first point (none for the last cluster)
        la[:, :-1, n] = y[:, :-1, -1]
        lb[:, :-1, n] = y[:, 1:, 0]
        t[:, :-1, n] = (np.arange(k - 1)[None, :, None] + z[:, :-1, n] - xl) / (xr - xl)
    la[:, -1, n] = lb[:, -1, n] = y[:, -1, -1]
    t[:, -1, n] = 0.0
    same = np.broadcast_to((la == lb)[..., None], t.shape)
    nearer = np.where(t < 0.5, la[..., None], lb[..., None])
    pred = np.where(same, la[..., None], nearer)
    correct = pred == np.arange(k)[None, :, None, None]
    return same, np.minimum(t, 1.0 - t), correct


def erm_points(x, y, x_query):
    """ERM spline at query points (cluster-local ``x_query`` (R, k, m), in cluster c): end labels and t.

    Returns ``(la, lb, t)`` with shape (R, k, m): ``z = (1 − t) e_la + t e_lb`` (``la = lb`` for
    constant extrapolation outside the training data).
    """
    reps, k, n = x.shape
    offs = (np.arange(reps) * (k + 1.0))[:, None]
    gx = (x + np.arange(k)[:, None]).reshape(reps, -1)  # global positions, sorted per rep
    gq = (x_query + np.arange(k)[:, None]).reshape(reps, -1)
    # one batched search: each rep shifted by its index times (k + 1); t uses the unshifted positions,
    # so a replication's numbers do not depend on its place in the block
    idx = np.searchsorted((gx + offs).ravel(), (gq + offs).ravel()).reshape(reps, -1) - np.arange(reps)[:, None] * (
        k * n
    )
    yf = y.reshape(reps, -1)
    left = np.clip(idx - 1, 0, k * n - 1)
    right = np.clip(idx, 0, k * n - 1)
    la = np.take_along_axis(yf, left, axis=1)
    lb = np.take_along_axis(yf, right, axis=1)
    xl = np.take_along_axis(gx, left, axis=1)
    xr = np.take_along_axis(gx, right, axis=1)
    span = xr - xl
    t = np.where(span > 0, (gq - xl) / np.where(span > 0, span, 1.0), 0.0)
    shape = x_query.shape
    return la.reshape(shape), lb.reshape(shape), t.reshape(shape)


def erm_confidence(same, t_near, beta, k, xp=np):
    """Top softmax probability of the tempered spline: ``pS`` (same labels) or ``pD(t_near)``."""
    beta = xp.asarray(beta)
    ps = 1.0 / (1.0 + (k - 1) * xp.exp(-beta))
    pd = 1.0 / (1.0 + xp.exp(beta * (2 * t_near - 1)) + (k - 2) * xp.exp(-beta * (1 - t_near)))
    return xp.where(same, ps, pd)


def _erm_grad_hess(la, lb, t, y, k, xp=np):
    """Closure: TS gradient and Hessian of the mean calibration NLL of the spline, per replication."""
    same = la == lb
    za = xp.where(same, 1.0, 1.0 - t)
    zb = xp.where(same, 0.0, t)
    zy = xp.where(y == la, za, 0.0) + xp.where((y == lb) & ~same, zb, 0.0)

    def grad_hess(beta, rows):
        b = beta[:, None]
        a_, b_, s_, zy_ = za[rows], zb[rows], same[rows], zy[rows]
        # logits: β za on la, β zb on lb (if different), 0 on the other k − 1 (or k − 2) classes
        m = b * a_
        ea = xp.ones_like(m)
        eb = xp.where(s_, 0.0, xp.exp(b * (b_ - a_)))
        others = xp.where(s_, k - 1.0, k - 2.0) * xp.exp(-m)
        z = ea + eb + others
        pa, pb = ea / z, eb / z
        ez = pa * a_ + pb * b_
        ez2 = pa * a_ * a_ + pb * b_ * b_
        return (ez - zy_).mean(axis=1), (ez2 - ez * ez).mean(axis=1)

    return grad_hess


# ---------------------------------------------------------------------------------------------- Mixup


def _mixup_numpy(x, y, h, kc):
    """Reference Mixup pair sums by a loop over rank offsets; shapes (B, n−1) and (B, n−1, kc)."""
    b, n = x.shape
    onehot = (y[..., None] == np.arange(kc)).astype(float)
    d = np.zeros((b, n - 1))
    cnt = np.zeros((b, n - 1))
    a = np.zeros((b, n - 1, kc))
    bb = np.zeros((b, n - 1, kc))
    dd = np.zeros((b, n))
    dc = np.zeros((b, n))
    da = np.zeros((b, n, kc))
    db = np.zeros((b, n, kc))
    for o in range(1, n):
        gap = x[:, o:] - x[:, :-o]
        mask = gap <= h
        if not mask.any():
            break
        inv = np.where(mask, 1.0 / np.where(mask, gap, 1.0), 0.0)
        inv2 = inv * inv
        vd, vc = inv, mask.astype(float)
        va = (x[:, o:] * inv2)[..., None] * onehot[:, :-o] - (x[:, :-o] * inv2)[..., None] * onehot[:, o:]
        vb = inv2[..., None] * (onehot[:, o:] - onehot[:, :-o])
        if o == 1:
            d += vd
            cnt += vc
            a += va
            bb += vb
            continue
        for arr, v in ((dd, vd), (dc, vc), (da, va), (db, vb)):
            arr[:, : n - o] += v
            arr[:, o:] -= v
    dd, dc, da, db = (np.cumsum(arr, axis=1)[:, : n - 1] for arr in (dd, dc, da, db))
    cnt = cnt + dc
    covered = cnt > 0.5
    d = np.where(covered, d + dd, 0.0)
    a = np.where(covered[..., None], a + da, 0.0)
    bb = np.where(covered[..., None], bb + db, 0.0)
    return d, a, bb, np.where(covered, cnt, 0.0)


def mixup_coefficients(x, y, h, kc, backend="numpy"):
    """Per-segment Mixup coefficients ``(D, A, B, count)`` of every (replication, cluster).

    Parameters
    ----------
    x : numpy.ndarray, shape (R, k, n)
        Sorted cluster-local training positions.
    y : numpy.ndarray of int64, shape (R, k, n)
    h : float
        Bandwidth (< 1 − W: no pair leaves its cluster).
    kc : int
        Number of classes.
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    d, count : numpy.ndarray, shape (R, k, n−1)
    a, b : numpy.ndarray, shape (R, k, n−1, kc)
        On segment m (between training points m and m+1), ``p(z) = (a + b z)/d`` (cluster-local z).
    """
    reps, k, n = x.shape
    xf = np.ascontiguousarray(x.reshape(-1, n))
    yf = np.ascontiguousarray(y.reshape(-1, n), dtype=np.int64)
    if backend == "numpy":
        out = _mixup_numpy(xf, yf, float(h), kc)
    elif backend in ("numba", "cuda"):
        from ..kernels.preference_bt import mixup_cpu, mixup_cuda
        from ..launch import launch, per_item

        rows = xf.shape[0]
        out = (
            np.zeros((rows, n - 1)),
            np.zeros((rows, n - 1, kc)),
            np.zeros((rows, n - 1, kc)),
            np.zeros((rows, n - 1)),
        )
        outputs = (out[0], out[1], out[2], out[3])
        if backend == "numba":
            launch(mixup_cpu, backend, args=(per_item(xf), per_item(yf), float(h)), outputs=outputs)
        else:
            launch(
                mixup_cuda,
                backend,
                args=(per_item(xf), per_item(yf), float(h)),
                scratch=((rows, n), (rows, n, kc), (rows, n, kc), (rows, n)),
                outputs=outputs,
                size=rows,
            )
    else:
        raise ParameterError(f"backend must be one of numpy, numba, cuda; got {backend!r}")
    d, a, b, cnt = out
    return (
        d.reshape(reps, k, n - 1),
        a.reshape(reps, k, n - 1, kc),
        b.reshape(reps, k, n - 1, kc),
        cnt.reshape(reps, k, n - 1),
    )


def _fill_sources(covered):
    """Nearest covered segment to the left of each point (``prev``, −1 if none) and at/after it (``next``)."""
    reps, k, segs = covered.shape
    n = segs + 1
    idx = np.arange(segs)
    marked = np.where(covered, idx, -1)
    prev_seg = np.maximum.accumulate(marked, axis=-1)  # last covered ≤ m
    prev = np.concatenate([np.full((reps, k, 1), -1), prev_seg], axis=-1)  # point i: last covered ≤ i − 1
    marked = np.where(covered, idx, segs)
    next_seg = np.minimum.accumulate(marked[..., ::-1], axis=-1)[..., ::-1]  # first covered ≥ m
    nxt = np.concatenate([next_seg, np.full((reps, k, 1), segs)], axis=-1)  # point i: first covered ≥ i
    return prev, nxt, n


def _mixup_sources(coef, x, piece, nearer_left):
    """Where the Mixup target of each query comes from: coefficient rows and the evaluation rule.

    Returns ``(a, b, d, z_fixed, covered, uniform)``: on a covered segment the target is
    ``(a + b z)/d`` at the query's own ``z``; elsewhere it is ``(a + b z_fixed)/d``, the value at the
    nearest training point from the covered side, or ``1/k`` where ``uniform``.  Shapes (R, k, m)
    and (R, k, m, kc) for ``a``, ``b``.
    """
    d, a, b, cnt = coef
    reps, k, n = x.shape
    covered = cnt > 0.5
    prev, nxt, _ = _fill_sources(covered)
    segs = n - 1
    seg = np.clip(piece - 1, 0, segs - 1)
    interior = (piece >= 1) & (piece <= segs)
    seg_cov = interior & np.take_along_axis(covered, seg, axis=-1)
    # the fallback point and its preferred side
    point = np.where(piece == 0, 0, np.where(piece == n, n - 1, np.where(nearer_left, seg, seg + 1)))
    prefer_left = np.where(piece == 0, False, np.where(piece == n, True, nearer_left))
    p_prev = np.take_along_axis(prev, point, axis=-1)
    p_next = np.take_along_axis(nxt, point, axis=-1)
    has_prev, has_next = p_prev >= 0, p_next < segs
    use_prev = np.where(prefer_left, has_prev, has_prev & ~has_next)
    use_next = np.where(prefer_left, ~has_prev & has_next, has_next)
    src = np.where(seg_cov, seg, np.where(use_prev, p_prev, np.where(use_next, p_next, 0)))
    src = np.clip(src, 0, segs - 1)
    z_fixed = np.where(
        use_prev, np.take_along_axis(x, np.clip(src + 1, 0, n - 1), axis=-1), np.take_along_axis(x, src, axis=-1)
    )
    uniform = ~seg_cov & ~use_prev & ~use_next
    dd = np.where(uniform, 1.0, np.take_along_axis(d, src, axis=-1))
    aa = np.take_along_axis(a, src[..., None], axis=-2)
    bb = np.take_along_axis(b, src[..., None], axis=-2)
    return aa, bb, dd, z_fixed, seg_cov, uniform


def mixup_probabilities(coef, x, piece, z, nearer_left):
    """The Mixup target at query points of one replication block.

    Parameters
    ----------
    coef : tuple
        ``(d, a, b, count)`` from :func:`mixup_coefficients` for the block.
    x : numpy.ndarray, shape (R, k, n)
        Sorted cluster-local training positions.
    piece : numpy.ndarray of int, shape (R, k, m)
        Piece index of each query point: 0 (left of the first point), 1..n−1 (segment piece−1), n.
    z : numpy.ndarray, shape (R, k, m)
        Cluster-local query positions.
    nearer_left : numpy.ndarray of bool, shape (R, k, m)
        Whether the query is nearer the segment's left end (used only where no pair covers it).

    Returns
    -------
    numpy.ndarray, shape (R, k, m, kc)
        ``p_mix`` (rows sum to 1).
    """
    aa, bb, dd, z_fixed, seg_cov, uniform = _mixup_sources(coef, x, piece, nearer_left)
    kc = aa.shape[-1]
    z_eval = np.where(seg_cov, z, z_fixed)
    p = (aa + bb * z_eval[..., None]) / dd[..., None]
    return np.where(uniform[..., None], 1.0 / kc, p)


def _softmax_grad_hess(logits, y):
    """Closure: TS gradient and Hessian of the mean NLL of logits (R, m, kc) with labels y (R, m)."""
    zy = np.take_along_axis(logits, y[..., None], axis=-1)[..., 0]

    def grad_hess(beta, rows):
        lz = logits[rows]
        s = beta[:, None, None] * lz
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        p = e / e.sum(axis=-1, keepdims=True)
        ez = (p * lz).sum(axis=-1)
        ez2 = (p * lz * lz).sum(axis=-1)
        return (ez - zy[rows]).mean(axis=1), (ez2 - ez * ez).mean(axis=1)

    return grad_hess


# ------------------------------------------------------------------------------------ TS, ECE, bins


def fit_temperature(grad_hess, reps, *, tol=TS_TOL, max_iter=TS_MAX_ITER, beta_max=BETA_MAX):
    """Safeguarded Newton for the TS inverse temperature of every replication, from β = 1.

    ``grad_hess(beta, rows)`` returns the gradient and Hessian of the mean calibration NLL of
    replications ``rows`` at ``beta`` (convex in β).  A bracket ``[lo, hi] ⊂ [0, beta_max]`` is
    kept; a Newton step that leaves it is replaced by bisection.  A replication stops at
    ``|gradient| < tol`` or bracket width ``< tol·max(1, β)`` and is then frozen.

    Returns
    -------
    numpy.ndarray, shape (reps,)
    """
    beta = np.ones(reps)
    lo = np.zeros(reps)
    hi = np.full(reps, float(beta_max))
    active = np.arange(reps)
    for _ in range(max_iter):
        if active.size == 0:
            return beta
        b = beta[active]
        g, h = grad_hess(b, active)
        done = np.abs(g) < tol
        lo[active] = np.where(g < 0, b, lo[active])
        hi[active] = np.where(g > 0, b, hi[active])
        lo_a, hi_a = lo[active], hi[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = b - g / h
        ok = (h > 0) & (newton > lo_a) & (newton < hi_a)
        new = np.where(ok, newton, 0.5 * (lo_a + hi_a))
        done |= (hi_a - lo_a) < tol * np.maximum(1.0, b)
        beta[active] = np.where(done, b, new)
        active = active[~done]
    if active.size:
        raise ConvergenceError(f"temperature scaling: {active.size} of {reps} fits did not converge")
    return beta


def binned_ece(conf, acc, weight, bins=ECE_BINS, xp=np):
    """``Σ_b |Σ_{g ∈ b} w_g (conf_g − acc_g)|`` per replication; inputs (R, M), output (R,)."""
    reps = conf.shape[0]
    idx = xp.minimum(xp.floor(conf * bins).astype(xp.int64), bins - 1)
    idx = idx + (xp.arange(reps) * bins)[:, None]
    s = xp.bincount(idx.ravel(), weights=(weight * (conf - acc)).ravel(), minlength=reps * bins)
    return xp.abs(s.reshape(reps, bins)).sum(axis=1)


def reliability_sums(conf, acc, weight, bins=RELIABILITY_BINS, xp=np):
    """Per-bin ``(Σ w, Σ w·conf, Σ w·acc)`` per replication, each shape (R, bins)."""
    reps = conf.shape[0]
    idx = xp.minimum(xp.floor(conf * bins).astype(xp.int64), bins - 1) + (xp.arange(reps) * bins)[:, None]
    out = []
    for v in (weight, weight * conf, weight * acc):
        out.append(xp.bincount(idx.ravel(), weights=v.ravel(), minlength=reps * bins).reshape(reps, bins))
    return tuple(out)


# ------------------------------------------------------------------------------------------ simulate


def simulate_calibration(states, *, k, alpha, n, bandwidth, backend="numpy"):
    """ECE, fitted inverse temperature and reliability sums of the three methods.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (R, 2)
        Replication states (not modified).
    k : int
        Classes (clusters), ``k ≥ 2``.
    alpha : float
        Label-noise rate in [0, 1).
    n : int
        Training (and calibration) points per cluster, ``n ≥ 2``.
    bandwidth : float
        Mixup pair bandwidth in (0, 1/2).
    backend : {"numpy", "numba", "cuda"}

    Returns
    -------
    dict of numpy.ndarray
        ``ece`` and ``beta`` (3, R) per method (:data:`METHODS`; ``beta`` NaN for hard-argmax);
        ``bin_mass``, ``bin_confidence``, ``bin_accuracy`` (3, R, 15): per-replication sums
        ``Σ w``, ``Σ w·conf``, ``Σ w·acc`` over each reliability bin.
    """
    k, alpha, n = check_k(k), check_alpha(alpha), _check_n(n)
    h = check_bandwidth(bandwidth)
    get_xp(backend)  # validates the backend's array module
    states = np.asarray(states, dtype=np.uint64)
    reps = states.shape[0]
    q, r = label_probabilities(k, alpha)
    nodes_per_rep = k * (n + 1) * NODES_PER_PIECE
    block = max(1, BLOCK_DOUBLES // (nodes_per_rep * max(k, 8)))
    out = {"ece": np.full((3, reps), np.nan), "beta": np.full((3, reps), np.nan)}
    for key in ("bin_mass", "bin_confidence", "bin_accuracy"):
        out[key] = np.zeros((3, reps, RELIABILITY_BINS))
    for start in range(0, reps, block):
        stop = min(reps, start + block)
        rb = stop - start
        xt, yt, xc, yc = draw_datasets(states[start:stop], k, alpha, n)
        _, w = node_positions(xt)
        w = w.reshape(rb, -1)

        # hard-argmax: confidence 1, accuracy q, through the same routine
        _record(out, 0, slice(start, stop), np.ones_like(w), np.full_like(w, q), w)
        # erm-ts
        la, lb, t = erm_points(xt, yt, xc)
        beta = fit_temperature(
            _erm_grad_hess(la.reshape(rb, -1), lb.reshape(rb, -1), t.reshape(rb, -1), yc.reshape(rb, -1), k), rb
        )
        out["beta"][1, start:stop] = beta
        same, t_near, correct = erm_nodes(xt, yt)
        conf = erm_confidence(same.reshape(rb, -1), t_near.reshape(rb, -1), beta[:, None], k)
        _record(out, 1, slice(start, stop), conf, np.where(correct.reshape(rb, -1), q, r), w)
        # mixup-ts
        coef = mixup_coefficients(xt, yt, h, k, backend=backend)
        piece = _cluster_search(xt, xc)
        seg = np.clip(piece - 1, 0, n - 2)
        xl = np.take_along_axis(xt, seg, axis=-1)
        xr = np.take_along_axis(xt, seg + 1, axis=-1)
        p_cal = mixup_probabilities(coef, xt, piece, xc, (xc - xl) <= (xr - xc))
        beta = fit_temperature(_softmax_grad_hess(p_cal.reshape(rb, -1, k), yc.reshape(rb, -1)), rb)
        out["beta"][2, start:stop] = beta
        conf, acc = _mixup_node_confidence(coef, xt, beta, q, r, backend)
        _record(out, 2, slice(start, stop), conf, acc, w)
    if not (np.all(np.isfinite(out["ece"])) and np.all(np.isfinite(out["beta"][1:]))):
        raise ConvergenceError("calibration-overlap: non-finite ECE or temperature")
    return out


def _record(out, method, rows, conf, acc, w):
    """Store the ECE and the reliability sums of one method for the replications ``rows``."""
    out["ece"][method, rows] = binned_ece(conf, acc, w)
    for key, v in zip(("bin_mass", "bin_confidence", "bin_accuracy"), reliability_sums(conf, acc, w)):
        out[key][method, rows] = v


def _cluster_search(x, z):
    """``searchsorted`` of each (rep, cluster) row of ``z`` (R, k, m) in the sorted ``x`` (R, k, n): the piece index."""
    reps, k, n = x.shape
    rows = (np.arange(reps * k) * 1.0)[:, None]  # cluster-local coordinates are in [0, 1/2]
    idx = np.searchsorted((x.reshape(reps * k, n) + rows).ravel(), (z.reshape(reps * k, -1) + rows).ravel())
    return (idx.reshape(reps * k, -1) - np.arange(reps * k)[:, None] * n).reshape(z.shape)


def _mixup_node_confidence(coef, x, beta, q, r, backend="numpy"):
    """Confidence and exact accuracy of the tempered Mixup target at every test node, shape (R, nodes).

    The source of the target (segment coefficients or fallback) is the same for the nodes of one
    half-piece, so it is looked up once per half-piece and broadcast over its nodes (NumPy), or
    read by the compiled node loop ``mixup_nodes_cpu`` / ``mixup_nodes_cuda`` (``numba``/``cuda``).
    """
    reps, k, n = x.shape
    z, _ = node_positions(x)
    half = NODES_PER_PIECE // 2  # nodes g < half are nearer the left end
    if backend in ("numba", "cuda"):
        from ..kernels.preference_bt import mixup_nodes_cpu, mixup_nodes_cuda
        from ..launch import launch, per_item

        piece = np.broadcast_to(np.arange(n + 1), (reps, k, n + 1))
        parts = [_mixup_sources(coef, x, piece, np.full(piece.shape, left)) for left in (True, False)]
        aa, bb, dd, zf, cov, uni = (np.ascontiguousarray(np.stack([p[i] for p in parts], axis=3)) for i in range(6))
        rows = reps * k
        conf = np.zeros((rows, n + 1, NODES_PER_PIECE))
        hit = np.zeros((rows, n + 1, NODES_PER_PIECE))
        args = (
            np.ascontiguousarray(z.reshape(rows, n + 1, NODES_PER_PIECE)),
            aa.reshape(rows, n + 1, 2, k),
            bb.reshape(rows, n + 1, 2, k),
            dd.reshape(rows, n + 1, 2),
            zf.reshape(rows, n + 1, 2),
            cov.reshape(rows, n + 1, 2).astype(float),
            uni.reshape(rows, n + 1, 2).astype(float),
            np.repeat(np.asarray(beta, dtype=float), k),
            np.tile(np.arange(k, dtype=np.int64), reps),
        )
        kernel = mixup_nodes_cpu if backend == "numba" else mixup_nodes_cuda
        launch(kernel, backend, args=tuple(per_item(a) for a in args), outputs=(conf, hit), size=rows)
        return conf.reshape(reps, -1), np.where(hit.reshape(reps, -1) > 0.5, q, r)
    conf = np.empty(z.shape)
    acc = np.empty(z.shape)
    chunk = max(1, (2 * 10**5) // ((n + 1) * NODES_PER_PIECE))
    for c0 in range(0, k, chunk):
        c1 = min(k, c0 + chunk)
        sub = tuple(arr[:, c0:c1] for arr in coef)
        piece = np.broadcast_to(np.arange(n + 1), (reps, c1 - c0, n + 1))
        for nodes, left in ((slice(0, half), True), (slice(half, NODES_PER_PIECE), False)):
            aa, bb, dd, z_fixed, seg_cov, uniform = _mixup_sources(sub, x[:, c0:c1], piece, np.full(piece.shape, left))
            zn = z[:, c0:c1, :, nodes]
            z_eval = np.where(seg_cov[..., None], zn, z_fixed[..., None])
            p = (aa[..., None, :] + bb[..., None, :] * z_eval[..., None]) / dd[..., None, None]
            p = np.where(uniform[..., None, None], 1.0 / k, p)
            s = beta[:, None, None, None, None] * p
            top = s.max(axis=-1)
            conf[:, c0:c1, :, nodes] = 1.0 / np.exp(s - top[..., None]).sum(axis=-1)
            pred = p.argmax(axis=-1)
            acc[:, c0:c1, :, nodes] = np.where(pred == np.arange(c0, c1)[None, :, None, None], q, r)
    return conf.reshape(reps, -1), acc.reshape(reps, -1)
