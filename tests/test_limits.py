"""The machine's limits that the bench divides by: the cache sizes the product
engine blocks for, and the FMA peak's register-only loop on the pool's threads
(its work is counted, never its time)."""
import glob
import os
import time

import numpy as np
import pytest

from gatedrnn import _kernels

SIMD_PATHS = [p for p in _kernels.available_paths() if p != "blas"]
VECTOR_BYTES = {"generic": 16, "avx2": 32, "avx512": 64}


def _sysfs_caches():
    """{level: (bytes, CPUs sharing it)} for cpu0's data caches, read here
    independently of the C code; None without sysfs."""
    found = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        def read(name):
            with open(os.path.join(index, name)) as f:
                return f.read().strip()
        if read("type") == "Instruction":
            continue
        size = read("size")
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1], 1)
        cpus = 0
        for part in read("shared_cpu_list").split(","):
            lo, _, hi = part.partition("-")
            cpus += int(hi or lo) - int(lo) + 1
        found[int(read("level"))] = (int(size.rstrip("KMG")) * scale, cpus)
    return found if {1, 2, 3} <= set(found) else None


def test_cache_sizes_match_sysfs_or_are_plausible():
    c = _kernels.cache_sizes()
    assert set(c) == {"L1d", "L2", "L3", "shared_by", "source"}
    assert c["source"] in _kernels.CACHE_SOURCES
    sysfs = _sysfs_caches()
    if sysfs is not None:
        assert c["source"] == "sysfs"
        assert (c["L1d"], c["L2"], c["L3"]) == tuple(sysfs[k][0] for k in (1, 2, 3))
        assert c["shared_by"] == tuple(sysfs[k][1] for k in (1, 2, 3))
    assert 4 << 10 <= c["L1d"] <= c["L2"] and c["L2"] > 0 and c["L3"] > 0
    assert all(n >= 1 for n in c["shared_by"])


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_fma_peak_counts_its_work_by_vector_width(path):
    iterations = 20000
    counted = {}
    for dtype in (np.float32, np.float64):
        wall, flops, seconds = _kernels.fma_peak(path, dtype, 1, iterations)
        assert len(flops) == len(seconds) == 1
        assert wall > 0 and seconds[0] > 0 and wall >= seconds[0]
        rate = flops[0] / seconds[0]
        assert 1e6 < rate < 1e13, rate  # sane: above a MFLOP/s, below 10 TFLOP/s a core
        lanes = VECTOR_BYTES[path] // np.dtype(dtype).itemsize
        chains, rest = divmod(flops[0], 2 * lanes * iterations)
        assert rest == 0 and chains >= 8, (chains, rest)  # enough to cover the FMA latency
        counted[dtype] = flops[0]
    # The same loop in float64 does half the work of float32's per vector width.
    assert counted[np.float64] * 2 == counted[np.float32]


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_fma_peak_runs_on_the_threads_it_is_given(path):
    iterations = 200000
    deadline = time.monotonic() + 10
    while True:  # a worker kept off its core may miss one run: retry
        wall, flops, seconds = _kernels.fma_peak(path, np.float32, 2, iterations)
        assert len(flops) == len(seconds) == 2
        if all(s > 0 for s in seconds) or time.monotonic() > deadline:
            break
    assert all(s > 0 for s in seconds), "the second thread never took part"
    assert flops[0] == flops[1] > 0  # each thread ran the same loop
    assert wall >= max(seconds) * 0.999


def test_fma_peak_refuses_bad_arguments():
    with pytest.raises(ValueError, match="SIMD path"):
        _kernels.fma_peak("blas")
    with pytest.raises(ValueError, match="unknown kernel path"):
        _kernels.fma_peak("sse9")
    if SIMD_PATHS:
        with pytest.raises(TypeError, match="float32 or float64"):
            _kernels.fma_peak(SIMD_PATHS[0], np.int32)
        with pytest.raises(ValueError, match="at most 64"):
            _kernels.fma_peak(SIMD_PATHS[0], np.float32, 65)
