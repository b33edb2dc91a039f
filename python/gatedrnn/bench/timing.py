"""The bench's clocks and table helpers: every contender is timed in blocks
of back-to-back calls, with a pause before each block (see compare())."""
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

# (N, T, D, H)
Size = tuple[int, ...]
# One timed row of a table: sizes and medians by name.
Row = dict[str, Any]
# The torch module, when installed (untyped here).
TorchModule = Any


def time_calls(fn: Callable[[], object], calls: int) -> list[float]:
    """Wall time of each of `calls` calls of fn()."""
    times: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def compare(contenders: Mapping[str, Callable[[], object]], budget: float,
            pause: float = 0.03, min_calls: int = 5) -> dict[str, float]:
    """Median seconds per call of each contender (a dict name -> fn).

    Contenders take turns in blocks of back-to-back calls (about 100 ms, at
    least 3 calls) until each has had about `budget` seconds and `min_calls`
    calls (after a warm-up call and two that size the blocks).
    Before each block the process sleeps `pause` seconds: thread pools that
    spin after their work (libgomp's in torch, OpenBLAS's in NumPy, ours)
    then have gone idle, so that each contender is timed as it runs on its
    own, not slowed by the previous one's spinning threads.
    """
    estimate: dict[str, float] = {}
    for name, fn in contenders.items():
        fn()  # warm-up: allocations, page faults, thread start
        estimate[name] = max(statistics.median(time_calls(fn, 2)), 1e-7)
    block = {name: max(3, int(0.1 / t)) for name, t in estimate.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    spent = {name: 0.0 for name in contenders}
    while any(spent[n] < budget or len(samples[n]) < min_calls for n in contenders):
        for name, fn in contenders.items():
            if spent[name] >= budget and len(samples[name]) >= min_calls:
                continue
            time.sleep(pause)
            times = time_calls(fn, block[name])
            samples[name] += times
            spent[name] += sum(times)
    return {name: statistics.median(s) for name, s in samples.items()}


def import_torch() -> TorchModule | None:
    try:
        import torch
    except ImportError:
        return None
    return torch


def fmt_ms(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:.3f}" if t < 0.01 else f"{t * 1e3:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"
