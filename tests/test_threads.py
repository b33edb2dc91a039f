"""Threads and determinism.

- Separate layers used from several Python threads at once give results
  bit-identical to serial runs.
- The kernels release the GIL: another Python thread runs while a forward or
  backward computes (shown without timing: see other_thread_ran_during).
  tools/thread_overlap.py measures the resulting overlap.
- The same inputs give bit-identical outputs and gradients from run to run,
  in one process and across processes.

One layer is not to be shared between threads (it holds state and the
forward's cache); see docs/guide/behaviour.rst.
"""
import hashlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gatedrnn import problems as family
import gatedrnn
from conftest import run_isolated
from gatedrnn import LSTM, TimeLSTM
from gatedrnn.demo import make_problem, run_layer

PROBLEMS = [((20, 35, 100, 100), np.float32), ((20, 35, 100, 100), np.float64),
            ((3, 50, 7, 33), np.float32), ((8, 12, 64, 16), np.float64),
            ((1, 200, 5, 5), np.float32), ((64, 8, 32, 128), np.float32)]


def run_cell(p):
    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    h, c = cell.forward(p["xs"][:, 0], p["h0"], p["c0"])
    dx, dh, dc = cell.backward(p["dhs"][:, 0], p["dc_T"])
    return dict(h=h, c=c, dx=dx, dh=dh, dc=dc, dWx=cell.grads[0].copy(),
                dWh=cell.grads[1].copy(), db=cell.grads[2].copy())


def all_results(p):
    """Two forward/backward sessions of a stateful TimeLSTM, the cell, and a
    forward/backward of every other layer of the family at the same sizes."""
    out = {f"time {k}": v for k, v in run_layer(TimeLSTM, p).items()}
    (N, T, D), H = p["xs"].shape, p["Wh"].shape[0]
    for kind in ("gru", "gru_reset_after", "rnn", "rnn_relu", "bilstm"):
        q = family.make_problem(kind, N, T, D, H, p["xs"].dtype, seed=N + T + D + H)
        out.update({f"{kind} {k}": v for k, v in family.run(kind, gatedrnn, q).items()})
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    for step in range(2):
        out[f"session hs {step}"] = layer.forward(p["xs"])
        out[f"session dxs {step}"] = layer.backward(p["dhs"])
        out[f"session dWh {step}"] = layer.grads[1].copy()
    out.update({f"cell {k}": v for k, v in run_cell(p).items()})
    return out


def assert_identical(a, b, context):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=f"{name} ({context})")


@pytest.mark.parametrize("blas_threads, workers, rounds", [(1, 4, 3), (2, 2, 1)],
                         ids=["blas1", "blas2"])
def test_concurrent_layers_equal_serial_runs(blas_threads, workers, rounds):
    """(With OpenBLAS threads as well as Python threads on few cores, OpenBLAS's
    waiting threads make this slow: one round only.)"""
    problems = [make_problem(*shape, dtype, seed=k) for k, (shape, dtype) in enumerate(PROBLEMS)]
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        serial = [all_results(p) for p in problems]
        for round_ in range(rounds):
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # Every problem twice, so that equal layers also run side by side.
                concurrent = list(pool.map(all_results, problems + problems))
            for k, (ref, got) in enumerate(zip(serial + serial, concurrent)):
                assert_identical(ref, got, f"problem {k % len(problems)}, round {round_}")


def other_thread_ran_during(call, work=300_000):
    """How many steps of a pure-Python loop another thread made while call() ran.

    The switch interval is raised to 1000 s, so the interpreter never takes the
    GIL from a thread that holds it: the other thread, parked waiting for the
    GIL, can only run if call() releases it. If call() does, the other thread
    runs all `work` steps before call() can take the GIL back; if not, none.
    No timing is involved, except a head start of 20 ms for the other thread
    to park (a slow machine only delays it; it cannot make the result wrong).
    """
    go = threading.Event()
    steps = [0]

    def spin():
        go.wait()
        for _ in range(work):
            steps[0] += 1

    other = threading.Thread(target=spin)
    other.start()
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        go.set()
        deadline = time.perf_counter() + 0.02
        while time.perf_counter() < deadline:  # pure Python: keeps the GIL
            pass
        call()
        seen = steps[0]
    finally:
        sys.setswitchinterval(saved)
        other.join()
    return seen


def test_kernels_release_the_gil():
    p = make_problem(2, 3000, 16, 32, np.float64)  # N*H small: no large numpy copies
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    layer.forward(p["xs"])
    layer.backward(p["dhs"])  # warm up

    def python_loop():  # holds the GIL throughout, as a kernel without nogil would
        total = 0
        for k in range(200_000):
            total += k

    assert other_thread_ran_during(python_loop) == 0, "the check cannot tell"
    assert other_thread_ran_during(lambda: layer.forward(p["xs"])) == 300_000, "forward"
    assert other_thread_ran_during(lambda: layer.backward(p["dhs"])) == 300_000, "backward"


def digest(results):
    h = hashlib.sha256()
    for name in sorted(results):
        a = np.ascontiguousarray(results[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def all_digests():
    return {f"{shape} {np.dtype(dtype).name}": digest(all_results(make_problem(*shape, dtype,
                                                                                seed=k)))
            for k, (shape, dtype) in enumerate(PROBLEMS)}


def print_digests(blas_threads):
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for key, value in all_digests().items():
            print(key, value)


@pytest.mark.parametrize("blas_threads", [1, 2], ids=["blas1", "blas2"])
def test_runs_are_bit_identical(blas_threads):
    """The same inputs and thread count: the same bits, within one process and
    in two fresh processes."""
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        first = [all_results(make_problem(*s, dt, seed=k)) for k, (s, dt) in enumerate(PROBLEMS)]
        second = [all_results(make_problem(*s, dt, seed=k)) for k, (s, dt) in enumerate(PROBLEMS)]
        for k, (a, b) in enumerate(zip(first, second)):
            assert_identical(a, b, f"problem {k}, run to run")
        here = all_digests()
    lines = [run_isolated("test_threads", "print_digests", blas_threads) for _ in range(2)]
    assert lines[0] == lines[1], "two processes differ"
    assert dict(line.rsplit(" ", 1) for line in lines[0].splitlines()) == here
