/*
 * The product engine after Goto and van de Geijn ("Anatomy of
 * high-performance matrix multiplication") and BLIS: five loops around a
 * micro-kernel (microkernel.h), with packing (pack.h) and block sizes and
 * loop order from the caches (blocking.h), for one precision and one
 * instruction set:
 *
 *   column blocks of NC panels (B's block, read from L3)          loop 5
 *   K blocks of KC rows, in order                                 loop 4
 *   row blocks of MC slivers (A's block, kept in L2)              loop 3
 *   panels of GEMM_NR columns (B's micro-panel, kept in L1)       loop 2
 *   slivers of GEMM_MR rows: the micro-kernel                     loop 1
 *
 * Items are (column block, row block) pairs; the K blocks run either inside
 * each item (which then owns its block of C over all of K) or as phases of
 * their own, each packing its blocks of A and B once for all its items
 * (blocking.h chooses). In both, every element of C belongs to one item at a
 * time and its K blocks are summed in order: results are bit-identical for
 * any thread count.
 *
 * C (+)= A @ B for C (M, N) in segments of M rows (segment s of A and C at
 * A + s*seg_a, C + s*seg_c), A[i, k] = A[i*rs + k*cs], B[k, j] = B[k*ldb + j]
 * or, b_transposed, B[j*ldb + k]; or C = bias + A @ B. Packed, A comes in
 * slivers and B in panels; unpacked, A is read in place (any strides) and
 * each item packs the panels of B it uses on its stack, as it goes.
 */

/* Slivers of A, and panels of B, per packing item. */
#define GEMM_PACK_SLIVERS 16
#define GEMM_PACK_PANELS 8

typedef struct FN(gemm) {
    size_t M, N;                /* rows per segment; columns */
    size_t k_lo, k_len;         /* rows of K summed; C is added to, not set, past k = 0 */
    const TYPE *A;
    size_t rs, cs;
    const TYPE *B;
    size_t ldb;
    int b_transposed;
    TYPE *C;
    size_t ldc;
    size_t segments;            /* 0 means 1 */
    size_t seg_a, seg_c;
    int accumulate;             /* C += A @ B from k = 0 too */
    const TYPE *bias;           /* or NULL: C = bias + A @ B, bias a row of N */
    /* Packed operands (or NULL): over all of K, slivers k_len * GEMM_MR apart
     * and panels k_len * GEMM_NR apart; or, phased, two buffers of one K
     * block each (slivers kc * GEMM_MR apart, panels kc * GEMM_NR apart),
     * block j in buffer j % 2. */
    TYPE *A_packed[2], *B_packed[2];
    /* With a single column block, each item packs its own slivers of A (over
     * all of K) as it starts, rather than a phase before: they are packed
     * once either way, and then used while still in L2. */
    int a_in_items;
    FN(blocking) blk;
} FN(gemm);

static inline size_t FN(gemm_slivers_per_segment)(const FN(gemm) *g)
{
    return (g->M + GEMM_MR - 1) / GEMM_MR;
}

/* The first element of sliver s's tile at column c0 of C. */
static inline TYPE *FN(gemm_c_at)(const FN(gemm) *g, size_t s, size_t c0)
{
    const size_t sps = FN(gemm_slivers_per_segment)(g);
    return g->C + s / sps * g->seg_c + s % sps * GEMM_MR * g->ldc + c0;
}

static inline const TYPE *FN(gemm_b_at)(const FN(gemm) *g, size_t k0, size_t c0)
{
    return g->b_transposed ? g->B + c0 * g->ldb + k0 : g->B + k0 * g->ldb + c0;
}

/* Set the blocking; call after the sizes are set. */
static void FN(gemm_plan)(FN(gemm) *g, int may_phase)
{
    const size_t segments = g->segments ? g->segments : 1;
    g->blk = FN(gemm_blocking)(FN(gemm_slivers_per_segment)(g) * segments, g->N, g->k_len,
                               may_phase);
}

