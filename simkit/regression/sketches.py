"""Sketching matrices ``S`` (``m x n``): Haar orthogonal, SRHT (fast Walsh–Hadamard), i.i.d. Gaussian, CountSketch.

Each sketch is drawn from one replication's stream (:class:`simkit.rng.Stream`) and applied to a
batch of matrices ``A`` of shape ``(R, n, k)`` (one per replication) giving ``S A`` of shape
``(R, m, k)``.  Array code is generic in ``xp`` (NumPy, or CuPy for the ``cuda`` backend); the
Walsh–Hadamard transform runs as a compiled kernel on the ``numba`` (``prange``) and ``cuda``
(one thread per column) backends and as plain NumPy on ``numpy``.

Draw order per sketch (part of the contract, so every backend sees the same sketch):

* ``haar``: ``n*m`` normals (an ``n x m`` matrix, C order); ``S`` is the transpose of its
  sign-corrected QR factor, i.e. the first ``m`` rows of a Haar orthogonal matrix;
* ``srht``: for each of ``rounds`` rounds, ``n`` uniforms (a random permutation by argsort) and
  ``n`` uniforms (random signs, ``u < 1/2`` gives ``-1``); then ``n`` uniforms whose argsort's first
  ``m`` entries are the kept rows (sampling without replacement).  ``S = B (H D_k P_k) ... (H D_1 P_1)``
  with ``H`` the block-diagonal normalised Hadamard transform (:mod:`simkit.kernels.regression_fwht`),
  exactly orthogonal (``S S^T = I_m``) for every ``n``;
* ``gaussian``: ``m*n`` normals, entries ``N(0, 1/n)`` (``m x n``, C order);
* ``countsketch`` (Clarkson–Woodruff; sparse, not studied in the paper): ``n`` uniforms ``u_j``
  giving the buckets ``h(j) = min(floor(m u_j), m - 1)`` (uniform on ``{0, ..., m-1}``), then ``n``
  uniforms giving the signs ``s_j`` (``u < 1/2`` gives ``-1``).  ``S[h(j), j] = s_j`` is the only
  nonzero of column ``j``, so ``E[S^T S] = I_n``.  It is applied in ``O(n k)`` as a scatter-add of
  signed rows (``numpy.add.at``; on CuPy ``cupyx.scatter_add``).  It is *not* orthogonal:
  ``S S^T = diag(bucket counts)`` (a bucket may be empty, giving a zero row, so the rank of ``S X``
  is the number of non-empty buckets, about ``m (1 - e^{-n/m})``), which :func:`sketch_gram` returns.

Sketches nest, except CountSketch: the first ``m' <= m`` rows of a size-``m`` sketch are a
size-``m'`` sketch of the same kind (Haar: the first rows of a Haar matrix; SRHT: the first ``m'`` of the randomly ordered
kept rows, i.e. sampling without replacement; Gaussian: i.i.d. rows).  The simulators draw one
sketch of the largest size per replication and use its leading rows for every smaller size
(:func:`simkit.regression.linear.simulate_path`).  A CountSketch does not nest: the first ``m'``
rows of a size-``m`` CountSketch drop the columns hashed to the other buckets, so they are not a
size-``m'`` CountSketch (``E[S^T S] != I``); :func:`simkit.regression.linear.simulate_path`
draws one CountSketch per size instead (:data:`NESTED`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, get_xp
from ..errors import ParameterError
from ..launch import launch
from ..validation import check_choice, check_int

__all__ = [
    "SKETCH_NAMES",
    "default_rounds",
    "fwht",
    "fwht_numpy",
    "draw_sketch",
    "apply_sketches",
    "sketch_gram",
    "sketch_matrix",
    "HaarSketch",
    "SRHTSketch",
    "GaussianSketch",
    "CountSketch",
    "NESTED",
]

SKETCH_NAMES = ("haar", "srht", "gaussian", "countsketch")
#: Sketch kinds whose first ``m'`` rows are a sketch of size ``m'`` of the same kind.
NESTED = ("haar", "srht", "gaussian")
_FWHT_CHUNK = 8
#: CUDA threads per block of the Walsh–Hadamard kernel (one thread per column).
FWHT_THREADS = 128


def default_rounds(n: int) -> int:
    """Rounds of (permute, flip signs, Hadamard) in an SRHT: 1 when ``n`` is a power of two, else 2.

    With ``n`` not a power of two the Hadamard transform is block-diagonal (blocks from the binary
    expansion of ``n``); a second round mixes the blocks.
    """
    return 1 if n & (n - 1) == 0 else 2


def fwht_numpy(a):
    """Block-diagonal normalised Walsh–Hadamard transform along axis -2 (NumPy reference).

    Parameters
    ----------
    a : numpy.ndarray, shape (..., n, k)

    Returns
    -------
    numpy.ndarray, shape (..., n, k)
        ``blockdiag(H_b / sqrt(b)) @ a`` for the blocks ``b`` of the binary expansion of ``n``
        (largest first); a new array.
    """
    a = np.array(a, dtype=float, copy=True)
    n = a.shape[-2]
    start = 0
    while start < n:
        size = 1 << int(math.floor(math.log2(n - start)))
        block = a[..., start : start + size, :]
        lead = block.shape[:-2]
        k = block.shape[-1]
        h = 1
        while h < size:
            v = block.reshape(lead + (size // (2 * h), 2, h, k))
            x, y = v[..., 0, :, :], v[..., 1, :, :]
            block = np.stack((x + y, x - y), axis=-3).reshape(lead + (size, k))
            h *= 2
        a[..., start : start + size, :] = block / math.sqrt(size)
        start += size
    return a


def fwht(a, backend=DEFAULT_BACKEND):
    """Block-diagonal normalised Walsh–Hadamard transform along axis -2, on ``backend``.

    Parameters
    ----------
    a : array, shape (R, n, k) or (n, k)
        NumPy array (CuPy on a real GPU for ``cuda``); not modified.
    backend : {"numba", "numpy", "cuda", "auto"}
        ``numpy``: :func:`fwht_numpy`; ``numba``: the compiled ``prange`` kernel; ``cuda``: the
        Numba-CUDA kernel (one thread per column).

    Returns
    -------
    array, same shape as ``a``
    """
    backend = check_backend(backend)
    if backend == "numpy":
        return fwht_numpy(a)
    from ..kernels.regression_fwht import fwht_cpu, fwht_cuda

    xp = get_xp(backend)
    squeeze = a.ndim == 2
    out = xp.array(a, dtype=xp.float64, copy=True, order="C")
    if squeeze:
        out = out[None]
    if backend == "numba":
        launch(fwht_cpu, backend, args=(_FWHT_CHUNK,), outputs=(out,))
    else:
        launch(
            fwht_cuda,
            backend,
            outputs=(out,),
            size=out.shape[0] * out.shape[2],
            threads=FWHT_THREADS,
            layout="as-given",  # thread t works on column t % k of matrix t // k: C order is already coalesced
        )
    return out[0] if squeeze else out


@dataclasses.dataclass
class HaarSketch:
    """First ``m`` rows of a Haar orthogonal ``n x n`` matrix, stored as ``matrix`` (``m x n``)."""

    matrix: np.ndarray
    orthogonal = True


@dataclasses.dataclass
class SRHTSketch:
    """``S = B (H D_k P_k) ... (H D_1 P_1)``: permutations ``perms`` and signs ``signs`` (``rounds x n``), kept ``rows`` (``m``)."""

    perms: np.ndarray
    signs: np.ndarray
    rows: np.ndarray
    orthogonal = True


@dataclasses.dataclass
class GaussianSketch:
    """An i.i.d. ``N(0, 1/n)`` matrix ``matrix`` (``m x n``)."""

    matrix: np.ndarray
    orthogonal = False


@dataclasses.dataclass
class CountSketch:
    """Clarkson–Woodruff sketch: column ``j`` has the single nonzero ``signs[j]`` (+-1) in row ``buckets[j]``; ``m`` rows."""

    buckets: np.ndarray
    signs: np.ndarray
    m: int
    orthogonal = False


def _scatter_add(xp, out, index, values):
    """``out[index[i]] += values[i]`` with repeated indices accumulated (NumPy or CuPy)."""
    if xp is np:
        np.add.at(out, index, values)
    else:  # pragma: no cover - needs a GPU
        import cupyx

        cupyx.scatter_add(out, index, values)


def _check_mn(m, n):
    n = check_int("n", n, low=1)
    m = check_int("m", m, low=1)
    if m > n:
        raise ParameterError(f"sketch size m must be in [1, n] = [1, {n}], got {m}")
    return m, n


def draw_sketch(kind, m, n, stream, *, rounds=None):
    """Draw one ``m x n`` sketch from ``stream`` (see the module docstring for the draw order).

    Parameters
    ----------
    kind : {"haar", "srht", "gaussian", "countsketch"}
    m, n : int
        Sketch size and number of samples, ``1 <= m <= n``.
    stream : simkit.rng.Stream
        The replication's stream (advanced).
    rounds : int, optional
        SRHT rounds (default :func:`default_rounds`).

    Returns
    -------
    HaarSketch, SRHTSketch, GaussianSketch or CountSketch
    """
    check_choice("sketch", kind, SKETCH_NAMES)
    m, n = _check_mn(m, n)
    if kind == "haar":
        g = stream.normal((n, m))
        q, r = np.linalg.qr(g)
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)
        return HaarSketch(np.ascontiguousarray(q.T))
    if kind == "gaussian":
        return GaussianSketch(stream.normal((m, n)) / math.sqrt(n))
    if kind == "countsketch":
        buckets = np.minimum(np.floor(stream.uniform(n) * m).astype(np.int64), m - 1)
        signs = np.where(stream.uniform(n) < 0.5, -1.0, 1.0)
        return CountSketch(buckets, signs, m)
    rounds = default_rounds(n) if rounds is None else check_int("rounds", rounds, low=1)
    perms = np.empty((rounds, n), dtype=np.int64)
    signs = np.empty((rounds, n))
    for k in range(rounds):
        perms[k] = np.argsort(stream.uniform(n), kind="stable")
        signs[k] = np.where(stream.uniform(n) < 0.5, -1.0, 1.0)
    rows = np.argsort(stream.uniform(n), kind="stable")[:m]
    return SRHTSketch(perms, signs, rows)


def apply_sketches(sketches, a, backend=DEFAULT_BACKEND):
    """Apply one sketch per replication: ``out[r] = S_r @ a[r]``.

    Parameters
    ----------
    sketches : list of sketches, length R
        All of one kind and one size ``m x n``.
    a : array, shape (R, n, k)
        On the backend's array module.
    backend : {"numba", "numpy", "cuda", "auto"}

    Returns
    -------
    array, shape (R, m, k)
    """
    backend = check_backend(backend)
    xp = get_xp(backend)
    first = sketches[0]
    if isinstance(first, SRHTSketch):
        out = a
        for k in range(first.perms.shape[0]):
            perm = xp.asarray(np.stack([s.perms[k] for s in sketches]))
            sign = xp.asarray(np.stack([s.signs[k] for s in sketches]))
            out = xp.take_along_axis(out, perm[:, :, None], axis=1) * sign[:, :, None]
            out = fwht(out, backend)
        rows = xp.asarray(np.stack([s.rows for s in sketches]))
        return xp.take_along_axis(out, rows[:, :, None], axis=1)
    if isinstance(first, CountSketch):  # scatter-add of signed rows, O(R n k)
        reps, n, k = a.shape
        m = first.m
        flat = np.stack([s.buckets for s in sketches]) + m * np.arange(reps)[:, None]
        sign = xp.asarray(np.stack([s.signs for s in sketches]))
        out = xp.zeros((reps * m, k), dtype=xp.float64)
        _scatter_add(xp, out, xp.asarray(flat.ravel()), (a * sign[:, :, None]).reshape(reps * n, k))
        return out.reshape(reps, m, k)
    mats = xp.asarray(np.stack([s.matrix for s in sketches]))
    return mats @ a


def sketch_gram(sketches, backend=DEFAULT_BACKEND):
    """``S_r S_r^T`` per replication, shape ``(R, m, m)``, or ``None`` when every ``S`` has orthonormal rows.

    For a CountSketch it is the diagonal matrix of the bucket counts.
    """
    backend = check_backend(backend)
    if sketches[0].orthogonal:
        return None
    xp = get_xp(backend)
    if isinstance(sketches[0], CountSketch):
        m = sketches[0].m
        counts = np.stack([np.bincount(s.buckets, minlength=m).astype(float) for s in sketches])
        gram = np.zeros((len(sketches), m, m))
        gram[:, np.arange(m), np.arange(m)] = counts
        return xp.asarray(gram)
    mats = xp.asarray(np.stack([s.matrix for s in sketches]))
    return mats @ xp.swapaxes(mats, 1, 2)


def sketch_matrix(sketch, n, backend=DEFAULT_BACKEND):
    """The dense ``m x n`` matrix of one sketch (for tests and small problems)."""
    if isinstance(sketch, SRHTSketch):
        return np.asarray(apply_sketches([sketch], np.eye(n)[None], backend))[0]
    if isinstance(sketch, CountSketch):
        out = np.zeros((sketch.m, n))
        out[sketch.buckets, np.arange(n)] = sketch.signs
        return out
    return np.asarray(sketch.matrix)
