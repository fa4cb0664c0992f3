"""Seeding: one independent stream per (seed, study, cell, replication).

A replication's randomness is a pure function of ``(seed, study, cell, rep)``: the state of
its xoroshiro128+ generator is ``SeedSequence(seed, spawn_key=(study_key, cell_key, rep))``.
``study_key`` and ``cell_key`` are stable 32-bit hashes of the study name and of the cell's
parameter values, so a cell keeps its stream when the grid around it changes, and replication
``r`` keeps its stream when the number of replications grows.  No global RNG is read or written.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .validation import check_int

__all__ = ["stable_key", "rep_states", "Stream"]


def stable_key(obj) -> int:
    """A 32-bit integer hash of a JSON-serialisable object, identical across runs and machines.

    The object is written as canonical JSON (keys sorted, NumPy scalars and arrays as plain
    numbers and lists) and hashed with SHA-256; the first four bytes, little-endian, are the key.
    Unlike :func:`hash`, it does not change between processes (no hash randomisation).

    Parameters
    ----------
    obj : object
        Anything JSON-serialisable, including NumPy scalars and arrays (e.g. a study name or a
        cell's parameter dict); dict key order does not matter.

    Returns
    -------
    int
        A key in ``[0, 2**32)``.

    Raises
    ------
    TypeError
        If ``obj`` holds something JSON cannot represent.

    Examples
    --------
    >>> stable_key("collapse-gaussian") == stable_key("collapse-gaussian")
    True
    >>> 0 <= stable_key([1, 2.5, "x"]) < 2**32
    True
    >>> stable_key({"T": 100, "sigma2": 1.0}) == stable_key({"sigma2": 1.0, "T": 100})
    True
    """
    text = json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot hash {type(value).__name__}")


def rep_states(seed, study, cell, reps, *, start=0):
    """Generator states for replications ``start`` to ``start + reps - 1`` of one cell.

    Parameters
    ----------
    seed : int
        The run's seed (``>= 0``).
    study : str
        Study name.
    cell : dict
        The cell's parameter values (JSON-serialisable); only its content matters.
    reps : int
        Number of replications (``>= 1``).
    start : int, optional
        Index of the first replication.

    Returns
    -------
    numpy.ndarray of uint64, shape (reps, 2)
        One xoroshiro128+ state per replication (never all-zero).

    Examples
    --------
    >>> a = rep_states(1, "demo", {"x": 1}, 5)
    >>> b = rep_states(1, "demo", {"x": 1}, 3)
    >>> bool((a[:3] == b).all())
    True
    """
    seed = check_int("seed", seed, low=0)
    reps = check_int("reps", reps, low=1)
    start = check_int("start", start, low=0)
    study_key = stable_key(study)
    cell_key = stable_key(cell)
    if start + reps > 2**32:  # replication indices of more than one 32-bit word: SeedSequence itself
        return _rep_states_loop(seed, study_key, cell_key, reps, start)
    states = _seed_sequence_states(seed, study_key, cell_key, np.arange(start, start + reps, dtype=np.uint64))
    zero = (states[:, 0] == 0) & (states[:, 1] == 0)
    states[zero, 1] = np.uint64(0x9E3779B97F4A7C15)
    return states


def _rep_states_loop(seed, study_key, cell_key, reps, start):
    """:func:`rep_states` one :class:`numpy.random.SeedSequence` at a time (the definition)."""
    states = np.empty((reps, 2), dtype=np.uint64)
    for i in range(reps):
        ss = np.random.SeedSequence(seed, spawn_key=(study_key, cell_key, start + i))
        words = ss.generate_state(2, dtype=np.uint64)
        if words[0] == 0 and words[1] == 0:
            words[1] = np.uint64(0x9E3779B97F4A7C15)
        states[i] = words
    return states


# numpy.random.SeedSequence's hash constants (O'Neill's seed_seq design, as in NumPy's _bit_generator.pyx)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_MASK32 = 0xFFFFFFFF


def _seed_sequence_states(seed, study_key, cell_key, index):
    """``SeedSequence(seed, spawn_key=(study_key, cell_key, i)).generate_state(2, uint64)`` for every ``i``.

    The spawn keys differ only in their last word, so the entropy pool after the common prefix is
    that of ``SeedSequence(seed, spawn_key=(study_key, cell_key))``; the last word is then mixed
    into it for all replications at once, with the hash constant advanced exactly as NumPy does
    (4 + 12 + 4·2 hashes before it).  ``index`` holds values below 2**32 (one word each).
    Equality with NumPy's own SeedSequence is tested (``tests/test_framework_units.py``).
    """
    prefix = np.random.SeedSequence(seed, spawn_key=(study_key, cell_key))
    pool = [np.full(index.shape, word, dtype=np.uint32) for word in prefix.pool]
    hash_const = _INIT_A * pow(_MULT_A, 4 + 12 + 4 * 2, 2**32) & _MASK32
    word = index.astype(np.uint32)
    for dst in range(4):
        value = word ^ np.uint32(hash_const)
        hash_const = hash_const * _MULT_A & _MASK32
        value = value * np.uint32(hash_const)
        value ^= value >> np.uint32(16)
        mixed = _MIX_L * pool[dst] - _MIX_R * value
        pool[dst] = mixed ^ (mixed >> np.uint32(16))
    out = np.empty((index.shape[0], 4), dtype=np.uint32)
    hash_const = _INIT_B
    for k in range(4):
        data = pool[k] ^ np.uint32(hash_const)
        hash_const = hash_const * _MULT_B & _MASK32
        data = data * np.uint32(hash_const)
        out[:, k] = data ^ (data >> np.uint32(16))
    return out.view(np.uint64)  # word pairs as NumPy pairs them (native byte order)


class Stream:
    """NumPy-side view of one replication's stream, for the readable reference implementations.

    It consumes exactly the same words, in the same order, as the compiled kernels' draws, so a
    reference implementation that draws in the documented order sees the kernel's numbers.
    The state array is advanced in place.

    Parameters
    ----------
    state : numpy.ndarray of uint64, shape (2,)
        A row of :func:`rep_states`; modified in place.

    Attributes
    ----------
    state : numpy.ndarray of uint64, shape (2,)
        The generator state, advanced by every draw.

    Raises
    ------
    ValueError
        If ``state`` is not a uint64 array of shape (2,).

    Examples
    --------
    >>> s = Stream(rep_states(0, "demo", {}, 1)[0].copy())
    >>> s.normal((2, 3)).shape
    (2, 3)

    The same state gives the same numbers, and drawing advances it:

    >>> state = rep_states(0, "demo", {}, 1)[0]
    >>> a, b = Stream(state.copy()), Stream(state.copy())
    >>> bool(a.uniform() == b.uniform()), bool(a.uniform() == Stream(state.copy()).uniform())
    (True, False)
    """

    def __init__(self, state):
        if not (isinstance(state, np.ndarray) and state.dtype == np.uint64 and state.shape == (2,)):
            raise ValueError("state must be a uint64 array of shape (2,)")
        self.state = state

    def normal(self, shape=()):
        """Standard normals of the given shape, filled in C order.

        Parameters
        ----------
        shape : tuple of int, optional
            Shape of the result; ``()`` (the default) draws one number.

        Returns
        -------
        numpy.ndarray of float64, shape ``shape``, or float
            N(0, 1) variates (a Python-like scalar when ``shape == ()``).

        Examples
        --------
        >>> Stream(rep_states(0, "demo", {}, 1)[0].copy()).normal(4).shape
        (4,)
        """
        from .kernels.rng import fill_normal
        from .kernels.targets import compiled

        out = np.empty(int(np.prod(shape)), dtype=np.float64)
        compiled(fill_normal, "cpu")(self.state, out)
        return out.reshape(shape) if shape != () else out[0]

    def uniform(self, shape=()):
        """Uniforms on [0, 1) of the given shape, filled in C order.

        Parameters
        ----------
        shape : tuple of int, optional
            Shape of the result; ``()`` (the default) draws one number.

        Returns
        -------
        numpy.ndarray of float64, shape ``shape``, or float
            Uniform variates on [0, 1).

        Examples
        --------
        >>> u = Stream(rep_states(0, "demo", {}, 1)[0].copy()).uniform((3,))
        >>> bool(((0 <= u) & (u < 1)).all())
        True
        """
        from .kernels.rng import fill_uniform
        from .kernels.targets import compiled

        out = np.empty(int(np.prod(shape)), dtype=np.float64)
        compiled(fill_uniform, "cpu")(self.state, out)
        return out.reshape(shape) if shape != () else out[0]

    def gamma(self, shape_param, shape=()):
        """Gamma(shape_param, scale 1) variates of the given shape, filled in C order.

        Parameters
        ----------
        shape_param : float
            The Gamma shape parameter (``> 0``).
        shape : tuple of int, optional
            Shape of the result; ``()`` (the default) draws one number.

        Returns
        -------
        numpy.ndarray of float64, shape ``shape``, or float
            Gamma variates with mean ``shape_param``.

        Examples
        --------
        >>> g = Stream(rep_states(0, "demo", {}, 1)[0].copy()).gamma(2.0, (5,))
        >>> bool((g > 0).all())
        True
        """
        from .kernels.rng import fill_gamma
        from .kernels.targets import compiled

        out = np.empty(int(np.prod(shape)), dtype=np.float64)
        compiled(fill_gamma, "cpu")(self.state, float(shape_param), out)
        return out.reshape(shape) if shape != () else out[0]

    def scalar(self, body, *args):
        """Call one scalar draw body (e.g. ``kernels.rng.beta``) on this stream.

        Parameters
        ----------
        body : callable
            A device-agnostic draw function of :mod:`simkit.kernels.rng` whose first argument is
            the state (compiled for the CPU here).
        *args
            Its remaining arguments.

        Returns
        -------
        object
            What ``body`` returns (one variate).

        Examples
        --------
        >>> from simkit.kernels import rng as kr
        >>> x = Stream(rep_states(0, "demo", {}, 1)[0].copy()).scalar(kr.beta, 2.0, 3.0)
        >>> 0.0 < x < 1.0
        True
        """
        from .kernels.targets import compiled

        return compiled(body, "cpu")(self.state, *args)
