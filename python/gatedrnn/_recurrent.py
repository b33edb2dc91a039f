"""What every compiled recurrent layer shares: its weights and gradients, the
forward's cache, and the calls into the kernels (_kernels.forward/backward).

A layer has one direction (LSTM, GRU, RNN) or two (the bidirectional LSTM);
``params`` holds [Wx, Wh, b] for each, and ``grads`` the same shapes. The
kernels write the gradients in place, so that optimizers holding ``grads``
see them, and read ``params`` on every call, since optimizers update them in
place or users may replace them.

Threads: the kernels release the GIL, so separate layers run in parallel from
separate threads. A layer holds state and the forward's cache: use each layer
from one thread at a time.
"""
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _kernels
from ._checks import FLOAT_DTYPES, as_c_array, check_array, check_lengths, check_weights
from ._typing import FloatArray

# What a layer's weights come to: (D, H, dtype).
_Sizes = tuple[int, int, np.dtype[Any]]
# Sequence lengths as the kernels take them (int64, (N,)), or None: every one T.
_Lengths = np.ndarray[Any, np.dtype[np.int64]] | None
# What the kernels' forward returns per direction: (hs, c_T or None, cache or None, h_T).
_ForwardResult = tuple[FloatArray, FloatArray | None, FloatArray | None, FloatArray]
# What their backward returns per direction: (dxs, dh0, dc0 or None).
_BackwardResult = tuple[FloatArray, FloatArray, FloatArray | None]


class _Cache:
    """What backward needs from the forward that ran before it, per direction."""

    __slots__ = ("xs", "h0", "c0", "caches", "D", "H", "dtype", "lengths", "reversed")

    def __init__(self, xs: Sequence[FloatArray], h0: Sequence[FloatArray],
                 c0: Sequence[FloatArray | None], caches: list[FloatArray | None], D: int, H: int,
                 dtype: np.dtype[Any], lengths: _Lengths, reversed: Sequence[bool] | None) -> None:
        self.xs, self.h0, self.c0, self.caches = xs, h0, c0, caches
        self.D, self.H, self.dtype = D, H, dtype
        self.lengths, self.reversed = lengths, reversed


