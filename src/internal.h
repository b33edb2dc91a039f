/*
 * Internal interfaces between the C files of gatedrnn (not installed).
 *
 *   threads.c        a small pool of worker threads with a barrier
 *   fast.c           the public entry points of the fast kernels: path
 *                    choice, size checks, workspace sizes, the BLAS path
 *   simd_*.c         the packed-weight kernels, one file per instruction set,
 *                    each compiling simd.template.c for float and double
 */
#ifndef GATEDRNN_INTERNAL_H
#define GATEDRNN_INTERNAL_H

#include <stddef.h>

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

/* ---- threads.c ---------------------------------------------------------- */

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

/* ---- arguments of the SIMD kernels (simd.template.c) --------------------- */

/* Pointers are TYPE * of the kernel's precision. */
typedef struct gr_forward_args {
    void *hs, *c_state, *gates, *cs;
    const void *xs, *Wx, *Wh, *b, *h0;
    size_t N, T, D, H;
    void *workspace;
    size_t workspace_bytes;
    int train, flags, nthreads;
} gr_forward_args;

typedef struct gr_backward_args {
    void *dxs, *dWx, *dWh, *db, *dh, *dc, *gates, *cs;
    const void *dhs, *xs, *Wx, *Wh, *h0, *c0;
    size_t N, T, D, H;
    void *workspace;
    size_t workspace_bytes;
    int flags, nthreads;
} gr_backward_args;

/*
 * Each SIMD file defines, for SFX in f32, f64 and its ISA name:
 *   int    gr_simd_forward_SFX_ISA(const gr_forward_args *)
 *   int    gr_simd_backward_SFX_ISA(const gr_backward_args *)
 *   size_t gr_simd_workspace_SFX_ISA(int backward, int train, N, T, D, H)
 *          (bytes; SIZE_MAX if it overflows)
 *   int    gr_simd_threads_SFX_ISA(int backward, N, T, D, H): threads worth using
 */
#define GR_DECLARE_SIMD(SFX_ISA)                                                          \
    int gr_simd_forward_##SFX_ISA(const gr_forward_args *args);                            \
    int gr_simd_backward_##SFX_ISA(const gr_backward_args *args);                          \
    size_t gr_simd_workspace_##SFX_ISA(int backward, int train, size_t N, size_t T,        \
                                       size_t D, size_t H);                                \
    int gr_simd_threads_##SFX_ISA(int backward, size_t N, size_t T, size_t D, size_t H);

GR_DECLARE_SIMD(f32_generic)
GR_DECLARE_SIMD(f64_generic)
GR_DECLARE_SIMD(f32_avx2)
GR_DECLARE_SIMD(f64_avx2)
GR_DECLARE_SIMD(f32_avx512)
GR_DECLARE_SIMD(f64_avx512)

#endif /* GATEDRNN_INTERNAL_H */
