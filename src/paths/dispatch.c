/*
 * The public entry points (gatedrnn.h): which paths this build and CPU can
 * run, the workspace each needs, and the calls, which check their arguments
 * and hand them to the BLAS path (blas_path.c) or to a SIMD file.
 */
#include <stdint.h>
#include <string.h>

#include "rnn/cells.h"
#include "base/internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#ifndef GATEDRNN_HAVE_GENERIC
#define GATEDRNN_HAVE_GENERIC 0
#endif
#ifndef GATEDRNN_HAVE_AVX2
#define GATEDRNN_HAVE_AVX2 0
#endif
#ifndef GATEDRNN_HAVE_AVX512
#define GATEDRNN_HAVE_AVX512 0
#endif

typedef struct simd_path {
    int (*forward)(int cell, const gr_forward_io *io, size_t ndirs, size_t N, size_t T, size_t D,
                   size_t H, void *workspace, size_t workspace_bytes, int flags, int nthreads);
    int (*backward)(int cell, const gr_backward_io *io, size_t ndirs, size_t N, size_t T,
                    size_t D, size_t H, void *workspace, size_t workspace_bytes, int flags,
                    int nthreads);
    size_t (*workspace)(int cell, size_t ndirs, int backward, int train, size_t N, size_t T,
                        size_t D, size_t H);
    int (*threads)(int cell, size_t ndirs, size_t N, size_t T, size_t D, size_t H);
    int (*matmul)(size_t M, size_t N, size_t K, const void *A, size_t a_rs, size_t a_cs,
                  const void *B, int b_transposed, void *C, size_t ldc, int accumulate,
                  const void *bias, void *workspace, size_t workspace_bytes, int nthreads);
    size_t (*matmul_workspace)(size_t M, size_t N, size_t K, int b_transposed);
    int (*affine_xent)(size_t M, size_t N, size_t K, const void *A, size_t a_rs, size_t a_cs,
                       const void *B, int b_transposed, const void *bias, const int64_t *target,
                       double *loss, void *workspace, size_t workspace_bytes, int nthreads);
    size_t (*affine_xent_workspace)(size_t M, size_t N, size_t K, int b_transposed);
    int (*fma_peak)(int nthreads, size_t iterations, double *flops, double *seconds);
    void (*gemm_blocking)(size_t M, size_t N, size_t K, size_t *out);
} simd_path;

#define SIMD_PATH(SFX_ISA)                                                              \
    {CAT(gr_simd_forward_, SFX_ISA), CAT(gr_simd_backward_, SFX_ISA),                   \
     CAT(gr_simd_workspace_, SFX_ISA), CAT(gr_simd_threads_, SFX_ISA),                  \
     CAT(gr_simd_matmul_, SFX_ISA), CAT(gr_simd_matmul_workspace_, SFX_ISA),             \
     CAT(gr_simd_affine_xent_, SFX_ISA), CAT(gr_simd_affine_xent_workspace_, SFX_ISA),   \
     CAT(gr_simd_fma_peak_, SFX_ISA), CAT(gr_simd_gemm_blocking_, SFX_ISA)}

/* paths[double_precision][path] */
static const simd_path paths[2][GR_NUM_PATHS] = {
    {
#if GATEDRNN_HAVE_GENERIC
        [GR_PATH_GENERIC] = SIMD_PATH(f32_generic),
#endif
#if GATEDRNN_HAVE_AVX2
        [GR_PATH_AVX2] = SIMD_PATH(f32_avx2),
#endif
#if GATEDRNN_HAVE_AVX512
        [GR_PATH_AVX512] = SIMD_PATH(f32_avx512),
#endif
    },
    {
#if GATEDRNN_HAVE_GENERIC
        [GR_PATH_GENERIC] = SIMD_PATH(f64_generic),
#endif
#if GATEDRNN_HAVE_AVX2
        [GR_PATH_AVX2] = SIMD_PATH(f64_avx2),
#endif
#if GATEDRNN_HAVE_AVX512
        [GR_PATH_AVX512] = SIMD_PATH(f64_avx512),
#endif
    },
};

