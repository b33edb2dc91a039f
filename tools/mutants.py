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
`VBYTES == 32` for AVX2 (generic 16, AVX-512 64). A new cell adds its mutants
here, next to the LSTM's, GRU's and RNN's.

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


ENGINE = "src/rnn/recurrence.template.c"
PRODUCTS = "src/gemm/products.h"
LANES = "src/base/lanes_vector.h"
LSTM = "src/rnn/cell_lstm.h"
GRU = "src/rnn/cell_gru.h"
RNN = "src/rnn/cell_rnn.h"
BLAS = "src/paths/blas_path.template.c"
MATMUL = "src/gemm/matmul.template.c"
XENT = "src/gemm/affine_xent.template.c"
GEMM = "src/gemm/gemm.h"
PACK = "src/gemm/pack.h"
UKERNEL = "src/gemm/microkernel.h"
BLOCKING = "src/gemm/blocking.h"

# The cells' epilogues serve every path (the BLAS path runs them one lane
# wide); the engine (products, driver) the SIMD paths; lanes_vector.h one
# instruction set each; blas_path.template.c the BLAS path's driver.
MUTANTS = [
    # -- the recurrence driver (SIMD paths) --------------------------------------------
    Mutant("engine-inference-chunk-reuses-first", ENGINE,
           "const TYPE *A = dir->xs + (n_lo * T + t0) * D;",
           "const TYPE *A = dir->xs + (n_lo * T + (f->train ? t0 : 0)) * D;",
           "inference (train=False) computes every chunk's input projection from the first "
           "chunk's inputs: wrong once N*T exceeds about 1024 rows"),
    Mutant("engine-column-split-forward-skips-last-row-block", ENGINE,
           "for (size_t blk = 0; blk < blocks; blk++) {",
           "for (size_t blk = 0; blk + 1 < blocks || blk == 0; blk++) {",
           "a forward step split by gate columns leaves the last block of rows uncomputed "
           "(batches larger than one row block)"),
    Mutant("engine-column-split-backward-skips-last-row", ENGINE,
           "FN(recurrence_tile)(w, &w->dir[d], s, pp, 0, w->N);",
           "FN(recurrence_tile)(w, &w->dir[d], s, pp, 0, w->N - (w->N > MR));",
           "the backward's column-split steps leave the last row uncomputed"),
    Mutant("engine-weight-gradient-k-block-offset", ENGINE, "p.k_lo = k * w->kw;",
           "p.k_lo = k * w->kw + (k > 0);",
           "the weight gradients' K blocks after the first start one row late (N*T > 512)"),
    Mutant("engine-db-skips-last-row", ENGINE,
           "for (size_t r = 0; r < NT; r++) {\n            const TYPE *dA_r = dir->dA",
           "for (size_t r = 0; r + 1 < NT; r++) {\n            const TYPE *dA_r = dir->dA",
           "db misses the last (n, t) row"),
    Mutant("engine-second-direction-runs-the-first", ENGINE, "size_t d = *item / per_dir;",
           "size_t d = 0 * (*item / per_dir);",
           "a bidirectional layer's second direction never runs (its items go to the first)"),
    Mutant("engine-directions-share-a-workspace", ENGINE,
           "char *ws = (char *)workspace + d * dir_bytes;\n        f.dir[d]",
           "char *ws = (char *)workspace;\n        f.dir[d]",
           "the two directions of a forward pack their weights into the same workspace"),
    Mutant("engine-dot-ranges-overwrite", ENGINE,
           "acc[i * TILE_LD + c] += out[i * TILE_LD + c];",
           "acc[i * TILE_LD + c] = out[i * TILE_LD + c];",
           "dh through Wh as dot products (few rows) keeps only the last block range (GRU "
           "reset after)"),
    # -- the packed-product engine (SIMD paths) ------------------------------------------
    Mutant("products-row-split-drops-remainder", PRODUCTS,
           "*hi = *lo + n / nthreads + ((size_t)tid < n % nthreads);",
           "*hi = *lo + n / nthreads;",
           "batch slices (threads split by sequences) lose the N % threads leftover "
           "sequences"),
    Mutant("products-row-block-off-by-one", PRODUCTS,
           "*rows = base + (b < extra);",
           "*rows = base + (b + 1 < extra);",
           "a partition off by one: a block of rows one short when the rows do not divide "
           "evenly"),
    Mutant("products-panel-count-rounds-down", PRODUCTS,
           "return ((ncols + GW - 1) / GW + 3) / 4; }",
           "return (ncols + GW - 1) / GW / 4; }",
           "column panels counted rounding down: trailing columns of every product missing"),
    Mutant("products-dot-tail-dropped", PRODUCTS,
           "if (k < K) { /* the last, partial vector */",
           "if (0) { /* the last, partial vector */",
           "the dot-product micro-kernel (few rows) drops the last, partial vector of K"),
    Mutant("products-transposed-panel-remainder", PRODUCTS,
           "for (size_t k = k_full; k < K; k++)",
           "for (size_t k = k_full; k + 1 < K; k++)",
           "packing Wh^T and Wx^T misses the last column when G*H is not a multiple of the "
           "vector width"),
    Mutant("products-ftz-not-restored", PRODUCTS, "    gr_fp_leave(fp);\n}", "    (void)fp;\n}",
           "the caller's flush-to-zero state is not restored after a call"),
    # -- one instruction set or one dtype --------------------------------------------------
    Mutant("avx512-f32-tail-load-mask", LANES,
           "_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p)",
           "_mm512_maskz_loadu_ps((__mmask16)(((1u << n) - 1) >> 1), p)",
           "AVX-512, float: a partial vector loads one lane too few (a wrong tail mask)"),
    Mutant("avx512-f64-tail-store-mask", LANES,
           "_mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1), (__m512d)v)",
           "_mm512_mask_storeu_pd(p, (__mmask8)(((1u << n) - 1) >> 1), (__m512d)v)",
           "AVX-512, double: a partial vector stores one lane too few"),
    Mutant("avx512-f64-reciprocal-short", LANES,
           "    r = r + r * (one - x * r);\n    r = r + r * (one - x * r);\n"
           "    return r + r * (one - x * r);          // 14 -> 28 -> 56 bits, correctly rounded",
           "    return r + r * (one - x * r);",
           "AVX-512, double: 1/x after one Newton step, not three (28 bits, not 53)"),
    Mutant("avx2-f32-reciprocal-unrefined", LANES,
           "    r = r + r * (one - x * r);\n    return r + r * (one - x * r);          // 24 bits",
           "    return r;",
           "AVX2, float: the 12-bit reciprocal estimate used as it is"),
    Mutant("generic-tail-load", LANES, "for (size_t l = 0; l < n; l++) v[l] = p[l];",
           "for (size_t l = 0; (VBYTES == 16 ? l + 1 : l) < n; l++) v[l] = p[l];",
           "generic path: a partial vector loads one lane too few"),
    Mutant("f32-exp-reduction", "src/base/one_precision.h", "#define LN2_LO (-2.12194440e-4f)",
           "#define LN2_LO 0.0f", "float: exp's argument reduction loses ln 2's tail"),
    Mutant("f64-exp-reduction", "src/base/one_precision.h", "#define LN2_LO 1.90821492927058770002e-10",
           "#define LN2_LO 0.0", "double: exp's argument reduction loses ln 2's tail"),
    Mutant("exp-below-range-not-zero", "src/base/vector_math.h",
           "V e = FN(select)(in_range, FN(exp_series)(r, 0) * two_to_k, FN(splat)(0));",
           "V e = FN(exp_series)(r, 0) * two_to_k;",
           "exp below EXP_MIN is exp(EXP_MIN), not 0: 0 * inf no longer gives NaN as the "
           "spec does"),
    # -- the LSTM's epilogues (every path) ---------------------------------------------------
    Mutant("lstm-bias-dropped", LSTM, "+ FN(load_n)(g + q * H, n) + bias[q];",
           "+ FN(load_n)(g + q * H, n);",
           "the bias is never added to the pre-activations"),
    Mutant("lstm-bias-gate-slice", LSTM, "bias[q] = FN(load_n)(r->b + q * H + u, n);",
           "bias[q] = FN(load_n)(r->b + (q ^ 1) * H + u, n);",
           "a wrong gate slice: the f and g biases (and i and o) are swapped"),
    Mutant("lstm-i-gate-from-g-slice", LSTM, "ig = FN(sigmoid)(a[2])", "ig = FN(sigmoid)(a[1])",
           "the input gate is computed from the g gate's pre-activations"),
    Mutant("lstm-backward-f-sign", LSTM, "ds * c_prev * f * ((TYPE)1 - f)",
           "ds * c_prev * f * (f - (TYPE)1)", "the forget gate's derivative has its sign flipped"),
    Mutant("lstm-backward-g-sign", LSTM, "ds * i * ((TYPE)1 - g * g)", "ds * i * (g * g - (TYPE)1)",
           "the g gate's derivative has its sign flipped"),
    Mutant("lstm-backward-i-sign", LSTM, "ds * g * i * ((TYPE)1 - i)", "ds * g * i * (i - (TYPE)1)",
           "the input gate's derivative has its sign flipped"),
    Mutant("lstm-backward-o-sign", LSTM, "dh * tanh_c * o * ((TYPE)1 - o)",
           "dh * tanh_c * o * (o - (TYPE)1)", "the output gate's derivative has its sign flipped"),
    Mutant("lstm-backward-dc-through-input-gate", LSTM, "FN(store_n)(r->carry + u, ds * f, n);",
           "FN(store_n)(r->carry + u, ds * i, n);",
           "the cell gradient flows back through the input gate instead of the forget gate"),
    Mutant("lstm-backward-saves-tanh-c-for-h", LSTM,
           "FN(store_n)(r->cache_next + 4 * H + u, o * tanh_c, n);",
           "FN(store_n)(r->cache_next + 4 * H + u, tanh_c, n);",
           "the operand of dWh gets tanh(c_t), not h_t"),
    Mutant("lstm-backward-h0-from-c0", LSTM,
           "FN(store_n)(r->cache + 4 * r->H + u, FN(load_n)(r->h0 + u, n), n);",
           "FN(store_n)(r->cache + 4 * r->H + u, FN(load_n)(r->c0 + u, n), n);",
           "the operand of dWh at step 0 is c0, not h0: wrong with a non-zero initial state"),
    # -- the GRU's epilogues and layouts (every path) ------------------------------------------
    Mutant("gru-z-complemented", GRU, "V h = ((TYPE)1 - z) * h_prev + z * h_hat;",
           "V h = z * h_prev + ((TYPE)1 - z) * h_hat;",
           "reset before: the update uses PyTorch's z (1 - ours)"),
    Mutant("gru-reset-not-applied", GRU,
           "rg * FN(load_n)(r->h_prev + i * r->ld_h_prev + u, n)",
           "FN(load_n)(r->h_prev + i * r->ld_h_prev + u, n)",
           "reset before: h~ reads h_{t-1}, not r * h_{t-1}"),
    Mutant("gru-backward-dz-sign", GRU, "FN(store_n)(a, dh * (h_hat - h_prev) * z * ((TYPE)1 - z), n);\n        FN(store_n)(a + 2 * H, dh * z",
           "FN(store_n)(a, dh * (h_prev - h_hat) * z * ((TYPE)1 - z), n);\n        FN(store_n)(a + 2 * H, dh * z",
           "reset before: the update gate's derivative has its sign flipped"),
    Mutant("gru-backward-dr-sign", GRU, "d_rh * h_prev * rg * ((TYPE)1 - rg)",
           "d_rh * h_prev * rg * (rg - (TYPE)1)",
           "reset before: the reset gate's derivative has its sign flipped"),
    Mutant("gru-backward-carry-misses-the-reset-path", GRU,
           "FN(load_n)(r->carry + u, n) + rg * d_rh", "FN(load_n)(r->carry + u, n)",
           "reset before: dh_{t-1} loses its part through r * h_{t-1}"),
    Mutant("gru-dwh-of-h-not-r-h", GRU,
           ".dwh = {{GR_OPERAND_H_PREV, {0, 0, 2}}, {GR_OPERAND_R_H, {2, 2, 1}}},",
           ".dwh = {{GR_OPERAND_H_PREV, {0, 0, 2}}, {GR_OPERAND_H_PREV, {2, 2, 1}}},",
           "reset before: dWh_h takes h_{t-1}, not r * h_{t-1}, as its operand"),
    Mutant("gru-after-recurrent-bias-dropped", GRU,
           "ah[q] = FN(load_n)(acc_i + q * acc_ld, n) + b_rec[q];",
           "ah[q] = FN(load_n)(acc_i + q * acc_ld, n);",
           "reset after: the recurrent bias b[1] is never added"),
    Mutant("gru-after-hn-caches-the-input-side", GRU,
           "FN(store_n)(g + 3 * H, ah[2], n);",
           "FN(store_n)(g + 3 * H, ax[2], n);",
           "reset after: the cache keeps x Wx_h + b0_h where the backward needs h Wh_h + b1_h"),
    Mutant("gru-after-dhn-not-scaled-by-r", GRU, "FN(store_n)(a + 3 * H, dt * rg, n);  // at hn",
           "FN(store_n)(a + 3 * H, dt, n);  // at hn",
           "reset after: the gradient at h Wh_h misses the factor r"),
    Mutant("gru-after-bwd-drops-a-range", GRU, ".bwd = {{2, {{0, 0, 2}, {3, 2, 1}}}},",
           ".bwd = {{1, {{0, 0, 2}}}},",
           "reset after: dh_{t-1} loses its part through Wh_h"),
    Mutant("gru-after-db1-is-db0", GRU, ".db = {{1, {{0, 0, 3}}}, {2, {{0, 0, 2}, {3, 2, 1}}}},",
           ".db = {{1, {{0, 0, 3}}}, {1, {{0, 0, 3}}}},",
           "reset after: db[1] sums the input side's dA"),
    Mutant("gru-first-drops-the-carry", GRU,
           "FN(store_n)(r->dh + u, FN(load_n)(acc + u, n) + FN(load_n)(r->carry + u, n), n);",
           "FN(store_n)(r->dh + u, FN(load_n)(acc + u, n), n);",
           "both variants: dh0 misses the part that passes by Wh"),
    # -- the RNN's epilogues (every path) -----------------------------------------------
    Mutant("rnn-backward-derivative", RNN, ": one - h * h;", ": one - h;",
           "tanh's derivative taken as 1 - h"),
    Mutant("rnn-relu-forward-leaks", RNN, "return FN(select)(FN(mask_lt)(a, zero), zero, a);",
           "return FN(select)(FN(mask_lt)(a, zero), a * (TYPE)0.01, a);",
           "relu: negative pre-activations leak through (a leaky relu)"),
    Mutant("rnn-relu-backward-slope-at-zero", RNN,
           "V slope = relu ? FN(select)(FN(mask_lt)(zero, h), one, zero)",
           "V slope = relu ? FN(select)(FN(mask_ge)(h, zero), one, zero)",
           "relu: slope 1 where h == 0 (every clipped unit) instead of 0"),
    Mutant("rnn-relu-backward-as-tanh", "src/rnn/cell_dispatch.h",
           "case GR_CELL_RNN_RELU: FN(rnn_backward)(rows, acc, units, 1); break;",
           "case GR_CELL_RNN_RELU: FN(rnn_backward)(rows, acc, units, 0); break;",
           "relu: the backward takes tanh's derivative"),
    Mutant("rnn-h-not-shifted", RNN, "if (r->cache_next) FN(store_n)(r->cache_next + u, h, n);",
           "if (0) FN(store_n)(r->cache_next + u, h, n);",
           "the operand of dWh at step t + 1 stays h_{t+1}, not h_t"),
    # -- the BLAS path's driver ------------------------------------------------------------
    Mutant("blas-forward-h-prev-stride", BLAS, "const size_t ld_h = t ? seq * H : H,",
           "const size_t ld_h = H,",
           "BLAS path: h_{t-1} read with the wrong row stride (batches of more than one)"),
    Mutant("blas-backward-ignores-dh-next", BLAS,
           "memcpy(acc + next * H, dh + next * H, (running - next) * H * sizeof(TYPE));",
           "memset(acc + next * H, 0, (running - next) * H * sizeof(TYPE));",
           "BLAS path: the gradient arriving at the last h (dh_next) is dropped"),
    Mutant("blas-dxs-leading-dimension", BLAS,
           "FN(gemm)(blas, 'N', 'T', NT, D, GH, dA, ldA, Wx, GH, 0, io->dxs, D);",
           "FN(gemm)(blas, 'N', 'T', NT, D, GH, dA, GH, Wx, GH, 0, io->dxs, D);",
           "BLAS path: dxs reads dA with the wrong row stride (cells whose cache is wider "
           "than their gates)"),
    Mutant("blas-db-f64-first-row", BLAS,
           "for (size_t r = 0; r < NT; r++) {\n                    const TYPE *dA_r = dA",
           "for (size_t r = " + _dtype("1", "0", 8)
           + "; r < NT; r++) {\n                    const TYPE *dA_r = dA",
           "BLAS path, double only: db misses the first row"),
    # -- the language model's softmax cross-entropy ------------------------------------
    Mutant("softmax-loss-sign", "src/lm/softmax.template.c", "loss[r] = log(sum) - (double)picked;",
           "loss[r] = log(sum) + (double)picked;",
           "softmax cross-entropy: the target's score is added, not subtracted"),
    # -- plain products (matmul.template.c) and the book's updates (book_updates) -------
    Mutant("matmul-accumulate-ignored", PRODUCTS,
           "int add = k0 > 0 || p->accumulate;", "int add = k0 > 0;",
           "C += A @ B overwrites C"),
    Mutant("matmul-packing-skips-last-panel", MATMUL,
           "return m->b_mode != B_IN_PLACE ? FN(count_panels)(N) :",
           "return m->b_mode != B_IN_PLACE ? FN(count_panels)(N) - 1 :",
           "B's last column panel is never packed (the product reads stale scratch)"),
    Mutant("matmul-packs-the-previous-panel", MATMUL,
           "FN(pack_panel)(m->panels + item * K * TILE_LD, m->B, K, N, item);",
           "FN(pack_panel)(m->panels + item * K * TILE_LD, m->B, K, N, item ? item - 1 : 0);",
           "a row-major B (24 rows of A or more) is packed with each panel's columns taken "
           "from the panel before"),
    Mutant("matmul-bias-not-offset", PRODUCTS,
           "memcpy(C + i * p->ldc, p->bias + c0, width * sizeof(TYPE));",
           "memcpy(C + i * p->ldc, p->bias, width * sizeof(TYPE));",
           "C = bias + A @ B adds the bias's first columns to every column panel"),
    # -- the output layer's evaluation loss (affine_xent.template.c) ---------------------
    Mutant("xent-no-rescale-on-a-new-maximum", XENT,
           "*sum = *max == -(TYPE)INFINITY ? 0 : *sum * exp((double)*max - (double)m_panel);",
           "*sum = *max == -(TYPE)INFINITY ? 0 : *sum;",
           "a row's running sum of exponentials is not rescaled when a later panel raises its "
           "maximum"),
    Mutant("xent-groups-combined-without-their-maxima", XENT,
           "if (gm[q] != -(TYPE)INFINITY) sum += gs[q] * exp((double)gm[q] - (double)m);",
           "if (gm[q] != -(TYPE)INFINITY) sum += gs[q];",
           "the panel groups' sums are added as if they shared one maximum (N above 1024)"),
    Mutant("xent-picks-the-next-score", XENT,
           "if (t >= c0 && t < c0 + width) x->picked[r] = row[t - c0];",
           "if (t >= c0 && t + 1 < c0 + width) x->picked[r] = row[t - c0 + 1];",
           "the loss takes the score after the target's"),
    # -- the Goto engine (gemm.h, pack.h, microkernel.h, blocking.h) and the limits -------
    Mutant("goto-pack-a-by-columns-drops-a-row", PACK,
           "const size_t r = s * GEMM_MR + i0, n = r < rows ? FN(min)(GW, rows - r) : 0;",
           "const size_t r = s * GEMM_MR + i0, n = r < rows ? FN(min)(GW, rows - r - 1) : 0;",
           "packing an A read down its columns (x^T) loses the last row of A (a zero there)"),
    Mutant("goto-pack-a-by-rows-short-sliver", PACK,
           "i0 < mr ? FN(min)(GW, mr - i0) : 0",
           "i0 < mr ? FN(min)(GW, mr - i0 - 1) : 0",
           "packing a row-major A transposes one row too few into every sliver"),
    Mutant("goto-edge-tile-mask-one-lane-short", UKERNEL,
           "const size_t n = FN(min)(GW, width - (size_t)v * GW);",
           "const size_t n = FN(min)(GW, width - (size_t)v * GW) - (width % GW != 0);",
           "an edge tile stores its partial vector one lane short (the last column of C "
           "when N is not a multiple of the vector width)"),
    Mutant("goto-pack-b-last-panel-narrow", PACK,
           "const size_t j = (size_t)v * GW, n = j < width ? FN(min)(GW, width - j) : 0;",
           "const size_t j = (size_t)v * GW, n = j < width ? FN(min)(GW, width - j - (width < GEMM_NR)) : 0;",
           "a row-major B's last, partial panel is packed one column short"),
    Mutant("goto-k-block-one-row-short", GEMM,
           "kn = FN(min)(b->kc, g->k_lo + g->k_len - k0);",
           "kn = FN(min)(b->kc - 1, g->k_lo + g->k_len - k0);",
           "every K block sums one row of K too few (a cache block boundary off by one)"),
    Mutant("goto-k-blocks-rounded-down", BLOCKING,
           "b.kc = k_len ? FN(ceil_div)(k_len, b.k_blocks) : 1;",
           "b.kc = k_len ? k_len / b.k_blocks : 1;",
           "K blocks of K / blocks rows, rounded down: the last rows of K are never summed "
           "when the blocks do not divide K"),
    Mutant("goto-last-column-block-one-panel-short", GEMM,
           "p_hi = FN(min)(b->panels, p_lo + b->nc);",
           "p_hi = FN(min)(b->panels - (b->col_blocks > 1), p_lo + b->nc);",
           "with several column blocks, the last panel of C is never computed"),
    Mutant("goto-k-blocks-summed-out-of-order", GEMM,
           "for (size_t kb = kb_lo; kb < kb_hi; kb++) {",
           "for (size_t kb_ = kb_lo; kb_ < kb_hi; kb_++) {\n"
           "        const size_t kb = kb_ == kb_lo ? kb_ : kb_lo + kb_hi - (kb_ - kb_lo);",
           "an item sums its K blocks first, then last to second (right up to rounding, "
           "but not in the order the results are defined by)"),
    Mutant("goto-items-pack-a-one-sliver-short", GEMM,
           "FN(gemm_pack_a)(g, s_lo, s_hi, g->k_lo, g->k_len, g->A_packed[0], g->k_len * GEMM_MR);",
           "FN(gemm_pack_a)(g, s_lo, s_hi - (s_hi > s_lo + 1), g->k_lo, g->k_len, g->A_packed[0], "
           "g->k_len * GEMM_MR);",
           "items that pack their own slivers of A (one column block) leave their last one "
           "unpacked: stale workspace"),
    Mutant("goto-xent-fold-drops-a-column", XENT,
           "const size_t width = FN(min)(g->N, p1 * GEMM_NR) - c0, nv",
           "const size_t width = FN(min)(g->N, p1 * GEMM_NR) - c0 - 1, nv",
           "the evaluation loss on the Goto engine leaves a score of every fold of panels out"),
    Mutant("caches-shared-by-ignored", "src/gemm/caches.c",
           "shared_by[level - 1] = cpus >= 1 ? cpus : 1;",
           "shared_by[level - 1] = 1;",
           "the CPUs sharing each cache are not read (every cache private)"),
    Mutant("fma-peak-one-thread-reported", "src/gemm/fma_peak.template.c",
           "job->seconds[tid] = gr_seconds() - start;",
           "job->seconds[0] = gr_seconds() - start;",
           "the FMA peak reports every thread's time as the first thread's"),
    # -- sequences of different lengths (lengths=): the packed layout -------------------
    Mutant("lengths-row-runs-a-step-past-its-end", "src/base/internal.h",
           "return s ? s->batch[t] : N;", "return s ? s->batch[t ? t - 1 : 0] : N;",
           "with lengths, every path runs each sequence one step past its end (step t runs "
           "the sequences that ran step t - 1), forward and backward"),
    Mutant("lengths-reverse-direction-starts-at-T", "src/rnn/sequences.c",
           "return reversed ? (size_t)s->lengths[n] - 1 - t : t;",
           "return reversed ? s->T - 1 - t : t;",
           "the bidirectional layer's backward direction starts each sequence at step T-1 "
           "(in its padding), not at its own last step, forward and backward"),
    Mutant("lengths-last-state-taken-at-T", "src/paths/dispatch.c",
           "if (io->h) gr_sequences_last(&s, io->h, packed[d].hs, io->h0, row_h);",
           "for (size_t n = 0; io->h && n < N; n++) memcpy((char *)io->h + n * row_h, "
           "(const char *)io->hs + (n * T + T - 1) * row_h, row_h);",
           "with lengths, the last state h is hs[:, T-1] (zero for a shorter sequence), not "
           "the state after each sequence's last step"),
    Mutant("lengths-backward-ended-rows-get-the-product", ENGINE,
           "const size_t through = next > n0 ? FN(min)(mr, next - n0) : 0;",
           "const size_t through = t + 1 < T ? mr : 0;",
           "SIMD paths' backward: a sequence that ends before T-1 takes dh through Wh from "
           "the next step's rows (another sequence's) instead of dh_T"),
    # (Moving a cut by one only rebalances the slices: an equivalent mutant.)
    Mutant("lengths-slices-skip-a-sequence", "src/rnn/sequences.c",
           "while (k <= slices) cut[k++] = N;", "while (k <= slices) cut[k++] = N - 1;",
           "threads splitting packed sequences into slices: the last (shortest) sequence is "
           "in no slice, so its steps never run"),
    Mutant("lengths-sorted-shortest-first", "src/rnn/sequences.c",
           "s->order[row[len]++] = n;", "s->order[N - 1 - row[len]++] = n;",
           "the packed rows hold the sequences shortest first: the rows still running at a "
           "step are not the first ones"),
    # -- softmax rows on the pool, clip_grads' sum of squares ---------------------------
    Mutant("softmax-items-share-the-first-targets", "src/lm/softmax.template.c",
           "j->x + r0 * j->V, j->target + r0,", "j->x + r0 * j->V, j->target,",
           "a large softmax (threaded, 8 rows an item) reads every item's targets from the "
           "first rows"),
    Mutant("sum-squares-drops-the-tail", "src/lm/sum_squares.c",
           "for (int l = 0; i < n; i++, l++) acc[l] += (double)a[i] * (double)a[i];",
           "for (int l = 0; i < n; i++, l++) acc[l] += 0;",
           "clip_grads' norm leaves out an array's last n % 16 elements"),
    Mutant("book-momentum-sign", "src/lm/book_updates.template.c",
           "const TYPE v_new = kept - step;", "const TYPE v_new = kept + step;",
           "Momentum climbs the gradient"),
    Mutant("book-adam-rounds-the-step-first", "src/lm/book_updates.template.c",
           "p[i] = (TYPE)((double)p[i] - quotient);", "p[i] = p[i] - (TYPE)quotient;",
           "Adam's float32 step rounded before the subtraction (NumPy 2 rounds once, after)"),
    Mutant("book-pairwise-sum-order", "src/lm/book_updates.template.c",
           "TYPE sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));",
           "TYPE sum = (((r[0] + r[1]) + r[2]) + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]));",
           "clip_grads' sum of squares adds the 8 running sums in another order than NumPy"),
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
        skip = {".git", "build", ".venv", ".venv-test", ".ci-venv", "__pycache__", ".hypothesis"}
        return [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(REPO).parts)]


def _run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def prepare(work, python):
    """A copy of the tree at work/tree, installed editable into work/venv with
    its build in work/build (so a rebuild after an edit is incremental)."""
    tree, venv, build = work / "tree", work / "venv", work / "build"
    files = _tracked_files()
    if tree.exists():  # drop what the checkout no longer has
        for old in [p for p in tree.rglob("*") if p.is_file()]:
            if str(old.relative_to(tree)) not in files:
                old.unlink()
    # Copy only what changed, stamped now: a copy keeping the checkout's older
    # mtime would look older than the last mutant's rebuild, and ninja would
    # keep stale objects.
    for f in files:
        source, dest = REPO / f, tree / f
        if dest.is_file() and dest.read_bytes() == source.read_bytes():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
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
