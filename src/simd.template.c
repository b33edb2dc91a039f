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
#define KC 512 /* K block of products over packed B: a panel block stays in L2 */
#define KW 512 /* K block of the weight gradients: blocks of xs, h and dA stay in L3 */
#define CHUNK_ROWS 1024 /* inference: rows of the input projection per chunk */

typedef TYPE VEC __attribute__((vector_size(VBYTES)));
typedef ITYPE IVEC __attribute__((vector_size(VBYTES)));

/* ---- vectors ------------------------------------------------------------ */

static inline size_t FN(min)(size_t a, size_t b) { return a < b ? a : b; }

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

/* 1 / x: the divider on baseline and AVX2 double; else an approximate
 * reciprocal and Newton steps to full precision (half the latency). Each step
 * is r + r (1 - x r), whose residual FMA computes exactly: the result is then
 * correctly rounded (1 for x = 1, so a saturated gate is exactly 1) where the
 * form r (2 - x r) leaves it an ulp off. */
static inline VEC FN(vrecip)(VEC x)
{
    const VEC one = FN(vsplat)(1);
#if VBYTES == 64 && defined(__AVX512F__) && IS_FLOAT
    VEC r = (VEC)_mm512_rcp14_ps((__m512)x);  // 14 bits
    return r + r * (one - x * r);              // 28 bits
#elif VBYTES == 64 && defined(__AVX512F__)
    VEC r = (VEC)_mm512_rcp14_pd((__m512d)x);
    r = r + r * (one - x * r);
    r = r + r * (one - x * r);
    return r + r * (one - x * r);              // 14 -> 28 -> 56 bits, correctly rounded
#elif VBYTES == 32 && defined(__AVX__) && IS_FLOAT
    VEC r = (VEC)_mm256_rcp_ps((__m256)x);     // 12 bits
    r = r + r * (one - x * r);
    return r + r * (one - x * r);              // 24 bits
#else
    return one / x;
#endif
}

/* -|x|: the sign bit set. */
static inline VEC FN(vneg_abs)(VEC x)
{
    const TYPE negative_zero = -(TYPE)0;  // the sign bit alone
    ITYPE sign_bit;
    memcpy(&sign_bit, &negative_zero, sizeof sign_bit);
    const IVEC sign = (IVEC){0} + sign_bit;
    return (VEC)((IVEC)x | sign);
}

/*
 * exp(x) for x <= 0, as exp_nonpositive() of the BLAS path: x = k ln2 + r,
 * a Taylor polynomial in r, and 2^k put into the exponent bits. Arguments
 * below EXP_MIN are raised to it (no denormal results). The rounding constant
 * leaves k in the low mantissa bits, so k is read as an integer without a
 * conversion.
 *
 * vexp_reduce splits x as k ln2 + r, |r| <= ln2/2, returning r and setting
 * *two_to_k. NaN fails the comparison and is clamped too, as in the scalar
 * code: k then stays in [EXP_MIN / ln2, 0] and the shift is defined. The
 * callers put NaN back (vkeep_nan).
 */
static inline VEC FN(vexp_reduce)(VEC x, VEC *two_to_k)
{
    const VEC lowest = FN(vsplat)(EXP_MIN), magic = FN(vsplat)(ROUNDING_MAGIC);
    VEC clamped = FN(vselect)(x >= lowest, x, lowest);
    VEC shifted = clamped * (TYPE)1.4426950408889634 + magic;
    IVEC k_int = (IVEC)shifted - (IVEC)magic;
    VEC k = shifted - magic;
    *two_to_k = (VEC)((k_int + EXP_BIAS) << MANTISSA_BITS);
    return (clamped - k * LN2_HI) - k * LN2_LO;
}

/* result where x is a number, x (NaN) where it is not. */
static inline VEC FN(vkeep_nan)(VEC x, VEC result) { return FN(vselect)(x == x, result, x); }

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
    return FN(vkeep_nan)(x, FN(vexp_series)(r, 0) * two_to_k);
}

