"""TimeLSTM in `python -m gatedrnn bench`: against the NumPy spec, PyTorch's CPU
nn.LSTM holding the same weights (when torch is importable) and its own products
alone; the T and N scaling with the memory kept; the cost of running right after
other libraries' thread pools; the recurrence's large products on both product
engines; the LSTM's targets.

FLOP counts: a forward is 2*N*T*(D+H)*4H (the two products; the gates are not
counted), a forward+backward three times that.
"""
import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import TimeLSTM, _kernels, spec
from ..demo import Problem, make_problem
from ..interop import to_torch
from .timing import Row, Size, TorchModule, compare, fmt_ms, fmt_ratio, ratio, time_calls


SIZES = [  # (N, T, D, H)
    (20, 35, 100, 100),   # the book's Rnnlm
    (20, 35, 650, 650),   # the book's BetterRnnlm
    (64, 35, 256, 256),
    (1, 35, 650, 650),    # one sequence, as in generation
    (1, 1, 100, 100),     # the cost of a single small call
]
FLOAT64_SIZES = SIZES[:2]
SMALL = (1, 1, 100, 100)
# --quick: the book's two sizes and the small call; float64 and the spec at the
# small one only; one torch instance a size, not the fastest of three; the
# products alone, most scaling points and the interference at 650 left out.
QUICK_SIZES = [SIZES[0], SIZES[1], SMALL]
QUICK_FLOAT64_SIZES = SIZES[:1]
QUICK_SPEC_FLOPS = 1e9          # the spec only below this many forward FLOPs
# The targets we hold ourselves to: forward+backward, float32, ours / torch.
TARGETS = {(20, 35, 100, 100): 0.8, (20, 35, 650, 650): 0.85, (64, 35, 256, 256): 1.0,
           (1, 35, 650, 650): 0.5}
SMALL_CALL_TARGET_US = 12.0
AFTER_MATMUL_TARGET = 1.2  # ours right after a NumPy matmul / ours alone
FLOAT64_TARGET = 3.0


def forward_flops(N: int, T: int, D: int, H: int) -> float:
    return 2.0 * N * T * (D + H) * 4 * H


