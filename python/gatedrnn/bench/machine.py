"""The machine the bench runs on: its CPU, its caches, its BLAS libraries and
their threads, and the rates that the bench's columns are fractions of: the
FMA peak of each kernel path (a register-only loop on the pool's threads),
and SciPy's sgemm as a reference."""
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import _kernels
from .timing import TorchModule, compare


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def blas_threads(n: int) -> tuple[Any, list[str]]:
    """Limit NumPy's and SciPy's BLAS to n threads (threadpoolctl, if installed);
    returns (a context to keep alive, a description of the BLAS libraries)."""
    try:
        import threadpoolctl
    except ImportError:
        return None, ["BLAS threads not set (threadpoolctl is not installed)"]
    import scipy.linalg  # noqa: F401  (load SciPy's BLAS before limiting it)
    limits = threadpoolctl.threadpool_limits(limits=n, user_api="blas")
    described: list[str] = []
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            path = lib["filepath"]
            owner = next((name for name in ("numpy", "scipy", "torch")
                          if f"{os.sep}{name}.libs{os.sep}" in path or f"{os.sep}{name}{os.sep}" in path),
                         os.path.basename(path))
            described.append(f"{lib['internal_api']} {lib.get('version')} ({owner}), "
                             f"{lib.get('architecture', '?')} kernels, "
                             f"{lib['num_threads']} threads")
    return limits, described


def sgemm_peak(budget: float, n: int = 2048) -> float:
    """GFLOP/s of SciPy's sgemm at n^3 (the BLAS our BLAS path calls)."""
    from scipy.linalg import blas
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    t = compare({"sgemm": lambda: blas.sgemm(1.0, a, b)}, budget)["sgemm"]
    return 2.0 * n ** 3 / t / 1e9


def torch_mm_peak(torch: TorchModule, budget: float, n: int = 2048) -> float:
    """GFLOP/s of torch.mm at n^3 in float32 (MKL on x86): what the best
    vendor product reaches here, beside the register-only FMA peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    t = compare({"mm": lambda: torch.mm(a, b, out=out)}, budget)["mm"]
    return 2.0 * n ** 3 / t / 1e9


@dataclass(frozen=True)
class Peak:
    """The FMA peak of one kernel path and dtype on `threads` threads at once,
    in GFLOP/s: in total, and per core (the mean of the threads' own rates)."""
    path: str
    dtype: str
    threads: int
    total: float
    per_core: float


def fma_peak(path: str, dtype: DTypeLike, threads: int, seconds: float = 0.1,
             repeats: int = 5) -> Peak:
    """The best of `repeats` runs of the path's register-only multiply-add loop
    (_kernels.fma_peak), each about `seconds` long, with a pause before each:
    a limit is the fastest the machine was seen to go."""
    wall, flops, spent = _kernels.fma_peak(path, dtype, 1, 100000)
    rate = flops[0] / max(spent[0], 1e-9)  # flops per second on one thread
    iterations = max(1000, int(seconds * rate / flops[0] * 100000))
    best: Peak | None = None
    for _ in range(repeats):
        time.sleep(0.03)
        wall, flops, spent = _kernels.fma_peak(path, dtype, threads, iterations)
        rates = [f / s for f, s in zip(flops, spent) if s > 0]
        peak = Peak(path, np.dtype(dtype).name, threads, sum(flops) / wall / 1e9,
                    sum(rates) / len(rates) / 1e9)
        if best is None or peak.total > best.total:
            best = peak
    assert best is not None
    return best


def fma_peaks(threads: int, seconds: float = 0.1) -> list[Peak]:
    """The FMA peak of every SIMD path this build and CPU offer, float32 and float64."""
    return [fma_peak(path, dtype, threads, seconds) for path in _kernels.available_paths()
            if path != "blas" for dtype in (np.float32, np.float64)]


def _size(nbytes: int) -> str:
    return f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"


def describe_caches() -> str:
    """The caches the product engine blocks for, as it reads them."""
    c = _kernels.cache_sizes()
    shared = c["shared_by"]
    parts = [f"{name} {_size(c[name])}" + (f" (shared by {n} CPUs)" if n > 1 else "")
             for name, n in zip(("L1d", "L2", "L3"), shared)]
    return f"{', '.join(parts)}; from {c['source']}"


def l3_bytes() -> int | None:
    """The largest L3 cache this CPU reports (sysfs), in bytes, or None."""
    import glob
    sizes = []
    for folder in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(os.path.join(folder, "level")) as f:
                if f.read().strip() != "3":
                    continue
            with open(os.path.join(folder, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
        sizes.append(int(text.rstrip("KkMmGg")) * scale)
    return max(sizes) if sizes else None


def read_bandwidth(threads: int, passes: int = 3, most: int = 2 << 30) -> tuple[float, int]:
    """(bytes per second, array bytes): the best of `passes` NumPy sums over an
    array 4 times the L3 (at least 256 MB, at most `most`), split among
    `threads` Python threads (NumPy's sum releases the GIL), as int64 so that
    the sum costs less than the read. Memory, not a cache, answers."""
    l3 = l3_bytes() or (64 << 20)
    nbytes = min(max(4 * l3, 256 << 20), most)
    return sum_bandwidth(nbytes, threads, passes), nbytes


def l3_read_bandwidth(threads: int, passes: int = 5) -> float:
    """Bytes per second read from L3: the sums of read_bandwidth over an array
    of 8 times the cores' L2 (at most half the L3), so that it stays in L3."""
    c = _kernels.cache_sizes()
    nbytes = min(8 * c["L2"] * max(threads, 1), c["L3"] // 2)
    return sum_bandwidth(nbytes, threads, passes, repeats=4)


def sum_bandwidth(nbytes: int, threads: int, passes: int, repeats: int = 1) -> float:
    """Bytes per second of the best of `passes` rounds of `repeats` int64 sums
    over an array of nbytes, split among `threads` Python threads."""
    import threading
    import time
    a = np.ones(nbytes // 8, np.int64)
    parts = np.array_split(a, max(threads, 1))

    def read(part: np.ndarray[Any, Any]) -> None:
        for _ in range(repeats):
            np.sum(part)

    read(a)  # warm: the pages, and the cache when the array fits it
    best = float("inf")
    for _ in range(passes):
        workers = [threading.Thread(target=read, args=(p,)) for p in parts]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - start)
    del a, parts
    return repeats * nbytes / best
