/*
 * The BLAS path, for one precision (blas_path.c includes this per TYPE): one
 * BLAS gemm per product of a time step, through SciPy's pointers, and the
 * cells' epilogues on one-lane vectors (lanes_scalar.h). The fallback where
 * the compiler cannot build the SIMD paths, and the plainest statement of
 * what every path computes. Layouts are those of the SIMD paths: a cache
 * from one path feeds the other's backward.
 */
#include "base/lanes_scalar.h"
#include "base/vector_math.h"
#include "rnn/cell_interface.h"
#include "rnn/cell_lstm.h"
#include "rnn/cell_gru.h"
#include "rnn/cell_rnn.h"
#include "rnn/cell_dispatch.h"

/*
 * Row-major C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C.
 * A column-major BLAS sees each row-major matrix transposed, so this is
 * C^T = op(B)^T @ op(A)^T: swap the operands and keep each one's flag.
 * Sizes were checked against INT_MAX by gr_check_sizes() before any call.
 */
static void FN(gemm)(const gr_blas *blas, char trans_a, char trans_b, size_t m, size_t n,
                     size_t k, const TYPE *A, size_t lda, const TYPE *B, size_t ldb, TYPE beta,
                     TYPE *C, size_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        // BLAS rejects a zero leading dimension; the product is empty anyway.
        for (size_t r = 0; r < m; r++) {
            TYPE *c_r = C + r * ldc;  // C[r, :]
            for (size_t j = 0; j < n; j++) c_r[j] = (beta == 0) ? 0 : beta * c_r[j];
        }
        return;
    }
    int im = (int)m, in = (int)n, ik = (int)k;
    int ilda = (int)lda, ildb = (int)ldb, ildc = (int)ldc;
    TYPE alpha = 1;
#if IS_FLOAT
    blas->sgemm(&trans_b, &trans_a, &in, &im, &ik, &alpha, (TYPE *)B, &ildb, (TYPE *)A, &ilda,
                &beta, C, &ildc);
#else
    blas->dgemm(&trans_b, &trans_a, &in, &im, &ik, &alpha, (TYPE *)B, &ildb, (TYPE *)A, &ilda,
                &beta, C, &ildc);
#endif
}

static int FN(have_gemm)(const gr_blas *blas)
{
    return blas && (IS_FLOAT ? blas->sgemm != NULL : blas->dgemm != NULL);
}

/* The BLAS path's workspace, in elements, for one direction of `rows` rows
 * of steps: forward (acc, inference x Wx, r * h) or backward (acc, carry,
 * r * h, dA). */
static size_t FN(blas_layout)(const gr_cell_layout *L, int backward, int train, size_t N,
                              size_t rows, size_t H, size_t off[4])
{
    const size_t GH = (size_t)L->gates * H;
    size_t offset = 0;
    if (!backward) {
        off[0] = gr_take(&offset, N * GH, sizeof(TYPE));                 // a step's product
        off[1] = gr_take(&offset, train ? 0 : rows * GH, sizeof(TYPE));  // x @ Wx
        off[2] = gr_take(&offset, L->r_h ? N * H : 0, sizeof(TYPE));
        off[3] = 0;
    } else {
        off[0] = gr_take(&offset, N * H, sizeof(TYPE));
        off[1] = gr_take(&offset, L->has_c ? 0 : N * H, sizeof(TYPE));
        off[2] = gr_take(&offset, L->r_h ? rows * H : 0, sizeof(TYPE));
        off[3] = gr_take(&offset, L->dA_in_cache ? 0 : rows * GH, sizeof(TYPE));
    }
    return offset;
}

size_t FN(gr_blas_workspace)(int cell, size_t ndirs, int backward, int train, size_t N,
                                    size_t T, size_t D, size_t H, size_t rows)
{
    (void)D, (void)T;
    const gr_cell_layout *L = FN(cell_layout)(cell);
    if (!L) return SIZE_MAX;
    size_t off[4];
    return gr_directions_bytes(FN(blas_layout)(L, backward, train, N, rows, H, off), ndirs);
}

