"""The Goto engine (src/gemm/gemm.h and its micro-kernel, packing and
blocking) through the plain products: every SIMD path, both dtypes, one and
two threads, at sizes on each side of its block edges (MR, NR, KC, MC, NC:
read from the engine's own blocking for this machine), against float64 NumPy;
bit-identical across thread counts; K blocks summed in their order."""
import numpy as np
import pytest

from conftest import DTYPES, PATHS, TOL, kernel_path
from gatedrnn import _kernels

SIMD_PATHS = [p for p in PATHS if p != "blas"]
DTYPE_IDS = ["float32", "float64"]


@pytest.fixture(autouse=True)
def goto_engine():
    previous = _kernels.set_product_engine("goto")
    yield
    _kernels.set_product_engine(previous)


def _blocking(path, dtype, M, N, K):
    return _kernels.gemm_blocking(M, N, K, dtype, path)


def edge_shapes(path, dtype):
    """(M, N, K) at and around the engine's edges on this machine."""
    b = _blocking(path, dtype, 64, 64, 64)
    MR, NR, KC = b["MR"], b["NR"], b["KC"]
    shapes = {(1, 1, 1), (MR - 1, NR - 1, 1), (MR, NR, KC), (MR + 1, NR + 1, KC + 1),
              (MR - 1, NR + 1, KC - 1), (3 * MR + 1, 2 * NR - 1, 2 * KC + 1),
              (2 * MR, 3 * NR, 3 * KC - 1), (7, 5, 3 * KC + 2), (MR + 1, 1, 5),
              (1, 3 * NR + 1, 2 * KC)}
    # A few rows of items over all of K and several blocks of both kinds; its
    # MC and NC, then one sliver and one panel more.
    b = _blocking(path, dtype, 40 * MR, 20 * NR, KC + 3)
    shapes.add((40 * MR, 20 * NR, KC + 3))
    shapes.add((b["MC"] * MR + 1, b["NC"] * NR + 1, KC + 3))
    # A phase per K block: a long K for a small C.
    shapes.add((3 * MR + 2, 2 * NR + 3, 9 * KC + 1))
    # One column block of many rows: the items pack their own slivers of A.
    shapes.add((200 * MR + 5, max(NR - 3, 1), KC - 1))
    return sorted(shapes)


def _operands(rng, M, N, K, dtype, a_transposed, b_transposed):
    a = rng.standard_normal((K, M) if a_transposed else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if b_transposed else (K, N)).astype(dtype)
    return (a.T if a_transposed else a), (b.T if b_transposed else b)


def _reference(a, b, before, mode, bias):
    want = a.astype(np.float64) @ b.astype(np.float64)
    return want + (before if mode == "C+=" else 0 if bias is None else bias)


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_every_edge_against_numpy_and_across_threads(path, dtype):
    """Each edge shape in each layout of A and B and each output mode, on one
    and two threads: the same bits on both, and NumPy's values."""
    rng = np.random.default_rng(7)
    layouts = [(False, False, "C="), (True, True, "C+="), (False, True, "C=bias+"),
               (True, False, "C=")]
    seen = {"phased": False, "unphased": False, "rows": False, "cols": False, "k": False,
            "A packed by the items": False}
    shared = _kernels.jobs_shared()
    for k, (M, N, K) in enumerate(edge_shapes(path, dtype)):
        b = _blocking(path, dtype, M, N, K)
        seen["phased" if b["phased"] else "unphased"] = True
        seen["rows"] |= b["row_blocks"] > 1 and M % (b["MC"] * b["MR"]) != 0
        seen["cols"] |= b["col_blocks"] > 1 and N % (b["NC"] * b["NR"]) != 0
        seen["k"] |= b["k_blocks"] > 1 and K % b["kc"] != 0
        seen["A packed by the items"] |= (not b["phased"] and b["col_blocks"] == 1
                                          and b["row_blocks"] > 1 and b["MC"] > 1)
        at, bt, mode = layouts[k % len(layouts)]
        a, bb = _operands(rng, M, N, K, dtype, at, bt)
        start = rng.standard_normal((M, N)).astype(dtype)
        bias = rng.standard_normal(N).astype(dtype) if mode == "C=bias+" else None
        results = []
        for threads in (1, 2):
            out = start.copy()
            with kernel_path(path, threads):
                assert _kernels.matmul(out, a, bb, mode == "C+=", bias=bias) is True
            results.append(out)
        context = f"{path} {np.dtype(dtype).name} {(M, N, K)} {mode} A^T={at} B^T={bt}"
        np.testing.assert_array_equal(results[0], results[1], err_msg=context)
        want = _reference(a, bb, start, mode, bias)
        err = np.max(np.abs(results[0] - want)) / max(np.max(np.abs(want)), 1e-30)
        assert err < TOL[dtype], f"{context}: relative error {err:.2e}"
    assert all(seen.values()), f"edges not reached: {seen}"
    # A worker kept off its core may miss a short call: the largest shape again
    # until one took part, with the same bits.
    for _ in range(200):
        if _kernels.jobs_shared() > shared:
            break
        again = start.copy()
        with kernel_path(path, 2):
            _kernels.matmul(again, a, bb, mode == "C+=", bias=bias)
        np.testing.assert_array_equal(again, results[0], err_msg=context)
    assert _kernels.jobs_shared() > shared, "no call ran on two threads"


