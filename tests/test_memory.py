"""Every study declares the working memory of one replication, and a run that cannot fit is refused.

``Study.memory(params)`` (bytes) is what :func:`simkit.api.check_memory` multiplies by the
replications in flight to refuse, in one line and before anything is allocated, a cell whose
replications cannot fit.  Here it is checked against the measured peak allocation of one replication
(``tracemalloc`` around ``simulate`` on the ``numpy`` backend, whose arrays it tracks; numba kernels
allocate outside it, and their arrays are no larger than the NumPy reference's), on a cell of each
study made large enough that the arrays, not the fixed cost of building a dataset, dominate:

* ``measured <= declared + FIXED`` — an upper bound.  ``FIXED`` (256 kB) is what one replication
  costs whatever its size: the Python objects, coordinates and attributes of a small dataset
  (15–30 kB measured) and the study's fixed tables;
* ``declared <= FACTOR * measured + SLACK`` — a sensible one: ``FACTOR`` 10 (the declarations
  are within 1–5x of the measured peak; 10 leaves room for allocator and library differences),
  ``SLACK`` 1 MB for the studies whose replication is tiny whatever its parameters (seqbayes).
"""

from __future__ import annotations

import tracemalloc

import pytest

import simkit.api as api
from simkit.cli import main
from simkit.errors import ParameterError
from simkit.registry import all_studies, get_study
from simkit.rng import rep_states
from simkit.threads import cores, one_blas_thread

FIXED = 256e3
FACTOR = 10.0
SLACK = 1e6

#: per study, overrides that make one replication large (several MB) yet quick on the numpy backend,
#: leaving one cell (or the few cells of a grid parameter not overridden)
SCALED = {
    "collapse-gaussian": {"M": [200_000], "generations": 10, "points": 3, "fit": ["mle"]},
    "collapse-kde": {"M": [1500], "generations": 20, "h": [0.2]},
    "collapse-linear": {"T": [4000], "d": 64, "iterations": 6, "sigma2": [1.0]},
    "collapse-ridge": {"d": 200, "T": 500, "T0": 800, "overparam_T0": 100, "overparam_steps": 5},
    "varts-regret": {"K": 3000, "horizon": 12},
    "varts-prior": {"K": 3000, "horizon": 12, "prior": ["correct", "estimated"]},
    "varts-rewards": {"K": 3000, "horizon": 12},
    "varts-variance": {"K": 3000, "horizon": 12, "mean_variance": [1.0], "alpha0": [4.0]},
    "linear-misspec-phase": {"n_arms": 20_000, "horizon": 20, "d": [16], "ratio": [1.0]},
    "linear-misspec-table": {"n_arms": 20_000, "horizon": 20, "grid_points": 5},
    "irl-discount": {"n_states": 64, "gamma_true": [0.9], "gamma_assumed": [0.85]},
    "irl-dynamics": {"n_states": 64, "lam": [0.1]},
    "irl-temperature": {"n_states": 64, "ratio": [2.0]},
    "starc-regret": {"n_states": 64},
    "krr-lambda": {"n": [1500], "s": [1.0], "solver": "eigen"},
    "krr-rates": {"n": [300_000], "s": [1.0]},
    "ridgeless-double-descent": {"n": 600},
    "sketched-correlated": {"n": 800, "p": 400, "psi": [0.5], "alpha": [3.0]},
    "sketched-correlated-optimal-m": {"n": 300},
    "sketched-optimal-m": {"n": 300},
    "sketched-practical": {"n": 500, "n_val": [200], "phi": [2.5]},
    "sketched-risk": {"n": 800, "p": 400, "psi": [0.5], "alpha": [5.0]},
    "covshift-mle-mwle": {"n": [200_000], "d": 4},
    "preference-annotators": {"K": 50, "annotator": ["mixture-ids"]},
    "preference-doubly-robust": {"n": [1000, 100_000, 1_000_000]},
    "calibration-overlap": {"n": 1500, "k": [20], "alpha": [0.1]},
    "seqbayes-forgetting": {"n2": [100_000]},
}

#: per study, one setting that makes one replication far larger than the quick run's: (name, value)
HUGE = {
    "collapse-gaussian": ("M", 10**9),
    "collapse-kde": ("M", 10**7),
    "collapse-linear": ("T", 10**7),
    "collapse-ridge": ("T", 10**7),
    "varts-regret": ("K", 10**8),
    "varts-prior": ("K", 10**8),
    "varts-rewards": ("K", 10**8),
    "varts-variance": ("K", 10**8),
    "linear-misspec-phase": ("n_arms", 10**5),
    "linear-misspec-table": ("d", 1000),  # (more arms do not fit its gap)
    "irl-discount": ("n_states", 64),
    "irl-dynamics": ("n_states", 64),
    "irl-temperature": ("n_states", 64),
    "starc-regret": ("steps", 256),
    "krr-lambda": ("n", 10**9),
    "krr-rates": ("n", 10**9),
    "ridgeless-double-descent": ("n", 10**6),
    "sketched-correlated": ("n", 10**6),
    "sketched-correlated-optimal-m": ("n", 10**6),
    "sketched-optimal-m": ("n", 10**6),
    "sketched-practical": ("n", 10**6),
    "sketched-risk": ("n", 10**6),
    "covshift-mle-mwle": ("n", 10**9),
    "preference-annotators": ("K", 50),
    # its replication holds counts, not the n triples: only the number of prefix sizes n adds to it
    "preference-doubly-robust": ("n", tuple(range(100, 20_100))),
    "calibration-overlap": ("n", 10**6),
    # a few scalars per replication whatever its parameters: nothing can be too large
    "seqbayes-forgetting": None,
}

