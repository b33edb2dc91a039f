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
 * Usage: #define GR_TEMPLATE "folder/file.template.c", then #include "base/precisions.h".
 * one_precision.h defines them for GR_DOUBLE 0 or 1 and includes the file.
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

#define GR_DOUBLE 0
#include "base/one_precision.h"
#undef GR_DOUBLE

#define GR_DOUBLE 1
#include "base/one_precision.h"
#undef GR_DOUBLE

#undef GR_TEMPLATE
