# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bindings over the C kernels in src/.

Callers pass C-contiguous arrays of one dtype whose shapes were validated by
gatedrnn._layers; the checks here only guard the C code against a wrong call.
The GIL is released while a kernel runs.

Every recurrent cell (LSTM, GRU in both variants, plain RNN; one or two
directions) runs through forward() and backward() on one of several kernel
paths (include/gatedrnn.h): the BLAS path, or the packed-weight SIMD kernels
compiled for the baseline ISA, AVX2 or AVX-512. The best available is the
default; set_path() or the environment variable GATEDRNN_KERNEL_PATH forces
one (tests run every path this way).
"""
from cython cimport floating
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm, sgemm
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


def sizes_ok(Py_ssize_t N, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H):
    """Whether the kernels can take (N, T, D, H), all >= 0: check_sizes
    without the message, for the checks' fast path."""
    return N >= 0 and T >= 0 and D >= 0 and H >= 0 and gr_check_sizes(N, T, D, H) == 0


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


def overlapping(targets, arrays):
    """[whether targets[k] shares memory with any of `arrays`] for C-contiguous
    ndarrays (None entries of `arrays` skipped): a byte-range test, cheap
    enough for every call (np.may_share_memory costs a microsecond a pair)."""
    cdef char *lo
    cdef char *hi
    cdef char *a_lo
    ranges = [(<size_t>cnp.PyArray_DATA(<cnp.ndarray>a), <size_t>cnp.PyArray_NBYTES(<cnp.ndarray>a))
              for a in arrays if a is not None]
    out = []
    for t in targets:
        lo = <char *>cnp.PyArray_DATA(<cnp.ndarray>t)
        hi = lo + cnp.PyArray_NBYTES(<cnp.ndarray>t)
        hit = False
        for start, size in ranges:
            a_lo = <char *><size_t>start
            if size and hi > lo and a_lo < hi and a_lo + <size_t>size > lo:
                hit = True
                break
        out.append(hit)
    return out


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
        GR_CACHE_PADDING
        GR_MAX_DIRECTIONS
        GR_CELL_LSTM
        GR_CELL_GRU
        GR_CELL_GRU_RESET_AFTER
        GR_CELL_RNN
        GR_CELL_RNN_RELU
    size_t gr_jobs_shared()
    int gr_path_available(int path)
    int gr_path_best()
    int gr_set_num_threads(int n)
    int gr_get_num_threads()
    int gr_cell_gates(int cell)
    int gr_cell_cache_width(int cell)
    int gr_cell_bias_rows(int cell)
    ctypedef struct gr_forward_io:
        void *hs
        void *h
        void *c
        void *cache
        const void *xs
        const void *Wx
        const void *Wh
        const void *b
        const void *h0
        int reversed
    ctypedef struct gr_backward_io:
        void *dxs
        void *dWx
        void *dWh
        void *db
        void *dh
        void *dc
        void *cache
        const void *dhs
        const void *xs
        const void *Wx
        const void *Wh
        const void *h0
        const void *c0
        int reversed
    size_t gr_workspace(int cell, int ndirs, int path, int double_precision, int backward,
                        int train, size_t N, size_t T, size_t D, size_t H,
                        const int64_t *lengths)
    int gr_forward(int cell, int double_precision, const gr_forward_io *dirs, int ndirs,
                   size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
                   void *workspace, size_t workspace_bytes, int path, int flags,
                   const gr_blas *blas)
    int gr_backward(int cell, int double_precision, const gr_backward_io *dirs, int ndirs,
                    size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
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
    """Set the number of threads the SIMD kernel paths use.

    The default is ``GATEDRNN_NUM_THREADS``, else ``OMP_NUM_THREADS``, else
    the CPUs this process may use (the environment is read once, at the
    first call). Results are bit-identical for any thread count. The ``blas``
    path does not use these threads.

    Parameters
    ----------
    n : int
        The thread count; ``n <= 0`` restores the default.

    Returns
    -------
    int
        The previous count.

    See Also
    --------
    get_num_threads

    Examples
    --------
    >>> import gatedrnn
    >>> previous = gatedrnn.set_num_threads(1)
    >>> gatedrnn.get_num_threads()
    1
    >>> _ = gatedrnn.set_num_threads(0)  # the default again
    """
    return gr_set_num_threads(n)


def get_num_threads():
    """The number of threads the SIMD kernel paths use for a large problem.

    Small calls run on one thread, since waking another costs more than it
    saves.

    Returns
    -------
    int
        The thread count, at least 1.

    See Also
    --------
    set_num_threads

    Examples
    --------
    >>> import gatedrnn
    >>> gatedrnn.get_num_threads() >= 1
    True
    """
    return gr_get_num_threads()


cdef inline void *_data(a):
    """The data pointer of an ndarray, or NULL for None."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef object _aligned_empty(size_t nbytes):
    """A fresh uint8 array of nbytes whose data starts on a 64-byte boundary."""
    raw = np.empty(nbytes + 64, np.uint8)
    cdef size_t skip = (64 - <size_t>cnp.PyArray_DATA(<cnp.ndarray>raw) % 64) % 64
    return raw[skip:skip + nbytes]


# The cells, by name (include/gatedrnn.h, enum gr_cell).
CELLS = {"lstm": GR_CELL_LSTM, "gru": GR_CELL_GRU, "gru_reset_after": GR_CELL_GRU_RESET_AFTER,
         "rnn": GR_CELL_RNN, "rnn_relu": GR_CELL_RNN_RELU}


def cell_gates(int cell):
    """G: the gate blocks of H in Wx's and Wh's columns."""
    return gr_cell_gates(cell)


def cell_cache_width(int cell):
    """CW: the blocks of H a training forward keeps per (n, t)."""
    return gr_cell_cache_width(cell)


def cell_bias_rows(int cell):
    """Rows of b: 1, or 2 (input and recurrent biases) for GRU reset after."""
    return gr_cell_bias_rows(cell)


cdef class Workspace:
    """The buffers a layer keeps between calls, so that calls of the same shape
    allocate (and page-fault) nothing but the arrays they return: the forward
    cache of each direction and the kernels' scratch (packed weights; in
    inference a chunk of pre-activations, about max(1024, 6N) rows, whatever T)."""

    cdef object _scratch
    cdef tuple _cache_key
    cdef list _caches

    def __init__(self):
        self.release()

    def release(self):
        """Free every buffer (the next call allocates again)."""
        self._scratch = None
        self._cache_key = None
        self._caches = []

    @property
    def nbytes(self):
        return sum(a.nbytes for a in [self._scratch] + [c.base for c in self._caches]
                   if a is not None)

    cdef object scratch(self, size_t nbytes):
        if nbytes == 0:
            return None
        if self._scratch is None or <size_t>self._scratch.nbytes < nbytes:
            self._scratch = None
            self._scratch = _aligned_empty(nbytes)
        return self._scratch

    cdef list caches(self, tuple shape, dtype, Py_ssize_t ndirs):
        """A cache of `shape` ((N, T, width), or (rows, width) with lengths) per
        direction, each with GR_CACHE_PADDING zeros after it."""
        key = (shape, dtype, ndirs)
        if key != self._cache_key:
            self._cache_key = None
            self._caches = []
            size = int(np.prod(shape))
            for _ in range(ndirs):
                padded = np.zeros(size + GR_CACHE_PADDING, dtype)
                self._caches.append(padded[:size].reshape(shape))
            self._cache_key = key
        return list(self._caches)

    cdef bint owns(self, cache):
        return any(cache is c for c in self._caches)


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


cdef _check_cell(int cell, Py_ssize_t ndirs):
    if gr_cell_gates(cell) == 0:
        raise ValueError(f"internal: unknown cell {cell}")
    if ndirs < 1 or ndirs > GR_MAX_DIRECTIONS:
        raise ValueError(f"internal: {ndirs} directions")


cdef const int64_t *_lengths(lengths, size_t N) except? NULL:
    """The lengths' data (C-contiguous int64 (N,), checked by the caller), or NULL."""
    if lengths is None:
        return NULL
    if (not isinstance(lengths, cnp.ndarray) or lengths.dtype != np.int64
            or not lengths.flags.c_contiguous or lengths.shape != (N,)):
        raise TypeError(f"internal: lengths must be C-contiguous int64 of shape ({N},)")
    return <const int64_t *>_data(lengths)


