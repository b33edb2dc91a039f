/*
 * C (M, N) (+)= A (M, K) @ B (K, N), or C = bias + A @ B with a bias row, on
 * the packed-product engine, for the language model's affine layer
 * (simd_path.template.c includes this per TYPE and ISA). Its products then
 * run on our thread pool, and no BLAS pool is left spinning beside the
 * recurrent kernels.
 *
 * A[i, k] = A[i*a_rs + k*a_cs]: any strides, so a transposed A costs nothing.
 * B comes row-major and contiguous (rows N apart), or as B^T (N, K)
 * row-major and contiguous. Either way it is packed into column panels
 * first (an item per panel), so that the micro-kernel reads each panel as
 * one contiguous stream, which the hardware prefetches; unpacked, a panel's
 * rows are N apart, a page or more each at the output layer's N = 10000.
 * A product of a few rows reads a row-major B in place instead, but for its
 * partial last vector (the `tail` panel): packing would cost more than the
 * product.
 */

/* Below this many rows a row-major B is read in place: packing copies all of
 * B, once, for the row blocks that then share it. */
#ifndef MATMUL_PACK_MIN_ROWS
#define MATMUL_PACK_MIN_ROWS (4 * MR)
/* The most packed B that rows of A read by columns sweep whole (about L2). */
#define MATMUL_ROW_ITEMS_MAX_B ((size_t)2 << 20)
enum { B_IN_PLACE, B_PACKED, B_TRANSPOSED_PACKED };
#endif

typedef struct FN(matmul) {
    FN(product) product;
    int b_mode;
    const TYPE *B;     /* B, or B^T with B_TRANSPOSED_PACKED */
    TYPE *panels;      /* the packed panels; B_IN_PLACE: its tail panel, if any */
} FN(matmul);

static int FN(b_mode)(size_t M, int b_transposed)
{
    if (b_transposed) return B_TRANSPOSED_PACKED;
    return M >= MATMUL_PACK_MIN_ROWS ? B_PACKED : B_IN_PLACE;
}

/* Workspace elements for B: its packed panels, or the tail panel of B in place. */
static size_t FN(b_elements)(int b_mode, size_t N, size_t K)
{
    if (b_mode != B_IN_PLACE) return FN(count_panels)(N) * K * TILE_LD;
    return FN(has_partial_vector)(N) ? K * TILE_LD : 0;
}

/* ---- on the Goto engine (gemm.h) ------------------------------------------ */

#ifndef MATMUL_PACK_A_MIN_N
/* Columns of C from which a row-major A is packed (and a product with a
 * phase per K block goes to the Goto engine at all). */
#define MATMUL_PACK_A_MIN_N 256
#endif

/*
 * Whether a product goes to the Goto engine: by the sizes (and the choice of
 * gr_set_product_engine), never by A's strides, so that the workspace's size
 * (which knows none) and the call agree. Measured side by side on a 2-core
 * Xeon (Emerald Rapids, AVX-512; 2 threads, fractions of the FMA peak by
 * process CPU time, medians of 7 rounds, the machine shared), first engine
 * -> Goto engine at the language models' shapes: (700, 100) @ (100, 10000)
 * 0.46 -> 0.54-0.58, x^T @ dout (100, 700) @ (700, 10000) 0.37 -> 0.44,
 * (350, 100) @ (100, 10000) 0.49 -> 0.64, (700, 650) @ (650, 10000) 0.61 ->
 * 0.70, the tied dW (10000, 700) @ (700, 650) 0.50 -> 0.56, dout @ W^T (700,
 * 10000) @ (10000, 650) 0.52 -> 0.57, (350, 650) @ (650, 10000) 0.53 -> 0.61;
 * but dout @ W^T (700, 10000) @ (10000, 100), a long K for a narrow C, 0.42-0.49
 * -> 0.35 (its K blocks as phases cost more than they save), as (700, 2000) @
 * (2000, 100), 0.61 -> 0.50: those stay on the first engine, as do products of
 * a few rows (fewer than MATMUL_PACK_MIN_ROWS), where the first reads B in place.
 * In float64, quiet: 0.44 -> 0.53, 0.36 -> 0.59, 0.50 -> 0.55 and 0.54 ->
 * 0.60 at dW, the tied dW, dx and the evaluation's product, 0.44 -> 0.46 at
 * Rnnlm's forward, but 0.60 -> 0.55 at BetterRnnlm's forward (two row
 * blocks there, B packed in a phase of its own): the Goto engine serves both
 * dtypes. The AVX2 path gains more (0.47-0.54 -> 0.62-0.71 at those shapes); the
 * generic one, SSE2 without FMA, loses (0.56-0.76 -> 0.46-0.67: its 6 x 2
 * tile spends a shuffle per broadcast) and stays on the first engine.
 */
