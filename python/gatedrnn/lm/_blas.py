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
import numpy as np
from scipy.linalg import blas as _fblas

from .. import _kernels
from .._typing import FloatArray

# Products up to this many FLOPs (2 M N K) run on the kernels' packed-product
# engine and thread pool (not on the BLAS path), larger ones through SciPy's
# BLAS. Small products gain most: after each BLAS call OpenBLAS's threads spin
# for a while and take the cores from the recurrent kernels that follow, and
# the engine has no per-call overhead to speak of ((640, 128) @ (128, 13):
# 0.025 ms against SciPy's 0.27 on a 2-core Xeon). At the language model's
# output layer OpenBLAS is still the faster alone ((700, 100) @ (100, 10000):
# 6.9 ms against 10.7), so large products stay with it (issue 12 revisits).
ENGINE_MAX_FLOPS = 1e8

_GEMM = {np.dtype(np.float32): _fblas.sgemm, np.dtype(np.float64): _fblas.dgemm}
_GEMV = {np.dtype(np.float32): _fblas.sgemv, np.dtype(np.float64): _fblas.dgemv}
_AXPY = {np.dtype(np.float32): _fblas.saxpy, np.dtype(np.float64): _fblas.daxpy}


def _fortran_operand(m: FloatArray) -> tuple[FloatArray, int]:
    """(array, trans) such that the Fortran BLAS sees matrix m without a copy
    when m is C- or Fortran-contiguous."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0


def matmul_into(out: FloatArray, a: FloatArray, b: FloatArray, *, beta: float = 0.0,
                scratch: _kernels.MatmulScratch | None = None) -> FloatArray:
    """out[...] = a @ b + beta * out, for 2-D arrays of out's dtype.

    a and b may be C- or Fortran-contiguous (transposed views are free);
    out must be C- or Fortran-contiguous and is written in place. ``scratch``
    (a ``_kernels.MatmulScratch``) keeps the engine's packing buffer.
    """
    if out.flags.f_contiguous and not out.flags.c_contiguous:
        # out.T is C-contiguous: out.T = b.T @ a.T
        matmul_into(out.T, b.T, a.T, beta=beta, scratch=scratch)
        return out
    if not out.flags.c_contiguous:
        raise ValueError("internal: matmul_into needs a contiguous out")
    flops = 2 * out.shape[0] * out.shape[1] * a.shape[1]
    if beta in (0.0, 1.0) and flops <= ENGINE_MAX_FLOPS \
            and _kernels.matmul(out, a, b, beta == 1.0, scratch):
        return out
    gemm = _GEMM[out.dtype]
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
    if 2 * m.size <= ENGINE_MAX_FLOPS and out.flags.c_contiguous \
            and _kernels.matmul(out.reshape(1, -1), ones.reshape(1, -1), m, False, scratch):
        return out
    gemv = _GEMV[m.dtype]
    # m.T is Fortran-contiguous (cols, rows): m.T @ ones
    result = gemv(1.0, m.T, ones, beta=0.0, y=out, overwrite_y=1)
    if not np.shares_memory(result, out):
        out[...] = result
    return out


def axpy_inplace(y: FloatArray, x: FloatArray, alpha: float) -> FloatArray:
    """y += alpha * x in place, without a temporary when both are C-contiguous."""
    if (y.flags.c_contiguous and x.flags.c_contiguous and y.flags.writeable
            and y.dtype == x.dtype and y.dtype in _AXPY):
        yv = y.reshape(-1)
        result = _AXPY[y.dtype](x.reshape(-1), yv, a=alpha)
        if np.shares_memory(result, y):
            return y
    y += alpha * x
    return y