class Ours:
    """TimeLSTM: forward (training and inference), forward+backward, and the
    same matrix products alone (GEMM-only: the kernels' products in the same
    order and shapes, no gates, no state)."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
        N, T, D = p["xs"].shape
        H = p["Wh"].shape[0]
        dtype = p["xs"].dtype
        self.zeros = np.zeros((N, H), dtype)
        self.grads = [np.empty_like(w) for w in (p["Wx"], p["Wh"], p["b"])]
        self.workspace = _kernels.Workspace()

    def forward(self) -> None:
        self.layer.forward(self.p["xs"], train=False)

    def forward_train(self) -> None:
        self.layer.forward(self.p["xs"])

    def forward_backward(self) -> None:
        self.layer.forward(self.p["xs"])
        self.layer.backward(self.p["dhs"])

    def gemm_only(self, backward: bool = True) -> None:
        p, z, flags, lstm = self.p, self.zeros, _kernels.GEMM_ONLY, _kernels.CELLS["lstm"]
        [(_, _, cache, _)] = _kernels.forward(lstm, [(p["xs"], p["Wx"], p["Wh"], p["b"], z, z)],
                                           True, self.workspace, flags)
        if backward:
            _kernels.backward(lstm, [(p["dhs"], z, z, cache, p["xs"], p["Wx"], p["Wh"], z, z,
                                      *self.grads)], self.workspace, flags)


class Spec:
    def __init__(self, p: Problem) -> None:
        self.p = p
        self.layer = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"])

    def forward(self) -> None:
        self.layer.forward(self.p["xs"])

    def forward_backward(self) -> None:
        self.layer.forward(self.p["xs"])
        self.layer.backward(self.p["dhs"])


class Torch:
    """torch.nn.LSTM(batch_first=True) on CPU with our weights (gatedrnn.interop
    converts them: gate order i, f, g, o; weight_ih is (4H, D)), checked
    against ours once; or, given `module`, another torch layer."""

    def __init__(self, torch: TorchModule, p: Problem, module: Any = None) -> None:
        self.torch = torch
        self.module = module or to_torch(TimeLSTM(p["Wx"], p["Wh"], p["b"]))
        self.x = torch.from_numpy(p["xs"].copy())
        self.x_grad = self.x.clone().requires_grad_(True)
        self.dhs = torch.from_numpy(p["dhs"].copy())

    def hs(self) -> Any:
        with self.torch.no_grad():
            return self.module(self.x)[0].numpy()

    def forward_no_grad(self) -> None:
        with self.torch.no_grad():
            self.module(self.x)

    def forward(self) -> None:
        self.module(self.x_grad)

    def forward_backward(self) -> None:
        self.module.zero_grad(set_to_none=True)
        self.x_grad.grad = None
        hs, _ = self.module(self.x_grad)
        hs.backward(self.dhs)


def fastest_torch(torch: TorchModule, p: Problem, candidates: int = 3) -> Torch | None:
    """The fastest of a few torch LSTMs built alike. In one process the same
    nn.LSTM, built anew, runs forward+backward at (20,35,650,650) in either
    about 37 or about 55 ms here, stable for an instance (we did not find
    why). Keeping the fastest makes our ratios conservative."""
    best: Torch | None = None
    best_time = float("inf")
    for _ in range(candidates):
        tw = Torch(torch, p)
        tw.forward_backward()
        t = statistics.median(time_calls(tw.forward_backward, 3))
        if best is None or t < best_time:
            best, best_time = tw, t
    return best


def run_size(size: Size, dtype: DTypeLike, torch: TorchModule | None, budget: float,
             with_gemm_only: bool, torch_candidates: int = 3) -> Row:
    """Ours against torch (when given) at one size: forward+backward, forward;
    torch's fastest of `torch_candidates` instances."""
    N, T, D, H = size
    p = make_problem(N, T, D, H, dtype)
    ours = Ours(p)
    row: Row = {"size": size, "dtype": np.dtype(dtype).name}

    tw = fastest_torch(torch, p, torch_candidates) if torch is not None else None
    if tw is not None:
        hs = ours.layer.forward(p["xs"], train=False)
        ref = tw.hs()
        row["torch_error"] = float(np.max(np.abs(hs - ref)) / max(np.max(np.abs(ref)), 1e-30))

    contenders: dict[str, Callable[[], object]] = {"ours_fb": ours.forward_backward}
    if tw is not None:
        contenders["torch_fb"] = tw.forward_backward
    row.update(compare(contenders, budget))
    contenders = {"ours_fwd": ours.forward, "ours_fwd_train": ours.forward_train}
    if tw is not None:
        contenders.update(torch_fwd_no_grad=tw.forward_no_grad, torch_fwd=tw.forward)
    row.update(compare(contenders, budget))
    if with_gemm_only:
        row.update(compare({"gemm_fb": ours.gemm_only,
                            "gemm_fwd": lambda: ours.gemm_only(backward=False)}, budget / 2))
    return row


def add_spec(row: Row, budget: float) -> None:
    """The spec's times at the row's size (timed after every torch run: NumPy
    work leaves this process in a state where torch runs slower)."""
    N, T, D, H = row["size"]
    p = make_problem(N, T, D, H, np.dtype(row["dtype"]).type)
    sp = Spec(p)
    if forward_flops(*row["size"]) >= 1e9:
        budget /= 2
    row.update(compare({"spec_fb": sp.forward_backward, "spec_fwd": sp.forward}, budget))


def of_peak(gflops: float, peak: float | None) -> str:
    return "-" if peak is None else f"{gflops / peak:.2f}"