class Recurrent:
    """The base of the compiled layers: `cell` names the kernels' cell
    ("lstm", "gru", "gru_reset_after", "rnn", "rnn_relu"); weights are [Wx, Wh, b] per
    direction."""

    def __init__(self, cell: str, *weights: FloatArray) -> None:
        self._cell = _kernels.CELLS[cell]
        self._gates = _kernels.cell_gates(self._cell)
        self._bias_rows = _kernels.cell_bias_rows(self._cell)
        self._has_c = cell == "lstm"
        self._directions = len(weights) // 3
        # The params and grads last checked, as objects and layouts, with
        # (D, H, dtype) and whether every param is already C-contiguous.
        self._last_weights: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...],
                                  _Sizes, bool] | None = None
        self._check_weights(weights)
        self.params = list(weights)
        self.grads = [np.zeros(p.shape, p.dtype) for p in weights]
        self._cache: _Cache | None = None
        self._no_cache_reason = "no forward() has run yet"
        # Buffers reused by calls of the same shape: the cache and the kernels' scratch.
        self._workspace = _kernels.Workspace()

    @property
    def dtype(self) -> np.dtype[Any]:
        """The layer's dtype, float32 or float64: that of its weights.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeRNN
        >>> TimeRNN(*[np.zeros(s, np.float32) for s in [(3, 2), (2, 2), (2,)]]).dtype
        dtype('float32')
        """
        return self.params[0].dtype

    def _check_weights(self, weights: Sequence[FloatArray]) -> _Sizes:
        """(D, H, dtype), the same for every direction."""
        found = []
        for d in range(self._directions):
            suffix = str(d + 1) if self._directions > 1 else ""
            found.append(check_weights(weights[3 * d], weights[3 * d + 1], weights[3 * d + 2],
                                       self._gates, self._bias_rows, suffix))
        if any(f != found[0] for f in found[1:]):
            (D1, H1, t1), (D2, H2, t2) = found
            raise ValueError(f"the two directions' weights must match: D={D1}, H={H1}, {t1} "
                             f"against D={D2}, H={H2}, {t2}")
        return found[0]

    def _weights(self) -> tuple[list[FloatArray], int, int, np.dtype[Any]]:
        """The current params, checked and C-contiguous, with (D, H, dtype)."""
        # Small calls are mostly these checks: the same objects in the same
        # layouts as last time need none of them (the bindings check memory anyway).
        last = self._last_weights
        if last is None or not self._same_weights(last):
            sizes = self._check_weights(self.params)
            for k, (p, g) in enumerate(zip(self.params, self.grads)):
                if not isinstance(g, np.ndarray) or g.shape != p.shape:
                    got = g.shape if isinstance(g, np.ndarray) else type(g).__name__
                    raise ValueError(f"grads[{k}] must have the shape of params[{k}], "
                                     f"{p.shape}; got {got} (replace params and grads "
                                     f"together, or build a new layer)")
            contiguous = all(as_c_array(p) is p for p in self.params)
            last = self._last_weights = (
                tuple(self.params), tuple(self.grads),
                tuple((p.shape, p.strides, p.dtype) for p in self.params), sizes, contiguous)
        D, H, dtype = last[3]
        weights = list(self.params) if last[4] else [as_c_array(p) for p in self.params]
        return weights, D, H, dtype

    def _same_weights(self, last: tuple[Any, ...]) -> bool:
        params, grads = self.params, self.grads
        last_params, last_grads, layouts = last[:3]
        if len(params) != len(last_params) or len(grads) != len(last_grads):
            return False
        for p, q, (shape, strides, dtype) in zip(params, last_params, layouts):
            if p is not q or p.shape != shape or p.strides != strides or p.dtype is not dtype:
                return False
        for g, h in zip(grads, last_grads):
            if g is not h:
                return False
        return True

    def _checked_xs(self, xs: FloatArray, D: int, H: int, dtype: np.dtype[Any], name: str = "xs",
                    letters: str = "(N, T, D)") -> FloatArray:
        ndim = letters.count(",") + 1
        if type(xs) is np.ndarray and xs.dtype is dtype and xs.ndim == ndim \
                and xs.shape[-1] == D:
            flags = xs.flags
            N, T = (xs.shape[0], xs.shape[1]) if ndim == 3 else (xs.shape[0], 1)
            if flags.c_contiguous and flags.aligned and _kernels.sizes_ok(N, T, D, H):
                return xs  # the usual case, checked at once; else the messages below
        xs = check_array(xs, name, dtype, (None,) * (len(letters.split(",")) - 1) + (D,),
                         letters, f"with D == Wx.shape[0] == {D}", contiguous=False)
        N, T = (xs.shape[0], xs.shape[1]) if xs.ndim == 3 else (xs.shape[0], 1)
        # Before any copy or allocation, since xs may be a broadcast view.
        _kernels.check_sizes(N, T, D, H, f"{name} {xs.shape} with H == {H}")
        return as_c_array(xs)

    @staticmethod
    def _lengths(lengths: object, xs: FloatArray) -> _Lengths:
        """The checked lengths for xs (N, T, D); None when every sequence runs T steps."""
        N, T = xs.shape[:2]
        checked = check_lengths(lengths, N, T)
        return None if checked is None or bool(np.all(checked == T)) else checked

    def _forward(self, weights: list[FloatArray], xs_dirs: list[FloatArray],
                 h0s: Sequence[FloatArray], c0s: Sequence[FloatArray | None], train: bool, D: int,
                 H: int, dtype: np.dtype[Any], lengths: _Lengths = None,
                 reversed: Sequence[bool] | None = None) -> list[_ForwardResult]:
        """Run the kernels; keep the cache if train. Returns [(hs, c_T, cache, h_T)] per
        direction."""
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"train must be True or False; got {train!r}")
        if len(xs_dirs) == 1:
            dirs = [(xs_dirs[0], *weights, h0s[0], c0s[0])]
        else:
            dirs = [(xs, *weights[3 * d:3 * d + 3], h0s[d], c0s[d])
                    for d, xs in enumerate(xs_dirs)]
        results = _kernels.forward(self._cell, dirs, train, self._workspace, lengths=lengths,
                                   reversed=reversed)
        if train:
            self._cache = _Cache(xs_dirs, h0s, c0s, [r[2] for r in results], D, H, dtype,
                                 lengths, reversed)
            self._no_cache_reason = ""
        else:
            self._cache = None
            self._no_cache_reason = "the last forward() ran with train=False, which keeps no cache"
        return results

    def _take_cache(self, D: int, H: int, dtype: np.dtype[Any]) -> _Cache:
        cache = self._cache
        if cache is None:
            raise RuntimeError(f"backward() needs the cache of a forward() with train=True; "
                               f"{self._no_cache_reason}")
        if (cache.D, cache.H, cache.dtype) != (D, H, dtype):
            raise ValueError(f"params changed from D={cache.D}, H={cache.H}, {cache.dtype} to "
                             f"D={D}, H={H}, {dtype} between forward() and backward()")
        return cache

    def _backward(self, cache: _Cache, dhs_dirs: list[FloatArray], dh_Ts: list[FloatArray],
                  dc_Ts: list[FloatArray | None],
                  weights: list[FloatArray]) -> list[_BackwardResult]:
        """Run the backward kernels into self.grads; returns [(dxs, dh0, dc0)] per direction."""
        # The kernels consume the cache (its gates become dA): whatever could
        # fail afterwards is checked first, so a failed backward changes nothing.
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
        plain = [g.flags.c_contiguous and g.flags.aligned and g.dtype == cache.dtype
                 for g in self.grads]
        read = [*dhs_dirs, *cache.xs, *cache.h0, *cache.c0]
        for d in range(self._directions):
            read += weights[3 * d:3 * d + 2]  # the kernels read Wx and Wh, not b
        shared = _kernels.overlapping([g for g, ok in zip(self.grads, plain) if ok], read)
        shared.reverse()
        targets = [g if ok and not shared.pop() else np.empty(g.shape, cache.dtype)
                   for g, ok in zip(self.grads, plain)]
        dirs = [(dhs_dirs[d], dh_Ts[d], dc_Ts[d], cache.caches[d], cache.xs[d],
                 weights[3 * d], weights[3 * d + 1], cache.h0[d], cache.c0[d],
                 *targets[3 * d:3 * d + 3]) for d in range(self._directions)]
        results = _kernels.backward(self._cell, dirs, self._workspace, lengths=cache.lengths,
                                    reversed=cache.reversed)
        for g, t in zip(self.grads, targets):
            if g is not t:
                g[...] = t
        # The kernels turned the cached gates into dA.
        self._cache = None
        self._no_cache_reason = ("the last forward()'s cache was used by a backward() "
                                 "already; run forward() again")
        return results


