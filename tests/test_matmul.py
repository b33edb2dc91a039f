"""The plain products (src/gemm/matmul.template.c) and the fused evaluation
loss (affine_xent.template.c), which the language model's affine layer uses:
both product engines (the first; the Goto engine of gemm.h), every SIMD
path, both dtypes, every operand layout the layer passes, against float64
NumPy; bit-identical on one and two threads; the BLAS path declines."""
import numpy as np
import pytest

from conftest import DTYPES, PATHS, TOL, kernel_path
from gatedrnn import _kernels
from gatedrnn import clip_grads
from gatedrnn.lm import SGD, BetterRnnlm, Rnnlm, TimeAffine, _products

SIMD_PATHS = [p for p in PATHS if p != "blas"]
ENGINES = ["goto", "panels"]


@pytest.fixture(params=ENGINES)
def engine(request):
    """Each test that uses this runs on both product engines."""
    previous = _kernels.set_product_engine(request.param)
    yield request.param
    _kernels.set_product_engine(previous)

# (M, N, K) and what each exercises.
SHAPES = {
    (1, 1, 1): "one element",
    (5, 13, 7): "a partial last vector (the tail panel), few rows",
    (640, 13, 128): "ch07's output layer: many row blocks, one narrow panel",
    (50, 418, 100): "ch05's output layer: several panels and a tail",
    (33, 65, 1000): "K in several blocks",
    (12, 64, 9): "whole vectors only",
}


def _operands(rng, M, N, K, dtype, a_transposed, b_transposed):
    a = rng.standard_normal((K, M) if a_transposed else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if b_transposed else (K, N)).astype(dtype)
    return (a.T if a_transposed else a), (b.T if b_transposed else b)


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES.values()))
@pytest.mark.parametrize("a_transposed", [False, True], ids=["A", "A^T view"])
@pytest.mark.parametrize("b_transposed", [False, True], ids=["B", "B^T view"])
@pytest.mark.parametrize("mode", ["C=", "C+=", "C=bias+"])
def test_matmul_against_numpy(path, dtype, shape, a_transposed, b_transposed, mode, engine):
    M, N, K = shape
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    a, b = _operands(rng, M, N, K, dtype, a_transposed, b_transposed)
    out = rng.standard_normal((M, N)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype) if mode == "C=bias+" else None
    before = out.copy()
    with kernel_path(path):
        assert _kernels.matmul(out, a, b, mode == "C+=", bias=bias) is True
    want = a.astype(np.float64) @ b.astype(np.float64) + (
        before if mode == "C+=" else 0 if bias is None else bias)
    err = np.max(np.abs(out - want)) / np.max(np.abs(want))
    assert err < TOL[dtype], err


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("b_transposed", [False, True], ids=["B", "B^T view"])
def test_matmul_is_bit_identical_on_two_threads(path, b_transposed, engine):
    rng = np.random.default_rng(5)
    a, b = _operands(rng, 200, 150, 300, np.float32, False, b_transposed)
    results = []
    for threads in (1, 2):
        out = np.empty((200, 150), np.float32)
        with kernel_path(path, threads):
            shared = _kernels.jobs_shared()
            for _ in range(200):  # until a worker takes part
                _kernels.matmul(out, a, b)
                if threads == 1 or _kernels.jobs_shared() > shared:
                    break
            assert threads == 1 or _kernels.jobs_shared() > shared, "no worker took part"
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_matmul_edge_sizes(path, engine):
    with kernel_path(path):
        out = np.full((3, 4), 7.0, np.float32)
        assert _kernels.matmul(out, np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32))
        np.testing.assert_array_equal(out, 0)  # an empty sum
        out[...] = 7
        _kernels.matmul(out, np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), True)
        np.testing.assert_array_equal(out, 7)
        bias = np.arange(4.0, dtype=np.float32)
        _kernels.matmul(out, np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32),
                        bias=bias)
        np.testing.assert_array_equal(out, np.broadcast_to(bias, (3, 4)))
        for M, N in ((0, 4), (3, 0)):
            assert _kernels.matmul(np.empty((M, N), np.float32), np.ones((M, 2), np.float32),
                                   np.ones((2, N), np.float32))


