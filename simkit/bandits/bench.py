"""Throughput of the bandit simulators: pulls per second for K-armed policies, rounds per second for DS-OFUL.

``simkit bench bandits`` prints :func:`main`'s report.  Targets (issue 3): ``numba`` >= 1e7 pulls/s per
core for UCB1 and >= 5e6 for VarTS (K = 10); DS-OFUL (d = 16, 100 arms) >= 1e5 rounds/s per core.
Every timing excludes compilation (one warm-up call first) and takes the best of ``repeat`` runs.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from ..backends import _real_gpu, cuda_simulated
from ..rng import rep_states
from ..timing import best_of
from .karmed import NormalGamma, Policy, simulate_karmed
from .linear import LinearPolicy, make_fresh_contexts, make_instance, simulate_linear

__all__ = ["main", "measure"]

KARMED = {
    "ucb1": Policy("ucb1"),
    "ts": Policy("ts-known"),
    "varts": Policy("varts", {"prior": NormalGamma(0.0, 1.0, 2.0, 0.5)}),
}
TARGETS = {"ucb1": 1e7, "ts": None, "varts": 5e6, "ds-oful": 1e5, "ds-oful-fresh": None}


def measure(name: str, backend: str, reps: int, horizon: int, threads: int | None = None, repeat: int = 3) -> float:
    """Steps per second (pulls for K-armed policies, rounds for ``ds-oful``) of one configuration.

    Parameters
    ----------
    name : {"ucb1", "ts", "varts", "ds-oful", "ds-oful-fresh"}
        ``ds-oful-fresh`` draws 100 fresh contexts every round (O(n d^2) per round).
    backend : {"numpy", "numba", "cuda"}
    reps, horizon : int
        Replications and rounds per replication of the timed call.
    threads : int, optional
        Numba threads for the call (1 = per-core throughput); default: all.
    """
    states = rep_states(0, "bench-bandits", {"name": name}, reps)
    grid = np.array([horizon])
    if name.startswith("ds-oful"):
        inst = (
            make_fresh_contexts(16, 100, 0.02, seed=0)
            if name == "ds-oful-fresh"
            else make_instance(16, 100, 0.18, 0.02, seed=0)
        )
        pol = LinearPolicy("ds-oful", 0.05, beta=3.0, lam=10.0)

        def run():
            simulate_linear(states, inst, pol, horizon, grid=grid, backend=backend)
    else:
        pol = KARMED[name]

        def run():
            simulate_karmed(
                states, pol, horizon, prior=NormalGamma(0.0, 1.0, 2.0, 0.5), K=10, grid=grid, backend=backend
            )

    before = numba.get_num_threads()
    try:
        if threads is not None:
            numba.set_num_threads(threads)
        seconds = best_of(run, repeat, warmup=True)[0]
    finally:
        numba.set_num_threads(before)
    return reps * horizon / seconds


def main(quick: bool = False) -> str:
    """Measure every configuration and return a printable report (numpy vs numba, cuda on a real GPU)."""
    scale = 1 if quick else 4
    rows = []
    cores = numba.get_num_threads()
    for name in ("ucb1", "ts", "varts", "ds-oful", "ds-oful-fresh"):
        linear = name.startswith("ds-oful")
        horizon = (200 if name == "ds-oful-fresh" else 2_000) if linear else 10_000
        reference = measure(name, "numpy", 1, 200 if linear else 1_000, repeat=1)
        one = measure(name, "numba", 4 * scale, horizon, threads=1)
        every = measure(name, "numba", 16 * scale * cores, horizon)
        gpu = measure(name, "cuda", 4096 * scale, horizon // 10) if _real_gpu() else None
        rows.append((name, reference, one, every, gpu))
    unit = {"ds-oful": "rounds/s", "ds-oful-fresh": "rounds/s"}
    lines = [
        f"bandits throughput ({'quick' if quick else 'full'}; {os.cpu_count()} CPUs, numba threads {cores}; "
        f"K = 10 arms, DS-OFUL d = 16 with 100 arms)",
        f"{'policy':<14}{'numpy':>12}{'numba 1 core':>15}{'numba all':>13}{'cuda':>12}{'target/core':>13}  unit",
    ]
    for name, reference, one, every, gpu in rows:
        target = TARGETS[name]
        lines.append(
            f"{name:<14}{reference:>12.3g}{one:>15.3g}{every:>13.3g}{(f'{gpu:.3g}' if gpu else '-'):>12}"
            f"{(f'{target:.0e}' if target else '-'):>13}  {unit.get(name, 'pulls/s')}"
        )
    if cuda_simulated():
        lines.append("cuda: not measured under the CUDA simulator")
    elif not _real_gpu():
        lines.append("cuda: no GPU on this machine")
    return "\n".join(lines)
