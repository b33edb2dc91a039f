"""`python -m gatedrnn bench`: the arguments, the header that names the machine,
and the parts in order (bench/lstm.py, bench/family.py, bench/lengths.py,
bench/models.py, bench/generation.py).

Everything runs in one process with one thread count for everyone (printed).
Contenders take turns in blocks of back-to-back calls after a warm-up, with a
short pause before each block (timing.compare()), and the tables show medians,
so that ratios compare runs made side by side. Times are wall clock; nothing
here is a test (tests never assert on time).
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

from .. import __version__, _kernels
from . import family, generation, lengths, lstm, models, step
from .machine import (Peak, blas_threads, cpu_count, cpu_name, describe_caches, fma_peaks,
                      read_bandwidth, sgemm_peak, torch_mm_peak)
from .timing import Row, Size, TorchModule, import_torch


DESCRIPTION = ("Time TimeLSTM, TimeGRU (both variants), TimeRNN (tanh, relu) and TimeBiLSTM "
               "against the NumPy spec, PyTorch's CPU layers (when torch is importable) and the "
               "BLAS; print the tables and the speed targets.")


CELLS = ("lstm", "gru_reset_after", "gru", "rnn", "rnn_relu", "bilstm")

# Seconds per part of one full run and one --quick run, measured back to back
# under the bench lock with torch installed; a --quick run scales each part of
# the full run by its own time for that part against the reference quick
# run's. Measure again when a part changes (the end of each run prints its parts).
# Measured on 7 December 2026 on a quiet machine (load average about 1), the
# full run first, then --quick (56.2 s of wall time, the interpreter's start included).
REFERENCE_MACHINE = "Intel(R) Xeon(R) Processor (2 CPUs, AVX-512), torch 2.13.0, quiet"
REFERENCE_FULL = {"setup": 7.2, "lstm": 139.5, "step": 9.8, "family": 58.7, "lengths": 9.8,
                  "models": 144.6, "generation": 26.5}
REFERENCE_QUICK = {"setup": 4.0, "lstm": 16.1, "step": 1.0, "family": 6.2, "lengths": 0.7,
                   "models": 15.8, "generation": 11.7}


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="python -m gatedrnn bench",
                                               description=DESCRIPTION)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for everyone (default: gatedrnn's, the usable CPUs)")
    parser.add_argument("--quick", action="store_true",
                        help="under a minute: the book's two LSTM sizes; the family, the "
                             "lengths and the spec at the small one; fewer scaling points; the "
                             "models' part shortened; shorter timings. Every table's headline "
                             "ratio, and an estimate of the full run's time")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-spec", action="store_true", help="leave the NumPy spec out")
    parser.add_argument("--no-scaling", action="store_true", help="skip the T and N curves")
    parser.add_argument("--no-engines", action="store_true",
                        help="skip the recurrence's products on both product engines")
    parser.add_argument("--no-interference", action="store_true",
                        help="skip timing ours right after NumPy's and torch's calls")
    parser.add_argument("--no-models", action="store_true",
                        help="skip the language models end to end")
    parser.add_argument("--no-step", action="store_true",
                        help="skip the recurrent step against the FMA peak and L3 bandwidth")
    parser.add_argument("--no-lengths", action="store_true",
                        help="skip the sequences of different lengths")
    parser.add_argument("--no-generation", action="store_true",
                        help="skip text generation (tokens per second against torch and the "
                             "memory bandwidth)")
    parser.add_argument("--sizes", default=None,
                        help="sizes to run, e.g. '20,35,100,100;1,1,100,100' (default: "
                             "20,35,100,100; 20,35,650,650; 64,35,256,256; 1,35,650,650 and "
                             "1,1,100,100, float64 for the first two)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timed calls per contender and size (default 0.6)")
    parser.add_argument("--peak-size", type=int, default=2048,
                        help="n of the n^3 sgemm timed as the BLAS reference (default 2048)")
    parser.add_argument("--cells", default=",".join(CELLS),
                        help=f"the layers to time, of {', '.join(CELLS)} (default: all; the "
                             f"others at (20,35,100,100) and (20,35,650,650), or --sizes)")
    return parser


def parse_sizes(text: str) -> list[Size]:
    return [tuple(int(v) for v in part.split(",")) for part in text.split(";") if part.strip()]


def run_family(args: argparse.Namespace, torch: TorchModule | None, budget: float,
               kinds: list[str], peak: float | None) -> None:
    """The other layers at the family's sizes (or --sizes)."""
    sizes = (parse_sizes(args.sizes) if args.sizes
             else family.SIZES[:1] if args.quick else family.SIZES)
    rows: list[Row] = []
    for kind in kinds:
        for size in sizes:
            rows.append(family.run_kind(kind, size, torch, budget, not args.no_spec))
            print(f"  timed {family.KINDS[kind][0]} {size}")
            sys.stdout.flush()
    family.print_family(rows, torch, peak)
    family.print_family_targets(rows)


