/*
 * A SIMD path for one precision (precisions.h includes this per TYPE): the
 * lanes, the vector math, the packed-product engines (products.h; gemm.h with
 * its micro-kernel, blocking and packing), the cells, the
 * recurrence driver, the plain products (matmul.template.c) and the
 * evaluation loss of an affine map (affine_xent.template.c) and the FMA
 * peak's register-only loop (fma_peak.template.c), compiled for
 * the instruction set of the simd_<isa>.c file that includes it (ISA,
 * VBYTES, MR, and GEMM_MR x GEMM_NV, the shape of gemm.h's micro-kernel).
 */
#ifndef GR_SIMD_PATH_ONCE
#define GR_SIMD_PATH_ONCE
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "rnn/cells.h"
#include "base/internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(CAT(name, CAT(_, SFX)), CAT(_, ISA))
#endif

#include "base/lanes_vector.h"
#include "base/vector_math.h"
#include "gemm/products.h"
#include "gemm/microkernel.h"
#include "gemm/blocking.h"
#include "gemm/pack.h"
#include "gemm/gemm.h"
#include "gemm/product.h"
#include "rnn/cell_interface.h"
#include "rnn/cell_lstm.h"
#include "rnn/cell_gru.h"
#include "rnn/cell_rnn.h"
#include "rnn/cell_dispatch.h"
#include "rnn/recurrence.template.c"
#include "gemm/matmul.template.c"
#include "gemm/affine_xent.template.c"
#include "gemm/fma_peak.template.c"

/* What differs between the precisions. */
#undef ZIP_LO
#undef ZIP_HI
