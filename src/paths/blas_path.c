/*
 * The BLAS path (blas_path.template.c) and the language model's softmax
 * cross-entropy (softmax.template.c), for float and double; the size checks
 * and messages every path shares.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h> /* _mm_getcsr: the softmax rows round alike on every thread */
#endif

#include "rnn/cells.h"
#include "base/internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, CAT(_, SFX))

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
    case GR_ERR_BAD_ARGUMENT: return "an unknown cell, or a direction count other than 1 or 2";
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
 * Every BLAS size or leading dimension is one of N, N*T, D, H, G*H, CW*H,
 * T*H, T*CW*H (CW <= 5, the widest cache), and the largest buffer has
 * N*T*max(D, 5H) elements.
 */
int gr_check_sizes(size_t N, size_t T, size_t D, size_t H)
{
    size_t NT, H5, TH, TH5, widest, elements, bytes;
    if (!mul_ok(N, T, &NT) || !mul_ok(H, 5, &H5) || !mul_ok(T, H, &TH) || !mul_ok(T, H5, &TH5))
        return GR_ERR_TOO_LARGE;
    widest = D > H5 ? D : H5;
    if (!mul_ok(NT, widest, &elements) || !mul_ok(elements, sizeof(double), &bytes))
        return GR_ERR_TOO_LARGE;
    if (!fits_blas_int(N) || !fits_blas_int(NT) || !fits_blas_int(D) || !fits_blas_int(H5)
        || !fits_blas_int(TH) || !fits_blas_int(TH5))
        return GR_ERR_TOO_LARGE;
    return GR_OK;
}

#define GR_TEMPLATE "paths/blas_path.template.c"
#include "base/precisions.h"

const gr_cell_layout *gr_cell(int cell) { return cell_layout_f32(cell); }
