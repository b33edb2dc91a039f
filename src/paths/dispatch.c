/*
 * The public entry points (gatedrnn.h): which paths this build and CPU can
 * run, the workspace each needs, and the calls, which check their arguments
 * and hand them to the BLAS path (blas_path.c) or to a SIMD file. Sequences
 * of different lengths go to the paths packed (rnn/sequences.c).
 */
#include <stdint.h>
#include <string.h>

#include "rnn/cells.h"
#include "rnn/sequences.h"
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
                   size_t H, const gr_steps *steps, void *workspace, size_t workspace_bytes,
                   int flags, int nthreads);
    int (*backward)(int cell, const gr_backward_io *io, size_t ndirs, size_t N, size_t T,
                    size_t D, size_t H, const gr_steps *steps, void *workspace,
                    size_t workspace_bytes, int flags, int nthreads);
    size_t (*workspace)(int cell, size_t ndirs, int backward, int train, size_t N, size_t T,
                        size_t D, size_t H, size_t rows);
    int (*threads)(int cell, size_t ndirs, size_t rows, size_t D, size_t H);
    int (*matmul)(size_t M, size_t N, size_t K, const void *A, size_t a_rs, size_t a_cs,
                  const void *B, int b_transposed, void *C, size_t ldc, int accumulate,
                  const void *bias, void *workspace, size_t workspace_bytes, int nthreads);
    size_t (*matmul_workspace)(size_t M, size_t N, size_t K, int b_transposed);
    int (*affine_xent)(size_t M, size_t N, size_t K, const void *A, size_t a_rs, size_t a_cs,
                       const void *B, int b_transposed, const void *bias, const int64_t *target,
                       double *loss, void *workspace, size_t workspace_bytes, int nthreads);
    size_t (*affine_xent_workspace)(size_t M, size_t N, size_t K, int b_transposed);
} simd_path;

#define SIMD_PATH(SFX_ISA)                                                              \
    {CAT(gr_simd_forward_, SFX_ISA), CAT(gr_simd_backward_, SFX_ISA),                   \
     CAT(gr_simd_workspace_, SFX_ISA), CAT(gr_simd_threads_, SFX_ISA),                  \
     CAT(gr_simd_matmul_, SFX_ISA), CAT(gr_simd_matmul_workspace_, SFX_ISA),             \
     CAT(gr_simd_affine_xent_, SFX_ISA), CAT(gr_simd_affine_xent_workspace_, SFX_ISA)}

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

int gr_cell_gates(int cell) { return gr_cell(cell) ? gr_cell(cell)->gates : 0; }
int gr_cell_cache_width(int cell) { return gr_cell(cell) ? gr_cell(cell)->cache_width : 0; }
int gr_cell_bias_rows(int cell) { return gr_cell(cell) ? gr_cell(cell)->bias_rows : 0; }

/* The path's own workspace for T steps of `rows` rows (N*T, or the sum of the lengths). */
static size_t path_workspace(int cell, size_t ndirs, int path, int double_precision,
                             int backward, int train, size_t N, size_t T, size_t D, size_t H,
                             size_t rows)
{
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_workspace_f64(cell, ndirs, backward, train, N, T, D, H, rows)
                   : gr_blas_workspace_f32(cell, ndirs, backward, train, N, T, D, H, rows);
    const simd_path *p = &paths[double_precision != 0][path];
    if (!p->workspace) return SIZE_MAX;
    return p->workspace(cell, ndirs, backward, train, N, T, D, H, rows);
}

/*
 * What a call with lengths adds to the path's workspace: the layout of the
 * sequences, then per direction the packed copies of the per-step arrays
 * (forward: xs, hs; backward: dhs, xs, dxs) and the sorted states (forward:
 * h0, c; backward: h0, c0, dh, dc). Offsets into one direction's part in off[].
 */
enum { PACKED_STEPS_IN, PACKED_XS, PACKED_STEPS_OUT, SORTED_H0, SORTED_C0, SORTED_DH,
       SORTED_DC, PACKED_PARTS };

