"""Sketches, the Walsh–Hadamard kernel and exact risk of the (sketched) ridgeless estimators."""

import numpy as np
import pytest
import scipy.linalg
from scipy import stats

from simkit.errors import ParameterError
from simkit.regression import linear, sketches
from simkit.rng import Stream, rep_states


def _stream(i=0):
    return Stream(rep_states(7, "test-regression", {"i": i}, 1)[0].copy())


def _blockdiag_hadamard(n):
    blocks, rest = [], n
    while rest:
        b = 1 << (rest.bit_length() - 1)
        blocks.append(scipy.linalg.hadamard(b) / np.sqrt(b))
        rest -= b
    return scipy.linalg.block_diag(*blocks)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
@pytest.mark.parametrize("n", [16, 12])
def test_fwht_matches_scipy_hadamard(backend, n):
    a = np.random.default_rng(1).standard_normal((2, n, 3))
    out = np.asarray(sketches.fwht(a, backend))
    np.testing.assert_allclose(out, _blockdiag_hadamard(n) @ a, atol=1e-12)
    if n == 16:
        np.testing.assert_allclose(out[0], scipy.linalg.hadamard(16) @ a[0] / 4, atol=1e-12)


def test_haar_sketch_orthogonal_and_haar_distributed():
    n, m, reps = 8, 3, 400
    first = np.empty(reps)
    for r in range(reps):
        s = sketches.draw_sketch("haar", m, n, _stream(r)).matrix
        np.testing.assert_allclose(s @ s.T, np.eye(m), atol=1e-12)
        first[r] = s[0, 0]
    # for a Haar matrix, Q_11^2 ~ Beta(1/2, (n-1)/2) and Q_11 is symmetric about 0
    assert stats.kstest(first**2, stats.beta(0.5, (n - 1) / 2).cdf).pvalue > 1e-3
    assert abs(first.mean()) < 4 * first.std() / np.sqrt(reps)


@pytest.mark.parametrize("n", [64, 100])
def test_srht_orthogonal_and_explicit(n):
    sk = sketches.draw_sketch("srht", 20, n, _stream())
    s = sketches.sketch_matrix(sk, n)
    np.testing.assert_allclose(s @ s.T, np.eye(20), atol=1e-12)
    # explicit B (H D_k P_k) ... (H D_1 P_1)
    full = np.eye(n)
    h = _blockdiag_hadamard(n)
    for perm, sign in zip(sk.perms, sk.signs):
        full = h @ np.diag(sign) @ np.eye(n)[perm] @ full
    np.testing.assert_allclose(s, full[sk.rows], atol=1e-12)


@pytest.mark.backends("numba", "cuda")
def test_apply_sketches_backends_agree(backend):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 24, 5))
    sks = [sketches.draw_sketch("srht", 10, 24, _stream(i)) for i in range(3)]
    ref = sketches.apply_sketches(sks, a, "numpy")
    np.testing.assert_allclose(np.asarray(sketches.apply_sketches(sks, a, backend)), ref, atol=1e-12)
    dense = np.stack([sketches.sketch_matrix(s, 24) @ a[i] for i, s in enumerate(sks)])
    np.testing.assert_allclose(ref, dense, atol=1e-12)


