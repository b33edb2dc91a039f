/*
 * The micro-kernel of the product engine (gemm.h), for one precision and one
 * instruction set (included per TYPE after lanes_vector.h): a GEMM_MR x
 * GEMM_NR block of C held in GEMM_MR * GEMM_NV vector registers over a K
 * block, fed with a sliver of A (GEMM_MR rows, one element of each row per k,
 * broadcast) and a packed panel of B (GEMM_NR columns, GEMM_NV vectors per k).
 * GEMM_MR and GEMM_NV come from the simd_<isa>.c file: as many accumulators
 * as the registers hold beside the panel's vectors and a broadcast.
 */
#ifndef GEMM_MR
#error "define GEMM_MR and GEMM_NV (the micro-kernel's rows and vectors) in simd_<isa>.c"
#endif
#if GEMM_MR < 1 || GEMM_MR > 16 || GEMM_NV < 1 || GEMM_NV > 4
#error "GEMM_MR must be 1 .. 16 and GEMM_NV 1 .. 4"
#endif
#define GEMM_NR (GEMM_NV * GW) /* columns of a panel of B */

/*
 * C[i, j] (+)= sum_k A[i, k] B[k, j] for i < mr, j < width (rows of C ldc
 * apart), where A[i, k] = a[k*cs + i*RS] for i < GEMM_MR (rows past mr are
 * computed and dropped: packed slivers hold zeros there) and B[k, j] =
 * b[k*GEMM_NR + j] (a packed panel, zeros past width). mode GEMM_SET writes
 * C, GEMM_ADD adds to it, GEMM_BIAS writes bias[j] + the sum. Edge tiles
 * (mr < GEMM_MR or width < GEMM_NR) store partial vectors, never scalars.
 * c_next (or NULL): the tile the caller computes next, rows ldc apart, whose
 * lines of C this one fetches while it runs.
 */
#ifndef GEMM_MODES_DEFINED
#define GEMM_MODES_DEFINED
enum { GEMM_SET, GEMM_ADD, GEMM_BIAS };
#endif

typedef void (*FN(ukernel_fn))(size_t kc, const TYPE *a, size_t rs, size_t cs, const TYPE *b,
                               TYPE *c, size_t ldc, size_t mr, size_t width, int mode,
                               const TYPE *bias, const TYPE *c_next);

/* Cache lines of a row of a tile of C, and of the whole tile (prefetched). */
#define GEMM_ROW_LINES ((GEMM_NR * (int)sizeof(TYPE) + 63) / 64)
#define GEMM_C_LINES (GEMM_MR * GEMM_ROW_LINES)

/* One k of the micro-kernel: GEMM_NV vectors of B, ROWS broadcasts of A. */
#define UKERNEL_STEP(RS, ROWS)                                                               \
    do {                                                                                     \
        const TYPE *a_k = a + k * cs, *b_k = b + k * GEMM_NR;                                \
        V bv[GEMM_NV];                                                                      \
        _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) bv[v] = FN(load)(b_k + v * GW); \
        _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; i++) {                           \
            const TYPE ai = a_k[(size_t)i * RS]; /* broadcast: no splat's 0 + x */           \
            _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) acc[i][v] += ai * bv[v]; \
        }                                                                                    \
    } while (0)

/* ROWS rows of A (ROWS == GEMM_MR but for the last rows of an A read in place,
 * which must not be read past), RS their stride: 1, or rs. */
#define DEFINE_UKERNEL(NAME, RS, ROWS)                                                      \
    static void NAME(size_t kc, const TYPE *restrict a, size_t rs, size_t cs,              \
                     const TYPE *restrict b, TYPE *restrict c, size_t ldc, size_t mr,      \
                     size_t width, int mode, const TYPE *restrict bias,                   \
                     const TYPE *c_next)                                                   \
    {                                                                                      \
        (void)rs;                                                                          \
        V acc[ROWS][GEMM_NV];                                                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; i++)                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) acc[i][v] = (V){0}; \
        size_t k = 0;                                                                      \
        if (c_next) {                                                                      \
            /* The next tile's lines of C, one at a time across the K loop: they */        \
            /* arrive before it runs, without a burst that stalls this one's loads. */      \
            const size_t step = kc / GEMM_C_LINES;                                         \
            for (size_t line = 0; line < GEMM_C_LINES; line++) {                           \
                __builtin_prefetch(c_next + line / GEMM_ROW_LINES * ldc                     \
                                       + line % GEMM_ROW_LINES * (64 / sizeof(TYPE)), 1, 3);\
                for (const size_t end = k + step; k < end; k++) UKERNEL_STEP(RS, ROWS);     \
            }                                                                              \
        }                                                                                  \
        for (; k < kc; k++) UKERNEL_STEP(RS, ROWS);                                        \
        if (mr == ROWS && width == GEMM_NR) {                                              \
            _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; i++) {                     \
                TYPE *c_i = c + (size_t)i * ldc;                                           \
                _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) {               \
                    V x = acc[i][v];                                                       \
                    if (mode == GEMM_ADD) x += FN(load)(c_i + v * GW);                     \
                    else if (mode == GEMM_BIAS) x += FN(load)(bias + v * GW);              \
                    FN(store)(c_i + v * GW, x);                                            \
                }                                                                          \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; i++) {                         \
            if ((size_t)i >= mr) break;                                                    \
            TYPE *c_i = c + (size_t)i * ldc;                                               \
            _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) {                   \
                if ((size_t)v * GW >= width) break;                                        \
                const size_t n = FN(min)(GW, width - (size_t)v * GW);                      \
                V x = acc[i][v];                                                           \
                if (mode == GEMM_ADD) x += FN(load_n)(c_i + v * GW, n);                    \
                else if (mode == GEMM_BIAS) x += FN(load_n)(bias + v * GW, n);             \
                FN(store_n)(c_i + v * GW, x, n);                                           \
            }                                                                              \
        }                                                                                  \
    }