@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("phased", [False, True], ids=["items over K", "phase per K block"])
def test_k_blocks_are_summed_in_order(path, dtype, phased):
    """C's K blocks add up first to last: with partial sums 2^p, 1 and -2^p
    (p the mantissa's bits + 1) in blocks 0, 1 and 2, the 1 is lost to
    rounding in that order (the result is 0, not NumPy's 1); any other order
    keeps it."""
    big = 2.0 ** (np.finfo(dtype).nmant + 1)
    kc = _blocking(path, dtype, 64, 64, 64)["KC"]
    K = 3 * kc
    # The cheapest (M, N) that the engine blocks the way asked for: a small C
    # takes a phase per K block, a wide one items over all of K.
    candidates = [(3, 5), (29, 65), (200, 40), (64, 2048), (128, 4096), (300, 1000), (256, 8192)]
    M, N = next((m, n) for m, n in candidates
                if _blocking(path, dtype, m, n, K)["phased"] == phased)
    b = _blocking(path, dtype, M, N, K)
    assert b["k_blocks"] == 3 and b["kc"] == kc, b
    a = np.ones((M, K), dtype)
    bb = np.zeros((K, N), dtype)
    bb[0], bb[kc], bb[2 * kc] = big, 1, -big
    out = np.full((M, N), np.nan, dtype)
    with kernel_path(path):
        _kernels.matmul(out, a, bb)
    # Exactly, the sum is 1; in this order, 0; summing block 2 before block 1 gives 1.
    np.testing.assert_array_equal(out, 0)


def test_blocking_follows_the_caches():
    """KC fills half of L1 with a panel of B, MC half of L2 with A's block."""
    if not SIMD_PATHS:
        pytest.skip("no SIMD path in this build")
    caches = _kernels.cache_sizes()
    for path in SIMD_PATHS:
        for dtype in DTYPES:
            b = _blocking(path, dtype, 5000, 5000, 4000)
            size = np.dtype(dtype).itemsize
            assert b["KC"] * b["NR"] * size <= caches["L1d"] // 2 or b["KC"] == 16
            assert b["kc"] <= b["KC"] and b["k_blocks"] * b["kc"] >= 4000
            assert b["MC"] * b["MR"] * b["kc"] * size <= caches["L2"] // 2 or b["MC"] == 1
            # enough items to share: per product, or per K block's phase
            assert b["row_blocks"] * b["col_blocks"] >= (16 if b["phased"] else 32)


def test_blocking_refuses_the_blas_path():
    with pytest.raises(ValueError, match="SIMD path"):
        _kernels.gemm_blocking(4, 4, 4, np.float32, "blas")


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_the_evaluation_loss_on_both_engines_agrees(path):
    """The fused loss on the Goto engine against the first engine's and the
    float64 reference, at sizes with several item groups and a partial tail."""
    rng = np.random.default_rng(3)
    M, N, K = 47, 1500, 70
    a = 3 * rng.standard_normal((M, K)).astype(np.float32)
    w = 3 * rng.standard_normal((N, K)).astype(np.float32).T  # tied: B^T contiguous
    bias = rng.standard_normal(N).astype(np.float32)
    target = rng.integers(0, N, M)
    got = {}
    for engine in ("goto", "panels"):
        _kernels.set_product_engine(engine)
        with kernel_path(path, 2):
            got[engine] = _kernels.affine_xent(a, w, bias, target)
    s = a.astype(np.float64) @ w.astype(np.float64) + bias
    m = s.max(axis=1, keepdims=True)
    want = np.log(np.exp(s - m).sum(axis=1)) + m[:, 0] - s[np.arange(M), target]
    for engine, loss in got.items():
        assert np.max(np.abs(loss - want)) / np.abs(s).max() < TOL[np.float32], engine
