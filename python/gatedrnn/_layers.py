"""The compiled recurrent layers, with the API of the book's common/time_layers.py.

Gate orders:
- LSTM, along 4H: f, g, i, o. PyTorch and Keras use i, f, g, o: permute the
  four blocks when weights cross that boundary.
- GRU, along 3H: z, r, h~, with h' = (1 - z) h + z h~. PyTorch and Keras
  write h' = z h + (1 - z) h~: their z is 1 - ours, which amounts to negating
  the z columns of Wx and Wh and the z biases; PyTorch orders its gates r, z, n.

Every layer: ``params`` are the arrays passed in (never copies), ``grads`` are
overwritten in place by each backward, the dtype is the weights' (float32 or
float64; inputs of another dtype raise TypeError). Use a layer from one
thread at a time (see _recurrent).
"""
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from ._checks import check_array
from ._recurrent import Recurrent, Step, TimeRecurrent
from ._typing import FloatArray


class TimeLSTM(TimeRecurrent):
    """T LSTM steps at once: forward(xs (N, T, D)) -> hs (N, T, H).

    Wx (D, 4H), Wh (H, 4H), b (4H,), gates f, g, i, o. A drop-in for the
    book's ``TimeLSTM``; with ``stateful=True`` the last ``h`` and ``c`` carry
    into the next forward. backward(dhs, dh_next=None, dc_next=None) -> dxs
    sets ``dh`` and ``dc``, the gradients at the initial state; dh_next and
    dc_next, (N, H), are the gradients arriving at the last h and c.
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False) -> None:
        super().__init__("lstm", Wx, Wh, b, stateful)

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None,
                 dc_next: FloatArray | None = None) -> FloatArray:
        """dxs (N, T, D) for dhs (N, T, H); sets dh and dc."""
        return self._backward_time(dhs, dh_next, dc_next)

    def set_state(self, h: FloatArray, c: FloatArray | None = None) -> None:
        """Start the next stateful forward from h (and c; zeros if None)."""
        self._set_state(h, c)


class TimeGRU(TimeRecurrent):
    """T GRU steps at once: forward(xs (N, T, D)) -> hs (N, T, H).

    Wx (D, 3H), Wh (H, 3H), gates z, r, h~ (the book's order), and
    h_t = (1 - z) h_{t-1} + z h~.

    - reset_after=False (the book's): b (3H,),
      h~ = tanh(x Wx_h + (r * h) Wh_h + b_h): two dependent products a step.
    - reset_after=True (cuDNN, PyTorch, Keras): b (2, 3H), row 0 the input
      bias and row 1 the recurrent bias, as in Keras;
      h~ = tanh(x Wx_h + b[0]_h + r * (h Wh_h + b[1]_h)), and z and r add
      both rows: one product a step.

    PyTorch and Keras write h' = z h + (1 - z) h~: their z is 1 - ours (negate
    the z columns of Wx and Wh and the z biases), and PyTorch orders its gates
    r, z, n. backward(dhs, dh_next=None) -> dxs sets ``dh``.
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 reset_after: bool = False) -> None:
        self.reset_after = bool(reset_after)
        super().__init__("gru_reset_after" if reset_after else "gru", Wx, Wh, b, stateful)

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None) -> FloatArray:
        """dxs (N, T, D) for dhs (N, T, H); sets dh."""
        return self._backward_time(dhs, dh_next)

    def set_state(self, h: FloatArray) -> None:
        """Start the next stateful forward from h."""
        self._set_state(h)