def run_step(budget: float, peak: float | None, threads: int, quick: bool) -> None:
    """The recurrent step against its limits (bench/step.py)."""
    rows = step.run_step(budget, peak, threads, [(20, 650)] if quick else None)
    step.print_step(rows)
    for text, ok in step.step_targets(rows):
        print(f"  {text:64s} {'met' if ok else 'NOT MET' if ok is False else 'n/a'}")


def run_lengths(torch: TorchModule | None, budget: float, quick: bool) -> None:
    """TimeLSTM on sequences of different lengths (bench/lengths.py; --quick:
    the small size only)."""
    rows = lengths.run_lengths(torch, budget, lengths.SIZES[:1] if quick else None)
    lengths.print_lengths(rows)
    print("\ntargets, lengths")
    for text, ok in lengths.lengths_targets(rows):
        print(f"  {text:64s} {'met' if ok else 'NOT MET' if ok is False else 'n/a'}")


def run_models(torch: TorchModule | None, budget: float, quick: bool, peak: float | None) -> None:
    """The language models end to end (bench/models.py)."""
    products = models.run_products(budget, quick, None if quick else torch)
    rows = models.run_models(torch, budget, min_calls=3 if quick else 5)
    models.print_products(products, peak)
    models.print_models(rows)
    print("\ntargets, end to end")
    for text, ok in models.model_targets(rows):
        print(f"  {text:64s} {'met' if ok else 'NOT MET' if ok is False else 'n/a'}")


def yardstick(peaks: list[Peak]) -> dict[str, float | None]:
    """Print the FMA peaks; return the one the 'of peak' columns divide by, per
    dtype: the path in use's, or the best SIMD path's when the BLAS path runs
    (None without a SIMD path)."""
    if not peaks:
        print("FMA peak: no SIMD path in this build (the 'of peak' columns are left empty)")
        return {"float32": None, "float64": None}
    print(f"FMA peak: a register-only multiply-add loop on {peaks[0].threads} threads at once, "
          "GFLOP/s in total (per core)")
    for path in dict.fromkeys(p.path for p in peaks):
        print(f"  {path:8s} " + ", ".join(f"{p.dtype} {p.total:.1f} ({p.per_core:.1f})"
                                           for p in peaks if p.path == path))
    path = _kernels.get_path()
    if path not in {p.path for p in peaks}:
        path = peaks[-1].path
    chosen = {p.dtype: p.total for p in peaks if p.path == path}
    print(f"  'of peak' columns: fractions of {path}'s")
    return {"float32": chosen.get("float32"), "float64": chosen.get("float64")}


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def print_duration(parts: dict[str, float], quick: bool, default_plan: bool) -> None:
    """How long this run took, by part; after a --quick run with the default
    plan, the full run's time: measured once (REFERENCE_FULL) and estimated
    for this machine from this run's parts."""
    total = sum(parts.values())
    print(f"\nthis {'--quick ' if quick else ''}run took {_minutes(total)} ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()) + ")")
    if not quick or not default_plan:
        return
    full, ref = sum(REFERENCE_FULL.values()), sum(REFERENCE_QUICK.values())
    estimate = sum(REFERENCE_FULL[k] * parts[k] / REFERENCE_QUICK[k] for k in parts
                   if REFERENCE_QUICK.get(k))
    left_out = [k for k in REFERENCE_FULL if k not in parts]
    print(f"the full run (without --quick) took {_minutes(full)} on {REFERENCE_MACHINE}, "
          f"where --quick took {_minutes(ref)};\nestimated from this run's parts, the full "
          f"run takes about {_minutes(estimate)} here"
          + (f" for the parts run ({', '.join(left_out)} left out)" if left_out else ""))


