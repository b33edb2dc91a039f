"""Matrix products through SciPy's BLAS, the library the LSTM kernels call.

NumPy and SciPy each bundle their own OpenBLAS, with their own worker threads.
Alternating between the two in one training step leaves one pool spinning
while the other works, on a machine with few cores. So the language model's
large products go through ``scipy.linalg.blas`` too.

Products small enough (``ENGINE_MAX_FLOPS``) run on the kernels' own
packed-product engine instead, except on the BLAS kernel path.

Row-major products on a column-major BLAS: the C-contiguous ``out = A @ B`` is
the Fortran-contiguous ``out.T = B.T @ A.T``; a C-contiguous array's ``.T`` is
a Fortran-contiguous view, so nothing is copied. That swap lives in
``matmul_into`` only.
"""
import contextlib
from collections.abc import Iterator

import numpy as np
from scipy.linalg import blas as _fblas

from .. import _kernels
from .._typing import FloatArray

# Every product runs on the kernels' packed-product engine and thread pool
# (on the SIMD paths; the BLAS path has no engine), unless ENGINE_MAX_FLOPS
# (for tests: 0 sends every product to BLAS) says otherwise. After each BLAS
# call OpenBLAS's threads spin for about 0.1 s and take the cores from the
# recurrent kernels that follow; the engine has no such tail, and at the
# language model's shapes it is as fast or faster than SciPy's OpenBLAS alone
# (measured side by side: docs/guide/performance.rst, "Where products run").
ENGINE_MAX_FLOPS = float("inf")


@contextlib.contextmanager
def engine_limit(flops: float) -> Iterator[None]:
    """Within the block, products above `flops` go to SciPy's BLAS (0: all of
    them); for tests and benchmarks."""
    global ENGINE_MAX_FLOPS
    previous, ENGINE_MAX_FLOPS = ENGINE_MAX_FLOPS, flops
    try:
        yield
    finally:
        ENGINE_MAX_FLOPS = previous


def on_engine(M: int, N: int, K: int) -> bool:
    """Whether the product (M, K) @ (K, N) goes to the engine (before the
    path's own say: the BLAS path declines)."""
    return 2.0 * M * N * K <= ENGINE_MAX_FLOPS


_GEMM = {np.dtype(np.float32): _fblas.sgemm, np.dtype(np.float64): _fblas.dgemm}
_GEMV = {np.dtype(np.float32): _fblas.sgemv, np.dtype(np.float64): _fblas.dgemv}


def _fortran_operand(m: FloatArray) -> tuple[FloatArray, int]:
    """(array, trans) such that the Fortran BLAS sees matrix m without a copy
    when m is C- or Fortran-contiguous."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0


def matmul_into(out: FloatArray, a: FloatArray, b: FloatArray, *,
                bias: FloatArray | None = None,
                scratch: _kernels.MatmulScratch | None = None) -> FloatArray:
    """out[...] = a @ b (+ bias, a row broadcast over out's rows), for 2-D
    arrays of out's dtype.

    a and b may be C- or Fortran-contiguous (transposed views are free);
    out must be C- or Fortran-contiguous and is written in place. ``scratch``
    (a ``_kernels.MatmulScratch``) keeps the engine's packing buffer.
    """
    if out.flags.f_contiguous and not out.flags.c_contiguous:
        if bias is not None:  # a bias row of out is a column of out.T
            raise ValueError("internal: matmul_into takes a bias with a C-contiguous out")
        # out.T is C-contiguous: out.T = b.T @ a.T
        matmul_into(out.T, b.T, a.T, scratch=scratch)
        return out
    if not out.flags.c_contiguous:
        raise ValueError("internal: matmul_into needs a contiguous out")
    if on_engine(out.shape[0], out.shape[1], a.shape[1]) \
            and _kernels.matmul(out, a, b, False, scratch, bias=bias):
        return out
    gemm = _GEMM[out.dtype]
    beta = 0.0
    if bias is not None:
        out[...] = bias
        beta = 1.0
    # out.T (Fortran) = b.T @ a.T
    fa, ta = _fortran_operand(b.T)
    fb, tb = _fortran_operand(a.T)
    result = gemm(1.0, fa, fb, beta=beta, c=out.T, trans_a=ta, trans_b=tb, overwrite_c=1)
    if not np.shares_memory(result, out):  # never expected; kept as a guard
        out[...] = result.T
    return out


def column_sums_into(out: FloatArray, m: FloatArray, *,
                     scratch: _kernels.MatmulScratch | None = None) -> FloatArray:
    """out[...] = m.sum(axis=0) for a C-contiguous 2-D m: a product with a row
    of ones on the engine, or one BLAS gemv."""
    ones = np.ones(m.shape[0], m.dtype)
    if on_engine(1, m.shape[1], m.shape[0]) and out.flags.c_contiguous \
            and _kernels.matmul(out.reshape(1, -1), ones.reshape(1, -1), m, False, scratch):
        return out
    gemv = _GEMV[m.dtype]
    # m.T is Fortran-contiguous (cols, rows): m.T @ ones
    result = gemv(1.0, m.T, ones, beta=0.0, y=out, overwrite_y=1)
    if not np.shares_memory(result, out):
        out[...] = result
    return out