#ifndef MATMUL_GOTO_BY_DEFAULT
#define MATMUL_GOTO_BY_DEFAULT (VBYTES > 16)
#endif
static int FN(matmul_on_goto)(size_t M, size_t N, size_t K, int b_transposed)
{
    (void)b_transposed;
    const int engine = gr_product_engine();
    if (engine != GR_ENGINE_AUTO) return engine == GR_ENGINE_GOTO;
    if (M < MATMUL_PACK_MIN_ROWS || !MATMUL_GOTO_BY_DEFAULT) return 0;
    FN(gemm) g = {.M = M, .N = N, .k_len = K};
    FN(gemm_plan)(&g, 1);
    return !(g.blk.phased && N < MATMUL_PACK_A_MIN_N);
}

/* The product (sizes, blocking) and where its packed A and B go (two
 * buffers each when phased); returns the workspace's bytes. */
static size_t FN(matmul_goto_layout)(FN(gemm) *g, size_t M, size_t N, size_t K, size_t off[4])
{
    *g = (FN(gemm)){.M = M, .N = N, .k_len = K};
    FN(gemm_plan)(g, 1);
    // Unphased, B's panels are packed once, in a phase before, when several
    // row blocks use them; else each item packs those it uses, as it goes.
    const int buffers = g->blk.phased ? 2 : 1;
    const int pack_b = g->blk.phased || g->blk.row_blocks > 1;
    size_t offset = 0;
    for (int k = 0; k < 2; k++) {
        off[k] = gr_take(&offset, k < buffers ? FN(gemm_a_elements)(g) : 0, sizeof(TYPE));
        off[2 + k] = gr_take(&offset, k < buffers && pack_b ? FN(gemm_b_elements)(g) : 0,
                             sizeof(TYPE));
    }
    return offset;
}

static size_t FN(goto_items)(const void *ctx, size_t phase)
{
    return FN(gemm_phase_items)(ctx, phase);
}

static void FN(goto_run)(const void *ctx, size_t phase, size_t item)
{
    FN(gemm_phase_run)(ctx, phase, item);
}

static void FN(matmul_goto)(size_t M, size_t N, size_t K, const TYPE *A, size_t a_rs,
                            size_t a_cs, const TYPE *B, int b_transposed, TYPE *C, size_t ldc,
                            int accumulate, const TYPE *bias, char *workspace, int nthreads)
{
    FN(gemm) g;
    size_t off[4];
    FN(matmul_goto_layout)(&g, M, N, K, off);
    g.A = A, g.rs = a_rs, g.cs = a_cs;
    g.B = B, g.ldb = b_transposed ? K : N, g.b_transposed = b_transposed;
    g.C = C, g.ldc = ldc;
    g.accumulate = accumulate, g.bias = bias;
    const int buffers = g.blk.phased ? 2 : 1;
    const int pack_b = g.blk.phased || g.blk.row_blocks > 1;
    // A row-major A is transposed as it is packed: that costs as much as the
    // product when B is narrow, and it is read in place instead (rows rs apart).
    const int pack_a = !(a_cs == 1 && N < MATMUL_PACK_A_MIN_N);
    for (int k = 0; k < buffers; k++) {
        g.A_packed[k] = pack_a ? (TYPE *)(workspace + off[k]) : NULL;
        g.B_packed[k] = pack_b ? (TYPE *)(workspace + off[2 + k]) : NULL;
    }
    g.a_in_items = pack_a && FN(gemm_a_in_items)(&g);
    FN(plan) plan = {&g, FN(goto_items), FN(goto_run), 0};
    plan.total = FN(count_items)(&plan, FN(gemm_phases)(&g));
    gr_run_job(FN(work_job), &plan, nthreads);
}

/* ---- the entry points ------------------------------------------------------ */