/* exp(x) - 1 for x <= 0, as 2^k (exp(r) - 1) + (2^k - 1): no cancellation near 0. */
static inline VEC FN(vexpm1_nonpositive)(VEC x)
{
    VEC two_to_k, r = FN(vexp_reduce)(x, &two_to_k);
    VEC em1 = two_to_k * (FN(vexp_series)(r, 1) * r) + (two_to_k - FN(vsplat)(1));
    return FN(vkeep_nan)(x, em1);
}

/* 1 / (1 + exp(-x)), from exp(-|x|) so that nothing overflows. */
static inline VEC FN(vsigmoid)(VEC x)
{
    VEC e = FN(vexp_nonpositive)(FN(vneg_abs)(x));
    VEC r = FN(vrecip)(FN(vsplat)(1) + e);
    return FN(vselect)(x >= 0, r, e * r);
}

/* tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|), with the sign of x:
 * accurate relative to the result for small |x|, where (1 - e) / (1 + e)
 * would cancel. */
static inline VEC FN(vtanh)(VEC x)
{
    VEC m = FN(vexpm1_nonpositive)(FN(vneg_abs)(x + x));
    VEC t = -m * FN(vrecip)(FN(vsplat)(2) + m);
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

/* ---- the dot-product micro-kernel (small row counts, no packing) ----------- */

/* The sum of the lanes of v, as a tree of halvings (a fixed order). */
static inline TYPE FN(vsum)(VEC v)
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
        VEC acc[MA][NB];                                                                    \
        for (int i = 0; i < MA; i++)                                                        \
            for (int j = 0; j < NB; j++) acc[i][j] = (VEC){0};                              \
        size_t k = 0;                                                                       \
        for (; k + GW <= K; k += GW) {                                                      \
            VEC a[MA], b[NB];                                                               \
            _Pragma("GCC unroll 8") for (int i = 0; i < MA; i++) a[i] = FN(vload)(A + i * lda + k); \
            _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) b[j] = FN(vload)(B + j * ldb + k); \
            _Pragma("GCC unroll 8") for (int i = 0; i < MA; i++)                           \
                _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) acc[i][j] += a[i] * b[j]; \
        }                                                                                   \
        if (k < K) { /* the last, partial vector */                                         \
            VEC a[MA], b[NB];                                                               \
            for (int i = 0; i < MA; i++) a[i] = FN(vload_n)(A + i * lda + k, K - k);        \
            for (int j = 0; j < NB; j++) b[j] = FN(vload_n)(B + j * ldb + k, K - k);        \
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
    VEC r[GW], t[GW];
    for (int i = 0; i < GW; i++) r[i] = (size_t)i < rows ? FN(vload)(src + i * lds) : (VEC){0};
    for (int half = GW / 2, round = 0; (1 << round) < GW; round++) {
        for (int i = 0; i < half; i++) {
            t[2 * i] = ZIP_LO(r[i], r[i + half]);
            t[2 * i + 1] = ZIP_HI(r[i], r[i + half]);
        }
        memcpy(r, t, sizeof r);
    }
    for (int i = 0; i < GW; i++) FN(vstore)(dst + i * ldd, r[i]);
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

/* ---- products with a plain output ------------------------------------------ */

/*
 * C (M, ncols) (+)= A (M, K) @ B (K, ncols) over K rows [k_lo, k_lo + k_len)
 * (a product over a large K runs as several, one per block of K, each adding
 * to C: then every block of A and B is read from memory once, not once per
 * panel). A[i, k] = A[i*rs + k*cs]; rows of A and C come in segments of M.
 * B is packed by pack_transposed() (panel p at B + p*K*4*GW) or row-major
 * with rows ldb apart (panel p at B + p*4*GW); the last vector of an unpacked
 * B may read GW - 1 elements past column ncols, so the caller makes them
 * readable or passes the last panel packed as `tail` (pack_tail_panel). K
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
} FN(product);

/* The length of near-equal blocks of at most `most` that cover K. */
static inline size_t FN(k_block)(size_t K, size_t most)
{
    const size_t blocks = (K + most - 1) / most;
    return blocks ? (K + blocks - 1) / blocks : 1;
}

/* Row blocks per item: at most 8, so that an item's rows of A stay in L2; with
 * packed B, where an item spans every panel, fewer, for some 32 items. */
static inline size_t FN(span)(const FN(product) *p, size_t blocks)
{
    size_t span = p->packed ? blocks / 32 : 8;
    return span < 1 ? 1 : span > 8 ? 8 : span;
}

static inline size_t FN(product_blocks)(const FN(product) *p)
{
    return FN(count_blocks)(p->M, MR) * (p->segments ? p->segments : 1);
}

static size_t FN(product_items)(const FN(product) *p)
{
    if (p->M == 0 || p->ncols == 0) return 0;
    const size_t blocks = FN(product_blocks)(p), span = FN(span)(p, blocks);
    const size_t spans = (blocks + span - 1) / span;
    // Packed B: an item is a span of rows across every panel (A in L2, B in L3).
    // Unpacked B: a panel and a span (the panel's rows of B in L2).
    return p->packed ? spans : FN(count_panels)(p->ncols) * spans;
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
    if (width == nv * GW) {
        FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, Bk, ldb, GW, C, p->ldc, k0 > 0);
        return;
    }
    FN(tile_buffer) buf;  // a partial last vector goes through here
    TYPE *t = (TYPE *)buf.v;
    if (k0 > 0)
        for (size_t i = 0; i < mr; i++) memcpy(t + i * TILE_LD, C + i * p->ldc, width * sizeof(TYPE));
    FN(tiles)[nv - 1][mr - 1](kn, A, p->rs, p->cs, Bk, ldb, GW, t, TILE_LD, k0 > 0);
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

static void FN(product_item)(const FN(product) *p, size_t item)
{
    const size_t blocks = FN(product_blocks)(p), span = FN(span)(p, blocks);
    const size_t spans = (blocks + span - 1) / span, s = item % spans;
    const size_t b_lo = s * span, b_hi = FN(min)(blocks, b_lo + span);
    if (!p->packed) {
        FN(product_panel)(p, item / spans, b_lo, b_hi);
        return;
    }
    for (size_t panel = 0; panel < FN(count_panels)(p->ncols); panel++)
        FN(product_panel)(p, panel, b_lo, b_hi);
}

/* The last column panel of W (K, ncols) if its last vector is partial, zero-padded:
 * tail[k, c] = W[k, c0 + c], rows nv*GW wide (see product.tail). */
static void FN(pack_tail_panel)(TYPE *tail, const TYPE *W, size_t K, size_t ncols)
{
    size_t c0, width, nv;
    FN(panel)(ncols, FN(count_panels)(ncols) - 1, &c0, &width, &nv);
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < nv; v++)
            FN(vstore)(tail + k * nv * GW + v * GW,
                       FN(vload_n)(W + k * ncols + c0 + v * GW, FN(min)(GW, width - v * GW)));
}