@pytest.mark.parametrize(
    "kind,m,p",
    [
        ("gaussian", 12, 7),
        ("gaussian", 6, 9),
        ("haar", 10, 4),
        ("srht", 5, 8),
        ("countsketch", 12, 7),
        ("countsketch", 6, 9),
    ],
)
def test_exact_risk_against_pinv_formulas(kind, m, p):
    n, sigma = 16, 1.5
    stream = _stream(11)
    spec = np.linspace(0.5, 2.0, p)
    x = linear.draw_design(stream, n, p, spec)
    beta = linear.draw_beta(stream, p, 2.0)
    sk = sketches.draw_sketch(kind, m, n, stream)
    s = sketches.sketch_matrix(sk, n)
    a = np.linalg.pinv(s @ x) @ s  # beta_hat = A y
    mean_err = a @ x @ beta - beta
    bias_ref = mean_err @ (spec * mean_err)
    var_ref = sigma**2 * np.trace(a @ a.T @ np.diag(spec))
    z = (s @ x)[None]
    gram = None if sk.orthogonal else (s @ s.T)[None]
    b, v = linear.exact_risk(z, beta[None], sigma, gram=gram, spectrum=spec)
    assert b[0] == pytest.approx(bias_ref, rel=1e-9, abs=1e-12)
    assert v[0] == pytest.approx(var_ref, rel=1e-9)
    # ridge against its normal equations
    lam = 0.3
    a = np.linalg.solve(z[0].T @ z[0] + m * lam * np.eye(p), z[0].T) @ s
    err = a @ x @ beta - beta
    b, v = linear.exact_risk(z, beta[None], sigma, gram=gram, spectrum=spec, ridge=lam)
    assert b[0] == pytest.approx(err @ (spec * err), rel=1e-9)
    assert v[0] == pytest.approx(sigma**2 * np.trace(a @ a.T @ np.diag(spec)), rel=1e-9)


@pytest.mark.parametrize("kind,m", [("gaussian", 8), ("countsketch", 16), ("countsketch", 8)])
def test_exact_risk_against_brute_force_monte_carlo(kind, m):
    # fixed (X, S, beta); Monte Carlo over the noise of ||beta_hat - beta||^2_Sigma
    n, p, sigma = 20, 12, 1.0
    stream = _stream(5)
    x = linear.draw_design(stream, n, p)
    beta = linear.draw_beta(stream, p, 3.0)
    sk = sketches.draw_sketch(kind, m, n, stream)
    s = sketches.sketch_matrix(sk, n)
    gram = sketches.sketch_gram([sk])
    np.testing.assert_allclose(gram[0], s @ s.T, atol=0)
    b, v = linear.exact_risk(sketches.apply_sketches([sk], x[None]), beta[None], sigma, gram=gram)
    eps = np.random.default_rng(0).standard_normal((20_000, n)) * sigma
    y = x @ beta + eps
    est = np.linalg.lstsq(s @ x, (s @ y.T), rcond=None)[0].T  # minimum-norm solutions
    loss = np.sum((est - beta) ** 2, axis=1)
    se = loss.std() / np.sqrt(loss.size)
    assert abs(loss.mean() - (b[0] + v[0])) < 5 * se


def test_rank_cutoff_drops_null_directions():
    # a rank-deficient design: the duplicated column must not blow up the variance
    x = np.random.default_rng(2).standard_normal((10, 4))
    x = np.hstack([x, x[:, :1]])
    b, v = linear.exact_risk(x[None], np.ones((1, 5)), 1.0)
    ref = np.trace(np.linalg.pinv(x) @ np.linalg.pinv(x).T)
    assert v[0] == pytest.approx(ref, rel=1e-8)


@pytest.mark.backends("numba", "cuda")
def test_simulate_backends_agree_and_reps_independent(backend):
    states = rep_states(0, "test-regression", {"c": 1}, 4)
    kw = dict(n=32, p=12, m=20, alpha=2.0, sigma=1.0, sketch="srht")
    ref = linear.simulate_sketched(states, backend="numpy", **kw)
    out = linear.simulate_sketched(states, backend=backend, **kw)
    np.testing.assert_allclose(out["risk"], ref["risk"], rtol=1e-10)
    part = linear.simulate_sketched(states[2:], backend="numpy", **kw)
    np.testing.assert_array_equal(part["risk"], ref["risk"][2:])
    np.testing.assert_array_equal(states, rep_states(0, "test-regression", {"c": 1}, 4))


