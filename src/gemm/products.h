/*
 * The packed-product engine, for one precision and one instruction set
 * (included per TYPE after lanes_vector.h; MR, the most rows of a
 * micro-kernel, comes from the simd_<isa>.c file):
 *   - the register-blocked micro-kernel (DEFINE_TILE): rows of A broadcast,
 *     up to 4 vectors of B per row, MR x NV accumulators in registers over
 *     the whole K loop;
 *   - the dot-product micro-kernel, for products with a few rows of A;
 *   - partitions of rows and column panels, and the packing of B;
 *   - the floating-point environment, workspaces, and jobs: work in phases
 *     of items that threads claim (threads.c);
 *   - products with a plain output (C (+)= A @ B), split into items (the
 *     first engine's; product.h chooses between it and gemm.h's).
 * Every output element is computed by one thread, in an order fixed by the
 * sizes alone: results are bit-identical for any thread count.
 */

#define KC 512 /* K block of products over packed B: a panel block stays in L2 */
/* Rows of B a micro-kernel prefetches ahead: B streams from L2 (a group panel
 * of Wh at H = 650 is 166 KB), and on a Xeon (Emerald Rapids) the hardware
 * prefetcher left the kernels 10% slower at (20,35,650,650) without it. */
#define PREFETCH_ROWS 8

/* Micro-kernel instances for rows 1 .. MR (see DEFINE_TILE). */
#ifndef TILE_NAME
#define TILE_NAME(MR, NV) FN(CAT(CAT(CAT(tile_, MR), x), NV))
#define TILES_UP_TO_1(NV) DEFINE_TILE(1, NV)
#define ENTRIES_UP_TO_1(NV) TILE_NAME(1, NV)
#define TILES_UP_TO_2(NV) TILES_UP_TO_1(NV) DEFINE_TILE(2, NV)
#define ENTRIES_UP_TO_2(NV) ENTRIES_UP_TO_1(NV), TILE_NAME(2, NV)
#define TILES_UP_TO_3(NV) TILES_UP_TO_2(NV) DEFINE_TILE(3, NV)
#define ENTRIES_UP_TO_3(NV) ENTRIES_UP_TO_2(NV), TILE_NAME(3, NV)
#define TILES_UP_TO_4(NV) TILES_UP_TO_3(NV) DEFINE_TILE(4, NV)
#define ENTRIES_UP_TO_4(NV) ENTRIES_UP_TO_3(NV), TILE_NAME(4, NV)
#define TILES_UP_TO_5(NV) TILES_UP_TO_4(NV) DEFINE_TILE(5, NV)
#define ENTRIES_UP_TO_5(NV) ENTRIES_UP_TO_4(NV), TILE_NAME(5, NV)
#define TILES_UP_TO_6(NV) TILES_UP_TO_5(NV) DEFINE_TILE(6, NV)
#define ENTRIES_UP_TO_6(NV) ENTRIES_UP_TO_5(NV), TILE_NAME(6, NV)
#define TILES_UP_TO_7(NV) TILES_UP_TO_6(NV) DEFINE_TILE(7, NV)
#define ENTRIES_UP_TO_7(NV) ENTRIES_UP_TO_6(NV), TILE_NAME(7, NV)
#define TILES_UP_TO_8(NV) TILES_UP_TO_7(NV) DEFINE_TILE(8, NV)
#define ENTRIES_UP_TO_8(NV) ENTRIES_UP_TO_7(NV), TILE_NAME(8, NV)
#endif
#if MR < 1 || MR > 8
#error "MR must be 1 .. 8"
#endif

/* ---- the micro-kernel --------------------------------------------------- */

/*
 * C[i, v*GW + l] (+)= sum_k A[i*rs + k*cs] * B[k*ldb + v*vs + l]
 * for rows i < MR and vectors v < NV; C rows are ldc apart. With
 * accumulate == 0, C is overwritten.
 */
typedef void (*FN(tile_fn))(size_t K, const TYPE *A, size_t rs, size_t cs, const TYPE *B,
                            size_t ldb, size_t vs, TYPE *C, size_t ldc, int accumulate);