def forward(int cell, list dirs, bint keep_cache, Workspace workspace=None, int flags=0,
            lengths=None, reversed=None):
    """T steps of `cell` over one or two directions, each a tuple
    (xs, Wx, Wh, b, h0, c0) of C-contiguous arrays of one dtype (c0 None for
    cells without a cell state). Returns a list of (hs, c_T, cache, h_T) per
    direction: c_T is None without a cell state, cache None unless keep_cache,
    and then it lives in `workspace` until its next forward.

    lengths: None, or int64 (N,) in [0, T] (checked by the caller): sequence n
    runs its first lengths[n] steps; h_T and c_T are its state after them, hs
    is zero past them, and the cache has sum(lengths) rows. reversed: a bool
    per direction (with lengths): that direction reads each sequence from its
    last real step back, and its hs comes back in time order."""
    cdef Py_ssize_t ndirs = len(dirs), d
    _check_cell(cell, ndirs)
    xs0, _, Wh0 = dirs[0][:3]
    cdef size_t N = xs0.shape[0], T = xs0.shape[1], D = xs0.shape[2], H = Wh0.shape[0]
    cdef const int64_t *p_lengths = _lengths(lengths, N)
    reversed = list(reversed) if reversed is not None else [False] * ndirs
    cdef int path = _resolved_path(), status = 0, has_c = cell == GR_CELL_LSTM
    flags |= _split_flags | _all_threads_flag
    dtype = xs0.dtype
    cdef int typenum = _typenum(dtype)
    for direction in dirs:
        _check_arrays(direction, typenum)
    cdef bint double_precision = typenum == cnp.NPY_FLOAT64
    if workspace is None:
        workspace = Workspace()
    cdef size_t width = gr_cell_cache_width(cell) * H
    cache_shape = (N, T, width) if lengths is None else (int(lengths.sum()), width)
    caches = workspace.caches(cache_shape, dtype, ndirs) if keep_cache else [None] * ndirs
    cdef gr_forward_io io[2]
    results = []
    for d in range(ndirs):
        xs, Wx, Wh, b, h0, c0 = dirs[d]
        # GEMM-only runs (benchmarks) read hs as h_{t-1} without writing it.
        hs = (np.zeros((N, T, H), dtype) if flags & GR_FLAG_GEMM_ONLY
              else np.empty((N, T, H), dtype))
        h_T = np.empty((N, H), dtype)
        c_state = c0.copy() if has_c else None
        results.append((hs, c_state, caches[d], h_T))
        io[d].hs = _data(hs)
        io[d].h = _data(h_T)
        io[d].reversed = 1 if reversed[d] else 0
        io[d].c = _data(c_state)
        io[d].cache = _data(caches[d])
        io[d].xs = _data(xs)
        io[d].Wx = _data(Wx)
        io[d].Wh = _data(Wh)
        io[d].b = _data(b)
        io[d].h0 = _data(h0)
    cdef size_t nbytes = gr_workspace(cell, ndirs, path, double_precision, 0, keep_cache,
                                      N, T, D, H, p_lengths)
    if nbytes == <size_t>-1:
        raise ValueError(f"sizes too large for the kernels: (N, T, D, H) = {(N, T, D, H)}")
    # The BLAS path's inference scratch is N*T*G*H: never kept.
    scratch = (_aligned_empty(nbytes) if path == GR_PATH_BLAS and not keep_cache
               else workspace.scratch(nbytes))
    cdef void *p_ws = _data(scratch)
    with nogil:
        status = gr_forward(cell, double_precision, io, <int>ndirs, N, T, D, H, p_lengths, p_ws,
                            nbytes, path, flags, &_blas)
    _raise_status(status)
    return results


