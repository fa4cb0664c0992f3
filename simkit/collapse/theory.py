"""Closed-form predictions for the model-collapse family.

The formulas, each written out in its function's docstring, come from Gerstgrasser et al. 2024
("Is Model Collapse Inevitable? Breaking the Curse of Recursion by Accumulating Real and
Synthetic Data", the linear chain), Dohmatob, Feng, Kempe 2024 ("Model Collapse Demystified: The
Case of Regression", NeurIPS; generator chain and ridge) and Shumailov et al. 2024 ("AI models
collapse when trained on recursively generated data", Nature 631; the Gaussian chain).

Indexing: iteration/generation ``n = 1`` is the fit on real data,
``n = 0`` the truth (or clean training).  ``n`` may be an integer or an integer array; results
broadcast over it.  Formulas marked *derived* are not stated in the papers but follow from their arguments; they, and those derived here (the
unbiased accumulate chain, the KDE accumulate recursion, the MLE and accumulate means), were
checked by Monte Carlo in the tests and the studies.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from ..errors import ParameterError
from ..validation import check_array, check_int, check_real
from .inputs import check_fit, check_mode, check_ols_size

__all__ = [
    # linear chain (Gerstgrasser et al.)
    "ols_variance_factor",
    "linear_collapse_constant",
    "linear_conditional_constant",
    "linear_replace_error",
    "linear_accumulate_error",
    "linear_accumulate_bound",
    # generator chain + ridge (Dohmatob et al.)
    "generator_ols_test_error",
    "ridge_kappa",
    "ridge_limit_terms",
    "ridge_limit_test_error",
    "ridge_optimal_lambda",
    "overparam_generator_error",
    # Gaussian refit chain (Shumailov et al.)
    "c4",
    "gaussian_variance_mean",
    "gaussian_variance_var",
    "gaussian_log_variance_mean",
    "gaussian_sd_mean",
    "gaussian_mean_sq_error",
    "gaussian_w2_mean",
    "gaussian_accumulate_variance_mean",
    "gaussian_accumulate_variance_limit",
    "gaussian_accumulate_mean_sq_bound",
    "gaussian_det_mean",
    "gaussian_logdet_mean",
    "gaussian_log_variance_cdf",
    "gaussian_variance_median",
    # KDE loop
    "kde_fixed_point",
    "kde_collapse_bandwidth",
    "kde_replace_variance",
    "kde_accumulate_variance",
]


def _gen(n, name="n"):
    arr = check_array(name, n, low=0)
    if np.any(arr != np.round(arr)):
        raise ParameterError(f"{name} must hold non-negative integers")
    return arr.astype(np.int64)


def _out(value, like):
    return float(value) if np.ndim(like) == 0 else value


# ---------------------------------------------------------------- linear chain (Gerstgrasser)


def ols_variance_factor(d, T):
    r"""``E tr((XᵀX)⁻¹) = d / (T − d − 1)`` for ``X`` with ``T`` iid ``N(0, I_d)`` rows.

    .. math::

       \mathbb E\,\operatorname{tr}\big((X^\top X)^{-1}\big) = \frac{d}{T - d - 1}

    >>> ols_variance_factor(32, 100)
    0.47761194029850745
    """
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    check_ols_size(T, d)
    return d / (T - d - 1)


def linear_collapse_constant(sigma2, d, T):
    r"""``c = σ² d / (T − d − 1)``: the excess test error of one OLS fit, averaged over the design.

    .. math::

       c = \frac{\sigma^2 d}{T - d - 1}
    """
    sigma2 = check_real("sigma2", sigma2, low=0)
    return sigma2 * ols_variance_factor(d, T)


def linear_conditional_constant(X, sigma2):
    r"""``c(X) = σ² tr((XᵀX)⁻¹)``: the constant ``c`` conditional on one design ``X`` (``(T, d)``, ``Σ = I``).

    .. math::

       c(X) = \sigma^2 \operatorname{tr}\big((X^\top X)^{-1}\big)
    """
    X = check_array("X", X, ndim=2)
    sigma2 = check_real("sigma2", sigma2, low=0)
    check_ols_size(X.shape[0], X.shape[1])
    return sigma2 * float(np.trace(np.linalg.inv(X.T @ X)))


def linear_replace_error(n, sigma2, d, T):
    r"""Replace: ``E[E(ŵₙ)] = c·n`` (linear growth), ``n ≥ 0`` iterations.

    .. math::

       \mathbb E\big[\mathcal E(\hat w_n)\big] = c\,n
    """
    n_arr = _gen(n)
    return _out(linear_collapse_constant(sigma2, d, T) * n_arr, n)


def linear_accumulate_error(n, sigma2, d, T):
    r"""Accumulate: ``E[E(ŵₙ)] = c · Σ_{i=1..n} 1/i²`` (bounded by ``c·π²/6``).

    .. math::

       \mathbb E\big[\mathcal E(\hat w_n)\big] = c \sum_{i=1}^{n} \frac{1}{i^2} \;\le\; c\,\frac{\pi^2}{6}
    """
    n_arr = _gen(n)
    top = int(n_arr.max()) if n_arr.size else 0
    partial = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1) ** 2)])
    return _out(linear_collapse_constant(sigma2, d, T) * partial[n_arr], n)


def linear_accumulate_bound(sigma2, d, T):
    r"""``c·π²/6``: the limit of the accumulate test error.

    .. math::

       \lim_{n\to\infty} \mathbb E\big[\mathcal E(\hat w_n)\big] = c\,\frac{\pi^2}{6}
    """
    return linear_collapse_constant(sigma2, d, T) * math.pi**2 / 6


# ---------------------------------------------------------------- generator + ridge (Dohmatob)


def generator_ols_test_error(n, *, sigma2, d, T, sigma0_2, T0):
    r"""Unregularised downstream fit on generation ``n`` (exact, any ``Σ``):
    ``σ² d/(T − d − 1) + n σ₀² d/(T₀ − d − 1)``.

    .. math::

       \mathbb E\,\mathcal E_{\text{test}}(n) = \frac{\sigma^2 d}{T - d - 1} + n\,\frac{\sigma_0^2 d}{T_0 - d - 1}
    """
    n_arr = _gen(n)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    check_ols_size(check_int("T0", T0, low=1), d, "T0")
    return _out(linear_collapse_constant(sigma2, d, T) + n_arr * sigma0_2 * ols_variance_factor(d, T0), n)


def ridge_kappa(phi, lam):
    r"""The effective regularisation ``κ`` of isotropic ridge in the proportional limit.

    .. math::

       \kappa = \tfrac12\Big[-(1 - \phi - \lambda) + \sqrt{(1 - \phi - \lambda)^2 + 4\lambda}\Big], \qquad \kappa^2 + (1 - \phi - \lambda)\kappa - \lambda = 0, \quad \phi = d/T

    ``κ = [−(1 − φ − λ) + sqrt((1 − φ − λ)² + 4λ)] / 2`` (the positive root of
    ``κ² + (1 − φ − λ) κ − λ = 0``); ``φ = d/T``.
    """
    phi = check_real("phi", phi, low=0, low_inclusive=False)
    lam = check_array("lam", lam, low=0)
    b = 1.0 - phi - lam
    kappa = (-b + np.sqrt(b * b + 4 * lam)) / 2  # at λ = 0: 0 for φ ≤ 1, φ − 1 for φ > 1
    return kappa if kappa.ndim else float(kappa)


def ridge_limit_terms(lam, *, phi, w0_norm2, sigma2):
    r"""Bias, variance and the synthetic-noise factor ``ρ`` of isotropic ridge (proportional limit).

    .. math::

       \text{Bias} = \frac{\kappa^2}{(1+\kappa)^2}\,\frac{\|w_0\|^2}{1 - u}, \qquad \text{Var} = \frac{\sigma^2 u}{1 - u}, \qquad \rho = \frac{1}{(1+\kappa)^2} + \Big(\frac{\kappa}{1+\kappa}\Big)^2 \frac{u}{1 - u}

    Returns
    -------
    bias, variance, rho : float or numpy.ndarray (shape of ``lam``)
        ``Bias = κ²/(1 + κ)² · ‖w₀‖² / (1 − u)``, ``Var = σ² u / (1 − u)`` and
        ``ρ = 1/(1 + κ)² + (κ/(1 + κ))² · u/(1 − u)`` with ``u = φ/(1 + κ)²``.
    """
    w0_norm2 = check_real("w0_norm2", w0_norm2, low=0)
    sigma2 = check_real("sigma2", sigma2, low=0)
    kappa = np.asarray(ridge_kappa(phi, lam))
    u = phi / (1 + kappa) ** 2
    bias = kappa**2 / (1 + kappa) ** 2 * w0_norm2 / (1 - u)
    var = sigma2 * u / (1 - u)
    rho = 1 / (1 + kappa) ** 2 + (kappa / (1 + kappa)) ** 2 * u / (1 - u)
    if kappa.ndim == 0:
        return float(bias), float(var), float(rho)
    return bias, var, rho


def ridge_limit_test_error(n, lam, *, d, T, T0, w0_norm2, sigma2, sigma0_2):
    r"""``E_test(n) ≈ Bias + Var + n σ₀² d/(T₀ − d − 1) · ρ`` for ridge ``λ`` on generation ``n``.

    .. math::

       \mathcal E_{\text{test}}(n) \approx \text{Bias} + \text{Var} + n\,\frac{\sigma_0^2 d}{T_0 - d - 1}\,\rho

    ``n`` and ``lam`` broadcast against each other.  Isotropic ``Σ``, ``φ = d/T``; *derived*.
    """
    n_arr = _gen(n)
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    check_ols_size(check_int("T0", T0, low=1), d, "T0")
    bias, var, rho = ridge_limit_terms(lam, phi=d / T, w0_norm2=w0_norm2, sigma2=sigma2)
    out = bias + var + n_arr * sigma0_2 * ols_variance_factor(d, T0) * np.asarray(rho)
    return float(out) if np.ndim(out) == 0 else out


def ridge_optimal_lambda(n, *, d, T, T0, w0_norm2, sigma2, sigma0_2):
    r"""The ``λ > 0`` minimising :func:`ridge_limit_test_error` for generation ``n`` (numerically).

    .. math::

       \lambda^*(n) = \arg\min_{\lambda > 0} \mathcal E_{\text{test}}(n; \lambda)

    Bounded search over ``λ ∈ [1e-8, 1e6]``.  The optimum grows roughly linearly in ``n``: the
    synthetic noise accumulated over the generations acts like extra label noise (adaptive
    regularisation).
    """
    n_arr = _gen(n)
    out = np.empty(n_arr.shape, dtype=float)
    for idx, k in np.ndenumerate(n_arr):

        def f(loglam, k=k):
            return ridge_limit_test_error(
                int(k), math.exp(loglam), d=d, T=T, T0=T0, w0_norm2=w0_norm2, sigma2=sigma2, sigma0_2=sigma0_2
            )

        res = optimize.minimize_scalar(
            f, bounds=(math.log(1e-8), math.log(1e6)), method="bounded", options={"xatol": 1e-8}
        )
        out[idx] = math.exp(res.x)
    return _out(out, n)


def overparam_generator_error(n, *, d, T0, sigma0_2, w0_norm2):
    r"""Over-parameterised generator (``T₀ < d − 1``, minimum-norm fits, ``Σ = I``); *derived*:
    ``E‖ŵₙ − w₀‖² = ‖w₀‖² (1 − aⁿ) + σ₀² T₀/(d − T₀ − 1) · (1 − aⁿ)/(1 − a)`` with ``a = T₀/d``.

    .. math::

       \mathbb E\|\hat w_n - w_0\|^2 = \|w_0\|^2 (1 - a^n) + \frac{\sigma_0^2 T_0}{d - T_0 - 1}\,\frac{1 - a^n}{1 - a}, \qquad a = T_0/d
    """
    n_arr = _gen(n)
    d = check_int("d", d, low=1)
    T0 = check_int("T0", T0, low=1)
    if T0 > d - 2:
        raise ParameterError(f"T0 must be at most d - 2 = {d - 2} for the over-parameterised generator (got T0={T0})")
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    w0_norm2 = check_real("w0_norm2", w0_norm2, low=0)
    a = T0 / d
    decay = 1 - a**n_arr
    return _out(w0_norm2 * decay + sigma0_2 * T0 / (d - T0 - 1) * decay / (1 - a), n)


# ---------------------------------------------------------------- Gaussian refit chain (Shumailov)


def _M(M, low=2):
    return check_int("M", M, low=low)


def c4(M):
    r"""``c₄(M) = sqrt(2/(M − 1)) Γ(M/2) / Γ((M − 1)/2)``: ``E s = c₄ σ`` for the unbiased ``s²`` of ``M`` normals.

    .. math::

       c_4(M) = \sqrt{\frac{2}{M - 1}}\;\frac{\Gamma(M/2)}{\Gamma\big((M-1)/2\big)}

    >>> round(c4(2), 6)
    0.797885
    """
    M = _M(M)
    return math.sqrt(2 / (M - 1)) * math.exp(special.gammaln(M / 2) - special.gammaln((M - 1) / 2))


def _variance_factor(M, fit):
    """``E σₙ²/σₙ₋₁²`` for one replace step: 1 (unbiased) or ``(M − 1)/M`` (MLE)."""
    return 1.0 if check_fit(fit) == 1 else (M - 1) / M


def gaussian_variance_mean(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: ``E σₙ² = σ₀²`` (unbiased; a martingale) or ``σ₀² ((M − 1)/M)ⁿ`` (MLE).

    .. math::

       \mathbb E\,\sigma_n^2 = \sigma_0^2 \;\text{(unbiased)}, \qquad \mathbb E\,\sigma_n^2 = \sigma_0^2 \Big(\frac{M-1}{M}\Big)^{n} \;\text{(MLE)}
    """
    n_arr, M = _gen(n), _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    return _out(sigma0_2 * _variance_factor(M, fit) ** n_arr, n)