#define DEFINE_TILE(MR, NV)                                                                 \
    static void TILE_NAME(MR, NV)(size_t K, const TYPE *restrict A, size_t rs, size_t cs,  \
                                  const TYPE *restrict B, size_t ldb, size_t vs,           \
                                  TYPE *restrict C, size_t ldc, int accumulate)            \
    {                                                                                       \
        V acc[MR][NV];                                                                    \
        if (accumulate) {                                                                   \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                          \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                       \
                    acc[i][v] = FN(load)(C + i * ldc + v * GW);                             \
        } else {                                                                            \
            /* C's lines are fetched for writing while the K loop runs: the stores */       \
            /* at the end then find them in L1 rather than stall on memory. */              \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                        \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                     \
                    __builtin_prefetch(C + i * ldc + v * GW, 1, 3);                         \
                    acc[i][v] = (V){0};                                                     \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        for (size_t k = 0; k < K; k++) {                                                    \
            const TYPE *a_k = A + k * cs;  /* A[:, k] */                                    \
            const TYPE *b_k = B + k * ldb; /* B[k, :] */                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                __builtin_prefetch(b_k + PREFETCH_ROWS * ldb + v * vs);                     \
            V b[NV];                                                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) b[v] = FN(load)(b_k + v * vs); \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                        \
                TYPE a = a_k[i * rs];                                                       \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] += a * b[v]; \
            }                                                                               \
        }                                                                                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                FN(store)(C + i * ldc + v * GW, acc[i][v]);                                \
    }

CAT(TILES_UP_TO_, MR)(1)
CAT(TILES_UP_TO_, MR)(2)
CAT(TILES_UP_TO_, MR)(3)
CAT(TILES_UP_TO_, MR)(4)

/* tiles[NV - 1][rows - 1]: the micro-kernel for rows x NV vectors. */
static const FN(tile_fn) FN(tiles)[4][MR] = {
    {CAT(ENTRIES_UP_TO_, MR)(1)},
    {CAT(ENTRIES_UP_TO_, MR)(2)},
    {CAT(ENTRIES_UP_TO_, MR)(3)},
    {CAT(ENTRIES_UP_TO_, MR)(4)},
};

/* A tile's scratch: up to MR rows of 4 vectors. */
typedef struct FN(tile_buffer) {
    V v[MR][4];
} FN(tile_buffer);
#define TILE_LD (4 * GW)

/* ---- the dot-product micro-kernel (small row counts, no packing) ----------- */

/* The sum of the lanes of v, as a tree of halvings (a fixed order). */
static inline TYPE FN(vsum)(V v)
{
#if VBYTES / TYPE_BYTES == 16
    v += __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
#elif VBYTES / TYPE_BYTES == 8
    v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
#elif VBYTES / TYPE_BYTES == 4
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2);
#elif VBYTES / TYPE_BYTES == 2
    v += __builtin_shufflevector(v, v, 1, 0);
#endif
    return v[0];
}

/*
 * C[i*ldc + j] = sum_k A[i*lda + k] * B[j*ldb + k] for i < MA, j < NB: dot
 * products of rows, vectors along k, summed across lanes at the end. For
 * products with a few rows of A, where packing B would cost more than the
 * product (dh = dA @ Wh^T and dxs = dA @ Wx^T read Wh and Wx in place).
 */
typedef void (*FN(dot_fn))(size_t K, const TYPE *A, size_t lda, const TYPE *B, size_t ldb,
                           TYPE *C, size_t ldc);

#define DEFINE_DOT(MA, NB)                                                                  \
    static void FN(CAT(CAT(CAT(dot_, MA), x), NB))(size_t K, const TYPE *restrict A,        \
                                                   size_t lda, const TYPE *restrict B,      \
                                                   size_t ldb, TYPE *restrict C, size_t ldc) \
    {                                                                                       \
        V acc[MA][NB];                                                                    \
        for (int i = 0; i < MA; i++)                                                        \
            for (int j = 0; j < NB; j++) acc[i][j] = (V){0};                              \
        size_t k = 0;                                                                       \
        for (; k + GW <= K; k += GW) {                                                      \
            V a[MA], b[NB];                                                               \
            _Pragma("GCC unroll 8") for (int i = 0; i < MA; i++) a[i] = FN(load)(A + i * lda + k); \
            _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) b[j] = FN(load)(B + j * ldb + k); \
            _Pragma("GCC unroll 8") for (int i = 0; i < MA; i++)                           \
                _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) acc[i][j] += a[i] * b[j]; \
        }                                                                                   \
        if (k < K) { /* the last, partial vector */                                         \
            V a[MA], b[NB];                                                               \
            for (int i = 0; i < MA; i++) a[i] = FN(load_n)(A + i * lda + k, K - k);        \
            for (int j = 0; j < NB; j++) b[j] = FN(load_n)(B + j * ldb + k, K - k);        \
            for (int i = 0; i < MA; i++)                                                    \
                for (int j = 0; j < NB; j++) acc[i][j] += a[i] * b[j];                      \
        }                                                                                   \
        for (int i = 0; i < MA; i++)                                                        \
            for (int j = 0; j < NB; j++) C[i * ldc + j] = FN(vsum)(acc[i][j]);              \
    }

