"""Thread budgets: Numba's threads and BLAS's threads.

Small dense linear algebra (per-replication matrices, L-BFGS-B on tiny problems) gains nothing
from a multithreaded BLAS and slows down sharply when cores are shared; :func:`one_blas_thread`
limits BLAS to one thread inside its block.  :func:`limit_threads` sets a worker process's
budget so that processes × threads never exceeds the machine's cores.
"""

from __future__ import annotations

import functools
import os

__all__ = ["cores", "limit_threads", "one_blas_thread"]


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _controller():
    import numpy  # noqa: F401  (BLAS must be loaded before the controller looks for it)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread():
    """A context manager limiting BLAS to one thread inside its block (results are unchanged)."""
    return _controller().limit(limits=1, user_api="blas")


def limit_threads(threads: int) -> None:
    """Limit Numba's and BLAS's threads in this (worker) process to ``threads``."""
    import numba

    threads = max(1, int(threads))
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    _controller().limit(limits=threads, user_api="blas")