def print_tables(rows: list[Row], peak: dict[str, float | None],
                 torch: TorchModule | None) -> None:
    flops = {r["size"]: forward_flops(*r["size"]) for r in rows}
    tname = "torch" if torch is not None else "torch (not installed)"
    print(f"\nforward+backward, float32, median ms ({tname}; ratio < 1: gatedrnn faster; "
          "of peak: of the FMA peak)")
    print(f"  {'(N,T,D,H)':18s} {'ours':>8s} {'torch':>8s} {'spec':>8s} {'ours/torch':>10s} "
          f"{'ours/spec':>9s} {'GFLOP/s':>8s} {'of peak':>7s} {'GEMM-only':>9s} {'ours/GEMM':>9s}")
    for r in rows:
        if r["dtype"] != "float32":
            continue
        gflops = 3 * flops[r["size"]] / r["ours_fb"] / 1e9
        print(f"  {str(r['size']):18s} {fmt_ms(r['ours_fb']):>8s} {fmt_ms(r.get('torch_fb')):>8s} "
              f"{fmt_ms(r.get('spec_fb')):>8s} {fmt_ratio(ratio(r['ours_fb'], r.get('torch_fb'))):>10s} "
              f"{fmt_ratio(ratio(r['ours_fb'], r.get('spec_fb'))):>9s} {gflops:8.1f} "
              f"{of_peak(gflops, peak['float32']):>7s} {fmt_ms(r.get('gemm_fb')):>9s} "
              f"{fmt_ratio(ratio(r['ours_fb'], r.get('gemm_fb'))):>9s}")

    print("\nforward, float32, median ms (ours: train=False, and train=True keeping the cache)")
    print(f"  {'(N,T,D,H)':18s} {'ours':>8s} {'no_grad':>8s} {'ours/':>8s} {'ours':>8s} "
          f"{'torch':>8s} {'ours/':>8s} {'spec':>8s} {'GFLOP/s':>8s} {'of peak':>7s} "
          f"{'GEMM-only':>9s}")
    print(f"  {'':18s} {'infer':>8s} {'torch':>8s} {'no_grad':>8s} {'train':>8s} "
          f"{'w/ grad':>8s} {'torch':>8s} {'':>8s}")
    for r in rows:
        if r["dtype"] != "float32":
            continue
        gflops = flops[r["size"]] / r["ours_fwd"] / 1e9
        print(f"  {str(r['size']):18s} {fmt_ms(r['ours_fwd']):>8s} "
              f"{fmt_ms(r.get('torch_fwd_no_grad')):>8s} "
              f"{fmt_ratio(ratio(r['ours_fwd'], r.get('torch_fwd_no_grad'))):>8s} "
              f"{fmt_ms(r['ours_fwd_train']):>8s} {fmt_ms(r.get('torch_fwd')):>8s} "
              f"{fmt_ratio(ratio(r['ours_fwd_train'], r.get('torch_fwd'))):>8s} "
              f"{fmt_ms(r.get('spec_fwd')):>8s} {gflops:8.1f} "
              f"{of_peak(gflops, peak['float32']):>7s} {fmt_ms(r.get('gemm_fwd')):>9s}")

    f64 = [r for r in rows if r["dtype"] == "float64"]
    if f64:
        print("\nfloat64, median ms")
        print(f"  {'(N,T,D,H)':18s} {'ours fb':>8s} {'spec fb':>8s} {'speed-up':>8s} "
              f"{'ours fwd':>8s} {'spec fwd':>8s} {'speed-up':>8s} {'torch fb':>8s} "
              f"{'GFLOP/s':>8s} {'of peak':>7s}")
        for r in f64:
            gflops = 3 * forward_flops(*r["size"]) / r["ours_fb"] / 1e9
            print(f"  {str(r['size']):18s} {fmt_ms(r['ours_fb']):>8s} {fmt_ms(r.get('spec_fb')):>8s} "
                  f"{fmt_ratio(ratio(r.get('spec_fb'), r['ours_fb'])):>8s} "
                  f"{fmt_ms(r['ours_fwd']):>8s} {fmt_ms(r.get('spec_fwd')):>8s} "
                  f"{fmt_ratio(ratio(r.get('spec_fwd'), r['ours_fwd'])):>8s} "
                  f"{fmt_ms(r.get('torch_fb')):>8s} {gflops:8.1f} "
                  f"{of_peak(gflops, peak['float64']):>7s}")


def small_call(budget: float) -> dict[str, float]:
    """Microseconds of one forward (training and inference) and one
    forward+backward at (1, 1, 100, 100), float32."""
    p = make_problem(*SMALL, np.float32)
    ours = Ours(p)
    t = compare({"forward": ours.forward_train, "forward_infer": ours.forward,
                 "forward_backward": ours.forward_backward}, budget)
    return {k: v * 1e6 for k, v in t.items()}


