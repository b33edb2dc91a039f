/*
 * Internal interfaces between the C files of gatedrnn (not installed).
 *
 *   dispatch.c       the public entry points: path choice, size checks,
 *                    workspace sizes, calls into a path
 *   blas_path.c      the BLAS path (blas_path.template.c), and the
 *                    language model's softmax kernel
 *   simd_<isa>.c     the SIMD paths, one file per instruction set, each
 *                    compiling simd_path.template.c for float and double
 *   threads.c        a small pool of worker threads
 *   cells.h          what a cell is, to the drivers
 */
#ifndef GATEDRNN_INTERNAL_H
#define GATEDRNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gatedrnn.h"

/* ---- settings ----------------------------------------------------------- */

/* A setting that kernels read without the GIL while Python may change it
 * (the thread count, the lazily found best path): a C11 atomic where the
 * compiler has them. Relaxed order: each is one value, read on its own. */
#if defined(__STDC_NO_ATOMICS__)
typedef int gr_setting;
#define gr_setting_load(p) (*(p))
#define gr_setting_store(p, v) (*(p) = (v))
#else
#include <stdatomic.h>
typedef atomic_int gr_setting;
#define gr_setting_load(p) atomic_load_explicit((p), memory_order_relaxed)
#define gr_setting_store(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#endif

/* ---- workspaces ---------------------------------------------------------- */

#define GR_ALIGN 64
/* Carve `count` elements of `size` bytes at *offset (64-byte aligned); SIZE_MAX on overflow. */
static inline size_t gr_take(size_t *offset, size_t count, size_t size)
{
    size_t at = (*offset + GR_ALIGN - 1) / GR_ALIGN * GR_ALIGN;
    if (*offset == SIZE_MAX || at < *offset || (count && size > SIZE_MAX / count)
        || at > SIZE_MAX - count * size) {
        *offset = SIZE_MAX;
        return 0;
    }
    *offset = at + count * size;
    return at;
}

/* The bytes of a workspace of `ndirs` parts of `per_dir` bytes, each part
 * starting GR_ALIGN-aligned; SIZE_MAX if per_dir is (an overflow) or it wraps. */
static inline size_t gr_directions_bytes(size_t per_dir, size_t ndirs)
{
    if (per_dir == SIZE_MAX || per_dir > SIZE_MAX / GR_MAX_DIRECTIONS - GR_ALIGN) return SIZE_MAX;
    return (per_dir + GR_ALIGN - 1) / GR_ALIGN * GR_ALIGN * ndirs;
}

/* Whether `workspace` can hold those parts (a status), and the stride from
 * one direction's part to the next. */
static inline int gr_directions_workspace(size_t per_dir, size_t ndirs, const void *workspace,
                                          size_t workspace_bytes, size_t *dir_bytes)
{
    const size_t need = gr_directions_bytes(per_dir, ndirs);
    if (need == SIZE_MAX) return GR_ERR_TOO_LARGE;
    if (workspace_bytes < need || (need && !workspace)) return GR_ERR_WORKSPACE;
    *dir_bytes = need / ndirs;
    return GR_OK;
}

/*
 * Loops compiled for baseline x86-64, AVX2+FMA and AVX-512, of which the
 * loader picks one for this CPU (GCC target_clones): a built wheel runs
 * anywhere and still uses the SIMD it finds (the BLAS path's softmax, the
 * sum of squares).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(GATEDRNN_NO_CLONES)
#define SIMD_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define SIMD_CLONES
#endif

/* ---- sequences of different lengths --------------------------------------- */

/*
 * The batch as the paths see it when sequences have different lengths:
 * packed time-major, longest first (dispatch.c sorts and gathers the
 * caller's (N, T) arrays). Step t runs the batch[t] longest sequences, in
 * rows [row[t], row[t] + batch[t]) of every per-step array (xs, hs, dhs, dxs,
 * the cache); batch[] never grows with t, and row[T] is the sum of the lengths.
 * Without lengths (steps == NULL) arrays are (N, T, .): row n*T + t.
 */