#define DOT_MA 4 /* rows of A per dot tile: the dot paths serve at most this many */
#define DOT_NB 6 /* rows of B per dot tile */
#define DOTS_FOR(MA) DEFINE_DOT(MA, 1) DEFINE_DOT(MA, 2) DEFINE_DOT(MA, 3) \
                     DEFINE_DOT(MA, 4) DEFINE_DOT(MA, 5) DEFINE_DOT(MA, 6)
DOTS_FOR(1)
DOTS_FOR(2)
DOTS_FOR(3)
DOTS_FOR(4)
#define DOT_ROW(MA) {FN(CAT(CAT(dot_, MA), x1)), FN(CAT(CAT(dot_, MA), x2)), \
                     FN(CAT(CAT(dot_, MA), x3)), FN(CAT(CAT(dot_, MA), x4)), \
                     FN(CAT(CAT(dot_, MA), x5)), FN(CAT(CAT(dot_, MA), x6))}

/* dots[MA - 1][NB - 1] */
static const FN(dot_fn) FN(dots)[DOT_MA][DOT_NB] = {DOT_ROW(1), DOT_ROW(2), DOT_ROW(3),
                                                    DOT_ROW(4)};

/* C (M, ncols) = A (M, K) @ B^T for B (ncols, K), rows lda, ldb, ldc apart, M <= DOT_MA. */
static void FN(dot_rows)(size_t M, size_t ncols, size_t K, const TYPE *A, size_t lda,
                         const TYPE *B, size_t ldb, TYPE *C, size_t ldc)
{
    for (size_t j = 0; j < ncols; j += DOT_NB)
        FN(dots)[M - 1][FN(min)(DOT_NB, ncols - j) - 1](K, A, lda, B + j * ldb, ldb, C + j, ldc);
}

/* ---- partitions ---------------------------------------------------------- */

static inline size_t FN(count_blocks)(size_t M, size_t max_rows)
{
    return (M + max_rows - 1) / max_rows;
}

/* Block b of M rows cut into nb blocks of near-equal size (each <= max_rows). */
static inline void FN(block)(size_t M, size_t nb, size_t b, size_t *start, size_t *rows)
{
    size_t base = M / nb, extra = M % nb;
    *start = b * base + (b < extra ? b : extra);
    *rows = base + (b < extra);
}

/* Thread tid's share [lo, hi) of n items. */
static inline void FN(share)(size_t n, int tid, int nthreads, size_t *lo, size_t *hi)
{
    *lo = n / nthreads * tid + (n % nthreads < (size_t)tid ? n % nthreads : (size_t)tid);
    *hi = *lo + n / nthreads + ((size_t)tid < n % nthreads);
}

/*
 * Column panels: ncols columns cut into ceil(vectors / 4) panels of as even a
 * number of vectors as possible (3 or 4 when there are enough), so that no
 * product ends with a narrow, slow panel. Panel p starts at column *c0 and
 * has *nv vectors holding *width columns (the last vector may be partial).
 */
static inline size_t FN(count_panels)(size_t ncols) { return ((ncols + GW - 1) / GW + 3) / 4; }

static inline void FN(panel)(size_t ncols, size_t p, size_t *c0, size_t *width, size_t *nv)
{
    const size_t vectors = (ncols + GW - 1) / GW;
    size_t v0;
    FN(block)(vectors, FN(count_panels)(ncols), p, &v0, nv);
    *c0 = v0 * GW;
    *width = FN(min)(*nv * GW, ncols - *c0);
}

/* ---- packing ------------------------------------------------------------ */

/*
 * The panel of group g of nq gate blocks of W (K, G*H), starting at block q0,
 * for groups of U vectors (U*GW hidden units): for each k, those units of
 * each gate side by side, zero-padded past H:
 *   panel[k, (q*U + v)*GW + l] = W[k, (q0 + q)*H + g*U*GW + v*GW + l]  (K rows of nq*U*GW)
 */
