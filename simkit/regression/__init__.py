"""The regression family: ridgeless, sketched and kernel ridge regression beside their theory.

.. rubric:: Modules

:mod:`~simkit.regression.theory`
    Theorem 3.2 limits, full-sample limits, exact finite-size Gaussian risks, the optimal sketch
    size m* and the stable risk curve, the correlated-feature fixed point, KRR rate exponents and
    lambda schedule, and the untruncated sine series behind the KRR targets.
:mod:`~simkit.regression.sketches`
    Haar, SRHT (fast Walsh–Hadamard kernel on numpy/numba/cuda) and Gaussian sketches.
:mod:`~simkit.regression.linear`
    Data generators, stable (SVD/QR, documented rank cutoff) ridgeless and ridge estimators, exact
    bias and variance per draw, and the batched simulators used by the studies.
:mod:`~simkit.regression.krr`
    Known-spectrum kernels on [0, 1], misspecified targets, the O(n) Markov-kernel solver, the
    eigendecomposition lambda path and exact L2 errors.
:mod:`~simkit.regression.datasets`
    xarray packaging and the checks shared by the linear-regression studies.
:mod:`~simkit.regression.bench`
    ``simkit bench regression``.

Studies: ``ridgeless-double-descent``, ``sketched-risk``, ``sketched-optimal-m``,
``sketched-correlated``, ``sketched-correlated-optimal-m``, ``sketched-practical``, ``krr-rates``,
``krr-lambda``.
"""

from .krr import krr_markov, simulate_krr
from .linear import simulate_path, simulate_sketched, simulate_validated
from .sketches import apply_sketches, draw_sketch, fwht

__all__ = [
    "simulate_path",
    "simulate_sketched",
    "simulate_validated",
    "simulate_krr",
    "krr_markov",
    "fwht",
    "apply_sketches",
    "draw_sketch",
]
