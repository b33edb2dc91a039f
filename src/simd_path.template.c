/*
 * A SIMD path for one precision (precisions.h includes this per TYPE): the
 * lanes, the vector math, the packed-product engine, the cells, the
 * recurrence driver, the plain products (matmul.template.c) and the
 * evaluation loss of an affine map (affine_xent.template.c), compiled for
 * the instruction set of the simd_<isa>.c file that includes it (ISA,
 * VBYTES, MR).
 */
#ifndef GR_SIMD_PATH_ONCE
#define GR_SIMD_PATH_ONCE
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "cells.h"
#include "internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(CAT(name, CAT(_, SFX)), CAT(_, ISA))
#endif

#include "lanes_vector.h"
#include "vector_math.h"
#include "products.h"
#include "cell_interface.h"
#include "cell_lstm.h"
#include "cell_gru.h"
#include "cell_rnn.h"
#include "cell_dispatch.h"
#include "recurrence.template.c"
#include "matmul.template.c"
#include "affine_xent.template.c"

/* What differs between the precisions. */
#undef ZIP_LO
#undef ZIP_HI