def backward(int cell, list dirs, Workspace workspace=None, int flags=0, lengths=None,
             reversed=None):
    """Backward over the caches of forward(), one tuple per direction:
    (dhs, dh_T, dc_T, cache, xs, Wx, Wh, h0, c0, dWx, dWh, db), dc_T and c0
    None for cells without a cell state, lengths and reversed as the forward
    had them. Writes dWx, dWh and db in place, consumes the caches (their gate
    blocks become dA) and returns a list of (dxs, dh0, dc0) per direction."""
    cdef Py_ssize_t ndirs = len(dirs), d
    _check_cell(cell, ndirs)
    xs0, Wh0 = dirs[0][4], dirs[0][6]
    cdef size_t N = xs0.shape[0], T = xs0.shape[1], D = xs0.shape[2], H = Wh0.shape[0]
    cdef const int64_t *p_lengths = _lengths(lengths, N)
    reversed = list(reversed) if reversed is not None else [False] * ndirs
    cdef int path = _resolved_path(), status = 0, has_c = cell == GR_CELL_LSTM
    flags |= _split_flags | _all_threads_flag
    dtype = xs0.dtype
    cdef int typenum = _typenum(dtype)
    for direction in dirs:
        _check_arrays(direction, typenum)
    cdef bint double_precision = typenum == cnp.NPY_FLOAT64
    cdef size_t width = gr_cell_cache_width(cell) * H
    cache_shape = (N, T, width) if lengths is None else (int(lengths.sum()), width)
    if workspace is None:
        workspace = Workspace()
    cdef gr_backward_io io[2]
    results = []
    keep = []
    for d in range(ndirs):
        dhs, dh_T, dc_T, cache, xs, Wx, Wh, h0, c0, dWx, dWh, db = dirs[d]
        if cache.shape != cache_shape:
            raise ValueError(f"internal: a cache of shape {cache.shape} for (N, T, D, H) = "
                             f"{(N, T, D, H)}")
        if not workspace.owns(cache):
            # The kernels may read GR_CACHE_PADDING elements past the cache: copy
            # it into a padded buffer.
            padded = np.zeros(cache.size + GR_CACHE_PADDING, dtype)
            padded[:cache.size] = cache.reshape(-1)
            cache = padded[:cache.size].reshape(cache.shape)
        dxs = np.empty((N, T, D), dtype)
        dh = dh_T.copy()
        dc = dc_T.copy() if has_c else None
        results.append((dxs, dh, dc))
        keep.append(cache)
        io[d].dxs = _data(dxs)
        io[d].dWx = _data(dWx)
        io[d].dWh = _data(dWh)
        io[d].db = _data(db)
        io[d].dh = _data(dh)
        io[d].dc = _data(dc)
        io[d].cache = _data(cache)
        io[d].dhs = _data(dhs)
        io[d].xs = _data(xs)
        io[d].Wx = _data(Wx)
        io[d].Wh = _data(Wh)
        io[d].h0 = _data(h0)
        io[d].c0 = _data(c0)
        io[d].reversed = 1 if reversed[d] else 0
    cdef size_t nbytes = gr_workspace(cell, ndirs, path, double_precision, 1, 1, N, T, D, H,
                                      p_lengths)
    if nbytes == <size_t>-1:
        raise ValueError(f"sizes too large for the kernels: (N, T, D, H) = {(N, T, D, H)}")
    scratch = workspace.scratch(nbytes)
    cdef void *p_ws = _data(scratch)
    with nogil:
        status = gr_backward(cell, double_precision, io, <int>ndirs, N, T, D, H, p_lengths, p_ws,
                             nbytes, path, flags, &_blas)
    _raise_status(status)
    return results


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


cdef extern from "gatedrnn.h" nogil:
    ctypedef struct gr_sum_array:
        const void *data
        size_t n
        int double_precision
    size_t gr_sum_squares_partials(const gr_sum_array *arrays, size_t count)
    int gr_sum_squares(const gr_sum_array *arrays, size_t count, double *partials,
                       size_t partials_len, double *total, int flags)


