"""Wall-clock medians for the demo and the benchmarks."""
import statistics
import time


def median_seconds(fn, repeat=5, warmup=1, min_total=0.0):
    """Median wall time of fn() over `repeat` runs after `warmup` runs.

    With min_total > 0, repeats continue until that many seconds were spent,
    so that tiny calls are measured over many runs.
    """
    for _ in range(warmup):
        fn()
    times = []
    spent = 0.0
    while len(times) < repeat or spent < min_total:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return statistics.median(times)