static void FN(pack_group)(TYPE *panel, const TYPE *W, size_t K, size_t ldw, size_t H,
                           size_t g, size_t q0, size_t nq, size_t U)
{
    const size_t j = g * U * GW, units = FN(min)(U * GW, H - j);
    for (size_t k = 0; k < K; k++) {
        const TYPE *w_k = W + k * ldw + q0 * H + j;  // W[k, q0*H + j:]
        TYPE *p_k = panel + k * nq * U * GW;
        for (size_t q = 0; q < nq; q++)
            for (size_t v = 0; v < U; v++) {
                const size_t n = v * GW < units ? FN(min)(GW, units - v * GW) : 0;
                FN(store)(p_k + (q * U + v) * GW,
                          n ? FN(load_n)(w_k + q * H + v * GW, n) : FN(splat)(0));
            }
    }
}

/* Two-vector zips: lo = a0 b0 a1 b1 ..., hi = the same from the upper halves. */
#if VBYTES / TYPE_BYTES == 16
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#elif VBYTES / TYPE_BYTES == 8
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#elif VBYTES / TYPE_BYTES == 4
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#elif VBYTES / TYPE_BYTES == 2
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 2)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 1, 3)
#endif

/*
 * dst[i, j] = src[j, i] for a GW x GW block; source rows at or past `rows`
 * read as zeros. log2(GW) rounds of zips pairing row i with row i + GW/2
 * (the perfect shuffle) transpose the block in registers.
 */
static inline void FN(transpose_block)(const TYPE *src, size_t lds, size_t rows, TYPE *dst,
                                       size_t ldd)
{
    V r[GW], t[GW];
    for (int i = 0; i < GW; i++) r[i] = (size_t)i < rows ? FN(load)(src + i * lds) : (V){0};
    for (int half = GW / 2, round = 0; (1 << round) < GW; round++) {
        for (int i = 0; i < half; i++) {
            t[2 * i] = ZIP_LO(r[i], r[i + half]);
            t[2 * i + 1] = ZIP_HI(r[i], r[i + half]);
        }
        memcpy(r, t, sizeof r);
    }
    for (int i = 0; i < GW; i++) FN(store)(dst + i * ldd, r[i]);
}

/*
 * Column panels of W^T, for W (R, K) row-major: panel p (see FN(panel))
 * holds columns c0 .. c0 + width of W^T (rows of W), zero-padded:
 *   panel[k, c'] = W[c0 + c', k]    (K rows of nv*GW; panels K*4*GW apart)
 */
static void FN(pack_transposed)(TYPE *panels, const TYPE *W, size_t R, size_t K, size_t p_lo,
                                size_t p_hi)
{
    for (size_t p = p_lo; p < p_hi; p++) {
        TYPE *panel = panels + p * K * TILE_LD;
        size_t r0, width, nv;
        FN(panel)(R, p, &r0, &width, &nv);
        const size_t ld = nv * GW, k_full = K / GW * GW;
        for (size_t v = 0; v < nv; v++) {
            const size_t rows = FN(min)(GW, width - v * GW);
            const TYPE *w = W + (r0 + v * GW) * K;  // W[r0 + v*GW:, :]
            for (size_t k0 = 0; k0 < k_full; k0 += GW)
                FN(transpose_block)(w + k0, K, rows, panel + k0 * ld + v * GW, ld);
            for (size_t k = k_full; k < K; k++)
                for (size_t c = 0; c < GW; c++) panel[k * ld + v * GW + c] = c < rows ? w[c * K + k] : 0;
        }
    }
}

/* ---- the floating-point environment -------------------------------------- */

#ifndef GR_FP_STATE_DEFINED
#define GR_FP_STATE_DEFINED
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
/* Flush denormal results to zero and read denormal inputs as zero (MXCSR
   FTZ | DAZ) for the duration of a kernel; the caller's state comes back. */
typedef unsigned gr_fp_state;
static inline gr_fp_state gr_fp_enter(void)
{
    gr_fp_state saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040);
    return saved;
}
static inline void gr_fp_leave(gr_fp_state saved) { _mm_setcsr(saved); }
#else
typedef int gr_fp_state;
static inline gr_fp_state gr_fp_enter(void) { return 0; }
static inline void gr_fp_leave(gr_fp_state saved) { (void)saved; }
#endif
#endif

/* ---- running a job: items in phases (threads.c) ---------------------------- */

