#!/usr/bin/env python3
"""Mutation check: would the test suite catch a broken kernel?

Each mutant below is one small, plausible bug planted in the C kernels (a sign
flipped in a gate's derivative, a partition off by one, a dropped bias, a
wrong tail mask, ...). For each, this tool edits a scratch copy of the tree,
rebuilds it incrementally, runs the default test suite (stopping at the first
failure), and reports the mutant as killed (with the test that caught it) or
survived. Every listed mutant must be killed: a survivor is a bug the tests
would let through.

    python tools/mutants.py                 # every mutant (about half an hour)
    python tools/mutants.py --list          # the list, with what each one breaks
    python tools/mutants.py --only simd-forward-bias-dropped blas-backward-o-sign

A mutant is a literal edit, `find` -> `replace`, where `find` must occur exactly
once in its file, so that the list fails loudly when the kernels change under
it. Edits that should reach one dtype or one path only wrap the change in a
compile-time test: `(sizeof(TYPE) == 4 ? mutated : original)` for float, or
`VBYTES == 32` for AVX2 (generic 16, AVX-512 64). New kernels add their own
mutants here.

The scratch tree, venv and build live in $GATEDRNN_MUTANTS_DIR (default
/tmp/gatedrnn-mutants-<hash of this checkout's path>) and are reused by the
next run. Needs a C compiler and network access to PyPI for the first venv.
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_DEPENDENCIES = ["meson-python>=0.15", "meson>=1.1", "ninja", "Cython>=3.0", "numpy>=2.0",
                      "scipy>=1.10"]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str      # relative to the repository
    find: str      # occurs exactly once in path
    replace: str
    what: str      # the bug, and which paths and dtypes it reaches


def _dtype(mutated, original, size):
    """An expression that is `mutated` for one dtype (size 4: float, 8: double)."""
    return f"(sizeof(TYPE) == {size} ? {mutated} : {original})"


SIMD = "src/simd.template.c"
BLAS = "src/lstm.template.c"

MUTANTS = [
    # -- SIMD paths (generic, avx2, avx512), forward ----------------------------
    Mutant("simd-inference-chunk-reuses-first", SIMD,
           "const TYPE *A = f->xs + (n_lo * T + t0) * D;",
           "const TYPE *A = f->xs + (n_lo * T + (f->train ? t0 : 0)) * D;",
           "inference (train=False) computes every chunk's input projection from the first "
           "chunk's inputs: wrong once N*T exceeds about 1024 rows"),
    Mutant("simd-forward-bias-dropped", SIMD,
           "a[q] = buf.v[i][q] + FN(vload_n)(gx + q * H, units) + bias[q];",
           "a[q] = buf.v[i][q] + FN(vload_n)(gx + q * H, units);",
           "the bias is never added to the pre-activations"),
    Mutant("simd-forward-bias-gate-slice", SIMD,
           "bias[q] = FN(vload_n)(f->b + q * H + j, units);",
           "bias[q] = FN(vload_n)(f->b + (q ^ 1) * H + j, units);",
           "a wrong gate slice: the f and g biases (and i and o) are swapped"),
    Mutant("simd-forward-i-gate-from-g-slice", SIMD,
           "VEC ig = FN(vsigmoid)(a[2])",
           "VEC ig = FN(vsigmoid)(a[1])",
           "the input gate is computed from the g gate's pre-activations"),
    Mutant("simd-column-split-forward-skips-last-row-block", SIMD,
           "for (size_t blk = 0; blk < f->nb; blk++) {",
           "for (size_t blk = 0; blk + 1 < f->nb || blk == 0; blk++) {",
           "a step split by gate columns leaves the last block of rows uncomputed "
           "(batches larger than one row block)"),
    Mutant("simd-column-split-backward-skips-last-row-block", SIMD,
           "for (size_t blk = 0; blk < w->nb; blk++) {",
           "for (size_t blk = 0; blk + 1 < w->nb || blk == 0; blk++) {",
           "the backward's column-split steps leave the last block of rows uncomputed"),
    Mutant("simd-row-split-drops-remainder", SIMD,
           "*hi = *lo + n / nthreads + ((size_t)tid < n % nthreads);",
           "*hi = *lo + n / nthreads;",
           "batch slices (threads split by sequences) lose the N % threads leftover "
           "sequences"),
    Mutant("simd-row-block-off-by-one", SIMD,
           "*rows = base + (b < extra);",
           "*rows = base + (b + 1 < extra);",
           "a partition off by one: a block of rows one short when the rows do not divide "
           "evenly"),
    Mutant("simd-panel-count-rounds-down", SIMD,
           "return ((ncols + GW - 1) / GW + 3) / 4; }",
           "return (ncols + GW - 1) / GW / 4; }",
           "column panels counted rounding down: trailing columns of every product missing"),
    # -- SIMD paths, backward ----------------------------------------------------
    Mutant("simd-backward-f-sign", SIMD, "fg * (one - fg)", "fg * (fg - one)",
           "the forget gate's derivative has its sign flipped"),
    Mutant("simd-backward-g-sign", SIMD, "ds * ig * (one - gg * gg)", "ds * ig * (gg * gg - one)",
           "the g gate's derivative has its sign flipped"),
    Mutant("simd-backward-i-sign", SIMD, "ds * gg * ig * (one - ig)", "ds * gg * ig * (ig - one)",
           "the input gate's derivative has its sign flipped"),
    Mutant("simd-backward-o-sign", SIMD, "dh * tanh_c * og * (one - og)",
           "dh * tanh_c * og * (og - one)", "the output gate's derivative has its sign flipped"),
    Mutant("simd-backward-dc-through-input-gate", SIMD, "FN(vstore_n)(dc, ds * fg, units);",
           "FN(vstore_n)(dc, ds * ig, units);",
           "the cell gradient flows back through the input gate instead of the forget gate"),
    Mutant("simd-backward-last-h-not-saved", SIMD,
           "if (t + 1 < T) FN(vstore_n)(w->cs + (row + 1) * H + j, og * tanh_c, units);",
           "if (t + 2 < T) FN(vstore_n)(w->cs + (row + 1) * H + j, og * tanh_c, units);",
           "h_{T-2} never reaches the operand of dWh"),
    Mutant("simd-backward-h0-not-saved", SIMD, "if (!w->gemm_only)\n            memcpy(w->cs",
           "if (w->gemm_only)\n            memcpy(w->cs",
           "h0 never reaches the operand of dWh (it uses c0 instead): wrong with a non-zero "
           "initial state"),
    Mutant("simd-dot-product-tail-dropped", SIMD,
           "if (k < K) { /* the last, partial vector */",
           "if (0) { /* the last, partial vector */",
           "the dot-product micro-kernel (few rows) drops the last, partial vector of K"),
    Mutant("simd-db-skips-last-row", SIMD,
           "for (size_t r = 0; r < NT; r++) {\n        const TYPE *dA_r = w->gates",
           "for (size_t r = 0; r + 1 < NT; r++) {\n        const TYPE *dA_r = w->gates",
           "db misses the last (n, t) row"),
    Mutant("simd-weight-gradient-k-block-offset", SIMD, "p.k_lo = k * w->kw;",
           "p.k_lo = k * w->kw + (k > 0);",
           "the weight gradients' K blocks after the first start one row late (N*T > 512)"),
    Mutant("simd-transposed-panel-remainder", SIMD, "for (size_t k = k_full; k < K; k++)",
           "for (size_t k = k_full; k + 1 < K; k++)",
           "packing Wh^T and Wx^T misses the last column when 4H is not a multiple of the "
           "vector width"),
    Mutant("simd-ftz-not-restored", SIMD, "    gr_fp_leave(fp);\n}", "    (void)fp;\n}",
           "the caller's flush-to-zero state is not restored after a call"),
    # -- one instruction set or one dtype ------------------------------------------
    Mutant("avx512-f32-tail-load-mask", SIMD,
           "_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p)",
           "_mm512_maskz_loadu_ps((__mmask16)(((1u << n) - 1) >> 1), p)",
           "AVX-512, float: a partial vector loads one lane too few (a wrong tail mask)"),
    Mutant("avx512-f64-tail-store-mask", SIMD,
           "_mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1), (__m512d)v)",
           "_mm512_mask_storeu_pd(p, (__mmask8)(((1u << n) - 1) >> 1), (__m512d)v)",
           "AVX-512, double: a partial vector stores one lane too few"),
    Mutant("avx512-f64-reciprocal-short", SIMD,
           "    r = r + r * (one - x * r);\n    r = r + r * (one - x * r);\n"
           "    return r + r * (one - x * r);              // 14 -> 28 -> 56 bits, correctly "
           "rounded",
           "    return r + r * (one - x * r);",
           "AVX-512, double: 1/x after one Newton step, not three (28 bits, not 53)"),
    Mutant("avx2-f32-reciprocal-unrefined", SIMD,
           "    r = r + r * (one - x * r);\n    return r + r * (one - x * r);              // 24 bits",
           "    return r;",
           "AVX2, float: the 12-bit reciprocal estimate used as it is"),
    Mutant("generic-tail-load", SIMD, "for (size_t l = 0; l < n; l++) v[l] = p[l];",
           "for (size_t l = 0; (VBYTES == 16 ? l + 1 : l) < n; l++) v[l] = p[l];",
           "generic path: a partial vector loads one lane too few"),
    Mutant("simd-f32-exp-reduction", "src/simd_precisions.h", "#define LN2_LO (-2.12194440e-4f)",
           "#define LN2_LO 0.0f", "SIMD paths, float: exp's argument reduction loses ln 2's tail"),
    Mutant("simd-f64-exp-reduction", "src/simd_precisions.h",
           "#define LN2_LO 1.90821492927058770002e-10", "#define LN2_LO 0.0",
           "SIMD paths, double: exp's argument reduction loses ln 2's tail"),
    # -- the BLAS path -------------------------------------------------------------
    Mutant("blas-backward-f-sign", BLAS, "f * (1 - f)", "f * (f - 1)",
           "BLAS path: the forget gate's derivative has its sign flipped"),
    Mutant("blas-backward-o-sign", BLAS, "dh_j * tanh_c * o * (1 - o)", "dh_j * tanh_c * o * (o - 1)",
           "BLAS path: the output gate's derivative has its sign flipped"),
    Mutant("blas-forward-i-bias-slice", BLAS,
           "CAT(sigmoid_, SFX)(a[2 * H + j] + b[2 * H + j])",
           "CAT(sigmoid_, SFX)(a[2 * H + j] + b[H + j])",
           "BLAS path: the input gate takes the g gate's bias"),
    Mutant("blas-forward-h-prev-stride", BLAS, "size_t ld_h_prev = t ? T * H : H;",
           "size_t ld_h_prev = H;",
           "BLAS path: h_{t-1} read with the wrong row stride (batches of more than one)"),
    Mutant("blas-backward-h0-copy", BLAS, "for (size_t n = 0; n < N; n++)\n        memcpy(h_prev",
           "for (size_t n = 0; n + 1 < N; n++)\n        memcpy(h_prev",
           "BLAS path: the last sequence's h0 never reaches the operand of dWh"),
    Mutant("blas-f32-exp-reduction", "src/lstm.c", "#define LN2_LO (-2.12194440e-4f)",
           "#define LN2_LO 0.0f", "BLAS path, float: exp's argument reduction loses ln 2's tail"),
    Mutant("blas-f64-exp-reduction", "src/lstm.c", "#define LN2_LO 1.90821492927058770002e-10",
           "#define LN2_LO 0.0", "BLAS path, double: exp's argument reduction loses ln 2's tail"),
    Mutant("blas-db-f64-first-row", BLAS,
           "double sum[DB_BLOCK] = {0};\n        for (size_t r = 0; r < NT; r++) {",
           "double sum[DB_BLOCK] = {0};\n        for (size_t r = " + _dtype("1", "0", 8)
           + "; r < NT; r++) {",
           "BLAS path, double only: db misses the first row"),
    # -- the language model's softmax cross-entropy ------------------------------------
    Mutant("softmax-loss-sign", "src/softmax.template.c", "loss[r] = log(sum) - (double)picked;",
           "loss[r] = log(sum) + (double)picked;",
           "softmax cross-entropy: the target's score is added, not subtracted"),
]


def _check_list(mutants):
    names = [m.name for m in mutants]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        sys.exit(f"mutants.py: duplicate names {sorted(duplicates)}")
    for m in mutants:
        text = (REPO / m.path).read_text()
        count = text.count(m.find)
        if count != 1:
            sys.exit(f"mutants.py: {m.name}: the text to mutate occurs {count} times in "
                     f"{m.path} (must be once): {m.find!r}; update the list")


# -- the scratch tree -------------------------------------------------------------------

def _tracked_files():
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=REPO, capture_output=True,
                             check=True).stdout
        return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "build", ".venv", ".ci-venv", "__pycache__", ".hypothesis"}
        return [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(REPO).parts)]


def _run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def prepare(work, python):
    """A copy of the tree at work/tree, installed editable into work/venv with
    its build in work/build (so a rebuild after an edit is incremental)."""
    tree, venv, build = work / "tree", work / "venv", work / "build"
    if tree.exists():
        shutil.rmtree(tree)
    for f in _tracked_files():
        (tree / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, tree / f)
    if not (venv / "bin" / "python").exists():
        _run([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run(pip + BUILD_DEPENDENCIES)
    _run(pip + ["--no-build-isolation", "-e", f"{tree}[test]", f"-Cbuild-dir={build}"])
    return tree, venv, build


def rebuild(venv, build):
    ninja = venv / "bin" / "ninja"
    proc = subprocess.run([str(ninja) if ninja.exists() else "ninja", "-C", str(build)],
                          capture_output=True, text=True)
    return proc.returncode == 0, proc.stdout + proc.stderr


def run_suite(tree, venv, timeout, first_failure=True):
    """(passed, what failed first or None, seconds) for the default test suite."""
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-rfE", "--tb=no"] + (["-x"] if first_failure else [])
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return False, f"timeout: the suite ran over {timeout:.0f} s", time.monotonic() - start
    seconds = time.monotonic() - start
    if proc.returncode == 0:
        return True, None, seconds
    failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", proc.stdout, re.M)
    if failed:
        return False, failed[0], seconds
    if proc.returncode < 0:
        where = re.findall(r'File "[^"]*?(tests/[^"]+)", line \d+ in (\w+)', proc.stderr)
        test = f" in {where[-1][0]}::{where[-1][1]}" if where else ""
        return False, f"crash ({signal.Signals(-proc.returncode).name}){test}", seconds
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return False, f"exit {proc.returncode}: {' / '.join(tail)}", seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter for the scratch venv (default: this one)")
    args = parser.parse_args()

    _check_list(MUTANTS)
    mutants = MUTANTS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            sys.exit(f"mutants.py: unknown mutants {sorted(unknown)}; see --list")
        mutants = [m for m in MUTANTS if m.name in args.only]
    if args.list:
        for m in mutants:
            print(f"{m.name}\n    {m.path}: {m.what}")
        print(f"{len(mutants)} mutants")
        return 0

    default_dir = Path(os.environ.get("TMPDIR", "/tmp")) / (
        "gatedrnn-mutants-" + hashlib.sha1(str(REPO).encode()).hexdigest()[:10])
    work = Path(os.environ.get("GATEDRNN_MUTANTS_DIR", default_dir))
    work.mkdir(parents=True, exist_ok=True)
    shared_data = REPO.parent / "shared" / "data"
    if "GATEDRNN_DATA" not in os.environ and shared_data.is_dir():
        os.environ["GATEDRNN_DATA"] = str(shared_data)  # as .ci/run does
    print(f"scratch: {work}", flush=True)
    tree, venv, build = prepare(work, args.python)

    ok, log = rebuild(venv, build)
    if not ok:
        sys.exit(f"mutants.py: the unmutated tree does not build:\n{log}")
    passed, failure, baseline = run_suite(tree, venv, timeout=3600, first_failure=False)
    if not passed:
        sys.exit(f"mutants.py: the unmutated tree fails its tests ({failure}); fix that first")
    print(f"baseline: the suite passes in {baseline:.0f} s\n", flush=True)

    results = []
    for k, m in enumerate(mutants, 1):
        path = tree / m.path
        original = path.read_text()
        path.write_text(original.replace(m.find, m.replace, 1))
        try:
            ok, log = rebuild(venv, build)
            if not ok:
                verdict, by, seconds = "BROKEN", "does not compile: fix the mutant", 0.0
                print(log[-2000:])
            else:
                passed, by, seconds = run_suite(tree, venv, timeout=3 * baseline + 120)
                verdict = "survived" if passed else "killed"
        finally:
            path.write_text(original)
        results.append((m, verdict, by))
        print(f"[{k}/{len(mutants)}] {verdict:8} {m.name} ({seconds:.0f} s)"
              + (f"\n    by {by}" if by else "\n    no test failed"), flush=True)
    rebuild(venv, build)  # leave the scratch build unmutated

    killed = [r for r in results if r[1] == "killed"]
    print(f"\nmutation score: {len(killed)} killed of {len(results)}")
    for m, verdict, by in results:
        if verdict != "killed":
            print(f"  {verdict}: {m.name}: {m.what}")
    return 0 if len(killed) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
