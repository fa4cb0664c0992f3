"""Benchmark: batched soft value iteration for many random MDPs (``simkit bench irl``).

Soft value iteration (α = 1, γ = 0.95, tol = 1e-8) for a batch of random MDPs of 32 states × 4
actions, by a straightforward per-MDP NumPy loop (:func:`simkit.irl.reference.bellman_loop`, the
baseline), the array code vectorised over the batch (``xp = numpy``; ``cupy`` when a GPU is
visible), the Numba CPU kernel (parallel over MDPs) and, on a GPU, the Numba-CUDA kernel.  Every
variant's answer is compared with the baseline's.  Timings are wall-clock seconds, best of
``repeats`` runs after a warm-up (compilation excluded), with the process CPU time of that run.
"""

from __future__ import annotations

import numpy as np

from ..timing import best_of

__all__ = ["main"]


def main(quick: bool = False) -> str:
    """Run the benchmark and return a printable report.

    Parameters
    ----------
    quick : bool
        128 MDPs and one repeat instead of 1,024 MDPs and three repeats.
    """
    import numba

    from ..backends import _real_gpu, to_numpy
    from ..rng import rep_states
    from .mdp import expected_reward, random_mdps
    from .reference import bellman_loop
    from .solvers import bellman, bellman_xp

    n_mdps = 128 if quick else 1024
    repeats = 1 if quick else 3
    n_states, n_actions, gamma, alpha, tol = 32, 4, 0.95, 1.0, 1e-8
    tau, reward = random_mdps(rep_states(0, "irl-bench", {}, n_mdps), n_states, n_actions)
    rbar = expected_reward(reward, tau)

    rows = []
    base_t, cpu, (q_ref, _) = best_of(lambda: bellman_loop(tau, rbar, gamma, alpha, tol), 1)
    rows.append(("per-MDP numpy loop (baseline)", (base_t, cpu), 0.0))

    def run(backend):
        return bellman(tau, rbar, gamma, alpha, tol=tol, backend=backend)

    run("numba")  # compile
    wall, cpu, (q, _) = best_of(lambda: run("numba"), repeats)
    rows.append((f"numba kernel ({numba.get_num_threads()} threads)", (wall, cpu), float(np.abs(q - q_ref).max())))
    wall, cpu, (q, _) = best_of(lambda: run("numpy"), repeats)
    rows.append(("xp array code, numpy", (wall, cpu), float(np.abs(q - q_ref).max())))
    if _real_gpu():
        try:
            import cupy

            d_tau, d_rbar = cupy.asarray(tau), cupy.asarray(rbar)
            v0 = cupy.zeros((n_mdps, n_states))

            def on_gpu():
                q, v, _ = bellman_xp(d_tau, d_rbar, gamma, alpha, tol, 100_000, v0, cupy)
                cupy.cuda.Device().synchronize()
                return q

            on_gpu()
            wall, cpu, q = best_of(on_gpu, repeats)
            rows.append(("xp array code, cupy (GPU)", (wall, cpu), float(np.abs(to_numpy(q) - q_ref).max())))
        except ImportError:
            rows.append(("xp array code, cupy (GPU): cupy not installed", (float("nan"), float("nan")), float("nan")))
        run("cuda")
        wall, cpu, (q, _) = best_of(lambda: run("cuda"), repeats)
        rows.append(("numba-cuda kernel (GPU)", (wall, cpu), float(np.abs(q - q_ref).max())))

    lines = [
        f"irl: soft value iteration, {n_mdps} MDPs of {n_states} states x {n_actions} actions, "
        f"gamma={gamma}, alpha={alpha}, tol={tol:g} (best of {repeats})",
        f"{'variant':44s} {'wall s':>9s} {'speed-up':>9s} {'cpu s':>9s} {'max |dQ|':>10s}",
    ]
    for name, (wall, cpu), err in rows:
        lines.append(f"{name:44s} {wall:9.4f} {base_t / wall:8.1f}x {cpu:9.4f} {err:10.2e}")
    lines.append("speed-up = baseline wall / wall; cpu s = process CPU time of all threads (on a shared machine,")
    lines.append("wall > cpu / threads means the threads did not get their cores).")
    return "\n".join(lines)
