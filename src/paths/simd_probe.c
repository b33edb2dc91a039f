/*
 * meson's probe for the SIMD paths: every vector construct and builtin that
 * lanes_vector.h, vector_math.h, products.h and dispatch.c use, compiled with
 * each path's flags. A compiler that lacks one (GCC 11 and older have no
 * __builtin_shufflevector) fails the probe, and the build then has the BLAS
 * path alone instead of failing. A construct new to the kernels belongs here.
 */
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#ifndef VBYTES
#define VBYTES 16
#endif

typedef float vf __attribute__((vector_size(VBYTES)));
typedef double vd __attribute__((vector_size(VBYTES)));
typedef int32_t vi __attribute__((vector_size(VBYTES)));
typedef int64_t vl __attribute__((vector_size(VBYTES)));

/* Splats, arithmetic with scalars, comparisons as masks, bit casts, shifts,
 * lane access, and the unroll pragma, in float and in double. */
#define PROBE(NAME, T, V, I)                                                    \
    V NAME(const T *p, T s, int n)                                              \
    {                                                                           \
        V a, b = (V){0} + s;                                                    \
        memcpy(&a, p, sizeof a);                                                \
        I mask = a < b;                                                         \
        I bits = ((I)a & mask) | (~mask & (I)(-b));                             \
        bits = (bits + 1) << 3;                                                 \
        V c = (V)bits * s + a * b;                                              \
        _Pragma("GCC unroll 4") for (int l = 0; l < n; l++) c[l] = p[l] + c[0]; \
        return c;                                                               \
    }
PROBE(probe_float, float, vf, vi)
PROBE(probe_double, double, vd, vl)

/* __builtin_shufflevector of one and of two vectors, at every lane count used. */
vf probe_shuffle_float(vf a, vf b)
{
#if VBYTES == 64
    a += __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                   23);
#elif VBYTES == 32
    a += __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3);
    return __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
#else
    a += __builtin_shufflevector(a, a, 2, 3, 0, 1);
    return __builtin_shufflevector(a, b, 0, 4, 1, 5);
#endif
}

vd probe_shuffle_double(vd a, vd b)
{
#if VBYTES == 64
    a += __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3);
    return __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
#elif VBYTES == 32
    a += __builtin_shufflevector(a, a, 2, 3, 0, 1);
    return __builtin_shufflevector(a, b, 0, 4, 1, 5);
#else
    a += __builtin_shufflevector(a, a, 1, 0);
    return __builtin_shufflevector(a, b, 0, 2);
#endif
}

/* An empty asm that keeps a vector in a register (fma_peak.template.c). */
vf probe_keep_in_register(vf v)
{
#if defined(__x86_64__) || defined(__i386__)
#if defined(__AVX512F__)
    __asm__ volatile("" : "+v"(v));
#else
    __asm__ volatile("" : "+x"(v));
#endif
#elif defined(__aarch64__)
    __asm__ volatile("" : "+w"(v));
#endif
    return v;
}

/* The intrinsics of the wide paths, and the CPU check that chooses them. */
#if VBYTES == 64
vf probe_avx512(const float *p, float *q, vd d)
{
    vf v = (vf)_mm512_maskz_loadu_ps((__mmask16)7, p);
    _mm512_mask_storeu_ps(q, (__mmask16)7, (__m512)v);
    _mm512_mask_storeu_pd((double *)q, (__mmask8)3,
                          _mm512_maskz_loadu_pd((__mmask8)3, (const double *)p));
    (void)(vd)_mm512_rcp14_pd((__m512d)d);
    return (vf)_mm512_rcp14_ps((__m512)v);
}
#elif VBYTES == 32
vf probe_avx2(vf v) { return (vf)_mm256_rcp_ps((__m256)v); }
vf probe_avx2_masks(const float *p, float *q, vi lanes)
{
    vf v = (vf)_mm256_maskload_ps(p, (__m256i)lanes);
    _mm256_maskstore_ps(q, (__m256i)lanes, (__m256)v);
    _mm256_maskstore_pd((double *)q, (__m256i)lanes,
                        _mm256_maskload_pd((const double *)p, (__m256i)lanes));
    return v;
}
#endif

#if VBYTES > 16
int probe_cpu(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") + __builtin_cpu_supports("fma")
           + __builtin_cpu_supports("avx512f") + __builtin_cpu_supports("avx512dq")
           + __builtin_cpu_supports("avx512bw") + __builtin_cpu_supports("avx512vl");
}
#endif

#if defined(__SSE__) || defined(__x86_64__)
unsigned probe_fp_state(void)
{
    unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040);
    return saved;
}
#endif
