"""Summaries over replications and log–log rate fits.

Every summary over ``rep`` in simkit comes from :func:`summarize`; every log–log slope from
:func:`loglog_slope` (statsmodels OLS with a confidence interval).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr
from scipy import stats as _sps

__all__ = ["summarize", "loglog_slope", "SlopeFit", "student_t"]


def student_t(count, level=0.95):
    """Two-sided Student-t quantile for ``count`` observations (normal quantile for large counts).

    The multiplier ``t`` of a ``level`` confidence interval ``mean ± t·se`` from ``count``
    values: the ``0.5 + level/2`` quantile of Student's t with ``count − 1`` degrees of freedom
    (at least 1).

    Parameters
    ----------
    count : int or array_like
        Number of observations behind each mean.
    level : float, optional
        Confidence level, in (0, 1); default 0.95.

    Returns
    -------
    numpy.ndarray of float, same shape as ``count``
        The quantile (dimensionless; a 0-d array for a scalar ``count``).

    Examples
    --------
    >>> round(float(student_t(2)), 3)
    12.706
    >>> round(float(student_t(10**6)), 3)
    1.96
    >>> student_t([3, 30]).round(3)
    array([4.303, 2.045])
    """
    count = np.asarray(count, dtype=float)
    with np.errstate(invalid="ignore"):
        return _sps.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1))


def summarize(da: xr.DataArray, dim: str = "rep", level: float = 0.95) -> xr.Dataset:
    """Mean, standard error, ``level`` confidence interval and count of ``da`` over ``dim``.

    NaNs are ignored (they do not count).  The interval is ``mean ± t·se`` with the Student-t
    quantile for the number of non-NaN values.

    Parameters
    ----------
    da : xarray.DataArray
        Values with a ``dim`` dimension.
    dim : str
        Dimension to summarise over.
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Variables ``mean``, ``se``, ``lower``, ``upper`` (in ``da``'s units, which they carry in
        ``attrs["units"]``) and ``count`` (non-NaN values, as float), each with ``da``'s
        dimensions less ``dim``; ``attrs["level"]`` is ``level``.

    Examples
    --------
    >>> s = summarize(xr.DataArray([1.0, 2.0, 3.0], dims="rep"))
    >>> float(s["mean"]), float(s["count"])
    (2.0, 3.0)
    """
    count = da.notnull().sum(dim)
    mean = da.mean(dim, skipna=True)
    sd = da.std(dim, ddof=1, skipna=True)
    se = sd / np.sqrt(count.where(count > 0))
    half = xr.apply_ufunc(lambda c: student_t(c, level), count) * se
    out = xr.Dataset({"mean": mean, "se": se, "lower": mean - half, "upper": mean + half, "count": count.astype(float)})
    out.attrs["level"] = level
    for name in ("mean", "lower", "upper", "se"):
        out[name].attrs.update({k: v for k, v in da.attrs.items() if k in ("units",)})
    return out


@dataclasses.dataclass(frozen=True)
class SlopeFit:
    """Result of a log–log fit ``log y = intercept + slope · log x`` (see :func:`loglog_slope`).

    Parameters
    ----------
    slope : float
        The fitted exponent (dimensionless).
    lower, upper : float
        Its confidence interval at the fit's level.
    intercept : float
        The fitted ``log y`` at ``x = 1`` (natural log).
    stderr : float
        Standard error of the slope (NaN with no residual degrees of freedom, 0 for an exact fit).
    n : int
        Number of points fitted.

    Examples
    --------
    >>> fit = SlopeFit(slope=-1.0, lower=-1.1, upper=-0.9, intercept=0.0, stderr=0.05, n=4)
    >>> fit.lower <= fit.slope <= fit.upper
    True
    """

    slope: float
    lower: float
    upper: float
    intercept: float
    stderr: float
    n: int


def loglog_slope(x, y, level: float = 0.95, weights=None) -> SlopeFit:
    """Least-squares slope of ``log y`` on ``log x`` with its ``level`` confidence interval.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Positive values (n >= 3).
    level : float, optional
        Confidence level of the slope's interval, in (0, 1); default 0.95.
    weights : array_like, shape (n,), optional
        Weights for weighted least squares (e.g. inverse variances of ``log y``).

    Returns
    -------
    SlopeFit
        The slope with its interval and standard error, the intercept (natural log) and the
        number of points.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length, have fewer than 3 points, or are not positive.

    Examples
    --------
    >>> fit = loglog_slope([1, 10, 100, 1000], [1, 0.1, 0.01, 0.001])
    >>> round(fit.slope, 6)
    -1.0
    >>> fit.n, abs(round(fit.intercept, 6))  # abs: rounding may give -0.0
    (4, 0.0)
    """
    import statsmodels.api as sm

    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < 3:
        raise ValueError("loglog_slope needs x and y of the same length, at least 3 points")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("loglog_slope needs positive x and y")
    design = sm.add_constant(np.log(x))
    model = sm.WLS(np.log(y), design, weights=weights) if weights is not None else sm.OLS(np.log(y), design)
    res = model.fit()
    if x.size == 2 or res.df_resid <= 0:
        lo = hi = float(res.params[1])
        se = float("nan")
    else:
        lo, hi = res.conf_int(alpha=1 - level)[1]
        se = float(res.bse[1])
    if not np.isfinite(se) and np.allclose(res.resid, 0):
        lo = hi = float(res.params[1])
        se = 0.0
    return SlopeFit(float(res.params[1]), float(lo), float(hi), float(res.params[0]), se, int(x.size))