/* Whether the CPU (and the OS, for the wide registers) supports a path's ISA. */
static int cpu_supports(int path)
{
#if (GATEDRNN_HAVE_AVX2 || GATEDRNN_HAVE_AVX512) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (path == GR_PATH_AVX2) return avx2;
    if (path == GR_PATH_AVX512)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
               && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    (void)path;
#endif
    return 0;
}

int gr_path_available(int path)
{
    switch (path) {
    case GR_PATH_BLAS: return 1;
    case GR_PATH_GENERIC: return GATEDRNN_HAVE_GENERIC;
    case GR_PATH_AVX2: return GATEDRNN_HAVE_AVX2 && cpu_supports(path);
    case GR_PATH_AVX512: return GATEDRNN_HAVE_AVX512 && cpu_supports(path);
    default: return 0;
    }
}

int gr_path_best(void)
{
    static gr_setting best = -2;  /* found once; threads that race find the same */
    int path = gr_setting_load(&best);
    if (path == -2) {
        path = GR_NUM_PATHS - 1;
        while (path > GR_PATH_BLAS && !gr_path_available(path)) path--;
        gr_setting_store(&best, path);
    }
    return path;
}

const char *gr_path_name(int path)
{
    switch (path) {
    case GR_PATH_AUTO: return "auto";
    case GR_PATH_BLAS: return "blas";
    case GR_PATH_GENERIC: return "generic";
    case GR_PATH_AVX2: return "avx2";
    case GR_PATH_AVX512: return "avx512";
    default: return "unknown";
    }
}

static gr_setting product_engine = GR_ENGINE_AUTO;

int gr_set_product_engine(int engine)
{
    const int previous = gr_setting_load(&product_engine);
    if (engine == GR_ENGINE_AUTO || engine == GR_ENGINE_PANELS || engine == GR_ENGINE_GOTO)
        gr_setting_store(&product_engine, engine);
    return previous;
}

int gr_product_engine(void) { return gr_setting_load(&product_engine); }

int gr_cell_gates(int cell) { return gr_cell(cell) ? gr_cell(cell)->gates : 0; }
int gr_cell_cache_width(int cell) { return gr_cell(cell) ? gr_cell(cell)->cache_width : 0; }
int gr_cell_bias_rows(int cell) { return gr_cell(cell) ? gr_cell(cell)->bias_rows : 0; }

size_t gr_workspace(int cell, int ndirs, int path, int double_precision, int backward,
                    int train, size_t N, size_t T, size_t D, size_t H)
{
    if (path == GR_PATH_AUTO) path = gr_path_best();
    if (path < 0 || path >= GR_NUM_PATHS || !gr_cell(cell) || ndirs < 1
        || ndirs > GR_MAX_DIRECTIONS || gr_check_sizes(N, T, D, H) != GR_OK)
        return SIZE_MAX;
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_workspace_f64(cell, (size_t)ndirs, backward, train, N, T, D, H)
                   : gr_blas_workspace_f32(cell, (size_t)ndirs, backward, train, N, T, D, H);
    const simd_path *p = &paths[double_precision != 0][path];
    if (!p->workspace) return SIZE_MAX;
    return p->workspace(cell, (size_t)ndirs, backward, train, N, T, D, H);
}

static int threads_for(const simd_path *p, int flags, int cell, size_t ndirs, size_t N,
                       size_t T, size_t D, size_t H)
{
    int wanted = gr_threads_in_effect();
    if (flags & GR_FLAG_ALL_THREADS) return wanted;
    int useful = p->threads(cell, ndirs, N, T, D, H);
    return useful < wanted ? useful : wanted;
}