static void FN(blas_forward_direction)(int cell, const gr_forward_io *io, size_t N, size_t T,
                                       size_t D, size_t H, const gr_steps *steps, char *ws,
                                       const size_t off[4], const gr_blas *blas)
{
    // hs (rows, H)   c (N, H) or NULL   cache (rows, CW*H) or NULL
    // xs (rows, D)   Wx (D, G*H)   Wh (H, G*H)   b (bias_rows, G*H)   h0 (N, H)
    // with rows (N, T), or packed (gr_steps)
    const gr_cell_layout *L = FN(cell_layout)(cell);
    const size_t GH = (size_t)L->gates * H, ldc = (size_t)L->cache_width * H;
    const size_t seq = gr_seq_stride(steps, T);
    TYPE *hs = io->hs, *c = io->c, *cache = io->cache;
    const TYPE *xs = io->xs, *Wx = io->Wx, *Wh = io->Wh, *b = io->b, *h0 = io->h0;
    TYPE *acc = (TYPE *)(ws + off[0]);
    TYPE *r_h = L->r_h ? (TYPE *)(ws + off[2]) : NULL;
    // x_t @ Wx for every (n, t) row at once: into the cache, or scratch.
    TYPE *gx = cache ? cache : (TYPE *)(ws + off[1]);
    const size_t ld_g = cache ? ldc : GH;
    FN(gemm)(blas, 'N', 'N', gr_rows(steps, N, T), GH, D, xs, D, Wx, GH, 0, gx, ld_g);

    for (size_t t = 0; t < T; t++) {
        // h_{t-1} is h0, or step t-1's rows of hs read in place (T*H apart, or H packed).
        const TYPE *h_prev = t ? hs + gr_row(steps, T, 0, t - 1) * H : h0;
        const size_t ld_h = t ? seq * H : H, running = gr_running(steps, N, t);
        TYPE *g = gx + gr_row(steps, T, 0, t) * ld_g;
        for (int p = 0; p < L->fwd_products; p++) {
            const size_t nq = (size_t)L->fwd[p].nq;
            const int from_r_h = L->fwd[p].operand == GR_OPERAND_R_H;
            FN(gemm)(blas, 'N', 'N', running, nq * H, H, from_r_h ? r_h : h_prev,
                     from_r_h ? H : ld_h, Wh + (size_t)L->fwd[p].q0 * H, GH, 0, acc, nq * H);
            FN(forward_rows) rows = {
                .g = g, .cache = cache ? g : NULL, .h_prev = h_prev,
                .h = hs + gr_row(steps, T, 0, t) * H, .c = c, .r_h = r_h, .b = b,
                .ld_g = seq * ld_g, .ld_h_prev = ld_h, .ld_h = seq * H, .acc_row = nq * H,
                .rows = running, .H = H,
            };
            FN(forward_epilogue)(cell, p, &rows, acc, H, H);
        }
    }
}

int FN(gr_blas_forward)(int cell, const gr_forward_io *io, size_t ndirs, size_t N,
                               size_t T, size_t D, size_t H, const gr_steps *steps,
                               void *workspace, size_t workspace_bytes, const gr_blas *blas)
{
    const gr_cell_layout *L = FN(cell_layout)(cell);
    if (!L || ndirs < 1 || ndirs > GR_MAX_DIRECTIONS) return GR_ERR_BAD_ARGUMENT;
    if (!FN(have_gemm)(blas)) return GR_ERR_NO_BLAS;
    size_t off[4], dir_bytes;
    const size_t per_dir = FN(blas_layout)(L, 0, io[0].cache != NULL, N, gr_rows(steps, N, T), H,
                                           off);
    int status = gr_directions_workspace(per_dir, ndirs, workspace, workspace_bytes, &dir_bytes);
    if (status != GR_OK) return status;
    for (size_t d = 0; d < ndirs; d++)
        FN(blas_forward_direction)(cell, &io[d], N, T, D, H, steps,
                                   (char *)workspace + d * dir_bytes, off, blas);
    return GR_OK;
}

