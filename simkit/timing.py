"""Wall-clock timing for the benchmarks (``simkit bench``): the best of several runs."""

from __future__ import annotations

import math
import time

__all__ = ["best_of"]


def best_of(fn, repeats=3, *, warmup=False):
    """Time ``fn()`` over ``repeats`` runs, after one untimed call when ``warmup`` (compilation, caches).

    Returns
    -------
    wall : float
        The smallest wall-clock time, in seconds.
    cpu : float
        The process CPU time (all threads) of that run, in seconds.
    result
        The last run's return value.
    """
    if warmup:
        fn()
    best = (math.inf, math.nan)
    result = None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best[0], best[1], result
