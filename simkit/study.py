"""What a study is: declared parameters, full and quick settings, and four functions.

A study is data (bsuite style): a name, a citation, a grid of swept parameters, fixed settings,
replication counts for the full and the quick (CI) run, and

``simulate(params, states, backend) -> xarray.Dataset``
    one grid cell: ``params`` holds the settings and the cell's values, ``states`` the
    ``(reps, 2)`` generator states (:func:`simkit.rng.rep_states`), ``backend`` one of
    ``numpy``/``numba``/``cuda``.  The dataset has a ``rep`` dimension of length ``reps`` and
    the study's own dimensions (e.g. ``iteration``), but none of the grid's.
``theory(ds) -> xarray.Dataset``
    closed-form predictions for the combined dataset (same coordinates, no ``rep``).
``checks(ds) -> list[Check]``
    simulation against theory, tolerances from the Monte Carlo error.
``plot(ds) -> matplotlib.figure.Figure``
    simulation mean with 95% band, theory dashed.

``dims_order`` lists dimensions that lead every variable, in that order, in the final dataset
(by default the grid's dimensions come first, then ``simulate``'s own).

``inner`` names grid dimensions that ``simulate`` evaluates together, from the same draws
(common random numbers: e.g. every sketch size from one sketch per replication).  Cells are then
formed from the other grid dimensions only; ``params[name]`` holds the tuple of all the inner
dimension's values, and the returned dataset carries that dimension with exactly those values.
Replication streams are keyed by the outer cell, so changing an inner dimension's values may
change the draws.

``memory(params) -> bytes`` (optional) declares the working memory one replication of a cell
needs while it runs (its samples, matrices, work arrays), so that a run that cannot fit is refused
before anything is allocated; ``min_reps`` is the fewest replications the checks need.

``rep_dim`` renames the replication dimension in the final dataset (e.g. ``"mdp"`` when each
replication is one random MDP); ``simulate`` always returns ``rep``, and ``theory``, ``checks``
and ``plot`` see ``rep_dim``.

The settings are stored as attributes of the dataset (one attribute per setting), so
``theory``, ``checks`` and ``plot`` read them from ``ds.attrs``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ParameterError, ParameterTypeError
from .validation import check_choice, check_int, check_real

__all__ = ["Param", "Study", "RunConfig", "Check", "OUTCOMES", "MAX_REPS"]

MAX_REPS = 10**9  # replications per cell; far beyond any study, and refused before anything runs


@dataclasses.dataclass(frozen=True)
class Param:
    """A declared study parameter: name, type, allowed range, units and help text.

    ``kind`` is one of ``int``, ``float``, ``str``, ``bool``.  Bounds apply to numbers,
    ``choices`` to anything.
    """

    name: str
    kind: type
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple | None = None
    units: str = ""

    def validate(self, value, label=None):
        """Return ``value`` converted to ``kind``; raise a one-line error naming the parameter."""
        label = label or self.name
        if self.kind is int:
            value = check_int(label, value, low=self.low, high=self.high)
        elif self.kind is float:
            value = check_real(
                label,
                value,
                low=self.low,
                high=self.high,
                low_inclusive=self.low_inclusive,
                high_inclusive=self.high_inclusive,
            )
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise ParameterTypeError(f"{label} must be true or false, got {value!r}")
        elif self.kind is str:
            if not isinstance(value, str):
                raise ParameterTypeError(f"{label} must be a string, got {value!r}")
        if self.choices is not None:
            check_choice(label, value, self.choices)
        return value

    def parse(self, text: str):
        """Parse one value written on the command line and validate it."""
        text = text.strip()
        if self.kind in (int, float) and not text.isascii():
            raise ParameterTypeError(f"--set {self.name}: write numbers with ASCII digits, got {text!r}")
        if self.kind is int:
            try:
                value = int(text)
            except ValueError:
                raise ParameterTypeError(f"--set {self.name}: expected an integer, got {text!r}") from None
        elif self.kind is float:
            try:
                value = float(text)
            except ValueError:
                raise ParameterTypeError(f"--set {self.name}: expected a number, got {text!r}") from None
        elif self.kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ParameterTypeError(f"--set {self.name}: expected true or false, got {text!r}")
            value = lowered in ("true", "1", "yes")
        else:
            value = text
        return self.validate(value)


OUTCOMES = ("pass", "fail", "inconclusive")


@dataclasses.dataclass(frozen=True)
class Check:
    """One named comparison of simulation against theory (or against another simulation).

    A check has three outcomes: ``pass`` (the data support the claim), ``fail`` (evidence
    against the claim) and ``inconclusive`` (too few replications, or a grid that cannot decide;
    ``detail`` says what would decide).  ``value`` is the measured statistic, described by
    ``statistic``; ``tolerance`` is its bound and ``direction`` (``"<="`` or ``">="``) says which
    side of the bound passes.  ``claim`` states in words what the check asserts (defaults to
    ``name``).

    Examples
    --------
    >>> c = Check("gap", True, 0.4, 1.0, statistic="|sim - theory| / tol")
    >>> c.outcome, c.failed
    ('pass', False)
    >>> Check("gap", False, 1.7, 3.0, inconclusive=True, direction=">=").outcome
    'inconclusive'
    """

    name: str
    passed: bool
    value: float
    tolerance: float
    detail: str = ""
    inconclusive: bool = False
    claim: str = ""
    direction: str = "<="
    statistic: str = ""

    def __post_init__(self):
        if self.direction not in ("<=", ">="):
            raise ValueError(f"Check direction must be '<=' or '>=', got {self.direction!r}")
        if self.inconclusive and self.passed:
            raise ValueError(f"check {self.name!r} cannot be both passed and inconclusive")

    @property
    def outcome(self) -> str:
        """``"pass"``, ``"fail"`` or ``"inconclusive"``."""
        if self.inconclusive:
            return "inconclusive"
        return "pass" if self.passed else "fail"

    @property
    def failed(self) -> bool:
        """True only on evidence against the claim (not when inconclusive)."""
        return self.outcome == "fail"

    def as_dict(self) -> dict:
        """A JSON-serialisable dict of the check."""
        return {
            "name": self.name,
            "passed": bool(self.passed),
            "outcome": self.outcome,
            "value": _json_float(self.value),
            "tolerance": _json_float(self.tolerance),
            "direction": self.direction,
            "statistic": self.statistic,
            "claim": self.claim,
            "detail": self.detail,
        }


def _json_float(x):
    x = float(x)
    return x if math.isfinite(x) else str(x)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers: grid, settings, reps, seed, backend."""

    study: str
    grid: dict[str, tuple]
    settings: dict[str, Any]
    reps: int
    seed: int
    backend: str
    inner: tuple[str, ...] = ()

    def cells(self) -> list[dict]:
        """The evaluated cells in row-major order: the outer grid's values, plus each inner
        dimension's whole tuple of values (see :class:`Study` ``inner``)."""
        outer = [k for k in self.grid if k not in self.inner]
        shared = {k: self.grid[k] for k in self.inner}
        return [{**dict(zip(outer, values)), **shared} for values in itertools.product(*(self.grid[k] for k in outer))]

    def points(self) -> list[dict]:
        """Every point of the grid (outer and inner dimensions), each a dict of scalar values."""
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*self.grid.values())]


