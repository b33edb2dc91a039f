/*
 * Compiles simd.template.c for float and double. Included once by each
 * simd_<isa>.c, after it defined
 *   ISA      the instruction-set name used in function names (avx512, ...)
 *   VBYTES   bytes per vector: 64, 32 or 16
 *   MR       the most rows of a micro-kernel: MR x 4 vector accumulators, plus
 *            4 vectors of B and a broadcast, must fit in the vector registers
 * The exp constants are those of lstm.c (the BLAS path).
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* Micro-kernel instances for rows 1 .. MR (see DEFINE_TILE in simd.template.c). */
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
#define TILES_UP_TO_9(NV) TILES_UP_TO_8(NV) DEFINE_TILE(9, NV)
#define ENTRIES_UP_TO_9(NV) ENTRIES_UP_TO_8(NV), TILE_NAME(9, NV)
#define TILES_UP_TO_10(NV) TILES_UP_TO_9(NV) DEFINE_TILE(10, NV)
#define ENTRIES_UP_TO_10(NV) ENTRIES_UP_TO_9(NV), TILE_NAME(10, NV)
#define TILES_UP_TO_11(NV) TILES_UP_TO_10(NV) DEFINE_TILE(11, NV)
#define ENTRIES_UP_TO_11(NV) ENTRIES_UP_TO_10(NV), TILE_NAME(11, NV)
#define TILES_UP_TO_12(NV) TILES_UP_TO_11(NV) DEFINE_TILE(12, NV)
#define ENTRIES_UP_TO_12(NV) ENTRIES_UP_TO_11(NV), TILE_NAME(12, NV)
#if MR < 1 || MR > 12
#error "MR must be 1 .. 12"
#endif

/* 1/k! for k = 0..degree: 7 terms reach float's ulp for |r| <= ln2/2, 13 double's. */
#define INV_FACTORIALS_7 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                          1.0 / 5040}
#define INV_FACTORIALS_13 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                           1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,      \
                           1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0}

#define TYPE float
#define TYPE_BYTES 4
#define SFX f32
#define ITYPE int32_t
#define IS_FLOAT 1
#define MANTISSA_BITS 23
#define EXP_BIAS 127
#define EXP_MIN (-87.0f)                /* exp(-87) is still a normal float */
#define EXP_DEGREE 7
#define EXP_COEFFICIENTS INV_FACTORIALS_7
#define LN2_HI 0.693359375f             /* ln 2 split so that k * LN2_HI is exact */
#define LN2_LO (-2.12194440e-4f)
#define ROUNDING_MAGIC 12582912.0f       /* 1.5 * 2^23 */
#include "simd.template.c"
#undef TYPE
#undef TYPE_BYTES
#undef SFX
#undef ITYPE
#undef IS_FLOAT
#undef MANTISSA_BITS
#undef EXP_BIAS
#undef EXP_MIN
#undef EXP_DEGREE
#undef EXP_COEFFICIENTS
#undef LN2_HI
#undef LN2_LO
#undef ROUNDING_MAGIC

#define TYPE double
#define TYPE_BYTES 8
#define SFX f64
#define ITYPE int64_t
#define IS_FLOAT 0
#define MANTISSA_BITS 52
#define EXP_BIAS 1023
#define EXP_MIN (-708.0)                /* exp(-708) is still a normal double */
#define EXP_DEGREE 13
#define EXP_COEFFICIENTS INV_FACTORIALS_13
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define ROUNDING_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#include "simd.template.c"