def scaling(budget: float, quick: bool, D: int = 650, H: int = 650) -> list[Row]:
    """forward+backward time per step and per sequence as T and N grow, with the
    memory the layer keeps: the cache (values per N*T*H) and the workspace."""
    rows: list[Row] = []
    Ts = [35, 70] if quick else [35, 70, 140, 350, 700]
    Ns = [1, 20] if quick else [1, 2, 5, 10, 20, 40, 80]
    for kind, sizes in (("T", [(20, T, D, H) for T in Ts]), ("N", [(N, 35, D, H) for N in Ns])):
        for size in sizes:
            N, T, _, _ = size
            p = make_problem(*size, np.float32)
            ours = Ours(p)
            t = compare({"fb": ours.forward_backward}, budget)["fb"]
            ours.layer.forward(p["xs"])
            cache: Any = ours.layer._cache  # a training forward keeps it
            cache_values = sum(c.size for c in cache.caches) / (N * T * H)
            train_ws = ours.layer._workspace.nbytes
            infer = Ours(p)
            infer.forward()
            infer_ws = infer.layer._workspace.nbytes
            kept = infer.layer._cache
            tracemalloc.start()
            ours.forward_backward()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append(dict(kind=kind, size=size, t=t, cache_values=cache_values,
                             train_ws=train_ws, infer_ws=infer_ws, infer_cache=kept,
                             peak=peak))
    return rows


def print_scaling(rows: list[Row]) -> None:
    D, H = rows[0]["size"][2:]
    print(f"\nscaling, float32, D = {D}, H = {H}, forward+backward (linear: constant per step and "
          f"per sequence)")
    print(f"  {'(N,T,D,H)':18s} {'ms':>8s} {'us/step':>8s} {'us/seq':>8s} {'cache/NTH':>9s} "
          f"{'train MB':>8s} {'infer MB':>8s} {'infer cache':>11s} {'peak MB':>8s}")
    for r in rows:
        N, T, _, _ = r["size"]
        print(f"  {str(r['size']):18s} {fmt_ms(r['t']):>8s} {r['t'] / T * 1e6:8.1f} "
              f"{r['t'] / N * 1e6:8.1f} {r['cache_values']:9.2f} {r['train_ws'] / 1e6:8.2f} "
              f"{r['infer_ws'] / 1e6:8.2f} {'none' if r['infer_cache'] is None else 'KEPT':>11s} "
              f"{r['peak'] / 1e6:8.2f}")
    print("  cache/NTH: values of the forward cache per N*T*H (bound: 5); train MB: the layer's "
          "cache and workspace;\n  infer MB: an inference layer's workspace (packed weights and "
          "a chunk of pre-activations); peak MB:\n  NumPy allocations traced during one "
          "forward+backward (inputs excluded).")


