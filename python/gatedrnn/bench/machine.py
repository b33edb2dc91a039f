"""The machine the bench runs on: its CPU, its BLAS libraries and their
threads, and the rates that the bench's columns are fractions of."""
import os
import platform
from typing import Any

import numpy as np

from .timing import compare


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
    import threading
    import time
    l3 = l3_bytes() or (64 << 20)
    nbytes = min(max(4 * l3, 256 << 20), most)
    a = np.ones(nbytes // 8, np.int64)
    parts = np.array_split(a, max(threads, 1))
    best = float("inf")
    for _ in range(passes):
        workers = [threading.Thread(target=np.sum, args=(p,)) for p in parts]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - start)
    del a, parts
    return nbytes / best, nbytes