def gaussian_variance_var(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: ``Var σₙ²``; unbiased ``σ₀⁴ [(1 + 2/(M − 1))ⁿ − 1]``, MLE ``σ₀⁴[((M² − 1)/M²)ⁿ − ((M − 1)/M)²ⁿ]``.

    .. math::

       \operatorname{Var}\sigma_n^2 = \sigma_0^4\Big[\Big(1 + \frac{2}{M-1}\Big)^n - 1\Big] \;\text{(unbiased)}, \qquad \sigma_0^4\Big[\Big(\frac{M^2-1}{M^2}\Big)^n - \Big(\frac{M-1}{M}\Big)^{2n}\Big] \;\text{(MLE)}
    """
    n_arr, M = _gen(n), _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    if check_fit(fit) == 1:
        return _out(sigma0_2**2 * ((1 + 2 / (M - 1)) ** n_arr - 1), n)
    return _out(sigma0_2**2 * (((M * M - 1) / M**2) ** n_arr - ((M - 1) / M) ** (2 * n_arr)), n)


def gaussian_log_variance_mean(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: ``E log σₙ² = log σ₀² + n [ψ((M − 1)/2) − log((M − ddof)/2)]`` (≈ ``−n/(M − 1)`` unbiased).

    .. math::

       \mathbb E \log \sigma_n^2 = \log \sigma_0^2 + n\Big[\psi\Big(\frac{M-1}{2}\Big) - \log\frac{M - \text{ddof}}{2}\Big] \approx \log\sigma_0^2 - \frac{n}{M-1}
    """
    n_arr, M = _gen(n), _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0, low_inclusive=False)
    ddof = check_fit(fit)
    step = special.digamma((M - 1) / 2) - math.log((M - ddof) / 2)
    return _out(math.log(sigma0_2) + n_arr * step, n)