# the registered studies of the studies/ package (the test suite registers its own engine-* studies too)
NAMES = [s.name for s in all_studies() if "studies" in s.simulate.__module__.split(".")]


def test_every_study_is_listed_here():
    assert set(NAMES) == set(SCALED) == set(HUGE)


@pytest.mark.parametrize("name", NAMES)
def test_memory_is_declared(name):
    study = get_study(name)
    assert callable(study.memory), f"{name} declares no memory(params)"
    cfg = study.config(quick=True, backend="numpy")
    for cell in cfg.cells():
        need = float(study.memory({**cfg.settings, **cell}))
        assert need > 0 and need < 1e10, (name, cell, need)


def _peak(study, cfg, cell):
    """Peak bytes allocated by ``simulate`` for one replication of ``cell`` (numpy backend)."""
    params = {**cfg.settings, **cell}
    outer = {k: v for k, v in cell.items() if k not in study.inner}
    states = rep_states(0, study.name, outer, 1)
    with one_blas_thread():
        tracemalloc.start()
        try:
            study.simulate(params, states, "numpy")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def _assert_bounds(study, cfg, cells):
    with one_blas_thread():  # warm-up (imports, caches), one BLAS thread as in the measurement
        study.simulate({**cfg.settings, **cells[0]}, rep_states(1, study.name, {}, 1), "numpy")
    for cell in cells:
        declared = float(study.memory({**cfg.settings, **cell}))
        measured = _peak(study, cfg, cell)
        where = f"{study.name} {cell}: declared {declared / 1e6:.3f} MB, measured {measured / 1e6:.3f} MB"
        assert measured <= declared + FIXED, "not an upper bound: " + where
        assert declared <= FACTOR * measured + SLACK, "far above the measured peak: " + where


@pytest.mark.parametrize("name", NAMES)
def test_memory_bounds_a_large_replication(name):
    study = get_study(name)
    cfg = study.config(quick=True, backend="numpy", overrides=SCALED[name])
    _assert_bounds(study, cfg, cfg.cells())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_memory_bounds_the_quick_cells(name):
    study = get_study(name)
    # the bandits' horizon only sets the time (and SupLinUCB's levels), not the arrays: shortened
    overrides = {"horizon": 200} if name.startswith("linear-misspec") else {}
    cfg = study.config(quick=True, backend="numpy", overrides=overrides)
    _assert_bounds(study, cfg, cfg.cells())


def _quick_need(study):
    cfg = study.config(quick=True, backend="numpy")
    in_flight = min(cfg.reps, 2 * cores())
    return max(float(study.memory({**cfg.settings, **c})) for c in cfg.cells()) * in_flight


@pytest.mark.parametrize("name", NAMES)
def test_too_large_a_replication_is_refused_by_run_study(name, monkeypatch, tmp_path):
    if HUGE[name] is None:
        pytest.skip(f"{name}: one replication is a few scalars whatever its parameters")
    study = get_study(name)
    param, value = HUGE[name]
    monkeypatch.setattr(api, "available_memory", lambda: None)  # unknown: Study.config checks nothing
    big = study.config(quick=True, backend="numpy", overrides={param: value})
    huge = max(float(study.memory({**big.settings, **cell})) for cell in big.cells())
    # room for the quick run, not for one replication at the huge setting
    room = max(2.0 * _quick_need(study), 1e6) / 0.8
    assert huge * min(study.quick_reps, 2 * cores()) > 0.8 * room * 1.5, f"{name}: {param}={value} is not large"
    monkeypatch.setattr(api, "available_memory", lambda: int(room))
    api.check_memory(study, study.config(quick=True, backend="numpy"))  # the quick run fits
    with pytest.raises(ParameterError) as info:
        api.run_study(
            name, quick=True, backend="numpy", overrides={param: value}, out=tmp_path, progress=False, plot=False
        )
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{param}="), message[:200]
    assert "GB" in message and "available" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["collapse-linear", "varts-regret", "irl-temperature", "krr-rates", "sketched-risk", "calibration-overlap"]
)
def test_too_large_a_replication_is_refused_by_the_cli(name, monkeypatch, tmp_path, capsys):
    param, value = HUGE[name]
    room = int(max(2.0 * _quick_need(get_study(name)), 1e6) / 0.8)
    monkeypatch.setattr(api, "available_memory", lambda: room)
    out = tmp_path / "out"
    status = main(["run", name, "--quick", "--backend", "numpy", "--set", f"{param}={value}", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert f"{param}={value}" in err and "GB" in err
    assert not out.exists() or list(out.rglob("*")) == []


@pytest.mark.parametrize("name", ["linear-misspec-phase", "linear-misspec-table"])
def test_refused_before_validate_cell_builds_the_instance(name, monkeypatch):
    """``validate_cell`` of the linear bandits builds the ``n_arms × d`` instance; the declared memory
    is checked first, so 10⁷ arms (1.3 GB of features at d = 16) are refused with almost nothing
    allocated (tracemalloc sees NumPy's allocations)."""
    import tracemalloc

    study = get_study(name)
    room = int(max(2.0 * _quick_need(study), 1e6) / 0.8)
    monkeypatch.setattr(api, "available_memory", lambda: room)
    tracemalloc.start()
    try:
        with pytest.raises(ParameterError, match=r"^n_arms=10000000: one replication needs"):
            study.config(quick=True, backend="numpy", overrides={"n_arms": 10**7})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"{peak / 1e6:.0f} MB allocated before the refusal"
