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
:data:`THREADS_PER_BLOCK` threads.

Memory layout on the GPU (``layout``)
    Kernels index their per-item arrays by the work item first (``work[r]``, ``states[r]``) and
    keep one body for both targets.  On the CPU those arrays are C-ordered, so each thread's data
    is contiguous.  On the GPU that order would put neighbouring threads of a warp
    ``prod(shape[1:]) × 8`` bytes apart and make every load uncoalesced, so with
    ``layout="item-fastest"`` (the default) :func:`launch` stores every per-item array --
    ``states``, every ``scratch`` array, every output and every argument wrapped in
    :func:`per_item` -- with the item index *fastest* in device memory: an array of logical shape
    ``(size, a, b)`` lives in a ``(a, b, size)`` buffer and reaches the kernel as a strided view
    of shape ``(size, a, b)``.  The kernel's code is unchanged; ``work[r][i, j]`` of threads
    ``r, r+1, …`` are consecutive doubles, so a warp's 32 accesses are one 256-byte transaction.
    ``layout="as-given"`` keeps C order (for kernels whose threads are not the leading axis, such
    as the Walsh–Hadamard transform, whose thread index runs along the last axis).

CPU launches are serialised by a lock: Numba's parallel launchers must not be entered from two
Python threads at once (the regression family runs blocks of replications on Python threads).

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

__all__ = [
    "THREADS_PER_BLOCK",
    "LAYOUTS",
    "launch",
    "per_item",
    "item_first_view",
    "PerItem",
    "recording",
    "recording_active",
    "Recording",
    "Launch",
    "RepeatedLaunch",
]

#: CUDA threads per block for one-thread-per-replication kernels.
THREADS_PER_BLOCK = 64

#: Device memory layouts of per-item arrays (see the module docstring).
LAYOUTS = ("item-fastest", "as-given")

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


@dataclasses.dataclass(frozen=True)
class PerItem:
    """A read-only kernel argument with one slice per work item (see :func:`per_item`)."""

    array: np.ndarray


def per_item(array) -> PerItem:
    """Mark a read-only argument of :func:`launch` as holding one slice per work item.

    Parameters
    ----------
    array : numpy.ndarray, shape (size, ...)
        Indexed by the work item first in the kernel (``array[r]``).

    Returns
    -------
    PerItem
        The marked array: unchanged on the CPU; on the GPU with ``layout="item-fastest"`` it is
        stored with the item index fastest in memory (coalesced across a warp).

    Examples
    --------
    >>> import numpy as np
    >>> per_item(np.zeros((4, 3))).array.shape
    (4, 3)
    """
    return PerItem(np.ascontiguousarray(array))


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


def launch(
    kernel,
    backend,
    *,
    states=None,
    args=(),
    scratch=(),
    outputs=(),
    size=None,
    threads=THREADS_PER_BLOCK,
    layout="item-fastest",
):
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
        Scalars and read-only arrays; arrays with one slice per work item wrapped in :func:`per_item`.
    scratch : tuple of tuple of int
        Shapes of zero-filled ``float64`` work arrays, the work item first.
    outputs : tuple of array
        Arrays read and written by the kernel, the work item first, updated in place.
    size : int, optional
        CUDA work items (threads that do work); default ``states.shape[0]``.
    threads : int
        CUDA threads per block.
    layout : {"item-fastest", "as-given"}
        Device memory order of the per-item arrays (CUDA only; see the module docstring).

    Returns
    -------
    tuple
        ``outputs`` (the same arrays).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"launch layout must be one of {LAYOUTS}, got {layout!r}")
    head = () if states is None else (np.array(states, dtype=np.uint64, order="C", copy=True),)
    if backend == "numba":
        work = tuple(np.zeros(shape) for shape in scratch)
        plain = tuple(a.array if isinstance(a, PerItem) else a for a in args)
        with _CPU_LOCK:
            compiled(kernel, "cpu")(*head, *plain, *work, *outputs)
        return tuple(outputs)
    if backend != "cuda":
        raise ValueError(f"launch backend must be 'numba' or 'cuda', got {backend!r}")
    if size is None:
        if states is None:
            raise ValueError("launch needs size when no states are given")
        size = states.shape[0]
    size = max(1, int(size))
    fastest = layout == "item-fastest"
    if fastest:
        _check_items(size, head, args, scratch, outputs)
    if _RECORD is not None:
        _record(kernel, head, args, scratch, outputs, int(threads), size, fastest)
        return tuple(outputs)
    threads = max(1, min(int(threads), size))
    from numba import cuda

    put = (lambda a: _to_device_item_fastest(cuda, a)) if fastest else (lambda a: _to_device(cuda, a))
    dev_head = tuple(put(a) for a in head)
    dev_args = tuple(put(a.array) if isinstance(a, PerItem) else _to_device(cuda, a) for a in args)
    dev_work = tuple(put(np.zeros(shape)) for shape in scratch)
    dev_out = tuple(o if _on_device(o) else put(o) for o in outputs)
    blocks = math.ceil(size / threads)
    compiled(kernel, "cuda")[blocks, threads](*dev_head, *dev_args, *dev_work, *dev_out)
    cuda.synchronize()
    for host, dev in zip(outputs, dev_out):
        if dev is not host:
            host[...] = _to_host(dev)
    return tuple(outputs)


