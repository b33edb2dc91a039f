"""Every way the engine can compute a call, each against the spec.

A forward with train=True, a forward with train=False (inference, which keeps
no cache and computes the input projection chunk by chunk into scratch) and a
backward, of every cell (the LSTM, both GRUs, the plain RNN, the
bidirectional LSTM), on

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

from gatedrnn import problems as family
import gatedrnn
from conftest import TOL
from gatedrnn import _kernels, spec
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
def problem_and_reference(kind, shape, dtype):
    """The problem and the spec's results (the forward's, then the backward's)."""
    p = family.make_problem(kind, *shape, dtype, seed=sum(shape))
    return p, family.run(kind, spec, p)


def run_all_three(kind, p):
    """Inference, then training forward and backward, from p's initial state."""
    layer = family.time_layer(kind, gatedrnn, p["weights"], stateful=True)
    family.set_state(kind, layer, p)
    out = dict(inference_hs=layer.forward(p["xs"], train=False, **family.lengths_argument(p)))
    for d, h in enumerate(family.state(kind, layer, "h")):
        out[f"inference_h_T{d}"] = h
    if kind in family.HAS_C:
        for d, c in enumerate(family.state(kind, layer, "c")):
            out[f"inference_c_T{d}"] = c
    out.update(family.run(kind, gatedrnn, p))
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


SHAPE_IDS = [f"{s} {why}" for s, why in SHAPES.items()]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("kind", family.KINDS)
def test_blas_path(kind, shape, dtype, kernels_restored):
    if "blas" not in AVAILABLE:
        pytest.fail("the BLAS path is always built")
    _kernels.set_path("blas")
    p, ref = problem_and_reference(kind, shape, dtype)
    assert_matches_reference(run_all_three(kind, p), ref, dtype, f"{kind}, blas")


@pytest.mark.parametrize("threading", THREADING)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("kind", family.KINDS)
def test_simd_path(kind, path, shape, threading, dtype, kernels_restored):
    threads, split = THREADING[threading]
    _kernels.set_path(path)
    _kernels.set_split(split)
    _kernels.set_num_threads(threads)
    _kernels.set_all_threads(True)
    p, ref = problem_and_reference(kind, shape, dtype)
    context = f"{kind}, {path}, {threading}"
    before = _kernels.jobs_shared()
    out = run_all_three(kind, p)
    assert_matches_reference(out, ref, dtype, context)
    if threads == 1:
        assert _kernels.jobs_shared() == before, "one thread, yet a worker took part"
        return
    # A worker that is asleep, or kept off the other core by another process,
    # may miss a short call (the caller then does all of it, the same way):
    # repeat until one took part. The results must not change.
    deadline = time.monotonic() + 10
    while _kernels.jobs_shared() == before and time.monotonic() < deadline:
        again = run_all_three(kind, p)
        for name in out:
            np.testing.assert_array_equal(again[name], out[name], err_msg=f"{name} ({context})")
    assert _kernels.jobs_shared() > before, f"no call ran on two threads in 10 s ({context})"


def test_one_thread_when_small_unless_offered_all(kernels_restored):
    """The size rule itself: a small call stays on the caller's thread."""
    if not SIMD_PATHS:
        pytest.skip("no SIMD path in this build")
    _kernels.set_path(SIMD_PATHS[-1])
    _kernels.set_num_threads(2)
    p, _ = problem_and_reference("lstm", (2, 30, 3, 5), np.float32)
    before = _kernels.jobs_shared()
    for _ in range(5):
        run_all_three("lstm", p)
    assert _kernels.jobs_shared() == before
