/*
 * The packed-weight LSTM kernels, for one precision and one instruction set.
 * simd_precisions.h includes this file once per TYPE (see there for the
 * macros); the instruction set comes from the flags its simd_<isa>.c file is
 * compiled with. The code is plain C with GCC vector extensions, so the same
 * source serves AVX-512, AVX2 and the baseline ISA.
 *
 * Where the time goes, and what this file does about it:
 *   - Every product runs on one register-blocked micro-kernel (DEFINE_TILE):
 *     rows of A are broadcast, up to 4 vectors of B per row are loaded, and
 *     MR x NV accumulators stay in registers over the whole K loop.
 *   - Weights are packed once per call into panels that the micro-kernel reads
 *     contiguously: Wh and Wx by "group" (GW hidden units, all four gates side
 *     by side), so that one tile of the recurrent product holds f, g, i and o
 *     of the same units, and the gate nonlinearities and the state update run
 *     on that tile while it is hot (forward); Wh^T and Wx^T by GW-column
 *     panels for the backward.
 *   - Threads split the tiles of each product by a fixed partition; one
 *     barrier per time step. Every output element is computed by one thread
 *     in an order fixed by the sizes alone: results are bit-identical for any
 *     thread count.
 *   - Flush-to-zero and denormals-are-zero are set for the duration of a call
 *     (and restored), so long sequences with vanishing gradients stay fast.
 *
 * Layouts are those of the BLAS path (header gatedrnn.h): gates (N, T, 4H)
 * in gate order f, g, i, o; the cache of one path can feed the other's
 * backward. The backward overwrites gates with dA and cs with the hidden
 * states h_{t-1} (cs[n, t] = h_{t-1}, cs[n, 0] = h0): the operand of dWh.
 */

#define GW (VBYTES / (int)sizeof(TYPE)) /* lanes per vector: hidden units per group */
#define FN(name) CAT(CAT(name, CAT(_, SFX)), CAT(_, ISA))
#define VEC FN(vec)
#define IVEC FN(ivec)
#define KC 512 /* K block of the batched products: a B panel block stays in L2 */

typedef TYPE VEC __attribute__((vector_size(VBYTES)));
typedef ITYPE IVEC __attribute__((vector_size(VBYTES)));

/* ---- vectors ------------------------------------------------------------ */

static inline VEC FN(vload)(const TYPE *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FN(vstore)(TYPE *p, VEC v) { memcpy(p, &v, sizeof v); }

static inline VEC FN(vsplat)(TYPE x) { return (VEC){0} + x; }

/* The first n lanes of p (n <= GW), zeros beyond; reads nothing past p[n-1]. */
static inline VEC FN(vload_n)(const TYPE *p, size_t n)
{
    if (n == GW) return FN(vload)(p);
#if VBYTES == 64 && defined(__AVX512F__)
#if IS_FLOAT
    return (VEC)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    return (VEC)_mm512_maskz_loadu_pd((__mmask8)((1u << n) - 1), p);
#endif
#else
    VEC v = {0};
    for (size_t l = 0; l < n; l++) v[l] = p[l];
    return v;
#endif
}

static inline void FN(vstore_n)(TYPE *p, VEC v, size_t n)
{
    if (n == GW) {
        FN(vstore)(p, v);
        return;
    }
#if VBYTES == 64 && defined(__AVX512F__)
#if IS_FLOAT
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1), (__m512d)v);
#endif
#else
    for (size_t l = 0; l < n; l++) p[l] = v[l];
#endif
}

/* mask ? a : b, lane by lane (mask lanes are all ones or all zeros). */
static inline VEC FN(vselect)(IVEC mask, VEC a, VEC b)
{
    return (VEC)((mask & (IVEC)a) | (~mask & (IVEC)b));
}

/*
 * exp(x) for x <= 0, as exp_nonpositive() of the BLAS path: x = k ln2 + r,
 * a Taylor polynomial in r, and 2^k put into the exponent bits. Arguments
 * below EXP_MIN are raised to it (no denormal results); NaN passes through.
 * The rounding constant leaves k in the low mantissa bits, so k is read as
 * an integer without a float-to-int conversion.
 *
 * vexp_reduce splits x (NaN counts as EXP_MIN) as k ln2 + r, |r| <= ln2/2,
 * returning r and setting *two_to_k.
 */
static inline VEC FN(vexp_reduce)(VEC x, VEC *two_to_k)
{
    const VEC lowest = FN(vsplat)(EXP_MIN), magic = FN(vsplat)(ROUNDING_MAGIC);
    VEC clamped = FN(vselect)(x > lowest, x, lowest);  // NaN -> EXP_MIN
    VEC shifted = clamped * (TYPE)1.4426950408889634 + magic;
    IVEC k_int = (IVEC)shifted - (IVEC)magic;
    VEC k = shifted - magic;
    *two_to_k = (VEC)((k_int + EXP_BIAS) << MANTISSA_BITS);
    return (clamped - k * LN2_HI) - k * LN2_LO;
}