typedef struct gr_steps {
    const size_t *batch;  /* (T,) */
    const size_t *row;    /* (T + 1,) */
} gr_steps;

/* The row of sequence n at step t. */
static inline size_t gr_row(const gr_steps *s, size_t T, size_t n, size_t t)
{
    return s ? s->row[t] + n : n * T + t;
}

/* Rows from one sequence to the next at the same step. */
static inline size_t gr_seq_stride(const gr_steps *s, size_t T) { return s ? 1 : T; }

/* Sequences still running at step t (the first that many). */
static inline size_t gr_running(const gr_steps *s, size_t N, size_t t)
{
    return s ? s->batch[t] : N;
}

/* Rows of the per-step arrays. */
static inline size_t gr_rows(const gr_steps *s, size_t N, size_t T) { return s ? s->row[T] : N * T; }

/* The packed sequences cut into `slices` runs of near-equal total length:
 * slice k is sequences [cut[k], cut[k + 1]) (sequences.c). */
void gr_steps_cuts(const gr_steps *s, size_t N, size_t T, size_t slices, size_t *cut);

/* ---- threads.c ---------------------------------------------------------- */

#define GR_MAX_THREADS 64

/* The threads running one job; members are private to threads.c. */
typedef struct gr_team gr_team;

/* A job: called on up to nthreads threads, with tid = 0 .. nthreads-1. */
typedef void (*gr_job_fn)(void *ctx, gr_team *team, int tid, int nthreads);

/*
 * Run job(ctx, team, tid, n) on the caller (tid 0) and up to n - 1 workers,
 * and return when every thread that started it has left it. A worker that has
 * not started by the time the caller's call returns is called off: a job must
 * not count on more threads than the caller. n is clamped to [1, 64]. If
 * another job holds the pool (a second Python thread), the job runs alone.
 */
void gr_run_job(gr_job_fn job, void *ctx, int nthreads);

/*
 * Work sharing inside a job. Its work is a sequence of items numbered from 0,
 * grouped in phases; an item may use the results of every item of earlier
 * phases. Threads claim items in order with gr_claim(), wait with
 * gr_wait_done(team, first item of the phase) before running one, and call
 * gr_item_done() after it. Threads that run late (the OS gave their core to
 * another process) simply claim less: no thread waits for one that has not
 * claimed anything. Which thread runs an item changes nothing in the results.
 */
size_t gr_claim(gr_team *team);
void gr_item_done(gr_team *team);
void gr_wait_done(gr_team *team, size_t items);

/* The thread count in effect: set by gr_set_num_threads, else the default. */
int gr_threads_in_effect(void);

/* The product engine chosen by gr_set_product_engine (enum gr_engine). */
int gr_product_engine(void);

/* A monotonic clock in seconds, for the kernels that time themselves (fma_peak). */
double gr_seconds(void);

/* ---- the paths ------------------------------------------------------------ */

/*
 * Each path defines, per precision SFX (f32, f64) and, for the SIMD paths,
 * instruction set ISA:
 *   int    forward(cell, io, ndirs, N, T, D, H, steps, workspace, bytes, ...)
 *   int    backward(cell, io, ndirs, N, T, D, H, steps, workspace, bytes, ...)
 *   size_t workspace(cell, ndirs, backward, train, N, T, D, H, rows): bytes, SIZE_MAX on
 *          overflow, for rows = N*T or the sum of the lengths
 *   int    threads(cell, ndirs, rows, D, H): threads worth using for rows = N*T
 *          (or the sum of the lengths) steps of sequences (SIMD paths)
 * with steps NULL, or the packed layout of sequences of different lengths (gr_steps).
 *   int    matmul(M, N, K, A, ...), size_t matmul_workspace(...): C (+)= A @ B
 *          (SIMD paths; see matmul.template.c)
 *   int    affine_xent(M, N, K, A, ...), size_t affine_xent_workspace(...): the
 *          softmax cross-entropy of A @ B + bias (SIMD paths; affine_xent.template.c)
 *   int    fma_peak(nthreads, iterations, flops, seconds): the register-only FMA
 *          loop on the pool (SIMD paths; fma_peak.template.c)
 */
