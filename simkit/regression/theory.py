"""Closed-form predictions for sketched ridgeless regression and misspecified kernel ridge regression.

From Chen, Zeng, Yang, Sun 2023 ("Sketched Ridgeless Linear Regression: The Role of
Downsampling", ICML; sketched ridgeless regression) and Zhang, Li, Lu, Lin 2023 ("On the Optimality
of Misspecified Kernel Ridge Regression", ICML); each formula is written out in its function's
docstring.

Notation: ``phi = p/n``, ``psi = m/n``, ``t = p/m = phi/psi``,
``SNR = alpha/sigma``; ``alpha**2`` is the signal energy ``E||beta||^2`` and ``sigma**2`` the noise
variance.  Risks are out-of-sample excess risks ``||beta_hat - beta||^2_Sigma`` (units of the
response squared).  Misspecified KRR: eigenvalue decay ``beta`` (``lambda_j ~ j^-beta``),
source smoothness ``s``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from ..errors import ParameterError
from ..validation import check_array, check_real

__all__ = [
    "SKETCHES",
    "ORTHOGONAL",
    "isotropic_limits",
    "full_sample_limits",
    "gaussian_finite_risk",
    "optimal_sketch",
    "stable_risk",
    "correlated_c0",
    "correlated_limits",
    "optimal_psi_numeric",
    "krr_rate_exponent",
    "krr_lambda_schedule",
    "sine_series",
]

#: Sketch names understood by the theory and the simulators.
SKETCHES = ("haar", "srht", "gaussian")
#: Sketches with orthonormal rows (``S S^T = I_m``).
ORTHOGONAL = ("haar", "srht", "orthogonal", "none")


def _kind(sketch):
    if sketch in ORTHOGONAL:
        return "orthogonal"
    if sketch in ("gaussian", "iid"):
        return "iid"
    raise ParameterError(f"sketch must be one of haar, srht, orthogonal, gaussian, iid, none; got {sketch!r}")


def _check_snr(alpha, sigma):
    check_real("alpha", alpha, low=0)
    check_real("sigma", sigma, low=0)


def isotropic_limits(phi, psi, alpha, sigma, sketch="haar"):
    r"""Limiting bias and variance of sketched ridgeless regression, isotropic features (Theorem 3.2).

    .. math::

       t = \frac{\phi}{\psi} = \frac pm: \qquad \begin{cases} B = 0,\quad V = \sigma^2 \dfrac{t}{1-t} \;\Big(+\,\sigma^2\dfrac{\phi}{1-\phi}\text{ for an i.i.d. sketch}\Big) & t < 1,\\[1ex] B = \alpha^2\Big(1 - \dfrac1t\Big),\quad V = \dfrac{\sigma^2}{t - 1} & t > 1. \end{cases}

    Parameters
    ----------
    phi : float or array_like
        Aspect ratio ``p/n`` (> 0).
    psi : float or array_like
        Sketch ratio ``m/n`` in (0, 1]; ``psi = 1`` with an orthogonal sketch is the full sample.
    alpha : float
        Signal strength, ``E||beta||^2 = alpha**2`` (>= 0).
    sigma : float
        Noise standard deviation (>= 0).
    sketch : str
        ``haar``/``srht``/``orthogonal``/``none`` (orthonormal rows) or ``gaussian``/``iid``.

    Returns
    -------
    bias, variance : numpy.ndarray
        Broadcast shape of ``phi`` and ``psi``; ``inf`` at ``t = p/m = 1``.

    Examples
    --------
    >>> b, v = isotropic_limits(0.5, 1.0, 5.0, 5.0)   # full sample, phi = 1/2
    >>> float(b), float(v)
    (0.0, 25.0)
    """
    kind = _kind(sketch)
    _check_snr(alpha, sigma)
    phi = check_array("phi", phi, low=0.0)
    psi = check_array("psi", psi, low=0.0, high=1.0)
    if np.any(phi <= 0):
        raise ParameterError("phi must be > 0")
    if np.any(psi <= 0):
        raise ParameterError("psi must be in (0, 1]")
    phi, psi = np.broadcast_arrays(phi, psi)
    t = phi / psi
    a2, s2 = float(alpha) ** 2, float(sigma) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        under = t < 1
        bias = np.where(under, 0.0, a2 * (1.0 - 1.0 / t))
        var_under = s2 * t / (1.0 - t)
        if kind == "iid":
            var_under = var_under + np.where(phi < 1, s2 * phi / (1.0 - phi), np.inf)
        var = np.where(under, var_under, s2 / (t - 1.0))
        var = np.where(t == 1, np.inf, var)
    return bias.astype(float), var.astype(float)


def full_sample_limits(phi, alpha, sigma):
    r"""Limiting bias and variance of the full-sample minimum-norm interpolator (double descent).

    .. math::

       R(\phi) = \begin{cases} \sigma^2\dfrac{\phi}{1-\phi} & \phi < 1,\\[1ex] \alpha^2\Big(1 - \dfrac1\phi\Big) + \dfrac{\sigma^2}{\phi - 1} & \phi > 1. \end{cases}

    ``sigma**2 phi/(1-phi)`` (no bias) for ``phi < 1``; ``alpha**2 (1 - 1/phi)`` and
    ``sigma**2/(phi - 1)`` for ``phi > 1``.  Shapes as :func:`isotropic_limits` with ``psi = 1``.

    >>> [float(v) for v in full_sample_limits(2.0, 10.0, 5.0)]
    [50.0, 25.0]
    """
    return isotropic_limits(phi, 1.0, alpha, sigma, "orthogonal")


def gaussian_finite_risk(m, p, alpha, sigma):
    r"""Exact finite-size expected bias and variance with an isotropic Gaussian design.

    .. math::

       \mathbb E R = \begin{cases} \sigma^2 \dfrac{p}{m - p - 1} & p < m - 1,\\[1ex] \alpha^2\Big(1 - \dfrac mp\Big) + \sigma^2\dfrac{m}{p - m - 1} & p > m + 1. \end{cases}

    For the full sample (``m = n``) and any sketch with orthonormal rows, ``S X`` is an ``m x p``
    matrix of i.i.d. standard normals, so the inverse-Wishart means give, averaged over ``beta``:

    * ``p < m - 1``: bias 0, variance ``sigma**2 p/(m - p - 1)``;
    * ``p > m + 1``: bias ``alpha**2 (1 - m/p)``, variance ``sigma**2 m/(p - m - 1)``;
    * otherwise the variance is infinite.

    For ``p > m`` the i.i.d. Gaussian sketch has exactly the same risk distribution (only the row
    space of ``S X`` and the whitened noise matter).  The limits of :func:`isotropic_limits` are
    these with the ``-1`` dropped.

    Parameters
    ----------
    m, p : int or array_like
        Rows of the (sketched) design and features (>= 1), broadcast together.
    alpha, sigma : float
        Signal strength and noise standard deviation (>= 0).

    Returns
    -------
    bias, variance : numpy.ndarray

    Examples
    --------
    >>> [round(float(v), 6) for v in gaussian_finite_risk(400, 200, 5.0, 5.0)]   # 25 * 200/199
    [0.0, 25.125628]
    """
    _check_snr(alpha, sigma)
    m = check_array("m", m, low=1)
    p = check_array("p", p, low=1)
    m, p = np.broadcast_arrays(m, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        bias = np.where(p > m, alpha**2 * (1.0 - m / p), 0.0)
        var = np.where(p < m - 1, sigma**2 * p / (m - p - 1), np.where(p > m + 1, sigma**2 * m / (p - m - 1), np.inf))
    return bias.astype(float), var.astype(float)


def optimal_sketch(phi, alpha, sigma, *, small_psi=None):
    r"""Optimal sketch ratio ``psi* = m*/n`` and its limiting risk for an orthogonal sketch.

    .. math::

       \text{SNR} = \alpha/\sigma > 1,\; 1 - \frac{\sigma}{2\alpha} < \phi \le \frac{\alpha}{\alpha - \sigma}: \qquad m^* = \Big(1 - \frac\sigma\alpha\Big)p, \qquad R^* = 2\alpha\sigma - \sigma^2

    * SNR > 1 and ``1 - sigma/(2 alpha) < phi <= alpha/(alpha - sigma)``: ``m* = (1 - sigma/alpha) p``,
      risk ``2 alpha sigma - sigma**2``;
    * SNR <= 1 and ``phi > alpha**2/(alpha**2 + sigma**2)``: ``m* << n``, limiting risk ``alpha**2``
      (``psi*`` is returned as ``small_psi`` if given, else 0);
    * otherwise ``m* = n`` (no sketch) and the full-sample risk.

    Parameters
    ----------
    phi : float or array_like
        ``p/n`` (> 0).
    alpha, sigma : float
        Signal strength and noise standard deviation (> 0).
    small_psi : float, optional
        The ratio to report where ``m*`` is "as small as possible" (the paper uses 1/40).

    Returns
    -------
    psi_star, risk_star : numpy.ndarray
        Shape of ``phi``.  ``risk_star`` is the limit (with ``m/n -> 0`` in the small-m regime).
    """
    _check_snr(alpha, sigma)
    if alpha <= 0 or sigma <= 0:
        raise ParameterError("alpha and sigma must be > 0 for the optimal sketch size")
    phi = check_array("phi", phi, low=0.0)
    if np.any(phi <= 0):
        raise ParameterError("phi must be > 0")
    b, v = full_sample_limits(phi, alpha, sigma)
    psi = np.ones_like(phi)
    risk = b + v
    if alpha > sigma:
        mid = (phi > 1 - sigma / (2 * alpha)) & (phi <= alpha / (alpha - sigma))
        psi = np.where(mid, (1 - sigma / alpha) * phi, psi)
        risk = np.where(mid, 2 * alpha * sigma - sigma**2, risk)
    else:
        small = phi > alpha**2 / (alpha**2 + sigma**2)
        psi = np.where(small, 0.0 if small_psi is None else float(small_psi), psi)
        risk = np.where(small, alpha**2, risk)
    return psi, risk


def stable_risk(phi, alpha, sigma):
    r"""The stable risk curve ``R*(phi)``: limiting risk at the optimal sketch size (no peak at phi = 1).

    .. math::

       R^*(\phi) = \min_{0 < \psi \le 1} \big[B(\phi, \psi) + V(\phi, \psi)\big] \;\le\; \alpha^2

    Continuous, non-decreasing in ``phi`` and bounded by ``alpha**2``.

    >>> float(stable_risk(1.0, 6.0, 2.0))   # flat level 2 alpha sigma - sigma^2
    20.0
    """
    return optimal_sketch(phi, alpha, sigma)[1]


def _spectrum(spectrum, weights):
    x = check_array("spectrum", spectrum, ndim=1)
    if x.size == 0 or np.any(x <= 0):
        raise ParameterError("spectrum must be a non-empty list of positive eigenvalues")
    if weights is None:
        w = np.full(x.size, 1.0 / x.size)
    else:
        w = check_array("weights", weights, shape=(x.size,), low=0.0)
        if w.sum() <= 0:
            raise ParameterError("weights must have a positive sum")
        w = w / w.sum()
    return x, w


def correlated_c0(t, spectrum, weights=None):
    r"""The negative root ``c0`` of ``1 = integral x / (-c0 + x/t) dH(x)`` (Lemma 4.1), for ``t = p/m > 1``.

    .. math::

       1 = \int \frac{x}{-c_0 + x/t}\,dH(x), \qquad c_0 < 0,\quad t = p/m > 1

    ``H`` is the discrete distribution putting mass ``weights`` (default uniform) on ``spectrum``.
    The right-hand side decreases from ``t > 1`` (at ``c0 -> 0-``) to 0 (at ``c0 -> -inf``), so the
    root is unique; it is bracketed and found with Brent's method on ``log(-c0)``.

    Parameters
    ----------
    t : float
        ``p/m`` (> 1).
    spectrum : array_like, shape (k,)
        Positive eigenvalues of ``Sigma``.
    weights : array_like, shape (k,), optional
        Their masses.

    Returns
    -------
    float
        ``c0 < 0``.

    Examples
    --------
    >>> round(correlated_c0(2.0, [1.0]), 12)   # H = delta_1: c0 = -(1 - 1/t)
    -0.5
    """
    t = check_real("t", t, low=1.0, low_inclusive=False)
    x, w = _spectrum(spectrum, weights)

    def g(logu):  # u = -c0 > 0
        return float(np.sum(w * x / (math.exp(logu) + x / t))) - 1.0

    lo, hi = math.log(x.min() * 1e-12 + 1e-300), math.log(x.max() * (1.0 + t))
    while g(lo) < 0:  # only for t extremely close to 1
        lo -= 20.0
    root = optimize.brentq(g, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return -math.exp(root)


def correlated_limits(phi, psi, alpha, sigma, spectrum, weights=None, sketch="haar"):
    r"""Limiting bias and variance with correlated features ``Sigma`` of spectral distribution ``H``.

    .. math::

       B = -\alpha^2 c_0, \qquad V = \sigma^2 \frac{I}{1 - I}, \qquad I = \int \frac{x^2\,\psi/\phi}{(c_0 - x\,\psi/\phi)^2}\,dH(x) \qquad (p > m)

    ``p > m``: bias ``-alpha**2 c0``, variance ``sigma**2 I/(1 - I)`` with
    ``I = integral x**2 (psi/phi) / (c0 - x psi/phi)**2 dH(x)`` (Theorem 4.2; any sketch).
    ``p < m``: bias 0 and the isotropic variance of the sketch (it does not depend on ``Sigma``).
    With ``H = delta_1`` this is :func:`isotropic_limits`.

    Parameters
    ----------
    phi, psi : float or array_like
        ``p/n`` and ``m/n`` (broadcast together).
    alpha, sigma : float
        Signal strength and noise standard deviation.
    spectrum, weights : array_like
        See :func:`correlated_c0`.
    sketch : str
        As in :func:`isotropic_limits`.

    Returns
    -------
    bias, variance : numpy.ndarray
        Broadcast shape of ``phi`` and ``psi``.
    """
    bias, var = isotropic_limits(phi, psi, alpha, sigma, sketch)
    x, w = _spectrum(spectrum, weights)
    phi_b, psi_b = np.broadcast_arrays(np.asarray(phi, float), np.asarray(psi, float))
    bias, var = bias.copy(), var.copy()
    for idx in np.ndindex(bias.shape):
        t = phi_b[idx] / psi_b[idx]
        if t <= 1:
            continue
        c0 = correlated_c0(t, x, w)
        integral = float(np.sum(w * x**2 / t / (c0 - x / t) ** 2))
        bias[idx] = -(alpha**2) * c0
        var[idx] = sigma**2 * integral / (1.0 - integral)
    return bias, var


def optimal_psi_numeric(phi, alpha, sigma, spectrum=(1.0,), weights=None, *, psi_min=1e-3):
    r"""Sketch ratio minimising the limiting (orthogonal-sketch) risk, found numerically.

    .. math::

       \psi^* = \arg\min_{\psi_{\min} \le \psi \le 1} \big[B(\phi, \psi) + V(\phi, \psi)\big]

    Minimises ``psi -> bias + variance`` of :func:`correlated_limits` over ``[psi_min, 1]``.
    For ``p < m`` (``psi > phi``) the risk ``sigma^2 t/(1 - t)`` decreases in ``psi``, so that side's
    minimum is the end point ``psi = 1``; the ``p > m`` side (``psi < phi``) is searched with
    bounded Brent, and its end point ``psi_min`` is compared too.  Used for correlated features,
    where no closed form exists.

    Parameters
    ----------
    phi : float
        ``p/n`` (> 0).
    alpha, sigma : float
        Signal strength and noise standard deviation.
    spectrum, weights : array_like
        Spectral distribution of ``Sigma`` (see :func:`correlated_c0`); default isotropic.
    psi_min : float
        Smallest sketch ratio considered (e.g. ``1/n``).

    Returns
    -------
    psi_star, risk_star : float
    """
    phi = check_real("phi", phi, low=0, low_inclusive=False)

    def risk(psi):
        b, v = correlated_limits(phi, psi, alpha, sigma, spectrum, weights, "orthogonal")
        return float(b + v)

    candidates = [(risk(1.0), 1.0)]
    upper = min(phi, 1.0) * (1 - 1e-6)
    if upper > psi_min:
        res = optimize.minimize_scalar(risk, bounds=(psi_min, upper), method="bounded", options={"xatol": 1e-7})
        candidates.append((float(res.fun), float(res.x)))
        candidates.append((risk(psi_min), psi_min))
    best = min(candidates)
    return best[1], best[0]


def krr_rate_exponent(s, beta=2.0):
    r"""Exponent of the minimax L2 rate ``n^(-s beta/(s beta + 1))`` of KRR for a source in ``[H]^s``.

    .. math::

       \|\hat f_\lambda - f^*\|_{L^2}^2 \asymp n^{-\frac{s\beta}{s\beta + 1}}, \qquad f^* \in [\mathcal H]^s,\; \lambda_j \asymp j^{-\beta}

    Returns the (negative) log-log slope ``-s beta/(s beta + 1)``.

    >>> round(float(krr_rate_exponent(0.5, 2.0)), 6)
    -0.5
    """
    s = check_array("s", s, low=0.0)
    if np.any(s <= 0) or np.any(s > 2):
        raise ParameterError("s must be in (0, 2]")
    beta = check_real("beta", beta, low=0, low_inclusive=False)
    return -s * beta / (s * beta + 1)


def krr_lambda_schedule(n, s, beta=2.0, c=1.0):
    r"""Regularisation ``lambda = c n^(-beta/(s beta + 1))`` achieving the optimal KRR rate.

    .. math::

       \lambda_n = c\, n^{-\frac{\beta}{s\beta + 1}}

    Parameters
    ----------
    n : int or array_like
        Sample sizes (>= 1).
    s, beta : float
        Source smoothness in (0, 2] and eigenvalue decay (> 0).
    c : float
        Constant (> 0).

    >>> round(float(krr_lambda_schedule(100, 0.5, 2.0)), 6)
    0.01
    """
    n = check_array("n", n, low=1)
    c = check_real("c", c, low=0, low_inclusive=False)
    krr_rate_exponent(s, beta)
    return c * n ** (-beta / (s * beta + 1))


def _sine_series_nonint(a, theta):
    # sum_k k^-a sin(k theta) = Im Li_a(e^{i theta}); expansion of Li_a(e^mu) around mu = 0
    # (valid for |mu| < 2 pi, a not an integer): Gamma(1-a)(-mu)^(a-1) + sum_k zeta(a-k) mu^k/k!
    out = special.gamma(1 - a) * math.cos(math.pi * a / 2) * theta ** (a - 1)
    term_sign = 1.0
    for j in range(200):
        k = 2 * j + 1
        coef = special.zeta(a - k) / math.factorial(k) if k < 170 else 0.0
        contrib = term_sign * coef * theta**k
        out = out + contrib
        term_sign = -term_sign
        if k > 8 and np.max(np.abs(contrib)) < 1e-17 * max(1.0, float(np.max(np.abs(out)))):
            break
    return out


def sine_series(a, theta):
    r"""``sum_{k>=1} k^-a sin(k theta)`` for ``a > 0`` and ``0 < theta <= pi`` (no truncation).

    .. math::

       S_a(\theta) = \sum_{k \ge 1} k^{-a} \sin(k\theta) = \operatorname{Im} \operatorname{Li}_a(e^{i\theta})

    Evaluated through the expansion of the polylogarithm ``Im Li_a(e^{i theta})`` around
    ``theta = 0`` (a geometric series in ``(theta/2 pi)^2``), so singular behaviour
    ``~ Gamma(1-a) cos(pi a/2) theta^(a-1)`` near 0 is exact.  At integer ``a`` the expansion has
    cancelling poles: odd integers use the Bernoulli-polynomial closed form, and within ``2e-4``
    of another integer the value is interpolated linearly between ``round(a) -+ 2e-4`` (error
    below ``1e-6`` absolute on (0, pi]).

    Parameters
    ----------
    a : float
        Decay exponent of the coefficients (> 0).
    theta : array_like
        Angles in (0, pi].

    Returns
    -------
    numpy.ndarray
        Shape of ``theta``.

    Examples
    --------
    >>> round(float(sine_series(1.0, 1.0)), 8)   # (pi - theta)/2
    1.07079633
    """
    a = check_real("a", a, low=0, low_inclusive=False)
    theta = np.asarray(theta, dtype=float)
    if np.any(theta <= 0) or np.any(theta > math.pi + 1e-12):
        raise ParameterError("theta must be in (0, pi]")
    a0 = round(a)
    if a == a0 and a0 % 2 == 1:
        # odd integer: sum sin(k theta)/k^(2j+1) = (-1)^(j+1) (2 pi)^(2j+1) B_(2j+1)(theta/2pi) / (2 (2j+1)!)
        j = (a0 - 1) // 2
        u = theta / (2 * math.pi)
        bern = special.bernoulli(a0)
        poly = sum(math.comb(a0, k) * bern[k] * u ** (a0 - k) for k in range(a0 + 1))
        return (-1) ** (j + 1) * (2 * math.pi) ** a0 * poly / (2 * math.factorial(a0))
    if abs(a - a0) < _NEAR_INTEGER:
        h = _NEAR_INTEGER
        lo, hi = _sine_series_nonint(a0 - h, theta), _sine_series_nonint(a0 + h, theta)
        return lo + (a - a0 + h) / (2 * h) * (hi - lo)
    return _sine_series_nonint(a, theta)


_NEAR_INTEGER = 2e-4
