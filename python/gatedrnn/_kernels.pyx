# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bindings over the C kernels in src/.

Callers pass C-contiguous arrays of one dtype whose shapes were validated by
gatedrnn._layers; the checks here only guard the C code against a wrong call.
The GIL is released while a kernel runs.

The LSTM runs on one of several kernel paths (include/gatedrnn.h): the BLAS
path, or the packed-weight SIMD kernels compiled for the baseline ISA, AVX2 or
AVX-512. The best available is the default; set_path() or the environment
variable GATEDRNN_KERNEL_PATH forces one (tests run every path this way).
"""
from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport ddot, dgemm, dsdot, sgemm
cimport numpy as cnp

import os

import numpy as np

cnp.import_array()

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


# ---- The fast entry points: paths, threads, workspaces ------------------------

cdef extern from "gatedrnn.h" nogil:
    enum:
        GR_PATH_AUTO
        GR_PATH_BLAS
        GR_NUM_PATHS
        GR_FLAG_GEMM_ONLY
        GR_FLAG_SPLIT_ROWS
        GR_FLAG_SPLIT_COLUMNS
        GR_FLAG_ALL_THREADS
        GR_GATES_PADDING
    size_t gr_jobs_shared()
    int gr_path_available(int path)
    int gr_path_best()
    int gr_set_num_threads(int n)
    int gr_get_num_threads()
    size_t gr_lstm_workspace(int path, int double_precision, int backward, int train,
                             size_t N, size_t T, size_t D, size_t H)
    int gr_lstm_forward_ex_f32(float *hs, float *c_state, float *gates, float *cs,
                               const float *xs, const float *Wx, const float *Wh,
                               const float *b, const float *h0,
                               size_t N, size_t T, size_t D, size_t H,
                               void *workspace, size_t workspace_bytes, int path, int flags,
                               const gr_blas *blas)
    int gr_lstm_forward_ex_f64(double *hs, double *c_state, double *gates, double *cs,
                               const double *xs, const double *Wx, const double *Wh,
                               const double *b, const double *h0,
                               size_t N, size_t T, size_t D, size_t H,
                               void *workspace, size_t workspace_bytes, int path, int flags,
                               const gr_blas *blas)
    int gr_lstm_backward_ex_f32(float *dxs, float *dWx, float *dWh, float *db,
                                float *dh, float *dc, float *gates, float *cs,
                                const float *dhs, const float *xs,
                                const float *Wx, const float *Wh,
                                const float *h0, const float *c0,
                                size_t N, size_t T, size_t D, size_t H,
                                void *workspace, size_t workspace_bytes, int path, int flags,
                                const gr_blas *blas)
    int gr_lstm_backward_ex_f64(double *dxs, double *dWx, double *dWh, double *db,
                                double *dh, double *dc, double *gates, double *cs,
                                const double *dhs, const double *xs,
                                const double *Wx, const double *Wh,
                                const double *h0, const double *c0,
                                size_t N, size_t T, size_t D, size_t H,
                                void *workspace, size_t workspace_bytes, int path, int flags,
                                const gr_blas *blas)

# Names of the kernel paths, by number (include/gatedrnn.h, enum gr_path).
PATHS = ("blas", "generic", "avx2", "avx512")

cdef int _path = GR_PATH_AUTO
cdef int _split_flags = 0
SPLITS = {None: 0, "rows": GR_FLAG_SPLIT_ROWS, "columns": GR_FLAG_SPLIT_COLUMNS}


def available_paths():
    """The kernel paths this build and CPU can run, slowest first."""
    return [name for k, name in enumerate(PATHS) if gr_path_available(k)]


def get_path():
    """The kernel path that calls use now (the best available, unless set_path())."""
    return PATHS[_path if _path != GR_PATH_AUTO else gr_path_best()]


def set_path(name):
    """Force a kernel path by name ("blas", "generic", "avx2", "avx512"), or
    None / "auto" for the best available. Returns the previous setting."""
    global _path
    previous = None if _path == GR_PATH_AUTO else PATHS[_path]
    if name is None or name == "auto":
        _path = GR_PATH_AUTO
        return previous
    if name not in PATHS:
        raise ValueError(f"unknown kernel path {name!r}; choose from {PATHS} or 'auto'")
    if not gr_path_available(PATHS.index(name)):
        raise ValueError(f"kernel path {name!r} is not available here; available: "
                         f"{available_paths()}")
    _path = PATHS.index(name)
    return previous


def set_split(mode):
    """How the SIMD paths share a time step among threads: "rows" (by
    sequences), "columns" (by gate columns, one sync per step) or None (by
    size, the default). For tests and benchmarks. Returns the previous mode."""
    global _split_flags
    if mode not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}; got {mode!r}")
    previous = next(k for k, v in SPLITS.items() if v == _split_flags)
    _split_flags = SPLITS[mode]
    return previous


cdef int _all_threads_flag = 0


def set_all_threads(bint on):
    """With on=True every call is offered all the threads in effect, however
    small it is (by default a small call runs on one thread, since waking the
    others costs more than they save): the threaded code on small problems,
    for tests. Returns the previous setting."""
    global _all_threads_flag
    previous = _all_threads_flag != 0
    _all_threads_flag = GR_FLAG_ALL_THREADS if on else 0
    return previous


def jobs_shared():
    """How many kernel jobs so far had a worker thread take part: a test can
    tell from it that a call really ran on more than one thread."""
    return gr_jobs_shared()


GEMM_ONLY = GR_FLAG_GEMM_ONLY


def set_num_threads(int n):
    """Threads for the SIMD paths; n <= 0 restores the default. Returns the previous count."""
    return gr_set_num_threads(n)


def get_num_threads():
    """Threads the SIMD paths use for a large problem."""
    return gr_get_num_threads()


cdef inline void *_data(a):
    """The data pointer of an ndarray, or NULL for None."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef object _aligned_empty(size_t nbytes):
    """A fresh uint8 array of nbytes whose data starts on a 64-byte boundary."""
    raw = np.empty(nbytes + 64, np.uint8)
    cdef size_t skip = (64 - <size_t>cnp.PyArray_DATA(<cnp.ndarray>raw) % 64) % 64
    return raw[skip:skip + nbytes]


