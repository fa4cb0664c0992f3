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

#: Most replications per cell (10⁹): far beyond any study; more is refused before anything runs.
MAX_REPS = 10**9


@dataclasses.dataclass(frozen=True)
class Param:
    """A declared study parameter: name, type, allowed range, units and help text.

    ``kind`` is one of ``int``, ``float``, ``str``, ``bool``.  Bounds apply to numbers,
    ``choices`` to anything.

    Parameters
    ----------
    name : str
        The parameter's name (a key of the study's grid or settings, and of ``--set``).
    kind : {int, float, str, bool}
        Its type.
    help : str, optional
        One line for ``simkit describe`` and ``simkit run STUDY --help``.
    low, high : float, optional
        Bounds of a number (``None``: unbounded on that side).
    low_inclusive, high_inclusive : bool, optional
        Whether a float bound is allowed itself (default true); integer bounds are inclusive.
    choices : tuple, optional
        The allowed values (of any kind).
    units : str, optional
        Its units (``"1"`` for dimensionless, ``""`` when not applicable).

    Examples
    --------
    >>> sigma = Param("sigma", float, "noise SD", low=0, low_inclusive=False, units="y")
    >>> sigma.validate(2)
    2.0
    >>> sigma.parse(" 0.5 ")
    0.5
    >>> Param("mode", str, choices=("replace", "accumulate")).validate("replace")
    'replace'
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
        """Return ``value`` converted to ``kind``; raise a one-line error naming the parameter.

        Parameters
        ----------
        value : object
            The value to check (an ``int`` is accepted for a ``float`` parameter).
        label : str, optional
            The name used in the error message (default :attr:`name`).

        Returns
        -------
        object
            ``value`` as ``kind`` (e.g. ``2`` becomes ``2.0`` for a float parameter).

        Raises
        ------
        ParameterError
            A value outside the range or not among the choices.
        ParameterTypeError
            A value of the wrong type.

        Examples
        --------
        >>> Param("M", int, low=2).validate(10)
        10
        >>> Param("M", int, low=2).validate(1)
        Traceback (most recent call last):
        ...
        simkit.errors.ParameterError: M must be in [2, inf], got 1
        """
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
        """Parse one value written on the command line and validate it.

        Parameters
        ----------
        text : str
            One value as written after ``--set NAME=`` (surrounding spaces are ignored; booleans
            as ``true``/``false``, ``1``/``0`` or ``yes``/``no``).

        Returns
        -------
        object
            The value as ``kind``, validated (:meth:`validate`).

        Raises
        ------
        ParameterTypeError
            Text that is not a value of ``kind``.
        ParameterError
            A value outside the allowed range.

        Examples
        --------
        >>> Param("T", int, low=1).parse("100")
        100
        >>> Param("ridge", bool).parse("yes")
        True
        """
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


#: The three outcomes of a :class:`Check`, in that order.
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

    Parameters
    ----------
    name : str
        Short name (as printed in the checks table).
    passed : bool
        The data support the claim (must be false when ``inconclusive``).
    value : float
        The measured statistic.
    tolerance : float
        Its bound.
    detail : str, optional
        Where and by how much; for an inconclusive check, what would decide.
    inconclusive : bool, optional
        The data cannot decide; default false.
    claim : str, optional
        The claim in words (default: ``name`` is shown).
    direction : {"<=", ">="}, optional
        Which side of ``tolerance`` passes; default ``"<="``.
    statistic : str, optional
        What ``value`` measures.

    Raises
    ------
    ValueError
        A ``direction`` other than ``"<="`` or ``">="``, or a check both passed and inconclusive.

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
        """A JSON-serialisable dict of the check.

        Returns
        -------
        dict
            Keys ``name``, ``passed``, ``outcome``, ``value``, ``tolerance``, ``direction``,
            ``statistic``, ``claim``, ``detail``; a non-finite number becomes a string
            (``"nan"``, ``"inf"``).

        Examples
        --------
        >>> d = Check("gap", False, float("nan"), 1.0, inconclusive=True).as_dict()
        >>> d["outcome"], d["value"]
        ('inconclusive', 'nan')
        """
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
    """Everything that determines a run's numbers: grid, settings, reps, seed, backend.

    Made and validated by :meth:`Study.config`.

    Parameters
    ----------
    study : str
        The study's name.
    grid : dict of str to tuple
        The swept parameters and their values, in grid order.
    settings : dict of str to object
        The fixed parameters.
    reps : int
        Replications per cell.
    seed : int
        The run's seed.
    backend : str
        ``"numpy"``, ``"numba"`` or ``"cuda"``.
    inner : tuple of str, optional
        Grid dimensions evaluated together in each cell (see :class:`Study`).

    Examples
    --------
    >>> cfg = RunConfig("demo", {"M": (10, 100), "mode": ("replace",)}, {}, 200, 0, "numpy")
    >>> cfg.cells()
    [{'M': 10, 'mode': 'replace'}, {'M': 100, 'mode': 'replace'}]
    """

    study: str
    grid: dict[str, tuple]
    settings: dict[str, Any]
    reps: int
    seed: int
    backend: str
    inner: tuple[str, ...] = ()

    def cells(self) -> list[dict]:
        """The evaluated cells in row-major order: the outer grid's values, plus each inner
        dimension's whole tuple of values (see :class:`Study` ``inner``).

        Returns
        -------
        list of dict
            One dict per cell, parameter name → value (inner dimensions → tuple of values).

        Examples
        --------
        >>> cfg = RunConfig("demo", {"n": (10, 20), "m": (1, 2, 3)}, {}, 4, 0, "numpy", inner=("m",))
        >>> cfg.cells()
        [{'n': 10, 'm': (1, 2, 3)}, {'n': 20, 'm': (1, 2, 3)}]
        """
        outer = [k for k in self.grid if k not in self.inner]
        shared = {k: self.grid[k] for k in self.inner}
        return [{**dict(zip(outer, values)), **shared} for values in itertools.product(*(self.grid[k] for k in outer))]

    def points(self) -> list[dict]:
        """Every point of the grid (outer and inner dimensions), each a dict of scalar values.

        Returns
        -------
        list of dict
            One dict per grid point, in row-major order.

        Examples
        --------
        >>> cfg = RunConfig("demo", {"n": (10, 20), "m": (1, 2)}, {}, 4, 0, "numpy", inner=("m",))
        >>> len(cfg.points()), cfg.points()[1]
        (4, {'n': 10, 'm': 2})
        """
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*self.grid.values())]


@dataclasses.dataclass(frozen=True)
class Study:
    """A reproduced figure or table: see the module docstring for the four functions.

    Parameters
    ----------
    name : str
        The study's name (``simkit run NAME``), lower case with hyphens.
    title : str
        One line: what it shows.
    paper : str
        The citation, with its DOI or arXiv identifier.
    family : str
        The family it belongs to (``collapse``, ``bandits``, ...).
    teaching : str
        What is misspecified, what theory predicts and what to look at (paragraphs).
    params : tuple of Param
        Every parameter of the grid and the settings.
    grid : mapping of str to tuple
        The full run's swept parameters and their values.
    settings : mapping of str to object
        The full run's fixed parameters.
    reps : int
        Replications per cell of the full run.
    quick_grid, quick_settings, quick_reps
        The same for the quick (CI) run: seconds in all.
    simulate, theory, checks, plot : callable
        The four functions (see the module docstring).
    validate_cell : callable, optional
        ``validate_cell(params)`` raises :class:`~simkit.errors.ParameterError` for a cell the
        parameters' ranges allow but the study cannot run (checked before anything runs).
    backends : tuple of str, optional
        The backends it supports; default all three.
    rep_dim : str, optional
        Name of the replication dimension in the final dataset; default ``"rep"``.
    dims_order : tuple of str, optional
        Dimensions that lead every variable, in that order.
    inner : tuple of str, optional
        Grid dimensions that ``simulate`` evaluates together from the same draws.
    min_reps : int, optional
        The fewest replications the checks need; default 1.
    memory : callable, optional
        ``memory(params)``: bytes one replication of a cell needs while it runs.

    Raises
    ------
    ValueError
        An ``inner`` dimension missing from ``grid`` or ``quick_grid``.

    Examples
    --------
    A study needs its four functions; this one draws one uniform per replication from the
    first word of its generator state:

    >>> import xarray as xr
    >>> def simulate(params, states, backend):
    ...     return xr.Dataset({"u": ("rep", states[:, 0] / 2.0**64)})
    >>> study = Study(
    ...     name="demo", title="uniforms", paper="none", family="demo", teaching="",
    ...     params=(Param("M", int, "size", low=1),), grid={"M": (1, 2)}, settings={}, reps=100,
    ...     quick_grid={"M": (1,)}, quick_settings={}, quick_reps=10, simulate=simulate,
    ...     theory=lambda ds: xr.Dataset(), checks=lambda ds: [], plot=lambda ds: None,
    ... )
    >>> cfg = study.config(quick=True, reps=3, overrides={"M": [1, 5]})
    >>> cfg.reps, cfg.grid["M"]
    (3, (1, 5))
    """

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
        """The declared parameter called ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        Param

        Raises
        ------
        ParameterError
            If the study has no such parameter (the message lists the known ones).

        Examples
        --------
        >>> import xarray as xr
        >>> study = Study("demo", "t", "p", "demo", "", (Param("M", int),), {"M": (1,)}, {}, 1,
        ...               {"M": (1,)}, {}, 1, None, None, None, None)
        >>> study.param("M").kind
        <class 'int'>
        >>> study.param("N")
        Traceback (most recent call last):
        ...
        simkit.errors.ParameterError: demo has no parameter 'N' (known: M)
        """
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ParameterError(f"{self.name} has no parameter {name!r} (known: {known})")

    def config(self, *, quick=False, reps=None, seed=0, backend="numba", overrides=None) -> RunConfig:
        """Build and validate the run configuration.

        ``overrides`` maps a parameter name to a value (a setting) or to a sequence of values
        (a grid dimension).  Every cell is validated before anything runs.

        Parameters
        ----------
        quick : bool, optional
            Start from the quick grid, settings and replications.
        reps : int, optional
            Replications per cell (default: the study's, full or quick).
        seed : int, optional
            The run's seed, in ``[0, 2**128)``; default 0.
        backend : str, optional
            Recorded in the configuration (resolved by the caller); default ``"numba"``.
        overrides : dict, optional
            Parameter name → value, or → list of values for a grid dimension.

        Returns
        -------
        RunConfig

        Raises
        ------
        ParameterError, ParameterTypeError
            An unknown parameter, a value out of range or of the wrong type, a list for a setting,
            a repeated grid value, or a cell that :attr:`validate_cell` refuses.

        Examples
        --------
        >>> study = Study("demo", "t", "p", "demo", "", (Param("M", int, low=1), Param("fit", str)),
        ...               {"M": (10,)}, {"fit": "mle"}, 100, {"M": (10,)}, {"fit": "mle"}, 10,
        ...               None, None, None, None)
        >>> cfg = study.config(quick=True, overrides={"M": [5, 20], "fit": "unbiased"})
        >>> cfg.grid, cfg.settings, cfg.reps
        ({'M': (5, 20)}, {'fit': 'unbiased'}, 10)
        >>> study.config(reps=0)
        Traceback (most recent call last):
        ...
        simkit.errors.ParameterError: reps must be in [1, 1000000000], got 0
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
            from .api import check_working_memory

            check_working_memory(self, cfg)  # before validate_cell, which may build a cell's instance
            for cell in cfg.points():
                self.validate_cell({**settings, **cell})
        return cfg
