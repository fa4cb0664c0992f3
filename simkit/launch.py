"""Starting compiled kernels: one launcher for every family, the CPU ``prange`` loop and the CUDA grid.

Every simulator that runs a compiled kernel calls :func:`launch` with the kernel's launcher (a
:func:`~simkit.kernels.targets.cpu_launcher` for ``numba``, a
:func:`~simkit.kernels.targets.cuda_launcher` for ``cuda``) and its arguments in four groups,
passed to the launcher in this order::

    launcher(states, *args, *scratch, *outputs)

``states``
    the ``(reps, 2)`` replication streams, or ``None`` for kernels without randomness.  The
    kernel receives a copy (it advances the streams), so the caller's array is never modified.
``args``
    scalars and read-only arrays (copied to the device for ``cuda``).
``scratch``
    shapes of ``float64`` work arrays, allocated zero-filled for this launch only (on the device
    for ``cuda``, where kernels cannot allocate).  CPU launchers usually allocate their own work
    arrays per replication and are given none.
``outputs``
    arrays the kernel reads and writes: their contents go in, and their final contents are written
    back into the same arrays (for ``cuda``: copied to the device and back; arrays already on the
    device, such as CuPy arrays, are used in place).  Callers pass arrays they own, never a
    user's input.

CUDA kernels run one thread per work item (``size``, by default one per replication) in blocks of
:data:`THREADS_PER_BLOCK` threads.  CPU launches are serialised by a lock: Numba's parallel
launchers must not be entered from two Python threads at once (the regression family runs blocks
of replications on Python threads).

:func:`recording` supports ``simkit gpu-check --compile-only``: inside it, CUDA launches are
recorded (kernel, argument types, block size) instead of run, and ``backend="cuda"`` is accepted
without a GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading

import numpy as np

from .kernels.targets import compiled

__all__ = ["THREADS_PER_BLOCK", "launch", "recording", "recording_active", "Recording", "Launch", "RepeatedLaunch"]

#: CUDA threads per block for one-thread-per-replication kernels.
THREADS_PER_BLOCK = 64

_CPU_LOCK = threading.Lock()
_RECORD: list | None = None


@dataclasses.dataclass
class Launch:
    """One recorded CUDA launch: the launcher, its argument types, the block size and who launched it."""

    kernel: object
    signature: tuple
    threads: int
    size: int
    users: list = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        """``module.function`` of the launcher, e.g. ``bandits_karmed.karmed_cuda``."""
        return f"{self.kernel.__module__.rsplit('.', 1)[-1]}.{self.kernel.__name__}"


class RepeatedLaunch(BaseException):
    """Raised inside :func:`recording` when a launch repeats one already recorded (stops the caller).

    A ``BaseException``, so that a simulation's own ``except Exception`` does not swallow it.
    """


class Recording:
    """The launches recorded by :func:`recording`; ``label`` names the current caller (e.g. a study)."""

    def __init__(self):
        self.launches: list[Launch] = []
        self.label = ""
        self.attempts = 0


def recording_active() -> bool:
    """Whether CUDA launches are being recorded instead of run.

    Returns
    -------
    bool
        True inside a :func:`recording` block (``simkit gpu-check --compile-only``), where
        ``backend="cuda"`` is accepted without a GPU; False otherwise.
    """
    return _RECORD is not None


@contextlib.contextmanager
def recording():
    """Record CUDA launches instead of running them; yields a :class:`Recording`.

    A launch whose kernel and argument types were already recorded adds the current label to that
    launch's users and raises :class:`RepeatedLaunch` (a simulation would otherwise go on with
    outputs the kernel never wrote).  Outputs of a new recorded launch keep the contents the caller
    gave them.
    """
    global _RECORD
    previous, _RECORD = _RECORD, Recording()
    try:
        yield _RECORD
    finally:
        _RECORD = previous


def launch(kernel, backend, *, states=None, args=(), scratch=(), outputs=(), size=None, threads=THREADS_PER_BLOCK):
    """Run a compiled kernel on ``backend`` (``"numba"`` or ``"cuda"``); see the module docstring.

    Parameters
    ----------
    kernel : function
        The launcher for ``backend``: a ``cpu_launcher`` for ``numba``, a ``cuda_launcher`` for ``cuda``.
    backend : {"numba", "cuda"}
        A validated backend (:func:`simkit.backends.check_backend`).
    states : numpy.ndarray of uint64, shape (reps, 2), optional
        Replication streams; the kernel gets a copy.
    args : tuple
        Scalars and read-only arrays.
    scratch : tuple of tuple of int
        Shapes of zero-filled ``float64`` work arrays.
    outputs : tuple of array
        Arrays read and written by the kernel, updated in place.
    size : int, optional
        CUDA work items (threads that do work); default ``states.shape[0]``.
    threads : int
        CUDA threads per block.

    Returns
    -------
    tuple
        ``outputs`` (the same arrays).
    """
    head = () if states is None else (np.array(states, dtype=np.uint64, order="C", copy=True),)
    if backend == "numba":
        work = tuple(np.zeros(shape) for shape in scratch)
        with _CPU_LOCK:
            compiled(kernel, "cpu")(*head, *args, *work, *outputs)
        return tuple(outputs)
    if backend != "cuda":
        raise ValueError(f"launch backend must be 'numba' or 'cuda', got {backend!r}")
    if size is None:
        if states is None:
            raise ValueError("launch needs size when no states are given")
        size = states.shape[0]
    size = max(1, int(size))
    if _RECORD is not None:
        _record(kernel, head, args, scratch, outputs, int(threads), size)
        return tuple(outputs)
    threads = max(1, min(int(threads), size))
    from numba import cuda

    dev_head = tuple(cuda.to_device(a) for a in head)
    dev_args = tuple(_to_device(cuda, a) for a in args)
    dev_work = tuple(cuda.to_device(np.zeros(shape)) for shape in scratch)
    dev_out = tuple(_to_device(cuda, o) for o in outputs)
    blocks = math.ceil(size / threads)
    compiled(kernel, "cuda")[blocks, threads](*dev_head, *dev_args, *dev_work, *dev_out)
    cuda.synchronize()
    for host, dev in zip(outputs, dev_out):
        if dev is not host:
            host[...] = dev.copy_to_host()
    return tuple(outputs)


def _to_device(cuda, a):
    if isinstance(a, np.ndarray):
        return cuda.to_device(np.ascontiguousarray(a))
    return a


def _record(kernel, head, args, scratch, outputs, threads, size):
    import numba

    values = (
        *head,
        *(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args),
        *(np.zeros((0,) * len(shape)) for shape in scratch),  # types only
        *(np.ascontiguousarray(o) if isinstance(o, np.ndarray) else o for o in outputs),
    )
    signature = tuple(numba.typeof(v) for v in values)
    _RECORD.attempts += 1
    for entry in _RECORD.launches:
        if entry.kernel is kernel and entry.signature == signature:
            if _RECORD.label not in entry.users:
                entry.users.append(_RECORD.label)
            raise RepeatedLaunch(entry.name)
    _RECORD.launches.append(Launch(kernel, signature, threads, size, [_RECORD.label]))