def run_generation(torch: TorchModule | None, budget: float, quick: bool, threads: int) -> None:
    """Text generation, a token at a time (bench/generation.py)."""
    bandwidth, array_bytes = read_bandwidth(threads, passes=2 if quick else 3)
    # --quick: shorter pauses before the blocks (torch's and OpenBLAS's threads
    # spin for about 0.1 s after their calls).
    rows = generation.run_generation(torch, budget, quick, pause=0.15 if quick else 0.3)
    generation.print_generation(rows, bandwidth, array_bytes)
    print("\ntargets, generation")
    for text, ok in generation.generation_targets(rows, bandwidth):
        print(f"  {text:64s} {'met' if ok else 'NOT MET' if ok is False else 'n/a'}")


def main(argv: list[str] | None = None, args: argparse.Namespace | None = None) -> int:
    args = args or build_parser().parse_args(argv)
    started = time.perf_counter()
    parts: dict[str, float] = {}

    def part_done(name: str) -> None:
        parts[name] = time.perf_counter() - started - sum(parts.values())

    threads = args.threads or _kernels.get_num_threads()
    _kernels.set_num_threads(threads)
    torch = None if args.no_torch else import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    keep, blas = blas_threads(threads)
    budget = args.budget or (0.1 if args.quick else 0.6)
    sizes = (parse_sizes(args.sizes) if args.sizes
             else lstm.QUICK_SIZES if args.quick else lstm.SIZES)
    f64_sizes = [s for s in sizes
                 if s in (lstm.QUICK_FLOAT64_SIZES if args.quick else lstm.FLOAT64_SIZES)]

    print(f"gatedrnn {__version__} bench: recurrent layers vs the NumPy spec"
          f"{', PyTorch ' + torch.__version__ + ' (CPU)' if torch else ''} and the BLAS")
    print(f"machine: {cpu_name()}, {cpu_count()} CPUs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}")
    print(f"gatedrnn kernel path: {_kernels.get_path()} (available: "
          f"{', '.join(_kernels.available_paths())})")
    for text in blas:
        print(f"BLAS: {text}")
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    if env:
        print(f"environment: {' '.join(f'{k}={v}' for k, v in sorted(env.items()))}")
    print(f"threads: {threads} for gatedrnn ({_kernels.get_num_threads()}), "
          f"torch ({torch.get_num_threads() if torch else '-'}) and BLAS")
    sys.stdout.flush()
    print(f"caches: {describe_caches()}")
    peak = yardstick(fma_peaks(threads, min(0.1, budget / 2)))
    sgemm = sgemm_peak(budget, args.peak_size)
    print(f"BLAS reference: SciPy sgemm {args.peak_size}^3 at {sgemm:.1f} GFLOP/s"
          + (f", {sgemm / peak['float32']:.2f} of the FMA peak" if peak["float32"] else ""))
    if torch is not None and not args.quick:   # the ceilings are the full run's
        mm = torch_mm_peak(torch, budget, args.peak_size)
        print(f"torch reference: torch.mm {args.peak_size}^3 float32 at {mm:.1f} GFLOP/s"
              + (f", {mm / peak['float32']:.2f} of the FMA peak" if peak["float32"] else ""))
    sys.stdout.flush()

    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = sorted(set(cells) - set(CELLS))
    if unknown:
        raise SystemExit(f"bench: unknown --cells {unknown}; choose from {', '.join(CELLS)}")
    part_done("setup")
    if "lstm" in cells:
        lstm.run_lstm(args, torch, budget, sizes, f64_sizes, peak)
        part_done("lstm")
    if not args.no_step and _kernels.get_path() != "blas":
        run_step(budget, peak["float32"], threads, args.quick)
        part_done("step")
    family = [c for c in cells if c != "lstm"]
    if family:
        run_family(args, torch, budget, family, peak["float32"])
        part_done("family")
    if not args.no_lengths:
        run_lengths(torch, budget, args.quick)
        part_done("lengths")
    if not args.no_models:
        run_models(torch, budget, args.quick, peak["float32"])
        part_done("models")
    if not args.no_generation:
        run_generation(torch, budget, args.quick, threads)
        part_done("generation")
    # Only the sizes, cells and budget of the reference runs give a fair estimate.
    default_plan = (args.sizes is None and args.budget is None and args.cells == ",".join(CELLS)
                    and args.threads is None and not (args.no_spec or args.no_scaling
                                                      or args.no_interference))
    print_duration(parts, args.quick, default_plan)
    del keep
    return 0
