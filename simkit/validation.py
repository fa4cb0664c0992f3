"""Small validators that name the parameter and the allowed range in their message.

Each returns the validated value (converted to the canonical Python type) or raises
:class:`~simkit.errors.ParameterError` / :class:`~simkit.errors.ParameterTypeError`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ParameterError, ParameterTypeError

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_array",
]


def check_int(name, value, *, low=None, high=None):
    """Return ``value`` as an ``int`` after checking ``low <= value <= high``.

    Booleans and non-integral floats are rejected.

    >>> check_int("reps", 10, low=1)
    10
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            if math.isfinite(value) and float(value).is_integer():
                value = int(value)
            else:
                raise ParameterTypeError(f"{name} must be an integer, got {value!r}")
        else:
            raise ParameterTypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    _check_range(name, value, low, high, True, True)
    return value


def check_real(name, value, *, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """Return ``value`` as a finite ``float`` inside the given bounds.

    >>> check_real("sigma2", 0.5, low=0)
    0.5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(
            f"{name} must be a finite number in {_range_text(low, high, low_inclusive, high_inclusive)}, got {value}"
        )
    _check_range(name, value, low, high, low_inclusive, high_inclusive)
    return value


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("mode", "replace", ("replace", "accumulate"))
    'replace'
    """
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_array(name, value, *, ndim=None, shape=None, low=None, high=None, finite=True, dtype=float):
    """Return ``value`` as a NumPy array after checking dimensions, shape, finiteness and bounds.

    ``shape`` may contain ``None`` for free axes.
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ParameterTypeError(f"{name} must be an array of numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ParameterError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ParameterError(f"{name} must have shape {want}, got {arr.shape}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must contain only finite values")
    if low is not None and arr.size and np.min(arr) < low:
        raise ParameterError(f"{name} must be >= {low}, got a minimum of {np.min(arr):g}")
    if high is not None and arr.size and np.max(arr) > high:
        raise ParameterError(f"{name} must be <= {high}, got a maximum of {np.max(arr):g}")
    return arr


def _range_text(low, high, low_inclusive, high_inclusive):
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    lo = "-inf" if low is None else _number(low)
    hi = "inf" if high is None else _number(high)
    return f"{left}{lo}, {hi}{right}"


def _number(x) -> str:
    # integers exactly (a bound like 2**128 - 1 or 10**9 must read as what it is), reals compactly
    if isinstance(x, numbers.Integral):
        return f"2**{x.bit_length()} - 1" if x > 10**15 and (x + 1) & x == 0 else str(int(x))
    return f"{x:g}"


def _check_range(name, value, low, high, low_inclusive, high_inclusive):
    bad = False
    if low is not None:
        bad |= value < low if low_inclusive else value <= low
    if high is not None:
        bad |= value > high if high_inclusive else value >= high
    if bad:
        raise ParameterError(
            f"{name} must be in {_range_text(low, high, low_inclusive, high_inclusive)}, got {_number(value)}"
        )
