"""Validation shared by the collapse API: modes and fits, sample sizes.

States and backends are validated by :func:`simkit.backends.check_states` and
:func:`simkit.backends.check_backend`, as in every family.
"""

from __future__ import annotations

from ..errors import ParameterError
from ..validation import check_choice

__all__ = ["MODES", "FITS", "check_mode", "check_fit", "check_ols_size"]

MODES = ("replace", "accumulate")
FITS = ("unbiased", "mle")


def check_mode(mode: str) -> int:
    """``0`` for ``"replace"``, ``1`` for ``"accumulate"``."""
    return MODES.index(check_choice("mode", mode, MODES))


def check_fit(fit: str) -> int:
    """The variance divisor offset: ``1`` for ``"unbiased"`` (ddof 1), ``0`` for ``"mle"``."""
    return 1 if check_choice("fit", fit, FITS) == "unbiased" else 0


def check_ols_size(T: int, d: int, name: str = "T") -> None:
    """Raise unless ``T ≥ d + 2`` (OLS with a finite expected test error needs it)."""
    if T < d + 2:
        raise ParameterError(
            f"{name} must be at least d + 2 = {d + 2} for an OLS fit (got {name}={T}, d={d}); "
            f"use more samples or a ridge penalty"
        )
