/*
 * The product engine's block sizes and loop order (gemm.h), per TYPE and
 * instruction set, from the caches read at run time (caches.c) and the
 * micro-kernel's shape. Everything here depends on the sizes and the caches,
 * never on the thread count.
 *
 *   KC  rows of K per block: a panel of B (KC x GEMM_NR) takes half of L1,
 *       and stays there while the slivers of A stream past it;
 *   MC  slivers of A per item: their block (MC*GEMM_MR x KC) stays in L2
 *       while the item's panels of B pass;
 *   NC  panels of B per item; the items of one column block follow one
 *       another, so that its rows of B come from L3 after the first item.
 *
 * Two loop orders. An item may own its block of C over all of K, summing
 * the K blocks itself (its block of C then stays in L2 across them: the
 * order for a short K and a wide C); or the K blocks may be phases, as in
 * BLIS, each packing its blocks of A and B once for all the items (the order
 * for a long K and a small C, whose items would otherwise each stream all of
 * A or all of B). The one that moves fewer elements through memory wins.
 */

#ifndef GEMM_MIN_ITEMS
#define GEMM_MIN_ITEMS 32    /* items of a product, when it is large enough */
#define GEMM_PHASE_ITEMS 16  /* items of a K block's phase */
/* The stack buffer of a panel of B (gemm.h) bounds KC. */
#define GEMM_PANEL_BYTES_MAX 32768
#define GEMM_KC_MAX_ANY 512
#endif
#define GEMM_KC_MAX (GEMM_PANEL_BYTES_MAX / (GEMM_NR * (int)sizeof(TYPE)) < GEMM_KC_MAX_ANY \
                     ? GEMM_PANEL_BYTES_MAX / (GEMM_NR * (int)sizeof(TYPE)) : GEMM_KC_MAX_ANY)

typedef struct FN(blocking) {
    size_t kc;          /* the length of the K blocks (near-equal, at most KC) */
    size_t k_blocks;
    size_t slivers;     /* slivers of GEMM_MR rows in all (every segment) */
    size_t panels;      /* panels of GEMM_NR columns */
    size_t mc, nc;      /* slivers and panels per item */
    size_t row_blocks, col_blocks;
    int phased;         /* a phase per K block, else items over all of K */
} FN(blocking);

/* KC for this machine: a panel of B in half of L1. */
static size_t FN(gemm_kc)(void)
{
    size_t bytes[3];
    gr_cache_sizes(bytes, NULL);
    size_t kc = bytes[0] / 2 / (GEMM_NR * sizeof(TYPE)) / 8 * 8;
    return kc < 16 ? 16 : kc > (size_t)GEMM_KC_MAX ? (size_t)GEMM_KC_MAX : kc;
}

static inline size_t FN(ceil_div)(size_t a, size_t b) { return (a + b - 1) / b; }

/* A read of an operand again, after its first from memory, costs this
 * fraction of the first when it stays in this core's share of L3. */
#define GEMM_REREAD_COST 0.25

/* This core's share of L3, at most 4 L2s: a virtual machine may report its
 * host's whole L3 (480 MB for 2 CPUs, measured), which it does not get. */
static size_t FN(l3_share)(const size_t bytes[3], const int shared_by[3])
{
    const size_t share = bytes[2] / (size_t)(shared_by[2] > 0 ? shared_by[2] : 1);
    return share < 4 * bytes[1] ? share : 4 * bytes[1];
}

/* The cost of reading an operand of n elements `times` times. */
static inline double FN(reads)(double n, double times, size_t l3)
{
    return n * (1 + (times - 1) * (n * sizeof(TYPE) <= l3 ? GEMM_REREAD_COST : 1));
}

/* The cost, in elements moved through memory, of items over all of K: A
 * once, and again per column block unless it stays in L2; B once, and again
 * per row block; C read and written once. */
static double FN(traffic_over_k)(const FN(blocking) *b, double a, double bb, double c, size_t l2,
                                 size_t l3)
{
    const double a_reads = a * sizeof(TYPE) <= l2 / 2 ? 1 : (double)b->col_blocks;
    return FN(reads)(a, a_reads, l3) + FN(reads)(bb, (double)b->row_blocks, l3) + 2 * c;
}

/* Items over all of K: of the (MC, NC) pairs that keep A's block (and, with
 * several K blocks, C's block beside it) in half of L2, the one that moves
 * the fewest elements among those giving GEMM_MIN_ITEMS items (or, for a
 * small product, the one giving the most items). NC runs from all the panels
 * through C's quarter of L2 down to 1, halving; MC from the most L2 holds. */