static size_t packed_layout(size_t N, size_t D, size_t H, size_t rows, int backward,
                            size_t elsize, size_t off[PACKED_PARTS])
{
    size_t offset = 0;
    off[PACKED_STEPS_IN] = gr_take(&offset, rows * H, elsize);  // hs (forward), dhs
    off[PACKED_XS] = gr_take(&offset, rows * D, elsize);
    off[PACKED_STEPS_OUT] = gr_take(&offset, backward ? rows * D : 0, elsize);  // dxs
    off[SORTED_H0] = gr_take(&offset, N * H, elsize);
    off[SORTED_C0] = gr_take(&offset, N * H, elsize);
    off[SORTED_DH] = gr_take(&offset, backward ? N * H : 0, elsize);
    off[SORTED_DC] = gr_take(&offset, backward ? N * H : 0, elsize);
    return offset;
}

/* The sum and the longest of the lengths. */
static void length_totals(const int64_t *lengths, size_t N, size_t *rows, size_t *longest)
{
    *rows = *longest = 0;
    for (size_t n = 0; n < N; n++) {
        *rows += (size_t)lengths[n];
        *longest = (size_t)lengths[n] > *longest ? (size_t)lengths[n] : *longest;
    }
}

/* Where the parts of a call with lengths start in the workspace: the
 * sequences' layout, the directions' packed arrays, then the path's own. */
typedef struct packed_workspace {
    size_t sequences, dirs, dir_bytes, path, total;
    size_t off[PACKED_PARTS];
} packed_workspace;

static packed_workspace packed_parts(int cell, size_t ndirs, int path, int double_precision,
                                     int backward, int train, size_t N, size_t T, size_t D,
                                     size_t H, const int64_t *lengths)
{
    packed_workspace w;
    size_t rows, longest, offset = 0;
    length_totals(lengths, N, &rows, &longest);
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    w.sequences = gr_take(&offset, gr_sequences_bytes(N, T), 1);
    w.dir_bytes = gr_directions_bytes(packed_layout(N, D, H, rows, backward, elsize, w.off), 1);
    w.dirs = gr_take(&offset, w.dir_bytes == SIZE_MAX ? SIZE_MAX / 4 : w.dir_bytes, ndirs);
    const size_t own = path_workspace(cell, ndirs, path, double_precision, backward, train, N,
                                      longest, D, H, rows);
    w.path = gr_take(&offset, own == SIZE_MAX ? SIZE_MAX / 2 : own, 1);
    w.total = own == SIZE_MAX || w.dir_bytes == SIZE_MAX ? SIZE_MAX : offset;
    return w;
}

size_t gr_workspace(int cell, int ndirs, int path, int double_precision, int backward,
                    int train, size_t N, size_t T, size_t D, size_t H, const int64_t *lengths)
{
    if (path == GR_PATH_AUTO) path = gr_path_best();
    if (path < 0 || path >= GR_NUM_PATHS || !gr_cell(cell) || ndirs < 1
        || ndirs > GR_MAX_DIRECTIONS || gr_check_sizes(N, T, D, H) != GR_OK)
        return SIZE_MAX;
    if (lengths)
        return packed_parts(cell, (size_t)ndirs, path, double_precision, backward, train, N, T, D,
                            H, lengths).total;
    return path_workspace(cell, (size_t)ndirs, path, double_precision, backward, train, N, T, D,
                          H, N * T);
}