def test_bad_inputs():
    states = rep_states(0, "x", {}, 1)
    with pytest.raises(ParameterError, match="sketch size m"):
        linear.simulate_sketched(states, n=10, p=5, m=11, alpha=1.0, sigma=1.0, sketch="haar")
    with pytest.raises(ParameterError, match="p must be"):
        linear.simulate_sketched(states, n=10, p=0, m=5, alpha=1.0, sigma=1.0, sketch="haar")
    with pytest.raises(ParameterError, match="sigma"):
        linear.simulate_sketched(states, n=10, p=5, m=5, alpha=1.0, sigma=-1.0, sketch="haar")
    with pytest.raises(ParameterError, match="sketch"):
        linear.simulate_sketched(states, n=10, p=5, m=5, alpha=1.0, sigma=1.0, sketch="sparse_jl")
    with pytest.raises(ParameterError, match="sketch size m"):
        sketches.draw_sketch("srht", 20, 10, _stream())


def test_numba_results_do_not_depend_on_thread_count():
    import numba

    states = rep_states(1, "test-regression", {"threads": 1}, 5)
    kw = dict(n=40, p=30, m=24, alpha=2.0, sigma=1.0, sketch="srht", backend="numba")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = linear.simulate_sketched(states, **kw)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = linear.simulate_sketched(states, **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one["risk"], many["risk"])
    # the NumPy Walsh–Hadamard transform rounds differently from the kernel (scaling order)
    np.testing.assert_allclose(
        one["risk"], linear.simulate_sketched(states, **{**kw, "backend": "numpy"})["risk"], rtol=1e-12
    )


def test_validated_choice_and_nested_fits():
    states = rep_states(2, "test-regression", {"val": 1}, 3)
    cands = np.array([6, 12, 20, 30])
    out = linear.simulate_validated(
        states, n=30, p=15, alpha=3.0, sigma=1.0, n_val=40, candidates=cands, oracle_m=30, backend="numpy"
    )
    assert set(out["m_hat"]) <= set(cands)
    # oracle m = n is the full-sample fit (an orthogonal sketch with m = n is a rotation)
    np.testing.assert_allclose(out["risk"][:, 1], out["risk"][:, 2], rtol=1e-8)
    other = linear.simulate_validated(
        states, n=30, p=15, alpha=3.0, sigma=1.0, n_val=40, candidates=cands, oracle_m=30, backend="numba"
    )
    np.testing.assert_allclose(other["risk"], out["risk"], rtol=1e-9)
    rng = np.random.default_rng(0)
    for n, p in ((20, 35), (20, 12)):
        z, y = rng.standard_normal((2, n, p)), rng.standard_normal((2, n))
        nested = linear._NestedFits(z, y, np)
        for m in (3, 12, 20):
            ref = np.stack([np.linalg.pinv(z[i, :m]) @ y[i, :m] for i in range(2)])
            np.testing.assert_allclose(nested.solve(m), ref, atol=1e-10)