def interference(torch: TorchModule | None, budget: float,
                 sizes: Sequence[Size] = ((20, 35, 100, 100), (20, 35, 650, 650))) -> list[Row]:
    """forward+backward right after another library's call, whose thread pool
    may then keep a core busy for a while (NumPy's OpenBLAS busy-waits up to
    ~0.1 s after a matmul; torch's libgomp spins for milliseconds)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 512), dtype=np.float32)
    rows: list[Row] = []
    for size in sizes:
        N, T, D, H = size
        p = make_problem(N, T, D, H, np.float32)
        ours = Ours(p)
        tw = fastest_torch(torch, p) if torch is not None else None
        contenders: dict[str, Callable[[], object]] = {"gatedrnn": ours.forward_backward}
        if tw is not None:
            contenders["torch"] = tw.forward_backward
        for who, fn in contenders.items():
            before: dict[str, Callable[[], object] | None] = {
                "alone": None, "after a NumPy matmul": lambda: a @ a}
            if tw is not None:
                before["after the other's call"] = (tw.forward_no_grad if who == "gatedrnn"
                                                    else ours.forward)
            row: Row = {"size": size, "who": who}
            for name, prefix in before.items():
                def call(prefix: Callable[[], object] | None = prefix,
                         fn: Callable[[], object] = fn) -> float:
                    if prefix:
                        prefix()
                    start = time.perf_counter()
                    fn()
                    return time.perf_counter() - start
                call()
                times: list[float] = []
                while sum(times) < budget or len(times) < 5:
                    time.sleep(0.03)
                    times.append(call())
                row[name] = statistics.median(times)
            rows.append(row)
    return rows


def print_interference(rows: list[Row]) -> None:
    print("\ninterference: forward+backward right after another library's call (a 30 ms pause "
          "before\neach, as in the 'alone' column), median ms")
    names = [k for k in rows[0] if k not in ("size", "who")]
    print(f"  {'(N,T,D,H)':18s} {'':9s}" + "".join(f"{k:>24s}" for k in names))
    for r in rows:
        print(f"  {str(r['size']):18s} {r['who']:9s}"
              + "".join(f"{fmt_ms(r[k]):>24s}" for k in names))


def print_targets(rows: list[Row], small: dict[str, float] | None,
                  peak_note: str | None, inter: list[Row] | None = None) -> bool:
    print("\ntargets (one run; forward+backward float32 unless said)")
    met_all = True

    def line(text: str, ok: bool | None) -> None:
        nonlocal met_all
        met_all &= ok is not False
        status = "met" if ok else "NOT MET" if ok is False else "n/a"
        print(f"  {text:64s} {status}")

    by = {(r["size"], r["dtype"]): r for r in rows}
    for size, limit in TARGETS.items():
        r = by.get((size, "float32"))
        q = None if r is None else ratio(r["ours_fb"], r.get("torch_fb"))
        line(f"{str(size):18s} ours/torch {fmt_ratio(q)} <= {limit}", None if q is None else q <= limit)
    for size in SIZES:
        r = by.get((size, "float32"))
        q = None if r is None else ratio(r["ours_fwd"], r.get("torch_fwd_no_grad"))
        line(f"{str(size):18s} forward ours/torch no_grad {fmt_ratio(q)} <= 1",
             None if q is None else q <= 1)
    if small:
        line(f"single small call: forward {SMALL} {small['forward']:.1f} us <= "
             f"{SMALL_CALL_TARGET_US:.0f} us", small["forward"] <= SMALL_CALL_TARGET_US)
    for size in FLOAT64_SIZES:
        r = by.get((size, "float64"))
        q = None if r is None else ratio(r.get("spec_fb"), r["ours_fb"])
        line(f"{str(size):18s} float64 spec/ours {fmt_ratio(q)} >= {FLOAT64_TARGET:.0f}",
             None if q is None else q >= FLOAT64_TARGET)
    for r in rows:
        if r["dtype"] == "float32" and r.get("spec_fb") is not None:
            q = ratio(r["ours_fb"], r["spec_fb"])
            line(f"{str(r['size']):18s} faster than the spec: ours/spec {fmt_ratio(q)} < 1",
                 None if q is None else q < 1)
    for r in inter or []:
        if r["who"] == "gatedrnn":
            q = ratio(r["after a NumPy matmul"], r["alone"])
            line(f"{str(r['size']):18s} after a NumPy matmul / alone {fmt_ratio(q)} <= "
                 f"{AFTER_MATMUL_TARGET}", None if q is None else q <= AFTER_MATMUL_TARGET)
    if peak_note:
        print(f"  {peak_note}")
    return met_all


def _on_engine(engine: str, fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        previous = _kernels.set_product_engine(engine)
        try:
            fn()
        finally:
            _kernels.set_product_engine(previous)
    return run


ENGINE_SIZES = (100, 256, 650)  # H = D of the recurrence's products, N*T = 700


def recurrence_products(budget: float, sizes: Sequence[int] = ENGINE_SIZES) -> list[Row]:
    """The recurrence's large products at N*T = 700 rows, as plain products in
    the driver's layouts, on the Goto engine and on the first one (panels),
    side by side; then TimeLSTM (20, 35, H, H) forward+backward with the
    driver's own products on each engine."""
    rng = np.random.default_rng(4)
    scratch = _kernels.MatmulScratch()
    rows: list[Row] = []
    for H in sizes:
        NT, D, GH = 700, H, 4 * H
        xs = rng.standard_normal((NT, D), dtype=np.float32)
        h = rng.standard_normal((NT, H), dtype=np.float32)
        dA = rng.standard_normal((NT, GH), dtype=np.float32)
        Wx = rng.standard_normal((D, GH), dtype=np.float32)
        cases = [("input projection x @ Wx", (NT, GH), xs, Wx),
                 ("dWx = x^T @ dA", (D, GH), xs.T, dA),
                 ("dWh = h^T @ dA", (H, GH), h.T, dA),
                 ("dxs = dA @ Wx^T", (NT, D), dA, Wx.T)]
        for name, shape, a, b in cases:
            out = np.empty(shape, np.float32)

            def product(out: Any = out, a: Any = a, b: Any = b) -> None:
                _kernels.matmul(out, a, b, scratch=scratch)
            t = compare({"goto": _on_engine("goto", product),
                         "panels": _on_engine("panels", product)}, budget)
            rows.append({"name": name, "H": H, "shape": (a.shape, b.shape),
                         "flops": 2.0 * a.shape[0] * a.shape[1] * b.shape[1], **t})
        ours = Ours(make_problem(20, 35, H, H, np.float32))
        t = compare({"goto": _on_engine("goto", ours.forward_backward),
                     "panels": _on_engine("panels", ours.forward_backward)}, budget)
        rows.append({"name": "TimeLSTM fwd+bwd, driver's products", "H": H,
                     "shape": None, "flops": 3 * forward_flops(20, 35, H, H), **t})
    return rows