/* acc (m, H) = dA of the first m sequences at step t, in the block ranges of
 * `sum`, times those rows of Wh^T. */
static void FN(blas_dh_product)(const gr_block_sum *sum, const TYPE *dA, size_t ldA,
                                const TYPE *Wh, size_t m, size_t T, size_t H, size_t GH,
                                const gr_steps *steps, size_t t, TYPE *acc, const gr_blas *blas)
{
    const TYPE *dA_t = dA + gr_row(steps, T, 0, t) * ldA;
    for (int r = 0; r < sum->count; r++) {
        const gr_blocks blk = sum->range[r];
        FN(gemm)(blas, 'N', 'T', m, H, (size_t)blk.n * H, dA_t + (size_t)blk.a0 * H,
                 gr_seq_stride(steps, T) * ldA, Wh + (size_t)blk.w0 * H, GH, r ? 1 : 0, acc, H);
    }
}

static void FN(blas_backward_direction)(int cell, const gr_backward_io *io, size_t N,
                                        size_t T, size_t D, size_t H, const gr_steps *steps,
                                        char *ws, const size_t off[4], const gr_blas *blas)
{
    // dxs (rows, D)   dWx (D, G*H)   dWh (H, G*H)   db (bias_rows, G*H)
    // dh, dc: (N, H) in/out   cache (rows, CW*H): activations in, dA and h_{t-1} out
    // dhs (rows, H)   xs (rows, D)   h0, c0: (N, H)
    // with rows (N, T), or packed (gr_steps)
    const gr_cell_layout *L = FN(cell_layout)(cell);
    const size_t GH = (size_t)L->gates * H, ldc = (size_t)L->cache_width * H;
    const size_t NT = gr_rows(steps, N, T);
    TYPE *cache = io->cache, *dh = io->dh;
    const TYPE *Wx = io->Wx, *Wh = io->Wh, *xs = io->xs;
    TYPE *acc = (TYPE *)(ws + off[0]);
    TYPE *carry = L->has_c ? io->dc : (TYPE *)(ws + off[1]);
    TYPE *r_h = L->r_h ? (TYPE *)(ws + off[2]) : NULL;
    TYPE *dA = L->dA_in_cache ? cache : (TYPE *)(ws + off[3]);
    const size_t ldA = L->dA_in_cache ? ldc : GH;
    if (!L->has_c) memset(carry, 0, N * H * sizeof(TYPE));

    for (size_t s = 0; s <= T * (size_t)L->bwd_products; s++) {  // the steps' products, then dh0
        const int last = s == T * (size_t)L->bwd_products, p = last ? 0 : (int)(s % L->bwd_products);
        const size_t t = last ? 0 : T - 1 - s / L->bwd_products;
        const size_t running = gr_running(steps, N, t);
        const size_t next = t + 1 < T ? gr_running(steps, N, t + 1) : 0;
        if (!last && p == 0) {
            // Sequences that go on to step t + 1 get dh_t through Wh; those
            // that end at t (all of them at T-1) start from dh_T.
            FN(blas_dh_product)(&L->bwd[0], dA, ldA, Wh, next, T, H, GH, steps, t + 1, acc, blas);
            memcpy(acc + next * H, dh + next * H, (running - next) * H * sizeof(TYPE));
        } else {
            FN(blas_dh_product)(&L->bwd[p], dA, ldA, Wh, running, T, H, GH, steps, t, acc, blas);
        }
        for (size_t n = 0; n < running; n++) {
            const size_t row = gr_row(steps, T, n, t);
            FN(backward_rows) rows = {
                .cache = cache + row * ldc, .dA = dA + row * ldA,
                .cache_prev = t ? cache + gr_row(steps, T, n, t - 1) * ldc : NULL,
                .cache_next = n < next ? cache + gr_row(steps, T, n, t + 1) * ldc : NULL,
                .h0 = (const TYPE *)io->h0 + n * H,
                .c0 = io->c0 ? (const TYPE *)io->c0 + n * H : NULL,
                .dhs = (const TYPE *)io->dhs + row * H, .carry = carry + n * H,
                .r_h = r_h ? r_h + row * H : NULL, .dh = dh + n * H, .H = H,
            };
            if (last) FN(first_epilogue)(cell, &rows, acc + n * H, H);
            else FN(backward_epilogue)(cell, p, &rows, acc + n * H, H);
        }
    }

    // The input and weight gradients as products over all N*T rows.
    FN(gemm)(blas, 'N', 'T', NT, D, GH, dA, ldA, Wx, GH, 0, io->dxs, D);
    FN(gemm)(blas, 'T', 'N', D, GH, NT, xs, D, dA, ldA, 0, io->dWx, GH);
    for (int term = 0; term < L->dwh_terms; term++) {
        const gr_blocks blk = L->dwh[term].blocks;
        const int from_r_h = L->dwh[term].operand == GR_OPERAND_R_H;
        const TYPE *A = from_r_h ? r_h : cache + (size_t)L->h_prev_block * H;
        FN(gemm)(blas, 'T', 'N', H, (size_t)blk.n * H, NT, A, from_r_h ? H : ldc,
                 dA + (size_t)blk.a0 * H, ldA, 0, (TYPE *)io->dWh + (size_t)blk.w0 * H, GH);
    }
    // db in double, since float sums over thousands of rows lose digits;
    // columns go in blocks so the rows are read in order.
    enum { DB_BLOCK = 256 };
    for (int row = 0; row < L->bias_rows; row++)
        for (size_t j0 = 0; j0 < GH; j0 += DB_BLOCK) {
            const size_t width = GH - j0 < DB_BLOCK ? GH - j0 : DB_BLOCK;
            double sum[DB_BLOCK] = {0};
            for (size_t j = 0, end, from; j < width; j = end) {
                end = gr_db_run(&L->db[row], j0 + j, j0 + width, H, &from) - j0;
                if (from == (size_t)-1) continue;
                for (size_t r = 0; r < NT; r++) {
                    const TYPE *dA_r = dA + r * ldA + from - j;  // dA[r, :], shifted to this run
                    for (size_t i = j; i < end; i++) sum[i] += (double)dA_r[i];
                }
            }
            for (size_t j = 0; j < width; j++) ((TYPE *)io->db)[row * GH + j0 + j] = (TYPE)sum[j];
        }
}

int FN(gr_blas_backward)(int cell, const gr_backward_io *io, size_t ndirs, size_t N,
                                size_t T, size_t D, size_t H, const gr_steps *steps,
                                void *workspace, size_t workspace_bytes, const gr_blas *blas)
{
    const gr_cell_layout *L = FN(cell_layout)(cell);
    if (!L || ndirs < 1 || ndirs > GR_MAX_DIRECTIONS) return GR_ERR_BAD_ARGUMENT;
    if (!FN(have_gemm)(blas)) return GR_ERR_NO_BLAS;
    size_t off[4], dir_bytes;
    const size_t per_dir = FN(blas_layout)(L, 1, 1, N, gr_rows(steps, N, T), H, off);
    int status = gr_directions_workspace(per_dir, ndirs, workspace, workspace_bytes, &dir_bytes);
    if (status != GR_OK) return status;
    for (size_t d = 0; d < ndirs; d++)
        FN(blas_backward_direction)(cell, &io[d], N, T, D, H, steps,
                                    (char *)workspace + d * dir_bytes, off, blas);
    return GR_OK;
}

#undef GW
#undef V
#undef IV

/* The language model's softmax cross-entropy, on the same exp. */
#include "lm/softmax.template.c"
