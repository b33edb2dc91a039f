"""The recurrent step in `python -m gatedrnn bench`: TimeLSTM's inference
forward with a tiny input (D = 8, so that the steps are the work) at the
chapter's sizes, on one thread and on all, against the two limits a step
meets: the FMA peak, and the bandwidth at which each core streams Wh from L3
(Wh at H = 650 is 6.8 MB in float32, more than a core's L2, so every step
reads it again). Bytes per step are what each core reads of Wh: all of it
when the threads split the batch (each slice runs every column), its share
when they split the columns.
"""
import numpy as np

from .. import TimeLSTM, _kernels
from .machine import l3_read_bandwidth
from .timing import Row, compare

SIZES = [(20, 100), (20, 650), (1, 650), (64, 256)]  # (N, H)
T, D = 35, 8
TARGET = 0.7  # of the FMA peak, at (20, 650)


def _split(N: int, H: int, threads: int) -> str:
    """How the driver shares a step at this size (recurrence.template.c's batch_slices)."""
    if threads == 1:
        return "one thread"
    rows, packed = N // threads, H * 4 * H * 4
    return "rows" if rows >= 2 and (packed <= 768 << 10 or rows >= 8) else "columns"


def run_step(budget: float, peak: float | None, threads: int,
             sizes: list[tuple[int, int]] | None = None) -> list[Row]:
    rows: list[Row] = []
    bandwidth = {n: l3_read_bandwidth(n) / n for n in sorted({1, threads})}  # per core
    for N, H in sizes or SIZES:
        rng = np.random.default_rng(0)
        layer = TimeLSTM((rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(np.float32),
                         (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32),
                         np.zeros(4 * H, np.float32))
        xs = rng.standard_normal((N, T, D)).astype(np.float32)
        for n in sorted({1, threads}):
            default = _split(N, H, n)
            # On several threads both splits (rows need 2 a slice): their bytes per core differ.
            splits = [default] if n == 1 else ["rows", "columns"] if N >= 2 * n else ["columns"]
            for split in splits:
                previous = _kernels.set_num_threads(n)
                mode = _kernels.set_split(None if n == 1 else split)
                try:
                    seconds = compare({"step": lambda: layer.forward(xs, train=False)},
                                      budget)["step"] / T
                finally:
                    _kernels.set_split(mode)
                    _kernels.set_num_threads(previous)
                wh = H * 4 * H * 4
                per_core = wh / n if split == "columns" else wh
                flops = 2.0 * N * H * 4 * H
                rows.append(dict(size=(N, H), threads=n, split=split, default=split == default,
                                 seconds=seconds, gflops=flops / seconds / 1e9,
                                 of_peak=None if peak is None
                                 else flops / seconds / 1e9 / (peak * n / threads),
                                 bytes=per_core, gbs=per_core / seconds / 1e9,
                                 l3_gbs=bandwidth[n] / 1e9,
                                 bound=per_core / bandwidth[n] / seconds))
    return rows


def print_step(rows: list[Row]) -> None:
    print("\nthe recurrent step, TimeLSTM inference with D = 8, T = 35, float32: per step, "
          "against the\nFMA peak and the L3 read bandwidth per core (measured here)")
    print(f"  {'(N, H)':11s} {'threads':>7s} {'split':>10s} {'us/step':>8s} {'GFLOP/s':>8s} "
          f"{'of peak':>7s} {'MB/core':>8s} {'GB/s':>6s} {'L3 GB/s':>8s} {'of bw':>6s}")
    for r in rows:
        of_peak = "-" if r["of_peak"] is None else f"{r['of_peak']:.2f}"
        split = r["split"] + ("*" if r["default"] and r["threads"] > 1 else " ")
        print(f"  {str(r['size']):11s} {r['threads']:7d} {split:>10s} "
              f"{r['seconds'] * 1e6:8.1f} {r['gflops']:8.1f} {of_peak:>7s} "
              f"{r['bytes'] / 1e6:8.2f} {r['gbs']:6.1f} {r['l3_gbs']:8.1f} {r['bound']:6.2f}")
    print("  split: * the driver's choice at this size, the other forced; MB/core: Wh read "
          "by each core\n  a step; of bw: the time those bytes take at the L3 bandwidth, over "
          "the step's time\n  (1: the step is as fast as streaming Wh)")


def step_targets(rows: list[Row]) -> list[tuple[str, bool | None]]:
    out: list[tuple[str, bool | None]] = []
    for r in rows:
        if (r["size"] == (20, 650) and r["threads"] > 1 and r["default"]
                and r["of_peak"] is not None):
            out.append((f"recurrent step (20, 650), {r['threads']} threads: {r['of_peak']:.2f} "
                        f"of the FMA peak >= {TARGET}", r["of_peak"] >= TARGET))
    return out