class TimeRecurrent(Recurrent):
    """T steps at once, with the book's state handling: with stateful=True the
    last state carries into the next forward."""

    def __init__(self, cell: str, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 stateful: bool = False) -> None:
        super().__init__(cell, Wx, Wh, b)
        self.stateful = stateful
        self.h: FloatArray | None = None
        self.dh: FloatArray | None = None
        if self._has_c:
            self.c: FloatArray | None = None
            self.dc: FloatArray | None = None

    def _stored_state(self, name: str, value: FloatArray | None, N: int, H: int,
                      dtype: np.dtype[Any]) -> FloatArray:
        if value is None:
            return np.zeros((N, H), dtype)
        return check_array(value, f"the stored state {name}", dtype, (N, H), "(N, H)",
                           f"to match xs, whose batch size is {N} (if the batch size changed, "
                           f"call reset_state() first)")

    def forward(self, xs: FloatArray, train: bool = True, *,
                lengths: ArrayLike | None = None) -> FloatArray:
        """Run the T steps over ``xs``.

        With ``stateful=True`` the stored ``h`` (and ``c``) start the
        sequence, and the last ones are stored; otherwise it starts from
        zeros. A forward keeps references to `xs` for the backward: do not
        modify it in place in between.

        Parameters
        ----------
        xs : ndarray, shape (N, T, D), the layer's dtype
            The input sequences, any memory layout.
        train : bool, default True
            Keep the cache for `backward`; False (inference) keeps none, and
            `backward` is not possible until the next training forward.
        lengths : array of int, shape (N,), optional
            Sequences of different lengths, padded to T: sequence n runs its
            first ``lengths[n]`` steps (0 to T) only, as PyTorch's packed
            sequences do. ``hs[n, t]`` is zero past them, the last state
            (``h``, ``c``, what a stateful layer carries) is the state after
            them, and `backward` gives their exact gradients (the ``dhs`` at
            padded steps are ignored; ``dxs`` is zero there). The work is that
            of the real steps. None: every sequence runs T steps.

        Returns
        -------
        hs : ndarray, shape (N, T, H)
            The hidden state at every step (a new array).

        Raises
        ------
        TypeError
            If `xs` is not an ndarray of the layer's dtype, `train` is not
            a bool, or `lengths` is not an integer array.
        ValueError
            If `xs` has the wrong shape, `lengths` is not of shape (N,) or has
            a value outside [0, T], or a stored state's batch size differs
            from N (call `reset_state` first); nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeLSTM
        >>> layer = TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> hs = layer.forward(np.ones((1, 4, 3), np.float64), train=False)
        >>> hs.shape, layer.h.shape
        ((1, 4, 2), (1, 2))
        >>> layer.forward(np.ones((1, 4, 3), np.float32))
        Traceback (most recent call last):
            ...
        TypeError: xs must have dtype float64, the dtype of the layer's weights; got float32 (convert explicitly, e.g. xs.astype(np.float64))
        """
        weights, D, H, dtype = self._weights()
        xs = self._checked_xs(xs, D, H, dtype)
        N, T = xs.shape[:2]
        checked = self._lengths(lengths, xs)
        if self.stateful:
            h0 = self._stored_state("h", self.h, N, H, dtype)
            c0 = self._stored_state("c", self.c, N, H, dtype) if self._has_c else None
        else:  # the kernels only read h0 and c0: one array of zeros serves both
            h0 = np.zeros((N, H), dtype)
            c0 = h0 if self._has_c else None

        [(hs, c_T, _, h_T)] = self._forward(weights, [xs], [h0], [c0], train, D, H, dtype,
                                            checked)

        self.h = h_T
        if self._has_c:
            self.c = c_T
        return hs

    def _backward_time(self, dhs: FloatArray, dh_next: FloatArray | None,
                       dc_next: FloatArray | None = None) -> FloatArray:
        weights, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N, T = cache.xs[0].shape[:2]
        why = "to match the last forward()"
        dhs = check_array(dhs, "dhs", dtype, (N, T, H), "(N, T, H)", why)
        dh_T = (np.zeros((N, H), dtype) if dh_next is None
                else check_array(dh_next, "dh_next", dtype, (N, H), "(N, H)", why))
        dc_T = None
        if self._has_c:
            dc_T = (np.zeros((N, H), dtype) if dc_next is None
                    else check_array(dc_next, "dc_next", dtype, (N, H), "(N, H)", why))

        [(dxs, dh0, dc0)] = self._backward(cache, [dhs], [dh_T], [dc_T], weights)
        self.dh = dh0
        if self._has_c:
            self.dc = dc0
        return dxs

    def _set_state(self, h: FloatArray, c: FloatArray | None = None) -> None:
        H, dtype = self.params[1].shape[0], self.dtype
        h = check_array(h, "h", dtype, (None, H), "(N, H)", f"with H == Wh.shape[0] == {H}")
        if c is not None:
            c = check_array(c, "c", dtype, h.shape, "(N, H)", "to match h")
        self.h = h
        if self._has_c:
            self.c = c

    def reset_state(self) -> None:
        """Start the next stateful forward from zeros (forget ``h`` and ``c``).

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeRNN
        >>> layer = TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
        >>> _ = layer.forward(np.ones((1, 4, 3)))
        >>> layer.reset_state()
        >>> layer.h is None
        True
        """
        self.h = None
        if self._has_c:
            self.c = None