static inline int FN(has_partial_vector)(size_t ncols) { return ncols % GW != 0; }

/* ---- forward ------------------------------------------------------------ */

typedef struct FN(forward) {
    TYPE *hs, *c_state, *gates, *cs;
    const TYPE *xs, *Wx, *Wh, *b, *h0;
    size_t N, T, D, H;
    size_t G;                 /* groups: ceil(H / GW) */
    int pack_h;               /* Wh packed whole; else only a partial last group */
    TYPE *ph;                 /* the packed group panels of Wh */
    TYPE *x_tail;             /* Wx's last column panel, when its last vector is partial */
    TYPE *scratch;            /* inference: pre-activations of a chunk (N, Tc, 4H) */
    size_t Tc;                /* time steps per chunk of the input projection */
    size_t slices;            /* batch slices, or 0: the steps split by columns */
    size_t nb;                /* row blocks of N (splitting columns) */
    int train, gemm_only;
} FN(forward);

/* Layout of the forward workspace; returns its size in bytes (SIZE_MAX on overflow). */
static size_t FN(forward_layout)(size_t N, size_t T, size_t D, size_t H, int train,
                                 FN(forward) *f, size_t *off_ph, size_t *off_x_tail,
                                 size_t *off_scratch)
{
    size_t G = (H + GW - 1) / GW, offset = 0;
    f->G = G;
    // Packing Wh costs a pass over it, paid back from the second time step.
    // Wx is read in place by the input projection (a plain product).
    f->pack_h = T >= 2;
    *off_ph = gr_take(&offset, H * (f->pack_h ? G : H % GW ? 1 : 0) * TILE_LD, sizeof(TYPE));
    *off_x_tail = gr_take(&offset, FN(has_partial_vector)(4 * H) ? D * TILE_LD : 0, sizeof(TYPE));
    // The input projection runs in chunks of time steps, about CHUNK_ROWS rows
    // (at least MR per sequence), each just before the steps that use it: the
    // chunk is still in cache then, and inference keeps a chunk of scratch,
    // nothing of size T.
    size_t Tc = N ? (CHUNK_ROWS + N - 1) / N : 1;  // N == 0: nothing to chunk
    Tc = (Tc + MR - 1) / MR * MR;  // whole row blocks per sequence
    f->Tc = FN(min)(T, Tc);
    *off_scratch = gr_take(&offset, train ? 0 : N * f->Tc * 4 * H, sizeof(TYPE));
    return offset;
}