static int threads_for(const simd_path *p, int flags, int cell, size_t ndirs, size_t rows,
                       size_t D, size_t H)
{
    int wanted = gr_threads_in_effect();
    if (flags & GR_FLAG_ALL_THREADS) return wanted;
    int useful = p->threads(cell, ndirs, rows, D, H);
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

/* Lengths in [0, T], and reversed directions only with lengths. */
static int check_lengths(const int64_t *lengths, const int *reversed, size_t stride, int ndirs,
                         size_t N, size_t T)
{
    for (int d = 0; d < ndirs; d++)
        if (!lengths && *(const int *)((const char *)reversed + (size_t)d * stride))
            return GR_ERR_BAD_ARGUMENT;
    for (size_t n = 0; lengths && n < N; n++)
        if (lengths[n] < 0 || (uint64_t)lengths[n] > T) return GR_ERR_BAD_ARGUMENT;
    return GR_OK;
}

/* The path's forward or backward over T steps, with steps NULL or packed. */
static int path_forward(int cell, int double_precision, const gr_forward_io *dirs, size_t ndirs,
                        size_t N, size_t T, size_t D, size_t H, const gr_steps *steps,
                        void *workspace, size_t workspace_bytes, int path, int flags,
                        const gr_blas *blas)
{
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_forward_f64(cell, dirs, ndirs, N, T, D, H, steps, workspace,
                                         workspace_bytes, blas)
                   : gr_blas_forward_f32(cell, dirs, ndirs, N, T, D, H, steps, workspace,
                                         workspace_bytes, blas);
    const simd_path *p = &paths[double_precision != 0][path];
    return p->forward(cell, dirs, ndirs, N, T, D, H, steps, workspace, workspace_bytes, flags,
                      threads_for(p, flags, cell, ndirs, gr_rows(steps, N, T), D, H));
}

static int path_backward(int cell, int double_precision, const gr_backward_io *dirs,
                         size_t ndirs, size_t N, size_t T, size_t D, size_t H,
                         const gr_steps *steps, void *workspace, size_t workspace_bytes,
                         int path, int flags, const gr_blas *blas)
{
    if (path == GR_PATH_BLAS)
        return double_precision
                   ? gr_blas_backward_f64(cell, dirs, ndirs, N, T, D, H, steps, workspace,
                                          workspace_bytes, blas)
                   : gr_blas_backward_f32(cell, dirs, ndirs, N, T, D, H, steps, workspace,
                                          workspace_bytes, blas);
    const simd_path *p = &paths[double_precision != 0][path];
    return p->backward(cell, dirs, ndirs, N, T, D, H, steps, workspace, workspace_bytes, flags,
                       threads_for(p, flags, cell, ndirs, gr_rows(steps, N, T), D, H));
}

/* The weight gradients of a backward with no step to go back through: zeros. */
static void zero_weight_gradients(const gr_cell_layout *L, const gr_backward_io *io, size_t D,
                                  size_t H, size_t elsize)
{
    const size_t GH = (size_t)L->gates * H;
    if (io->dWx) memset(io->dWx, 0, D * GH * elsize);
    if (io->dWh) memset(io->dWh, 0, H * GH * elsize);
    if (io->db) memset(io->db, 0, (size_t)L->bias_rows * GH * elsize);
}

/* With lengths: the workspace's parts, and the layout of the sequences in it. */
static int packed_start(packed_workspace *w, gr_sequences *s, int cell, size_t ndirs, int path,
                        int double_precision, int backward, int train, size_t N, size_t T,
                        size_t D, size_t H, const int64_t *lengths, void *workspace,
                        size_t workspace_bytes)
{
    *w = packed_parts(cell, ndirs, path, double_precision, backward, train, N, T, D, H, lengths);
    if (w->total == SIZE_MAX) return GR_ERR_TOO_LARGE;
    if (workspace_bytes < w->total || !workspace) return GR_ERR_WORKSPACE;
    gr_sequences_make(s, (char *)workspace + w->sequences, lengths, N, T);
    return GR_OK;
}

/* Direction d's part of the packed arrays. */
static char *packed_part(const packed_workspace *w, void *workspace, size_t d, int part)
{
    return (char *)workspace + w->dirs + d * w->dir_bytes + w->off[part];
}

static int packed_forward(int cell, int double_precision, const gr_forward_io *dirs,
                          size_t ndirs, size_t N, size_t T, size_t D, size_t H,
                          const int64_t *lengths, void *workspace, size_t workspace_bytes,
                          int path, int flags, const gr_blas *blas)
{
    const int has_c = gr_cell(cell)->has_c, train = dirs[0].cache != NULL;
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    const size_t row_h = H * elsize, row_x = D * elsize;
    packed_workspace w;
    gr_sequences s;
    int status = packed_start(&w, &s, cell, ndirs, path, double_precision, 0, train, N, T, D, H,
                              lengths, workspace, workspace_bytes);
    if (status != GR_OK) return status;
    gr_forward_io packed[GR_MAX_DIRECTIONS];
    for (size_t d = 0; d < ndirs; d++) {
        const gr_forward_io *io = &dirs[d];
        char *xs = packed_part(&w, workspace, d, PACKED_XS);
        char *h0 = packed_part(&w, workspace, d, SORTED_H0);
        char *c = packed_part(&w, workspace, d, SORTED_C0);
        if (D) gr_sequences_gather(&s, xs, io->xs, row_x, io->reversed);
        gr_sequences_sort(&s, h0, io->h0, row_h);
        if (has_c) gr_sequences_sort(&s, c, io->c, row_h);
        packed[d] = (gr_forward_io){
            .hs = packed_part(&w, workspace, d, PACKED_STEPS_IN), .c = has_c ? c : NULL,
            .cache = io->cache, .xs = xs, .Wx = io->Wx, .Wh = io->Wh, .b = io->b, .h0 = h0,
        };
    }
    // Only the steps that some sequence runs, over only the rows that run them.
    if (s.longest)
        status = path_forward(cell, double_precision, packed, ndirs, N, s.longest, D, H,
                              &s.steps, (char *)workspace + w.path, workspace_bytes - w.path,
                              path, flags, blas);
    if (status != GR_OK) return status;
    for (size_t d = 0; d < ndirs; d++) {
        const gr_forward_io *io = &dirs[d];
        gr_sequences_scatter(&s, io->hs, packed[d].hs, row_h, io->reversed);
        if (io->h) gr_sequences_last(&s, io->h, packed[d].hs, io->h0, row_h);
        if (has_c) gr_sequences_unsort(&s, io->c, packed[d].c, row_h);
    }
    return GR_OK;
}

static int packed_backward(int cell, int double_precision, const gr_backward_io *dirs,
                           size_t ndirs, size_t N, size_t T, size_t D, size_t H,
                           const int64_t *lengths, void *workspace, size_t workspace_bytes,
                           int path, int flags, const gr_blas *blas)
{
    const gr_cell_layout *L = gr_cell(cell);
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    const size_t row_h = H * elsize, row_x = D * elsize;
    packed_workspace w;
    gr_sequences s;
    int status = packed_start(&w, &s, cell, ndirs, path, double_precision, 1, 1, N, T, D, H,
                              lengths, workspace, workspace_bytes);
    if (status != GR_OK) return status;
    gr_backward_io packed[GR_MAX_DIRECTIONS];
    for (size_t d = 0; d < ndirs; d++) {
        const gr_backward_io *io = &dirs[d];
        char *dhs = packed_part(&w, workspace, d, PACKED_STEPS_IN);
        char *xs = packed_part(&w, workspace, d, PACKED_XS);
        char *h0 = packed_part(&w, workspace, d, SORTED_H0);
        char *c0 = packed_part(&w, workspace, d, SORTED_C0);
        char *dh = packed_part(&w, workspace, d, SORTED_DH);
        char *dc = packed_part(&w, workspace, d, SORTED_DC);
        gr_sequences_gather(&s, dhs, io->dhs, row_h, io->reversed);
        if (D) gr_sequences_gather(&s, xs, io->xs, row_x, io->reversed);
        gr_sequences_sort(&s, h0, io->h0, row_h);
        gr_sequences_sort(&s, dh, io->dh, row_h);
        if (L->has_c) {
            gr_sequences_sort(&s, c0, io->c0, row_h);
            gr_sequences_sort(&s, dc, io->dc, row_h);
        }
        packed[d] = (gr_backward_io){
            .dxs = packed_part(&w, workspace, d, PACKED_STEPS_OUT), .dWx = io->dWx,
            .dWh = io->dWh, .db = io->db, .dh = dh, .dc = L->has_c ? dc : NULL,
            .cache = io->cache, .dhs = dhs, .xs = xs, .Wx = io->Wx, .Wh = io->Wh, .h0 = h0,
            .c0 = L->has_c ? c0 : NULL,
        };
        if (!s.longest) zero_weight_gradients(L, io, D, H, elsize);  // dh, dc pass through
    }
    if (s.longest)
        status = path_backward(cell, double_precision, packed, ndirs, N, s.longest, D, H,
                               &s.steps, (char *)workspace + w.path, workspace_bytes - w.path,
                               path, flags, blas);
    if (status != GR_OK) return status;
    for (size_t d = 0; d < ndirs; d++) {
        const gr_backward_io *io = &dirs[d];
        if (D) gr_sequences_scatter(&s, io->dxs, packed[d].dxs, row_x, io->reversed);
        gr_sequences_unsort(&s, io->dh, packed[d].dh, row_h);
        if (L->has_c) gr_sequences_unsort(&s, io->dc, packed[d].dc, row_h);
    }
    return GR_OK;
}

int gr_forward(int cell, int double_precision, const gr_forward_io *dirs, int ndirs,
               size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
               void *workspace, size_t workspace_bytes, int path, int flags,
               const gr_blas *blas)
{
    int status = check_call(cell, ndirs, &path, flags, N, T, D, H);
    if (status != GR_OK) return status;
    if (!dirs) return GR_ERR_NULL_ARGUMENT;
    status = check_lengths(lengths, &dirs[0].reversed, sizeof *dirs, ndirs, N, T);
    if (status != GR_OK) return status;
    const gr_cell_layout *L = gr_cell(cell);
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    if (N == 0 || T == 0 || H == 0) {
        // Nothing runs: the last state is the first.
        for (int d = 0; d < ndirs; d++)
            if (dirs[d].h && dirs[d].h0 && N && H) memcpy(dirs[d].h, dirs[d].h0, N * H * elsize);
        return GR_OK;
    }
    for (int d = 0; d < ndirs; d++) {
        const gr_forward_io *io = &dirs[d];
        if (!io->hs || !io->Wh || !io->b || !io->h0 || (D > 0 && (!io->xs || !io->Wx))
            || (L->has_c && !io->c) || (io->cache == NULL) != (dirs[0].cache == NULL))
            return GR_ERR_NULL_ARGUMENT;
    }
    if (lengths)
        return packed_forward(cell, double_precision, dirs, (size_t)ndirs, N, T, D, H, lengths,
                              workspace, workspace_bytes, path, flags, blas);
    status = path_forward(cell, double_precision, dirs, (size_t)ndirs, N, T, D, H, NULL,
                          workspace, workspace_bytes, path, flags, blas);
    for (int d = 0; status == GR_OK && d < ndirs; d++)  // h_T = hs[:, T-1]
        for (size_t n = 0; dirs[d].h && n < N; n++)
            memcpy((char *)dirs[d].h + n * H * elsize,
                   (const char *)dirs[d].hs + (n * T + T - 1) * H * elsize, H * elsize);
    return status;
}

int gr_backward(int cell, int double_precision, const gr_backward_io *dirs, int ndirs,
                size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
                void *workspace, size_t workspace_bytes, int path, int flags,
                const gr_blas *blas)
{
    int status = check_call(cell, ndirs, &path, flags, N, T, D, H);
    if (status != GR_OK) return status;
    if (!dirs) return GR_ERR_NULL_ARGUMENT;
    status = check_lengths(lengths, &dirs[0].reversed, sizeof *dirs, ndirs, N, T);
    if (status != GR_OK) return status;
    const gr_cell_layout *L = gr_cell(cell);
    const size_t elsize = double_precision ? sizeof(double) : sizeof(float);
    if (N == 0 || T == 0 || H == 0) {
        // An empty sequence has zero weight gradients and passes dh, dc through;
        // with H == 0 (but N, T, D > 0) nothing reaches xs, so dxs is zero too.
        for (int d = 0; d < ndirs; d++) {
            if (dirs[d].dxs) memset(dirs[d].dxs, 0, N * T * D * elsize);
            zero_weight_gradients(L, &dirs[d], D, H, elsize);
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
    if (lengths)
        return packed_backward(cell, double_precision, dirs, (size_t)ndirs, N, T, D, H, lengths,
                               workspace, workspace_bytes, path, flags, blas);
    return path_backward(cell, double_precision, dirs, (size_t)ndirs, N, T, D, H, NULL,
                         workspace, workspace_bytes, path, flags, blas);
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
