"""Wall-clock medians for the demo and the benchmarks."""
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def median_seconds(fn: Callable[[], object], repeat: int = 5, warmup: int = 1,
                   min_total: float = 0.0) -> float:
    """Median wall time of fn() over `repeat` runs after `warmup` runs.

    With min_total > 0, repeats continue until that many seconds were spent,
    so that tiny calls are measured over many runs.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat or spent < min_total:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return statistics.median(times)


@dataclass
class Speedup:
    """slow/fast over several rounds: the median times, the median ratio and the
    lowest and highest round's ratio (how noisy the machine was)."""
    fast_seconds: float
    slow_seconds: float
    ratio: float
    low: float
    high: float


def speedup_in_rounds(fast: Callable[[], object], slow: Callable[[], object], rounds: int = 5,
                      fast_repeat: int = 5, slow_repeat: int = 3, pause: float = 0.2) -> "Speedup":
    """Time fast() and slow() in `rounds` rounds, each a block of fast calls and
    then a block of slow ones, with a pause before each block.

    One round alone can be off by a factor of ten on a busy machine; the median
    of several, with the spread beside it, is a figure one can quote. The pause
    matters because NumPy's OpenBLAS threads spin for ~0.1 s after a call and
    would slow whatever runs next.
    """
    slow()  # first-call costs (allocation, page faults) belong to no round
    fast_times: list[float] = []
    slow_times: list[float] = []
    for _ in range(rounds):
        time.sleep(pause)
        fast_times.append(median_seconds(fast, repeat=fast_repeat, warmup=1))
        time.sleep(pause)
        slow_times.append(median_seconds(slow, repeat=slow_repeat, warmup=0))
    ratios = [s / f for s, f in zip(slow_times, fast_times)]
    return Speedup(statistics.median(fast_times), statistics.median(slow_times),
                   statistics.median(ratios), min(ratios), max(ratios))