/* The Taylor series of exp(r) from its term of degree `first`, divided by r^first. */
static inline VEC FN(vexp_series)(VEC r, int first)
{
    static const TYPE inverse_factorials[EXP_DEGREE + 1] = EXP_COEFFICIENTS;
    VEC poly = FN(vsplat)(inverse_factorials[EXP_DEGREE]);
#pragma GCC unroll 16
    for (int d = EXP_DEGREE - 1; d >= first; d--) poly = poly * r + inverse_factorials[d];
    return poly;
}

static inline VEC FN(vexp_nonpositive)(VEC x)
{
    VEC two_to_k, r = FN(vexp_reduce)(x, &two_to_k);
    return FN(vselect)(x == x, FN(vexp_series)(r, 0) * two_to_k, x);
}

/* exp(x) - 1 for x <= 0, as 2^k (exp(r) - 1) + (2^k - 1): no cancellation near 0. */
static inline VEC FN(vexpm1_nonpositive)(VEC x)
{
    const VEC one = FN(vsplat)(1);
    VEC two_to_k, r = FN(vexp_reduce)(x, &two_to_k);
    return FN(vselect)(x == x, two_to_k * (FN(vexp_series)(r, 1) * r) + (two_to_k - one), x);
}

static inline VEC FN(vsigmoid)(VEC x)
{
    const VEC one = FN(vsplat)(1);
    VEC e = FN(vexp_nonpositive)(FN(vselect)(x < 0, x, -x));
    VEC r = one / (one + e);
    return FN(vselect)(x >= 0, r, e * r);
}

/* tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|): accurate relative to the
 * result for small |x|, where (1 - e) / (1 + e) would cancel. */
static inline VEC FN(vtanh)(VEC x)
{
    const VEC two = FN(vsplat)(2);
    VEC m = FN(vexpm1_nonpositive)(FN(vselect)(x < 0, x + x, -(x + x)));
    VEC t = -m / (two + m);
    return FN(vselect)(x < 0, -t, t);
}

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
        VEC acc[MR][NV];                                                                    \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                acc[i][v] = accumulate ? FN(vload)(C + i * ldc + v * GW) : (VEC){0};       \
        for (size_t k = 0; k < K; k++) {                                                    \
            const TYPE *a_k = A + k * cs;  /* A[:, k] */                                    \
            const TYPE *b_k = B + k * ldb; /* B[k, :] */                                    \
            VEC b[NV];                                                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) b[v] = FN(vload)(b_k + v * vs); \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                        \
                TYPE a = a_k[i * rs];                                                       \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] += a * b[v]; \
            }                                                                               \
        }                                                                                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                FN(vstore)(C + i * ldc + v * GW, acc[i][v]);                                \
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
    VEC v[MR][4];
} FN(tile_buffer);
#define TILE_LD (4 * GW)

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

static inline size_t FN(min)(size_t a, size_t b) { return a < b ? a : b; }

/* ---- packing ------------------------------------------------------------ */

/*
 * The panel of group g of W (K, 4H), gate order f, g, i, o: for each k, the
 * four gates of units g*GW .. g*GW + GW - 1, zero-padded past H:
 *   panel[k, q*GW + l] = W[k, q*H + g*GW + l]    (K rows of 4*GW)
 */
static void FN(pack_group)(TYPE *panel, const TYPE *W, size_t K, size_t H, size_t g)
{
    const size_t units = FN(min)(GW, H - g * GW);
    for (size_t k = 0; k < K; k++) {
        const TYPE *w_k = W + k * 4 * H + g * GW;  // W[k, g*GW:]
        TYPE *p_k = panel + k * TILE_LD;
        for (int q = 0; q < 4; q++) FN(vstore)(p_k + q * GW, FN(vload_n)(w_k + q * H, units));
    }
}

/*
 * Column panels of W^T, for W (R, K) row-major: panel p holds columns
 * c = p*4*GW .. of W^T (rows of W), as many as 4 vectors, zero-padded:
 *   panel[k, c'] = W[p*4*GW + c', k]    (K rows of nv*GW, nv = the panel's vectors)
 */