def test_the_blas_path_declines_and_other_layouts_are_refused():
    a = np.ones((4, 3), np.float32)
    with kernel_path("blas"):
        assert _kernels.matmul(np.empty((4, 5), np.float32), a, np.ones((3, 5), np.float32)) is False
    if SIMD_PATHS:
        with kernel_path(SIMD_PATHS[-1]):
            strided = np.ones((3, 10), np.float32)[:, ::2]  # neither B nor B^T contiguous
            assert _kernels.matmul(np.empty((4, 5), np.float32), a, strided) is False
            with pytest.raises(TypeError, match="one float dtype"):
                _kernels.matmul(np.empty((4, 5), np.float32), a, np.ones((3, 5)))
            with pytest.raises(ValueError, match="matmul of"):
                _kernels.matmul(np.empty((4, 5), np.float32), a, np.ones((4, 5), np.float32))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("tied", [False, True], ids=["W", "tied W = E.T"])
def test_time_affine_small_and_large_products_agree_with_numpy(path, tied, monkeypatch):
    # Below ENGINE_MAX_FLOPS on the SIMD paths the products are the engine's;
    # forcing the limit to 0 sends the same layer through SciPy's BLAS.
    rng = np.random.default_rng(9)
    N, T, D, V = 4, 6, 10, 37
    W = rng.standard_normal((V, D)).T if tied else rng.standard_normal((D, V))
    W, b = W.astype(np.float32), rng.standard_normal(V).astype(np.float32)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    dout = rng.standard_normal((N, T, V)).astype(np.float32)
    x64, W64, d64 = (v.astype(np.float64) for v in (x, W, dout))
    want = (x64 @ W64 + b, d64.reshape(-1, V).T @ x64.reshape(-1, D),
            d64 @ W64.T, d64.sum(axis=(0, 1)))
    for limit in (_products.ENGINE_MAX_FLOPS, 0):
        monkeypatch.setattr(_products, "ENGINE_MAX_FLOPS", limit)
        with kernel_path(path):
            layer = TimeAffine(W, b)
            out = layer.forward(x)
            dx = layer.backward(dout)
            got = (out, layer.grads[0].T, dx, layer.grads[1])
        for name, g, w in zip(("out", "dW", "dx", "db"), got, want):
            err = np.max(np.abs(g - w)) / np.max(np.abs(w))
            assert err < TOL[np.float32], (name, limit, err)


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("model_class", [Rnnlm, BetterRnnlm])
def test_a_training_iteration_calls_no_blas_on_the_simd_paths(path, model_class, monkeypatch):
    """SciPy's OpenBLAS threads spin after each call and slow our kernels that
    follow: on the SIMD paths no product of a training iteration goes there."""
    def refuse(*args, **kwargs):
        raise AssertionError("a SciPy BLAS call in a training iteration")
    for table in ("_GEMM", "_GEMV"):
        monkeypatch.setattr(_products, table, {np.dtype(np.float32): refuse,
                                               np.dtype(np.float64): refuse})
    rng = np.random.default_rng(0)
    xs, ts = rng.integers(0, 300, (3, 5)), rng.integers(0, 300, (3, 5))
    with kernel_path(path):
        model = model_class(300, 24, 24, seed=0)
        before = [p.copy() for p in model.params]
        for _ in range(2):
            loss = model.forward(xs, ts)
            model.backward()
            clip_grads(model.grads, 0.25)
            SGD(1.0).update(model.params, model.grads)
    assert np.isfinite(loss)
    assert all(not np.array_equal(p, b) for p, b in zip(model.params, before))