def _on_device(a) -> bool:
    return not isinstance(a, np.ndarray) and hasattr(a, "__cuda_array_interface__")


def _check_items(size, head, args, scratch, outputs):
    shapes = [np.shape(a) for a in head]
    shapes += [a.array.shape for a in args if isinstance(a, PerItem)]
    shapes += [tuple(s) for s in scratch]
    shapes += [np.shape(o) for o in outputs if isinstance(o, np.ndarray)]
    for shape in shapes:
        if not shape or shape[0] != size:
            raise ValueError(f"per-item array of shape {shape} does not lead with the {size} work items")


def _to_device(cuda, a):
    if isinstance(a, np.ndarray):
        return cuda.to_device(np.ascontiguousarray(a))
    return a


def _to_device_item_fastest(cuda, a):
    """``a`` (items first) on the device in a buffer with the item axis last, seen with items first."""
    if a.ndim < 2:
        return cuda.to_device(np.ascontiguousarray(a))
    base = cuda.to_device(np.ascontiguousarray(np.moveaxis(a, 0, -1)))
    from numba import config

    if config.ENABLE_CUDASIM:  # the simulator's device array wraps a NumPy array: a transposed view of it
        view = base.transpose((a.ndim - 1, *range(a.ndim - 1)))
    else:
        view = item_first_view(base)
    view.simkit_base = base
    return view


def item_first_view(base):
    """A view of the device array ``base`` (shape ``(..., size)``) with the last axis moved first.

    Parameters
    ----------
    base : numba.cuda.cudadrv.devicearray.DeviceNDArray, shape (a, b, ..., size)
        A C-contiguous device array whose last axis is the work item.

    Returns
    -------
    numba.cuda.cudadrv.devicearray.DeviceNDArray, shape (size, a, b, ...)
        The same device memory (no copy), strides ``(itemsize, *base.strides[:-1])``: the kernel
        indexes it items first while consecutive items are adjacent in memory.
    """
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    order = (len(base.shape) - 1, *range(len(base.shape) - 1))
    return DeviceNDArray(
        shape=tuple(base.shape[i] for i in order),
        strides=tuple(base.strides[i] for i in order),
        dtype=base.dtype,
        gpu_data=base.gpu_data,
    )


def _to_host(dev):
    base = getattr(dev, "simkit_base", None)
    if base is None:
        return dev.copy_to_host()
    return np.moveaxis(base.copy_to_host(), -1, 0)


def _record(kernel, head, args, scratch, outputs, threads, size, fastest):
    import numba

    def kind(value, item):
        if not isinstance(value, np.ndarray):
            return numba.typeof(value)
        if item and fastest and value.ndim >= 2:
            # the strided view the kernel receives (layout "F" for two dimensions, "A" above)
            return numba.typeof(np.moveaxis(np.empty((*value.shape[1:], value.shape[0]), value.dtype), -1, 0))
        return numba.typeof(np.ascontiguousarray(value))

    values = [(a, True) for a in head]
    values += [(a.array, True) if isinstance(a, PerItem) else (a, False) for a in args]
    values += [(np.empty(tuple(shape)), True) for shape in scratch]  # types only; not touched
    values += [(o, True) for o in outputs]
    signature = tuple(kind(v, item) for v, item in values)
    _RECORD.attempts += 1
    for entry in _RECORD.launches:
        if entry.kernel is kernel and entry.signature == signature:
            if _RECORD.label not in entry.users:
                entry.users.append(_RECORD.label)
            raise RepeatedLaunch(entry.name)
    _RECORD.launches.append(Launch(kernel, signature, threads, size, [_RECORD.label]))