/* Wh's panel for group g: base, row stride and vector stride. */
static inline const TYPE *FN(group_panel)(const FN(forward) *f, size_t g, size_t *ldb, size_t *vs)
{
    const size_t H = f->H;
    if (f->pack_h || (g == f->G - 1 && H % GW)) {
        *ldb = TILE_LD;
        *vs = GW;
        return f->ph + (f->pack_h ? g * H * TILE_LD : 0);
    }
    *ldb = 4 * H;
    *vs = H;
    return f->Wh + g * GW;
}

/* The pre-activation row of sequence n at step t (gates, or the chunk's scratch). */
static inline TYPE *FN(gx_row)(const FN(forward) *f, size_t n, size_t t, size_t t0)
{
    return f->train ? f->gates + (n * f->T + t) * 4 * f->H
                    : f->scratch + (n * f->Tc + t - t0) * 4 * f->H;
}

/*
 * Time step t for rows [n0, n0 + mr) and the units of group g: the recurrent
 * product h_{t-1} @ Wh for those gate columns, plus x_t @ Wx (computed before
 * by the input projection) and b, then the gates and the state.
 */
static void FN(step_tile)(const FN(forward) *f, size_t t, size_t t0, size_t g, size_t n0,
                          size_t mr)
{
    const size_t T = f->T, H = f->H, j = g * GW, units = FN(min)(GW, H - j);
    // h_{t-1}: h0, or hs[:, t-1, :] read in place (rows T*H apart)
    const TYPE *h_prev = t ? f->hs + (t - 1) * H : f->h0;
    const size_t ld_h = t ? T * H : H;
    size_t ldb, vs;
    const TYPE *B = FN(group_panel)(f, g, &ldb, &vs);
    FN(tile_buffer) buf;
    FN(tiles)[3][mr - 1](H, h_prev + n0 * ld_h, ld_h, 1, B, ldb, vs, (TYPE *)buf.v, TILE_LD, 0);

    VEC bias[4];
    for (int q = 0; q < 4; q++) bias[q] = FN(vload_n)(f->b + q * H + j, units);
    for (size_t i = 0; i < mr; i++) {
        const size_t n = n0 + i;
        TYPE *gx = FN(gx_row)(f, n, t, t0) + j;  // x_t @ Wx in, activated gates out
        VEC a[4];
        for (int q = 0; q < 4; q++)
            a[q] = buf.v[i][q] + FN(vload_n)(gx + q * H, units) + bias[q];
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

/*
 * The input projection x_t @ Wx of the chunk at t0 for sequences [n_lo, n_hi),
 * into gates (training) or the chunk's scratch (inference): the chunk's tc
 * rows of each sequence are a segment, or, when the chunk is the whole
 * sequence, all the rows are one segment.
 */
static FN(product) FN(input_product)(const FN(forward) *f, size_t t0, size_t n_lo, size_t n_hi)
{
    const size_t H4 = 4 * f->H, D = f->D, T = f->T, tc = FN(min)(f->Tc, T - t0);
    const size_t ld_seq = f->train ? T * H4 : f->Tc * H4;  // gx rows from one sequence to the next
    TYPE *C = FN(gx_row)(f, n_lo, t0, t0);
    const TYPE *A = f->xs + (n_lo * T + t0) * D;
    if (tc == T)
        return (FN(product)){(n_hi - n_lo) * T, D, H4, A, D, 1, f->Wx, 0, H4, C, H4, f->x_tail,
                             1, 0, 0, 0, D};
    return (FN(product)){tc, D, H4, A, D, 1, f->Wx, 0, H4, C, H4, f->x_tail, n_hi - n_lo, T * D,
                         ld_seq, 0, D};
}

static size_t FN(input_items)(const FN(forward) *f, size_t t0, size_t n_lo, size_t n_hi)
{
    FN(product) p = FN(input_product)(f, t0, n_lo, n_hi);
    return FN(product_items)(&p);
}

static void FN(input_item)(const FN(forward) *f, size_t t0, size_t n_lo, size_t n_hi,
                           size_t item)
{
    FN(product) p = FN(input_product)(f, t0, n_lo, n_hi);
    FN(product_item)(&p, item);
}

static size_t FN(forward_items)(const void *ctx, size_t phase)
{
    const FN(forward) *f = ctx;
    if (phase == 0) return f->G + 1;  // packing: Wh by group, and Wx's tail panel
    if (f->slices) return phase == 1 ? f->slices : 0;
    // Splitting columns: per chunk, the input projection then one phase per step.
    const size_t per_chunk = 1 + f->Tc, c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk;
    const size_t t0 = c * f->Tc;
    if (t0 >= f->T) return 0;
    if (k == 0) return FN(input_items)(f, t0, 0, f->N);
    return k <= FN(min)(f->Tc, f->T - t0) ? f->G : 0;
}

static size_t FN(forward_phases)(const FN(forward) *f)
{
    return f->slices ? 2 : 1 + (f->T + f->Tc - 1) / f->Tc * (1 + f->Tc);
}

/* A batch slice: sequences [n_lo, n_hi) through every step. */
static void FN(forward_slice)(const FN(forward) *f, size_t n_lo, size_t n_hi)
{
    const size_t rows = n_hi - n_lo, nb = FN(count_blocks)(rows, MR), G = f->G;
    for (size_t t0 = 0; t0 < f->T; t0 += f->Tc) {
        const size_t items = FN(input_items)(f, t0, n_lo, n_hi);
        for (size_t item = 0; item < items; item++) FN(input_item)(f, t0, n_lo, n_hi, item);
        for (size_t t = t0; t < FN(min)(t0 + f->Tc, f->T); t++)
            for (size_t x = 0; x < G; x++) {
                const size_t g = t % 2 ? G - 1 - x : x;  // odd steps backwards (see forward_run)
                for (size_t blk = 0; blk < nb; blk++) {
                    size_t n0, mr;
                    FN(block)(rows, nb, blk, &n0, &mr);
                    FN(step_tile)(f, t, t0, g, n_lo + n0, mr);
                }
            }
    }
}

static void FN(forward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(forward) *f = ctx;
    const size_t H = f->H;
    if (phase == 0) {
        if (item == f->G) {
            if (f->x_tail) FN(pack_tail_panel)(f->x_tail, f->Wx, f->D, 4 * H);
        } else if (f->pack_h || (item == f->G - 1 && H % GW)) {
            // Unpacked, Wh is read in place but for a partial last group.
            FN(pack_group)(f->ph + (f->pack_h ? item * H * TILE_LD : 0), f->Wh, H, H, item);
        }
        return;
    }
    if (f->slices) {
        size_t n_lo, n_hi;
        FN(share)(f->N, (int)item, (int)f->slices, &n_lo, &n_hi);
        FN(forward_slice)(f, n_lo, n_hi);
        return;
    }
    const size_t per_chunk = 1 + f->Tc, c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk;
    const size_t t0 = c * f->Tc;
    if (k == 0) {
        FN(input_item)(f, t0, 0, f->N, item);
        return;
    }
    // A group's panel of Wh serves every row block (from L2 after the first).
    // Odd steps go through the groups backwards: a step starts with the
    // panels that the last one used last, which may still be in L2.
    const size_t t = t0 + k - 1, g = t % 2 ? f->G - 1 - item : item;
    for (size_t blk = 0; blk < f->nb; blk++) {
        size_t n0, mr;
        FN(block)(f->N, f->nb, blk, &n0, &mr);
        FN(step_tile)(f, t, t0, g, n0, mr);
    }
}

int FN(gr_simd_forward)(const gr_forward_args *args)
{
    FN(forward) f = {0};
    size_t off_ph, off_x_tail, off_scratch;
    size_t need = FN(forward_layout)(args->N, args->T, args->D, args->H, args->train, &f,
                                     &off_ph, &off_x_tail, &off_scratch);
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
    f.ph = (TYPE *)(ws + off_ph);
    f.x_tail = FN(has_partial_vector)(4 * f.H) ? (TYPE *)(ws + off_x_tail) : NULL;
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

/* ---- backward ----------------------------------------------------------- */

#define DB_COLUMNS 256     /* columns of db per item */
#define DOT_ROWS_DXS 64    /* dxs as dot products when N*T is at most this */
#define DXS_DOT_COLUMNS 48 /* columns of dxs per dot item */

typedef struct FN(backward) {
    TYPE *dxs, *dWx, *dWh, *db, *dh, *dc, *gates, *cs;
    const TYPE *dhs, *xs, *Wx, *Wh, *h0, *c0;
    size_t N, T, D, H;
    size_t PH, PD;            /* panels of Wh^T over H and of Wx^T over D */
    int dot_h, dot_x;         /* dh, dxs as dot products of rows (Wh, Wx unpacked) */
    TYPE *pwh, *pwx;          /* the packed panels: K = 4H rows each */
    size_t slices;            /* batch slices, or 0: the steps split by columns */
    size_t nb;                /* row blocks of N (splitting columns) */
    FN(product) products[3];  /* dxs, dWx, dWh */
    size_t kw, nkw;           /* the weight gradients' blocks of K = N*T: length, count */
    int gemm_only;
} FN(backward);

static size_t FN(backward_layout)(size_t N, size_t T, size_t D, size_t H, FN(backward) *w,
                                  size_t *off_pwh, size_t *off_pwx)
{
    (void)N, (void)T;
    size_t offset = 0, H4 = 4 * H;
    w->PH = FN(count_panels)(H);
    w->PD = FN(count_panels)(D);
    // With a few rows, packing Wh^T or Wx^T costs more than the products
    // save: they become dot products of rows (a choice by size alone, so
    // that every thread count computes the same sums).
    w->dot_h = N <= DOT_MA;
    w->dot_x = N * T <= DOT_ROWS_DXS;
    if (H && H4 / 4 != H) return SIZE_MAX;
    *off_pwh = gr_take(&offset, w->dot_h ? 0 : w->PH * TILE_LD, H4 * sizeof(TYPE));
    *off_pwx = gr_take(&offset, w->dot_x ? 0 : w->PD * TILE_LD, H4 * sizeof(TYPE));
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
    size_t u0, width, nv;
    FN(panel)(H, p, &u0, &width, &nv);
    FN(tile_buffer) buf;
    if (t + 1 < T) {
        const TYPE *dA_next = w->gates + (n0 * T + t + 1) * H4;  // dA[n0, t+1, :], rows T*4H apart
        if (w->dot_h)
            FN(dot_rows)(mr, width, H4, dA_next, T * H4, w->Wh + u0 * H4, H4, (TYPE *)buf.v, TILE_LD);
        else
            FN(tiles)[nv - 1][mr - 1](H4, dA_next, T * H4, 1, w->pwh + p * H4 * TILE_LD,
                                      nv * GW, GW, (TYPE *)buf.v, TILE_LD, 0);
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
    size_t u0, width, nv;
    FN(panel)(H, p, &u0, &width, &nv);
    FN(tile_buffer) buf;
    if (w->dot_h)
        FN(dot_rows)(mr, width, H4, w->gates + n0 * T * H4, T * H4, w->Wh + u0 * H4, H4,
                     (TYPE *)buf.v, TILE_LD);
    else
        FN(tiles)[nv - 1][mr - 1](H4, w->gates + n0 * T * H4, T * H4, 1,
                                  w->pwh + p * H4 * TILE_LD, nv * GW, GW, (TYPE *)buf.v,
                                  TILE_LD, 0);
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
    for (size_t k = 0; k <= w->T; k++)  // steps T-1 .. 0, then dh0
        for (size_t x = 0; x < w->PH; x++) {
            const size_t p = k % 2 ? w->PH - 1 - x : x;  // alternate directions, as backward_run
            for (size_t blk = 0; blk < nb; blk++) {
                size_t n0, mr;
                FN(block)(rows, nb, blk, &n0, &mr);
                if (k < w->T) FN(backstep_tile)(w, w->T - 1 - k, p, n_lo + n0, mr);
                else FN(first_state_tile)(w, p, n_lo + n0, mr);
            }
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

/* dxs = dA @ Wx^T as dot products (few rows): items of DXS_DOT_COLUMNS columns. */
static size_t FN(dxs_dot_items)(const FN(backward) *w)
{
    return w->dot_x ? (w->D + DXS_DOT_COLUMNS - 1) / DXS_DOT_COLUMNS : 0;
}

static void FN(dxs_dot_item)(const FN(backward) *w, size_t item)
{
    const size_t NT = w->N * w->T, H4 = 4 * w->H, d0 = item * DXS_DOT_COLUMNS;
    const size_t width = FN(min)(DXS_DOT_COLUMNS, w->D - d0);
    for (size_t r = 0; r < NT; r += DOT_MA)
        FN(dot_rows)(FN(min)(DOT_MA, NT - r), width, H4, w->gates + r * H4, H4,
                     w->Wx + d0 * H4, H4, w->dxs + r * w->D + d0, w->D);
}

/* Phases: packing; the recurrence (one phase of slices, or a phase per step
 * and one for dh0); the batched products and db, as one phase. */
/* The weight gradients' product `which` (0: dWx, 1: dWh) over K block k. */
static FN(product) FN(weight_product)(const FN(backward) *w, int which, size_t k)
{
    FN(product) p = w->products[1 + which];
    p.k_lo = k * w->kw;
    p.k_len = FN(min)(w->kw, p.K - p.k_lo);
    return p;
}

static size_t FN(weight_items)(const FN(backward) *w, size_t k)
{
    FN(product) x = FN(weight_product)(w, 0, k), h = FN(weight_product)(w, 1, k);
    return FN(product_items)(&x) + FN(product_items)(&h);
}

/*
 * Phases: packing; the recurrence (one phase of slices, or a phase per step
 * and one for dh0); then the weight gradients one block of K = N*T rows at a
 * time (a phase each, adding up), with dxs and db in the first of them.
 */
static size_t FN(backward_items)(const void *ctx, size_t phase)
{
    const FN(backward) *w = ctx;
    const size_t recurrence = w->slices ? 1 : w->T + 1;
    if (phase == 0) return (w->dot_h ? 0 : w->PH) + (w->dot_x ? 0 : w->PD);
    if (phase <= recurrence) return w->slices ? w->slices : w->PH;
    const size_t k = phase - recurrence - 1;
    if (k >= w->nkw) return 0;
    size_t items = FN(weight_items)(w, k);
    if (k == 0)
        items += FN(product_items)(&w->products[0]) + FN(dxs_dot_items)(w)
                 + (4 * w->H + DB_COLUMNS - 1) / DB_COLUMNS;
    return items;
}

static void FN(backward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(backward) *w = ctx;
    const size_t H4 = 4 * w->H, recurrence = w->slices ? 1 : w->T + 1;
    if (phase == 0) {
        const size_t ph = w->dot_h ? 0 : w->PH;
        if (item < ph) FN(pack_transposed)(w->pwh, w->Wh, w->H, H4, item, item + 1);
        else FN(pack_transposed)(w->pwx, w->Wx, w->D, H4, item - ph, item - ph + 1);
        return;
    }
    if (phase <= recurrence) {
        if (w->slices) {
            size_t n_lo, n_hi;
            FN(share)(w->N, (int)item, (int)w->slices, &n_lo, &n_hi);
            FN(backward_slice)(w, n_lo, n_hi);
            return;
        }
        // A panel serves every row block; odd phases go through the panels
        // backwards, to start with those still in L2.
        const size_t p = phase % 2 ? w->PH - 1 - item : item;
        for (size_t blk = 0; blk < w->nb; blk++) {
            size_t n0, mr;
            FN(block)(w->N, w->nb, blk, &n0, &mr);
            if (phase <= w->T) FN(backstep_tile)(w, w->T - phase, p, n0, mr);
            else FN(first_state_tile)(w, p, n0, mr);
        }
        return;
    }
    const size_t k = phase - recurrence - 1;
    for (int which = 0; which < 2; which++) {
        FN(product) p = FN(weight_product)(w, which, k);
        size_t items = FN(product_items)(&p);
        if (item < items) {
            FN(product_item)(&p, item);
            return;
        }
        item -= items;
    }
    size_t items = FN(product_items)(&w->products[0]);
    if (item < items) {
        FN(product_item)(&w->products[0], item);
        return;
    }
    item -= items;
    if (item < FN(dxs_dot_items)(w)) {
        FN(dxs_dot_item)(w, item);
        return;
    }
    FN(db_item)(w, item - FN(dxs_dot_items)(w));
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
    w.products[0] = (FN(product)){w.dot_x ? 0 : NT, H4, D, w.gates, H4, 1, w.pwx, 1, 0, w.dxs, D,
                                  NULL, 1, 0, 0, 0, H4};
    w.products[1] = (FN(product)){D, NT, H4, w.xs, 1, D, w.gates, 0, H4, w.dWx, H4, NULL, 1, 0, 0,
                                  0, NT};
    w.products[2] = (FN(product)){H, NT, H4, w.cs, 1, H, w.gates, 0, H4, w.dWh, H4, NULL, 1, 0, 0,
                                  0, NT};
    w.nkw = (NT + KW - 1) / KW;
    w.kw = FN(k_block)(NT, KW);
    FN(plan) plan = {&w, FN(backward_items), FN(backward_run), 0};
    plan.total = FN(count_items)(&plan, (w.slices ? 1 : T + 1) + 1 + w.nkw);
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
#undef KW
#undef CHUNK_ROWS
#undef ZIP_LO
#undef ZIP_HI
#undef DB_COLUMNS
#undef DOT_ROWS_DXS
#undef DXS_DOT_COLUMNS
#undef DOT_MA
#undef DOT_NB
#undef DOTS_FOR
#undef DOT_ROW
#undef DEFINE_DOT
#undef TILE_LD