def sum_of_squares(arrays):
    """sum(a ** 2) over a list of C-contiguous float32/float64 arrays (mixed),
    as a Python float, accumulated in double precision on the kernels' thread
    pool (src/lm/sum_squares.c). GIL released."""
    cdef Py_ssize_t count = len(arrays), k
    cdef gr_sum_array *sums = <gr_sum_array *>malloc(max(count, 1) * sizeof(gr_sum_array))
    cdef double total = 0
    cdef double *partials = NULL
    cdef size_t items
    cdef int status
    if sums == NULL:
        raise MemoryError()
    try:
        for k in range(count):
            a = arrays[k]
            if (not isinstance(a, cnp.ndarray) or not a.flags.c_contiguous
                    or a.dtype not in (np.float32, np.float64)):
                raise ValueError("internal: sum_of_squares takes C-contiguous float32/float64 "
                                 "ndarrays")
            sums[k].data = cnp.PyArray_DATA(<cnp.ndarray>a)
            sums[k].n = cnp.PyArray_SIZE(<cnp.ndarray>a)
            sums[k].double_precision = a.dtype == np.float64
        items = gr_sum_squares_partials(sums, count)
        partials = <double *>malloc(max(items, 1) * sizeof(double))
        if partials == NULL:
            raise MemoryError()
        with nogil:
            status = gr_sum_squares(sums, count, partials, items, &total, _all_threads_flag)
    finally:
        free(sums)
        free(partials)
    _raise_status(status)
    return total


# ---- The book's optimizers and clip_grads' sum (src/lm/book_updates.c) -----------


cdef extern from "gatedrnn.h" nogil:
    enum:
        GR_BOOK_SGD
        GR_BOOK_MOMENTUM
        GR_BOOK_NESTEROV
        GR_BOOK_ADAGRAD
        GR_BOOK_RMSPROP
        GR_BOOK_ADAM
        GR_BOOK_MAX_HYPER
        GR_BOOK_NUMPY1
    ctypedef struct gr_book_array:
        void *param
        const void *grad
        void *state[2]
        size_t n
    int gr_book_update(int rule, int double_precision, const gr_book_array *arrays,
                       size_t count, const double *hyper, int flags)
    float gr_book_sum_squares_f32(const float *a, size_t n)
    double gr_book_sum_squares_f64(const double *a, size_t n)

# The rules of gr_book_update by name, with how many state arrays and
# hyperparameters each takes (include/gatedrnn.h, enum gr_book_rule).
BOOK_RULES = {"sgd": (GR_BOOK_SGD, 0, 1), "momentum": (GR_BOOK_MOMENTUM, 1, 2),
              "nesterov": (GR_BOOK_NESTEROV, 1, 4), "adagrad": (GR_BOOK_ADAGRAD, 1, 1),
              "rmsprop": (GR_BOOK_RMSPROP, 1, 3), "adam": (GR_BOOK_ADAM, 2, 3)}


cdef bint _laid_out_as(object a, cnp.ndarray p, int typenum, bint writes):
    """a is an aligned, contiguous (C or F) ndarray of typenum with p's shape
    and strides, writeable if `writes`: element k of both is at the same offset."""
    if not isinstance(a, cnp.ndarray):
        return False
    cdef cnp.ndarray b = <cnp.ndarray>a
    cdef int flags = cnp.PyArray_FLAGS(b), d, nd = cnp.PyArray_NDIM(b)
    if (cnp.PyArray_TYPE(b) != typenum or not (flags & cnp.NPY_ARRAY_ALIGNED)
            or not (flags & (cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_F_CONTIGUOUS))
            or (writes and not (flags & cnp.NPY_ARRAY_WRITEABLE))
            or nd != cnp.PyArray_NDIM(p)):
        return False
    for d in range(nd):
        if (cnp.PyArray_DIM(b, d) != cnp.PyArray_DIM(p, d)
                or cnp.PyArray_STRIDE(b, d) != cnp.PyArray_STRIDE(p, d)):
            return False
    return True


def book_fits(p, g, tuple states):
    """Whether one entry of an update can take book_update's C pass: p, g and
    the state arrays are float32 or float64 ndarrays of one dtype, aligned,
    contiguous and laid out alike, p and the states writeable, and no two of
    them share bytes (else NumPy's own overlap handling is needed)."""
    if not isinstance(p, cnp.ndarray):
        return False
    cdef cnp.ndarray pa = <cnp.ndarray>p
    cdef int typenum = cnp.PyArray_TYPE(pa)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        return False
    if not _laid_out_as(p, pa, typenum, True) or not _laid_out_as(g, pa, typenum, False):
        return False
    for s in states:
        if not _laid_out_as(s, pa, typenum, True):
            return False
    cdef size_t nbytes = <size_t>cnp.PyArray_NBYTES(pa), lo_j, lo_k
    if nbytes == 0:
        return True
    arrays = (p, g) + states
    cdef Py_ssize_t j, k, count = len(arrays)
    for j in range(count):
        lo_j = <size_t>cnp.PyArray_DATA(<cnp.ndarray>arrays[j])
        for k in range(j + 1, count):
            lo_k = <size_t>cnp.PyArray_DATA(<cnp.ndarray>arrays[k])
            if lo_j < lo_k + nbytes and lo_k < lo_j + nbytes:
                return False
    return True


