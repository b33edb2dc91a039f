/*
 * The language model's evaluation loss without its scores in memory:
 *   loss[r] = logsumexp(s[r, :]) - s[r, target[r]],  s = A @ B + bias,
 * on the packed-product engine (simd_path.template.c includes this per TYPE
 * and ISA, after matmul.template.c, whose packing of B it shares).
 *
 * The scores (rows x the vocabulary) are the largest array of an evaluation
 * batch; here they live only tile by tile in a buffer. An item is a group of
 * column panels and a span of row blocks: for each row it keeps a running
 * maximum and sum of exp(s - maximum) across its panels (in panel order),
 * and leaves them per (row, group); the panel holding a row's target leaves
 * s[r, target]. A last phase combines each row's groups in order, so the
 * result does not depend on the thread count.
 */

#ifndef XENT_SPAN
#define XENT_SPAN 8     /* row blocks per item (their tiles stay in L1) */
#define XENT_GROUP 16   /* column panels per item: 1024 columns of floats (AVX-512) */
#define XENT_ROWS 64    /* rows per item of the combining phase */
#endif

typedef struct FN(xent) {
    FN(matmul) mm;            /* B's packing, and the product's shape (C unused) */
    const TYPE *bias;         /* or NULL */
    const int64_t *target;    /* M ids in [0, N) */
    double *loss;             /* M */
    TYPE *group_max;          /* (M, groups) */
    double *group_sum;        /* (M, groups) */
    TYPE *picked;             /* M: s[r, target[r]] */
    size_t panels, groups, blocks, spans;
} FN(xent);

/* A row-major B is read in place, but for a tail panel: there is no C to
 * write here, and packing 4 MB of Rnnlm's W each call cost more than it
 * saved (4.18 against 4.04 ms for an evaluation batch's loss). */
static int FN(xent_b_mode)(int b_transposed)
{
    return b_transposed ? B_TRANSPOSED_PACKED : B_IN_PLACE;
}

/* The workspace: B's panels, the (row, group) stats, the picked scores; returns its bytes. */
static size_t FN(xent_layout)(size_t M, size_t N, size_t K, int b_transposed, size_t off[4])
{
    size_t offset = 0;
    const size_t groups = (FN(count_panels)(N) + XENT_GROUP - 1) / XENT_GROUP;
    if (groups && M > SIZE_MAX / groups) return SIZE_MAX;
    off[0] = gr_take(&offset, FN(b_elements)(FN(xent_b_mode)(b_transposed), N, K), sizeof(TYPE));
    off[1] = gr_take(&offset, M * groups, sizeof(TYPE));
    off[2] = gr_take(&offset, M * groups, sizeof(double));
    off[3] = gr_take(&offset, M, sizeof(TYPE));
    return offset;
}

static size_t FN(xent_panels_workspace)(size_t M, size_t N, size_t K, int b_transposed)
{
    size_t off[4];
    return FN(xent_layout)(M, N, K, b_transposed, off);
}

/* The largest lane of v, as a tree of halvings. */
static inline TYPE FN(vmax)(V v)
{
    TYPE lanes[GW];
    FN(store)(lanes, v);
    for (int half = GW / 2; half > 0; half /= 2)
        for (int l = 0; l < half; l++) lanes[l] = lanes[l + half] > lanes[l] ? lanes[l + half] : lanes[l];
    return lanes[0];
}

/* A tile row's `width` scores into a row's running (maximum, sum of exp(s -
 * maximum)). Lanes past `width` (zero padding) are set to -inf first. NaN
 * scores: the comparisons skip them, exp keeps them, so the sum is NaN. */
static void FN(row_stats)(TYPE *row, size_t width, size_t nv, TYPE *max, double *sum)
{
    for (size_t j = width; j < nv * GW; j++) row[j] = -(TYPE)INFINITY;
    V vm = FN(load)(row);
    for (size_t v = 1; v < nv; v++) {
        const V x = FN(load)(row + v * GW);
        vm = FN(select)(FN(mask_lt)(vm, x), x, vm);
    }
    const TYPE m_panel = FN(vmax)(vm);
    if (m_panel > *max) {  // a new maximum rescales the sum so far
        *sum = *max == -(TYPE)INFINITY ? 0 : *sum * exp((double)*max - (double)m_panel);
        *max = m_panel;
    }
    V e = FN(splat)(0);
    const V m = FN(splat)(*max);
    for (size_t v = 0; v < nv; v++) e += FN(exp_nonpositive)(FN(load)(row + v * GW) - m);
    *sum += (double)FN(vsum)(e);
}