/* Workspace elements of one buffer of packed A and of packed B (a K block's
 * when phased, all of K's otherwise); SIZE_MAX on overflow. */
static inline size_t FN(gemm_a_elements)(const FN(gemm) *g)
{
    const size_t k = g->blk.phased ? g->blk.kc : g->k_len, s = g->blk.slivers;
    return s && k > SIZE_MAX / GEMM_MR / s ? SIZE_MAX : s * k * GEMM_MR;
}

static inline size_t FN(gemm_b_elements)(const FN(gemm) *g)
{
    const size_t k = g->blk.phased ? g->blk.kc : g->k_len, p = g->blk.panels;
    return p && k > SIZE_MAX / GEMM_NR / p ? SIZE_MAX : p * k * GEMM_NR;
}

/* ---- packing --------------------------------------------------------------- */

/* Slivers [s, end) of A over K rows [k0, k0 + kn) into dst (slivers `stride`
 * apart), in runs within one segment each. */
static void FN(gemm_pack_a)(const FN(gemm) *g, size_t s, size_t end, size_t k0, size_t kn,
                            TYPE *dst, size_t stride)
{
    const size_t sps = FN(gemm_slivers_per_segment)(g);
    while (s < end) {
        const size_t seg = s / sps, first = s % sps, count = FN(min)(end - s, sps - first);
        const size_t r0 = first * GEMM_MR, rows = FN(min)(count * GEMM_MR, g->M - r0);
        FN(pack_slivers)(dst + s * stride, stride,
                         g->A + seg * g->seg_a + r0 * g->rs + k0 * g->cs, g->rs, g->cs, rows, kn);
        s += count;
    }
}

/* Panels [p, end) of B over K rows [k0, k0 + kn) into dst (panels `stride` apart). */
static void FN(gemm_pack_b)(const FN(gemm) *g, size_t p, size_t end, size_t k0, size_t kn,
                            TYPE *dst, size_t stride)
{
    for (; p < end; p++) {
        const size_t c0 = p * GEMM_NR;
        FN(pack_panel_b)(dst + p * stride, FN(gemm_b_at)(g, k0, c0), g->ldb, g->b_transposed,
                         kn, FN(min)(GEMM_NR, g->N - c0));
    }
}

static inline size_t FN(gemm_pack_a_items)(const FN(gemm) *g)
{
    return g->A_packed[0] && !g->a_in_items ? FN(ceil_div)(g->blk.slivers, GEMM_PACK_SLIVERS) : 0;
}

/* Whether the items can pack A themselves: one column block, over all of K. */
static inline int FN(gemm_a_in_items)(const FN(gemm) *g)
{
    return !g->blk.phased && g->blk.col_blocks == 1;
}

static inline size_t FN(gemm_pack_b_items)(const FN(gemm) *g)
{
    return g->B_packed[0] ? FN(ceil_div)(g->blk.panels, GEMM_PACK_PANELS) : 0;
}

/* Packing item x of K block kb (phased), or of all of K. */
static void FN(gemm_pack_item)(const FN(gemm) *g, size_t kb, size_t x)
{
    const FN(blocking) *b = &g->blk;
    const size_t k0 = b->phased ? g->k_lo + kb * b->kc : g->k_lo;
    const size_t kn = b->phased ? FN(min)(b->kc, g->k_lo + g->k_len - k0) : g->k_len;
    const size_t k_stride = b->phased ? b->kc : g->k_len, buffer = b->phased ? kb % 2 : 0;
    const size_t pack_a = FN(gemm_pack_a_items)(g);
    if (x < pack_a) {
        const size_t s = x * GEMM_PACK_SLIVERS;
        FN(gemm_pack_a)(g, s, FN(min)(b->slivers, s + GEMM_PACK_SLIVERS), k0, kn,
                        g->A_packed[buffer], k_stride * GEMM_MR);
    } else {
        const size_t p = (x - pack_a) * GEMM_PACK_PANELS;
        FN(gemm_pack_b)(g, p, FN(min)(b->panels, p + GEMM_PACK_PANELS), k0, kn,
                        g->B_packed[buffer], k_stride * GEMM_NR);
    }
}