def _rnn_cell(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    return "rnn" if nonlinearity == "tanh" else "rnn_relu"


class TimeRNN(TimeRecurrent):
    """T plain RNN steps at once: h_t = tanh(x_t Wx + h_{t-1} Wh + b), or with
    nonlinearity="relu" (as PyTorch's nn.RNN offers) max(x_t Wx + h_{t-1} Wh + b, 0).

    Wx (D, H), Wh (H, H), b (H,). backward(dhs, dh_next=None) -> dxs sets ``dh``.
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 nonlinearity: str = "tanh") -> None:
        super().__init__(_rnn_cell(nonlinearity), Wx, Wh, b, stateful)
        self.nonlinearity = nonlinearity

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None) -> FloatArray:
        """dxs (N, T, D) for dhs (N, T, H); sets dh."""
        return self._backward_time(dhs, dh_next)

    def set_state(self, h: FloatArray) -> None:
        """Start the next stateful forward from h."""
        self._set_state(h)


class TimeBiLSTM(Recurrent):
    """Two LSTMs over xs (N, T, D), as the book's ``TimeBiLSTM``: the first
    forwards in time, the second backwards; forward returns (N, T, 2H), the
    first direction's hs then the second's, put back in time order.

    ``params`` are [Wx1, Wh1, b1, Wx2, Wh2, b2], each LSTM's as in TimeLSTM.
    The two directions run at once, in one call to the kernels (one per core
    on two threads). With ``stateful=True`` each direction carries its state
    into the next forward, as the book's. ``h`` and ``c`` are then pairs (the
    forward direction's, the backward direction's); ``dh`` and ``dc``, after a
    backward, are the gradients at each direction's initial state.
    """

    def __init__(self, Wx1: FloatArray, Wh1: FloatArray, b1: FloatArray, Wx2: FloatArray,
                 Wh2: FloatArray, b2: FloatArray, stateful: bool = False) -> None:
        super().__init__("lstm", Wx1, Wh1, b1, Wx2, Wh2, b2)
        self.stateful = stateful
        # Pairs: (the forward direction's, the backward direction's).
        self.h: list[FloatArray] | None = None
        self.c: Sequence[FloatArray | None] | None = None
        self.dh: list[FloatArray] | None = None
        self.dc: Sequence[FloatArray | None] | None = None

    def _state(self, name: str, N: int, H: int, dtype: np.dtype[Any]) -> list[FloatArray]:
        pair = getattr(self, name)
        if not self.stateful or pair is None:
            return [np.zeros((N, H), dtype), np.zeros((N, H), dtype)]
        return [check_array(s, f"the stored state {name}[{d}]", dtype, (N, H), "(N, H)",
                            f"to match xs, whose batch size is {N} (if the batch size "
                            f"changed, call reset_state() first)") for d, s in enumerate(pair)]

    def forward(self, xs: FloatArray, train: bool = True) -> FloatArray:
        """(N, T, 2H) for xs (N, T, D); train=False keeps no cache."""
        weights, D, H, dtype = self._weights()
        xs = self._checked_xs(xs, D, H, dtype)
        N, T = xs.shape[:2]
        h0, c0 = self._state("h", N, H, dtype), self._state("c", N, H, dtype)
        backwards = np.ascontiguousarray(xs[:, ::-1])

        (hs1, c1, _), (hs2, c2, _) = self._forward(weights, [xs, backwards], h0, c0, train,
                                                   D, H, dtype)

        self.h = [hs1[:, -1].copy() if T else h0[0], hs2[:, -1].copy() if T else h0[1]]
        self.c = [c1, c2]
        return np.concatenate((hs1, hs2[:, ::-1]), axis=2)

    def backward(self, dhs: FloatArray) -> FloatArray:
        """dxs (N, T, D) for dhs (N, T, 2H): the sum of both directions'."""
        weights, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N, T = cache.xs[0].shape[:2]
        dhs = check_array(dhs, "dhs", dtype, (N, T, 2 * H), "(N, T, 2H)",
                          "to match the last forward()")
        dhs_dirs = [np.ascontiguousarray(dhs[:, :, :H]), np.ascontiguousarray(dhs[:, ::-1, H:])]
        zeros = np.zeros((N, H), dtype)

        (dxs1, dh1, dc1), (dxs2, dh2, dc2) = self._backward(cache, dhs_dirs, [zeros, zeros],
                                                            [zeros, zeros], weights)
        self.dh, self.dc = [dh1, dh2], [dc1, dc2]
        dxs1 += dxs2[:, ::-1]
        return dxs1

    def set_state(self, h: Sequence[FloatArray],
                  c: Sequence[FloatArray] | None = None) -> None:
        """Start the next stateful forward from h = (h1, h2) and c = (c1, c2)
        (zeros if None), one (N, H) array per direction."""
        H, dtype = self.params[1].shape[0], self.dtype
        if not isinstance(h, (list, tuple)) or len(h) != 2:
            raise TypeError(f"h must be a pair (h1, h2), one state per direction; "
                            f"got {type(h).__name__}")
        h = [check_array(s, f"h[{d}]", dtype, (None, H), "(N, H)",
                         f"with H == Wh1.shape[0] == {H}") for d, s in enumerate(h)]
        if h[1].shape != h[0].shape:
            raise ValueError(f"h[1] must have the shape of h[0], {h[0].shape}; got {h[1].shape}")
        if c is None:
            c = [np.zeros_like(h[0]), np.zeros_like(h[1])]
        elif not isinstance(c, (list, tuple)) or len(c) != 2:
            raise TypeError(f"c must be a pair (c1, c2) or None; got {type(c).__name__}")
        else:
            c = [check_array(s, f"c[{d}]", dtype, h[0].shape, "(N, H)", "to match h")
                 for d, s in enumerate(c)]
        self.h, self.c = h, c

    def reset_state(self) -> None:
        """Start the next stateful forward from zeros."""
        self.h, self.c = None, None


class LSTM(Step):
    """One LSTM step, as the book's ``LSTM`` cell, on the same kernels.

    forward(x (N, D), h_prev (N, H), c_prev (N, H)) -> (h_next, c_next)
    backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> None:
        super().__init__("lstm", Wx, Wh, b)

    def forward(self, x: FloatArray, h_prev: FloatArray,
                c_prev: FloatArray) -> tuple[FloatArray, FloatArray]:
        h_next, c_next = self._step_forward(x, h_prev, c_prev)
        return h_next, cast(FloatArray, c_next)  # an LSTM step always has c

    def backward(self, dh_next: FloatArray,
                 dc_next: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        dx, dh_prev, dc_prev = self._step_backward(dh_next, dc_next)
        return dx, dh_prev, cast(FloatArray, dc_prev)  # an LSTM step always has dc


class GRU(Step):
    """One GRU step (see TimeGRU for the weights and the two variants).

    forward(x (N, D), h_prev (N, H)) -> h_next
    backward(dh_next) -> (dx, dh_prev)
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, reset_after: bool = False) -> None:
        self.reset_after = bool(reset_after)
        super().__init__("gru_reset_after" if reset_after else "gru", Wx, Wh, b)

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        return self._step_forward(x, h_prev)[0]

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self._step_backward(dh_next)[:2]


class RNN(Step):
    """One plain RNN step: h_next = tanh(x Wx + h_prev Wh + b), or with
    nonlinearity="relu" max(x Wx + h_prev Wh + b, 0).

    forward(x (N, D), h_prev (N, H)) -> h_next
    backward(dh_next) -> (dx, dh_prev)
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, nonlinearity: str = "tanh") -> None:
        super().__init__(_rnn_cell(nonlinearity), Wx, Wh, b)
        self.nonlinearity = nonlinearity

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        return self._step_forward(x, h_prev)[0]

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self._step_backward(dh_next)[:2]
