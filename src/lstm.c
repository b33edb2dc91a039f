/* The LSTM kernels, compiled once per precision from lstm.template.c. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gatedrnn.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

const char *gr_strerror(int status)
{
    switch (status) {
    case GR_OK: return "success";
    case GR_ERR_NULL_ARGUMENT: return "a required buffer was NULL";
    case GR_ERR_TOO_LARGE:
        return "array sizes are too large for the BLAS integer type (int32)";
    case GR_ERR_NO_BLAS: return "no BLAS gemm routine was provided for this dtype";
    case GR_ERR_NO_PATH: return "this kernel path is not available in this build or on this CPU";
    case GR_ERR_WORKSPACE: return "the workspace is smaller than the kernel needs";
    default: return "unknown gatedrnn status";
    }
}

/* Products and leading dimensions reach BLAS as int: check them all first. */
static int fits_blas_int(size_t n) { return n <= (size_t)INT_MAX; }

/* a * b without size_t wrap-around; 0 on overflow of the product. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/*
 * Every BLAS size or leading dimension is one of N, N*T, D, H, 4H, T*H, T*4H,
 * and the largest buffer has N*T*max(D, 4H) elements.
 */
static int check_sizes(size_t N, size_t T, size_t D, size_t H)
{
    size_t NT, H4, TH, TH4, widest, elements, bytes;
    if (!mul_ok(N, T, &NT) || !mul_ok(H, 4, &H4) || !mul_ok(T, H, &TH)
        || !mul_ok(T, H4, &TH4))
        return GR_ERR_TOO_LARGE;
    widest = D > H4 ? D : H4;
    if (!mul_ok(NT, widest, &elements) || !mul_ok(elements, sizeof(double), &bytes))
        return GR_ERR_TOO_LARGE;
    if (!fits_blas_int(N) || !fits_blas_int(NT) || !fits_blas_int(D) || !fits_blas_int(H4)
        || !fits_blas_int(TH) || !fits_blas_int(TH4))
        return GR_ERR_TOO_LARGE;
    return GR_OK;
}

int gr_check_sizes(size_t N, size_t T, size_t D, size_t H) { return check_sizes(N, T, D, H); }

/*
 * The elementwise passes are compiled for baseline x86-64, AVX2+FMA and
 * AVX-512, and the loader picks one for this CPU (GCC target_clones), so a
 * built wheel runs anywhere and still uses the SIMD it finds.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(GATEDRNN_NO_CLONES)
#define SIMD_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define SIMD_CLONES
#endif

/* 1/k! for k = 0..degree: 7 terms reach float's ulp for |r| <= ln2/2, 13 double's. */
#define INV_FACTORIALS_7 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                          1.0 / 5040}
#define INV_FACTORIALS_13 {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, \
                           1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,      \
                           1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0}

#define TYPE float
#define SFX f32
#define GEMM_FIELD sgemm
#define UINT uint32_t
#define MANTISSA_BITS 23
#define EXP_BIAS 127
#define EXP_MIN (-87.0f)                /* exp(-87) is still a normal float */
#define EXP_DEGREE 7
#define EXP_COEFFICIENTS INV_FACTORIALS_7
#define LN2_HI 0.693359375f             /* ln 2 split so that k * LN2_HI is exact */
#define LN2_LO (-2.12194440e-4f)
#define ROUNDING_MAGIC 12582912.0f       /* 1.5 * 2^23 */
#include "lstm.template.c"
#include "softmax.template.c"
#undef TYPE
#undef SFX
#undef GEMM_FIELD
#undef UINT
#undef MANTISSA_BITS
#undef EXP_BIAS
#undef EXP_MIN
#undef EXP_DEGREE
#undef EXP_COEFFICIENTS
#undef LN2_HI
#undef LN2_LO
#undef ROUNDING_MAGIC

#define TYPE double
#define SFX f64
#define GEMM_FIELD dgemm
#define UINT uint64_t
#define MANTISSA_BITS 52
#define EXP_BIAS 1023
#define EXP_MIN (-708.0)                /* exp(-708) is still a normal double */
#define EXP_DEGREE 13
#define EXP_COEFFICIENTS INV_FACTORIALS_13
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define ROUNDING_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#include "lstm.template.c"
#include "softmax.template.c"