/* What every call checks: the cell, the directions, the path and the sizes. */
static int check_call(int cell, int ndirs, int *path, int flags, size_t N, size_t T, size_t D,
                      size_t H)
{
    if (!gr_cell(cell) || ndirs < 1 || ndirs > GR_MAX_DIRECTIONS) return GR_ERR_BAD_ARGUMENT;
    if (*path == GR_PATH_AUTO) *path = gr_path_best();
    if (!gr_path_available(*path)) return GR_ERR_NO_PATH;
    if (*path == GR_PATH_BLAS && (flags & GR_FLAG_GEMM_ONLY)) return GR_ERR_NO_PATH;
    return gr_check_sizes(N, T, D, H);
}

int gr_forward(int cell, int double_precision, const gr_forward_io *dirs, int ndirs,
               size_t N, size_t T, size_t D, size_t H, void *workspace,
               size_t workspace_bytes, int path, int flags, const gr_blas *blas)
{
    int status = check_call(cell, ndirs, &path, flags, N, T, D, H);
    if (status != GR_OK) return status;
    if (!dirs) return GR_ERR_NULL_ARGUMENT;
    if (N == 0 || T == 0 || H == 0) return GR_OK;
    const gr_cell_layout *L = gr_cell(cell);
    for (int d = 0; d < ndirs; d++) {
        const gr_forward_io *io = &dirs[d];
        if (!io->hs || !io->Wh || !io->b || !io->h0 || (D > 0 && (!io->xs || !io->Wx))
            || (L->has_c && !io->c) || (io->cache == NULL) != (dirs[0].cache == NULL))
            return GR_ERR_NULL_ARGUMENT;
    }
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_forward_f64(cell, dirs, (size_t)ndirs, N, T, D, H, workspace,
                                         workspace_bytes, blas)
                   : gr_blas_forward_f32(cell, dirs, (size_t)ndirs, N, T, D, H, workspace,
                                         workspace_bytes, blas);
    const simd_path *p = &paths[double_precision != 0][path];
    return p->forward(cell, dirs, (size_t)ndirs, N, T, D, H, workspace, workspace_bytes, flags,
                      threads_for(p, flags, cell, (size_t)ndirs, N, T, D, H));
}

int gr_backward(int cell, int double_precision, const gr_backward_io *dirs, int ndirs,
                size_t N, size_t T, size_t D, size_t H, void *workspace,
                size_t workspace_bytes, int path, int flags, const gr_blas *blas)
{
    int status = check_call(cell, ndirs, &path, flags, N, T, D, H);
    if (status != GR_OK) return status;
    if (!dirs) return GR_ERR_NULL_ARGUMENT;
    const gr_cell_layout *L = gr_cell(cell);
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    const size_t GH = (size_t)L->gates * H;
    if (N == 0 || T == 0 || H == 0) {
        // An empty sequence has zero weight gradients and passes dh, dc through;
        // with H == 0 (but N, T, D > 0) nothing reaches xs, so dxs is zero too.
        for (int d = 0; d < ndirs; d++) {
            const gr_backward_io *io = &dirs[d];
            if (io->dxs) memset(io->dxs, 0, N * T * D * elsize);
            if (io->dWx) memset(io->dWx, 0, D * GH * elsize);
            if (io->dWh) memset(io->dWh, 0, H * GH * elsize);
            if (io->db) memset(io->db, 0, (size_t)L->bias_rows * GH * elsize);
        }
        return GR_OK;
    }
    for (int d = 0; d < ndirs; d++) {
        const gr_backward_io *io = &dirs[d];
        if (!io->dWh || !io->db || !io->dh || !io->cache || !io->dhs || !io->Wh || !io->h0
            || (L->has_c && (!io->dc || !io->c0))
            || (D > 0 && (!io->dxs || !io->dWx || !io->xs || !io->Wx)))
            return GR_ERR_NULL_ARGUMENT;
    }
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_backward_f64(cell, dirs, (size_t)ndirs, N, T, D, H, workspace,
                                          workspace_bytes, blas)
                   : gr_blas_backward_f32(cell, dirs, (size_t)ndirs, N, T, D, H, workspace,
                                          workspace_bytes, blas);
    const simd_path *p = &paths[double_precision != 0][path];
    return p->backward(cell, dirs, (size_t)ndirs, N, T, D, H, workspace, workspace_bytes, flags,
                       threads_for(p, flags, cell, (size_t)ndirs, N, T, D, H));
}