# ---- the output layer's evaluation loss without the scores (affine_xent) -------

XENT_SHAPES = {  # (M, N, K): rows, classes, inputs
    (1, 1, 1): "one class",
    (5, 13, 7): "few rows (B read in place), a partial vector",
    (50, 2100, 30): "several panel groups and spans, a partial last group",
    (33, 65, 600): "K in two blocks",
}


def _xent_reference(a, b, bias, targets):
    """The losses in float64, and the largest |score| (the scale of their rounding)."""
    s = a.astype(np.float64) @ b.astype(np.float64) + (0 if bias is None else bias)
    m = s.max(axis=1, keepdims=True)
    losses = np.log(np.exp(s - m).sum(axis=1)) + m[:, 0] - s[np.arange(len(s)), targets]
    return losses, np.abs(s).max()


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", XENT_SHAPES, ids=list(XENT_SHAPES.values()))
@pytest.mark.parametrize("a_transposed", [False, True], ids=["A", "A^T view"])
@pytest.mark.parametrize("b_transposed", [False, True], ids=["B", "B^T view (tied)"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
def test_affine_xent_against_numpy(path, dtype, shape, a_transposed, b_transposed, with_bias,
                                   engine):
    M, N, K = shape
    rng = np.random.default_rng(M + N + K)
    a, b = _operands(rng, M, N, K, dtype, a_transposed, b_transposed)
    a, b = 3 * a, 3 * b  # scores far apart: the max matters
    bias = rng.standard_normal(N).astype(dtype) if with_bias else None
    targets = rng.integers(0, N, M).astype(np.int64)
    with kernel_path(path):
        got = _kernels.affine_xent(a, b, bias, targets)
    want, scale = _xent_reference(a, b, bias, targets)
    assert got.dtype == np.float64 and got.shape == (M,)
    err = np.max(np.abs(got - want)) / max(1.0, scale)
    assert err < TOL[dtype], err


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_affine_xent_is_bit_identical_on_two_threads_and_keeps_nan(path, engine):
    rng = np.random.default_rng(11)
    a, b = _operands(rng, 120, 900, 40, np.float32, False, True)
    targets = rng.integers(0, 900, 120).astype(np.int64)
    results = []
    for threads in (1, 2):
        with kernel_path(path, threads):
            shared = _kernels.jobs_shared()
            for _ in range(200):  # until a worker takes part
                got = _kernels.affine_xent(a, b, None, targets)
                if threads == 1 or _kernels.jobs_shared() > shared:
                    break
            assert threads == 1 or _kernels.jobs_shared() > shared, "no worker took part"
        results.append(got)
    np.testing.assert_array_equal(results[0], results[1])
    a[7, 3] = np.nan  # one row's scores all NaN: its loss, and only its, is NaN
    with kernel_path(path):
        got = _kernels.affine_xent(a, b, None, targets)
    assert np.isnan(got[7]) and np.all(np.isfinite(np.delete(got, 7)))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("model_class", [Rnnlm, BetterRnnlm])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_evaluation_loss_fused_equals_the_scores_then_the_softmax(path, model_class, dtype):
    """model.forward(train_flg=False) never builds the scores on the SIMD
    paths; it gives the loss of predict() and the softmax layer, ignored
    targets (-1) included (the BLAS path computes exactly that)."""
    rng = np.random.default_rng(2)
    V = 301
    xs, ts = rng.integers(0, V, (3, 11)), rng.integers(0, V, (3, 11))
    ts[1, 4] = -1
    with kernel_path(path):
        model = model_class(V, 24, 24, seed=0, dtype=dtype)
        fused = model.forward(xs, ts, train_flg=False)
        model.reset_state()
        unfused = model.loss_layer.forward(model.predict(xs, False), ts, train=False)
    tol = {np.float32: 1e-6, np.float64: 1e-13}[dtype]
    assert fused == pytest.approx(unfused, rel=tol)