/* Panels [p_lo, p_hi) of row blocks [b_lo, b_hi): tiles of scores, folded
 * into each row's running stats, left per (row, group). */
static void FN(xent_item)(const FN(xent) *x, size_t group, size_t b_lo, size_t b_hi)
{
    const FN(product) *p = &x->mm.product;
    const size_t p_lo = group * XENT_GROUP, p_hi = FN(min)(x->panels, p_lo + XENT_GROUP);
    FN(tile_buffer) buf[XENT_SPAN];
    size_t r0[XENT_SPAN], mr[XENT_SPAN];
    TYPE run_max[XENT_SPAN * MR];
    double run_sum[XENT_SPAN * MR];
    for (size_t b = b_lo; b < b_hi; b++) FN(block)(p->M, x->blocks, b, &r0[b - b_lo], &mr[b - b_lo]);
    for (size_t i = 0; i < XENT_SPAN * MR; i++) run_max[i] = -(TYPE)INFINITY, run_sum[i] = 0;
    const size_t kc = FN(k_block)(p->K, KC);
    for (size_t panel = p_lo; panel < p_hi; panel++) {
        size_t c0, width, nv;
        FN(panel)(p->ncols, panel, &c0, &width, &nv);
        const int from_tail = !p->packed && width != nv * GW && p->tail;
        const TYPE *B = p->packed ? p->B + panel * p->K * TILE_LD : from_tail ? p->tail : p->B + c0;
        const size_t ldb = p->packed || from_tail ? nv * GW : p->ldb;
        for (size_t b = b_lo; b < b_hi; b++) {  // each tile starts from the bias
            TYPE *t = (TYPE *)buf[b - b_lo].v;
            for (size_t i = 0; i < mr[b - b_lo]; i++)
                for (size_t v = 0; v < nv; v++) {
                    const size_t n = FN(min)(GW, width - v * GW);
                    FN(store)(t + i * TILE_LD + v * GW,
                              x->bias ? FN(load_n)(x->bias + c0 + v * GW, n) : FN(splat)(0));
                }
        }
        for (size_t k0 = 0; k0 == 0 || k0 < p->K; k0 += kc) {
            const size_t kn = FN(min)(kc, p->K - k0);
            for (size_t b = b_lo; b < b_hi; b++) {
                const TYPE *A = p->A + r0[b - b_lo] * p->rs + k0 * p->cs;
                FN(tiles)[nv - 1][mr[b - b_lo] - 1](kn, A, p->rs, p->cs, B + k0 * ldb, ldb, GW,
                                                    (TYPE *)buf[b - b_lo].v, TILE_LD, 1);
            }
        }
        for (size_t b = b_lo; b < b_hi; b++)
            for (size_t i = 0; i < mr[b - b_lo]; i++) {
                const size_t r = r0[b - b_lo] + i, slot = (b - b_lo) * MR + i;
                TYPE *row = (TYPE *)buf[b - b_lo].v + i * TILE_LD;
                const size_t t = (size_t)x->target[r];
                if (t >= c0 && t < c0 + width) x->picked[r] = row[t - c0];
                FN(row_stats)(row, width, nv, &run_max[slot], &run_sum[slot]);
            }
    }
    for (size_t b = b_lo; b < b_hi; b++)
        for (size_t i = 0; i < mr[b - b_lo]; i++) {
            const size_t r = r0[b - b_lo] + i, slot = (b - b_lo) * MR + i;
            x->group_max[r * x->groups + group] = run_max[slot];
            x->group_sum[r * x->groups + group] = run_sum[slot];
        }
}

