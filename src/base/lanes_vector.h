/*
 * Lanes as GCC vectors of VBYTES bytes: the operations that vector_math.h and
 * the cells are written in, for the SIMD paths. lanes_scalar.h gives the same
 * names one lane wide, for the BLAS path, so that the gate math is written
 * once. Included per TYPE (precisions.h) with FN(name) naming and VBYTES set.
 *
 *   V, IV                  a vector of TYPE and of the same-size integer
 *   GW                     lanes per vector
 *   load, store            GW lanes; load_n, store_n: the first n (zeros past),
 *                          masked on AVX-512 and AVX2, lane by lane on the generic path
 *   splat                  every lane x
 *   select(mask, a, b)     mask ? a : b, lane by lane (mask lanes all ones or zeros)
 *   mask_ge, mask_lt, mask_isnum   comparisons as masks
 *   bits, from_bits        reinterpret between V and IV
 *   neg_abs, recip         -|x| and 1 / x
 */
#define GW (VBYTES / (int)sizeof(TYPE))
#define V FN(vec)
#define IV FN(ivec)

typedef TYPE V __attribute__((vector_size(VBYTES)));
typedef ITYPE IV __attribute__((vector_size(VBYTES)));

static inline size_t FN(min)(size_t a, size_t b) { return a < b ? a : b; }

static inline V FN(load)(const TYPE *p)
{
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FN(store)(TYPE *p, V v) { memcpy(p, &v, sizeof v); }

static inline V FN(splat)(TYPE x) { return (V){0} + x; }

#if VBYTES == 32 && defined(__AVX2__)
/* AVX2's masks: lanes below n all ones. */
static inline IV FN(lanes_below)(size_t n)
{
#if IS_FLOAT
    const IV iota = {0, 1, 2, 3, 4, 5, 6, 7};
#else
    const IV iota = {0, 1, 2, 3};
#endif
    return iota < (ITYPE)n;
}
#endif

/* The first n lanes of p (n <= GW), zeros beyond; reads nothing past p[n-1]. */
static inline V FN(load_n)(const TYPE *p, size_t n)
{
    if (n == GW) return FN(load)(p);
#if VBYTES == 64 && defined(__AVX512F__)
#if IS_FLOAT
    return (V)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    return (V)_mm512_maskz_loadu_pd((__mmask8)((1u << n) - 1), p);
#endif
#elif VBYTES == 32 && defined(__AVX2__)
#if IS_FLOAT
    return (V)_mm256_maskload_ps(p, (__m256i)FN(lanes_below)(n));
#else
    return (V)_mm256_maskload_pd(p, (__m256i)FN(lanes_below)(n));
#endif
#else
    V v = {0};
    for (size_t l = 0; l < n; l++) v[l] = p[l];
    return v;
#endif
}

static inline void FN(store_n)(TYPE *p, V v, size_t n)
{
    if (n == GW) {
        FN(store)(p, v);
        return;
    }
#if VBYTES == 64 && defined(__AVX512F__)
#if IS_FLOAT
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1), (__m512d)v);
#endif
#elif VBYTES == 32 && defined(__AVX2__)
#if IS_FLOAT
    _mm256_maskstore_ps(p, (__m256i)FN(lanes_below)(n), (__m256)v);
#else
    _mm256_maskstore_pd(p, (__m256i)FN(lanes_below)(n), (__m256d)v);
#endif
#else
    for (size_t l = 0; l < n; l++) p[l] = v[l];
#endif
}

static inline V FN(select)(IV mask, V a, V b) { return (V)((mask & (IV)a) | (~mask & (IV)b)); }
static inline IV FN(mask_ge)(V a, V b) { return a >= b; }
static inline IV FN(mask_lt)(V a, V b) { return a < b; }
static inline IV FN(mask_isnum)(V x) { return x == x; }
static inline IV FN(bits)(V x) { return (IV)x; }
static inline V FN(from_bits)(IV x) { return (V)x; }

/* -|x|: the sign bit set. */
static inline V FN(neg_abs)(V x)
{
    const TYPE negative_zero = -(TYPE)0;  // the sign bit alone
    ITYPE sign_bit;
    memcpy(&sign_bit, &negative_zero, sizeof sign_bit);
    return (V)((IV)x | ((IV){0} + sign_bit));
}

/* 1 / x: the divider on baseline and AVX2 double; else an approximate
 * reciprocal and Newton steps to full precision (half the latency). Each step
 * is r + r (1 - x r), whose residual FMA computes exactly: the result is then
 * correctly rounded (1 for x = 1, so a saturated gate is exactly 1) where the
 * form r (2 - x r) leaves it an ulp off. */
static inline V FN(recip)(V x)
{
    const V one = FN(splat)(1);
#if VBYTES == 64 && defined(__AVX512F__) && IS_FLOAT
    V r = (V)_mm512_rcp14_ps((__m512)x);  // 14 bits
    return r + r * (one - x * r);          // 28 bits
#elif VBYTES == 64 && defined(__AVX512F__)
    V r = (V)_mm512_rcp14_pd((__m512d)x);
    r = r + r * (one - x * r);
    r = r + r * (one - x * r);
    return r + r * (one - x * r);          // 14 -> 28 -> 56 bits, correctly rounded
#elif VBYTES == 32 && defined(__AVX__) && IS_FLOAT
    V r = (V)_mm256_rcp_ps((__m256)x);     // 12 bits
    r = r + r * (one - x * r);
    return r + r * (one - x * r);          // 24 bits
#else
    return one / x;
#endif
}
