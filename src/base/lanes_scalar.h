/*
 * Lanes one element wide: the names of lanes_vector.h for plain TYPE, so that
 * the BLAS path runs the same gate math (vector_math.h, the cells) as the
 * SIMD paths, with no vector extensions (a compiler without them builds the
 * BLAS path alone). Masks are integers of all ones or all zeros, as vector
 * comparisons give.
 */
#define GW 1
#define V TYPE
#define IV ITYPE

static inline size_t FN(min)(size_t a, size_t b) { return a < b ? a : b; }
static inline V FN(load)(const TYPE *p) { return *p; }
static inline void FN(store)(TYPE *p, V v) { *p = v; }
static inline V FN(splat)(TYPE x) { return x; }
static inline V FN(load_n)(const TYPE *p, size_t n) { return n ? *p : 0; }

static inline void FN(store_n)(TYPE *p, V v, size_t n)
{
    if (n) *p = v;
}

static inline V FN(select)(IV mask, V a, V b) { return mask ? a : b; }
static inline IV FN(mask_ge)(V a, V b) { return -(IV)(a >= b); }
static inline IV FN(mask_lt)(V a, V b) { return -(IV)(a < b); }
static inline IV FN(mask_isnum)(V x) { return -(IV)(x == x); }

static inline IV FN(bits)(V x)
{
    IV i;
    memcpy(&i, &x, sizeof i);
    return i;
}

static inline V FN(from_bits)(IV i)
{
    V x;
    memcpy(&x, &i, sizeof x);
    return x;
}

static inline V FN(neg_abs)(V x) { return x < 0 ? x : -x; }
static inline V FN(recip)(V x) { return 1 / x; }