def book_update(rule, list params, list grads, list states, tuple hyper,
                bint numpy1=False):
    """One update of the book's optimizer `rule` (a key of BOOK_RULES) over
    params[k], grads[k] and the state arrays states[k] (a tuple per param),
    all of one dtype, each entry passing book_fits (checked again here).
    hyper: the rule's hyperparameters as include/gatedrnn.h lists them.
    numpy1: round Adam's float32 step as NumPy 1 does. GIL released."""
    cdef int code, nstates, nhyper, k_state, status = 0, flags = _all_threads_flag
    cdef Py_ssize_t count = len(params), k
    cdef double values[GR_BOOK_MAX_HYPER]
    code, nstates, nhyper = BOOK_RULES[rule]
    if len(grads) != count or len(states) != count or len(hyper) != nhyper:
        raise ValueError(f"internal: {count} params, {len(grads)} grads, {len(states)} states, "
                         f"{len(hyper)} hyperparameters for {rule}")
    if count == 0:
        return
    for k in range(nhyper):
        values[k] = hyper[k]
    dtype = params[0].dtype
    cdef int typenum = _typenum(dtype)
    cdef bint double_precision = typenum == cnp.NPY_FLOAT64
    if numpy1:
        flags |= GR_BOOK_NUMPY1
    cdef gr_book_array *arrays = <gr_book_array *>malloc(count * sizeof(gr_book_array))
    if arrays == NULL:
        raise MemoryError()
    try:
        for k in range(count):
            p, g, state = params[k], grads[k], states[k]
            if (len(state) != nstates or not isinstance(p, cnp.ndarray)
                    or cnp.PyArray_TYPE(<cnp.ndarray>p) != typenum or not book_fits(p, g, state)):
                raise ValueError(f"internal: entry {k} does not fit book_update's C pass "
                                 f"({rule}, {nstates} state arrays, dtype {dtype})")
            arrays[k].param = cnp.PyArray_DATA(<cnp.ndarray>p)
            arrays[k].grad = cnp.PyArray_DATA(<cnp.ndarray>g)
            arrays[k].state[0] = arrays[k].state[1] = NULL
            for k_state in range(nstates):
                arrays[k].state[k_state] = cnp.PyArray_DATA(<cnp.ndarray>state[k_state])
            arrays[k].n = cnp.PyArray_SIZE(<cnp.ndarray>p)
        with nogil:
            status = gr_book_update(code, double_precision, arrays, count, values, flags)
    finally:
        free(arrays)
    _raise_status(status)


def book_sum_squares(a):
    """np.sum(a ** 2) to the bit, as a NumPy scalar of a's dtype, without the
    temporary a ** 2, for an aligned C-contiguous float32 or float64 array.
    GIL released."""
    cdef size_t n = a.size
    cdef float s32
    cdef double s64
    if not isinstance(a, cnp.ndarray) or not a.flags.c_contiguous or not a.flags.aligned:
        raise ValueError("internal: book_sum_squares takes an aligned C-contiguous ndarray")
    cdef void *data = cnp.PyArray_DATA(<cnp.ndarray>a)
    if a.dtype == np.float32:
        with nogil:
            s32 = gr_book_sum_squares_f32(<const float *>data, n)
        return np.float32(s32)
    if a.dtype == np.float64:
        with nogil:
            s64 = gr_book_sum_squares_f64(<const double *>data, n)
        return np.float64(s64)
    raise TypeError(f"internal: unsupported dtype {a.dtype}")


# ---- Plain products on the packed-product engine (src/matmul.template.c) -------

cdef extern from "gatedrnn.h" nogil:
    size_t gr_matmul_workspace(int path, int double_precision, size_t M, size_t N, size_t K,
                               int b_transposed)
    int gr_matmul(int path, int double_precision, size_t M, size_t N, size_t K, const void *A,
                  size_t a_rs, size_t a_cs, const void *B, int b_transposed, void *C,
                  size_t ldc, int accumulate, const void *bias, void *workspace,
                  size_t workspace_bytes, int flags)


cdef extern from "gatedrnn.h" nogil:
    int gr_set_product_engine(int engine)
    enum: GR_GEMM_BLOCKING_FIELDS
    int gr_gemm_blocking(int path, int double_precision, size_t M, size_t N, size_t K,
                         size_t *out)

BLOCKING_FIELDS = ("MR", "NR", "KC", "kc", "k_blocks", "MC", "NC", "row_blocks",
                   "col_blocks", "phased")


def gemm_blocking(size_t M, size_t N, size_t K, dtype=np.float32, path=None):
    """How the Goto engine blocks the product (M, K) @ (K, N) on a SIMD path
    (the one in use when None) in dtype, on this machine: a dict of
    BLOCKING_FIELDS (MR x NR the micro-kernel; KC the largest K block, kc this
    product's; MC slivers and NC panels per item; phased: a phase per K block)."""
    cdef int p = _resolved_path() if path is None else (
        PATHS.index(path) if path in PATHS else -2)
    if p < 0 or p == GR_PATH_BLAS or not gr_path_available(p):
        raise ValueError(f"gemm_blocking needs an available SIMD path; got {path!r}")
    cdef size_t out[GR_GEMM_BLOCKING_FIELDS]
    cdef int status = gr_gemm_blocking(p, np.dtype(dtype) == np.float64, M, N, K, out)
    _raise_status(status)
    return {name: out[k] for k, name in enumerate(BLOCKING_FIELDS)}

# The product engines by name (include/gatedrnn.h, enum gr_engine); None: each
# product on the one that measured faster at its shape.
ENGINES = (None, "panels", "goto")


def set_product_engine(name):
    """Run the SIMD paths' products on one engine: "goto" (five loops around
    a micro-kernel, packed A and B, blocks from the caches), "panels" (the
    first engine: packed panels of B, A read in place), or None (each product
    on the one measured faster at its shape). For benchmarks and tests that
    compare them. Returns the previous choice."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {name!r}")
    return ENGINES[gr_set_product_engine(ENGINES.index(name))]


cdef class MatmulScratch:
    """The packing buffer of a caller's products, kept between calls so that
    products of the same shape allocate (and page-fault) nothing."""
    cdef object _buffer

    cdef object get(self, size_t nbytes):
        if nbytes == 0:
            return None
        if self._buffer is None or <size_t>self._buffer.nbytes < nbytes:
            self._buffer = None
            self._buffer = _aligned_empty(nbytes)
        return self._buffer


cdef bint _engine_operands(a, b, size_t *a_rs, size_t *a_cs, int *transposed):
    """Whether the engine reads a (any non-negative strides of whole
    elements) and b (C-contiguous, or the transpose of a C-contiguous array)
    in place; then their strides in elements and b's layout."""
    if b.flags.c_contiguous:
        transposed[0] = 0
    elif b.T.flags.c_contiguous:
        transposed[0] = 1
    else:
        return False
    cdef Py_ssize_t item = a.dtype.itemsize
    if a.strides[0] < 0 or a.strides[1] < 0 or a.strides[0] % item or a.strides[1] % item:
        return False
    a_rs[0] = a.strides[0] // item
    a_cs[0] = a.strides[1] // item
    return True


