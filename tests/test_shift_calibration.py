"""calibration-overlap (spec S4): theory against hand values, learners against brute force, the study."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax

from simkit.errors import ParameterError
from simkit.rng import rep_states
from simkit.shift_preferences import calibration as sim
from simkit.shift_preferences import calibration_theory as th

# spec S4 §4: (k, alpha) -> alpha(1 - 1/k), 1 - a1, ECE_inf, beta*
TABLE = {
    (2, 0.1): (0.050, 0.095, 0.04051, 2.588),
    (2, 0.3): (0.150, 0.255, 0.06633, 1.346),
    (5, 0.2): (0.160, 0.288, 0.08469, 2.708),
    (10, 0.1): (0.090, 0.171, 0.06013, 4.234),
    (10, 0.3): (0.270, 0.459, 0.09795, 2.860),
    (20, 0.2): (0.190, 0.342, 0.08489, 4.162),
    (20, 0.3): (0.285, 0.485, 0.09654, 3.594),
}


@pytest.mark.parametrize("key", sorted(TABLE))
def test_theory_table(key):
    k, a = key
    zero, erm0, ece, beta = TABLE[key]
    assert th.zero_temperature_ece(k, a) == pytest.approx(zero, abs=1e-12)
    assert th.erm_zero_temperature_ece(k, a) == pytest.approx(erm0, abs=6e-4)
    b, e = th.erm_limit(k, a)
    assert e == pytest.approx(ece, abs=6e-6)
    assert b == pytest.approx(beta, abs=6e-4)


def test_theory_details():
    ms, a_s, md, a_d = th.segment_statistics(10, 0.3)
    assert (ms, a_s, a_d) == pytest.approx((0.5410, 0.7195, 0.3306), abs=1e-4)
    assert ms + md == pytest.approx(1.0)
    for a, e in ((0.2, 0.0873), (0.25, 0.0944), (0.35, 0.0983)):  # unbinned values quoted in spec S4 §3
        assert th.erm_limit(10, a)[1] == pytest.approx(e, abs=1e-4)
    assert th.erm_limit(10, 0.0) == (th.BETA_MAX, pytest.approx(0.0, abs=1e-300))
    # many classes: beta* - log(k - 1) stays O(1)
    assert th.erm_limit(10, 0.3)[0] - np.log(9) == pytest.approx(0.66, abs=0.01)
    assert 0.66 < th.erm_limit(1000, 0.3)[0] - np.log(999) < 1.39
    for b in (0.7, 2.86, 9.0):
        h = 1e-5
        fd = (th.erm_limit_nll(b + h, 10, 0.3) - th.erm_limit_nll(b - h, 10, 0.3)) / (2 * h)
        assert th.erm_limit_nll_gradient(b, 10, 0.3) == pytest.approx(fd, abs=1e-8)


def test_limit_nll_against_brute_force_quadrature():
    # average the NLL over label configurations by direct enumeration of (nearer, farther, test) labels
    k, a, b = 3, 0.3, 2.0
    q, r = th.label_probabilities(k, a)
    probs = np.full(k, r)
    probs[0] = q
    t = (np.arange(20000) + 0.5) / 40000  # midpoint rule on (0, 1/2)
    total = 0.0
    for la in range(k):
        for lb in range(k):
            for y in range(k):
                w = probs[la] * probs[lb] * probs[y]
                z = np.zeros((t.size, k))
                z[:, la] += 1 - t
                z[:, lb] += t
                nll = logsumexp(b * z, axis=1) - b * z[:, y]
                total += w * (nll.mean() if la != lb else nll[0])
    expected = th.erm_limit_nll(b, k, a)
    assert total == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------------- learners


def _data(seed, reps, k, alpha, n):
    return sim.draw_datasets(rep_states(seed, "t", {}, reps), k, alpha, n)


def _brute_spline(x, y, k, zq_global):
    gx = (x + np.arange(k)[:, None]).ravel()
    onehot = (y.ravel()[:, None] == np.arange(k)).astype(float)
    return np.stack([np.interp(zq_global, gx, onehot[:, c]) for c in range(k)], axis=-1)


def test_spline_against_interpolation():
    k = 3
    xt, yt, xc, yc = _data(1, 2, k, 0.4, 15)
    la, lb, t = sim.erm_points(xt, yt, xc)
    for r in range(2):
        zq = (xc[r] + np.arange(k)[:, None]).ravel()
        brute = _brute_spline(xt[r], yt[r], k, zq)
        mine = np.zeros_like(brute)
        idx = np.arange(zq.size)
        mine[idx, la[r].ravel()] += 1 - t[r].ravel()
        mine[idx, lb[r].ravel()] += t[r].ravel()
        np.testing.assert_allclose(mine, brute, atol=1e-12)


def test_erm_nodes_against_brute_force():
    k, beta = 4, 2.7
    xt, yt, _, _ = _data(2, 1, k, 0.5, 12)
    same, t_near, correct = sim.erm_nodes(xt, yt)
    conf = sim.erm_confidence(same, t_near, beta, k)
    z, w = sim.node_positions(xt)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    zg = (z[0] + np.arange(k)[:, None, None]).ravel()
    logits = _brute_spline(xt[0], yt[0], k, zg)
    p = softmax(beta * logits, axis=1)
    np.testing.assert_allclose(conf[0].ravel(), p.max(axis=1), atol=1e-12)
    cluster = np.floor(zg).astype(int)
    np.testing.assert_array_equal(correct[0].ravel(), logits.argmax(axis=1) == cluster)


def _brute_mixup(x, y, h, kc, z):
    """p_mix(z) for one cluster by direct pair sums (NaN where no pair covers z)."""
    num, den = np.zeros(kc), 0.0
    for i in range(x.size):
        for j in range(i + 1, x.size):
            d = x[j] - x[i]
            if d <= h and x[i] < z < x[j]:
                num[y[i]] += (x[j] - z) / d**2
                num[y[j]] += (z - x[i]) / d**2
                den += 1 / d
    return num / den if den > 0 else np.full(kc, np.nan)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
def test_mixup_target_against_pair_sums(backend):
    k, n, h = 3, 25 if backend != "cuda" else 8, 0.12
    xt, yt, _, _ = _data(3, 2 if backend != "cuda" else 1, k, 0.5, n)
    coef = sim.mixup_coefficients(xt, yt, h, k, backend=backend)
    rng = np.random.default_rng(0)
    zq = np.sort(rng.uniform(0, th.WIDTH, size=(xt.shape[0], k, 40)), axis=-1)
    piece = np.stack([[np.searchsorted(xt[r, c], zq[r, c]) for c in range(k)] for r in range(xt.shape[0])])
    seg = np.clip(piece - 1, 0, n - 2)
    near = (zq - np.take_along_axis(xt, seg, -1)) <= (np.take_along_axis(xt, seg + 1, -1) - zq)
    p = sim.mixup_probabilities(coef, xt, piece, zq, near)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    checked = 0
    for r in range(xt.shape[0]):
        for c in range(k):
            for m, z in enumerate(zq[r, c]):
                ref = _brute_mixup(xt[r, c], yt[r, c], h, k, z)
                if np.isfinite(ref[0]):
                    np.testing.assert_allclose(p[r, c, m], ref, atol=1e-10)
                    checked += 1
    assert checked > 20


def test_mixup_backends_agree():
    xt, yt, _, _ = _data(4, 2, 5, 0.3, 300)
    a = sim.mixup_coefficients(xt, yt, 0.2, 5, backend="numpy")
    b = sim.mixup_coefficients(xt, yt, 0.2, 5, backend="numba")
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-6 * np.abs(u).max())
    np.testing.assert_array_equal(a[3], b[3])


def test_mixup_fallback_at_edges_and_gaps():
    # one cluster with a gap wider than h inside it and points near the edges
    x = np.array([[[0.05, 0.08, 0.10, 0.35, 0.37, 0.40]]])
    y = np.array([[[0, 1, 0, 1, 1, 0]]])
    h = 0.1
    coef = sim.mixup_coefficients(x, y, h, 2, backend="numpy")
    assert coef[3][0, 0].tolist() == [2, 2, 0, 2, 2]  # covering pairs per segment; segment 2 (0.10-0.35) uncovered
    at = lambda piece, z, near: sim.mixup_probabilities(  # noqa: E731
        coef, x, np.array([[[piece]]]), np.array([[[z]]]), np.array([[[near]]])
    )[0, 0, 0]
    left_of_gap = at(2, 0.10 - 1e-12, True)  # limit from segment 1 at x = 0.10
    np.testing.assert_allclose(at(3, 0.12, True), left_of_gap, atol=1e-9)
    np.testing.assert_allclose(at(3, 0.30, False), at(4, 0.35 + 1e-12, False), atol=1e-9)
    np.testing.assert_allclose(at(0, 0.01, True), at(1, 0.05 + 1e-12, True), atol=1e-9)
    np.testing.assert_allclose(at(6, 0.49, True), at(5, 0.40 - 1e-12, True), atol=1e-9)
    # a cluster without any covered segment predicts 1/k
    far = sim.mixup_coefficients(np.array([[[0.0, 0.3]]]), np.array([[[0, 1]]]), 0.1, 2)
    p = sim.mixup_probabilities(
        far, np.array([[[0.0, 0.3]]]), np.array([[[1]]]), np.array([[[0.1]]]), np.array([[[True]]])
    )
    np.testing.assert_allclose(p[0, 0, 0], [0.5, 0.5])


def test_mixup_target_is_unbiased():
    # positions fixed, labels redrawn: the mean Mixup target is P(· | z) = (q at the cluster's class, r elsewhere)
    k, n, alpha, h, draws = 3, 60, 0.4, 0.15, 600
    q, r = th.label_probabilities(k, alpha)
    xt, _, _, _ = _data(5, 1, k, alpha, n)
    rng = np.random.default_rng(1)
    zq = np.full((1, k, 1), 0.25)
    piece = np.array([[[np.searchsorted(xt[0, c], 0.25)] for c in range(k)]])
    y = np.where(rng.random((draws, k, n)) < alpha, rng.integers(0, k, (draws, k, n)), np.arange(k)[None, :, None])
    xs = np.broadcast_to(xt, (draws, k, n)).copy()
    coef = sim.mixup_coefficients(xs, y, h, k, backend="numba")
    acc = sim.mixup_probabilities(
        coef,
        xs,
        np.broadcast_to(piece, (draws, k, 1)),
        np.broadcast_to(zq, (draws, k, 1)),
        np.ones((draws, k, 1), bool),
    )[:, :, 0]
    target = np.where(np.eye(k, dtype=bool), q, r)
    z = (acc.mean(0) - target) / (acc.std(0, ddof=1) / np.sqrt(draws))
    assert np.max(np.abs(z)) < 4.5


def test_temperature_newton_against_brent():
    k = 5
    xt, yt, xc, yc = _data(6, 3, k, 0.3, 40)
    la, lb, t = sim.erm_points(xt, yt, xc)
    gh = sim._erm_grad_hess(la.reshape(3, -1), lb.reshape(3, -1), t.reshape(3, -1), yc.reshape(3, -1), k)
    beta = sim.fit_temperature(gh, 3)
    for r in range(3):
        zq = (xc[r] + np.arange(k)[:, None]).ravel()
        logits = _brute_spline(xt[r], yt[r], k, zq)
        yy = yc[r].ravel()

        def nll(b, logits=logits, yy=yy):
            return np.mean(logsumexp(b * logits, axis=1) - b * logits[np.arange(yy.size), yy])

        res = minimize_scalar(nll, bounds=(0, 1000), method="bounded", options={"xatol": 1e-10})
        assert beta[r] == pytest.approx(res.x, abs=1e-6)


def test_ece_routine_against_histogram():
    rng = np.random.default_rng(3)
    conf = rng.random((2, 5000))
    conf[0, :10] = 1.0  # the last bin is closed
    acc = rng.random((2, 5000))
    w = rng.random((2, 5000))
    w /= w.sum(axis=1, keepdims=True)
    mine = sim.binned_ece(conf, acc, w, bins=40)
    for r in range(2):
        idx = np.clip(np.digitize(conf[r], np.linspace(0, 1, 41)[1:-1]), 0, 39)
        ref = sum(abs(np.sum((w[r] * (conf[r] - acc[r]))[idx == b])) for b in range(40))
        assert mine[r] == pytest.approx(ref, abs=1e-14)
    mass, c, a = sim.reliability_sums(conf, acc, w)
    np.testing.assert_allclose(mass.sum(axis=1), 1.0)


def test_erm_zero_temperature_accuracy_is_a1():
    k, alpha, n, reps = 5, 0.3, 80, 60
    xt, yt, _, _ = _data(7, reps, k, alpha, n)
    _, _, correct = sim.erm_nodes(xt, yt)
    _, w = sim.node_positions(xt)
    q, r = th.label_probabilities(k, alpha)
    acc = (w * np.where(correct, q, r)).reshape(reps, -1).sum(axis=1)
    z = (acc.mean() - th.erm_zero_temperature_accuracy(k, alpha)) / (acc.std(ddof=1) / np.sqrt(reps))
    assert abs(z) < 4.5


def test_simulation_exact_parts_and_backends():
    states = rep_states(8, "t", {}, 5)
    a = sim.simulate_calibration(states, k=3, alpha=0.2, n=30, bandwidth=0.15, backend="numpy")
    b = sim.simulate_calibration(states, k=3, alpha=0.2, n=30, bandwidth=0.15, backend="numba")
    np.testing.assert_allclose(a["ece"], b["ece"], atol=1e-9)
    np.testing.assert_allclose(a["beta"], b["beta"], atol=1e-8)
    assert np.all(np.abs(a["ece"][0] - th.zero_temperature_ece(3, 0.2)) < 1e-12)
    assert np.isnan(a["beta"][0]).all()
    part = sim.simulate_calibration(states[2:4], k=3, alpha=0.2, n=30, bandwidth=0.15, backend="numba")
    np.testing.assert_array_equal(part["ece"], b["ece"][:, 2:4])
    zero = sim.simulate_calibration(states[:2], k=3, alpha=0.0, n=30, bandwidth=0.15, backend="numba")
    assert zero["ece"].max() < 1e-9


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"alpha": -0.1}, "alpha must be in"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"k": 1}, "k must be"),
        ({"k": 2.5}, "k must be"),
        ({"n": 1}, "n must be"),
        ({"bandwidth": 0.0}, "bandwidth must be"),
        ({"bandwidth": 0.5}, "bandwidth must be"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"k": 3, "alpha": 0.1, "n": 10, "bandwidth": 0.2, **kwargs}
    with pytest.raises(ParameterError, match=match):
        sim.simulate_calibration(rep_states(0, "t", {}, 2), **args)


def test_study_bad_settings():
    from simkit.registry import get_study

    study = get_study("calibration-overlap")
    for over, match in (
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": -0.5}, "alpha"),
        ({"k": 1}, "k"),
        ({"bandwidth": 0.7}, "bandwidth"),
    ):
        with pytest.raises(ParameterError, match=match):
            study.config(quick=True, overrides=over)


def test_study_small_run():
    from simkit.api import run_study

    res = run_study(
        "calibration-overlap",
        quick=True,
        reps=6,
        out=None,
        progress=False,
        overrides={"n": 60, "k": [2, 4], "alpha": [0.0, 0.3]},
    )
    ds = res.dataset
    assert ds["ece"].dims == ("k", "alpha", "calibration_method", "rep")
    assert ds["ece_zero_temperature"].dims == ("k", "alpha")
    assert {"ece_limit", "beta_limit", "reliability_accuracy"} <= set(ds.data_vars)
    for var in ds.data_vars:
        assert ds[var].attrs.get("long_name") and "units" in ds[var].attrs, var
    assert not [c.name for c in res.checks if c.failed]
    assert "an illustration of the paper's claim" in res.study.teaching
    assert res.study.plot(ds).axes


def test_cuda_backend_in_simulator():
    states = rep_states(9, "t", {}, 2)
    a = sim.simulate_calibration(states, k=2, alpha=0.3, n=6, bandwidth=0.2, backend="numpy")
    b = sim.simulate_calibration(states, k=2, alpha=0.3, n=6, bandwidth=0.2, backend="cuda")
    np.testing.assert_allclose(a["ece"], b["ece"], atol=1e-9)
    np.testing.assert_allclose(a["bin_accuracy"], b["bin_accuracy"], atol=1e-12)


def test_no_dimension_is_named_like_an_xarray_keyword():
    # ds.sel(method=...) is xarray's inexact-match keyword, not a selection: a dimension of that
    # name would be silently ignored (issue 10), so the method dimension is `calibration_method`
    import inspect

    import xarray as xr
    from simkit.studies import calibration_overlap

    keywords = set(inspect.signature(xr.Dataset.sel).parameters)
    assert "calibration_method" not in keywords
    assert '"method"' not in inspect.getsource(calibration_overlap)