def gaussian_sd_mean(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: ``E σₙ = σ₀ c₄(M)ⁿ`` (unbiased) or ``σ₀ (c₄(M) sqrt((M − 1)/M))ⁿ`` (MLE).

    .. math::

       \mathbb E\,\sigma_n = \sigma_0\, c_4(M)^n \;\text{(unbiased)}, \qquad \sigma_0 \Big(c_4(M)\sqrt{\tfrac{M-1}{M}}\Big)^n \;\text{(MLE)}
    """
    n_arr, M = _gen(n), _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    step = c4(M) * (1.0 if check_fit(fit) == 1 else math.sqrt((M - 1) / M))
    return _out(math.sqrt(sigma0_2) * step**n_arr, n)


def gaussian_accumulate_variance_mean(n, M, *, fit="mle", sigma0_2=1.0):
    r"""Accumulate (pooled fit over all ``n·M`` samples so far): ``E σₙ²``.

    .. math::

       \mathbb E\,\sigma_n^2 = \sigma_0^2 \prod_{k=1}^{n}\Big(1 - \frac{1}{M k^2}\Big) \;\text{(MLE)}, \qquad \sigma_0^2 \prod_{k=2}^{n}\Big(1 - \frac{1}{k(kM - 1)}\Big) \;\text{(unbiased)}

    MLE (reference): ``σ₀² Π_{k=1..n} (1 − 1/(M k²))``.  Unbiased (derived here, same
    argument): ``σ₀² Π_{k=2..n} (1 − 1/(k (kM − 1)))``.
    """
    n_arr, M = _gen(n), _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    top = int(n_arr.max()) if n_arr.size else 0
    k = np.arange(1, top + 1, dtype=float)
    if check_fit(fit) == 0:
        factors = 1 - 1 / (M * k**2)
    else:
        factors = np.where(k == 1, 1.0, 1 - 1 / (k * (k * M - 1)))
    prod = np.concatenate([[1.0], np.cumprod(factors)])
    return _out(sigma0_2 * prod[n_arr], n)


def gaussian_accumulate_variance_limit(M, *, fit="mle", sigma0_2=1.0):
    r"""``lim E σₙ²`` under accumulate: ``σ₀² sin(π/√M)/(π/√M)`` for MLE (no collapse).

    .. math::

       \lim_{n\to\infty} \mathbb E\,\sigma_n^2 = \sigma_0^2\,\frac{\sin(\pi/\sqrt M)}{\pi/\sqrt M} \;\text{(MLE)}

    For the unbiased fit the infinite product is summed numerically (tail bounded by ``1/(M K)``).
    """
    M = _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    if check_fit(fit) == 0:
        x = math.pi / math.sqrt(M)
        return sigma0_2 * math.sin(x) / x
    k = np.arange(2, 1_000_001, dtype=float)
    log_prod = np.sum(np.log1p(-1 / (k * (k * M - 1)))) - 1 / (M * 1_000_000)
    return sigma0_2 * math.exp(log_prod)


def gaussian_mean_sq_error(n, M, *, fit="unbiased", mode="replace", sigma0_2=1.0):
    r"""``E (μₙ − μ₀)²``: the mean's random walk.

    .. math::

       \text{replace: } \mathbb E(\mu_n - \mu_0)^2 = \frac1M \sum_{k=0}^{n-1} \mathbb E\,\sigma_k^2, \qquad \text{accumulate: } \frac1M \sum_{k=1}^{n} \frac{\mathbb E\,\sigma_{k-1}^2}{k^2} \le \frac{\pi^2\sigma_0^2}{6M}

    Replace: ``(1/M) Σ_{k=0..n−1} E σₖ²`` (``n σ₀²/M`` for the unbiased fit).  Accumulate:
    ``(1/M) Σ_{k=1..n} E σₖ₋₁² / k²`` (``≤ π² σ₀²/(6M)``).  Exact: the steps are uncorrelated.
    """
    n_arr, M = _gen(n), _M(M)
    top = int(n_arr.max()) if n_arr.size else 0
    k = np.arange(top)
    if check_mode(mode) == 0:
        terms = np.asarray(gaussian_variance_mean(k, M, fit=fit, sigma0_2=sigma0_2), dtype=float) / M
    else:
        terms = np.asarray(gaussian_accumulate_variance_mean(k, M, fit=fit, sigma0_2=sigma0_2), dtype=float) / (
            M * (k + 1.0) ** 2
        )
    partial = np.concatenate([[0.0], np.cumsum(terms)])
    return _out(partial[n_arr], n)


def gaussian_accumulate_mean_sq_bound(M, *, sigma0_2=1.0):
    r"""``π² σ₀² / (6M)``: the bound on ``E (μₙ − μ₀)²`` under accumulate.

    .. math::

       \mathbb E(\mu_n - \mu_0)^2 \le \frac{\pi^2 \sigma_0^2}{6M}
    """
    M = _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    return math.pi**2 * sigma0_2 / (6 * M)


def gaussian_w2_mean(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: ``E W₂²(N(μₙ, σₙ²), N(μ₀, σ₀²)) = E(μₙ − μ₀)² + E σₙ² + σ₀² − 2σ₀ E σₙ``.

    .. math::

       \mathbb E\,W_2^2 = \mathbb E(\mu_n - \mu_0)^2 + \mathbb E\,\sigma_n^2 + \sigma_0^2 - 2\sigma_0\,\mathbb E\,\sigma_n = \sigma_0^2\Big[\frac nM + 2\big(1 - c_4(M)^n\big)\Big] \;\text{(unbiased)}

    Unbiased: ``σ₀² [n/M + 2(1 − c₄(M)ⁿ)]`` (grows without bound).
    """
    ms = np.asarray(gaussian_mean_sq_error(n, M, fit=fit, mode="replace", sigma0_2=sigma0_2))
    v = np.asarray(gaussian_variance_mean(n, M, fit=fit, sigma0_2=sigma0_2))
    s = np.asarray(gaussian_sd_mean(n, M, fit=fit, sigma0_2=sigma0_2))
    return _out(ms + v + sigma0_2 - 2 * math.sqrt(sigma0_2) * s, n)


def gaussian_det_mean(n, M, d, *, fit="unbiased", sigma0_2=1.0):
    r"""d-dimensional replace: ``E det Σₙ = det Σ₀ · [Π_{i=1..d} (M − i)/(M − ddof')]ⁿ``.

    .. math::

       \mathbb E \det \Sigma_n = \det\Sigma_0 \Big[\prod_{i=1}^{d} \frac{M - i}{M - \text{ddof}'}\Big]^n

    ``M − ddof'`` is ``M − 1`` (unbiased, reference) or ``M`` (MLE); ``Σ₀ = σ₀² I``.
    """
    n_arr = _gen(n)
    d = check_int("d", d, low=1)
    M = _M(M, low=d + 1)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    div = M - check_fit(fit)
    step = float(np.prod([(M - i) / div for i in range(1, d + 1)]))
    return _out(sigma0_2**d * step**n_arr, n)


def gaussian_logdet_mean(n, M, d, *, fit="unbiased", sigma0_2=1.0):
    r"""d-dimensional replace: ``E log det Σₙ = d log σ₀² + n [Σ_{i=1..d} ψ((M − i)/2) + d log 2 − d log(M − ddof)]``.

    .. math::

       \mathbb E \log\det\Sigma_n = d \log \sigma_0^2 + n\Big[\sum_{i=1}^{d} \psi\Big(\frac{M - i}{2}\Big) + d\log 2 - d \log(M - \text{ddof})\Big]
    """
    n_arr = _gen(n)
    d = check_int("d", d, low=1)
    M = _M(M, low=d + 1)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0, low_inclusive=False)
    div = M - check_fit(fit)
    step = sum(special.digamma((M - i) / 2) for i in range(1, d + 1)) + d * math.log(2) - d * math.log(div)
    return _out(d * math.log(sigma0_2) + n_arr * step, n)