cdef object _engine_workspace(MatmulScratch scratch, size_t nbytes, str what):
    """The scratch's buffer of nbytes (a new scratch's when None)."""
    if nbytes == <size_t>-1:
        raise ValueError(f"internal: {what} workspace overflows")
    if scratch is None:
        scratch = MatmulScratch()
    return scratch.get(nbytes)


def matmul(out, a, b, bint accumulate=False, MatmulScratch scratch=None, bias=None):
    """out = a @ b (or out += a @ b, or out = bias + a @ b for a contiguous
    bias row) on the SIMD path in use, for 2-D arrays of one float dtype: out
    C-contiguous; a with any non-negative strides; b C-contiguous, or the
    transpose of a C-contiguous array. Returns False, computing nothing, when
    the path in use is the BLAS path (the caller then uses its BLAS) or b has
    another layout."""
    cdef int path = _resolved_path()
    if path == GR_PATH_BLAS:
        return False
    dtype = out.dtype
    cdef int typenum = _typenum(dtype)
    if (cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum or cnp.PyArray_TYPE(<cnp.ndarray>b) != typenum
            or not out.flags.c_contiguous or out.ndim != 2 or a.ndim != 2 or b.ndim != 2):
        raise TypeError("internal: matmul needs 2-D arrays of one float dtype, out C-contiguous")
    cdef size_t M = out.shape[0], N = out.shape[1], K = a.shape[1]
    if <size_t>a.shape[0] != M or <size_t>b.shape[0] != K or <size_t>b.shape[1] != N:
        raise ValueError(f"internal: matmul of {a.shape} @ {b.shape} into {out.shape}")
    cdef const void *p_bias = NULL
    if bias is not None:
        if (cnp.PyArray_TYPE(<cnp.ndarray>bias) != typenum or not bias.flags.c_contiguous
                or bias.shape != (N,) or accumulate):
            raise ValueError(f"internal: matmul's bias must be a contiguous row of {N}")
        p_bias = _data(bias)
    cdef int transposed
    cdef size_t a_rs, a_cs
    if not _engine_operands(a, b, &a_rs, &a_cs, &transposed):
        return False
    cdef int double_precision = dtype == np.float64
    cdef size_t nbytes = gr_matmul_workspace(path, double_precision, M, N, K, transposed)
    buf = _engine_workspace(scratch, nbytes, "matmul")
    cdef void *p_out = _data(out)
    cdef const void *p_a = _data(a)
    cdef const void *p_b = _data(b)
    cdef void *p_ws = _data(buf)
    cdef int flags = _all_threads_flag, status
    with nogil:
        status = gr_matmul(path, double_precision, M, N, K, p_a, a_rs, a_cs, p_b, transposed,
                           p_out, N, accumulate, p_bias, p_ws, nbytes, flags)
    _raise_status(status)
    return True


# ---- The output layer's evaluation loss (src/affine_xent.template.c) ------------

cdef extern from "gatedrnn.h" nogil:
    size_t gr_affine_xent_workspace(int path, int double_precision, size_t M, size_t N,
                                    size_t K, int b_transposed)
    int gr_affine_xent(int path, int double_precision, size_t M, size_t N, size_t K,
                       const void *A, size_t a_rs, size_t a_cs, const void *B, int b_transposed,
                       const void *bias, const int64_t *target, double *loss, void *workspace,
                       size_t workspace_bytes, int flags)


def affine_xent(a, b, bias, target, MatmulScratch scratch=None):
    """The losses -log softmax(a @ b + bias)[r, target[r]] of every row r, as
    a float64 array, without the scores in memory, on the SIMD path in use:
    a (M, K) with any non-negative strides, b (K, N) C-contiguous or the
    transpose of a C-contiguous array, bias a contiguous row of N (or None),
    target int64 (M,) in [0, N) (the caller checks). Returns None, computing
    nothing, on the BLAS path or for another layout of b (the caller then
    computes the scores)."""
    cdef int path = _resolved_path()
    if path == GR_PATH_BLAS:
        return None
    dtype = a.dtype
    cdef int typenum = _typenum(dtype)
    if (cnp.PyArray_TYPE(<cnp.ndarray>b) != typenum or a.ndim != 2 or b.ndim != 2
            or (bias is not None and (cnp.PyArray_TYPE(<cnp.ndarray>bias) != typenum
                                      or not bias.flags.c_contiguous))
            or target.dtype != np.int64 or not target.flags.c_contiguous):
        raise TypeError("internal: affine_xent needs a, b and bias of one float dtype and "
                        "contiguous int64 targets")
    cdef size_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    if (<size_t>b.shape[0] != K or <size_t>target.shape[0] != M
            or (bias is not None and bias.shape != (N,)) or N == 0):
        raise ValueError(f"internal: affine_xent of {a.shape} @ {b.shape} with "
                         f"{target.shape} targets")
    cdef int transposed
    cdef size_t a_rs, a_cs
    if not _engine_operands(a, b, &a_rs, &a_cs, &transposed):
        return None
    cdef int double_precision = dtype == np.float64
    cdef size_t nbytes = gr_affine_xent_workspace(path, double_precision, M, N, K, transposed)
    buf = _engine_workspace(scratch, nbytes, "affine_xent")
    loss = np.empty(M, np.float64)
    cdef const void *p_a = _data(a)
    cdef const void *p_b = _data(b)
    cdef const void *p_bias = NULL if bias is None else _data(bias)
    cdef const int64_t *p_target = <const int64_t *>_data(target)
    cdef double *p_loss = <double *>_data(loss)
    cdef void *p_ws = _data(buf)
    cdef int flags = _all_threads_flag, status
    with nogil:
        status = gr_affine_xent(path, double_precision, M, N, K, p_a, a_rs, a_cs, p_b,
                                transposed, p_bias, p_target, p_loss, p_ws, nbytes, flags)
    _raise_status(status)
    return loss


