"""Text generation's kernels (src/lm/generate.c: _kernels.lm_scores, lm_sample,
lm_redraw, lm_fingerprint) against NumPy."""
import numpy as np
import pytest

from conftest import DTYPES, TOL
from gatedrnn import _kernels

SHAPES = [(1, 1, 1), (1, 37, 16), (3, 5, 17), (5, 70, 33), (20, 101, 650), (4, 9, 100)]


@pytest.mark.parametrize("R, V, K", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_scores_are_x_times_w_transposed_plus_bias(R, V, K, dtype, bias):
    rng = np.random.default_rng(R * 1000 + V + K)
    X = rng.standard_normal((R, K)).astype(dtype)
    W = rng.standard_normal((V, K)).astype(dtype)
    b = rng.standard_normal(V).astype(dtype) if bias else None
    Y = np.full((R, V), np.nan, dtype)
    _kernels.lm_scores(Y, X, W, b)
    expected = X.astype(np.float64) @ W.astype(np.float64).T + (0 if b is None else b)
    err = np.abs(Y - expected).max() / np.abs(expected).max()
    assert err < TOL[dtype], f"scores: relative error {err:.2g}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_a_rows_scores_do_not_depend_on_the_other_rows(dtype):
    """Bit for bit: a batch of samples then equals the samples drawn alone."""
    rng = np.random.default_rng(1)
    for K in (7, 16, 50, 650):
        X = rng.standard_normal((11, K)).astype(dtype)
        W = rng.standard_normal((97, K)).astype(dtype)
        b = rng.standard_normal(97).astype(dtype)
        Y = np.empty((11, 97), dtype)
        _kernels.lm_scores(Y, X, W, b)
        for r in range(11):
            alone = np.empty((1, 97), dtype)
            _kernels.lm_scores(alone, X[r:r + 1].copy(), W, b)
            np.testing.assert_array_equal(alone[0], Y[r], err_msg=f"row {r}, K={K}")


def test_scores_on_several_threads_are_the_same():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 650)).astype(np.float32)
    W = rng.standard_normal((3000, 650)).astype(np.float32)
    one, many = np.empty((6, 3000), np.float32), np.empty((6, 3000), np.float32)
    previous = _kernels.set_num_threads(1)
    try:
        _kernels.lm_scores(one, X, W, None)
        _kernels.set_num_threads(4)
        _kernels.set_all_threads(True)
        shared = _kernels.jobs_shared()
        _kernels.lm_scores(many, X, W, None)
    finally:
        _kernels.set_all_threads(False)
        _kernels.set_num_threads(previous)
    np.testing.assert_array_equal(one, many)
    assert _kernels.jobs_shared() >= shared


def _inverse_cdf(z, u, inv_t=1.0):
    """numpy.random.choice's draw: searchsorted(cumsum(p) / sum, u, 'right')."""
    w = np.exp((z.astype(np.float64) - z.max()) * inv_t)
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    j = int(np.searchsorted(cdf, u, side="right"))
    margin = min(u - (cdf[j - 1] if j else 0.0), cdf[j] - u)
    return j, margin, w


def _sample(z, u, inv_t=1.0, top_k=0, banned=None, allowed=None):
    P = np.array(z, ndmin=2, copy=True)
    R, V = P.shape
    totals, ids = np.empty(R), np.empty(R, np.int64)
    u = None if u is None else np.array(u, ndmin=1, dtype=np.float64)
    _kernels.lm_sample(P, totals, ids, u, inv_t, top_k, V if allowed is None else allowed,
                       banned)
    return ids, P, totals


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("inv_t", [1.0, 0.5, 3.0])
def test_a_draw_is_numpys_inverse_distribution_function(dtype, inv_t):
    rng = np.random.default_rng(3)
    for V in (1, 2, 63, 64, 65, 1000):
        z = (rng.standard_normal((8, V)) * 4).astype(dtype)
        u = rng.random(8)
        u[0] = 0.0
        u[1] = np.nextafter(1.0, 0)
        ids, P, totals = _sample(z, u, inv_t)
        for r in range(8):
            j, margin, w = _inverse_cdf(z[r], u[r], inv_t)
            if margin > 1e-6:
                assert ids[r] == j, f"V={V}, row {r}"
            np.testing.assert_allclose(P[r], w, rtol=TOL[dtype] * 10, err_msg="the weights")
            np.testing.assert_allclose(totals[r], w.sum(), rtol=TOL[dtype] * 10)


