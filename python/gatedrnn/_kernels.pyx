# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bindings over the C kernels in src/.

Callers pass C-contiguous arrays of one dtype whose shapes were validated by
gatedrnn._layers; the checks here only guard the C code against a wrong call.
The GIL is released while a kernel runs.
"""
from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm

import numpy as np

cdef extern from "gatedrnn.h" nogil:
    ctypedef void (*gr_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                                 int *, float *, int *, float *, float *, int *)
    ctypedef void (*gr_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                                 int *, double *, int *, double *, double *, int *)
    ctypedef struct gr_blas:
        gr_sgemm_fn sgemm
        gr_dgemm_fn dgemm

    const char *gr_strerror(int status)
    int gr_check_sizes(size_t N, size_t T, size_t D, size_t H)
    enum: GR_ERR_TOO_LARGE
    int gr_lstm_forward_f32(float *hs, float *c_state, float *gates, float *cs,
                            const float *xs, const float *Wx, const float *Wh,
                            const float *b, const float *h0,
                            size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)
    int gr_lstm_forward_f64(double *hs, double *c_state, double *gates, double *cs,
                            const double *xs, const double *Wx, const double *Wh,
                            const double *b, const double *h0,
                            size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)
    int gr_lstm_backward_f32(float *dxs, float *dWx, float *dWh, float *db,
                             float *dh, float *dc, float *h_prev, float *gates,
                             const float *cs, const float *dhs, const float *xs,
                             const float *Wx, const float *Wh,
                             const float *h0, const float *c0,
                             size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)
    int gr_lstm_backward_f64(double *dxs, double *dWx, double *dWh, double *db,
                             double *dh, double *dc, double *h_prev, double *gates,
                             const double *cs, const double *dhs, const double *xs,
                             const double *Wx, const double *Wh,
                             const double *h0, const double *c0,
                             size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)

    int gr_softmax_xent_f32(float *out, double *loss, const float *x, const int64_t *target,
                            const float *scale, size_t R, size_t V)
    int gr_softmax_xent_f64(double *out, double *loss, const double *x,
                            const int64_t *target, const double *scale, size_t R, size_t V)

cdef gr_blas _blas
_blas.sgemm = <gr_sgemm_fn>sgemm
_blas.dgemm = <gr_dgemm_fn>dgemm


cdef inline floating *_ptr(floating[::1] a):
    return &a[0] if a is not None and a.shape[0] > 0 else NULL


cdef inline const floating *_cptr(const floating[::1] a):
    return &a[0] if a is not None and a.shape[0] > 0 else NULL


cdef _flat(a, Py_ssize_t size, name):
    """A 1-D view of a C-contiguous, aligned array of `size` elements."""
    if not a.flags.c_contiguous or not a.flags.aligned or a.size != size:
        raise ValueError(f"internal: {name} must be C-contiguous and aligned with {size} "
                         f"elements; got shape {a.shape}, aligned={a.flags.aligned}")
    return a.reshape(-1)


def check_sizes(N, T, D, H, what):
    """Raise ValueError, naming `what` and the sizes, unless the kernels can take
    (N, T, D, H). Cheap and allocates nothing: call it before allocating."""
    cdef int status = 0
    sizes = (N, T, D, H)
    if any(n < 0 for n in sizes):
        raise ValueError(f"internal: negative size in (N, T, D, H) = {sizes}")
    if any(n > <size_t>-1 for n in sizes):
        status = GR_ERR_TOO_LARGE
    else:
        status = gr_check_sizes(N, T, D, H)
    if status != 0:
        raise ValueError(f"{what} is too large for the kernels: (N, T, D, H) = {sizes}; "
                         f"{gr_strerror(status).decode()}")


cdef _raise_status(int status):
    if status != 0:
        raise ValueError(gr_strerror(status).decode())


cdef int _forward_typed(floating[::1] hs, floating[::1] c_state, floating[::1] gates,
                        floating[::1] cs, const floating[::1] xs, const floating[::1] Wx,
                        const floating[::1] Wh, const floating[::1] b,
                        const floating[::1] h0, size_t N, size_t T, size_t D, size_t H):
    cdef floating *p_hs = _ptr(hs)
    cdef floating *p_c = _ptr(c_state)
    cdef floating *p_gates = _ptr(gates)
    cdef floating *p_cs = _ptr(cs)
    cdef const floating *p_xs = _cptr(xs)
    cdef const floating *p_Wx = _cptr(Wx)
    cdef const floating *p_Wh = _cptr(Wh)
    cdef const floating *p_b = _cptr(b)
    cdef const floating *p_h0 = _cptr(h0)
    cdef int status
    with nogil:
        if floating is float:
            status = gr_lstm_forward_f32(p_hs, p_c, p_gates, p_cs, p_xs, p_Wx, p_Wh, p_b,
                                         p_h0, N, T, D, H, &_blas)
        else:
            status = gr_lstm_forward_f64(p_hs, p_c, p_gates, p_cs, p_xs, p_Wx, p_Wh, p_b,
                                         p_h0, N, T, D, H, &_blas)
    return status


cdef int _backward_typed(floating[::1] dxs, floating[::1] dWx, floating[::1] dWh,
                         floating[::1] db, floating[::1] dh, floating[::1] dc,
                         floating[::1] h_prev, floating[::1] gates, const floating[::1] cs,
                         const floating[::1] dhs, const floating[::1] xs,
                         const floating[::1] Wx, const floating[::1] Wh,
                         const floating[::1] h0, const floating[::1] c0,
                         size_t N, size_t T, size_t D, size_t H):
    cdef floating *p_dxs = _ptr(dxs)
    cdef floating *p_dWx = _ptr(dWx)
    cdef floating *p_dWh = _ptr(dWh)
    cdef floating *p_db = _ptr(db)
    cdef floating *p_dh = _ptr(dh)
    cdef floating *p_dc = _ptr(dc)
    cdef floating *p_h_prev = _ptr(h_prev)
    cdef floating *p_gates = _ptr(gates)
    cdef const floating *p_cs = _cptr(cs)
    cdef const floating *p_dhs = _cptr(dhs)
    cdef const floating *p_xs = _cptr(xs)
    cdef const floating *p_Wx = _cptr(Wx)
    cdef const floating *p_Wh = _cptr(Wh)
    cdef const floating *p_h0 = _cptr(h0)
    cdef const floating *p_c0 = _cptr(c0)
    cdef int status
    with nogil:
        if floating is float:
            status = gr_lstm_backward_f32(p_dxs, p_dWx, p_dWh, p_db, p_dh, p_dc, p_h_prev,
                                          p_gates, p_cs, p_dhs, p_xs, p_Wx, p_Wh, p_h0,
                                          p_c0, N, T, D, H, &_blas)
        else:
            status = gr_lstm_backward_f64(p_dxs, p_dWx, p_dWh, p_db, p_dh, p_dc, p_h_prev,
                                          p_gates, p_cs, p_dhs, p_xs, p_Wx, p_Wh, p_h0,
                                          p_c0, N, T, D, H, &_blas)
    return status


def lstm_forward(xs, Wx, Wh, b, h0, c0, bint keep_cache):
    """Run T steps. Returns (hs, c_T, gates, cs); gates and cs are None
    unless keep_cache. h_T is hs[:, -1]."""
    cdef Py_ssize_t N = xs.shape[0], T = xs.shape[1], D = xs.shape[2], H = Wh.shape[0]
    dtype = xs.dtype
    hs = np.empty((N, T, H), dtype=dtype)
    c_state = np.array(c0, dtype=dtype, order="C", copy=True)
    gates = np.empty((N, T, 4 * H), dtype=dtype)
    cs = np.empty((N, T, H), dtype=dtype) if keep_cache else None
    args = (_flat(hs, N * T * H, "hs"), _flat(c_state, N * H, "c0"),
            _flat(gates, N * T * 4 * H, "gates"),
            _flat(cs, N * T * H, "cs") if keep_cache else None,
            _flat(xs, N * T * D, "xs"), _flat(Wx, D * 4 * H, "Wx"),
            _flat(Wh, H * 4 * H, "Wh"), _flat(b, 4 * H, "b"), _flat(h0, N * H, "h0"))
    for a in args:
        if a is not None and a.dtype != dtype:
            raise TypeError(f"internal: mixed dtypes {a.dtype} and {dtype}")
    if dtype == np.float32:
        status = _forward_typed[float](*args, N, T, D, H)
    elif dtype == np.float64:
        status = _forward_typed[double](*args, N, T, D, H)
    else:
        raise TypeError(f"internal: unsupported dtype {dtype}")
    _raise_status(status)
    if not keep_cache:
        gates = None
    return hs, c_state, gates, cs


def lstm_backward(dhs, dh_T, dc_T, gates, cs, xs, Wx, Wh, h0, c0, dWx, dWh, db):
    """Backward over the cache of lstm_forward. Writes dWx, dWh, db in place,
    overwrites gates with dA, and returns (dxs, dh0, dc0)."""
    cdef Py_ssize_t N = xs.shape[0], T = xs.shape[1], D = xs.shape[2], H = Wh.shape[0]
    dtype = xs.dtype
    dxs = np.empty((N, T, D), dtype=dtype)
    dh = np.array(dh_T, dtype=dtype, order="C", copy=True)
    dc = np.array(dc_T, dtype=dtype, order="C", copy=True)
    h_prev = np.empty((N, T, H), dtype=dtype)
    args = (_flat(dxs, N * T * D, "dxs"), _flat(dWx, D * 4 * H, "dWx"),
            _flat(dWh, H * 4 * H, "dWh"), _flat(db, 4 * H, "db"),
            _flat(dh, N * H, "dh"), _flat(dc, N * H, "dc"),
            _flat(h_prev, N * T * H, "h_prev"), _flat(gates, N * T * 4 * H, "gates"),
            _flat(cs, N * T * H, "cs"), _flat(dhs, N * T * H, "dhs"),
            _flat(xs, N * T * D, "xs"), _flat(Wx, D * 4 * H, "Wx"),
            _flat(Wh, H * 4 * H, "Wh"), _flat(h0, N * H, "h0"), _flat(c0, N * H, "c0"))
    for a in args:
        if a.dtype != dtype:
            raise TypeError(f"internal: mixed dtypes {a.dtype} and {dtype}")
    if dtype == np.float32:
        status = _backward_typed[float](*args, N, T, D, H)
    elif dtype == np.float64:
        status = _backward_typed[double](*args, N, T, D, H)
    else:
        raise TypeError(f"internal: unsupported dtype {dtype}")
    _raise_status(status)
    return dxs, dh, dc


cdef int _softmax_xent_typed(floating[::1] out, double[::1] loss, const floating[::1] x,
                             const int64_t[::1] target, const floating[::1] scale,
                             size_t R, size_t V):
    cdef floating *p_out = _ptr(out)
    cdef double *p_loss = &loss[0] if loss.shape[0] > 0 else NULL
    cdef const floating *p_x = _cptr(x)
    cdef const int64_t *p_t = &target[0] if target.shape[0] > 0 else NULL
    cdef const floating *p_scale = _cptr(scale)
    cdef int status
    with nogil:
        if floating is float:
            status = gr_softmax_xent_f32(p_out, p_loss, p_x, p_t, p_scale, R, V)
        else:
            status = gr_softmax_xent_f64(p_out, p_loss, p_x, p_t, p_scale, R, V)
    return status


def softmax_xent(x, target, scale, out):
    """Row losses (float64, (R,)) of softmax cross-entropy for x (R, V) and
    target (R,) int64 ids in [0, V). With out (R, V) (may be x) it also
    receives scale[:, None] * softmax(x); out=None computes the loss only."""
    cdef Py_ssize_t R = x.shape[0], V = x.shape[1]
    dtype = x.dtype
    loss = np.empty(R, dtype=np.float64)
    if target.dtype != np.int64 or not target.flags.c_contiguous or target.shape != (R,):
        raise ValueError("internal: target must be C-contiguous int64 of shape (R,)")
    args = (_flat(out, R * V, "out") if out is not None else None, loss,
            _flat(x, R * V, "x"), target,
            _flat(scale, R, "scale") if out is not None else None)
    for a in (args[0], args[2], args[4]):
        if a is not None and a.dtype != dtype:
            raise TypeError(f"internal: mixed dtypes {a.dtype} and {dtype}")
    if dtype == np.float32:
        status = _softmax_xent_typed[float](*args, R, V)
    elif dtype == np.float64:
        status = _softmax_xent_typed[double](*args, R, V)
    else:
        raise TypeError(f"internal: unsupported dtype {dtype}")
    _raise_status(status)
    return loss
