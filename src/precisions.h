/*
 * float and double, in one place: includes the file named by GR_TEMPLATE once
 * per precision, with
 *   TYPE, TYPE_BYTES, SFX (f32, f64), IS_FLOAT, ITYPE (the same-size integer)
 *   MANTISSA_BITS, EXP_BIAS     the IEEE layout of TYPE
 *   EXP_MIN                     the lowest exp argument whose result is normal
 *   EXP_DEGREE, EXP_COEFFICIENTS  exp's Taylor polynomial (1/k!, k = 0..degree)
 *   LN2_HI, LN2_LO              ln 2 split so that k * LN2_HI is exact
 *   ROUNDING_MAGIC              1.5 * 2^mantissa: adding and subtracting it
 *                               rounds to an integer without a conversion
 * Usage: #define GR_TEMPLATE "file.template.c", then #include "precisions.h".
 */
#ifndef GR_TEMPLATE
#error "define GR_TEMPLATE before including precisions.h"
#endif

/* 7 terms reach float's ulp for |r| <= ln2/2, 13 double's. */
#define GR_INV_FACTORIALS_7 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                             1.0 / 5040}
#define GR_INV_FACTORIALS_13 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                              1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,      \
                              1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0}

#define TYPE float
#define TYPE_BYTES 4
#define SFX f32
#define IS_FLOAT 1
#define ITYPE int32_t
#define MANTISSA_BITS 23
#define EXP_BIAS 127
#define EXP_MIN (-87.0f)
#define EXP_DEGREE 7
#define EXP_COEFFICIENTS GR_INV_FACTORIALS_7
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define ROUNDING_MAGIC 12582912.0f
#include GR_TEMPLATE
#undef TYPE
#undef TYPE_BYTES
#undef SFX
#undef IS_FLOAT
#undef ITYPE
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
#define IS_FLOAT 0
#define ITYPE int64_t
#define MANTISSA_BITS 52
#define EXP_BIAS 1023
#define EXP_MIN (-708.0)
#define EXP_DEGREE 13
#define EXP_COEFFICIENTS GR_INV_FACTORIALS_13
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define ROUNDING_MAGIC 6755399441055744.0
#include GR_TEMPLATE
#undef TYPE
#undef TYPE_BYTES
#undef SFX
#undef IS_FLOAT
#undef ITYPE
#undef MANTISSA_BITS
#undef EXP_BIAS
#undef EXP_MIN
#undef EXP_DEGREE
#undef EXP_COEFFICIENTS
#undef LN2_HI
#undef LN2_LO
#undef ROUNDING_MAGIC

#undef GR_TEMPLATE