/* The SIMD path that runs a product, or NULL (the BLAS path, or none). */
static const simd_path *matmul_path(int *path, int double_precision)
{
    if (*path == GR_PATH_AUTO) *path = gr_path_best();
    if (*path == GR_PATH_BLAS || !gr_path_available(*path)) return NULL;
    const simd_path *p = &paths[double_precision != 0][*path];
    return p->matmul ? p : NULL;
}

size_t gr_matmul_workspace(int path, int double_precision, size_t M, size_t N, size_t K,
                           int b_transposed)
{
    const simd_path *p = matmul_path(&path, double_precision);
    return p ? p->matmul_workspace(M, N, K, b_transposed) : SIZE_MAX;
}

int gr_matmul(int path, int double_precision, size_t M, size_t N, size_t K, const void *A,
              size_t a_rs, size_t a_cs, const void *B, int b_transposed, void *C, size_t ldc,
              int accumulate, const void *bias, void *workspace, size_t workspace_bytes,
              int flags)
{
    const simd_path *p = matmul_path(&path, double_precision);
    if (!p) return GR_ERR_NO_PATH;
    if (M && N && (!C || ldc < N || (K && (!A || !B)))) return GR_ERR_NULL_ARGUMENT;
    // Threads worth waking, as for the recurrences: enough work to pay for it.
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    const int nthreads = flops >= 2e6 || (flags & GR_FLAG_ALL_THREADS) ? gr_threads_in_effect() : 1;
    return p->matmul(M, N, K, A, a_rs, a_cs, B, b_transposed, C, ldc, accumulate, bias,
                     workspace, workspace_bytes, nthreads);
}

size_t gr_affine_xent_workspace(int path, int double_precision, size_t M, size_t N, size_t K,
                                int b_transposed)
{
    const simd_path *p = matmul_path(&path, double_precision);
    return p ? p->affine_xent_workspace(M, N, K, b_transposed) : SIZE_MAX;
}

int gr_affine_xent(int path, int double_precision, size_t M, size_t N, size_t K, const void *A,
                   size_t a_rs, size_t a_cs, const void *B, int b_transposed, const void *bias,
                   const int64_t *target, double *loss, void *workspace, size_t workspace_bytes,
                   int flags)
{
    const simd_path *p = matmul_path(&path, double_precision);
    if (!p) return GR_ERR_NO_PATH;
    if (M && (!target || !loss || (K && (!A || !B)))) return GR_ERR_NULL_ARGUMENT;
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    const int nthreads = flops >= 2e6 || (flags & GR_FLAG_ALL_THREADS) ? gr_threads_in_effect() : 1;
    return p->affine_xent(M, N, K, A, a_rs, a_cs, B, b_transposed, bias, target, loss, workspace,
                          workspace_bytes, nthreads);
}

int gr_fma_peak(int path, int double_precision, int nthreads, size_t iterations, double *flops,
                double *seconds, double *wall)
{
    const simd_path *p = matmul_path(&path, double_precision);
    if (!p) return GR_ERR_NO_PATH;
    if (nthreads < 1 || nthreads > 64) return GR_ERR_BAD_ARGUMENT;
    if (!flops || !seconds || !wall) return GR_ERR_NULL_ARGUMENT;
    for (int t = 0; t < nthreads; t++) flops[t] = seconds[t] = 0;
    const double start = gr_seconds();
    int status = p->fma_peak(nthreads, iterations, flops, seconds);
    *wall = gr_seconds() - start;
    return status;
}

int gr_gemm_blocking(int path, int double_precision, size_t M, size_t N, size_t K,
                     size_t out[GR_GEMM_BLOCKING_FIELDS])
{
    const simd_path *p = matmul_path(&path, double_precision);
    if (!p) return GR_ERR_NO_PATH;
    if (!out) return GR_ERR_NULL_ARGUMENT;
    p->gemm_blocking(M, N, K, out);
    return GR_OK;
}