/* ukernel: a packed sliver (rows of A side by side for each k: rs = 1, cs =
 * GEMM_MR), or A read in place down its columns (rs = 1, any cs), all
 * GEMM_MR rows. ukernels_1[rows - 1], ukernels_rs[rows - 1]: the last rows of an
 * A read in place, down its columns or with any strides (row-major). */
#define UKERNEL_NAME(RS_NAME, ROWS) FN(CAT(CAT(CAT(ukernel_, RS_NAME), _), ROWS))
#define UKERNELS_UP_TO_1(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 1), RS, 1)
#define UKERNELS_UP_TO_2(RS_NAME, RS) UKERNELS_UP_TO_1(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 2), RS, 2)
#define UKERNELS_UP_TO_3(RS_NAME, RS) UKERNELS_UP_TO_2(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 3), RS, 3)
#define UKERNELS_UP_TO_4(RS_NAME, RS) UKERNELS_UP_TO_3(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 4), RS, 4)
#define UKERNELS_UP_TO_5(RS_NAME, RS) UKERNELS_UP_TO_4(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 5), RS, 5)
#define UKERNELS_UP_TO_6(RS_NAME, RS) UKERNELS_UP_TO_5(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 6), RS, 6)
#define UKERNELS_UP_TO_7(RS_NAME, RS) UKERNELS_UP_TO_6(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 7), RS, 7)
#define UKERNELS_UP_TO_8(RS_NAME, RS) UKERNELS_UP_TO_7(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 8), RS, 8)
#define UKERNELS_UP_TO_9(RS_NAME, RS) UKERNELS_UP_TO_8(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 9), RS, 9)
#define UKERNELS_UP_TO_10(RS_NAME, RS) UKERNELS_UP_TO_9(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 10), RS, 10)
#define UKERNELS_UP_TO_11(RS_NAME, RS) UKERNELS_UP_TO_10(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 11), RS, 11)
#define UKERNELS_UP_TO_12(RS_NAME, RS) UKERNELS_UP_TO_11(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 12), RS, 12)
#define UKERNELS_UP_TO_13(RS_NAME, RS) UKERNELS_UP_TO_12(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 13), RS, 13)
#define UKERNELS_UP_TO_14(RS_NAME, RS) UKERNELS_UP_TO_13(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 14), RS, 14)
#define UKERNELS_UP_TO_15(RS_NAME, RS) UKERNELS_UP_TO_14(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 15), RS, 15)
#define UKERNELS_UP_TO_16(RS_NAME, RS) UKERNELS_UP_TO_15(RS_NAME, RS) DEFINE_UKERNEL(UKERNEL_NAME(RS_NAME, 16), RS, 16)
#define UKERNEL_ENTRIES_1(N) UKERNEL_NAME(N, 1)
#define UKERNEL_ENTRIES_2(N) UKERNEL_ENTRIES_1(N), UKERNEL_NAME(N, 2)
#define UKERNEL_ENTRIES_3(N) UKERNEL_ENTRIES_2(N), UKERNEL_NAME(N, 3)
#define UKERNEL_ENTRIES_4(N) UKERNEL_ENTRIES_3(N), UKERNEL_NAME(N, 4)
#define UKERNEL_ENTRIES_5(N) UKERNEL_ENTRIES_4(N), UKERNEL_NAME(N, 5)
#define UKERNEL_ENTRIES_6(N) UKERNEL_ENTRIES_5(N), UKERNEL_NAME(N, 6)
#define UKERNEL_ENTRIES_7(N) UKERNEL_ENTRIES_6(N), UKERNEL_NAME(N, 7)
#define UKERNEL_ENTRIES_8(N) UKERNEL_ENTRIES_7(N), UKERNEL_NAME(N, 8)
#define UKERNEL_ENTRIES_9(N) UKERNEL_ENTRIES_8(N), UKERNEL_NAME(N, 9)
#define UKERNEL_ENTRIES_10(N) UKERNEL_ENTRIES_9(N), UKERNEL_NAME(N, 10)
#define UKERNEL_ENTRIES_11(N) UKERNEL_ENTRIES_10(N), UKERNEL_NAME(N, 11)
#define UKERNEL_ENTRIES_12(N) UKERNEL_ENTRIES_11(N), UKERNEL_NAME(N, 12)
#define UKERNEL_ENTRIES_13(N) UKERNEL_ENTRIES_12(N), UKERNEL_NAME(N, 13)
#define UKERNEL_ENTRIES_14(N) UKERNEL_ENTRIES_13(N), UKERNEL_NAME(N, 14)
#define UKERNEL_ENTRIES_15(N) UKERNEL_ENTRIES_14(N), UKERNEL_NAME(N, 15)
#define UKERNEL_ENTRIES_16(N) UKERNEL_ENTRIES_15(N), UKERNEL_NAME(N, 16)

CAT(UKERNELS_UP_TO_, GEMM_MR)(unit, 1)
CAT(UKERNELS_UP_TO_, GEMM_MR)(strided, rs)
static const FN(ukernel_fn) FN(ukernels_1)[GEMM_MR] = {CAT(UKERNEL_ENTRIES_, GEMM_MR)(unit)};
static const FN(ukernel_fn) FN(ukernels_rs)[GEMM_MR] = {CAT(UKERNEL_ENTRIES_, GEMM_MR)(strided)};
#define UKERNEL_FULL UKERNEL_NAME(unit, GEMM_MR) /* every row, rs = 1 */
