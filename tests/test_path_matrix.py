"""Every way the engine can compute a call, each against the spec.

A forward with train=True, a forward with train=False (inference, which keeps
no cache and computes the input projection chunk by chunk into scratch) and a
backward, on

- every kernel path this build and CPU offer (blas, generic, avx2, avx512),
- both dtypes,
- one thread, and two threads sharing each step by sequences ("rows") or by
  gate columns with a barrier per step ("columns"),
- sizes that need several inference chunks (about 1024 rows each) and several
  K blocks of the weight gradients (512 rows each), with T long and short, and
  sizes that take the dot-product forms of the backward (few rows).

Small calls normally run on one thread (waking a second costs more than it
saves); the tests offer them every thread (_kernels.set_all_threads), which
runs the same threaded code, and check that a worker thread really took part.
"""
import functools
import time

import numpy as np
import pytest

from conftest import TOL
from gatedrnn import TimeLSTM, _kernels, spec
from gatedrnn.demo import make_problem
from gatedrnn.gradcheck import relative_error

AVAILABLE = _kernels.available_paths()
SIMD_PATHS = [p for p in AVAILABLE if p != "blas"]

# (N, T, D, H) and what each one exercises.
SHAPES = {
    (3, 700, 5, 9): "several inference chunks and K blocks, T long",
    (60, 40, 7, 21): "several inference chunks and K blocks, T short, many row blocks",
    (1, 1500, 4, 3): "one sequence through several chunks",
    (13, 6, 20, 65): "several row blocks and column panels",
    (7, 9, 16, 37): "an odd batch over two slices, partial vectors",
    (2, 30, 3, 5): "the dot-product backward (N <= 4, N*T <= 64)",
}
THREADING = {"1 thread": (1, None), "2 threads, rows": (2, "rows"),
             "2 threads, columns": (2, "columns")}


@functools.lru_cache(maxsize=None)
def problem_and_reference(shape, dtype):
    """The problem and the spec's results: hs, h_T, c_T, then the backward's."""
    p = make_problem(*shape, dtype, seed=sum(shape))
    layer = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    layer.set_state(p["h0"], p["c0"])
    ref = dict(hs=layer.forward(p["xs"]), h_T=layer.h.copy(), c_T=layer.c.copy())
    ref["dxs"] = layer.backward(p["dhs"], dc_next=p["dc_T"])
    ref.update(dh0=layer.dh, dc0=layer.dc, dWx=layer.grads[0], dWh=layer.grads[1],
               db=layer.grads[2])
    return p, ref


def run_all_three(p):
    """Inference, then training forward and backward, from (h0, c0)."""
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    layer.set_state(p["h0"], p["c0"])
    out = dict(inference_hs=layer.forward(p["xs"], train=False), inference_h_T=layer.h,
               inference_c_T=layer.c)
    layer.set_state(p["h0"], p["c0"])
    out.update(hs=layer.forward(p["xs"]), h_T=layer.h, c_T=layer.c)
    out["dxs"] = layer.backward(p["dhs"], dc_next=p["dc_T"])
    out.update(dh0=layer.dh, dc0=layer.dc, dWx=layer.grads[0].copy(),
               dWh=layer.grads[1].copy(), db=layer.grads[2].copy())
    return out


def assert_matches_reference(out, ref, dtype, context):
    for name, value in out.items():
        expected = ref[name.removeprefix("inference_")]
        assert value.dtype == expected.dtype, f"{name} ({context})"
        err = relative_error(value, expected)
        assert err <= TOL[dtype], f"{name} ({context}): relative error {err:.2e}"


@pytest.fixture
def kernels_restored():
    yield
    _kernels.set_path(None)
    _kernels.set_split(None)
    _kernels.set_all_threads(False)
    _kernels.set_num_threads(0)


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s} {why}" for s, why in SHAPES.items()])
def test_blas_path(shape, dtype, kernels_restored):
    if "blas" not in AVAILABLE:
        pytest.fail("the BLAS path is always built")
    _kernels.set_path("blas")
    p, ref = problem_and_reference(shape, dtype)
    assert_matches_reference(run_all_three(p), ref, dtype, "blas")


@pytest.mark.parametrize("threading", THREADING)
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s} {why}" for s, why in SHAPES.items()])
@pytest.mark.parametrize("path", SIMD_PATHS)
def test_simd_path(path, shape, threading, dtype, kernels_restored):
    threads, split = THREADING[threading]
    _kernels.set_path(path)
    _kernels.set_split(split)
    _kernels.set_num_threads(threads)
    _kernels.set_all_threads(True)
    p, ref = problem_and_reference(shape, dtype)
    context = f"{path}, {threading}"
    before = _kernels.jobs_shared()
    out = run_all_three(p)
    assert_matches_reference(out, ref, dtype, context)
    if threads == 1:
        assert _kernels.jobs_shared() == before, "one thread, yet a worker took part"
        return
    # A worker that is asleep, or kept off the other core by another process,
    # may miss a short call (the caller then does all of it, the same way):
    # repeat until one took part. The results must not change.
    deadline = time.monotonic() + 10
    while _kernels.jobs_shared() == before and time.monotonic() < deadline:
        again = run_all_three(p)
        for name in out:
            np.testing.assert_array_equal(again[name], out[name], err_msg=f"{name} ({context})")
    assert _kernels.jobs_shared() > before, f"no call ran on two threads in 10 s ({context})"


def test_one_thread_when_small_unless_offered_all(kernels_restored):
    """The size rule itself: a small call stays on the caller's thread."""
    if not SIMD_PATHS:
        pytest.skip("no SIMD path in this build")
    _kernels.set_path(SIMD_PATHS[-1])
    _kernels.set_num_threads(2)
    p, _ = problem_and_reference((2, 30, 3, 5), np.float32)
    before = _kernels.jobs_shared()
    for _ in range(5):
        run_all_three(p)
    assert _kernels.jobs_shared() == before