def test_an_id_of_weight_zero_is_never_drawn():
    z = np.array([[0.0, -np.inf, 0.0, -np.inf, -np.inf]], np.float32)
    for u in (0.0, 0.4999, 0.5, 0.9999999):
        ids, _, _ = _sample(z, [u])
        assert ids[0] in (0, 2)
    ids, _, _ = _sample(np.array([[-np.inf, 1.0]]), [0.0])
    assert ids[0] == 1


def test_greedy_takes_the_first_highest_and_skips_the_banned():
    z = np.array([[0.5, 2.0, -1.0, 2.0, 1.9]])
    assert _sample(z, None, inv_t=0.0)[0][0] == 1
    banned = np.array([0, 1, 0, 0, 0], np.uint8)
    assert _sample(z, None, inv_t=0.0, banned=banned, allowed=4)[0][0] == 3
    banned[3] = 1
    assert _sample(z, None, inv_t=0.0, banned=banned, allowed=3)[0][0] == 4


def test_top_k_keeps_the_k_highest_and_their_ties():
    rng = np.random.default_rng(4)
    for dtype in DTYPES:
        z = rng.standard_normal((5, 300)).astype(dtype)
        z[:, 10] = z[:, 11] = z.max(axis=1) + 1      # a tie at the top
        for k in (1, 2, 5, 299, 300):
            _, P, _ = _sample(z, rng.random(5), top_k=k)
            kept = P > 0
            kth = np.sort(z, axis=1)[:, -k]
            np.testing.assert_array_equal(kept, z >= kth[:, None], err_msg=f"k={k}")
            assert (kept.sum(axis=1) >= k).all()


def test_top_k_leaves_the_banned_out():
    z = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    banned = np.array([1, 0, 1, 0, 0], np.uint8)
    _, P, _ = _sample(z, [0.3], top_k=2, banned=banned, allowed=3)
    np.testing.assert_array_equal(P[0] > 0, [False, True, False, True, False])
    # k at least the ids left: all of them
    _, P, _ = _sample(z, [0.3], top_k=3, banned=banned, allowed=3)
    np.testing.assert_array_equal(P[0] > 0, [False, True, False, True, True])


def test_banned_ids_stay_in_a_plain_draw():
    """Without top_k or greedy the caller redraws (the book's rule): the kernel
    keeps them."""
    z = np.array([[10.0, 0.0, 0.0]])
    ids, _, _ = _sample(z, [0.2], banned=np.array([1, 0, 0], np.uint8), allowed=2)
    assert ids[0] == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rows_that_are_not_finite_give_minus_one(bad):
    z = np.zeros((3, 6))
    z[1, 2] = bad
    ids, _, _ = _sample(z, [0.5, 0.5, 0.5])
    assert ids.tolist() == [ids[0], -1, ids[2]] and ids[0] >= 0
    ids, _, _ = _sample(z, None, inv_t=0.0)   # greedy too: an overflow is no argmax
    assert ids.tolist() == [0, -1, 0]


def test_redraw_searches_the_weights_again():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((4, 50))
    ids, P, totals = _sample(z, rng.random(4))
    u = np.array([0.1, 0.95])
    rows = np.array([3, 1], np.int64)
    _kernels.lm_redraw(P, totals, ids, u, rows)
    for r, ur in zip(rows, u):
        assert ids[r] == _inverse_cdf(z[r], ur)[0]


def test_fingerprint_tells_changed_weights():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((300, 77)).astype(np.float32)
    f = _kernels.lm_fingerprint(a)
    assert f == _kernels.lm_fingerprint(a.copy())
    seen = {f}
    for index in [(0, 0), (150, 40), (299, 76)]:
        b = a.copy()
        b[index] = np.nextafter(b[index], np.inf, dtype=np.float32)   # one bit
        seen.add(_kernels.lm_fingerprint(b))
    c = a.copy()
    c[[0, 1]] = c[[1, 0]]   # rows swapped
    seen.add(_kernels.lm_fingerprint(c))
    seen.add(_kernels.lm_fingerprint(a[:-1].copy()))
    assert len(seen) == 6
    assert _kernels.lm_fingerprint(np.zeros(0)) != _kernels.lm_fingerprint(np.zeros(1))