void FN(gr_simd_gemm_blocking)(size_t M, size_t N, size_t K, size_t *out)
{
    FN(gemm) g;
    size_t off[4];
    FN(matmul_goto_layout)(&g, M, N, K, off);
    const FN(blocking) *b = &g.blk;
    const size_t fields[GR_GEMM_BLOCKING_FIELDS] = {
        GEMM_MR, GEMM_NR, FN(gemm_kc)(), b->kc, b->k_blocks, b->mc, b->nc,
        b->row_blocks, b->col_blocks, (size_t)b->phased};
    memcpy(out, fields, sizeof fields);
}

size_t FN(gr_simd_matmul_workspace)(size_t M, size_t N, size_t K, int b_transposed)
{
    size_t offset = 0;
    if (FN(matmul_on_goto)(M, N, K, b_transposed)) {
        FN(gemm) g;
        size_t off[4];
        return FN(matmul_goto_layout)(&g, M, N, K, off);
    }
    gr_take(&offset, FN(b_elements)(FN(b_mode)(M, b_transposed), N, K), sizeof(TYPE));
    return offset;
}

/* B's handling (b_mode, panels in the workspace) and the product's operands
 * and shape; the caller sets the product's output fields. */
static void FN(matmul_init)(FN(matmul) *m, int b_mode, const TYPE *B, TYPE *panels, size_t M,
                            size_t N, size_t K, const TYPE *A, size_t a_rs, size_t a_cs)
{
    m->b_mode = b_mode;
    m->B = B;
    m->panels = panels;
    const int packed = b_mode != B_IN_PLACE;
    const TYPE *tail = !packed && FN(has_partial_vector)(N) ? panels : NULL;
    m->product = (FN(product)){M, K, N, A, a_rs, a_cs, packed ? panels : B, packed, N, NULL, 0,
                               tail, 0, 0, 0, 0, K, 0, NULL, 1};
}

static size_t FN(matmul_items)(const void *ctx, size_t phase)
{
    const FN(matmul) *m = ctx;
    const size_t N = m->product.ncols;
    if (phase == 0)  // packing
        return m->b_mode != B_IN_PLACE ? FN(count_panels)(N) : m->product.tail ? 1 : 0;
    return phase == 1 ? FN(panels_items)(&m->product) : 0;
}

static void FN(matmul_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(matmul) *m = ctx;
    const size_t N = m->product.ncols, K = m->product.K;
    if (phase == 1)
        FN(panels_item)(&m->product, item);
    else if (m->b_mode == B_TRANSPOSED_PACKED)
        FN(pack_transposed)(m->panels, m->B, N, K, item, item + 1);
    else if (m->b_mode == B_PACKED)
        FN(pack_panel)(m->panels + item * K * TILE_LD, m->B, K, N, item);
    else
        FN(pack_panel)(m->panels, m->B, K, N, FN(count_panels)(N) - 1);
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
    if (FN(matmul_on_goto)(M, N, K, b_transposed)) {
        FN(matmul_goto)(M, N, K, A, a_rs, a_cs, B, b_transposed, C, ldc, accumulate, bias,
                        workspace, nthreads);
        return GR_OK;
    }
    FN(matmul) m;
    FN(matmul_init)(&m, FN(b_mode)(M, b_transposed), B, workspace, M, N, K, A, a_rs, a_cs);
    // Packed panels go panel by panel (panel_major), each staying in L2 for
    // every row; but an A read down its columns (a transposed view: a page
    // per k at the tied output layer's dW) is better read once, its span of
    // rows kept in L2 across every panel, when all of packed B fits in L2.
    const int a_by_columns = a_rs == 1 && a_cs > 1;
    const size_t b_bytes = FN(count_panels)(N) * K * TILE_LD * sizeof(TYPE);
    m.product.panel_major = !(a_by_columns && b_bytes <= MATMUL_ROW_ITEMS_MAX_B);
    m.product.C = C;
    m.product.ldc = ldc;
    m.product.accumulate = accumulate;
    m.product.bias = bias;
    FN(plan) plan = {&m, FN(matmul_items), FN(matmul_run), 0};
    plan.total = FN(count_items)(&plan, 2);
    gr_run_job(FN(work_job), &plan, nthreads);
    return GR_OK;
}