def _log_cf(t, M, ddof):
    """Log characteristic function of ``log(χ²_{M−1}/(M − ddof))`` at real ``t``."""
    k = (M - 1) / 2
    return 1j * t * math.log(2 / (M - ddof)) + special.loggamma(k + 1j * t) - special.gammaln(k)


def _log_variance_cdf(n, M, ddof):
    """``x ↦ P(log(σₙ²/σ₀²) ≤ x)`` by Gil-Pelaez inversion, the characteristic function tabulated once."""
    upper = 1.0
    while n * _log_cf(upper, M, ddof).real > -40:  # |cfⁿ| < 4e-18 beyond ``upper``
        upper *= 2
    count = 20_000
    t = (np.arange(count) + 0.5) * (upper / count)  # midpoint rule; the integrand is finite at 0
    cf_n = np.exp(n * _log_cf(t, M, ddof))

    def cdf(x):
        x = np.atleast_1d(np.asarray(x, dtype=float))
        integrand = (cf_n[None, :] * np.exp(-1j * np.outer(x, t))).imag / t[None, :]
        return 0.5 - integrand.sum(axis=1) * (upper / count) / math.pi

    return cdf


def gaussian_log_variance_cdf(x, n, M, *, fit="unbiased"):
    r"""Replace: ``P(log(σₙ²/σ₀²) ≤ x)``, exactly (Gil-Pelaez inversion of the characteristic function).

    .. math::

       P\big(\log(\sigma_n^2/\sigma_0^2) \le x\big), \qquad \varphi_n(t) = \Big[\Big(\frac{2}{M - \text{ddof}}\Big)^{it} \frac{\Gamma\big((M-1)/2 + it\big)}{\Gamma\big((M-1)/2\big)}\Big]^n

    ``log(σₙ²/σ₀²)`` is a sum of ``n`` independent ``log(χ²_{M−1}/(M − ddof))`` terms, whose
    characteristic function is ``((2/(M − ddof))^{it} Γ((M − 1)/2 + it)/Γ((M − 1)/2))ⁿ``.
    Accurate to about 1e-8.
    """
    n = check_int("n", n, low=1)
    M = _M(M)
    x_arr = check_array("x", x)
    out = _log_variance_cdf(n, M, check_fit(fit))(x_arr.ravel()).reshape(x_arr.shape)
    return _out(out, x)