cdef class Workspace:
    """The buffers a layer keeps between calls, so that calls of the same shape
    allocate (and page-fault) nothing but the arrays they return: the forward
    cache (gates, cs) and the kernels' scratch (packed weights; in inference a
    chunk of pre-activations, about max(1024, 6N) x 4H values, whatever T)."""

    cdef object _scratch
    cdef tuple _cache_key
    cdef object _gates_padded, _gates, _cs

    def __init__(self):
        self.release()

    def release(self):
        """Free every buffer (the next call allocates again)."""
        self._scratch = None
        self._cache_key = None
        self._gates_padded = self._gates = self._cs = None

    @property
    def nbytes(self):
        return sum(a.nbytes for a in (self._scratch, self._gates_padded, self._cs)
                   if a is not None)

    cdef object scratch(self, size_t nbytes):
        if nbytes == 0:
            return None
        if self._scratch is None or <size_t>self._scratch.nbytes < nbytes:
            self._scratch = None
            self._scratch = _aligned_empty(nbytes)
        return self._scratch

    cdef tuple cache(self, Py_ssize_t N, Py_ssize_t T, Py_ssize_t H, dtype):
        """(gates (N, T, 4H), cs (N, T, H)): gates has GR_GATES_PADDING zeros after it."""
        key = (N, T, H, dtype)
        if key != self._cache_key:
            self._cache_key = None
            self._gates_padded = self._gates = self._cs = None
            padded = np.zeros(N * T * 4 * H + GR_GATES_PADDING, dtype)
            self._gates = padded[:N * T * 4 * H].reshape(N, T, 4 * H)
            self._cs = np.zeros((N, T, H), dtype)
            self._gates_padded, self._cache_key = padded, key
        return self._gates, self._cs

    cdef bint owns_gates(self, gates):
        return gates is self._gates and gates is not None


cdef int _resolved_path():
    return _path if _path != GR_PATH_AUTO else gr_path_best()


cdef int _typenum(dtype) except -1:
    if dtype == np.float32:
        return cnp.NPY_FLOAT32
    if dtype == np.float64:
        return cnp.NPY_FLOAT64
    raise TypeError(f"internal: unsupported dtype {dtype}")


