"""A small study used to test the framework itself (loaded through ``SIMKIT_STUDIES``).

``engine-demo``: each replication averages ``n`` standard normals drawn from its own stream and
scales them; the theory says the mean is 0 and the variance ``scale**2 / n``.  The ``pause``
setting sleeps per unit so that a test can interrupt a run midway.
"""

import dataclasses
import time

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.errors import ParameterError
from simkit.rng import Stream
from simkit.study import Param, Study


def _simulate(params, states, backend):
    time.sleep(params["pause"])
    values = np.array([Stream(s.copy()).normal((params["n"],)).mean() for s in states]) * params["scale"]
    steps = np.arange(1, 4)
    return xr.Dataset(
        {"value": (("step", "rep"), np.outer(steps, values), {"long_name": "scaled mean", "units": "1"})},
        coords={"step": steps},
    )


def _theory(ds):
    return xr.Dataset({"value_theory": xr.zeros_like(ds["scale"] * ds["step"], dtype=float)})


def _checks(ds):
    return [ck.within_mc_error("mean is zero", ds["value"], ds["value_theory"], rel=0.0)]


def _plot(ds):
    fig, axes = plotting.figure(1, 1)
    ax = axes[0, 0]
    for scale in ds["scale"].values:
        plotting.band(ax, ds["step"].values, ds["value"].sel(scale=scale).isel(mode=0))
    plotting.theory_line(ax, ds["step"].values, np.zeros(ds.sizes["step"]))
    return fig


def _validate(params):
    if params["n"] > 10_000:
        raise ParameterError(f"n must be <= 10000 for engine-demo, got {params['n']}")


STUDY = Study(
    name="engine-demo",
    title="Scaled means of normal draws (framework test)",
    paper="none",
    family="test",
    teaching="A framework test: nothing is misspecified.",
    params=(
        Param("scale", float, "scale factor", low=0, units="1"),
        Param("mode", str, "label", choices=("a", "b")),
        Param("n", int, "draws per replication", low=1),
        Param("pause", float, "seconds to sleep per unit", low=0),
    ),
    grid={"mode": ("a", "b"), "scale": (1.0, 2.0, 3.0)},
    settings={"n": 20, "pause": 0.0},
    reps=40,
    quick_grid={"mode": ("a",), "scale": (1.0,)},
    quick_settings={"n": 5, "pause": 0.0},
    quick_reps=10,
    simulate=_simulate,
    theory=_theory,
    checks=_checks,
    plot=_plot,
    validate_cell=_validate,
    backends=("numpy", "numba"),
)


def _simulate_inner(params, states, backend):
    means = np.array([Stream(s.copy()).normal((params["n"],)).mean() for s in states])
    scales = np.asarray(params["scale"], dtype=float)
    steps = np.arange(1, 4)
    values = scales[:, None, None] * steps[None, :, None] * means[None, None, :]
    return xr.Dataset(
        {"value": (("scale", "step", "rep"), values, {"long_name": "scaled mean", "units": "1"})},
        coords={"scale": scales, "step": steps},
    )


INNER_STUDY = dataclasses.replace(
    STUDY,
    name="engine-inner",
    title="Scaled means with every scale from the same draws (framework test of inner dimensions)",
    teaching="A framework test: the scale dimension is evaluated inside each cell.",
    quick_grid={"mode": ("a",), "scale": (1.0, 2.0)},
    simulate=_simulate_inner,
    inner=("scale",),
)
STUDIES = (INNER_STUDY,)