/* A job's work: phases of items; an item may use every earlier phase's results. */
typedef struct FN(plan) {
    const void *ctx;
    size_t (*items)(const void *ctx, size_t phase);       /* item count of a phase */
    void (*run)(const void *ctx, size_t phase, size_t item);
    size_t total;                                          /* items in all phases */
} FN(plan);

static size_t FN(count_items)(const FN(plan) *plan, size_t phases)
{
    size_t total = 0;
    for (size_t k = 0; k < phases; k++) total += plan->items(plan->ctx, k);
    return total;
}

/* Claim and run items until none is left; tid 0 returns only when all are done. */
static void FN(work)(const FN(plan) *plan, gr_team *team, int tid)
{
    gr_fp_state fp = gr_fp_enter();
    size_t phase = 0, start = 0, end = plan->items(plan->ctx, 0);
    for (;;) {
        size_t x = gr_claim(team);
        if (x >= plan->total) break;
        while (x >= end) {
            start = end;
            end += plan->items(plan->ctx, ++phase);
        }
        gr_wait_done(team, start);  // every item of the earlier phases
        plan->run(plan->ctx, phase, x - start);
        gr_item_done(team);
    }
    if (tid == 0) gr_wait_done(team, plan->total);
    gr_fp_leave(fp);
}

static void FN(work_job)(void *plan, gr_team *team, int tid, int nthreads)
{
    (void)nthreads;
    FN(work)(plan, team, tid);
}

/* ---- products with a plain output ------------------------------------------ */

/*
 * C (M, ncols) (+)= A (M, K) @ B (K, ncols) over K rows [k_lo, k_lo + k_len)
 * (a product over a large K runs as several, one per block of K, each adding
 * to C: then every block of A and B is read from memory once, not once per
 * panel). A[i, k] = A[i*rs + k*cs]; rows of A and C come in segments of M.
 * B is packed by pack_transposed() (panel p at B + p*K*4*GW) or row-major
 * with rows ldb apart (panel p at B + p*4*GW); the last vector of an unpacked
 * B may read GW - 1 elements past column ncols, so the caller makes them
 * readable or passes the last panel packed as `tail` (pack_panel). K
 * goes in near-equal blocks of at most KC, each of which stays in L2 while
 * the row blocks pass.
 */
typedef struct FN(product) {
    size_t M, K, ncols;       /* M rows per segment */
    const TYPE *A;
    size_t rs, cs;
    const TYPE *B;
    int packed;
    size_t ldb;
    TYPE *C;
    size_t ldc;
    const TYPE *tail;         /* or NULL */
    size_t segments;          /* 0 means 1: segment s is A + s*seg_a, C + s*seg_c */
    size_t seg_a, seg_c;
    size_t k_lo, k_len;       /* the rows of K this product covers; adds to C past k = 0 */
    int accumulate;           /* add to C from k = 0 too (C += A @ B) */
    const TYPE *bias;         /* or NULL: C = bias + A @ B, bias a row of ncols */
    int panel_major;          /* packed B, but items go panel by panel (plain products) */
} FN(product);

/* The length of near-equal blocks of at most `most` that cover K. */
static inline size_t FN(k_block)(size_t K, size_t most)
{
    const size_t blocks = (K + most - 1) / most;
    return blocks ? (K + blocks - 1) / blocks : 1;
}

/* Whether an item is a span of rows across every panel (packed B, unless
 * panel_major), rather than one panel and a span of rows. */
static inline int FN(row_major_items)(const FN(product) *p)
{
    return p->packed && !p->panel_major;
}

/* Row blocks per item: at most 8, so that an item's rows of A stay in L2; when
 * an item spans every panel, fewer, for some 32 items. */

static inline size_t FN(span)(const FN(product) *p, size_t blocks)
{
    size_t span = FN(row_major_items)(p) ? blocks / 32 : 8;
    return span < 1 ? 1 : span > 8 ? 8 : span;
}

static inline size_t FN(product_blocks)(const FN(product) *p)
{
    return FN(count_blocks)(p->M, MR) * (p->segments ? p->segments : 1);
}

static size_t FN(panels_items)(const FN(product) *p)
{
    if (p->M == 0 || p->ncols == 0) return 0;
    const size_t blocks = FN(product_blocks)(p), span = FN(span)(p, blocks);
    const size_t spans = (blocks + span - 1) / span;
    // Packed B (a recurrence's weights): an item is a span of rows across every
    // panel (A in L2, B in L3). Unpacked B, or panel_major: a panel and a span
    // (the panel's rows of B in L2, read once from memory for all the rows).
    return FN(row_major_items)(p) ? spans : FN(count_panels)(p->ncols) * spans;
}

