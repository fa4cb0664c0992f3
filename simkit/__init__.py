"""simkit: Monte Carlo simulations of model misspecification beside the theory that predicts them.

Families: model collapse (:mod:`simkit.collapse`), bandits (:mod:`simkit.bandits`),
regression (:mod:`simkit.regression`) and inverse RL (:mod:`simkit.irl`).  Studies (reproduced
figures) live in :mod:`simkit.studies`; run one with :func:`run_study` or ``simkit run``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    BackendError,
    ConvergenceError,
    OutputError,
    ParameterError,
    ParameterTypeError,
    SimkitError,
    StudyError,
)

__all__ = [
    "__version__",
    "SimkitError",
    "ParameterError",
    "ParameterTypeError",
    "BackendError",
    "StudyError",
    "OutputError",
    "ConvergenceError",
    "run_study",
    "get_study",
    "all_studies",
]


def __getattr__(name):
    if name == "run_study":
        from .api import run_study

        return run_study
    if name in ("get_study", "all_studies"):
        from . import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'simkit' has no attribute {name!r}")