cdef _check_arrays(arrays, int typenum):
    """Every array (None allowed) is a C-contiguous ndarray of `typenum`."""
    for a in arrays:
        if a is None:
            continue
        if (not isinstance(a, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum
                or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)):
            raise TypeError(f"internal: expected C-contiguous arrays of one float dtype; got "
                            f"{type(a).__name__} {getattr(a, 'dtype', '')}")


def lstm_forward(xs, Wx, Wh, b, h0, c0, bint keep_cache, Workspace workspace=None,
                 int flags=0):
    """Run T steps. Returns (hs, c_T, gates, cs); gates and cs are None unless
    keep_cache, and then they live in `workspace` until its next forward.
    h_T is hs[:, -1]."""
    cdef size_t N = xs.shape[0], T = xs.shape[1], D = xs.shape[2], H = Wh.shape[0]
    cdef int path = _resolved_path(), status = 0
    flags |= _split_flags | _all_threads_flag
    dtype = xs.dtype
    cdef int typenum = _typenum(dtype)
    _check_arrays((xs, Wx, Wh, b, h0, c0), typenum)
    cdef bint double_precision = typenum == cnp.NPY_FLOAT64
    if workspace is None:
        workspace = Workspace()
    # GEMM-only runs (benchmarks) read hs as h_{t-1} without writing it.
    hs = np.zeros((N, T, H), dtype) if flags & GR_FLAG_GEMM_ONLY else np.empty((N, T, H), dtype)
    c_state = c0.copy()
    gates = cs = None
    if keep_cache:
        gates, cs = workspace.cache(N, T, H, dtype)
    cdef size_t nbytes = gr_lstm_workspace(path, double_precision, 0, keep_cache, N, T, D, H)
    if nbytes == <size_t>-1:
        raise ValueError(f"sizes too large for the kernels: (N, T, D, H) = {(N, T, D, H)}")
    # The BLAS path's inference scratch is N*T*4H: never kept.
    scratch = (_aligned_empty(nbytes) if path == GR_PATH_BLAS and not keep_cache
               else workspace.scratch(nbytes))
    cdef void *p_hs = _data(hs)
    cdef void *p_c = _data(c_state)
    cdef void *p_gates = _data(gates)
    cdef void *p_cs = _data(cs)
    cdef const void *p_xs = _data(xs)
    cdef const void *p_Wx = _data(Wx)
    cdef const void *p_Wh = _data(Wh)
    cdef const void *p_b = _data(b)
    cdef const void *p_h0 = _data(h0)
    cdef void *p_ws = _data(scratch)
    with nogil:
        if double_precision:
            status = gr_lstm_forward_ex_f64(<double *>p_hs, <double *>p_c, <double *>p_gates,
                                            <double *>p_cs, <const double *>p_xs,
                                            <const double *>p_Wx, <const double *>p_Wh,
                                            <const double *>p_b, <const double *>p_h0,
                                            N, T, D, H, p_ws, nbytes, path, flags, &_blas)
        else:
            status = gr_lstm_forward_ex_f32(<float *>p_hs, <float *>p_c, <float *>p_gates,
                                            <float *>p_cs, <const float *>p_xs,
                                            <const float *>p_Wx, <const float *>p_Wh,
                                            <const float *>p_b, <const float *>p_h0,
                                            N, T, D, H, p_ws, nbytes, path, flags, &_blas)
    _raise_status(status)
    return hs, c_state, gates, cs