/* Row block x, columns [c0, c0 + width) in nv vectors, K rows [k0, k0 + kn). */
static void FN(product_tile)(const FN(product) *p, size_t x, size_t k0, size_t kn,
                             const TYPE *Bk, size_t ldb, size_t c0, size_t width, size_t nv)
{
    const size_t nb = FN(count_blocks)(p->M, MR), seg = x / nb;
    size_t r0, mr;
    FN(block)(p->M, nb, x % nb, &r0, &mr);
    const TYPE *A = p->A + seg * p->seg_a + r0 * p->rs + k0 * p->cs;
    TYPE *C = p->C + seg * p->seg_c + r0 * p->ldc + c0;
    int add = k0 > 0 || p->accumulate;
    if (!add && p->bias) {  // the tile starts from the bias (its rows are in L1)
        for (size_t i = 0; i < mr; i++) memcpy(C + i * p->ldc, p->bias + c0, width * sizeof(TYPE));
        add = 1;
    }
    if (width == nv * GW) {
        FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, Bk, ldb, GW, C, p->ldc, add);
        return;
    }
    FN(tile_buffer) buf;  // a partial last vector goes through here
    TYPE *t = (TYPE *)buf.v;
    if (add)
        for (size_t i = 0; i < mr; i++) memcpy(t + i * TILE_LD, C + i * p->ldc, width * sizeof(TYPE));
    FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, Bk, ldb, GW, t, TILE_LD, add);
    for (size_t i = 0; i < mr; i++) memcpy(C + i * p->ldc, t + i * TILE_LD, width * sizeof(TYPE));
}

/* Columns of one panel for row blocks [b_lo, b_hi), over the product's K rows. */
static void FN(product_panel)(const FN(product) *p, size_t panel, size_t b_lo, size_t b_hi)
{
    size_t c0, width, nv;
    FN(panel)(p->ncols, panel, &c0, &width, &nv);
    const int from_tail = !p->packed && width != nv * GW && p->tail;
    const TYPE *B = p->packed ? p->B + panel * p->K * TILE_LD : from_tail ? p->tail : p->B + c0;
    const size_t ldb = p->packed || from_tail ? nv * GW : p->ldb;
    const size_t k_blocks = (p->k_len + KC - 1) / KC;
    const size_t kc = k_blocks ? (p->k_len + k_blocks - 1) / k_blocks : 1;
    for (size_t k0 = p->k_lo; k0 == p->k_lo || k0 < p->k_lo + p->k_len; k0 += kc) {
        const size_t kn = FN(min)(kc, p->k_lo + p->k_len - k0);
        for (size_t x = b_lo; x < b_hi; x++)
            FN(product_tile)(p, x, k0, kn, B + k0 * ldb, ldb, c0, width, nv);
    }
}

static void FN(panels_item)(const FN(product) *p, size_t item)
{
    const size_t blocks = FN(product_blocks)(p), span = FN(span)(p, blocks);
    const size_t spans = (blocks + span - 1) / span, s = item % spans;
    const size_t b_lo = s * span, b_hi = FN(min)(blocks, b_lo + span);
    if (!FN(row_major_items)(p)) {
        FN(product_panel)(p, item / spans, b_lo, b_hi);
        return;
    }
    for (size_t panel = 0; panel < FN(count_panels)(p->ncols); panel++)
        FN(product_panel)(p, panel, b_lo, b_hi);
}

/* Column panel p of W (K, ncols) row-major, zero-padded past ncols:
 * panel[k, c] = W[k, c0 + c], rows nv*GW wide (see FN(panel)); panels are
 * K*4*GW apart. The last panel alone serves as product.tail. */
static void FN(pack_panel)(TYPE *panel, const TYPE *W, size_t K, size_t ncols, size_t p)
{
    size_t c0, width, nv;
    FN(panel)(ncols, p, &c0, &width, &nv);
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < nv; v++)
            FN(store)(panel + k * nv * GW + v * GW,
                      FN(load_n)(W + k * ncols + c0 + v * GW, FN(min)(GW, width - v * GW)));
}

static inline int FN(has_partial_vector)(size_t ncols) { return ncols % GW != 0; }
