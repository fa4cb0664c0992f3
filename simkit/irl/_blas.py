"""Run small dense linear algebra with one BLAS thread.

scipy's L-BFGS-B and NumPy call BLAS on tiny matrices here; a multithreaded BLAS then spends more
time waking threads than computing (badly so on a busy machine).  :func:`one_blas_thread` limits
BLAS to one thread inside its block (results are identical, only speed differs).
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _controller():
    import numpy  # noqa: F401  (BLAS must be loaded before the controller looks for it)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread():
    """A context manager limiting BLAS to one thread."""
    return _controller().limit(limits=1, user_api="blas")
