"""The bandits family: regret of K-armed and linear contextual bandits under misspecification.

Papers: Saha & Kveton 2024, "Only Pay for What Is Uncertain: Variance-Adaptive Thompson Sampling"
(ICLR; VarTS) and Zhang, He, Fan, Gu 2023, "On the Interplay Between Misspecification and
Sub-optimality Gap in Linear Contextual Bandits" (ICML; DS-OFUL).  The formulas are in
:mod:`simkit.bandits.theory`.

.. rubric:: Modules

karmed
    :func:`~simkit.bandits.karmed.simulate_karmed` (Gaussian / Bernoulli / Beta rewards, fixed or
    prior-drawn instances; UCB1, UCB-V, KL-UCB, Gaussian TS, VarTS, Bernoulli TS), :class:`NormalGamma`,
    :class:`Policy`, :func:`log_grid`.
linear
    :func:`~simkit.bandits.linear.simulate_linear` (OFUL / DS-OFUL, SupLinUCB, linear TS on a fixed arm
    set), :func:`make_instance` (instances with a chosen minimal gap), :class:`LinearPolicy`.
reference, linear_reference
    The readable NumPy implementations (test oracles, backend ``numpy``).
theory
    Regret bounds and thresholds (UCB1, Lai–Robbins, Delta/sqrt(d), the paper's table).
priors
    Fitting a Normal-Gamma prior to earlier instances.
datasets
    Results to xarray datasets; per-run statistics (late share of regret, linear-regret runs).
bench
    Throughput report for ``simkit bench bandits``.

Kernels live in :mod:`simkit.kernels.bandits_karmed` and :mod:`simkit.kernels.bandits_linear`.
"""

from .karmed import ENVIRONMENTS, POLICIES, KArmedResult, NormalGamma, Policy, log_grid, simulate_karmed
from .linear import LINEAR_POLICIES, LinearInstance, LinearPolicy, LinearResult, make_instance, simulate_linear

__all__ = [
    "ENVIRONMENTS",
    "POLICIES",
    "KArmedResult",
    "NormalGamma",
    "Policy",
    "log_grid",
    "simulate_karmed",
    "LINEAR_POLICIES",
    "LinearInstance",
    "LinearPolicy",
    "LinearResult",
    "make_instance",
    "simulate_linear",
]
