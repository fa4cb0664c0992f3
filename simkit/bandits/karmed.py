"""K-armed bandit simulation: validated parameters and the three backends.

:func:`simulate_karmed` plays ``reps`` replications of one policy on a K-armed bandit (a fixed
instance or a fresh instance per replication drawn from a prior) and returns the cumulative
pseudo-regret on a time grid, the final pull counts and the instances.  ``numpy`` runs the
readable reference (:mod:`simkit.bandits.reference`), ``numba`` and ``cuda`` the compiled body of
:mod:`simkit.kernels.bandits_karmed`; all three read replication r's stream ``states[r]`` in the
same order, so they agree to rounding.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..backends import DEFAULT_BACKEND, check_backend, check_states
from ..errors import ParameterError
from ..kernels.bandits_karmed import ENV_CODES, POLICY_CODES, WORK_ROWS
from ..launch import launch
from ..validation import check_array, check_choice, check_int, check_real

__all__ = [
    "NormalGamma",
    "Policy",
    "POLICIES",
    "ENVIRONMENTS",
    "log_grid",
    "simulate_karmed",
    "KArmedResult",
]

POLICIES = tuple(POLICY_CODES)
ENVIRONMENTS = tuple(ENV_CODES)


@dataclasses.dataclass(frozen=True)
class NormalGamma:
    """Normal-Gamma prior on an arm's (mean, precision): ``lambda ~ Gamma(alpha0, rate beta0)``,
    ``mu | lambda ~ N(mu0, 1/(kappa0 lambda))``.

    The prior mean of the variance ``1/lambda`` is ``beta0 / (alpha0 - 1)`` (for ``alpha0 > 1``).
    """

    mu0: float = 0.0
    kappa0: float = 1.0
    alpha0: float = 2.0
    beta0: float = 1.0

    def __post_init__(self):
        check_real("mu0", self.mu0)
        check_real("kappa0", self.kappa0, low=0, low_inclusive=False)
        check_real("alpha0", self.alpha0, low=0, low_inclusive=False)
        check_real("beta0", self.beta0, low=0, low_inclusive=False)

    def mean_variance(self) -> float:
        """Prior mean of an arm's reward variance, ``beta0/(alpha0 - 1)`` (inf if ``alpha0 <= 1``)."""
        return self.beta0 / (self.alpha0 - 1.0) if self.alpha0 > 1.0 else math.inf

    def mean_prior_variance(self) -> float:
        """Marginal prior variance of an arm's mean, ``E[1/(kappa0 lambda)] = beta0/(kappa0 (alpha0 - 1))``."""
        return self.mean_variance() / self.kappa0

    def as_array(self) -> np.ndarray:
        """``float64[4]`` ``(mu0, kappa0, alpha0, beta0)`` for the kernels."""
        return np.array([self.mu0, self.kappa0, self.alpha0, self.beta0], dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class Policy:
    """A K-armed policy: its kind (one of :data:`POLICIES`) and its parameters.

    ====================  ==========================================================
    kind                  params (defaults)
    ====================  ==========================================================
    ``ucb1``              none
    ``ucb-v``             ``b`` reward range (1.0)
    ``kl-ucb``            ``variance_bound`` (1.0): Gaussian KL-UCB
    ``kl-ucb-bernoulli``  ``c`` (0.0): exploration ``log t + c log log t``
    ``ts-known``          ``mu0`` (0.0), ``kappa0`` (1.0): prior N(mu0, s_i^2/kappa0), true s_i^2
    ``ts-fixed``          ``variance`` (1.0), ``mu0`` (0.0), ``prior_variance`` (1.0)
    ``varts``             ``prior``: a :class:`NormalGamma` (default NormalGamma())
    ``ts-bernoulli``      ``a`` (1.0), ``b`` (1.0): Beta prior
    ====================  ==========================================================
    """

    kind: str
    params: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        check_choice("policy", self.kind, POLICIES)
        allowed = _POLICY_DEFAULTS[self.kind]
        for key in self.params:
            if key not in allowed:
                raise ParameterError(
                    f"policy {self.kind} has no parameter {key!r} (allowed: {', '.join(allowed) or 'none'})"
                )

    @property
    def code(self) -> int:
        """The kernel's integer code."""
        return POLICY_CODES[self.kind]

    def vector(self) -> np.ndarray:
        """``float64[4]`` parameters for the kernel (validated; see the kernel module)."""
        p = {**_POLICY_DEFAULTS[self.kind], **self.params}
        out = np.zeros(4, dtype=np.float64)
        if self.kind == "ucb-v":
            out[0] = check_real("b", p["b"], low=0, low_inclusive=False)
        elif self.kind == "kl-ucb":
            out[0] = check_real("variance_bound", p["variance_bound"], low=0, low_inclusive=False)
        elif self.kind == "kl-ucb-bernoulli":
            out[0] = check_real("c", p["c"], low=0)
        elif self.kind == "ts-known":
            out[0] = check_real("mu0", p["mu0"])
            out[1] = check_real("kappa0", p["kappa0"], low=0, low_inclusive=False)
        elif self.kind == "ts-fixed":
            out[0] = check_real("variance", p["variance"], low=0, low_inclusive=False)
            out[1] = check_real("mu0", p["mu0"])
            out[2] = check_real("prior_variance", p["prior_variance"], low=0, low_inclusive=False)
        elif self.kind == "varts":
            prior = p["prior"]
            if not isinstance(prior, NormalGamma):
                raise ParameterError(f"varts prior must be a NormalGamma, got {prior!r}")
            out[:] = prior.as_array()
        elif self.kind == "ts-bernoulli":
            out[0] = check_real("a", p["a"], low=0, low_inclusive=False)
            out[1] = check_real("b", p["b"], low=0, low_inclusive=False)
        return out


_POLICY_DEFAULTS = {
    "ucb1": {},
    "ucb-v": {"b": 1.0},
    "kl-ucb": {"variance_bound": 1.0},
    "kl-ucb-bernoulli": {"c": 0.0},
    "ts-known": {"mu0": 0.0, "kappa0": 1.0},
    "ts-fixed": {"variance": 1.0, "mu0": 0.0, "prior_variance": 1.0},
    "varts": {"prior": NormalGamma()},
    "ts-bernoulli": {"a": 1.0, "b": 1.0},
}


@dataclasses.dataclass
class KArmedResult:
    """Output of :func:`simulate_karmed` (NumPy arrays).

    Attributes
    ----------
    regret : float64 (reps, G)
        Cumulative pseudo-regret after each grid round (reward units).
    counts : int64 (reps, K)
        Final number of pulls of each arm.
    means, variances : float64 (reps, K)
        The instance each replication played.
    grid : int64 (G,)
        The grid rounds (1-based).
    """

    regret: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    grid: np.ndarray


def log_grid(horizon: int, points: int = 40) -> np.ndarray:
    """About ``points`` log-spaced distinct rounds from 1 to ``horizon`` (both included).

    Returns
    -------
    numpy.ndarray of int64, shape (G,), G <= points
        Strictly increasing rounds.

    Examples
    --------
    >>> log_grid(1000, 5).tolist()
    [1, 6, 32, 178, 1000]
    """
    horizon = check_int("horizon", horizon, low=1)
    points = check_int("grid_points", points, low=2)
    g = np.unique(np.round(np.geomspace(1, horizon, points)).astype(np.int64))
    g[-1] = horizon
    return g


def _validate_grid(grid, horizon):
    grid = check_array("grid", grid, ndim=1, dtype=np.int64)
    if grid.size == 0 or grid[0] < 1 or grid[-1] > horizon or np.any(np.diff(grid) <= 0):
        raise ParameterError(f"grid must be strictly increasing rounds in [1, {horizon}]")
    return np.ascontiguousarray(grid)


def _instance(env, means, variances, prior, k):
    """Validate the instance specification; return (inst_mode, inst_mean, inst_var, env_prior, K)."""
    if means is not None:
        if prior is not None:
            raise ParameterError(
                "give either means (a fixed instance) or prior (an instance per replication), not both"
            )
        low, high = (None, None) if env == "gaussian" else (0.0, 1.0)
        inst_mean = check_array("means", means, ndim=1, low=low, high=high)
        if inst_mean.shape[0] < 2:
            raise ParameterError(f"K (the number of arms) must be >= 2, got {inst_mean.shape[0]}")
        if env == "gaussian":
            if variances is None:
                raise ParameterError("variances are needed for a fixed Gaussian instance")
            inst_var = check_array("variances", variances, shape=(inst_mean.shape[0],))
            if np.any(inst_var <= 0):
                raise ParameterError("variances must all be > 0")
        else:
            if env == "beta" and np.any((inst_mean <= 0) | (inst_mean >= 1)):
                raise ParameterError("means must lie in (0, 1) for Beta(4 mu, 4 (1 - mu)) rewards")
            inst_var = inst_mean * (1 - inst_mean) / (5.0 if env == "beta" else 1.0)
        return 0, inst_mean, np.ascontiguousarray(inst_var, dtype=np.float64), np.zeros(4), inst_mean.shape[0]
    if prior is None:
        raise ParameterError("give means (a fixed instance) or prior (an instance per replication)")
    k = check_int("K", k, low=2)
    if env == "gaussian":
        if not isinstance(prior, NormalGamma):
            raise ParameterError(f"prior for Gaussian rewards must be a NormalGamma, got {prior!r}")
        env_prior = prior.as_array()
    else:
        if isinstance(prior, NormalGamma) or np.ndim(prior) != 1 or len(prior) != 2:
            raise ParameterError(
                f"prior for {env} rewards must be a pair (a, b): arm means ~ Beta(a, b); got {prior!r}"
            )
        a, b = prior
        env_prior = np.array(
            [
                check_real("prior a", a, low=0, low_inclusive=False),
                check_real("prior b", b, low=0, low_inclusive=False),
                0.0,
                0.0,
            ]
        )
    return 1, np.zeros(k), np.ones(k), env_prior, k


def simulate_karmed(
    states,
    policy: Policy,
    horizon: int,
    *,
    env: str = "gaussian",
    means=None,
    variances=None,
    prior=None,
    K: int | None = None,
    grid=None,
    backend: str = DEFAULT_BACKEND,
) -> KArmedResult:
    """Regret of ``policy`` on a K-armed bandit, one replication per row of ``states``.

    Parameters
    ----------
    states : numpy.ndarray of uint64, shape (reps, 2)
        Replication streams (:func:`simkit.rng.rep_states`); not modified.
    policy : Policy
        The policy and its parameters.
    horizon : int
        Rounds per replication, n >= 1.
    env : {"gaussian", "bernoulli", "beta"}
        Reward distribution: N(mu, s^2), Bernoulli(mu), or Beta(4 mu, 4 (1 - mu)).
    means, variances : array_like, shape (K,), optional
        A fixed instance shared by every replication (variances only for Gaussian rewards).
    prior : NormalGamma or (a, b), optional
        Instead of ``means``: a fresh instance per replication, Normal-Gamma for Gaussian
        rewards, ``mu_i ~ Beta(a, b)`` otherwise; then ``K`` is required.
    K : int, optional
        Number of arms (>= 2) when the instance comes from ``prior``.
    grid : array_like of int, shape (G,), optional
        Rounds at which regret is recorded (default :func:`log_grid` ``(horizon)``).
    backend : {"numba", "numpy", "cuda", "auto"}
        See :func:`simkit.backends.check_backend`.

    Returns
    -------
    KArmedResult
    """
    states = check_states(states)
    backend = check_backend(backend)
    check_choice("env", env, ENVIRONMENTS)
    if not isinstance(policy, Policy):
        raise ParameterError(f"policy must be a simkit.bandits.Policy, got {policy!r}")
    horizon = check_int("horizon", horizon, low=1)
    pp = policy.vector()
    inst_mode, inst_mean, inst_var, env_prior, k = _instance(env, means, variances, prior, K)
    grid = log_grid(horizon) if grid is None else _validate_grid(grid, horizon)
    reps = states.shape[0]
    env_code = ENV_CODES[env]
    work = np.zeros((reps, WORK_ROWS, k), dtype=np.float64)
    regret = np.zeros((reps, grid.shape[0]), dtype=np.float64)
    args = (env_code, inst_mode, inst_mean, inst_var, env_prior, policy.code, pp, horizon, grid)
    if backend == "numpy":
        from .reference import karmed_reference

        for r in range(reps):
            karmed_reference(states[r].copy(), *args, work[r], regret[r])
    else:
        from ..kernels.bandits_karmed import karmed_cpu, karmed_cuda

        launch(
            karmed_cpu if backend == "numba" else karmed_cuda, backend, states=states, args=args, outputs=(work, regret)
        )
    return KArmedResult(
        regret=regret,
        counts=np.rint(work[:, 2, :]).astype(np.int64),
        means=work[:, 0, :].copy(),
        variances=work[:, 1, :].copy(),
        grid=grid,
    )
