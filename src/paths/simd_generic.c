/*
 * The packed-weight kernels in portable C: 16-byte GCC vectors, compiled for
 * the baseline instruction set (SSE2 on x86-64, NEON on arm64, or scalar
 * code elsewhere). The path that any CPU can run.
 */
#define ISA generic
#define VBYTES 16
#define MR 2 /* 2 x 4 accumulators + 4 vectors of B + temporaries of 16 registers */
#define GEMM_MR 6 /* 6 x 2 accumulators + 2 vectors of B, a broadcast, a product of 16 */
#define GEMM_NV 2
#define GR_TEMPLATE "paths/simd_path.template.c"
#include "base/precisions.h"
