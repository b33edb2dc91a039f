"""Every kernel path against the spec, and what the paths promise.

The paths (include/gatedrnn.h): "blas" (a BLAS gemm per time step), and the
packed-weight kernels compiled as "generic" (portable C, baseline ISA), "avx2"
and "avx512". A test forces a path with gatedrnn._kernels.set_path(); the
SIMD paths share a time step among threads by sequences ("rows") or by gate
columns ("columns"), forced with set_split(). Paths this CPU cannot run are
skipped, and say so.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import TOL
from gatedrnn import LSTM, TimeLSTM, _kernels, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

AVAILABLE = _kernels.available_paths()


def path_params(paths):
    return [pytest.param(p, marks=pytest.mark.skipif(p not in AVAILABLE,
                                                     reason=f"path {p!r} not available here"))
            for p in paths]


SIMD_PATHS = ["generic", "avx2", "avx512"]

# Odd shapes (N, T, D, H): N = 1, T = 1, D != H, D = 0, H = 1 and H not a
# multiple of any vector width (4, 8, 16), H = 16 exactly, and batches that
# split into several row blocks and slices.
SHAPES = [
    (1, 1, 1, 1),
    (1, 1, 7, 5),
    (1, 6, 3, 4),
    (3, 1, 4, 3),
    (2, 7, 5, 3),
    (5, 3, 17, 33),
    (7, 11, 2, 19),
    (9, 5, 1, 17),
    (3, 4, 0, 5),
    (1, 5, 9, 16),
    (13, 3, 20, 65),
    (2, 3, 40, 3),
]


@pytest.fixture
def restore_kernels():
    yield
    _kernels.set_path(None)
    _kernels.set_split(None)
    _kernels.set_all_threads(False)
    _kernels.set_num_threads(0)


def assert_close_to_spec(p, dtype, context):
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    for name in ref:
        assert ours[name].dtype == ref[name].dtype, name
        err = relative_error(ours[name], ref[name])
        assert err <= TOL[dtype], f"{name} ({context}): relative error {err:.2e}"


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("split", [None, "rows", "columns"])
@pytest.mark.parametrize("path", path_params(SIMD_PATHS))
def test_simd_path_matches_spec(path, split, shape, dtype, restore_kernels):
    _kernels.set_path(path)
    _kernels.set_split(split)
    _kernels.set_num_threads(2)
    p = make_problem(*shape, dtype, seed=sum(shape))
    assert_close_to_spec(p, dtype, f"{path}, split {split}")


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_blas_path_matches_spec(shape, dtype, restore_kernels):
    _kernels.set_path("blas")
    p = make_problem(*shape, dtype, seed=sum(shape))
    assert_close_to_spec(p, dtype, "blas")


@pytest.mark.parametrize("path", path_params(["blas"] + SIMD_PATHS))
def test_every_path_at_the_book_size_and_a_long_sequence(path, dtype, restore_kernels):
    _kernels.set_path(path)
    assert_close_to_spec(make_problem(20, 35, 100, 100, dtype), dtype, path)
    assert_close_to_spec(make_problem(3, 120, 10, 21, dtype, seed=5), dtype, f"{path}, T=120")
    # N*T = 1200 rows: several chunks of the input projection, several K
    # blocks of the weight gradients.
    assert_close_to_spec(make_problem(2, 600, 5, 7, dtype, seed=6), dtype, f"{path}, T=600")


@pytest.mark.parametrize("path", path_params(["blas"] + SIMD_PATHS))
def test_single_step_cell_on_every_path(path, dtype, restore_kernels):
    _kernels.set_path(path)
    N, D, H = 3, 5, 17
    p = make_problem(N, 1, D, H, dtype, seed=3)
    results = []
    for cls in (LSTM, spec.LSTM):
        cell = cls(p["Wx"], p["Wh"], p["b"])
        h, c = cell.forward(p["xs"][:, 0], p["h0"], p["c0"])
        results.append([h, c, *cell.backward(p["dhs"][:, 0], p["dc_T"]), *cell.grads])
    for name, ours, ref in zip(["h", "c", "dx", "dh", "dc", "dWx", "dWh", "db"], *results):
        assert relative_error(ours, ref) <= TOL[dtype], f"{name} on {path}"


@pytest.mark.parametrize("path", path_params(["blas"] + SIMD_PATHS))
def test_inference_equals_training_forward(path, dtype, restore_kernels):
    _kernels.set_path(path)
    p = make_problem(5, 40, 6, 17, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    np.testing.assert_array_equal(layer.forward(p["xs"], train=False), layer.forward(p["xs"]))


@pytest.mark.parametrize("path", path_params(SIMD_PATHS))
def test_results_do_not_depend_on_threads_or_split(path, dtype, restore_kernels):
    """Every output element is computed by one thread in a fixed order. (These
    calls are small: they are offered every thread, or they would run on one.)"""
    _kernels.set_path(path)
    _kernels.set_all_threads(True)
    # A batch of 11 takes the packed products, a batch of 3 the dot products.
    for shape in [(11, 9, 13, 37), (3, 9, 13, 37)]:
        p = make_problem(*shape, dtype, seed=4)
        runs = []
        for threads, split in [(1, None), (2, "rows"), (2, "columns"), (3, "rows"),
                               (3, "columns")]:
            _kernels.set_num_threads(threads)
            _kernels.set_split(split)
            runs.append(run_layer(TimeLSTM, p))
        for run in runs[1:]:
            for name in runs[0]:
                np.testing.assert_array_equal(run[name], runs[0][name], err_msg=f"{name} {shape}")


@pytest.mark.parametrize("path", path_params(["blas"] + SIMD_PATHS))
def test_denormal_gradients_match_spec_and_fp_state_is_restored(path, restore_kernels):
    """Tiny upstream gradients drive dc and dA into the denormal range, the
    case that slows LSTM training on some CPUs. The SIMD kernels flush
    denormals to zero while they run (FTZ/DAZ) and restore the caller's state:
    NumPy still produces denormals afterwards."""
    _kernels.set_path(path)
    p = make_problem(4, 30, 8, 19, np.float32, seed=8)
    p["dhs"] *= np.float32(1e-30)
    p["dc_T"] *= np.float32(1e-30)
    assert_close_to_spec(p, np.float32, f"{path}, denormal range")
    tiny = np.array([1e-38], np.float32) * np.float32(1e-3)
    assert tiny[0] != 0, "the caller's floating-point state was not restored"


def test_inference_keeps_no_cache_and_its_workspace_does_not_grow_with_T(dtype):
    """Inference computes the input projection in chunks of about 1024 rows."""
    N, D, H = 3, 8, 20
    sizes = []
    for T in (350, 1400):
        p = make_problem(N, T, D, H, dtype)
        layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
        layer.forward(p["xs"], train=False)
        assert layer._cache is None
        sizes.append(layer._workspace.nbytes)
    assert sizes[0] == sizes[1]


def test_training_cache_is_five_values_per_step_and_unit_and_reused(dtype):
    N, T, D, H = 4, 7, 5, 9
    p = make_problem(N, T, D, H, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    layer.forward(p["xs"])
    cache = layer._cache
    assert sum(c.size for c in cache.caches) == 5 * N * T * H
    layer.backward(p["dhs"])
    nbytes = layer._workspace.nbytes
    layer.forward(p["xs"])
    assert layer._cache.caches[0] is cache.caches[0]
    layer.backward(p["dhs"])
    assert layer._workspace.nbytes == nbytes


def test_set_path_and_threads(restore_kernels):
    assert _kernels.get_path() == AVAILABLE[-1]
    with pytest.raises(ValueError, match="unknown kernel path 'sse9'"):
        _kernels.set_path("sse9")
    for name in _kernels.PATHS:
        if name not in AVAILABLE:
            with pytest.raises(ValueError, match="not available"):
                _kernels.set_path(name)
    assert _kernels.set_path("blas") is None
    assert _kernels.get_path() == "blas"
    assert _kernels.set_path("auto") == "blas"
    assert _kernels.get_path() == AVAILABLE[-1]
    with pytest.raises(ValueError, match="split must be one of"):
        _kernels.set_split("diagonal")
    _kernels.set_num_threads(3)
    assert _kernels.get_num_threads() == 3
    _kernels.set_num_threads(0)
    assert _kernels.get_num_threads() >= 1


def test_environment_variables_choose_path_and_threads():
    code = ("import gatedrnn._kernels as k; "
            "print(k.get_path(), k.get_num_threads())")
    for path in AVAILABLE:
        env = dict(os.environ, GATEDRNN_KERNEL_PATH=path, GATEDRNN_NUM_THREADS="3")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out == [path, "3"]


@pytest.mark.parametrize("value, says", [("sse9", "unknown kernel path 'sse9'"),
                                         *[(p, "not available here") for p in SIMD_PATHS
                                           if p not in AVAILABLE]])
def test_a_wrong_kernel_path_in_the_environment_fails_the_import(value, says):
    """As the guide says (docs/guide/behaviour.rst): better no import than a silent fallback."""
    env = dict(os.environ, GATEDRNN_KERNEL_PATH=value)
    proc = subprocess.run([sys.executable, "-c", "import gatedrnn"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and says in proc.stderr, proc.stderr