@dataclasses.dataclass(frozen=True)
class Study:
    """A reproduced figure or table: see the module docstring for the four functions."""

    name: str
    title: str
    paper: str
    family: str
    teaching: str
    params: tuple[Param, ...]
    grid: Mapping[str, tuple]
    settings: Mapping[str, Any]
    reps: int
    quick_grid: Mapping[str, tuple]
    quick_settings: Mapping[str, Any]
    quick_reps: int
    simulate: Callable
    theory: Callable
    checks: Callable
    plot: Callable
    validate_cell: Callable[[dict], None] | None = None
    backends: tuple[str, ...] = ("numpy", "numba", "cuda")
    rep_dim: str = "rep"
    dims_order: tuple[str, ...] = ()
    inner: tuple[str, ...] = ()
    min_reps: int = 1
    memory: Callable[[dict], float] | None = None

    def __post_init__(self):
        for name in self.inner:
            if name not in self.grid or name not in self.quick_grid:
                raise ValueError(f"study {self.name}: inner dimension {name!r} must be in grid and quick_grid")

    def param(self, name: str) -> Param:
        """The declared parameter called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ParameterError(f"{self.name} has no parameter {name!r} (known: {known})")

    def config(self, *, quick=False, reps=None, seed=0, backend="numba", overrides=None) -> RunConfig:
        """Build and validate the run configuration.

        ``overrides`` maps a parameter name to a value (a setting) or to a sequence of values
        (a grid dimension).  Every cell is validated before anything runs.
        """
        grid = {k: tuple(v) for k, v in (self.quick_grid if quick else self.grid).items()}
        settings = dict(self.quick_settings if quick else self.settings)
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ParameterTypeError(
                f"overrides must be a dict of parameter name to value or list of values, got {type(overrides).__name__}"
            )
        for name, value in (overrides or {}).items():
            if not isinstance(name, str):
                raise ParameterTypeError(f"overrides: parameter names are strings, got {name!r}")
            p = self.param(name)
            if name in grid:
                values = value if isinstance(value, (list, tuple)) else (value,)
                if len(values) == 0:
                    raise ParameterError(f"--set {name}: needs at least one value")
                grid[name] = tuple(p.validate(v) for v in values)
                if len(set(grid[name])) != len(grid[name]):
                    raise ParameterError(f"--set {name}: each value may appear once, got {', '.join(map(str, values))}")
            else:
                if isinstance(value, (list, tuple)):
                    if len(value) != 1:
                        raise ParameterError(f"--set {name}: is a single setting, not a list of values")
                    value = value[0]
                settings[name] = p.validate(value)
        reps = self.quick_reps if (quick and reps is None) else (self.reps if reps is None else reps)
        reps = check_int("reps", reps, low=self.min_reps, high=MAX_REPS)
        seed = check_int("seed", seed, low=0, high=2**128 - 1)
        for name, value in settings.items():
            self.param(name).validate(value)
        cfg = RunConfig(self.name, grid, settings, reps, seed, backend, tuple(self.inner))
        for cell in cfg.points():
            for name, value in cell.items():
                self.param(name).validate(value)
            if self.validate_cell is not None:
                self.validate_cell({**settings, **cell})
        return cfg
