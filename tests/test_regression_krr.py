"""Kernel ridge regression: O(n) Markov solver, eigen path, targets and exact L2 errors."""

import math

import numpy as np
import pytest

from simkit.errors import ParameterError
from simkit.regression import krr
from simkit.rng import Stream, rep_states


def _sample(n=150, s=0.5, i=0):
    return krr.draw_sample(Stream(rep_states(3, "test-krr", {"i": i}, 1)[0].copy()), n, s, 0.5)


@pytest.mark.parametrize("kernel", ["brownian_bridge", "brownian_motion"])
@pytest.mark.parametrize("backend", ["numba", "cuda"])
def test_markov_solver_matches_dense(kernel, backend):
    x, y = _sample(120)
    x2, y2 = _sample(120, i=1)
    lams = np.array([1e-3, 0.05])
    c, fitted = krr.krr_markov(np.stack([x, x2]), np.stack([y, y2]), lams, kernel, backend)
    for r, (xx, yy) in enumerate(((x, y), (x2, y2))):
        ref = krr.krr_dense(xx, yy, lams[r], kernel)
        np.testing.assert_allclose(c[r], ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
        np.testing.assert_allclose(fitted[r], krr.kernel_matrix(kernel, xx, xx) @ ref, atol=1e-9)


def test_markov_solver_matches_sklearn():
    from sklearn.kernel_ridge import KernelRidge

    x, y = _sample(200, s=0.2)
    lam = 2e-3
    k = krr.kernel_matrix("brownian_bridge", x, x)
    ref = KernelRidge(alpha=x.size * lam, kernel="precomputed").fit(k, y).dual_coef_
    c, _ = krr.krr_markov(x[None], y[None], lam)
    np.testing.assert_allclose(c[0], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("kernel", ["laplace", "matern32", "rbf", "brownian_bridge"])
def test_eigen_path_matches_refits(kernel):
    from sklearn.kernel_ridge import KernelRidge

    x, y = _sample(100)
    lams = np.logspace(-4, -1, 4)
    k = krr.kernel_matrix(kernel, x, x)
    c, fitted = krr.krr_eigen_path(k, y, lams)
    for j, lam in enumerate(lams):
        ref = KernelRidge(alpha=x.size * lam, kernel="precomputed").fit(k, y).dual_coef_
        np.testing.assert_allclose(c[j], ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())
        np.testing.assert_allclose(fitted[j], k @ ref, atol=1e-8)


def test_target_series_and_norm():
    x = np.array([0.05, 0.3, 0.77])
    i = np.arange(1, 200_001)[:, None]
    # s = 1.5: a = 2 -> absolutely convergent, partial sums are accurate
    direct = np.sqrt(2) * np.sum(i**-2.0 * np.sin(i * np.pi * x), axis=0)
    np.testing.assert_allclose(krr.target_values(x, 1.5), direct, atol=1e-5)
    grid = (np.arange(200_000) + 0.5) / 200_000
    assert np.mean(krr.target_values(grid, 1.0) ** 2) == pytest.approx(krr.target_norm2(1.0), rel=1e-5)
    # T f* solves -g'' = f* with g(0) = g(1) = 0: check the second difference
    h = 1e-3
    g = krr.target_smoothed(np.array([0.4 - h, 0.4, 0.4 + h]), 0.3)
    assert -(g[0] - 2 * g[1] + g[2]) / h**2 == pytest.approx(
        float(krr.target_values(np.array([0.4]), 0.3)[0]), rel=1e-4
    )


@pytest.mark.parametrize("s", [1.0, 0.3])
def test_exact_l2_error_against_quadrature(s):
    x, y = _sample(80, s=s)
    c, fitted = krr.krr_markov(x[None], y[None], 1e-3)
    exact = float(krr.l2_error_bridge(x[None], c, fitted, s)[0])
    fine = krr.l2_error_grid("brownian_bridge", x, c[0], s, points=2**20)
    # the unbounded target (s < 1/2) makes the midpoint rule converge slowly near 0
    assert exact == pytest.approx(fine, rel=1e-6 if s == 1.0 else 1e-2)


def test_simulate_krr_solvers_agree_and_reps_independent():
    states = rep_states(0, "test-krr", {"sim": 1}, 3)
    lams = [1e-3, 1e-2]
    a = krr.simulate_krr(states, n=60, s=0.5, lams=lams, sigma=0.5, solver="markov")
    b = krr.simulate_krr(states, n=60, s=0.5, lams=lams, sigma=0.5, solver="eigen", backend="numpy")
    np.testing.assert_allclose(a, b, rtol=1e-7)
    np.testing.assert_array_equal(krr.simulate_krr(states[1:], n=60, s=0.5, lams=lams, sigma=0.5), a[1:])


def test_simulate_krr_tridiagonal_path_on_every_backend(backend):  # host LAPACK on every backend
    states = rep_states(0, "test-krr", {"sim": 1}, 3)
    lams = [1e-3, 1e-2]
    b = krr.simulate_krr(states, n=60, s=0.5, lams=lams, sigma=0.5, solver="eigen", backend="numpy")
    t = krr.simulate_krr(states, n=60, s=0.5, lams=lams, sigma=0.5, solver="tridiagonal", backend=backend)
    np.testing.assert_allclose(t, b, rtol=1e-7)


def test_bad_inputs():
    x, y = _sample(10)
    with pytest.raises(ParameterError, match="lambda"):
        krr.krr_markov(x[None], y[None], -1.0)
    with pytest.raises(ParameterError, match="increasing"):
        krr.krr_markov(x[None, ::-1], y[None], 1.0)
    with pytest.raises(ParameterError, match="s must be in"):
        krr.target_values(x, 0.0)
    with pytest.raises(ParameterError, match="s must be in"):
        krr.simulate_krr(rep_states(0, "x", {}, 1), n=10, s=2.5, lams=[0.1], sigma=1.0)
    with pytest.raises(ParameterError, match="solver"):
        krr.simulate_krr(rep_states(0, "x", {}, 1), n=10, s=0.5, lams=[0.1], sigma=1.0, solver="cholesky")
    with pytest.raises(ParameterError, match="kernel"):
        krr.kernel_matrix("cosine", x, x)
    assert math.isfinite(krr.target_norm2(0.1))


@pytest.mark.parametrize("kernel", ["laplace", "rbf", "brownian_bridge"])
def test_tridiagonal_path_matches_eigen_path_and_dense_solve(kernel):
    x, y = _sample(160, i=4)
    lams = np.array([1e-6, 1e-4, 3e-3, 0.1])
    k = krr.kernel_matrix(kernel, x, x)
    c, fitted = krr.krr_tridiagonal_path(k, y, lams)
    c_eig, fitted_eig = krr.krr_eigen_path(k, y, lams)
    for j, lam in enumerate(lams):
        ref = np.linalg.solve(k + x.size * lam * np.eye(x.size), y)
        scale = np.abs(ref).max()
        np.testing.assert_allclose(c[j], ref, atol=1e-8 * scale)
        np.testing.assert_allclose(fitted[j], k @ ref, atol=1e-8 * np.abs(k @ ref).max())
    np.testing.assert_allclose(fitted, fitted_eig, atol=1e-8 * np.abs(fitted_eig).max())


def test_simulate_krr_tridiagonal_matches_eigen_on_a_wide_lambda_path():
    # the study's path (down to 1e-11): the two path solvers agree to ~1e-10 relative
    states = rep_states(1, "test-krr", {"sim": 2}, 2)
    lams = np.logspace(-11, 0, 12)
    a = krr.simulate_krr(states, n=300, s=0.25, lams=lams, sigma=0.5, solver="tridiagonal", backend="numpy")
    b = krr.simulate_krr(states, n=300, s=0.25, lams=lams, sigma=0.5, solver="eigen", backend="numpy")
    np.testing.assert_allclose(a, b, rtol=1e-8)


def test_tridiagonal_path_lambda_zero_falls_back_and_rejects_negative():
    x, y = _sample(40, i=5)
    k = krr.kernel_matrix("brownian_bridge", x, x)  # non-singular
    c, fitted = krr.krr_tridiagonal_path(k, y, [0.0, 1e-3])
    np.testing.assert_allclose(fitted[0], y, atol=1e-6 * np.abs(y).max())
    with pytest.raises(ParameterError):
        krr.krr_tridiagonal_path(k, y, [-1.0])
