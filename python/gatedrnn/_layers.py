"""The compiled LSTM layers, with the API of the book's common/time_layers.py.

Gate order along the 4H axis of Wx, Wh and b is f, g, i, o. PyTorch and Keras
use i, f, g, o: permute the four blocks when weights cross that boundary.

Threads: the kernels release the GIL, so separate layers run in parallel from
separate threads. A layer holds state and the forward's cache: use each layer
from one thread at a time.
"""
import numpy as np

from . import _kernels
from ._checks import FLOAT_DTYPES, as_c_array, check_array, check_weights


class _Cache:
    """What backward needs from the forward that ran before it."""

    __slots__ = ("xs", "h0", "c0", "gates", "cs", "D", "H", "dtype")

    def __init__(self, xs, h0, c0, gates, cs, D, H, dtype):
        self.xs, self.h0, self.c0, self.gates, self.cs = xs, h0, c0, gates, cs
        self.D, self.H, self.dtype = D, H, dtype


class _LSTMBase:
    def __init__(self, Wx, Wh, b):
        D, H, dtype = check_weights(Wx, Wh, b)
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros((D, 4 * H), dtype), np.zeros((H, 4 * H), dtype),
                      np.zeros(4 * H, dtype)]
        self._cache = None
        self._no_cache_reason = "no forward() has run yet"
        # Buffers reused by calls of the same shape: the cache and the kernels' scratch.
        self._workspace = _kernels.Workspace()

    @property
    def dtype(self):
        return self.params[0].dtype

    def _weights(self):
        """The current params, checked and C-contiguous, with (D, H, dtype).

        params are read on every call, because optimizers update them in place
        or users may replace them.
        """
        Wx, Wh, b = self.params
        D, H, dtype = check_weights(Wx, Wh, b)
        for k, (p, g) in enumerate(zip(self.params, self.grads)):
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                got = g.shape if isinstance(g, np.ndarray) else type(g).__name__
                raise ValueError(f"grads[{k}] must have the shape of params[{k}], {p.shape}; "
                                 f"got {got} (replace params and grads together, "
                                 f"or build a new layer)")
        return as_c_array(Wx), as_c_array(Wh), as_c_array(b), D, H, dtype

    def _take_cache(self, D, H, dtype):
        cache = self._cache
        if cache is None:
            raise RuntimeError(f"backward() needs the cache of a forward() with train=True; "
                               f"{self._no_cache_reason}")
        if (cache.D, cache.H, cache.dtype) != (D, H, dtype):
            raise ValueError(f"params changed from D={cache.D}, H={cache.H}, {cache.dtype} to "
                             f"D={D}, H={H}, {dtype} between forward() and backward()")
        return cache

    def _keep_cache(self, cache, train):
        self._cache = cache if train else None
        self._no_cache_reason = ("the last forward() ran with train=False, which keeps no cache"
                                 if not train else "")

    def _backward(self, cache, dhs, dh_T, dc_T, Wx, Wh):
        """Run the backward kernel into self.grads; returns (dxs, dh0, dc0)."""
        # The kernel consumes the cache (gates become dA): whatever could fail
        # afterwards is checked first, so a failed backward changes nothing.
        for k, g in enumerate(self.grads):
            if g.dtype not in FLOAT_DTYPES:
                raise TypeError(f"grads[{k}] must have dtype float32 or float64; got {g.dtype}")
            if not g.flags.writeable:
                raise ValueError(f"grads[{k}] is read-only, but backward() writes grads in place")
        # Write straight into the grads when they are plain C arrays (the usual
        # case); otherwise through a temporary, assigned in place afterwards.
        # A grad that shares memory with an array the kernel reads (say xs was
        # made as a view of grads[0]) also goes through a temporary: the kernel
        # writes the grads while it still reads its inputs.
        inputs = (dhs, cache.xs, cache.h0, cache.c0, Wx, Wh)
        targets = [g if g.flags.c_contiguous and g.flags.aligned and g.flags.writeable
                   and g.dtype == cache.dtype
                   and not any(np.may_share_memory(g, a) for a in inputs)
                   else np.empty(g.shape, cache.dtype) for g in self.grads]
        dxs, dh0, dc0 = _kernels.lstm_backward(dhs, dh_T, dc_T, cache.gates, cache.cs,
                                               cache.xs, Wx, Wh, cache.h0, cache.c0, *targets,
                                               self._workspace)
        for g, t in zip(self.grads, targets):
            if g is not t:
                g[...] = t
        # The kernel turned the cached gates into dA.
        self._cache = None
        self._no_cache_reason = ("the last forward()'s cache was used by a backward() "
                                 "already; run forward() again")
        return dxs, dh0, dc0