def _countsketch_structure(sk, m, n):
    s = sketches.sketch_matrix(sk, n)
    assert s.shape == (m, n)
    assert np.all(np.count_nonzero(s, axis=0) == 1)
    assert set(np.unique(s[s != 0])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(s[sk.buckets, np.arange(n)], sk.signs)
    return s


@pytest.mark.parametrize("m,n", [(1, 5), (7, 30), (30, 30)])
def test_countsketch_structure_and_gram(m, n):
    sk = sketches.draw_sketch("countsketch", m, n, _stream(m))
    s = _countsketch_structure(sk, m, n)
    assert not sk.orthogonal
    gram = sketches.sketch_gram([sk])[0]
    np.testing.assert_array_equal(gram, s @ s.T)  # diagonal: the bucket counts
    np.testing.assert_array_equal(np.diag(gram), np.bincount(sk.buckets, minlength=m))


def test_countsketch_draw_order():
    # n uniforms for the buckets, then n uniforms for the signs
    m, n = 5, 40
    sk = sketches.draw_sketch("countsketch", m, n, _stream(3))
    stream = _stream(3)
    u_h, u_s = stream.uniform(n), stream.uniform(n)
    np.testing.assert_array_equal(sk.buckets, np.floor(u_h * m).astype(int))
    np.testing.assert_array_equal(sk.signs, np.where(u_s < 0.5, -1.0, 1.0))


def test_countsketch_is_isotropic_and_buckets_uniform():
    # E[S^T S] = I_n entrywise within Monte Carlo error; bucket counts uniform (chi-square)
    m, n, reps = 4, 6, 4000
    acc, acc2 = np.zeros((n, n)), np.zeros((n, n))
    counts = np.zeros(m)
    for r in range(reps):
        sk = sketches.draw_sketch("countsketch", m, n, _stream(100 + r))
        s = sketches.sketch_matrix(sk, n)
        sts = s.T @ s
        acc += sts
        acc2 += sts**2
        counts += np.bincount(sk.buckets, minlength=m)
    mean = acc / reps
    se = np.sqrt(np.maximum(acc2 / reps - mean**2, 0) / reps)
    np.testing.assert_array_equal(np.diag(mean), 1.0)  # ||S e_j|| = 1 exactly
    off = ~np.eye(n, dtype=bool)
    assert np.all(np.abs(mean[off]) <= 5 * se[off] + 1e-12)
    assert np.max(np.abs(mean[off])) < 0.05
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
def test_countsketch_apply_matches_dense_product(backend):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 25, 4))
    sks = [sketches.draw_sketch("countsketch", 9, 25, _stream(i)) for i in range(3)]
    out = np.asarray(sketches.apply_sketches(sks, a, backend))
    dense = np.stack([sketches.sketch_matrix(s, 25) @ a[i] for i, s in enumerate(sks)])
    np.testing.assert_allclose(out, dense, atol=1e-13)


@pytest.mark.backends("numba", "cuda")
def test_countsketch_simulate_sketched_matches_pinv_and_backends(backend):
    states = rep_states(4, "test-cs", {}, 4)
    kw = dict(n=30, p=10, m=18, alpha=2.0, sigma=1.5, sketch="countsketch")
    ref = linear.simulate_sketched(states, backend="numpy", **kw)
    for r, state in enumerate(states):
        stream = Stream(state.copy())
        x = linear.draw_design(stream, 30, 10)
        beta = linear.draw_beta(stream, 10, 2.0)
        s = sketches.sketch_matrix(sketches.draw_sketch("countsketch", 18, 30, stream), 30)
        a = np.linalg.pinv(s @ x) @ s
        err = a @ x @ beta - beta
        assert ref["bias"][r] == pytest.approx(err @ err, rel=1e-9, abs=1e-12)
        assert ref["variance"][r] == pytest.approx(1.5**2 * np.trace(a @ a.T), rel=1e-9)
    out = linear.simulate_sketched(states, backend=backend, **kw)
    np.testing.assert_allclose(out["risk"], ref["risk"], rtol=1e-10)


def test_countsketch_bad_inputs():
    with pytest.raises(ParameterError, match="sketch size m"):
        sketches.draw_sketch("countsketch", 11, 10, _stream())
    with pytest.raises(ParameterError, match="m"):
        sketches.draw_sketch("countsketch", 0, 10, _stream())
    with pytest.raises(ParameterError, match="sketch"):
        sketches.draw_sketch("count_sketch", 5, 10, _stream())


