/* One precision for precisions.h: float (GR_DOUBLE 0) or double (1). */
#if GR_DOUBLE
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
#else
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
#endif

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