def gaussian_variance_median(n, M, *, fit="unbiased", sigma0_2=1.0):
    r"""Replace: the median of ``σₙ²`` (``σ₀²`` at ``n = 0``); far below the mean once ``n ≫ M``.

    .. math::

       \operatorname{median}\sigma_n^2 = \sigma_0^2 \exp(q_n), \qquad P\big(\log(\sigma_n^2/\sigma_0^2) \le q_n\big) = \tfrac12
    """
    n = check_int("n", n, low=0)
    M = _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0, low_inclusive=False)
    if n == 0:
        return sigma0_2
    ddof = check_fit(fit)
    cdf = _log_variance_cdf(n, M, ddof)
    centre = gaussian_log_variance_mean(n, M, fit=fit)
    spread = math.sqrt(n * special.polygamma(1, (M - 1) / 2)) + 1.0
    root = optimize.brentq(lambda x: cdf(x)[0] - 0.5, centre - 10 * spread, centre + 10 * spread, xtol=1e-12)
    return sigma0_2 * math.exp(root)


# ---------------------------------------------------------------- KDE loop


def kde_fixed_point(M, h):
    r"""``(M − 1) h²``: where the replace loop's ``E sₙ²`` converges.

    .. math::

       s^* = (M - 1)\,h^2
    """
    M = _M(M)
    h = check_real("h", h, low=0)
    return (M - 1) * h * h