# ---- The machine's limits: cache sizes and the FMA peak (src/gemm) -------------

cdef extern from "gatedrnn.h" nogil:
    int gr_cache_sizes(size_t *bytes, int *shared_by)
    int gr_fma_peak(int path, int double_precision, int nthreads, size_t iterations,
                    double *flops, double *seconds, double *wall)

# Where the cache sizes came from (include/gatedrnn.h, enum gr_cache_source).
CACHE_SOURCES = ("assumed", "sysfs", "cpuid")


def cache_sizes():
    """The data caches the product engine blocks for, read once at run time:
    a dict with the bytes of ``L1d``, ``L2`` and ``L3``, ``shared_by`` (how
    many CPUs share each, in that order) and ``source`` ("sysfs", "cpuid", or
    "assumed" when neither answered)."""
    cdef size_t nbytes[3]
    cdef int shared[3]
    cdef int source
    with nogil:
        source = gr_cache_sizes(nbytes, shared)
    return {"L1d": nbytes[0], "L2": nbytes[1], "L3": nbytes[2],
            "shared_by": (shared[0], shared[1], shared[2]), "source": CACHE_SOURCES[source]}


def fma_peak(path=None, dtype=np.float32, int threads=0, size_t iterations=1000000):
    """Run the register-only multiply-add loop of a SIMD path (the path in use
    when None) in dtype on `threads` threads of the pool at once (0: the count
    in effect), `iterations` steps per thread. Returns (wall seconds, [flops
    of each thread], [seconds of each thread]); a thread that took no part
    reports 0 and 0."""
    cdef int p = _resolved_path() if path is None else (
        PATHS.index(path) if path in PATHS else -2)
    if p == -2:
        raise ValueError(f"unknown kernel path {path!r}; choose from {PATHS}")
    if p == GR_PATH_BLAS or not gr_path_available(p):
        raise ValueError(f"fma_peak needs an available SIMD path; got {PATHS[p]!r} "
                         f"(available: {available_paths()})")
    cdef int double_precision
    if np.dtype(dtype) == np.float64:
        double_precision = 1
    elif np.dtype(dtype) == np.float32:
        double_precision = 0
    else:
        raise TypeError(f"dtype must be float32 or float64; got {np.dtype(dtype)}")
    cdef int n = threads if threads > 0 else gr_get_num_threads()
    if n > 64:
        raise ValueError(f"threads must be at most 64; got {n}")
    cdef double flops[64]
    cdef double seconds[64]
    cdef double wall = 0
    cdef int status
    with nogil:
        status = gr_fma_peak(p, double_precision, n, iterations, flops, seconds, &wall)
    _raise_status(status)
    return wall, [flops[t] for t in range(n)], [seconds[t] for t in range(n)]


# ---- Text generation's per-token kernels (src/lm/generate.c) ----------------------

cdef extern from "gatedrnn.h" nogil:
    ctypedef struct gr_lm_sampling:
        double inv_temperature
        size_t top_k
        size_t allowed
        const uint8_t *banned
    int gr_lm_scores_f32(float *Y, const float *X, const float *W, const float *bias,
                         size_t R, size_t V, size_t K, int flags)
    int gr_lm_scores_f64(double *Y, const double *X, const double *W, const double *bias,
                         size_t R, size_t V, size_t K, int flags)
    int gr_lm_sample_f32(float *P, double *totals, int64_t *ids, const double *u,
                         const gr_lm_sampling *s, size_t R, size_t V, int flags)
    int gr_lm_sample_f64(double *P, double *totals, int64_t *ids, const double *u,
                         const gr_lm_sampling *s, size_t R, size_t V, int flags)
    int gr_lm_redraw_f32(const float *P, const double *totals, int64_t *ids, const double *u,
                         const int64_t *rows, size_t count, size_t R, size_t V)
    int gr_lm_redraw_f64(const double *P, const double *totals, int64_t *ids,
                         const double *u, const int64_t *rows, size_t count, size_t R,
                         size_t V)
    uint64_t gr_lm_fingerprint(const void *data, size_t nbytes)