#define GR_DECLARE_BLAS(SFX)                                                                 \
    int gr_blas_forward_##SFX(int cell, const gr_forward_io *io, size_t ndirs, size_t N,     \
                              size_t T, size_t D, size_t H, const gr_steps *steps,           \
                              void *workspace, size_t workspace_bytes, const gr_blas *blas); \
    int gr_blas_backward_##SFX(int cell, const gr_backward_io *io, size_t ndirs, size_t N,   \
                               size_t T, size_t D, size_t H, const gr_steps *steps,          \
                               void *workspace, size_t workspace_bytes,                      \
                               const gr_blas *blas);                                         \
    size_t gr_blas_workspace_##SFX(int cell, size_t ndirs, int backward, int train,         \
                                   size_t N, size_t T, size_t D, size_t H, size_t rows);
GR_DECLARE_BLAS(f32)
GR_DECLARE_BLAS(f64)

#define GR_DECLARE_SIMD(SFX_ISA)                                                             \
    int gr_simd_forward_##SFX_ISA(int cell, const gr_forward_io *io, size_t ndirs, size_t N, \
                                  size_t T, size_t D, size_t H, const gr_steps *steps,       \
                                  void *workspace, size_t workspace_bytes, int flags,        \
                                  int nthreads);                                             \
    int gr_simd_backward_##SFX_ISA(int cell, const gr_backward_io *io, size_t ndirs,        \
                                   size_t N, size_t T, size_t D, size_t H,                   \
                                   const gr_steps *steps, void *workspace,                   \
                                   size_t workspace_bytes, int flags, int nthreads);        \
    size_t gr_simd_workspace_##SFX_ISA(int cell, size_t ndirs, int backward, int train,     \
                                       size_t N, size_t T, size_t D, size_t H, size_t rows); \
    int gr_simd_threads_##SFX_ISA(int cell, size_t ndirs, size_t rows, size_t D, size_t H); \
    int gr_simd_matmul_##SFX_ISA(size_t M, size_t N, size_t K, const void *A, size_t a_rs,  \
                                 size_t a_cs, const void *B, int b_transposed, void *C,     \
                                 size_t ldc, int accumulate, const void *bias,              \
                                 void *workspace, size_t workspace_bytes, int nthreads);    \
    size_t gr_simd_matmul_workspace_##SFX_ISA(size_t M, size_t N, size_t K, int b_transposed); \
    int gr_simd_affine_xent_##SFX_ISA(size_t M, size_t N, size_t K, const void *A, size_t a_rs, \
                                      size_t a_cs, const void *B, int b_transposed,          \
                                      const void *bias, const int64_t *target, double *loss, \
                                      void *workspace, size_t workspace_bytes, int nthreads); \
    size_t gr_simd_affine_xent_workspace_##SFX_ISA(size_t M, size_t N, size_t K,            \
                                                   int b_transposed);                       \
    int gr_simd_fma_peak_##SFX_ISA(int nthreads, size_t iterations, double *flops,          \
                                   double *seconds);                                        \
    void gr_simd_gemm_blocking_##SFX_ISA(size_t M, size_t N, size_t K, size_t *out);
GR_DECLARE_SIMD(f32_generic)
GR_DECLARE_SIMD(f64_generic)
GR_DECLARE_SIMD(f32_avx2)
GR_DECLARE_SIMD(f64_avx2)
GR_DECLARE_SIMD(f32_avx512)
GR_DECLARE_SIMD(f64_avx512)

#endif /* GATEDRNN_INTERNAL_H */