def kde_collapse_bandwidth(M, sigma0_2=1.0):
    r"""``sqrt(σ₀²/(M − 1))``: smaller bandwidths collapse the replace loop, larger ones inflate it.

    .. math::

       h_c = \sqrt{\frac{\sigma_0^2}{M - 1}}
    """
    M = _M(M)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    return math.sqrt(sigma0_2 / (M - 1))


def kde_replace_variance(n, M, h, sigma0_2=1.0):
    r"""Replace: ``E sₙ²`` from ``E sₙ² = (1 − 1/M)(E sₙ₋₁² + h²)``, ``E s₀² = (1 − 1/M) σ₀²``; *derived*.

    .. math::

       \mathbb E\,s_n^2 = \Big(1 - \frac1M\Big)\big(\mathbb E\,s_{n-1}^2 + h^2\big) = s^* + a^n (a\sigma_0^2 - s^*), \qquad a = 1 - \frac1M,\; s^* = (M-1)h^2

    Closed form ``s* + aⁿ (a σ₀² − s*)`` with ``a = 1 − 1/M`` and ``s* = (M − 1) h²``.
    """
    n_arr = _gen(n)
    star = kde_fixed_point(M, h)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    a = 1 - 1 / M
    return _out(star + a**n_arr * (a * sigma0_2 - star), n)