/* loss[r] for rows [r_lo, r_hi): the groups' stats combined in group order. */
static void FN(xent_combine)(const FN(xent) *x, size_t r_lo, size_t r_hi)
{
    for (size_t r = r_lo; r < r_hi; r++) {
        const TYPE *gm = x->group_max + r * x->groups;
        const double *gs = x->group_sum + r * x->groups;
        TYPE m = gm[0];
        for (size_t q = 1; q < x->groups; q++) m = gm[q] > m ? gm[q] : m;
        double sum = 0;
        for (size_t q = 0; q < x->groups; q++)
            if (gm[q] != -(TYPE)INFINITY) sum += gs[q] * exp((double)gm[q] - (double)m);
        if (m == -(TYPE)INFINITY) sum = 0;  // every score -inf (or NaN): log 0 below
        x->loss[r] = log(sum) - ((double)x->picked[r] - (double)m);
    }
}

static size_t FN(xent_items)(const void *ctx, size_t phase)
{
    const FN(xent) *x = ctx;
    if (phase == 0) return FN(matmul_items)(&x->mm, 0);  // packing B
    if (phase == 1) return x->groups * x->spans;
    return phase == 2 ? (x->mm.product.M + XENT_ROWS - 1) / XENT_ROWS : 0;
}

static void FN(xent_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(xent) *x = ctx;
    if (phase == 0) {
        FN(matmul_run)(&x->mm, 0, item);
    } else if (phase == 1) {
        const size_t s = item % x->spans, b_lo = s * XENT_SPAN;
        FN(xent_item)(x, item / x->spans, b_lo, FN(min)(x->blocks, b_lo + XENT_SPAN));
    } else {
        const size_t r_lo = item * XENT_ROWS;
        FN(xent_combine)(x, r_lo, FN(min)(x->mm.product.M, r_lo + XENT_ROWS));
    }
}

static void FN(xent_panels)(size_t M, size_t N, size_t K, const void *a, size_t a_rs,
                            size_t a_cs, const void *b, int b_transposed, const void *bias,
                            const int64_t *target, double *loss, void *workspace, int nthreads)
{
    size_t off[4];
    FN(xent_layout)(M, N, K, b_transposed, off);
    char *ws = workspace;
    FN(xent) x = {0};
    FN(matmul_init)(&x.mm, FN(xent_b_mode)(b_transposed), b, (TYPE *)(ws + off[0]), M, N, K, a,
                    a_rs, a_cs);
    x.bias = bias;
    x.target = target;
    x.loss = loss;
    x.group_max = (TYPE *)(ws + off[1]);
    x.group_sum = (double *)(ws + off[2]);
    x.picked = (TYPE *)(ws + off[3]);
    x.panels = FN(count_panels)(N);
    x.groups = (x.panels + XENT_GROUP - 1) / XENT_GROUP;
    x.blocks = FN(count_blocks)(M, MR);
    x.spans = (x.blocks + XENT_SPAN - 1) / XENT_SPAN;
    FN(plan) plan = {&x, FN(xent_items), FN(xent_run), 0};
    plan.total = FN(count_items)(&plan, 3);
    gr_run_job(FN(work_job), &plan, nthreads);
}

/* ---- on the Goto engine (gemm.h) ------------------------------------------ */

/*
 * The same losses with the Goto engine's micro-kernel: A packed in slivers
 * over all of K (a phase before); an item is a group of XENT_GOTO_GROUP
 * panels of GEMM_NR columns over every row. It packs each of its panels of B
 * over all of K (into its own part of the workspace: B is read from memory
 * once), then runs every sliver of A past it, each tile of scores summed over
 * all of K in one call and folded at once into its rows' running stats of
 * the group. No score reaches memory, and B's panel (K x GEMM_NR) stays in L2.
 */
#ifndef XENT_GOTO_GROUP
#define XENT_GOTO_GROUP 8 /* panels per item */
#define XENT_GOTO_FOLD 2  /* panels per fold of the row stats */
#endif

