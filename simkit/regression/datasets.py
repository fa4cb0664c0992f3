"""xarray packaging and checks shared by the linear-regression studies (risk, bias, variance)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import checks as ck
from ..stats import summarize

__all__ = [
    "ATTRS",
    "risk_dataset",
    "path_dataset",
    "points_dataset",
    "attach",
    "sketch_size",
    "finite_size_allowance",
    "limit_check",
    "sketch_comparison_checks",
    "FINITE_SIZE_FACTOR",
]

#: ``long_name``/``units`` of the variables written by the regression studies.
ATTRS = {
    "risk": ("out-of-sample excess risk ||beta_hat - beta||^2_Sigma (exact given X, S, beta)", "response^2"),
    "bias": ("squared bias ||E beta_hat - beta||^2_Sigma given X, S, beta", "response^2"),
    "variance": ("variance tr(Cov(beta_hat) Sigma) given X, S", "response^2"),
    "risk_theory": ("limiting risk (proportional asymptotics)", "response^2"),
    "bias_theory": ("limiting bias", "response^2"),
    "variance_theory": ("limiting variance", "response^2"),
    "risk_finite": ("exact expected risk at this finite size (Gaussian design; NaN where unknown)", "response^2"),
}

#: The finite-size allowance is this many times ``|limit| / (|m - p| - 1)``.
FINITE_SIZE_FACTOR = 2.0


def attach(ds, name, values, dims):
    """Add variable ``name`` with its :data:`ATTRS` to ``ds`` (in place) and return ``ds``."""
    long_name, units = ATTRS[name]
    ds[name] = xr.DataArray(np.asarray(values, dtype=float), dims=dims, attrs={"long_name": long_name, "units": units})
    return ds


def risk_dataset(result: dict) -> xr.Dataset:
    """A dataset with ``risk``, ``bias`` and ``variance`` over ``rep`` from a simulator's result dict."""
    ds = xr.Dataset()
    for name in ("risk", "bias", "variance"):
        attach(ds, name, result[name], ("rep",))
    return ds


def path_dataset(result: dict, alphas, dim, values) -> xr.Dataset:
    """``risk``, ``bias``, ``variance`` over ``(alpha, dim, rep)`` from :func:`~simkit.regression.linear.simulate_path`.

    Parameters
    ----------
    result : dict
        ``bias`` (for ``alpha = 1``) and ``variance``, each shape ``(rep, K)`` with ``K = len(values)``.
    alphas : array_like, shape (A,)
        Signal strengths: the bias is ``alpha^2`` times the unit bias, the variance does not depend on alpha.
    dim : str
        Name of the second dimension (e.g. ``"psi"``, ``"phi"``).
    values : array_like, shape (K,)
        Its coordinate values.

    Returns
    -------
    xarray.Dataset
        Variables of shape ``(A, K, rep)`` in response^2.
    """
    alphas = np.asarray(alphas, float)
    unit = np.asarray(result["bias"]).T  # (K, rep)
    bias = alphas[:, None, None] ** 2 * unit[None]
    var = np.broadcast_to(np.asarray(result["variance"]).T[None], bias.shape)
    ds = xr.Dataset(coords={"alpha": list(alphas), dim: list(values)})
    dims = ("alpha", dim, "rep")
    attach(ds, "bias", bias, dims)
    attach(ds, "variance", var, dims)
    attach(ds, "risk", bias + var, dims)
    return ds


