"""Benchmark: replications per second of the collapse chains (``simkit bench collapse``).

Two workloads at the studies' paper settings: the linear-regression chain (d = 32, T = 316,
50 iterations, replace and accumulate) and the 1-D Gaussian refit chain (M = 100, 1000
generations, unbiased, replace).  Each is run by the readable NumPy reference (the baseline,
a Python loop over replications), by the Numba CPU kernel (parallel over replications) and,
where a real GPU is visible, by the Numba-CUDA kernel.  Every variant's numbers are compared
with the baseline's on the replications both ran.  Timings are wall-clock, best of ``repeats``
runs after a warm-up (compilation excluded).
"""

from __future__ import annotations

import numpy as np

from ..timing import best_of

__all__ = ["main"]


def _rows(title, run, to_array, reps_numpy, reps_fast, repeats, backends):
    from ..rng import rep_states

    states = rep_states(0, "collapse-bench", {"workload": title}, reps_fast)
    lines = [title]
    base_t, _, ref = best_of(lambda: run(states[:reps_numpy], "numpy"), 1)
    ref = to_array(ref)
    base_rate = reps_numpy / base_t
    lines.append(
        f"  {'numpy reference (baseline)':<28} {reps_numpy:>6} reps  {base_t:8.3f} s  {base_rate:10.1f} reps/s   1.0x"
    )
    for backend in backends:
        run(states[:2], backend)  # compile
        t, _, out = best_of(lambda b=backend: run(states, b), repeats)
        err = float(np.max(np.abs(to_array(out)[:reps_numpy] - ref) / np.maximum(np.abs(ref), 1e-300)))
        rate = reps_fast / t
        lines.append(
            f"  {backend:<28} {reps_fast:>6} reps  {t:8.3f} s  {rate:10.1f} reps/s  {rate / base_rate:5.0f}x"
            f"  (max rel. diff vs numpy {err:.1e})"
        )
    return lines


def main(quick: bool = False) -> str:
    """Run the benchmark and return a printable report.

    Parameters
    ----------
    quick : bool
        Fewer replications and one repeat (seconds instead of about a minute).
    """
    import numba

    from ..backends import _real_gpu
    from .gaussian import simulate_gaussian_chain
    from .linear import simulate_linear_chain

    backends = ["numba"] + (["cuda"] if _real_gpu() else [])
    repeats = 1 if quick else 3
    report = [
        f"collapse benchmark ({'quick' if quick else 'full'}; numba threads: {numba.get_num_threads()};"
        f" GPU: {'yes' if 'cuda' in backends else 'none visible'})"
    ]
    for mode in ("replace", "accumulate"):

        def linear(states, backend, mode=mode):
            return simulate_linear_chain(states, d=32, T=316, sigma2=1.0, iterations=50, mode=mode, backend=backend)

        report += _rows(
            f"linear chain, {mode}: d=32, T=316, 50 iterations",
            linear,
            np.asarray,
            4 if quick else 20,
            200 if quick else 2000,
            repeats,
            backends,
        )

    def gaussian(states, backend):
        return simulate_gaussian_chain(
            states, M=100, generations=1000, fit="unbiased", mode="replace", record=[0, 10, 100, 1000], backend=backend
        )

    report += _rows(
        "gaussian chain, unbiased replace: M=100, 1000 generations",
        gaussian,
        lambda c: c.trace,
        4 if quick else 20,
        400 if quick else 4000,
        repeats,
        backends,
    )
    return "\n".join(report)