def lstm_backward(dhs, dh_T, dc_T, gates, cs, xs, Wx, Wh, h0, c0, dWx, dWh, db,
                  Workspace workspace=None, int flags=0):
    """Backward over the cache of lstm_forward. Writes dWx, dWh, db in place,
    consumes the cache (gates becomes dA, cs the states h_{t-1}), and returns
    (dxs, dh0, dc0)."""
    cdef size_t N = xs.shape[0], T = xs.shape[1], D = xs.shape[2], H = Wh.shape[0]
    cdef int path = _resolved_path(), status = 0
    flags |= _split_flags | _all_threads_flag
    dtype = xs.dtype
    cdef int typenum = _typenum(dtype)
    _check_arrays((dhs, dh_T, dc_T, gates, cs, xs, Wx, Wh, h0, c0, dWx, dWh, db), typenum)
    cdef bint double_precision = typenum == cnp.NPY_FLOAT64
    if gates.shape != (N, T, 4 * H) or cs.shape != (N, T, H):
        raise ValueError(f"internal: a cache of shapes {gates.shape}, {cs.shape} for "
                         f"(N, T, D, H) = {(N, T, D, H)}")
    if workspace is None:
        workspace = Workspace()
    if not workspace.owns_gates(gates):
        # The kernels may read GR_GATES_PADDING elements past gates: copy into a padded buffer.
        padded = np.zeros(gates.size + GR_GATES_PADDING, dtype)
        padded[:gates.size] = gates.reshape(-1)
        gates = padded[:gates.size].reshape(gates.shape)
    dxs = np.empty((N, T, D), dtype)
    dh = dh_T.copy()
    dc = dc_T.copy()
    cdef size_t nbytes = gr_lstm_workspace(path, double_precision, 1, 1, N, T, D, H)
    if nbytes == <size_t>-1:
        raise ValueError(f"sizes too large for the kernels: (N, T, D, H) = {(N, T, D, H)}")
    scratch = workspace.scratch(nbytes)
    cdef void *p_dxs = _data(dxs)
    cdef void *p_dWx = _data(dWx)
    cdef void *p_dWh = _data(dWh)
    cdef void *p_db = _data(db)
    cdef void *p_dh = _data(dh)
    cdef void *p_dc = _data(dc)
    cdef void *p_gates = _data(gates)
    cdef void *p_cs = _data(cs)
    cdef const void *p_dhs = _data(dhs)
    cdef const void *p_xs = _data(xs)
    cdef const void *p_Wx = _data(Wx)
    cdef const void *p_Wh = _data(Wh)
    cdef const void *p_h0 = _data(h0)
    cdef const void *p_c0 = _data(c0)
    cdef void *p_ws = _data(scratch)
    with nogil:
        if double_precision:
            status = gr_lstm_backward_ex_f64(
                <double *>p_dxs, <double *>p_dWx, <double *>p_dWh, <double *>p_db,
                <double *>p_dh, <double *>p_dc, <double *>p_gates, <double *>p_cs,
                <const double *>p_dhs, <const double *>p_xs, <const double *>p_Wx,
                <const double *>p_Wh, <const double *>p_h0, <const double *>p_c0,
                N, T, D, H, p_ws, nbytes, path, flags, &_blas)
        else:
            status = gr_lstm_backward_ex_f32(
                <float *>p_dxs, <float *>p_dWx, <float *>p_dWh, <float *>p_db,
                <float *>p_dh, <float *>p_dc, <float *>p_gates, <float *>p_cs,
                <const float *>p_dhs, <const float *>p_xs, <const float *>p_Wx,
                <const float *>p_Wh, <const float *>p_h0, <const float *>p_c0,
                N, T, D, H, p_ws, nbytes, path, flags, &_blas)
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


_env_path = os.environ.get("GATEDRNN_KERNEL_PATH")
if _env_path:
    set_path(_env_path)


def sum_of_squares(a):
    """sum(a ** 2) as a Python float, accumulated in double precision, for a
    C-contiguous float32 or float64 array (dsdot reads float32 and adds in
    double), through the same SciPy BLAS as the kernels."""
    cdef const float[::1] a32
    cdef const double[::1] a64
    cdef Py_ssize_t start = 0, size = a.size, step = 1 << 30
    cdef int n, one = 1
    cdef double total = 0
    flat = a.reshape(-1)
    if a.dtype == np.float32:
        a32 = flat
        with nogil:
            while start < size:
                n = <int>min(step, size - start)
                total += dsdot(&n, <float *>&a32[start], &one, <float *>&a32[start], &one)
                start += n
    elif a.dtype == np.float64:
        a64 = flat
        with nogil:
            while start < size:
                n = <int>min(step, size - start)
                total += ddot(&n, <double *>&a64[start], &one, <double *>&a64[start], &one)
                start += n
    else:
        raise TypeError(f"internal: unsupported dtype {a.dtype}")
    return total