def points_dataset(result: dict, coords: dict, index, alphas) -> xr.Dataset:
    """``risk``, ``bias``, ``variance`` over ``(*coords, rep)`` from :func:`~simkit.regression.linear.simulate_path`.

    Parameters
    ----------
    result : dict
        ``bias`` (for ``alpha = 1``) and ``variance``, each shape ``(rep, K)``.
    coords : dict of str to sequence
        The dimensions in order, one of them ``"alpha"``, with their values.
    index : array of int, shape given by ``coords``
        Column of ``result`` (the ``(m, p)`` point) used at every grid point.
    alphas : array, shape given by ``coords``
        ``alpha`` at every grid point (the bias is ``alpha^2`` times the unit bias).

    Returns
    -------
    xarray.Dataset
        Variables of shape ``(*coords, rep)`` in response^2.
    """
    index = np.asarray(index)
    unit = np.moveaxis(np.asarray(result["bias"])[:, index], 0, -1)
    var = np.moveaxis(np.asarray(result["variance"])[:, index], 0, -1)
    bias = np.asarray(alphas, float)[..., None] ** 2 * unit
    ds = xr.Dataset(coords={k: list(v) for k, v in coords.items()})
    dims = tuple(coords) + ("rep",)
    attach(ds, "bias", bias, dims)
    attach(ds, "variance", var, dims)
    attach(ds, "risk", bias + var, dims)
    return ds


def finite_size_allowance(limit, m, p):
    """Allowed |finite-size mean - limit|: ``FINITE_SIZE_FACTOR * |limit| / (|m - p| - 1)``.

    For an isotropic Gaussian design and an orthogonal sketch the exact expected variance is the
    limit times ``1 + 1/(|m - p| - 1)`` (inverse-Wishart mean) and the bias is exact; twice that
    gap covers the other sketches and spectra, whose finite-size corrections are of the same order.
    """
    gap = np.abs(np.asarray(m, float) - np.asarray(p, float)) - 1.0
    return FINITE_SIZE_FACTOR * np.abs(limit) / np.maximum(gap, 1.0)


def limit_check(name, sim, limit, allowance, mask):
    """:func:`simkit.checks.within_mc_error` of ``sim`` against ``limit`` where ``mask`` holds.

    ``allowance`` (same coordinates as ``limit``) is added to the Monte Carlo tolerance; points
    outside ``mask`` (e.g. ``|p/m - 1| < 0.1``, where the risk is heavy-tailed) are not compared.
    """
    limit = limit.where(mask)
    return ck.within_mc_error(name, sim, limit, rel=0.0, abs_tol=allowance.where(mask, 0.0))


def sketch_size(psi, n):
    """Sketch size ``m = round(psi n)`` clipped to ``[1, n]`` (array of int)."""
    return np.clip(np.rint(np.asarray(psi, float) * n), 1, n).astype(int)


def sketch_comparison_checks(ds, t, mask):
    """Orthogonal vs i.i.d. sketches on a dataset with dims ``(alpha, sketch, psi, rep)``.

    * ``p < m``: every orthogonal sketch has a smaller mean risk than the i.i.d. one (smallest
      z-score over the points must be >= 3);
    * ``p > m``: the risks are equal in distribution (only the row space of ``S X`` and the whitened
      noise matter), so the mean difference must be 0 within the Monte Carlo error.

    ``t`` is ``p/m`` over ``psi`` and ``mask`` the compared points.
    """
    out = []
    sketches = [str(s) for s in ds["sketch"].values]
    if "gaussian" not in sketches:
        return out
    iid = ds["risk"].sel(sketch="gaussian")
    under, over = mask & (t < 1), mask & (t > 1)
    for orth in ("haar", "srht"):
        if orth not in sketches:
            continue
        o = ds["risk"].sel(sketch=orth)
        so, si = summarize(o), summarize(iid)
        z = ((si["mean"] - so["mean"]) / np.hypot(si["se"], so["se"])).where(under)
        zmin = float(z.min()) if bool(under.any()) else float("nan")
        out.append(
            ck.condition(
                f"{orth} beats i.i.d. for p < m",
                zmin >= 3.0,
                zmin,
                3.0,
                "smallest z of (i.i.d. risk - orthogonal risk) over alpha and psi with p < m",
            )
        )
        zero = xr.zeros_like(so["mean"]).where(over)
        out.append(ck.within_mc_error(f"{orth} equals i.i.d. for p > m", iid - o, zero, rel=0.0))
    return out
