"""Performance report of the regression family (``simkit bench regression``).

Measures, on this machine:

1. the ``sketched-risk`` study at full settings (or a reduced number of replications when quick);
2. the cost of drawing and applying an SRHT against a Haar sketch and a CountSketch as ``n`` grows
   (``m = n/2``);
3. kernel ridge regression over a path of 20 lambdas against refitting scikit-learn's
   ``KernelRidge`` per lambda (computing the kernel in every fit, as a user would; also on a
   precomputed kernel): the tridiagonal path and the eigendecomposition path (Laplace kernel) and
   the O(n) Markov solver (Brownian-bridge kernel), with the largest relative difference of the fits;
4. the O(n) solver's time up to ``n = 10^6``;
5. the same SRHT and O(n)-solver timings on the ``cuda`` backend when a real GPU is visible.

BLAS/LAPACK run on one thread throughout (as inside the simulators), for both simkit and
scikit-learn: on a shared machine multi-threaded LAPACK timings are dominated by contention, and
the comparison stays like for like.  These are measurements, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import math
import os
import platform

import numpy as np

from ..timing import best_of

__all__ = ["main"]


def _machine():
    from ..backends import gpu_name

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, GPU: {gpu_name() or 'none'}"


def _study_time(quick):
    from ..api import run_study

    reps = 20 if quick else None
    load = os.getloadavg()
    wall, cpu, result = best_of(
        lambda: run_study("sketched-risk", reps=reps, out=None, progress=False, backend="numba"), 1
    )
    cells = int(np.prod([len(v) for v in result.study.grid.values()]))
    total = cells * result.dataset.sizes["rep"]
    passed = sum(c.passed for c in result.checks)
    return (
        f"sketched-risk, full grid ({cells} cells) x {result.dataset.sizes['rep']} replications: "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU in this process ({1e3 * wall / total:.2f} ms wall per grid point and "
        f"replication; one sketch per replication serves every alpha and psi); load average before/after "
        f"{load[0]:.2f}/{os.getloadavg()[0]:.2f}; checks passed {passed}/{len(result.checks)}"
    )


def _sync(backend):
    if backend == "cuda":
        from ..backends import get_xp

        xp = get_xp(backend)
        if xp is not np:
            xp.cuda.Device().synchronize()


def _sketch_costs(quick, backend="numba"):
    from ..backends import get_xp
    from ..rng import Stream, rep_states
    from .sketches import apply_sketches, draw_sketch

    ns = (256, 512, 1024) if quick else (512, 1024, 2048, 4096)
    p = 50
    lines = [
        f"sketch S A with A of shape (n, {p}), m = n/2, draw + apply, backend {backend} (best of 3; "
        "countsketch: O(n p) scatter-add, not in the paper):",
        "      n    srht [s]    haar [s]   haar/srht  countsketch [s]  srht/countsketch",
    ]
    for n in ns:
        a = get_xp(backend).asarray(np.random.default_rng(0).standard_normal((1, n, p)))
        state = rep_states(0, "bench", {"n": n}, 1)[0]
        times = {}
        for kind in ("srht", "haar", "countsketch"):

            def run():
                sk = draw_sketch(kind, n // 2, n, Stream(state.copy()))
                apply_sketches([sk], a, backend)
                _sync(backend)

            run()
            times[kind] = best_of(run)[0]
        lines.append(
            f"{n:7d} {times['srht']:11.4f} {times['haar']:11.4f} {times['haar'] / times['srht']:11.1f}"
            f" {times['countsketch']:16.5f} {times['srht'] / times['countsketch']:17.1f}"
        )
    return lines


def _krr_against_sklearn(quick):
    from sklearn.kernel_ridge import KernelRidge

    from ..rng import Stream, rep_states
    from .krr import draw_sample, kernel_matrix, krr_eigen_path, krr_markov, krr_tridiagonal_path

    n = 1000 if quick else 4000
    lams = np.logspace(-6, -1, 20)
    length = 0.2
    x, y = draw_sample(Stream(rep_states(0, "bench-krr", {}, 1)[0].copy()), n, 0.5, 0.5)
    lines = [
        f"kernel ridge regression, n = {n}, 20 lambdas; scikit-learn refits KernelRidge per lambda and computes "
        "the kernel in every fit and predict, as a user would (KernelRidge(kernel='laplacian', gamma=1/l) for the "
        "Laplace kernel); simkit's times include computing its kernel matrix once:"
    ]
    xs2 = x[:, None]

    def sklearn_laplace():
        return np.stack(
            [KernelRidge(alpha=n * lam, kernel="laplacian", gamma=1 / length).fit(xs2, y).predict(xs2) for lam in lams]
        )

    k_laplace = kernel_matrix("laplace", x, x, length)

    def sklearn_precomputed():
        return np.stack(
            [KernelRidge(alpha=n * lam, kernel="precomputed").fit(k_laplace, y).predict(k_laplace) for lam in lams]
        )

    def eigen():
        return krr_eigen_path(kernel_matrix("laplace", x, x, length), y, lams)[1]

    def tridiagonal():
        return krr_tridiagonal_path(kernel_matrix("laplace", x, x, length), y, lams)[1]

    # interleaved, best of two: contention on a shared machine hits every method alike
    times = {name: math.inf for name in ("sklearn", "precomputed", "eigen", "tridiagonal")}
    funcs = {"sklearn": sklearn_laplace, "precomputed": sklearn_precomputed, "eigen": eigen, "tridiagonal": tridiagonal}
    for _ in range(1 if quick else 2):
        for name, func in funcs.items():
            times[name] = min(times[name], best_of(func, 1)[0])
    ref = sklearn_laplace()
    for name, label in (
        ("tridiagonal", "tridiagonal path (one Householder reduction K = Q T Q^T, O(n) solve per lambda)"),
        ("eigen", "eigendecomposition path (one eigh, K = U diag(d) U^T)"),
    ):
        mine = funcs[name]()
        rel = float(np.max(np.abs(mine - ref)) / np.max(np.abs(ref)))
        lines.append(
            f"  Laplace kernel, {label}: {times[name]:.2f} s vs scikit-learn {times['sklearn']:.2f} s -> "
            f"{times['sklearn'] / times[name]:,.2f}x (max relative difference of fitted values {rel:.1e}); "
            f"vs scikit-learn on a precomputed kernel ({times['precomputed']:.2f} s): "
            f"{times['precomputed'] / times[name]:,.2f}x"
        )
    lines.append(
        f"    (the tridiagonal reduction costs about {times['tridiagonal'] / (times['precomputed'] / lams.size):.1f} "
        "precomputed-kernel scikit-learn fits: the path wins from that many lambdas on)"
    )
    k = kernel_matrix("brownian_bridge", x, x)

    def sklearn_path():
        return np.stack([KernelRidge(alpha=n * lam, kernel="precomputed").fit(k, y).predict(k) for lam in lams])

    xs, ys = np.broadcast_to(x, (lams.size, n)).copy(), np.broadcast_to(y, (lams.size, n)).copy()

    def ours():
        return krr_markov(xs, ys, lams, "brownian_bridge")[1]

    ours()
    t_ref = best_of(sklearn_path, 1)[0]
    t_ours = best_of(ours, 5)[0]
    ref, mine = sklearn_path(), ours()
    rel = float(np.max(np.abs(mine - ref)) / np.max(np.abs(ref)))
    lines.append(
        f"  Brownian-bridge kernel, O(n) tridiagonal solver: {t_ours:.4f} s vs scikit-learn {t_ref:.2f} s "
        f"(precomputed kernel) -> {t_ref / t_ours:,.0f}x (max relative difference of fitted values {rel:.1e})"
    )
    return lines


def _markov_scaling(quick, backend="numba"):
    from ..rng import Stream, rep_states
    from .krr import draw_sample, krr_markov

    ns = (10**3, 10**4, 10**5) if quick else (10**3, 10**4, 10**5, 10**6)
    lines = [f"O(n) Brownian-bridge KRR solve (one lambda, including input checks), backend {backend} (best of 10):"]
    for n in ns:
        x, y = draw_sample(Stream(rep_states(0, "bench-markov", {"n": n}, 1)[0].copy()), n, 0.5, 0.5)
        x, y = x[None], y[None]
        krr_markov(x, y, 1e-4, backend=backend)
        t = best_of(lambda: krr_markov(x, y, 1e-4, backend=backend), 10)[0]
        lines.append(f"  n = {n:>9,d}: {t * 1e3:9.2f} ms ({t / n * 1e9:.0f} ns per point)")
    return lines


def main(quick: bool = False) -> str:
    """Run the regression benchmarks and return a printable report.

    Parameters
    ----------
    quick : bool
        Smaller sizes (seconds instead of minutes); the study timing then uses 20 replications.

    Returns
    -------
    str
    """
    from ..backends import _real_gpu
    from .linear import single_threaded_blas

    with single_threaded_blas("numba"):
        return _report(quick, _real_gpu())


def _report(quick, gpu):
    lines = [f"simkit regression benchmarks ({'quick' if quick else 'full'}) on {_machine()}", ""]
    lines.append(_study_time(quick))
    lines.append("")
    lines += _sketch_costs(quick)
    lines.append("")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        lines.append(
            "kernel ridge against scikit-learn: skipped, scikit-learn is not installed "
            "(pip install 'simkit[bench]' adds it)"
        )
    else:
        lines += _krr_against_sklearn(quick)
    lines.append("")
    lines += _markov_scaling(quick)
    if gpu:
        lines.append("")
        lines += _sketch_costs(quick, backend="cuda")
        lines += _markov_scaling(quick, backend="cuda")
    else:
        lines += ["", "cuda: no GPU visible, GPU timings skipped"]
    return "\n".join(lines)
