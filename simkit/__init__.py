"""simkit: Monte Carlo simulations of model misspecification beside the theory that predicts them.

Families: model collapse (:mod:`simkit.collapse`), bandits (:mod:`simkit.bandits`),
regression (:mod:`simkit.regression`), inverse RL (:mod:`simkit.irl`), and covariate shift,
preferences, calibration and continual learning (:mod:`simkit.shift_preferences`).  Studies
(reproduced figures) live in :mod:`simkit.studies`; run one with :func:`run_study` or
``simkit run``.

What ``import simkit`` gives (``__all__``): ``__version__``; the exceptions of
:mod:`simkit.errors`, every one a :class:`~simkit.errors.SimkitError`; :func:`run_study`
(:func:`simkit.api.run_study`); and :func:`get_study` and :func:`all_studies`
(:mod:`simkit.registry`).  The functions are imported on first use, so ``import simkit`` is quick.

Examples
--------
>>> import simkit
>>> simkit.__version__
'0.1.0'
>>> issubclass(simkit.ParameterError, (simkit.SimkitError, ValueError))
True

Run a study's quick settings in memory (seconds; not run here)::

    result = simkit.run_study("collapse-gaussian", quick=True, out=None, progress=False)
    [check.outcome for check in result.checks]
"""

from __future__ import annotations

import os as _os

#: The version string of the package (PEP 440); the one place it is written (pyproject.toml reads it).
__version__ = "0.1.0"


def _source_checkout_root():
    """The repository root when this package is imported from a source checkout, else None.

    ``simkit.kernels`` and ``simkit.studies`` live in the top-level folders ``kernels/`` and
    ``studies/`` (mapped by setuptools ``package-dir``).  Imported from the repository root
    (the current folder first on ``sys.path``), this folder shadows any installed copy and has
    no such subfolders; :class:`_MappedSubpackages` then finds those two there, so the source
    checkout behaves like the installed package whichever way it was installed.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    root = _os.path.dirname(here)
    if _os.path.isdir(_os.path.join(here, "kernels")):
        return None  # an installed copy: the subpackages are inside
    marks = ("pyproject.toml", _os.path.join("kernels", "__init__.py"), _os.path.join("studies", "__init__.py"))
    if all(_os.path.isfile(_os.path.join(root, m)) for m in marks):
        return root
    return None


class _MappedSubpackages:
    """A meta-path finder for exactly ``simkit.kernels`` and ``simkit.studies`` in a checkout."""

    def __init__(self, root):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        sub = {f"{__name__}.kernels": "kernels", f"{__name__}.studies": "studies"}.get(fullname)
        if sub is None:
            return None
        import importlib.util

        folder = _os.path.join(self.root, sub)
        return importlib.util.spec_from_file_location(
            fullname, _os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )


if (_root := _source_checkout_root()) is not None:
    import sys as _sys

    if not any(isinstance(f, _MappedSubpackages) for f in _sys.meta_path):
        _sys.meta_path.insert(0, _MappedSubpackages(_root))


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