def print_recurrence_products(rows: list[Row], peak: float | None) -> None:
    print("\nthe recurrence's large products at N*T = 700 (float32; in the driver's layouts, as "
          "plain products),\nthe Goto engine against the first one (panels), median ms; "
          "GFLOP/s and of peak (of the FMA peak): the Goto engine's")
    print(f"  {'H = D':6s} {'product':38s} {'(M, K) @ (K, N)':24s} {'goto':>8s} {'panels':>8s} "
          f"{'goto/panels':>11s} {'GFLOP/s':>8s} {'of peak':>7s}")
    for r in rows:
        shape = "" if r["shape"] is None else "({}, {}) @ ({}, {})".format(*r["shape"][0],
                                                                          *r["shape"][1])
        rate = r["flops"] / r["goto"] / 1e9
        print(f"  {r['H']:<6d} {r['name']:38s} {shape:24s} {fmt_ms(r['goto']):>8s} "
              f"{fmt_ms(r['panels']):>8s} {r['goto'] / r['panels']:11.2f} {rate:8.1f} "
              f"{of_peak(rate, peak):>7s}")


def run_lstm(args: argparse.Namespace, torch: TorchModule | None, budget: float,
             sizes: Sequence[Size], f64_sizes: Sequence[Size],
             peak: dict[str, float | None]) -> None:
    """TimeLSTM: the tables, the interference and scaling runs, the targets."""
    rows: list[Row] = []
    for dtype, group in ((np.float32, sizes), (np.float64, f64_sizes)):
        for size in group:
            # The products alone exist on the SIMD paths (GEMM_ONLY), not on the BLAS one.
            rows.append(run_size(size, dtype, torch if dtype == np.float32 else None, budget,
                                 dtype == np.float32 and _kernels.get_path() != "blas"
                                 and not args.quick, 1 if args.quick else 3))
            err = rows[-1].get("torch_error")
            print(f"  timed {str(size):18s} {np.dtype(dtype).name:8s}"
                  + ("" if err is None else f"  (|hs - torch hs| / max|torch hs| = {err:.1e})"))
            sys.stdout.flush()
    inter = None if args.no_interference else interference(
        torch, budget / 2, [SIZES[0]] if args.quick else [SIZES[0], SIZES[1]])
    if not args.no_spec:
        for row in rows:
            if not args.quick or forward_flops(*row["size"]) < QUICK_SPEC_FLOPS:
                add_spec(row, budget)
    print_tables(rows, peak, torch)
    if inter:
        print_interference(inter)
    small = small_call(budget) if SMALL in sizes else None
    if small:
        print(f"\nsingle small call {SMALL} float32: forward {small['forward']:.1f} us "
              f"(train=False {small['forward_infer']:.1f} us), forward+backward "
              f"{small['forward_backward']:.1f} us")
    if not args.no_scaling:
        print_scaling(scaling(budget / 2, args.quick))
    if not args.no_engines and _kernels.get_path() != "blas":
        sizes_h = ENGINE_SIZES[:1] if args.quick else ENGINE_SIZES
        print_recurrence_products(recurrence_products(budget / 2, sizes_h), peak["float32"])
    print_targets(rows, small, None, inter)