@pytest.mark.parametrize("correlated", [False, True])
def test_countsketch_path_draws_one_sketch_per_size(correlated):
    # CountSketch does not nest: simulate_path draws one per distinct size (increasing), SVD formula
    n, p = 40, 15
    sizes = [30, 5, 15, 16, 40, 5]
    spectrum = (lambda q: linear.two_level_spectrum(q, 2.0, 1.0)) if correlated else None
    states = rep_states(3, "test-path-cs", {}, 3)
    points = [(m, p) for m in sizes] + [(16, 8)]
    out = linear.simulate_path(states, n=n, points=points, sigma=1.0, sketch="countsketch", spectrum=spectrum)
    for r, state in enumerate(states):
        stream = Stream(state.copy())
        x = stream.normal((n, p))
        g = stream.normal((p,))
        mats = {
            m: sketches.sketch_matrix(sketches.draw_sketch("countsketch", m, n, stream), n)
            for m in sorted({m for m, _ in points})
        }
        for k, (m, q) in enumerate(points):
            spec = None if spectrum is None else spectrum(q)
            xq = x[:, :q] if spec is None else x[:, :q] * np.sqrt(spec)
            s = mats[m]
            b, v = linear.exact_risk(
                (s @ xq)[None], (g[:q] / np.sqrt(q))[None], 1.0, gram=(s @ s.T)[None], spectrum=spec
            )
            assert out["bias"][r, k] == pytest.approx(b[0], rel=1e-10, abs=1e-12)
            assert out["variance"][r, k] == pytest.approx(v[0], rel=1e-10)


def _path_reference(states, n, points, sketch, spectrum=None):
    """Plain SVD formula (exact_risk) on the draws documented for simulate_path."""
    big_p = max(q for _, q in points)
    big_m = max(m for m, _ in points)
    out = np.empty((2, len(states), len(points)))
    for r, state in enumerate(states):
        stream = Stream(state.copy())
        x = stream.normal((n, big_p))
        g = stream.normal((big_p,))
        s = None if sketch == "none" else sketches.sketch_matrix(sketches.draw_sketch(sketch, big_m, n, stream), n)
        for k, (m, q) in enumerate(points):
            spec = None if spectrum is None else spectrum(q)
            xq = x[:, :q] if spec is None else x[:, :q] * np.sqrt(spec)
            sm = np.eye(n) if s is None or (sketch != "gaussian" and m == n) else s[:m]
            gram = (sm @ sm.T)[None] if sketch == "gaussian" else None
            b, v = linear.exact_risk((sm @ xq)[None], (g[:q] / np.sqrt(q))[None], 1.0, gram=gram, spectrum=spec)
            out[:, r, k] = b[0], v[0]
    return out


@pytest.mark.parametrize("sketch", ["haar", "srht", "gaussian"])
@pytest.mark.parametrize("correlated", [False, True])
def test_nested_sketch_path_matches_svd_formula(sketch, correlated):
    # one sketch of the largest size, its first m rows for every m; sizes on both sides of p (incl. m = p, p +- 1)
    n, p = 48, 20
    sizes = [4, 13, 19, 20, 21, 30, 48]
    spectrum = (lambda q: linear.two_level_spectrum(q, 2.0, 1.0)) if correlated else None
    states = rep_states(3, "test-path", {"sketch": sketch}, 3)
    out = linear.simulate_path(states, n=n, points=[(m, p) for m in sizes], sigma=1.0, sketch=sketch, spectrum=spectrum)
    ref = _path_reference(states, n, [(m, p) for m in sizes], sketch, spectrum)
    np.testing.assert_allclose(out["bias"], ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out["variance"], ref[1], rtol=1e-10)


@pytest.mark.parametrize("correlated", [None, "two_level", "interleaved"])
def test_full_sample_path_over_nested_columns_matches_svd_formula(correlated):
    # identity and interleaved spectra nest (full_sample_path); the two-level one does not (per-p path)
    n = 24
    feats = [3, 12, 23, 24, 25, 31, 50, 80]
    spectrum = None if correlated is None else (lambda q: getattr(linear, f"{correlated}_spectrum")(q, 2.0, 1.0))
    states = rep_states(4, "test-path", {"full": 1}, 3)
    out = linear.simulate_path(states, n=n, points=[(n, q) for q in feats], sigma=2.0, sketch="none", spectrum=spectrum)
    ref = _path_reference(states, n, [(n, q) for q in feats], "none", spectrum)
    np.testing.assert_allclose(out["bias"], ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out["variance"], 4.0 * ref[1], rtol=1e-10)


