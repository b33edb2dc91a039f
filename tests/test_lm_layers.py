"""gatedrnn.lm layers and models: gradients against central finite differences
(float64, tiny sizes), the book's formulas, weight tying and bad input."""
import numpy as np
import pytest

from gatedrnn.gradcheck import numerical_gradient, relative_error
from gatedrnn.lm import (SGD, BetterRnnlm, Rnnlm, TimeAffine, TimeDropout, TimeEmbedding,
                         TimeSoftmaxWithLoss)

GRAD_TOL = 1e-6          # relative error of analytic vs central differences, float64
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def rng(seed=0):
    return np.random.default_rng(seed)


def check_grad(loss, x, analytic, name, tol=GRAD_TOL):
    numeric = numerical_gradient(loss, x, eps=1e-6)
    err = relative_error(analytic, numeric)
    assert err < tol, f"{name}: relative error {err:.2e}"


# --- TimeEmbedding ------------------------------------------------------------

@pytest.mark.parametrize("N,T", [(1, 1), (2, 4), (3, 5)])
def test_embedding_gradient(N, T):
    r = rng(1)
    V, D = 6, 3
    W = r.standard_normal((V, D))
    xs = r.integers(0, V, (N, T))
    xs.flat[0] = xs.flat[-1]                     # a repeated id
    G = r.standard_normal((N, T, D))
    layer = TimeEmbedding(W)
    out = layer.forward(xs)
    np.testing.assert_array_equal(out, W[xs], err_msg="embedding forward")
    layer.backward(G)
    check_grad(lambda: float(np.sum(TimeEmbedding(W).forward(xs) * G)), W,
               layer.grads[0], "dW_embed")


def test_embedding_backward_overwrites_or_accumulates():
    r = rng(2)
    W = r.standard_normal((5, 2))
    xs = np.array([[0, 1, 1, 4]])
    G = r.standard_normal((1, 4, 2))
    expected = np.zeros_like(W)
    np.add.at(expected, xs.ravel(), G.reshape(-1, 2))

    layer = TimeEmbedding(W)
    layer.grads[0][...] = 123.0
    layer.forward(xs)
    layer.backward(G)
    np.testing.assert_allclose(layer.grads[0], expected, err_msg="overwrite", **TOL[np.float64])

    acc = TimeEmbedding(W, accumulate=True)
    acc.grads[0][...] = 1.0
    acc.forward(xs)
    acc.backward(G)
    np.testing.assert_allclose(acc.grads[0], expected + 1.0, err_msg="accumulate",
                               **TOL[np.float64])


# --- TimeAffine -----------------------------------------------------------------

@pytest.mark.parametrize("transposed", [False, True], ids=["plain", "transposed-view"])
def test_affine_gradient(transposed):
    r = rng(3)
    N, T, D, M = 2, 3, 4, 5
    W = r.standard_normal((D, M))
    if transposed:          # as in weight tying: W is a Fortran-ordered view
        W = np.ascontiguousarray(W.T).T
        assert not W.flags.c_contiguous
    b = r.standard_normal(M)
    x = r.standard_normal((N, T, D))
    G = r.standard_normal((N, T, M))
    layer = TimeAffine(W, b)
    if transposed:
        shared = np.zeros((M, D))
        layer.grads[0] = shared.T
    out = layer.forward(x)
    np.testing.assert_allclose(out, x @ W + b, err_msg="affine forward", **TOL[np.float64])
    dx = layer.backward(G)

    def loss():
        return float(np.sum(TimeAffine(W, b).forward(x) * G))
    check_grad(loss, x, dx, "dx")
    check_grad(loss, W, layer.grads[0], "dW")
    check_grad(loss, b, layer.grads[1], "db")
    if transposed:
        np.testing.assert_allclose(shared, layer.grads[0].T, err_msg="dW written in place")


