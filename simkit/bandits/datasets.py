"""Turning K-armed simulation results into xarray datasets, and per-run statistics on them."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["karmed_dataset", "late_share", "linear_runs"]


def karmed_dataset(results: dict) -> xr.Dataset:
    """One dataset from ``{policy name: KArmedResult}`` (all on the same states and grid).

    Variables: ``regret`` (policy, t, rep), ``pulls`` (policy, arm, rep), and the instances
    ``arm_mean``/``arm_variance`` (arm, rep) of the first policy (every policy plays the same
    instances because the instance is drawn first from the same stream).
    """
    names = list(results)
    first = results[names[0]]
    reps, k = first.means.shape
    regret = np.stack([results[p].regret.T for p in names])
    pulls = np.stack([results[p].counts.T for p in names])
    coords = {"policy": names, "t": first.grid, "arm": np.arange(k), "rep": np.arange(reps)}
    ds = xr.Dataset(
        {
            "regret": (("policy", "t", "rep"), regret, {"long_name": "cumulative pseudo-regret", "units": "reward"}),
            "pulls": (("policy", "arm", "rep"), pulls, {"long_name": "pulls of each arm at the horizon", "units": "1"}),
            "arm_mean": (("arm", "rep"), first.means.T, {"long_name": "arm mean reward", "units": "reward"}),
            "arm_variance": (
                ("arm", "rep"),
                first.variances.T,
                {"long_name": "arm reward variance", "units": "reward^2"},
            ),
        },
        coords=coords,
    )
    ds["t"].attrs.update(long_name="round", units="1")
    return ds


def late_share(regret: xr.DataArray, dim: str = "t") -> xr.DataArray:
    """Share of each run's final regret incurred in the second half of the horizon.

    ``(R(n) - R(n/2)) / R(n)`` with ``R(n/2)`` read at the last grid round <= n/2; about
    ``log 2 / log n`` for logarithmic regret and 1/2 for linear regret; 0 where ``R(n) = 0``.
    """
    t = regret[dim].values
    half = t[t <= t[-1] / 2][-1]
    final = regret.isel({dim: -1})
    mid = regret.sel({dim: half})
    return xr.where(final > 0, (final - mid) / final.where(final > 0), 0.0)


def linear_runs(regret: xr.DataArray, threshold: float = 0.4, dim: str = "t") -> xr.DataArray:
    """1.0 for runs whose regret keeps growing linearly (late share >= ``threshold``), else 0.0."""
    return (late_share(regret, dim) >= threshold).astype(float)
