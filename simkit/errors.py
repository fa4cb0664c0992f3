"""Exceptions raised by simkit.

Every error caused by bad input derives from :class:`SimkitError`; the command line turns
it into one line on stderr and exit status 2.
"""

from __future__ import annotations


class SimkitError(Exception):
    """Base class of every simkit error caused by bad input or an unavailable resource."""


class ParameterError(SimkitError, ValueError):
    """A parameter has a value outside its allowed range."""


class ParameterTypeError(SimkitError, TypeError):
    """A parameter has the wrong type."""


class BackendError(SimkitError, RuntimeError):
    """A requested backend is unknown or not available on this machine."""


class StudyError(SimkitError, LookupError):
    """An unknown study name, or a study that cannot be loaded."""


class OutputError(SimkitError, OSError):
    """An output location that cannot be written, or an input file that cannot be read."""


class ConvergenceError(SimkitError, ArithmeticError):
    """An iterative solver did not reach its tolerance."""
