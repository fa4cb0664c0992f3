"""Collapse kernels: numba and CUDA (simulator) against the NumPy reference on the same streams,
stream discipline, and small Monte Carlo checks of behaviour no study covers."""

import numpy as np
import pytest

from simkit.backends import cuda_available
from simkit.collapse import (
    simulate_gaussian_chain,
    simulate_generator_ridge,
    simulate_kde_chain,
    simulate_linear_chain,
)
from simkit.collapse import theory as th
from simkit.rng import rep_states

COMPILED = [
    "numba",
    pytest.param("cuda", marks=pytest.mark.skipif(not cuda_available(), reason="no CUDA (set NUMBA_ENABLE_CUDASIM=1)")),
]
RTOL = 1e-9


@pytest.fixture(scope="module")
def states():
    return rep_states(3, "collapse-tests", {}, 3)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("mode", ["replace", "accumulate"])
@pytest.mark.parametrize("fresh_design, ridge", [(False, 0.0), (True, 0.0), (False, 0.05)])
def test_linear_chain_matches_reference(states, backend, mode, fresh_design, ridge):
    kw = dict(d=3, T=7, sigma2=0.7, iterations=4, mode=mode, fresh_design=fresh_design, ridge=ridge)
    ref = simulate_linear_chain(states, backend="numpy", **kw)
    out = simulate_linear_chain(states, backend=backend, **kw)
    assert ref.shape == (3, 4) and np.all(ref > 0)
    np.testing.assert_allclose(out, ref, rtol=RTOL)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("T0", [9, 2])  # OLS generator, minimum-norm generator
def test_generator_ridge_matches_reference(states, backend, T0):
    kw = dict(d=4, T0=T0, T=7, w_norm=1.3, sigma0_2=0.4, sigma2=0.2, steps=3, record=[0, 2, 3], lams=[0.0, 0.1, 2.0])
    ref_gen, ref_test = simulate_generator_ridge(states, backend="numpy", **kw)
    gen, test = simulate_generator_ridge(states, backend=backend, **kw)
    assert ref_gen.shape == (3, 4) and ref_test.shape == (3, 3, 3)
    np.testing.assert_allclose(ref_gen[:, 0], 0.0)
    np.testing.assert_allclose(gen, ref_gen, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(test, ref_test, rtol=RTOL)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("fit", ["unbiased", "mle"])
@pytest.mark.parametrize("mode", ["replace", "accumulate"])
def test_gaussian_chain_matches_reference(states, backend, d, fit, mode):
    kw = dict(M=5, generations=6, d=d, mu0=0.3, sigma0_2=1.7, fit=fit, mode=mode, record=[0, 1, 4, 6])
    ref = simulate_gaussian_chain(states, backend="numpy", **kw)
    out = simulate_gaussian_chain(states, backend=backend, **kw)
    np.testing.assert_allclose(ref.trace[:, 0], d * 1.7)
    for name in ("mean", "logdet", "trace"):
        np.testing.assert_allclose(getattr(out, name), getattr(ref, name), rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("mode", ["replace", "accumulate"])
def test_kde_chain_matches_reference(states, backend, mode):
    kw = dict(M=4, generations=5, h=0.3, mu0=-1.0, sigma0_2=2.0, mode=mode)
    ref = simulate_kde_chain(states, backend="numpy", **kw)
    out = simulate_kde_chain(states, backend=backend, **kw)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a, b, rtol=RTOL)
    if mode == "replace":
        np.testing.assert_array_equal(ref[0], ref[1])


def test_replications_do_not_depend_on_each_other():
    many = rep_states(1, "collapse-tests", {"x": 1}, 6)
    few = many[:2].copy()
    kept = many.copy()
    a = simulate_linear_chain(many, d=3, T=8, sigma2=1.0, iterations=3, mode="accumulate")
    b = simulate_linear_chain(few, d=3, T=8, sigma2=1.0, iterations=3, mode="accumulate")
    np.testing.assert_array_equal(a[:2], b)
    np.testing.assert_array_equal(many, kept)  # the caller's states are not advanced
    g1 = simulate_gaussian_chain(many, M=5, generations=4)
    g2 = simulate_gaussian_chain(few, M=5, generations=4)
    np.testing.assert_array_equal(g1.trace[:2], g2.trace)


def test_collapsed_variance_keeps_relative_precision():
    """M = 10 for 3000 generations takes σ² to about e^-345 while μ stays near 5: the fit must not cancel to 0."""
    st = rep_states(0, "collapse-tests", {"collapse": 1}, 4)
    chain = simulate_gaussian_chain(st, M=10, generations=3000, mu0=5.0, record=[3000])
    assert np.all(np.isfinite(chain.logdet)) and np.all(chain.logdet < -150)


def _mc_close(samples, expected, z=5.0):
    samples = np.asarray(samples)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) <= z * se, (samples.mean(), expected, se)


def test_fresh_design_replace_still_grows_like_c_n():
    st = rep_states(0, "collapse-tests", {"fresh": 1}, 3000)
    err = simulate_linear_chain(st, d=4, T=12, sigma2=1.0, iterations=5, mode="replace", fresh_design=True)
    for n in (1, 5):
        _mc_close(err[:, n - 1], th.linear_replace_error(n, 1.0, 4, 12))
    acc = simulate_linear_chain(st, d=4, T=12, sigma2=1.0, iterations=5, mode="accumulate", fresh_design=True)
    assert acc[:, -1].mean() < th.linear_accumulate_bound(1.0, 4, 12)


def test_multivariate_log_determinant_follows_theory():
    st = rep_states(0, "collapse-tests", {"det": 1}, 3000)
    for fit in ("unbiased", "mle"):
        chain = simulate_gaussian_chain(st, M=8, generations=4, d=3, sigma0_2=2.0, fit=fit, record=[4])
        _mc_close(chain.logdet[:, 0], th.gaussian_logdet_mean(4, 8, 3, fit=fit, sigma0_2=2.0))


@pytest.mark.gpu
def test_cuda_kernels_match_numba_on_a_real_gpu():
    st = rep_states(0, "collapse-gpu", {}, 300)

    def both(fn, **kw):
        return fn(st, backend="cuda", **kw), fn(st, backend="numba", **kw)

    a, b = both(simulate_linear_chain, d=8, T=20, sigma2=1.0, iterations=10, mode="accumulate")
    np.testing.assert_allclose(a, b, rtol=1e-8)
    (ga, ta), (gb, tb) = both(
        simulate_generator_ridge, d=8, T0=4, T=20, sigma0_2=0.5, sigma2=0.5, steps=5, record=[0, 5], lams=[0.0, 1.0]
    )
    np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(ta, tb, rtol=1e-8)
    a, b = both(simulate_gaussian_chain, M=20, generations=50, d=2, mode="accumulate")
    np.testing.assert_allclose(a.logdet, b.logdet, rtol=1e-8)
    a, b = both(simulate_kde_chain, M=20, generations=30, h=0.2, mode="accumulate")
    np.testing.assert_allclose(a[1], b[1], rtol=1e-8)