/* ---- the product ------------------------------------------------------------ */

/* Where a panel of B comes from, unpacked: `rows` runs of `bytes` bytes,
 * `stride` bytes apart (K rows of B, or, transposed, its panel's rows of B^T). */
typedef struct FN(b_source) {
    const char *base;
    size_t rows, bytes, stride;
} FN(b_source);

static inline FN(b_source) FN(gemm_b_source)(const FN(gemm) *g, size_t k0, size_t kn, size_t c0)
{
    const size_t width = FN(min)(GEMM_NR, g->N - c0);
    const char *base = (const char *)FN(gemm_b_at)(g, k0, c0);
    if (g->b_transposed) return (FN(b_source)){base, width, kn * sizeof(TYPE), g->ldb * sizeof(TYPE)};
    return (FN(b_source)){base, kn, width * sizeof(TYPE), g->ldb * sizeof(TYPE)};
}

/* Part `part` of `parts` of a panel's source lines, fetched into L2: the next
 * panel's, a part after each micro-kernel call of this one, so that its
 * packing finds them there (a row-major B's rows may be pages apart, beyond
 * the hardware prefetcher's reach). */
static inline void FN(prefetch_b_part)(const FN(b_source) *src, size_t part, size_t parts)
{
    const size_t per_row = (src->bytes + 63) / 64, lines = src->rows * per_row;
    for (size_t l = lines * part / parts; l < lines * (part + 1) / parts; l++)
        __builtin_prefetch(src->base + l / per_row * src->stride + l % per_row * 64, 0, 2);
}

static size_t FN(gemm_items)(const FN(gemm) *g)
{
    if (g->M == 0 || g->N == 0) return 0;
    return g->blk.row_blocks * g->blk.col_blocks;
}

/* Item x over K blocks [kb_lo, kb_hi): row block x % row_blocks of column
 * block x / row_blocks. */
