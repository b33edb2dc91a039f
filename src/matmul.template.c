/*
 * C (M, N) (+)= A (M, K) @ B (K, N), or C = bias + A @ B with a bias row, on
 * the packed-product engine, for the
 * language model's affine layer (simd_path.template.c includes this per TYPE
 * and ISA). Its products then run on our thread pool, and no BLAS pool is
 * left spinning beside the recurrent kernels.
 *
 * A[i, k] = A[i*a_rs + k*a_cs]: any strides, so a transposed A costs nothing.
 * B comes either row-major and contiguous (rows N apart), read in place but
 * for a partial last vector, packed once as `tail`; or as B^T (N, K)
 * row-major and contiguous, packed into column panels first (an item per
 * panel).
 */

typedef struct FN(matmul) {
    FN(product) product;
    const TYPE *Bt;    /* B^T to pack, or NULL */
    TYPE *panels;      /* packed B, or the tail panel of an in-place B */
    const TYPE *B;     /* B read in place (needs_tail: its last panel from `panels`) */
    int needs_tail;
} FN(matmul);

/* Workspace elements: the packed panels of B^T, or the tail panel of B. */
static size_t FN(matmul_elements)(size_t N, size_t K, int b_transposed)
{
    if (b_transposed) return FN(count_panels)(N) * K * TILE_LD;
    return FN(has_partial_vector)(N) ? K * TILE_LD : 0;
}

size_t FN(gr_simd_matmul_workspace)(size_t M, size_t N, size_t K, int b_transposed)
{
    (void)M;
    size_t offset = 0;
    gr_take(&offset, FN(matmul_elements)(N, K, b_transposed), sizeof(TYPE));
    return offset;
}

static size_t FN(matmul_items)(const void *ctx, size_t phase)
{
    const FN(matmul) *m = ctx;
    if (phase == 0)  // packing
        return m->Bt ? FN(count_panels)(m->product.ncols) : m->needs_tail ? 1 : 0;
    return phase == 1 ? FN(product_items)(&m->product) : 0;
}

static void FN(matmul_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(matmul) *m = ctx;
    if (phase == 1) {
        FN(product_item)(&m->product, item);
    } else if (m->Bt) {
        FN(pack_transposed)(m->panels, m->Bt, m->product.ncols, m->product.K, item, item + 1);
    } else {
        FN(pack_tail_panel)(m->panels, m->B, m->product.K, m->product.ncols);
    }
}

int FN(gr_simd_matmul)(size_t M, size_t N, size_t K, const void *a, size_t a_rs, size_t a_cs,
                       const void *b, int b_transposed, void *c, size_t ldc, int accumulate,
                       const void *bias, void *workspace, size_t workspace_bytes, int nthreads)
{
    const TYPE *A = a, *B = b;
    TYPE *C = c;
    if (workspace_bytes < FN(gr_simd_matmul_workspace)(M, N, K, b_transposed))
        return GR_ERR_WORKSPACE;
    if (M == 0 || N == 0) return GR_OK;
    if (K == 0) {  // an empty sum: C stays (accumulate) or becomes 0 (or the bias)
        if (!accumulate)
            for (size_t i = 0; i < M; i++) {
                if (bias) memcpy(C + i * ldc, bias, N * sizeof(TYPE));
                else memset(C + i * ldc, 0, N * sizeof(TYPE));
            }
        return GR_OK;
    }
    FN(matmul) m = {0};
    m.panels = workspace;
    m.B = B;
    m.Bt = b_transposed ? B : NULL;
    m.needs_tail = !b_transposed && FN(has_partial_vector)(N);
    m.product = (FN(product)){M, K, N, A, a_rs, a_cs, b_transposed ? m.panels : B,
                              b_transposed, N, C, ldc, m.needs_tail ? m.panels : NULL,
                              0, 0, 0, 0, K, accumulate, bias, 1};
    FN(plan) plan = {&m, FN(matmul_items), FN(matmul_run), 0};
    plan.total = FN(count_items)(&plan, 2);
    gr_run_job(FN(work_job), &plan, nthreads);
    return GR_OK;
}