static void FN(pack_transposed)(TYPE *panels, const TYPE *W, size_t R, size_t K, size_t p_lo,
                                size_t p_hi)
{
    enum { KB = 64 };
    for (size_t p = p_lo; p < p_hi; p++) {
        TYPE *panel = panels + p * K * TILE_LD;
        size_t r0 = p * TILE_LD, width = FN(min)(TILE_LD, R - r0);
        size_t ld = (width + GW - 1) / GW * GW;
        for (size_t k0 = 0; k0 < K; k0 += KB) {
            size_t kn = FN(min)(KB, K - k0);
            for (size_t c = 0; c < width; c++) {
                const TYPE *w = W + (r0 + c) * K + k0;  // W[r0 + c, k0:]
                for (size_t k = 0; k < kn; k++) panel[(k0 + k) * ld + c] = w[k];
            }
            for (size_t c = width; c < ld; c++)
                for (size_t k = 0; k < kn; k++) panel[(k0 + k) * ld + c] = 0;
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

/* ---- workspaces ---------------------------------------------------------- */

#ifndef GR_WORKSPACE_DEFINED
#define GR_WORKSPACE_DEFINED
#define GR_ALIGN 64
/* Carve `count` elements of `size` bytes at *offset (64-byte aligned); SIZE_MAX on overflow. */
static inline size_t gr_take(size_t *offset, size_t count, size_t size)
{
    size_t at = (*offset + GR_ALIGN - 1) / GR_ALIGN * GR_ALIGN;
    if (*offset == SIZE_MAX || at < *offset || (count && size > SIZE_MAX / count)
        || at > SIZE_MAX - count * size) {
        *offset = SIZE_MAX;
        return 0;
    }
    *offset = at + count * size;
    return at;
}
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

/*
 * The recurrence either splits the batch (each item takes a slice of the
 * sequences through all its steps: no synchronization per step) or, when the
 * batch is too small for that, splits each step's gate columns (one phase per
 * step). Slices read the whole of Wh at each step, so they need enough rows
 * per slice to pay for it, unless Wh stays in L2.
 */
static size_t FN(batch_slices)(size_t N, size_t H, int nthreads, int flags)
{
    if (flags & GR_FLAG_SPLIT_COLUMNS) return 0;
    const size_t threads = nthreads > 1 ? (size_t)nthreads : 1;
    if (threads == 1) return 1;
    if (flags & GR_FLAG_SPLIT_ROWS) return N < threads ? (N ? N : 1) : threads;
    size_t rows = N / threads, packed_bytes = H * (H + GW - 1) / GW * TILE_LD * sizeof(TYPE);
    return rows >= 2 && (packed_bytes <= (768u << 10) || rows >= 8) ? threads : 0;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct FN(forward) {
    TYPE *hs, *c_state, *gates, *cs;
    const TYPE *xs, *Wx, *Wh, *b, *h0;
    size_t N, T, D, H;
    size_t G;                 /* groups: ceil(H / GW) */
    int pack_x, pack_h;       /* whole weights packed; else only a partial last group */
    TYPE *px, *ph;            /* the packed panels */
    TYPE *scratch;            /* inference: pre-activations of a chunk (N, Tc, 4H) */
    size_t Tc;                /* time steps per chunk (T in training) */
    size_t slices;            /* batch slices, or 0: the steps split by columns */
    size_t nb;                /* row blocks of N (splitting columns) */
    int train, gemm_only;
} FN(forward);

/* Layout of the forward workspace; returns its size in bytes (SIZE_MAX on overflow). */
static size_t FN(forward_layout)(size_t N, size_t T, size_t D, size_t H, int train,
                                 FN(forward) *f, size_t *off_px, size_t *off_ph,
                                 size_t *off_scratch)
{
    size_t G = (H + GW - 1) / GW, offset = 0;
    f->G = G;
    // Packing costs one pass over the weights: worth it when the product
    // reads them many times (many rows of x, or many time steps).
    f->pack_x = N * T >= 4;
    f->pack_h = T >= 2;
    size_t partial = H % GW ? 1 : 0;
    *off_px = gr_take(&offset, D * (f->pack_x ? G : partial) * TILE_LD, sizeof(TYPE));
    *off_ph = gr_take(&offset, H * (f->pack_h ? G : partial) * TILE_LD, sizeof(TYPE));
    // Inference computes the input projection in chunks of time steps, so
    // its scratch is about 256 rows, not N*T: nothing of size T is kept.
    f->Tc = train ? T : (N >= 256 ? 1 : FN(min)(T, (256 + N - 1) / N));
    *off_scratch = gr_take(&offset, train ? 0 : N * f->Tc * 4 * H, sizeof(TYPE));
    return offset;
}

/* The weights' panel for group g: base, row stride and vector stride. */
static inline const TYPE *FN(group_panel)(const TYPE *W, const TYPE *packed, int packed_all,
                                          size_t K, size_t H, size_t g, size_t G,
                                          size_t *ldb, size_t *vs)
{
    if (packed_all || (g == G - 1 && H % GW)) {
        *ldb = TILE_LD;
        *vs = GW;
        return packed + (packed_all ? g * K * TILE_LD : 0);
    }
    *ldb = 4 * H;
    *vs = H;
    return W + g * GW;
}

/* The pre-activation row of sequence n at step t (gates, or the chunk's scratch). */
static inline TYPE *FN(gx_row)(const FN(forward) *f, size_t n, size_t t, size_t t0)
{
    return f->train ? f->gates + (n * f->T + t) * 4 * f->H
                    : f->scratch + (n * f->Tc + t - t0) * 4 * f->H;
}

/*
 * The input projection for rows [r0, r0 + mr) of a segment of rows: A rows
 * are xs rows (D apart), results go to the pre-activation rows (4H apart):
 *   gx[r, q*H + j] = xs[r] @ Wx[:, q*H + j] + b[q*H + j]   for the units j of group g
 */
static void FN(input_tile)(const FN(forward) *f, size_t g, const TYPE *x_rows, TYPE *gx_rows,
                           size_t r0, size_t mr)
{
    const size_t D = f->D, H = f->H, j = g * GW, units = FN(min)(GW, H - j);
    size_t ldb, vs;
    const TYPE *B = FN(group_panel)(f->Wx, f->px, f->pack_x, D, H, g, f->G, &ldb, &vs);
    FN(tile_buffer) buf;
    FN(tiles)[3][mr - 1](D, x_rows + r0 * D, D, 1, B, ldb, vs, (TYPE *)buf.v, TILE_LD, 0);
    VEC bias[4];
    for (int q = 0; q < 4; q++) bias[q] = FN(vload_n)(f->b + q * H + j, units);
    for (size_t i = 0; i < mr; i++) {
        TYPE *gx = gx_rows + (r0 + i) * 4 * H + j;  // gx[r0 + i, j:]
        for (int q = 0; q < 4; q++) FN(vstore_n)(gx + q * H, buf.v[i][q] + bias[q], units);
    }
}

/*
 * Time step t for rows [n0, n0 + mr) and the units of group g: the recurrent
 * product h_{t-1} @ Wh for those gate columns, then the gates and the state.
 */
static void FN(step_tile)(const FN(forward) *f, size_t t, size_t t0, size_t g, size_t n0,
                          size_t mr)
{
    const size_t T = f->T, H = f->H, j = g * GW, units = FN(min)(GW, H - j);
    // h_{t-1}: h0, or hs[:, t-1, :] read in place (rows T*H apart)
    const TYPE *h_prev = t ? f->hs + (t - 1) * H : f->h0;
    const size_t ld_h = t ? T * H : H;
    size_t ldb, vs;
    const TYPE *B = FN(group_panel)(f->Wh, f->ph, f->pack_h, H, H, g, f->G, &ldb, &vs);
    FN(tile_buffer) buf;
    FN(tiles)[3][mr - 1](H, h_prev + n0 * ld_h, ld_h, 1, B, ldb, vs, (TYPE *)buf.v, TILE_LD, 0);

    for (size_t i = 0; i < mr; i++) {
        const size_t n = n0 + i;
        TYPE *gx = FN(gx_row)(f, n, t, t0) + j;  // pre-activations in, activated gates out
        VEC a[4];
        for (int q = 0; q < 4; q++) a[q] = buf.v[i][q] + FN(vload_n)(gx + q * H, units);
        if (f->gemm_only) {
            for (int q = 0; q < 4; q++) FN(vstore_n)(gx + q * H, a[q], units);
            continue;
        }
        VEC fg = FN(vsigmoid)(a[0]), gg = FN(vtanh)(a[1]);
        VEC ig = FN(vsigmoid)(a[2]), og = FN(vsigmoid)(a[3]);
        TYPE *c = f->c_state + n * H + j;  // c_{t-1}[n] in, c_t[n] out
        VEC c_next = fg * FN(vload_n)(c, units) + gg * ig;
        VEC h = og * FN(vtanh)(c_next);
        if (f->train) {
            FN(vstore_n)(gx, fg, units);
            FN(vstore_n)(gx + H, gg, units);
            FN(vstore_n)(gx + 2 * H, ig, units);
            FN(vstore_n)(gx + 3 * H, og, units);
            FN(vstore_n)(f->cs + (n * T + t) * H + j, c_next, units);
        }
        FN(vstore_n)(c, c_next, units);
        FN(vstore_n)(f->hs + (n * T + t) * H + j, h, units);
    }
}

/* Rows of the input projection of chunk t0: one segment (training: all N*T rows)
 * or one segment of tc rows per sequence (inference). */
static inline void FN(input_segments)(const FN(forward) *f, size_t tc, size_t *segments,
                                      size_t *seg_rows)
{
    *segments = f->train ? 1 : f->N;
    *seg_rows = f->train ? f->N * f->T : tc;
}

static size_t FN(forward_items)(const void *ctx, size_t phase)
{
    const FN(forward) *f = ctx;
    if (phase == 0) return f->G;  // packing, by group
    if (f->slices) return phase == 1 ? f->slices : 0;
    // Splitting columns: per chunk, the input projection then one phase per step.
    const size_t per_chunk = 1 + f->Tc, c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk;
    const size_t t0 = c * f->Tc;
    if (t0 >= f->T) return 0;
    const size_t tc = FN(min)(f->Tc, f->T - t0);
    if (k == 0) {
        size_t segments, seg_rows;
        FN(input_segments)(f, tc, &segments, &seg_rows);
        return f->G * segments * FN(count_blocks)(seg_rows, MR);
    }
    return k <= tc ? f->G * f->nb : 0;
}

static size_t FN(forward_phases)(const FN(forward) *f)
{
    return f->slices ? 2 : 1 + (f->T + f->Tc - 1) / f->Tc * (1 + f->Tc);
}

/* The input projection tile `item` of the chunk at t0, over sequences [n_lo, n_hi). */
static void FN(input_item)(const FN(forward) *f, size_t t0, size_t tc, size_t n_lo,
                           size_t n_hi, size_t item)
{
    // Training: one segment, rows [n_lo*T, n_hi*T) of xs; inference: a segment
    // of tc rows per sequence. Group-major order: a panel serves many rows.
    const size_t segments = f->train ? 1 : n_hi - n_lo;
    const size_t seg_rows = f->train ? (n_hi - n_lo) * f->T : tc;
    const size_t nb = FN(count_blocks)(seg_rows, MR);
    const size_t g = item / (segments * nb), s = item % (segments * nb) / nb;
    size_t r0, mr;
    FN(block)(seg_rows, nb, item % nb, &r0, &mr);
    const size_t n = n_lo + (f->train ? 0 : s);
    const TYPE *x_rows = f->xs + (n * f->T + (f->train ? 0 : t0)) * f->D;
    TYPE *gx_rows = FN(gx_row)(f, n, f->train ? 0 : t0, t0);
    FN(input_tile)(f, g, x_rows, gx_rows, r0, mr);
}

/* A batch slice: sequences [n_lo, n_hi) through every step. */
static void FN(forward_slice)(const FN(forward) *f, size_t n_lo, size_t n_hi)
{
    const size_t rows = n_hi - n_lo, nb = FN(count_blocks)(rows, MR), G = f->G;
    for (size_t t0 = 0; t0 < f->T; t0 += f->Tc) {
        const size_t tc = FN(min)(f->Tc, f->T - t0);
        const size_t segments = f->train ? 1 : rows;
        const size_t seg_rows = f->train ? rows * f->T : tc;
        const size_t items = G * segments * FN(count_blocks)(seg_rows, MR);
        for (size_t item = 0; item < items; item++)
            FN(input_item)(f, t0, tc, n_lo, n_hi, item);
        for (size_t t = t0; t < t0 + tc; t++)
            for (size_t g = 0; g < G; g++)
                for (size_t blk = 0; blk < nb; blk++) {
                    size_t n0, mr;
                    FN(block)(rows, nb, blk, &n0, &mr);
                    FN(step_tile)(f, t, t0, g, n_lo + n0, mr);
                }
    }
}

static void FN(forward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(forward) *f = ctx;
    const size_t D = f->D, H = f->H;
    if (phase == 0) {
        // Unpacked weights are read in place, but for a partial last group.
        const size_t g = item;
        const int partial = g == f->G - 1 && H % GW;
        if (f->pack_x || partial)
            FN(pack_group)(f->px + (f->pack_x ? g * D * TILE_LD : 0), f->Wx, D, H, g);
        if (f->pack_h || partial)
            FN(pack_group)(f->ph + (f->pack_h ? g * H * TILE_LD : 0), f->Wh, H, H, g);
        return;
    }
    if (f->slices) {
        size_t n_lo, n_hi;
        FN(share)(f->N, (int)item, (int)f->slices, &n_lo, &n_hi);
        FN(forward_slice)(f, n_lo, n_hi);
        return;
    }
    const size_t per_chunk = 1 + f->Tc, c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk;
    const size_t t0 = c * f->Tc, tc = FN(min)(f->Tc, f->T - t0);
    if (k == 0) {
        FN(input_item)(f, t0, tc, 0, f->N, item);
        return;
    }
    size_t n0, mr;
    FN(block)(f->N, f->nb, item % f->nb, &n0, &mr);
    FN(step_tile)(f, t0 + k - 1, t0, item / f->nb, n0, mr);
}

int FN(gr_simd_forward)(const gr_forward_args *args)
{
    FN(forward) f = {0};
    size_t off_px, off_ph, off_scratch;
    size_t need = FN(forward_layout)(args->N, args->T, args->D, args->H, args->train, &f,
                                     &off_px, &off_ph, &off_scratch);
    if (need == SIZE_MAX) return GR_ERR_TOO_LARGE;
    if (args->workspace_bytes < need || (need && !args->workspace)) return GR_ERR_WORKSPACE;
    char *ws = args->workspace;
    f.hs = args->hs;
    f.c_state = args->c_state;
    f.gates = args->gates;
    f.cs = args->cs;
    f.xs = args->xs;
    f.Wx = args->Wx;
    f.Wh = args->Wh;
    f.b = args->b;
    f.h0 = args->h0;
    f.N = args->N, f.T = args->T, f.D = args->D, f.H = args->H;
    f.px = (TYPE *)(ws + off_px);
    f.ph = (TYPE *)(ws + off_ph);
    f.scratch = (TYPE *)(ws + off_scratch);
    f.train = args->train;
    f.gemm_only = args->flags & GR_FLAG_GEMM_ONLY;
    f.slices = FN(batch_slices)(f.N, f.H, args->nthreads, args->flags);
    f.nb = FN(count_blocks)(f.N, MR);
    FN(plan) plan = {&f, FN(forward_items), FN(forward_run), 0};
    plan.total = FN(count_items)(&plan, FN(forward_phases)(&f));
    gr_run_job(FN(work_job), &plan, args->nthreads);
    return GR_OK;
}

/* ---- products with a plain output (the backward's batched products) ------- */

/*
 * C (M, ncols) = A (M, K) @ B (K, ncols), A[i, k] = A[i*rs + k*cs]. B is
 * either packed by pack_transposed() (panel p at B + p*K*4*GW) or a
 * row-major matrix with rows ldb apart (panel p at B + p*4*GW; its last
 * vector may read up to GW - 1 elements past column ncols, which the caller
 * makes readable). An item is one panel of columns and up to SPAN row
 * blocks; K goes in blocks of KC, each of which stays in L2 while the row
 * blocks pass.
 */
typedef struct FN(product) {
    size_t M, K, ncols;
    const TYPE *A;
    size_t rs, cs;
    const TYPE *B;
    int packed;
    size_t ldb;
    TYPE *C;
    size_t ldc;
} FN(product);

#define SPAN 8

static size_t FN(product_items)(const FN(product) *p)
{
    if (p->M == 0 || p->ncols == 0) return 0;
    size_t panels = (p->ncols + TILE_LD - 1) / TILE_LD, nb = FN(count_blocks)(p->M, MR);
    return panels * ((nb + SPAN - 1) / SPAN);
}

static void FN(product_item)(const FN(product) *p, size_t item)
{
    const size_t nb = FN(count_blocks)(p->M, MR), spans = (nb + SPAN - 1) / SPAN;
    const size_t panel = item / spans, b_lo = item % spans * SPAN, b_hi = FN(min)(nb, b_lo + SPAN);
    const size_t c0 = panel * TILE_LD, width = FN(min)(TILE_LD, p->ncols - c0);
    const size_t nv = (width + GW - 1) / GW;
    const int full = width == nv * GW;
    const TYPE *B = p->packed ? p->B + panel * p->K * TILE_LD : p->B + c0;
    const size_t ldb = p->packed ? nv * GW : p->ldb;
    for (size_t k0 = 0; k0 == 0 || k0 < p->K; k0 += KC) {
        const size_t kn = FN(min)(KC, p->K - k0);
        for (size_t blk = b_lo; blk < b_hi; blk++) {
            size_t r0, mr;
            FN(block)(p->M, nb, blk, &r0, &mr);
            const TYPE *A = p->A + r0 * p->rs + k0 * p->cs;
            TYPE *C = p->C + r0 * p->ldc + c0;
            if (full) {
                FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, B + k0 * ldb, ldb, GW, C,
                                          p->ldc, k0 > 0);
                continue;
            }
            FN(tile_buffer) buf;  // a partial last vector goes through here
            TYPE *t = (TYPE *)buf.v;
            if (k0 > 0)
                for (size_t i = 0; i < mr; i++)
                    memcpy(t + i * TILE_LD, C + i * p->ldc, width * sizeof(TYPE));
            FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, B + k0 * ldb, ldb, GW, t, TILE_LD,
                                      k0 > 0);
            for (size_t i = 0; i < mr; i++)
                memcpy(C + i * p->ldc, t + i * TILE_LD, width * sizeof(TYPE));
        }
    }
}

/* ---- backward ----------------------------------------------------------- */

#define DB_COLUMNS 256 /* columns of db per item */

typedef struct FN(backward) {
    TYPE *dxs, *dWx, *dWh, *db, *dh, *dc, *gates, *cs;
    const TYPE *dhs, *xs, *Wx, *Wh, *h0, *c0;
    size_t N, T, D, H;
    size_t PH, PD;            /* panels of Wh^T over H and of Wx^T over D */
    TYPE *pwh, *pwx;          /* the packed panels: K = 4H rows each */
    size_t slices;            /* batch slices, or 0: the steps split by columns */
    size_t nb;                /* row blocks of N (splitting columns) */
    FN(product) products[3];  /* dxs, dWx, dWh */
    int gemm_only;
} FN(backward);

static size_t FN(backward_layout)(size_t N, size_t T, size_t D, size_t H, FN(backward) *w,
                                  size_t *off_pwh, size_t *off_pwx)
{
    (void)N, (void)T;
    size_t offset = 0, H4 = 4 * H;
    w->PH = (H + TILE_LD - 1) / TILE_LD;
    w->PD = (D + TILE_LD - 1) / TILE_LD;
    if (H && H4 / 4 != H) return SIZE_MAX;
    *off_pwh = gr_take(&offset, w->PH * TILE_LD, H4 * sizeof(TYPE));
    *off_pwx = gr_take(&offset, w->PD * TILE_LD, H4 * sizeof(TYPE));
    return offset;
}

/*
 * Time step t, rows [n0, n0 + mr), the units of panel p:
 *   dh_t = dhs[:, t] + dA_{t+1} @ Wh^T   (dh_T from the caller at t = T-1)
 * then dA_t over the gates in place, dc, and h_t into cs[:, t+1].
 */
static void FN(backstep_tile)(const FN(backward) *w, size_t t, size_t p, size_t n0, size_t mr)
{
    const size_t T = w->T, H = w->H, H4 = 4 * H;
    const size_t u0 = p * TILE_LD, width = FN(min)(TILE_LD, H - u0), nv = (width + GW - 1) / GW;
    FN(tile_buffer) buf;
    if (t + 1 < T) {
        const TYPE *dA_next = w->gates + (n0 * T + t + 1) * H4;  // dA[n0, t+1, :], rows T*4H apart
        FN(tiles)[nv - 1][mr - 1](H4, dA_next, T * H4, 1, w->pwh + p * H4 * TILE_LD, nv * GW,
                                  GW, (TYPE *)buf.v, TILE_LD, 0);
    } else {
        for (size_t i = 0; i < mr; i++)
            for (size_t v = 0; v < nv; v++)
                buf.v[i][v] = FN(vload_n)(w->dh + (n0 + i) * H + u0 + v * GW,
                                          FN(min)(GW, width - v * GW));
    }
    if (w->gemm_only) {
        for (size_t i = 0; i < mr; i++)
            for (size_t v = 0; v < nv; v++)
                FN(vstore_n)(w->dh + (n0 + i) * H + u0 + v * GW, buf.v[i][v],
                             FN(min)(GW, width - v * GW));
        return;
    }
    const VEC one = FN(vsplat)(1);
    for (size_t i = 0; i < mr; i++) {
        const size_t n = n0 + i, row = n * T + t;
        for (size_t v = 0; v < nv; v++) {
            const size_t j = u0 + v * GW, units = FN(min)(GW, H - j);
            TYPE *a = w->gates + row * H4 + j;                        // gates[n, t, j:] in, dA out
            const TYPE *c_t = w->cs + row * H + j;                    // c_t[n]
            const TYPE *c_before = t ? c_t - H : w->c0 + n * H + j;  // c_{t-1}[n]
            TYPE *dc = w->dc + n * H + j;
            VEC dh = buf.v[i][v] + FN(vload_n)(w->dhs + row * H + j, units);
            VEC fg = FN(vload_n)(a, units), gg = FN(vload_n)(a + H, units);
            VEC ig = FN(vload_n)(a + 2 * H, units), og = FN(vload_n)(a + 3 * H, units);
            VEC tanh_c = FN(vtanh)(FN(vload_n)(c_t, units));
            VEC ds = FN(vload_n)(dc, units) + dh * og * (one - tanh_c * tanh_c);
            FN(vstore_n)(a, ds * FN(vload_n)(c_before, units) * fg * (one - fg), units);
            FN(vstore_n)(a + H, ds * ig * (one - gg * gg), units);
            FN(vstore_n)(a + 2 * H, ds * gg * ig * (one - ig), units);
            FN(vstore_n)(a + 3 * H, dh * tanh_c * og * (one - og), units);
            FN(vstore_n)(dc, ds * fg, units);
            // h_t, the operand of dWh at step t+1, goes where c_{t+1} was:
            // steps t+1 and t+2, which read it, are done.
            if (t + 1 < T) FN(vstore_n)(w->cs + (row + 1) * H + j, og * tanh_c, units);
        }
    }
}

/* dh0 = dA_0 @ Wh^T for rows [n0, n0 + mr) and the units of panel p; h0 into cs[:, 0]. */
static void FN(first_state_tile)(const FN(backward) *w, size_t p, size_t n0, size_t mr)
{
    const size_t T = w->T, H = w->H, H4 = 4 * H;
    const size_t u0 = p * TILE_LD, width = FN(min)(TILE_LD, H - u0), nv = (width + GW - 1) / GW;
    FN(tile_buffer) buf;
    FN(tiles)[nv - 1][mr - 1](H4, w->gates + n0 * T * H4, T * H4, 1, w->pwh + p * H4 * TILE_LD,
                              nv * GW, GW, (TYPE *)buf.v, TILE_LD, 0);
    for (size_t i = 0; i < mr; i++) {
        memcpy(w->dh + (n0 + i) * H + u0, buf.v[i], width * sizeof(TYPE));
        if (!w->gemm_only)
            memcpy(w->cs + (n0 + i) * T * H + u0, w->h0 + (n0 + i) * H + u0,
                   width * sizeof(TYPE));
    }
}

/* A batch slice: sequences [n_lo, n_hi) back through every step. */
static void FN(backward_slice)(const FN(backward) *w, size_t n_lo, size_t n_hi)
{
    const size_t rows = n_hi - n_lo, nb = FN(count_blocks)(rows, MR);
    for (size_t t = w->T; t-- > 0;)
        for (size_t p = 0; p < w->PH; p++)
            for (size_t blk = 0; blk < nb; blk++) {
                size_t n0, mr;
                FN(block)(rows, nb, blk, &n0, &mr);
                FN(backstep_tile)(w, t, p, n_lo + n0, mr);
            }
    for (size_t p = 0; p < w->PH; p++)
        for (size_t blk = 0; blk < nb; blk++) {
            size_t n0, mr;
            FN(block)(rows, nb, blk, &n0, &mr);
            FN(first_state_tile)(w, p, n_lo + n0, mr);
        }
}

/* db[c] for columns [c0, c0 + DB_COLUMNS): sums of dA over all N*T rows, in double. */
static void FN(db_item)(const FN(backward) *w, size_t item)
{
    const size_t H4 = 4 * w->H, NT = w->N * w->T, c0 = item * DB_COLUMNS;
    const size_t width = FN(min)(DB_COLUMNS, H4 - c0);
    double sum[DB_COLUMNS] = {0};
    for (size_t r = 0; r < NT; r++) {
        const TYPE *dA_r = w->gates + r * H4 + c0;  // dA[r, c0:]
        for (size_t c = 0; c < width; c++) sum[c] += (double)dA_r[c];
    }
    for (size_t c = 0; c < width; c++) w->db[c0 + c] = w->gemm_only ? 0 : (TYPE)sum[c];
}

/* Phases: packing; the recurrence (one phase of slices, or a phase per step
 * and one for dh0); the batched products and db, as one phase. */
static size_t FN(backward_items)(const void *ctx, size_t phase)
{
    const FN(backward) *w = ctx;
    const size_t recurrence = w->slices ? 1 : w->T + 1;
    if (phase == 0) return w->PH + w->PD;
    if (phase <= recurrence) return w->slices ? w->slices : w->PH * w->nb;
    if (phase == recurrence + 1) {
        size_t items = (4 * w->H + DB_COLUMNS - 1) / DB_COLUMNS;
        for (int k = 0; k < 3; k++) items += FN(product_items)(&w->products[k]);
        return items;
    }
    return 0;
}

static void FN(backward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(backward) *w = ctx;
    const size_t H4 = 4 * w->H, recurrence = w->slices ? 1 : w->T + 1;
    if (phase == 0) {
        if (item < w->PH) FN(pack_transposed)(w->pwh, w->Wh, w->H, H4, item, item + 1);
        else FN(pack_transposed)(w->pwx, w->Wx, w->D, H4, item - w->PH, item - w->PH + 1);
        return;
    }
    if (phase <= recurrence) {
        if (w->slices) {
            size_t n_lo, n_hi;
            FN(share)(w->N, (int)item, (int)w->slices, &n_lo, &n_hi);
            FN(backward_slice)(w, n_lo, n_hi);
            return;
        }
        size_t n0, mr;
        FN(block)(w->N, w->nb, item % w->nb, &n0, &mr);
        if (phase <= w->T) FN(backstep_tile)(w, w->T - phase, item / w->nb, n0, mr);
        else FN(first_state_tile)(w, item / w->nb, n0, mr);
        return;
    }
    for (int k = 0; k < 3; k++) {
        size_t items = FN(product_items)(&w->products[k]);
        if (item < items) {
            FN(product_item)(&w->products[k], item);
            return;
        }
        item -= items;
    }
    FN(db_item)(w, item);
}

int FN(gr_simd_backward)(const gr_backward_args *args)
{
    FN(backward) w = {0};
    size_t off_pwh, off_pwx;
    size_t need = FN(backward_layout)(args->N, args->T, args->D, args->H, &w, &off_pwh,
                                      &off_pwx);
    if (need == SIZE_MAX) return GR_ERR_TOO_LARGE;
    if (args->workspace_bytes < need || (need && !args->workspace)) return GR_ERR_WORKSPACE;
    char *ws = args->workspace;
    w.dxs = args->dxs;
    w.dWx = args->dWx;
    w.dWh = args->dWh;
    w.db = args->db;
    w.dh = args->dh;
    w.dc = args->dc;
    w.gates = args->gates;
    w.cs = args->cs;
    w.dhs = args->dhs;
    w.xs = args->xs;
    w.Wx = args->Wx;
    w.Wh = args->Wh;
    w.h0 = args->h0;
    w.c0 = args->c0;
    const size_t N = args->N, T = args->T, D = args->D, H = args->H, H4 = 4 * H, NT = N * T;
    w.N = N, w.T = T, w.D = D, w.H = H;
    w.pwh = (TYPE *)(ws + off_pwh);
    w.pwx = (TYPE *)(ws + off_pwx);
    w.gemm_only = args->flags & GR_FLAG_GEMM_ONLY;
    w.slices = FN(batch_slices)(N, H, args->nthreads, args->flags);
    w.nb = FN(count_blocks)(N, MR);
    // After the recurrence cs holds h_{t-1}: the operand of dWh.
    w.products[0] = (FN(product)){NT, H4, D, w.gates, H4, 1, w.pwx, 1, 0, w.dxs, D};
    w.products[1] = (FN(product)){D, NT, H4, w.xs, 1, D, w.gates, 0, H4, w.dWx, H4};
    w.products[2] = (FN(product)){H, NT, H4, w.cs, 1, H, w.gates, 0, H4, w.dWh, H4};
    FN(plan) plan = {&w, FN(backward_items), FN(backward_run), 0};
    plan.total = FN(count_items)(&plan, (w.slices ? 1 : T + 1) + 2);
    gr_run_job(FN(work_job), &plan, args->nthreads);
    return GR_OK;
}

size_t FN(gr_simd_workspace)(int backward, int train, size_t N, size_t T, size_t D, size_t H)
{
    size_t a, b, c;
    if (backward) {
        FN(backward) w;
        return FN(backward_layout)(N, T, D, H, &w, &a, &b);
    }
    FN(forward) f;
    return FN(forward_layout)(N, T, D, H, train, &f, &a, &b, &c);
}

/* Threads worth waking: enough work to pay for waking them. */
int FN(gr_simd_threads)(int backward, size_t N, size_t T, size_t D, size_t H)
{
    (void)backward;
    double total = 8.0 * N * T * (D + H) * H;
    return total < 2e6 ? 1 : 64;
}

#undef GW
#undef FN
#undef VEC
#undef IVEC
#undef KC
#undef SPAN
#undef DB_COLUMNS
#undef TILE_LD
