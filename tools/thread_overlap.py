"""Measure how far two Python threads running separate layers overlap in time.

With BLAS limited to one thread, a forward+backward workload is timed once
alone and once in each of two threads at the same time (twice the work). If
the kernels release the GIL and the machine has two free cores, the two
threads take about as long as one run alone (ratio ~1.0); if they held the
GIL, twice as long (~2.0). A pure-Python loop is measured the same way as a
control: it holds the GIL, so its ratio is ~2.0.

    python tools/thread_overlap.py [--repeat 5]

The measurement takes /tmp/gatedrnn-bench.lock (flock) so that it does not
share the machine's cores with other benchmarks, and reports medians of
--repeat measurements. Tests never assert on time: tests/test_threads.py
checks that the GIL is released without a clock.
"""
import argparse
import fcntl
import os
import statistics
import threading
import time

from threadpoolctl import threadpool_info, threadpool_limits

import numpy as np

from gatedrnn import TimeLSTM
from gatedrnn.demo import make_problem

LOCK = "/tmp/gatedrnn-bench.lock"


def layer_workload(shape, dtype, calls):
    p = make_problem(*shape, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])

    def run():
        for _ in range(calls):
            layer.forward(p["xs"])
            layer.backward(p["dhs"])
    return run


def python_workload(steps):
    def run():
        total = 0
        for k in range(steps):
            total += k
    return run


def wall(fns):
    """(wall time, process CPU time) of running each fn in its own thread, all
    started together."""
    barrier = threading.Barrier(len(fns) + 1)

    def body(fn):
        barrier.wait()
        fn()

    threads = [threading.Thread(target=body, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    return time.perf_counter() - start, time.process_time() - cpu


def measure(make, repeat):
    """Best and median wall times of one thread and of two threads (each its own
    workload), and the CPU/wall ratio of the best two-thread run: about 2 when
    both threads computed at the same time, at most about 1 when they took turns."""
    one, two = [], []
    a, b = make(), make()
    a()  # warm up
    for _ in range(repeat):
        one.append(wall([a]))
        two.append(wall([a, b]))
    best_two = min(two)
    return (min(w for w, _ in one), statistics.median(w for w, _ in one),
            best_two[0], statistics.median(w for w, _ in two), best_two[1] / best_two[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    workloads = [
        ("TimeLSTM (20,35,100,100) f32, 40 fwd+bwd",
         lambda: layer_workload((20, 35, 100, 100), np.float32, 40)),
        ("TimeLSTM (20,35,100,100) f64, 20 fwd+bwd",
         lambda: layer_workload((20, 35, 100, 100), np.float64, 20)),
        ("TimeLSTM (64,35,256,256) f32, 4 fwd+bwd",
         lambda: layer_workload((64, 35, 256, 256), np.float32, 4)),
        ("control: pure-Python loop (holds the GIL)", lambda: python_workload(3_000_000)),
    ]
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with threadpool_limits(limits=1, user_api="blas"):
            blas = [f"{i['internal_api']} {i['version']} ({i['num_threads']} thread)"
                    for i in threadpool_info() if i["user_api"] == "blas"]
            print(f"BLAS limited to one thread: {', '.join(blas)}; "
                  f"{len(os.sched_getaffinity(0))} CPUs; load average before: "
                  f"{os.getloadavg()[0]:.2f}")
            print(f"{'workload':44s} {'1 thread':>17s} {'2 threads':>17s} {'ratio':>11s} "
                  f"{'cpu/wall':>8s}")
            print(f"{'':44s} {'best   median':>17s} {'best   median':>17s} "
                  f"{'best median':>11s}")
            for name, make in workloads:
                one, one_med, two, two_med, parallel = measure(make, args.repeat)
                print(f"{name:44s} {one * 1e3:7.1f} {one_med * 1e3:7.1f}ms "
                      f"{two * 1e3:7.1f} {two_med * 1e3:7.1f}ms "
                      f"{two / one:5.2f} {two_med / one_med:5.2f} {parallel:8.2f}")
            print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("ratio = 2 threads (twice the work) / 1 thread: ~1.0 overlap, ~2.0 serialised;\n"
          "cpu/wall of the 2-thread run: ~2 both threads computing at once, <= ~1 taking turns.\n"
          "Wall times need two idle cores: other load on the machine pushes the ratio up.")


if __name__ == "__main__":
    main()