cdef int _c_array(a, int typenum, int ndim, str name) except -1:
    """Guard the C code: a C-contiguous, aligned ndarray of typenum and ndim."""
    if (not isinstance(a, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum
            or cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim or not a.flags.c_contiguous
            or not a.flags.aligned):
        raise ValueError(f"internal: {name} must be a C-contiguous, aligned {ndim}-D array of "
                         f"type {typenum}; got {type(a).__name__} "
                         f"{getattr(a, 'dtype', '')} {getattr(a, 'shape', '')}")
    return 0


def lm_scores(Y, X, W, bias):
    """Y (R, V) = X (R, K) @ W.T + bias, for W (V, K) C-contiguous (the tied
    embedding, or an output weight stored transposed) and bias (V,) or None,
    all of one float dtype; W is read once. GIL released."""
    cdef int typenum = _typenum(W.dtype)
    _c_array(Y, typenum, 2, "Y")
    _c_array(X, typenum, 2, "X")
    _c_array(W, typenum, 2, "W")
    if bias is not None:
        _c_array(bias, typenum, 1, "bias")
    cdef size_t R = Y.shape[0], V = Y.shape[1], K = X.shape[1]
    if (<size_t>X.shape[0] != R or <size_t>W.shape[0] != V or <size_t>W.shape[1] != K
            or (bias is not None and <size_t>bias.shape[0] != V)):
        raise ValueError(f"internal: lm_scores of {X.shape} @ {W.shape}.T into {Y.shape}")
    cdef void *p_y = _data(Y)
    cdef const void *p_x = _data(X)
    cdef const void *p_w = _data(W)
    cdef const void *p_b = _data(bias)
    cdef int status, flags = _all_threads_flag
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            status = gr_lm_scores_f32(<float *>p_y, <const float *>p_x, <const float *>p_w,
                                      <const float *>p_b, R, V, K, flags)
        else:
            status = gr_lm_scores_f64(<double *>p_y, <const double *>p_x, <const double *>p_w,
                                      <const double *>p_b, R, V, K, flags)
    _raise_status(status)


def lm_sample(P, totals, ids, u, double inv_temperature, size_t top_k, size_t allowed,
              banned):
    """One id per row of the scores P (R, V), written to ids (R,) int64; P
    becomes the rows' unnormalized softmax weights and totals (R,) float64
    their sums (src/lm/generate.c, gr_lm_sample). u (R,) float64 uniforms in
    [0, 1), or None when greedy (inv_temperature 0); banned (V,) uint8 or
    None. ids[r] == -1 for a row whose scores are not finite. GIL released."""
    cdef int typenum = _typenum(P.dtype)
    _c_array(P, typenum, 2, "P")
    _c_array(totals, cnp.NPY_FLOAT64, 1, "totals")
    _c_array(ids, cnp.NPY_INT64, 1, "ids")
    cdef size_t R = P.shape[0], V = P.shape[1]
    if <size_t>totals.shape[0] != R or <size_t>ids.shape[0] != R:
        raise ValueError(f"internal: lm_sample of {P.shape} with {totals.shape} totals and "
                         f"{ids.shape} ids")
    if u is not None:
        _c_array(u, cnp.NPY_FLOAT64, 1, "u")
        if <size_t>u.shape[0] != R:
            raise ValueError(f"internal: lm_sample of {R} rows with {u.shape[0]} uniforms")
    if banned is not None:
        _c_array(banned, cnp.NPY_UINT8, 1, "banned")
        if <size_t>banned.shape[0] != V:
            raise ValueError(f"internal: lm_sample of {V} ids with {banned.shape[0]} bans")
    cdef gr_lm_sampling s
    s.inv_temperature = inv_temperature
    s.top_k = top_k
    s.allowed = allowed
    s.banned = <const uint8_t *>_data(banned)
    cdef void *p_p = _data(P)
    cdef double *p_t = <double *>_data(totals)
    cdef int64_t *p_i = <int64_t *>_data(ids)
    cdef const double *p_u = <const double *>_data(u)
    cdef int status, flags = _all_threads_flag
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            status = gr_lm_sample_f32(<float *>p_p, p_t, p_i, p_u, &s, R, V, flags)
        else:
            status = gr_lm_sample_f64(<double *>p_p, p_t, p_i, p_u, &s, R, V, flags)
    _raise_status(status)


def lm_redraw(P, totals, ids, u, rows):
    """Draw ids[rows[k]] again with uniforms u[k] from the weights and totals
    that lm_sample left in P and totals (the book's rule: a banned id is
    drawn again)."""
    cdef int typenum = _typenum(P.dtype)
    _c_array(P, typenum, 2, "P")
    _c_array(totals, cnp.NPY_FLOAT64, 1, "totals")
    _c_array(ids, cnp.NPY_INT64, 1, "ids")
    _c_array(u, cnp.NPY_FLOAT64, 1, "u")
    _c_array(rows, cnp.NPY_INT64, 1, "rows")
    cdef size_t R = P.shape[0], V = P.shape[1], count = rows.shape[0]
    if (<size_t>totals.shape[0] != R or <size_t>ids.shape[0] != R
            or <size_t>u.shape[0] != count):
        raise ValueError("internal: lm_redraw's arrays do not fit")
    cdef const void *p_p = _data(P)
    cdef const double *p_t = <const double *>_data(totals)
    cdef int64_t *p_i = <int64_t *>_data(ids)
    cdef const double *p_u = <const double *>_data(u)
    cdef const int64_t *p_r = <const int64_t *>_data(rows)
    cdef int status
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            status = gr_lm_redraw_f32(<const float *>p_p, p_t, p_i, p_u, p_r, count, R, V)
        else:
            status = gr_lm_redraw_f64(<const double *>p_p, p_t, p_i, p_u, p_r, count, R, V)
    _raise_status(status)


def lm_fingerprint(a):
    """A 64-bit hash (an int) of a C-contiguous array's bytes: whether weights
    changed since a table was derived from them. GIL released."""
    if not isinstance(a, cnp.ndarray) or not a.flags.c_contiguous:
        raise ValueError("internal: lm_fingerprint takes a C-contiguous ndarray")
    cdef const void *p = _data(a)
    cdef size_t nbytes = a.nbytes
    cdef uint64_t h
    with nogil:
        h = gr_lm_fingerprint(p, nbytes)
    return h
