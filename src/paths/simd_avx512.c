/*
 * The packed-weight kernels for AVX-512 (F, DQ, BW, VL: x86-64-v4). meson
 * compiles this file alone with those flags; dispatch.c calls into it only when
 * the CPU and the OS support AVX-512.
 */
#define ISA avx512
#define VBYTES 64
#define MR 6 /* 6 x 4 accumulators + 4 vectors of B + 1 broadcast of 32 registers */
#define GEMM_MR 14 /* 14 x 2 accumulators + 2 vectors of B + a broadcast of 32 registers */
#define GEMM_NV 2
#define GR_TEMPLATE "paths/simd_path.template.c"
#include "base/precisions.h"
