/*
 * The packed-weight kernels for AVX2 with FMA (x86-64-v3). meson compiles this
 * file alone with those flags; dispatch.c calls into it only when the CPU has them.
 */
#define ISA avx2
#define VBYTES 32
#define MR 2 /* 2 x 4 accumulators + 4 vectors of B + 1 broadcast of 16 registers */
#define GEMM_MR 6 /* 6 x 2 accumulators + 2 vectors of B + a broadcast of 16 registers */
#define GEMM_NV 2
#define GR_TEMPLATE "paths/simd_path.template.c"
#include "base/precisions.h"
