/*
 * The fast entry points (gatedrnn.h, "paths"): which paths this build and CPU
 * can run, the workspace each needs, and the calls, which check their
 * arguments and hand them to the BLAS kernels of lstm.c or to a SIMD file.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#ifndef GATEDRNN_HAVE_GENERIC
#define GATEDRNN_HAVE_GENERIC 0
#endif
#ifndef GATEDRNN_HAVE_AVX2
#define GATEDRNN_HAVE_AVX2 0
#endif
#ifndef GATEDRNN_HAVE_AVX512
#define GATEDRNN_HAVE_AVX512 0
#endif

typedef struct simd_path {
    int (*forward)(const gr_forward_args *);
    int (*backward)(const gr_backward_args *);
    size_t (*workspace)(int backward, int train, size_t N, size_t T, size_t D, size_t H);
    int (*threads)(int backward, size_t N, size_t T, size_t D, size_t H);
} simd_path;

#define SIMD_PATH(SFX_ISA)                                                              \
    {CAT(gr_simd_forward_, SFX_ISA), CAT(gr_simd_backward_, SFX_ISA),                   \
     CAT(gr_simd_workspace_, SFX_ISA), CAT(gr_simd_threads_, SFX_ISA)}

static const simd_path paths_f32[GR_NUM_PATHS] = {
#if GATEDRNN_HAVE_GENERIC
    [GR_PATH_GENERIC] = SIMD_PATH(f32_generic),
#endif
#if GATEDRNN_HAVE_AVX2
    [GR_PATH_AVX2] = SIMD_PATH(f32_avx2),
#endif
#if GATEDRNN_HAVE_AVX512
    [GR_PATH_AVX512] = SIMD_PATH(f32_avx512),
#endif
};

static const simd_path paths_f64[GR_NUM_PATHS] = {
#if GATEDRNN_HAVE_GENERIC
    [GR_PATH_GENERIC] = SIMD_PATH(f64_generic),
#endif
#if GATEDRNN_HAVE_AVX2
    [GR_PATH_AVX2] = SIMD_PATH(f64_avx2),
#endif
#if GATEDRNN_HAVE_AVX512
    [GR_PATH_AVX512] = SIMD_PATH(f64_avx512),
#endif
};

/* Whether the CPU (and the OS, for the wide registers) supports a path's ISA. */
static int cpu_supports(int path)
{
#if (GATEDRNN_HAVE_AVX2 || GATEDRNN_HAVE_AVX512) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (path == GR_PATH_AVX2) return avx2;
    if (path == GR_PATH_AVX512)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
               && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    (void)path;
#endif
    return 0;
}

int gr_path_available(int path)
{
    switch (path) {
    case GR_PATH_BLAS: return 1;
    case GR_PATH_GENERIC: return GATEDRNN_HAVE_GENERIC;
    case GR_PATH_AVX2: return GATEDRNN_HAVE_AVX2 && cpu_supports(path);
    case GR_PATH_AVX512: return GATEDRNN_HAVE_AVX512 && cpu_supports(path);
    default: return 0;
    }
}

int gr_path_best(void)
{
    static gr_setting best = -2;  /* found once; threads that race find the same */
    int path = gr_setting_load(&best);
    if (path == -2) {
        path = GR_NUM_PATHS - 1;
        while (path > GR_PATH_BLAS && !gr_path_available(path)) path--;
        gr_setting_store(&best, path);
    }
    return path;
}

const char *gr_path_name(int path)
{
    switch (path) {
    case GR_PATH_AUTO: return "auto";
    case GR_PATH_BLAS: return "blas";
    case GR_PATH_GENERIC: return "generic";
    case GR_PATH_AVX2: return "avx2";
    case GR_PATH_AVX512: return "avx512";
    default: return "unknown";
    }
}

/* a * b, or SIZE_MAX if that wraps around (SIZE_MAX stays SIZE_MAX). */
static size_t mul(size_t a, size_t b)
{
    if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

/* Every array, in bytes of double, has a size_t size (the BLAS path checks int sizes). */
static int sizes_fit(size_t N, size_t T, size_t D, size_t H)
{
    size_t H4 = mul(H, 4), widest = D > H4 ? D : H4;
    return mul(mul(mul(N, T), widest), sizeof(double)) != SIZE_MAX
           && mul(mul(D > H ? D : H, H4), 2 * sizeof(double)) != SIZE_MAX;
}

size_t gr_lstm_workspace(int path, int double_precision, int backward, int train,
                         size_t N, size_t T, size_t D, size_t H)
{
    if (path == GR_PATH_AUTO) path = gr_path_best();
    if (path < 0 || path >= GR_NUM_PATHS || !sizes_fit(N, T, D, H)) return SIZE_MAX;
    if (path == GR_PATH_BLAS) {
        // The BLAS kernels need scratch for the pre-activations in inference
        // and for h_{t-1} in the backward.
        size_t elsize = double_precision ? sizeof(double) : sizeof(float);
        if (backward) return mul(mul(mul(N, T), H), elsize);
        return train ? 0 : mul(mul(mul(N, T), mul(H, 4)), elsize);
    }
    const simd_path *p = double_precision ? &paths_f64[path] : &paths_f32[path];
    if (!p->workspace) return SIZE_MAX;
    return p->workspace(backward, train, N, T, D, H);
}

static int threads_for(const simd_path *p, int flags, int backward, size_t N, size_t T,
                       size_t D, size_t H)
{
    int wanted = gr_threads_in_effect();
    if (flags & GR_FLAG_ALL_THREADS) return wanted;
    int useful = p->threads(backward, N, T, D, H);
    return useful < wanted ? useful : wanted;
}

#define TYPE float
#define SFX f32
#define IS_DOUBLE 0
#include "fast.template.c"
#undef TYPE
#undef SFX
#undef IS_DOUBLE

#define TYPE double
#define SFX f64
#define IS_DOUBLE 1
#include "fast.template.c"
