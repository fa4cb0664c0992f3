"""Model collapse: recursive training on a model's own outputs, replace vs accumulate.

Simulations (each on the ``numpy``, ``numba`` and ``cuda`` backends, from per-replication
streams):

- :func:`simulate_linear_chain` — OLS/ridge refits on labels of the previous fit (Gerstgrasser et al. 2024);
- :func:`simulate_generator_ridge` — generator chain plus downstream ridge (Dohmatob et al. 2024);
- :func:`simulate_gaussian_chain` — refitting a Gaussian to its own samples (Shumailov et al. 2024);
- :func:`simulate_kde_chain` — resampling from a kernel density estimate of the previous data.

Closed-form predictions are in :mod:`simkit.collapse.theory`.
"""

from .gaussian import GaussianChain, log_generations, simulate_gaussian_chain
from .generator import simulate_generator_ridge
from .kde import simulate_kde_chain
from .linear import simulate_linear_chain

__all__ = [
    "simulate_linear_chain",
    "simulate_generator_ridge",
    "simulate_gaussian_chain",
    "simulate_kde_chain",
    "GaussianChain",
    "log_generations",
]