typedef struct FN(xent_goto) {
    FN(gemm) g;               /* A packed; B as given (row-major, or B^T) */
    TYPE *panels;             /* B's panels over all of K: panel p at p*K*GEMM_NR */
    const TYPE *bias;         /* or NULL */
    const int64_t *target;
    double *loss;
    TYPE *group_max;          /* (M, groups) */
    double *group_sum;        /* (M, groups) */
    TYPE *picked;             /* M */
    size_t groups;
} FN(xent_goto);

/* Measured side by side as for matmul.template.c's rule: BetterRnnlm's
 * evaluation batch, (350, 650) @ (650, 10000) tied, took 0.52 of the FMA peak
 * on the first engine and 0.62 on this one; Rnnlm's, (350, 100) @ (100, 10000),
 * whose time goes mostly to the exponentials, 0.38-0.39 on both. */
static int FN(xent_on_goto)(size_t M)
{
    const int engine = gr_product_engine();
    if (engine != GR_ENGINE_AUTO) return engine == GR_ENGINE_GOTO;
    return MATMUL_GOTO_BY_DEFAULT && M >= MATMUL_PACK_MIN_ROWS;
}

static size_t FN(xent_goto_layout)(FN(xent_goto) *x, size_t M, size_t N, size_t K, size_t off[5])
{
    x->g = (FN(gemm)){.M = M, .N = N, .k_len = K};
    FN(gemm_plan)(&x->g, 0);
    x->groups = FN(ceil_div)(x->g.blk.panels, XENT_GOTO_GROUP);
    size_t offset = 0;
    if (x->groups && M > SIZE_MAX / x->groups) return SIZE_MAX;
    off[0] = gr_take(&offset, FN(gemm_a_elements)(&x->g), sizeof(TYPE));
    off[1] = gr_take(&offset, FN(gemm_b_elements)(&x->g), sizeof(TYPE));
    off[2] = gr_take(&offset, M * x->groups, sizeof(TYPE));
    off[3] = gr_take(&offset, M * x->groups, sizeof(double));
    off[4] = gr_take(&offset, M, sizeof(TYPE));
    return offset;
}

/* Group q of panels over every row: tiles of scores folded into each row's
 * running (maximum, sum of exp) of the group, panel after panel. */
static void FN(xent_goto_item)(const FN(xent_goto) *x, size_t q)
{
    const FN(gemm) *g = &x->g;
    const size_t K = g->k_len, p_lo = q * XENT_GOTO_GROUP;
    const size_t p_hi = FN(min)(g->blk.panels, p_lo + XENT_GOTO_GROUP);
    for (size_t r = 0; r < g->M; r++) {
        x->group_max[r * x->groups + q] = -(TYPE)INFINITY;
        x->group_sum[r * x->groups + q] = 0;
    }
    // Tiles of XENT_GOTO_FOLD panels side by side: each row's stats fold
    // that many columns at a time (a rescale of the sum per fold, not per panel).
    _Alignas(64) TYPE tile[GEMM_MR * XENT_GOTO_FOLD * GEMM_NR];
    const size_t ld = XENT_GOTO_FOLD * GEMM_NR;
    for (size_t p0 = p_lo; p0 < p_hi; p0 += XENT_GOTO_FOLD) {
        const size_t p1 = FN(min)(p_hi, p0 + XENT_GOTO_FOLD), c0 = p0 * GEMM_NR;
        const size_t width = FN(min)(g->N, p1 * GEMM_NR) - c0, nv = FN(ceil_div)(width, GW);
        FN(gemm_pack_b)(g, p0, p1, 0, K, x->panels, K * GEMM_NR);
        for (size_t s = 0; s < g->blk.slivers; s++) {
            const size_t r0 = s * GEMM_MR, mr = FN(min)(GEMM_MR, g->M - r0);
            for (size_t p = p0; p < p1; p++) {
                const size_t c = p * GEMM_NR, w = FN(min)(GEMM_NR, g->N - c);
                UKERNEL_FULL(K, g->A_packed[0] + s * K * GEMM_MR, 1, GEMM_MR,
                             x->panels + p * K * GEMM_NR, tile + (c - c0), ld, mr, w,
                             x->bias ? GEMM_BIAS : GEMM_SET, x->bias ? x->bias + c : NULL, NULL);
            }
            for (size_t i = 0; i < mr; i++) {
                const size_t r = r0 + i, t = (size_t)x->target[r];
                TYPE *row = tile + i * ld;
                if (t - c0 < width) x->picked[r] = row[t - c0];  // t in [c0, c0 + width)
                FN(row_stats)(row, width, nv, &x->group_max[r * x->groups + q],
                              &x->group_sum[r * x->groups + q]);
            }
        }
    }
}