static void FN(gemm_item_blocks)(const FN(gemm) *g, size_t x, size_t kb_lo, size_t kb_hi)
{
    const FN(blocking) *b = &g->blk;
    const size_t cb = x / b->row_blocks, rb = x % b->row_blocks;
    const size_t s_lo = rb * b->mc, s_hi = FN(min)(b->slivers, s_lo + b->mc);
    const size_t p_lo = cb * b->nc, p_hi = FN(min)(b->panels, p_lo + b->nc);
    const size_t sps = FN(gemm_slivers_per_segment)(g);
    _Alignas(64) TYPE panel[GEMM_PANEL_BYTES_MAX / sizeof(TYPE)];
    if (g->a_in_items)
        FN(gemm_pack_a)(g, s_lo, s_hi, g->k_lo, g->k_len, g->A_packed[0], g->k_len * GEMM_MR);
    for (size_t kb = kb_lo; kb < kb_hi; kb++) {
        const size_t k0 = g->k_lo + kb * b->kc, kn = FN(min)(b->kc, g->k_lo + g->k_len - k0);
        const int mode = k0 > 0 || g->accumulate ? GEMM_ADD : g->bias ? GEMM_BIAS : GEMM_SET;
        // Packed operands: this K block's buffer (phased), or its rows of all of K.
        const size_t buffer = b->phased ? kb % 2 : 0, k_stride = b->phased ? b->kc : g->k_len;
        const size_t k_off = b->phased ? 0 : k0 - g->k_lo;
        for (size_t p = p_lo; p < p_hi; p++) {
            const size_t c0 = p * GEMM_NR, width = FN(min)(GEMM_NR, g->N - c0);
            const TYPE *bp = panel;
            if (g->B_packed[0])
                bp = g->B_packed[buffer] + (p * k_stride + k_off) * GEMM_NR;
            else
                FN(pack_panel_b)(panel, FN(gemm_b_at)(g, k0, c0), g->ldb, g->b_transposed, kn,
                                 width);
            const TYPE *bias = g->bias ? g->bias + c0 : NULL;
            // The next panel this item packs: the next one, or the first of the next K block.
            FN(b_source) next = {0};
            if (!g->B_packed[0] && (p + 1 < p_hi || kb + 1 < kb_hi)) {
                const size_t k1 = p + 1 < p_hi ? k0 : k0 + b->kc;
                next = FN(gemm_b_source)(g, k1, FN(min)(b->kc, g->k_lo + g->k_len - k1),
                                         p + 1 < p_hi ? c0 + GEMM_NR : p_lo * GEMM_NR);
            }
            for (size_t s = s_lo; s < s_hi; s++) {
                if (next.base) FN(prefetch_b_part)(&next, s - s_lo, s_hi - s_lo);
                const size_t seg = s / sps, r0 = s % sps * GEMM_MR;
                const size_t mr = FN(min)(GEMM_MR, g->M - r0);
                TYPE *c = g->C + seg * g->seg_c + r0 * g->ldc + c0;
                // The next tile: the next sliver's, or the next panel's first
                const TYPE *c_next = s + 1 < s_hi ? FN(gemm_c_at)(g, s + 1, c0)
                                     : p + 1 < p_hi ? FN(gemm_c_at)(g, s_lo, c0 + GEMM_NR) : NULL;
                if (g->A_packed[0]) {
                    UKERNEL_FULL(kn, g->A_packed[buffer] + (s * k_stride + k_off) * GEMM_MR, 1,
                                 GEMM_MR, bp, c, g->ldc, mr, width, mode, bias, c_next);
                    continue;
                }
                const TYPE *a = g->A + seg * g->seg_a + r0 * g->rs + k0 * g->cs;
                if (g->rs == 1 && mr == GEMM_MR)
                    UKERNEL_FULL(kn, a, 1, g->cs, bp, c, g->ldc, mr, width, mode, bias, c_next);
                else if (g->rs == 1)
                    FN(ukernels_1)[mr - 1](kn, a, 1, g->cs, bp, c, g->ldc, mr, width, mode, bias,
                                           c_next);
                else
                    FN(ukernels_rs)[mr - 1](kn, a, g->rs, g->cs, bp, c, g->ldc, mr, width, mode,
                                            bias, c_next);
            }
        }
    }
}

/* Item x over all of K (a product that is not phased). */
static void FN(gemm_item)(const FN(gemm) *g, size_t x)
{
    FN(gemm_item_blocks)(g, x, 0, g->blk.k_blocks);
}

/* ---- phases: a product that runs as a job of its own ----------------------- */

/* Phased: phase j packs K block j (j < k_blocks) and computes block j - 1
 * (j >= 1), buffers alternating. Otherwise: phase 0 packs, phase 1 computes. */
static size_t FN(gemm_phases)(const FN(gemm) *g)
{
    return g->blk.phased ? g->blk.k_blocks + 1 : 2;
}

static size_t FN(gemm_phase_items)(const FN(gemm) *g, size_t phase)
{
    const size_t pack = FN(gemm_pack_a_items)(g) + FN(gemm_pack_b_items)(g);
    if (!g->blk.phased) return phase == 0 ? pack : phase == 1 ? FN(gemm_items)(g) : 0;
    if (phase > g->blk.k_blocks) return 0;
    return (phase < g->blk.k_blocks ? pack : 0) + (phase ? FN(gemm_items)(g) : 0);
}

/* Packing items first: they feed the next phase, so they should finish early. */
static void FN(gemm_phase_run)(const FN(gemm) *g, size_t phase, size_t item)
{
    const size_t pack = FN(gemm_pack_a_items)(g) + FN(gemm_pack_b_items)(g);
    if (!g->blk.phased) {
        if (phase == 0) FN(gemm_pack_item)(g, 0, item);
        else FN(gemm_item)(g, item);
        return;
    }
    if (phase < g->blk.k_blocks) {
        if (item < pack) {
            FN(gemm_pack_item)(g, phase, item);
            return;
        }
        item -= pack;
    }
    FN(gemm_item_blocks)(g, item, phase - 1, phase);
}