class TimeLSTM(_LSTMBase):
    """T LSTM steps at once: forward(xs (N, T, D)) -> hs (N, T, H).

    A drop-in for the book's ``TimeLSTM``: ``params`` are the arrays passed in
    (never copies), ``grads`` are overwritten in place by each backward, and
    with ``stateful=True`` the last ``h`` and ``c`` carry into the next forward.
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__(Wx, Wh, b)
        self.stateful = stateful
        self.h, self.c = None, None
        self.dh, self.dc = None, None

    def _stored_state(self, name, value, N, H, dtype):
        if value is None:
            return np.zeros((N, H), dtype)
        return check_array(value, f"the stored state {name}", dtype, (N, H), "(N, H)",
                           f"to match xs, whose batch size is {N} (if the batch size changed, "
                           f"call reset_state() first)")

    def forward(self, xs, train=True):
        """hs (N, T, H) for xs (N, T, D). With train=False no cache is kept
        (inference), and backward() is not possible until the next forward."""
        Wx, Wh, b, D, H, dtype = self._weights()
        xs = check_array(xs, "xs", dtype, (None, None, D), "(N, T, D)",
                         f"with D == Wx.shape[0] == {D}", contiguous=False)
        N, T = xs.shape[:2]
        # Before any copy or allocation, since xs may be a broadcast view.
        _kernels.check_sizes(N, T, D, H, f"xs {xs.shape} with H == {H}")
        xs = as_c_array(xs)
        if self.stateful:
            h0 = self._stored_state("h", self.h, N, H, dtype)
            c0 = self._stored_state("c", self.c, N, H, dtype)
        else:
            h0, c0 = np.zeros((N, H), dtype), np.zeros((N, H), dtype)

        hs, c_T, gates, cs = _kernels.lstm_forward(xs, Wx, Wh, b, h0, c0, train,
                                                   self._workspace)

        self._keep_cache(_Cache(xs, h0, c0, gates, cs, D, H, dtype), train)
        self.h = hs[:, -1, :].copy() if T > 0 else h0
        self.c = c_T
        return hs

    def backward(self, dhs, dh_next=None, dc_next=None):
        """dxs (N, T, D) for dhs (N, T, H). Sets ``dh`` and ``dc``, the gradients
        at the initial state. dh_next and dc_next, (N, H), are the gradients
        arriving at the last h and c; zero by default, as in the book."""
        Wx, Wh, b, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N, T = cache.xs.shape[:2]
        why = "to match the last forward()"
        dhs = check_array(dhs, "dhs", dtype, (N, T, H), "(N, T, H)", why)
        dh_T = (np.zeros((N, H), dtype) if dh_next is None
                else check_array(dh_next, "dh_next", dtype, (N, H), "(N, H)", why))
        dc_T = (np.zeros((N, H), dtype) if dc_next is None
                else check_array(dc_next, "dc_next", dtype, (N, H), "(N, H)", why))

        dxs, self.dh, self.dc = self._backward(cache, dhs, dh_T, dc_T, Wx, Wh)
        return dxs

    def set_state(self, h, c=None):
        """Start the next stateful forward from h (and c; zeros if None)."""
        H, dtype = self.params[1].shape[0], self.dtype
        h = check_array(h, "h", dtype, (None, H), "(N, H)", f"with H == Wh.shape[0] == {H}")
        if c is not None:
            c = check_array(c, "c", dtype, h.shape, "(N, H)", "to match h")
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None


class LSTM(_LSTMBase):
    """One LSTM step, as the book's ``LSTM`` cell, on the same kernels.

    forward(x (N, D), h_prev (N, H), c_prev (N, H)) -> (h_next, c_next)
    backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)
    """

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b, D, H, dtype = self._weights()
        x = check_array(x, "x", dtype, (None, D), "(N, D)", f"with D == Wx.shape[0] == {D}",
                        contiguous=False)
        N = x.shape[0]
        _kernels.check_sizes(N, 1, D, H, f"x {x.shape} with H == {H}")
        x = as_c_array(x)
        why = f"with N == x.shape[0] == {N} and H == Wh.shape[0] == {H}"
        h_prev = check_array(h_prev, "h_prev", dtype, (N, H), "(N, H)", why)
        c_prev = check_array(c_prev, "c_prev", dtype, (N, H), "(N, H)", why)

        xs = x.reshape(N, 1, D)
        hs, c_next, gates, cs = _kernels.lstm_forward(xs, Wx, Wh, b, h_prev, c_prev, True,
                                                      self._workspace)

        self._keep_cache(_Cache(xs, h_prev, c_prev, gates, cs, D, H, dtype), True)
        return hs.reshape(N, H), c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, b, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N = cache.xs.shape[0]
        why = "to match the last forward()"
        dh_next = check_array(dh_next, "dh_next", dtype, (N, H), "(N, H)", why)
        dc_next = check_array(dc_next, "dc_next", dtype, (N, H), "(N, H)", why)

        dhs = dh_next.reshape(N, 1, H)
        dxs, dh_prev, dc_prev = self._backward(cache, dhs, np.zeros((N, H), dtype),
                                               dc_next, Wx, Wh)
        return dxs.reshape(N, D), dh_prev, dc_prev