static size_t FN(xent_goto_items)(const void *ctx, size_t phase)
{
    const FN(xent_goto) *x = ctx;
    if (phase == 0) return FN(gemm_pack_a_items)(&x->g);
    if (phase == 1) return x->groups;
    return phase == 2 ? FN(ceil_div)(x->g.M, XENT_ROWS) : 0;
}

static void FN(xent_goto_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(xent_goto) *x = ctx;
    if (phase == 0) {
        FN(gemm_pack_item)(&x->g, 0, item);
    } else if (phase == 1) {
        FN(xent_goto_item)(x, item);
    } else {
        // The combining phase reads the same fields as the panels engine's.
        FN(xent) view = {0};
        view.group_max = x->group_max, view.group_sum = x->group_sum, view.picked = x->picked;
        view.loss = x->loss, view.groups = x->groups;
        const size_t r_lo = item * XENT_ROWS;
        FN(xent_combine)(&view, r_lo, FN(min)(x->g.M, r_lo + XENT_ROWS));
    }
}

static void FN(xent_goto_call)(size_t M, size_t N, size_t K, const TYPE *A, size_t a_rs,
                               size_t a_cs, const TYPE *B, int b_transposed, const TYPE *bias,
                               const int64_t *target, double *loss, char *workspace,
                               int nthreads)
{
    FN(xent_goto) x;
    size_t off[5];
    FN(xent_goto_layout)(&x, M, N, K, off);
    x.g.A = A, x.g.rs = a_rs, x.g.cs = a_cs;
    x.g.B = B, x.g.ldb = b_transposed ? K : N, x.g.b_transposed = b_transposed;
    x.g.A_packed[0] = (TYPE *)(workspace + off[0]);
    x.panels = (TYPE *)(workspace + off[1]);
    x.group_max = (TYPE *)(workspace + off[2]);
    x.group_sum = (double *)(workspace + off[3]);
    x.picked = (TYPE *)(workspace + off[4]);
    x.bias = bias, x.target = target, x.loss = loss;
    FN(plan) plan = {&x, FN(xent_goto_items), FN(xent_goto_run), 0};
    plan.total = FN(count_items)(&plan, 3);
    gr_run_job(FN(work_job), &plan, nthreads);
}

/* ---- the entry points ------------------------------------------------------ */

size_t FN(gr_simd_affine_xent_workspace)(size_t M, size_t N, size_t K, int b_transposed)
{
    if (FN(xent_on_goto)(M)) {
        FN(xent_goto) x;
        size_t off[5];
        return FN(xent_goto_layout)(&x, M, N, K, off);
    }
    return FN(xent_panels_workspace)(M, N, K, b_transposed);
}

int FN(gr_simd_affine_xent)(size_t M, size_t N, size_t K, const void *a, size_t a_rs,
                            size_t a_cs, const void *b, int b_transposed, const void *bias,
                            const int64_t *target, double *loss, void *workspace,
                            size_t workspace_bytes, int nthreads)
{
    if (workspace_bytes < FN(gr_simd_affine_xent_workspace)(M, N, K, b_transposed))
        return GR_ERR_WORKSPACE;
    if (M == 0) return GR_OK;
    if (N == 0) return GR_ERR_BAD_ARGUMENT;  // no class to be the target
    if (FN(xent_on_goto)(M))
        FN(xent_goto_call)(M, N, K, a, a_rs, a_cs, b, b_transposed, bias, target, loss, workspace,
                      nthreads);
    else
        FN(xent_panels)(M, N, K, a, a_rs, a_cs, b, b_transposed, bias, target, loss, workspace,
                        nthreads);
    return GR_OK;
}