@pytest.mark.backends("numba", "cuda")
def test_path_varying_m_and_p_and_backends_agree(backend):
    points = [(10, 30), (24, 30), (40, 12), (40, 30), (6, 50)]
    states = rep_states(5, "test-path", {"mixed": 1}, 4)
    ref = linear.simulate_path(states, n=40, points=points, sigma=1.0, sketch="srht", backend="numpy")
    np.testing.assert_allclose(ref["variance"], _path_reference(states, 40, points, "srht")[1], rtol=1e-10)
    out = linear.simulate_path(states, n=40, points=points, sigma=1.0, sketch="srht", backend=backend)
    np.testing.assert_allclose(out["variance"], ref["variance"], rtol=1e-10)
    np.testing.assert_allclose(out["bias"], ref["bias"], rtol=1e-10, atol=1e-12)
    part = linear.simulate_path(states[1:], n=40, points=points, sigma=1.0, sketch="srht")
    np.testing.assert_allclose(part["bias"], ref["bias"][1:], rtol=1e-12)


@pytest.mark.parametrize("m", [4, 9])
def test_fast_path_falls_back_to_svd_without_rank_certificate(m):
    # duplicated column (m > p) or duplicated row (m <= p): rank deficient, the certificate fails
    rng = np.random.default_rng(8)
    z = rng.standard_normal((2, m, 6))
    if m > 6:
        z[1, :, 5] = z[1, :, 0]
    else:
        z[1, 3] = z[1, 0]
    b = rng.standard_normal((2, 6))
    sizes = [m]
    bias, var = linear.sketched_risk_path(z, b, sizes)
    rb, rv = linear.exact_risk(z, b, 1.0)
    np.testing.assert_allclose(bias[:, 0], rb, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var[:, 0], rv, rtol=1e-10)
    assert np.isfinite(var).all()


def test_path_bad_inputs():
    states = rep_states(0, "x", {}, 1)
    with pytest.raises(ParameterError, match="sketch size m"):
        linear.simulate_path(states, n=10, points=[(11, 5)], sigma=1.0, sketch="haar")
    with pytest.raises(ParameterError, match="needs m = n"):
        linear.simulate_path(states, n=10, points=[(5, 5)], sigma=1.0, sketch="none")
    with pytest.raises(ParameterError, match="p must be"):
        linear.simulate_path(states, n=10, points=[(5, 0)], sigma=1.0, sketch="srht")
    with pytest.raises(ParameterError, match="sigma"):
        linear.simulate_path(states, n=10, points=[(5, 3)], sigma=-1.0, sketch="srht")


def test_interleaved_spectrum_nests_and_matches_two_level_multiset():
    for p in (1, 2, 7, 8):
        inter = linear.interleaved_spectrum(p, 3.0, 1.0)
        np.testing.assert_array_equal(np.sort(inter), np.sort(linear.two_level_spectrum(p, 3.0, 1.0)))
        np.testing.assert_array_equal(inter, linear.interleaved_spectrum(9, 3.0, 1.0)[:p])


@pytest.mark.gpu
@pytest.mark.parametrize("sketch", ["srht", "gaussian", "none"])
def test_path_on_a_real_gpu_matches_numpy(sketch):
    # CuPy linear algebra (batched QR, LU inverse instead of dtrtri, stacked QR instead of dtpqrt)
    n = 64
    points = [(n, 20), (n, 90)] if sketch == "none" else [(10, 30), (40, 30), (64, 30), (20, 90)]
    spectrum = lambda q: linear.interleaved_spectrum(q, 2.0, 1.0)  # noqa: E731
    states = rep_states(6, "test-path-gpu", {"sketch": sketch}, 5)
    ref = linear.simulate_path(states, n=n, points=points, sigma=1.0, sketch=sketch, spectrum=spectrum)
    out = linear.simulate_path(states, n=n, points=points, sigma=1.0, sketch=sketch, spectrum=spectrum, backend="cuda")
    np.testing.assert_allclose(out["bias"], ref["bias"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out["variance"], ref["variance"], rtol=1e-9)