class Step(Recurrent):
    """One step of a cell, as the book's single-step layers, on the same kernels."""

    def _step_forward(self, x: FloatArray, h_prev: FloatArray,
                      c_prev: FloatArray | None = None) -> tuple[FloatArray, FloatArray | None]:
        weights, D, H, dtype = self._weights()
        x = self._checked_xs(x, D, H, dtype, "x", "(N, D)")
        N = x.shape[0]
        why = f"with N == x.shape[0] == {N} and H == Wh.shape[0] == {H}"
        h_prev = check_array(h_prev, "h_prev", dtype, (N, H), "(N, H)", why)
        if self._has_c:
            c_prev = check_array(c_prev, "c_prev", dtype, (N, H), "(N, H)", why)
        [(hs, c_next, _, _)] = self._forward(weights, [x.reshape(N, 1, D)], [h_prev], [c_prev],
                                             True, D, H, dtype)
        return hs.reshape(N, H), c_next

    def _step_backward(self, dh_next: FloatArray,
                       dc_next: FloatArray | None = None) -> _BackwardResult:
        weights, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N = cache.xs[0].shape[0]
        why = "to match the last forward()"
        dh_next = check_array(dh_next, "dh_next", dtype, (N, H), "(N, H)", why)
        if self._has_c:
            dc_next = check_array(dc_next, "dc_next", dtype, (N, H), "(N, H)", why)
        [(dxs, dh_prev, dc_prev)] = self._backward(cache, [dh_next.reshape(N, 1, H)],
                                                   [np.zeros((N, H), dtype)], [dc_next],
                                                   weights)
        return dxs.reshape(N, D), dh_prev, dc_prev