def test_affine_float32_matches_numpy():
    r = rng(4)
    W = r.standard_normal((7, 9), dtype=np.float32)
    b = r.standard_normal(9, dtype=np.float32)
    x = r.standard_normal((3, 5, 7), dtype=np.float32)
    G = r.standard_normal((3, 5, 9), dtype=np.float32)
    layer = TimeAffine(W, b)
    out = layer.forward(x)
    dx = layer.backward(G)
    np.testing.assert_allclose(out, x @ W + b, err_msg="out", rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, G @ W.T, err_msg="dx", rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.grads[0], x.reshape(-1, 7).T @ G.reshape(-1, 9),
                               err_msg="dW", rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(layer.grads[1], G.sum(axis=(0, 1)), err_msg="db",
                               rtol=1e-5, atol=1e-5)


# --- TimeSoftmaxWithLoss ----------------------------------------------------------

def book_softmax_loss(xs, ts, ignore_label=-1):
    """The book's formula, written out: mean -log softmax at the targets over
    the targets that are not ignore_label, and its gradient."""
    N, T, V = xs.shape
    x = xs.reshape(N * T, V).astype(np.float64)
    t = ts.reshape(N * T)
    mask = t != ignore_label
    y = np.exp(x - x.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(y[np.arange(N * T), t]) * mask) / mask.sum()
    dx = y.copy()
    dx[np.arange(N * T), t] -= 1
    dx *= mask[:, None] / mask.sum()
    return loss, dx.reshape(N, T, V)


@pytest.mark.parametrize("V", [1, 11, 16, 37])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_loss_matches_book(dtype, V):
    r = rng(5)
    N, T = 3, 4
    xs = (3 * r.standard_normal((N, T, V))).astype(dtype)
    ts = r.integers(0, V, (N, T))
    ts[0, 1] = ts[2, 3] = -1                     # ignore_label
    want_loss, want_dx = book_softmax_loss(xs, ts)
    layer = TimeSoftmaxWithLoss()
    keep = xs.copy()
    loss = layer.forward(xs, ts)
    dx = layer.backward()
    np.testing.assert_array_equal(xs, keep, err_msg="xs must be left unchanged by default")
    tol = TOL[dtype]
    np.testing.assert_allclose(loss, want_loss, err_msg="loss", **tol)
    np.testing.assert_allclose(dx, want_dx, err_msg="dx", **tol)
    assert np.all(dx[0, 1] == 0) and np.all(dx[2, 3] == 0), "ignored targets get no gradient"
    np.testing.assert_allclose(TimeSoftmaxWithLoss().forward(xs, ts, train=False), want_loss,
                               err_msg="loss, train=False", **tol)
    onehot = np.eye(V, dtype=np.int64)[np.where(ts < 0, 0, ts)]
    ts_valid = np.where(ts < 0, 0, ts)
    np.testing.assert_allclose(TimeSoftmaxWithLoss().forward(xs, onehot),
                               book_softmax_loss(xs, ts_valid)[0], err_msg="one-hot ts", **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_softmax_runs_on_the_pool_and_matches_one_thread(dtype):
    """Above 65536 elements the rows are shared among threads (8 rows an
    item; 203 rows leave a partial item): the book's values, and the same
    bits whether one thread or two ran it."""
    from gatedrnn import _kernels
    r = rng(8)
    N, T, V = 7, 29, 500
    xs = (3 * r.standard_normal((N, T, V))).astype(dtype)
    ts = r.integers(0, V, (N, T))
    ts[3, 5] = -1
    want_loss, want_dx = book_softmax_loss(xs, ts)
    results = []
    for threads in (1, 2):
        previous = _kernels.set_num_threads(threads)
        try:
            shared = _kernels.jobs_shared()
            for _ in range(200):  # until a worker takes part
                layer = TimeSoftmaxWithLoss()
                loss = layer.forward(xs, ts)
                dx = layer.backward()
                if threads == 1 or _kernels.jobs_shared() > shared:
                    break
            assert threads == 1 or _kernels.jobs_shared() > shared, "no worker took part"
        finally:
            _kernels.set_num_threads(previous)
        np.testing.assert_allclose(loss, want_loss, **TOL[dtype])
        np.testing.assert_allclose(dx, want_dx, **TOL[dtype])
        results.append((loss, dx))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_softmax_loss_gradient_and_dout():
    r = rng(6)
    xs = r.standard_normal((2, 3, 5))
    ts = np.array([[0, 4, -1], [2, 2, 1]])
    layer = TimeSoftmaxWithLoss()
    layer.forward(xs, ts)
    dx = layer.backward(2.5)
    check_grad(lambda: 2.5 * TimeSoftmaxWithLoss().forward(xs, ts), xs, dx, "dxs")


def test_softmax_loss_is_stable_for_large_scores():
    xs = np.array([[[1e4, 0.0, -1e4], [-3e4, 3e4, 0.0]]], dtype=np.float32)
    ts = np.array([[1, 1]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dx = layer.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    np.testing.assert_allclose(loss, (1e4 + 0.0) / 2, rtol=1e-6)
    shifted = xs - 5e3
    np.testing.assert_allclose(TimeSoftmaxWithLoss().forward(shifted, ts), loss, rtol=1e-6,
                               err_msg="loss is shift-invariant")


def test_softmax_loss_propagates_nan():
    xs = np.zeros((1, 2, 20), np.float32)
    xs[0, 0, 7] = np.nan
    layer = TimeSoftmaxWithLoss()
    assert np.isnan(layer.forward(xs, np.array([[1, 2]])))


def test_softmax_overwrite_input_reuses_the_buffer():
    r = rng(7)
    xs = r.standard_normal((2, 3, 4))
    ts = r.integers(0, 4, (2, 3))
    want = book_softmax_loss(xs, ts)
    layer = TimeSoftmaxWithLoss(overwrite_input=True)
    layer.forward(xs, ts)
    dx = layer.backward()
    assert np.shares_memory(dx, xs)
    np.testing.assert_allclose(dx, want[1], **TOL[np.float64])
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward()


# --- TimeDropout -------------------------------------------------------------------

def test_dropout_is_seedable_inverted_and_consistent():
    x = np.ones((50, 20, 10), np.float32)
    a, b = TimeDropout(0.3, seed=11), TimeDropout(0.3, seed=11)
    ya, yb = a.forward(x), b.forward(x)
    np.testing.assert_array_equal(ya, yb, err_msg="same seed, same mask")
    assert ya.dtype == np.float32
    kept = ya != 0
    np.testing.assert_allclose(ya[kept], 1 / 0.7, rtol=1e-6, err_msg="inverted scaling")
    assert abs(kept.mean() - 0.7) < 0.02
    g = np.full_like(x, 2.0)
    np.testing.assert_allclose(a.backward(g), 2.0 * (ya != 0) / 0.7, rtol=1e-6,
                               err_msg="backward uses the forward's mask")
    a.train_flg = False
    assert a.forward(x) is x


# --- models ---------------------------------------------------------------------------

def _fd_model_check(model, xs, ts, reseed=None):
    """Gradient of every params entry against finite differences. The stateful
    LSTMs are reset before each forward; reseed() fixes dropout masks."""
    def loss():
        model.reset_state()
        if reseed:
            reseed()
        return model.forward(xs, ts)
    loss()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    for k, p in enumerate(model.params):
        check_grad(loss, p, analytic[k], f"params[{k}] {p.shape}")


def test_rnnlm_gradient():
    V, D, H, N, T = 11, 4, 5, 2, 3
    model = Rnnlm(V, D, H, seed=1, dtype=np.float64)
    model.params[0] *= 50       # the book's init (N(0, 0.01^2)) leaves dWx near FD noise
    for p in model.params:              # non-zero biases too
        p += 0.1 * rng(8).standard_normal(p.shape)
    r = rng(9)
    _fd_model_check(model, r.integers(0, V, (N, T)), r.integers(0, V, (N, T)))


def test_better_rnnlm_tied_gradient():
    V, D, N, T = 9, 4, 2, 3
    model = BetterRnnlm(V, D, D, 0.5, seed=2, dtype=np.float64)
    assert len(model.params) == 8 and len(model.grads) == 8
    embed_W = model.params[0]
    assert model.affine.params[0].base is embed_W or np.shares_memory(
        model.affine.params[0], embed_W), "the affine weight is a view of the embedding"
    assert len({id(p) for p in model.params}) == 8
    embed_W *= 50               # the book's init (N(0, 0.01^2)) leaves dWx1 near FD noise

    def reseed():
        for k, layer in enumerate(model.drop_layers):
            layer.rng = np.random.default_rng(100 + k)
    r = rng(10)
    xs, ts = r.integers(0, V, (N, T)), r.integers(0, V, (N, T))
    _fd_model_check(model, xs, ts, reseed)

    # The tied gradient is the embedding's part plus the affine's, transposed:
    # compare with an untied twin (same weights and masks, separate arrays).
    twin = BetterRnnlm(V, D, D, 0.5, seed=2, dtype=np.float64)
    for p, q in zip(twin.params, model.params):
        p[...] = q
    twin.affine.params[0] = model.params[0].T.copy()
    twin.affine.grads[0] = np.zeros((D, V))
    twin.embed.accumulate = False
    for m in (model, twin):
        m.reset_state()
        for k, layer in enumerate(m.drop_layers):
            layer.rng = np.random.default_rng(100 + k)
        m.forward(xs, ts)
        m.backward()
    np.testing.assert_allclose(model.grads[0], twin.embed.grads[0] + twin.affine.grads[0].T,
                               err_msg="tied gradient = embedding part + affine part",
                               **TOL[np.float64])
    assert np.abs(twin.affine.grads[0]).max() > 0 and np.abs(twin.embed.grads[0]).max() > 0


def test_tied_weight_is_updated_once():
    model = BetterRnnlm(13, 6, 6, 0.5, seed=3)
    r = rng(11)
    xs, ts = r.integers(0, 13, (2, 4)), r.integers(0, 13, (2, 4))
    model.forward(xs, ts)
    model.backward()
    before = model.params[0].copy()
    grad = model.grads[0].copy()
    SGD(lr=0.5).update(model.params, model.grads)
    np.testing.assert_allclose(model.params[0], before - 0.5 * grad, rtol=1e-6, atol=1e-7,
                               err_msg="one update of the shared weight")
    np.testing.assert_array_equal(model.affine.params[0], model.params[0].T,
                                  err_msg="the affine sees the updated weight")


def test_models_in_float32_by_default():
    for model in (Rnnlm(20, 4, 4, seed=0), BetterRnnlm(20, 4, 4, seed=0)):
        assert all(p.dtype == np.float32 for p in model.params), type(model).__name__
        loss = model.forward(np.zeros((2, 3), np.int32), np.ones((2, 3), np.int32))
        assert np.isfinite(loss)


def test_same_seed_same_model():
    a, b = BetterRnnlm(20, 4, 4, seed=5), BetterRnnlm(20, 4, 4, seed=5)
    xs, ts = rng(1).integers(0, 20, (2, 5)), rng(2).integers(0, 20, (2, 5))
    assert a.forward(xs, ts) == b.forward(xs, ts)


# --- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("bad", [10, 12345, -2])
def test_word_id_out_of_range_is_a_clear_error(bad):
    model = Rnnlm(10, 3, 3, seed=0)
    xs = np.array([[1, bad, 2]])
    with pytest.raises(ValueError, match=rf"V = 10.*{bad}"):
        model.forward(xs, np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=rf"V = 10.*{bad}"):
        model.forward(np.array([[1, 2, 3]]), xs)


def test_non_integer_ids_and_bad_shapes():
    layer = TimeEmbedding(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="integers"):
        layer.forward(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        layer.forward(np.array([1, 2]))
    with pytest.raises(ValueError, match="ts must have shape"):
        TimeSoftmaxWithLoss().forward(np.zeros((2, 3, 4)), np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="ignore_label"):
        TimeSoftmaxWithLoss().forward(np.zeros((1, 2, 4)), np.full((1, 2), -1))
    with pytest.raises(ValueError, match="wordvec_size == hidden_size"):
        BetterRnnlm(10, 4, 5)
