"""Exceptions raised by simkit.

Every error caused by bad input derives from :class:`SimkitError`; the command line turns
it into one line on stderr and exit status 2.  Each class also derives from the built-in
exception that fits it (``ValueError``, ``TypeError``, ...), so ordinary ``except`` clauses
catch it too.
"""

from __future__ import annotations


class SimkitError(Exception):
    """Base class of every simkit error caused by bad input or an unavailable resource.

    Catch this to handle any simkit error; the message is one line that names the offending
    parameter, file or backend.

    Parameters
    ----------
    message : str
        One line saying what is wrong and, where it helps, what is allowed.

    Examples
    --------
    >>> from simkit.errors import ParameterError, SimkitError
    >>> try:
    ...     raise ParameterError("reps must be >= 1, got 0")
    ... except SimkitError as exc:
    ...     print(type(exc).__name__, "-", exc)
    ParameterError - reps must be >= 1, got 0
    """


class ParameterError(SimkitError, ValueError):
    """A parameter has a value outside its allowed range.

    Also a ``ValueError``.

    Parameters
    ----------
    message : str
        One line naming the parameter, its allowed range and the value given.

    Examples
    --------
    >>> from simkit.study import Param
    >>> try:
    ...     Param("reps", int, low=1).validate(0)
    ... except ParameterError as exc:
    ...     print(isinstance(exc, ValueError), exc)
    True reps must be in [1, inf], got 0
    """


class ParameterTypeError(SimkitError, TypeError):
    """A parameter has the wrong type.

    Also a ``TypeError``.

    Parameters
    ----------
    message : str
        One line naming the parameter, the expected type and the value given.

    Examples
    --------
    >>> from simkit.study import Param
    >>> try:
    ...     Param("fit", str).validate(3)
    ... except ParameterTypeError as exc:
    ...     print(isinstance(exc, TypeError), exc)
    True fit must be a string, got 3
    """


class BackendError(SimkitError, RuntimeError):
    """A requested backend is unknown or not available on this machine.

    Also a ``RuntimeError``.  Raised, for example, for ``backend="cuda"`` without a GPU (and
    without Numba's CUDA simulator).

    Parameters
    ----------
    message : str
        One line naming the backend and why it cannot be used.

    Examples
    --------
    >>> issubclass(BackendError, RuntimeError)
    True
    """


class StudyError(SimkitError, LookupError):
    """An unknown study name, or a study that cannot be loaded.

    Also a ``LookupError``.

    Parameters
    ----------
    message : str
        One line naming the study and the known choices.

    Examples
    --------
    >>> issubclass(StudyError, LookupError)
    True

    ``simkit.get_study("no-such-study")`` raises it, naming the registered studies.
    """


class OutputError(SimkitError, OSError):
    """An output location that cannot be written, or an input file that cannot be read.

    Also an ``OSError``.

    Parameters
    ----------
    message : str
        One line naming the file or folder and the reason.

    Examples
    --------
    >>> from simkit.storage import read_dataset
    >>> try:
    ...     read_dataset("no/such/file.nc")
    ... except OutputError as exc:
    ...     print(exc)
    no/such/file.nc: no such file
    """


class ConvergenceError(SimkitError, ArithmeticError):
    """An iterative solver did not reach its tolerance.

    Also an ``ArithmeticError``.

    Parameters
    ----------
    message : str
        One line naming the solver, its tolerance and how far it got.

    Examples
    --------
    >>> issubclass(ConvergenceError, ArithmeticError)
    True
    """