static void FN(items_over_k)(FN(blocking) *b, double a, double bb, double c, size_t l2,
                             size_t l3)
{
    const size_t sliver_bytes = GEMM_MR * sizeof(TYPE);
    size_t mc_l2 = l2 / 2 / (b->kc * sliver_bytes);
    mc_l2 = mc_l2 < 1 ? 1 : mc_l2 > b->slivers ? b->slivers : mc_l2;
    size_t nc_l2 = l2 / 4 / (mc_l2 * sliver_bytes * GEMM_NR);
    nc_l2 = nc_l2 < 1 ? 1 : nc_l2 > b->panels ? b->panels : nc_l2;
    FN(blocking) best = *b, t = *b;
    double best_traffic = 0;
    int found = 0;
    for (size_t nc = b->panels;; nc = nc > nc_l2 ? nc_l2 : (nc + 1) / 2) {
        size_t most = mc_l2;
        if (b->k_blocks > 1) {
            const size_t fit = l2 / 2 / (sliver_bytes * (b->kc + nc * GEMM_NR));
            most = fit < 1 ? 1 : fit < most ? fit : most;
        }
        for (size_t mc = most;; mc = (mc + 1) / 2) {
            t.mc = mc, t.nc = nc;
            t.row_blocks = FN(ceil_div)(b->slivers, mc);
            t.col_blocks = FN(ceil_div)(b->panels, nc);
            const size_t items = t.row_blocks * t.col_blocks;
            const size_t best_items = best.row_blocks * best.col_blocks;
            const double traffic = FN(traffic_over_k)(&t, a, bb, c, l2, l3);
            const int enough = items >= GEMM_MIN_ITEMS, best_enough = best_items >= GEMM_MIN_ITEMS;
            if (!found || (enough && !best_enough) || (enough && traffic < best_traffic)
                || (!enough && !best_enough && items > best_items)) {
                best = t, best_traffic = traffic, found = 1;
            }
            if (mc == 1) break;
        }
        if (nc == 1) break;
    }
    *b = best;
}

/*
 * The blocking of a product of `slivers` slivers of A, N columns and k_len
 * rows of K. may_phase: whether the caller can run a phase per K block
 * (the plain products can; a product inside the recurrence's phases cannot).
 */
static FN(blocking) FN(gemm_blocking)(size_t slivers, size_t N, size_t k_len, int may_phase)
{
    size_t bytes[3];
    int shared_by[3];
    gr_cache_sizes(bytes, shared_by);
    const size_t l2 = bytes[1], l3 = FN(l3_share)(bytes, shared_by);
    FN(blocking) b = {0};
    const size_t most = FN(gemm_kc)();
    b.k_blocks = k_len ? FN(ceil_div)(k_len, most) : 1;
    b.kc = k_len ? FN(ceil_div)(k_len, b.k_blocks) : 1;
    b.slivers = slivers;
    b.panels = FN(ceil_div)(N, GEMM_NR);
    if (slivers == 0 || b.panels == 0) {
        b.mc = b.nc = 1;
        return b;
    }
    const double a = (double)slivers * GEMM_MR * (double)k_len;
    const double bb = (double)k_len * (double)b.panels * GEMM_NR;
    const double c = (double)slivers * GEMM_MR * (double)b.panels * GEMM_NR;
    FN(items_over_k)(&b, a, bb, c, l2, l3);
    const double best = FN(traffic_over_k)(&b, a, bb, c, l2, l3);
    // A phase per K block: A and B packed once, C read and written per block
    // (unless it stays in L2).
    const double c_passes = c * sizeof(TYPE) <= l2 / 2 ? 1 : (double)b.k_blocks;
    if (may_phase && b.k_blocks > 1 && a + bb + 2 * FN(reads)(c, c_passes, l3) < best) {
        // A phase's items: about GEMM_PHASE_ITEMS, 4 row blocks (more if A's
        // block would not fit in half of L2) by as many column blocks.
        b.phased = 1;
        const size_t mc_l2 = l2 / 2 / (b.kc * GEMM_MR * sizeof(TYPE));
        b.mc = FN(ceil_div)(slivers, slivers < 4 ? slivers : 4);
        b.mc = mc_l2 < 1 ? 1 : b.mc < mc_l2 ? b.mc : mc_l2;
        b.row_blocks = FN(ceil_div)(slivers, b.mc);
        const size_t cols = FN(ceil_div)(GEMM_PHASE_ITEMS, b.row_blocks);
        b.nc = FN(ceil_div)(b.panels, cols < b.panels ? cols : b.panels);
        b.col_blocks = FN(ceil_div)(b.panels, b.nc);
    }
    return b;
}
