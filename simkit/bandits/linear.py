"""Misspecified linear contextual bandits: instances with a chosen gap, policies, and the three backends.

An instance is a fixed set of ``n`` unit-norm arms ``x_i`` in R^d and true mean rewards
``r_i = <theta*, x_i> + eta_i`` with ``|eta_i| <= zeta`` (Zhang, He, Fan, Gu, ICML 2023).
:func:`make_instance` builds one whose minimal sub-optimality gap is exactly the requested
``gap`` (see its docstring for how).  :func:`simulate_linear` plays one policy on it,
one replication per row of ``states``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..errors import ParameterError
from ..kernels.bandits_linear import FRESH_MISSPEC_CODES, LINEAR_POLICY_CODES, sup_levels
from ..launch import launch
from ..validation import check_array, check_choice, check_int, check_real
from .karmed import _validate_grid, log_grid

__all__ = [
    "LinearInstance",
    "FreshContexts",
    "LinearPolicy",
    "make_instance",
    "make_fresh_contexts",
    "simulate_linear",
    "LinearResult",
    "LINEAR_POLICIES",
]

LINEAR_POLICIES = tuple(LINEAR_POLICY_CODES)
MISSPEC = ("two-point", "uniform", "sign")


@dataclasses.dataclass(frozen=True)
class LinearInstance:
    """A fixed-arm linear bandit instance.

    Attributes
    ----------
    arms : float64 (n, d)
        Arm feature vectors (unit norm).
    theta : float64 (d,)
        The linear parameter theta* (unit norm).
    eta : float64 (n,)
        Misspecification of each arm, ``|eta_i| <= zeta``.
    zeta : float
        Misspecification level.
    """

    arms: np.ndarray
    theta: np.ndarray
    eta: np.ndarray
    zeta: float

    @property
    def rewards(self) -> np.ndarray:
        """True mean rewards ``arms @ theta + eta``, shape (n,)."""
        return self.arms @ self.theta + self.eta

    @property
    def gap(self) -> float:
        """Minimal positive sub-optimality gap Delta."""
        r = np.sort(self.rewards)[::-1]
        positive = r[0] - r[1:]
        positive = positive[positive > 0]
        return float(positive.min()) if positive.size else 0.0

    @property
    def d(self) -> int:
        return self.arms.shape[1]

    @property
    def n_arms(self) -> int:
        return self.arms.shape[0]


@dataclasses.dataclass(frozen=True)
class FreshContexts:
    """Fresh contexts every round: ``n_arms`` unit-norm contexts drawn uniformly on the sphere from the
    replication's stream, mean rewards ``<theta, x> + eta`` with ``eta`` drawn per context (``two-point``:
    ``±zeta``; ``uniform``: on ``[-zeta, zeta]``).  The gap then varies from round to round.

    Attributes
    ----------
    theta : float64 (d,)
        The linear parameter theta* (unit norm).
    n_arms : int
        Contexts per round.
    zeta : float
        Misspecification level.
    misspec : {"two-point", "uniform"}
    """

    theta: np.ndarray
    n_arms: int
    zeta: float
    misspec: str = "two-point"

    @property
    def d(self) -> int:
        return self.theta.shape[0]


def make_fresh_contexts(d: int, n_arms: int, zeta: float, *, seed: int, misspec: str = "two-point") -> FreshContexts:
    """Fresh-context instance with theta* uniform on the unit sphere (``numpy.random.default_rng(seed)``).

    Parameters
    ----------
    d : int
        Dimension (>= 2).
    n_arms : int
        Contexts per round (>= 2).
    zeta : float
        Misspecification level (>= 0).
    seed : int
        Seed of theta* (shared by every replication; contexts come from each replication's stream).
    misspec : {"two-point", "uniform"}
    """
    d = check_int("d", d, low=2)
    n_arms = check_int("n_arms", n_arms, low=2)
    zeta = check_real("zeta", zeta, low=0)
    seed = check_int("instance_seed", seed, low=0)
    check_choice("misspec", misspec, tuple(FRESH_MISSPEC_CODES))
    theta = np.random.default_rng(seed).standard_normal(d)
    return FreshContexts(theta=theta / np.linalg.norm(theta), n_arms=n_arms, zeta=zeta, misspec=misspec)


def make_instance(
    d: int,
    n_arms: int,
    gap: float,
    zeta: float,
    *,
    seed: int,
    misspec: str = "two-point",
    construction: str = "rotate-best",
) -> LinearInstance:
    """An instance with unit-norm theta* and arms drawn uniformly on the sphere, and minimal gap ``gap``.

    How the gap is controlled: theta* and the n arms are standard normal vectors normalised to unit
    norm, and ``eta_i`` is ``±zeta`` with equal probability (``misspec="two-point"``), uniform on
    ``[-zeta, zeta]`` (``"uniform"``), or ``zeta sign(<x_i, u>)`` for a random direction u (``"sign"``: a
    step non-linearity whose best linear fit errs by about ``zeta sqrt(d)`` on arms aligned with u).  Let ``b`` be the arm with the largest reward and ``r_2`` the largest reward
    among the others.  Arm b is then rotated, in the plane of its direction and theta*, to
    ``x_b = c theta* + sqrt(1 - c^2) u`` (u the unit component of x_b orthogonal to theta*) with
    ``c = r_2 + gap - eta_b``, so that its reward is exactly ``r_2 + gap``; every other gap is
    larger.  This needs ``|c| <= 1``, which fails when ``gap`` or ``zeta`` is large against the spread of
    the linear rewards.

    ``construction="anchored"`` works for ``gap < 1`` and ``zeta`` up to about ``1 - gap/2``: the best arm
    is set to ``x_b = theta*`` with ``eta_b = +zeta`` (``-zeta`` for ``"sign"``, the adversarial choice), so
    its reward is ``r* = 1 + eta_b``; the runner-up (the other arm with
    the largest ``eta``) and every other arm whose reward exceeds ``r* - gap`` are rotated towards or away
    from theta* (as above) so that their reward is exactly ``r* - gap``.  Arms are then denser near the top.

    Parameters
    ----------
    d : int
        Dimension (>= 2).
    n_arms : int
        Number of arms (>= 2).
    gap : float
        Minimal sub-optimality gap Delta (> 0).
    zeta : float
        Misspecification level (>= 0).
    seed : int
        Instance seed (``numpy.random.default_rng(seed)``), shared by every replication.
    misspec : {"two-point", "uniform", "sign"}
    construction : {"rotate-best", "anchored"}

    Returns
    -------
    LinearInstance
    """
    d = check_int("d", d, low=2)
    n_arms = check_int("n_arms", n_arms, low=2)
    gap = check_real("gap", gap, low=0, low_inclusive=False)
    zeta = check_real("zeta", zeta, low=0)
    seed = check_int("instance_seed", seed, low=0)
    check_choice("misspec", misspec, MISSPEC)
    check_choice("construction", construction, ("rotate-best", "anchored"))
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(d)
    theta /= np.linalg.norm(theta)
    arms = rng.standard_normal((n_arms, d))
    arms /= np.linalg.norm(arms, axis=1, keepdims=True)
    if misspec == "two-point":
        eta = zeta * np.where(rng.random(n_arms) < 0.5, -1.0, 1.0)
    elif misspec == "uniform":
        eta = rng.uniform(-zeta, zeta, n_arms)
    else:
        direction = rng.standard_normal(d)
        eta = zeta * np.where(arms @ direction >= 0.0, 1.0, -1.0)
    rewards = arms @ theta + eta
    b = int(np.argmax(rewards))
    if construction == "rotate-best":
        r2 = np.max(np.delete(rewards, b))
        c = r2 + gap - eta[b]
        if abs(c) > 1.0:
            raise ParameterError(
                f"gap must be small enough that the best arm fits on the unit sphere: gap {gap:g} needs "
                f"<theta*, x_best> = {c:.3f}, outside [-1, 1] (lower gap or zeta, or use construction='anchored')"
            )
        arms[b] = _rotate(arms[b], theta, c)
    else:
        if gap >= 1.0:
            raise ParameterError(f"gap must be in (0, 1) for the anchored construction, got {gap:g}")
        arms[b], eta[b] = theta, (-zeta if misspec == "sign" else zeta)
        top = 1.0 + eta[b]
        others = np.delete(np.arange(n_arms), b)
        runner = others[np.argmax(eta[others])]
        for i in others:
            if i == runner or arms[i] @ theta + eta[i] > top - gap:
                arms[i] = _rotate(arms[i], theta, top - gap - eta[i])
    return LinearInstance(arms=arms, theta=theta, eta=eta, zeta=zeta)


def _rotate(x, theta, c):
    """``x`` turned in the plane of ``x`` and unit ``theta`` so that ``<theta, x> = c`` (norm 1)."""
    if abs(c) > 1.0:
        raise ParameterError(f"cannot place an arm at <theta*, x> = {c:.3f}: gap and zeta are too large together")
    u = x - (x @ theta) * theta
    u /= np.linalg.norm(u)
    return c * theta + np.sqrt(1.0 - c * c) * u


@dataclasses.dataclass(frozen=True)
class LinearPolicy:
    """A linear bandit policy.

    ``kind``: ``ds-oful`` (``gamma`` = 0 is OFUL/LinUCB), ``suplinucb`` or ``lin-ts``.
    ``beta`` is the confidence radius (for ``suplinucb`` the width scale, Chu et al.'s ``alpha + 1``: widths
    ``beta ||x||`` are compared with the level thresholds ``2^-l``; for ``lin-ts`` unused), ``lam`` the ridge
    parameter, ``gamma`` DS-OFUL's data-selection threshold Γ, ``v`` linear TS's posterior scale.
    """

    kind: str
    gamma: float = 0.0
    beta: float = 1.0
    lam: float = 1.0
    v: float = 1.0

    def __post_init__(self):
        check_choice("policy", self.kind, LINEAR_POLICIES)
        check_real("Gamma", self.gamma, low=0)
        check_real("beta", self.beta, low=0)
        check_real("lambda", self.lam, low=0, low_inclusive=False)
        check_real("v", self.v, low=0)

    @property
    def code(self) -> int:
        return LINEAR_POLICY_CODES[self.kind]

    def vector(self) -> np.ndarray:
        """``float64[4]`` ``(Gamma, beta, lambda, v)`` for the kernels."""
        return np.array([self.gamma, self.beta, self.lam, self.v], dtype=np.float64)


@dataclasses.dataclass
class LinearResult:
    """Output of :func:`simulate_linear`.

    Attributes
    ----------
    regret : float64 (reps, G)
        Cumulative pseudo-regret after each grid round (reward units).
    pulls : int64 (reps, n)
        Final pull counts of each arm.
    grid : int64 (G,)
    """

    regret: np.ndarray
    pulls: np.ndarray
    grid: np.ndarray


def simulate_linear(
    states,
    instance: LinearInstance | FreshContexts,
    policy: LinearPolicy,
    horizon: int,
    *,
    sigma: float = 1.0,
    grid=None,
    backend: str = DEFAULT_BACKEND,
) -> LinearResult:
    """Regret of ``policy`` on ``instance``, one replication per row of ``states``.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        Replication streams; not modified.
    instance : LinearInstance or FreshContexts
        A fixed arm set, or fresh contexts every round.
    policy : LinearPolicy
    horizon : int
        Rounds K >= 1.
    sigma : float
        Noise standard deviation (>= 0).
    grid : array_like of int, optional
        Rounds at which regret is recorded (default :func:`~simkit.bandits.karmed.log_grid`).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    LinearResult
    """
    states = check_states(states)
    backend = check_backend(backend)
    if not isinstance(policy, LinearPolicy):
        raise ParameterError(f"policy must be a LinearPolicy, got {type(policy).__name__}")
    horizon = check_int("horizon", horizon, low=1)
    sigma = check_real("sigma", sigma, low=0)
    if isinstance(instance, FreshContexts):
        theta = check_array("theta", instance.theta, ndim=1)
        n, d = check_int("n_arms", instance.n_arms, low=2), theta.shape[0]
        zeta = check_real("zeta", instance.zeta, low=0)
        check_choice("misspec", instance.misspec, tuple(FRESH_MISSPEC_CODES))
        fresh, misspec = 1, FRESH_MISSPEC_CODES[instance.misspec]
        arms, rewards = np.zeros((n, d)), np.zeros(n)
    elif isinstance(instance, LinearInstance):
        arms = check_array("arms", instance.arms, ndim=2)
        n, d = arms.shape
        if n < 2:
            raise ParameterError(f"the instance needs at least 2 arms, got {n}")
        theta = check_array("theta", instance.theta, ndim=1)
        if theta.shape[0] != d:
            raise ParameterError(f"theta has dimension {theta.shape[0]} but the arms have d = {d}")
        eta = check_array("eta", instance.eta, shape=(n,))
        rewards = np.ascontiguousarray(arms @ theta + eta)
        arms = np.ascontiguousarray(arms)
        fresh, misspec, zeta = 0, 0, float(instance.zeta)
    else:
        raise ParameterError(f"instance must be a LinearInstance or FreshContexts, got {type(instance).__name__}")
    theta = np.ascontiguousarray(theta)
    grid = log_grid(horizon) if grid is None else _validate_grid(grid, horizon)
    reps = states.shape[0]
    regret = np.zeros((reps, grid.shape[0]))
    pulls = np.zeros((reps, n))
    if backend == "numpy":
        from .linear_reference import linear_reference

        for r in range(reps):
            regret[r], pulls[r] = linear_reference(states[r].copy(), instance, policy, horizon, grid, sigma)
    else:
        levels = sup_levels(horizon) if policy.kind == "suplinucb" else 1
        from ..kernels.bandits_linear import linear_cpu, linear_cuda

        scratch = (
            (reps, levels, d, d),
            (reps, levels, d),
            (reps, levels, 2, n),
            (reps, 2, max(n, d)),
            (reps, d, d),
            (reps, n, d),
            (reps, n),
        )
        args = (arms, rewards, fresh, theta, zeta, misspec, sigma, policy.code, policy.vector(), horizon, grid)
        launch(
            linear_cpu if backend == "numba" else linear_cuda,
            backend,
            states=states,
            args=args,
            scratch=scratch,
            outputs=(pulls, regret),
        )
    return LinearResult(regret=regret, pulls=np.rint(pulls).astype(np.int64), grid=grid)