def kde_accumulate_variance(n, M, h, sigma0_2=1.0):
    r"""Accumulate (KDE on all generations so far): ``E sₙ²`` and the pooled ``E Vₙ``; derived here.

    .. math::

       \mathbb E\,s_n^2 = \Big(1 - \frac1M\Big)\big(\mathbb E V_{n-1} + h^2\big), \qquad \mathbb E V_n = \frac{n\,\mathbb E V_{n-1} + (\mathbb E V_{n-1} + h^2)\big(1 - \frac{1}{(n+1)M}\big)}{n + 1}

    With ``Vₙ`` the variance (divisor the count) of generations ``0..n``: ``E V₀ = E s₀² = (1 − 1/M)σ₀²``,
    ``E sₙ² = (1 − 1/M)(E Vₙ₋₁ + h²)`` and
    ``E Vₙ = [n E Vₙ₋₁ + (E Vₙ₋₁ + h²)(1 − 1/((n + 1)M))] / (n + 1)`` (grows like ``h² log n``).

    Returns
    -------
    generation, pooled : float or numpy.ndarray (shape of ``n``)
    """
    n_arr = _gen(n)
    M = _M(M)
    h = check_real("h", h, low=0)
    sigma0_2 = check_real("sigma0_2", sigma0_2, low=0)
    a = 1 - 1 / M
    top = int(n_arr.max()) if n_arr.size else 0
    gen = np.empty(top + 1)
    pooled = np.empty(top + 1)
    gen[0] = pooled[0] = a * sigma0_2
    for k in range(1, top + 1):
        v = pooled[k - 1]
        gen[k] = a * (v + h * h)
        pooled[k] = (k * v + (v + h * h) * (1 - 1 / ((k + 1) * M))) / (k + 1)
    return _out(gen[n_arr], n), _out(pooled[n_arr], n)
