"""The readable definition of gatedrnn's layers, in plain NumPy.

This module is what the compiled kernels are tested against, and it is tested
against finite differences itself. It follows the book's
``common/time_layers.py`` (Deep Learning from Scratch 2, chapter 6) with a few
changes: arrays keep the dtype of their inputs (the book hard-codes float32),
the sigmoid cannot overflow, the GRU has a bias (and a second variant), and
every Time layer's backward takes the gradient arriving at its last state.

Gate orders:

- LSTM, along 4H: f, g, i, o (PyTorch and Keras use i, f, g, o).
- GRU, along 3H: z, r, h~ (the book's), with h' = (1 - z) h + z h~. PyTorch
  and Keras write h' = z h + (1 - z) h~ (their z is 1 - ours) and PyTorch
  orders its gates r, z, n.

The classes have the compiled layers' constructors, ``params`` and ``grads``
(see `gatedrnn.TimeLSTM` and the others for the shapes), without their
checks: no ``train`` argument, and a backward may be repeated.

Sequences of different lengths (``lengths``, as PyTorch's packed sequences):
every step runs on every row, and a row whose sequence has ended keeps its
state and outputs zero, ``h_t = m h' + (1 - m) h_{t-1}``, ``hs_t = m h'``
with ``m`` 1 while the sequence runs. The backward is that function's
gradient: an ended row's step gets zero gradient and passes the state's on.
Its padded inputs are read as zeros, so that whatever they hold stays out.
"""
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._typing import FloatArray

GATE_ORDER = ("f", "g", "i", "o")
GRU_GATE_ORDER = ("z", "r", "h~")


def sigmoid(x: FloatArray) -> FloatArray:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow.

    Parameters
    ----------
    x : ndarray
        Any shape, float32 or float64.

    Returns
    -------
    ndarray
        The shape and dtype of `x`.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.spec import sigmoid
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    # exp only ever sees a non-positive argument, so nothing overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


Mask = np.ndarray[Any, np.dtype[np.bool_]]


def running(lengths: Sequence[int] | np.ndarray[Any, Any], T: int) -> Mask:
    """Which sequences run each step: ``m[t, n, 0]`` is ``t < lengths[n]``,
    shaped to mask rows of (N, H) arrays.

    Examples
    --------
    >>> from gatedrnn.spec import running
    >>> running([2, 0, 1], 2)[:, :, 0]
    array([[ True, False,  True],
           [ True, False, False]])
    """
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :])[:, :, None]


def where_running(m: Mask | None, t: int, a: FloatArray, b: FloatArray | float) -> FloatArray:
    """`a` for the sequences that run step t, `b` for those that have ended
    (`a` when every sequence runs every step: m is None)."""
    return a if m is None else np.where(m[t], a, b)


def reverse_each(xs: FloatArray, lengths: Sequence[int] | np.ndarray[Any, Any]) -> FloatArray:
    """Each sequence's first ``lengths[n]`` steps in reverse order, zeros
    after them: what the backward direction of a bidirectional layer reads
    (and, applied again, its outputs put back in time order).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.spec import reverse_each
    >>> reverse_each(np.arange(6.0).reshape(2, 3, 1), [3, 2])[:, :, 0]
    array([[2., 1., 0.],
           [4., 3., 0.]])
    """
    out = np.zeros_like(xs)
    for n, L in enumerate(lengths):
        out[n, :L] = xs[n, :L][::-1]
    return out


def clip_grads(grads: Sequence[FloatArray], max_norm: float) -> float:
    """Scale ``grads`` in place so that their joint L2 norm is at most max_norm.

    The book's rule, in plain NumPy (see `gatedrnn.clip_grads` for the
    checked version).

    Parameters
    ----------
    grads : sequence of ndarray
        The gradients, scaled in place by ``max_norm / (total_norm + 1e-6)``
        when that is below 1.
    max_norm : float
        The largest joint L2 norm allowed.

    Returns
    -------
    float
        The total norm before clipping, as the book computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> grads = [np.full(4, 3.0), np.full(4, 4.0)]
    >>> float(spec.clip_grads(grads, 1.0))
    10.0
    >>> grads[0].round(4)
    array([0.3, 0.3, 0.3, 0.3])
    """
    total_norm: np.float64 = np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate
    return total_norm


class LSTM:
    """One LSTM step, as the book's ``LSTM``.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, 4H), (H, 4H), (4H,), gates f, g, i, o.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> step = spec.LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
    >>> h, c = step.forward(np.zeros((1, 3)), np.zeros((1, 2)), np.ones((1, 2)))
    >>> c
    array([[0.5, 0.5]])
    >>> [g.shape for g in step.backward(np.ones((1, 2)), np.zeros((1, 2)))]
    [(1, 3), (1, 2), (1, 2)]
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache: Any = None  # forward's arrays, for backward

    def forward(self, x: FloatArray, h_prev: FloatArray,
                c_prev: FloatArray) -> tuple[FloatArray, FloatArray]:
        """One LSTM step; keeps what `backward` needs.

        Parameters
        ----------
        x : ndarray, shape (N, D)
        h_prev, c_prev : ndarray, shape (N, H)

        Returns
        -------
        h_next, c_next : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> h, c = step.forward(np.zeros((1, 3)), np.zeros((1, 2)), np.ones((1, 2)))
        >>> c     # f = i = 0.5, g = 0
        array([[0.5, 0.5]])
        """
        Wx, Wh, b = self.params
        N, H = h_prev.shape

        A = x @ Wx + h_prev @ Wh + b
        f = sigmoid(A[:, :H])
        g = np.tanh(A[:, H:2 * H])
        i = sigmoid(A[:, 2 * H:3 * H])
        o = sigmoid(A[:, 3 * H:])

        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)

        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next: FloatArray,
                 dc_next: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Backpropagate the step; write ``grads`` in place.

        Parameters
        ----------
        dh_next, dc_next : ndarray, shape (N, H)

        Returns
        -------
        dx : ndarray, shape (N, D)
        dh_prev, dc_prev : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> _ = step.forward(np.zeros((1, 3)), np.zeros((1, 2)), np.ones((1, 2)))
        >>> dx, dh_prev, dc_prev = step.backward(np.zeros((1, 2)), np.ones((1, 2)))
        >>> dc_prev     # times f
        array([[0.5, 0.5]])
        """
        Wx, Wh, b = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache

        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next ** 2)
        dc_prev = ds * f

        df = ds * c_prev * f * (1 - f)
        dg = ds * i * (1 - g ** 2)
        di = ds * g * i * (1 - i)
        do = dh_next * tanh_c_next * o * (1 - o)
        dA = np.hstack((df, dg, di, do))

        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)

        dx = dA @ Wx.T
        dh_prev = dA @ Wh.T
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """T LSTM steps over xs (N, T, D), returning hs (N, T, H).

    With ``stateful=True`` the last h and c carry into the next forward.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, 4H), (H, 4H), (4H,), gates f, g, i, o.
    stateful : bool, default False
        Carry h and c into the next forward.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> layer = spec.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
    >>> hs = layer.forward(np.ones((1, 4, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape
    ((1, 4, 2), (1, 4, 3))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 stateful: bool = False) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers: list[LSTM] = []
        self.h: FloatArray | None = None
        self.c: FloatArray | None = None
        self.dh: FloatArray | None = None
        self.dc: FloatArray | None = None
        self.stateful = stateful
        self.running: Mask | None = None

    def forward(self, xs: FloatArray, lengths: Sequence[int] | None = None) -> FloatArray:
        """Run the T steps; with ``stateful`` start from the stored h and c.

        Parameters
        ----------
        xs : ndarray, shape (N, T, D)
        lengths : sequence of int, shape (N,), optional
            Sequence n runs its first ``lengths[n]`` steps (the module's
            docstring); None: all T.

        Returns
        -------
        hs : ndarray, shape (N, T, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> layer.forward(np.ones((4, 5, 3))).shape, layer.c.shape
        ((4, 5, 2), (4, 2))
        """
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        H = Wh.shape[0]

        self.layers = []
        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.running = m = None if lengths is None else running(lengths, T)
        if m is not None:  # padded steps read zeros
            xs = np.where(m.transpose(1, 0, 2), xs, 0)

        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype=xs.dtype)

        for t in range(T):
            layer = LSTM(*self.params)
            h, c = layer.forward(xs[:, t, :], self.h, self.c)
            hs[:, t, :] = where_running(m, t, h, 0)
            self.h, self.c = where_running(m, t, h, self.h), where_running(m, t, c, self.c)
            self.layers.append(layer)

        return hs

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None,
                 dc_next: FloatArray | None = None) -> FloatArray:
        """Backpropagate through the last forward; set ``grads``, ``dh`` and ``dc``.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, H)
        dh_next, dc_next : ndarray, shape (N, H), optional
            The gradient at the last h and c (zero by default).

        Returns
        -------
        dxs : ndarray, shape (N, T, D)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> hs = layer.forward(np.ones((4, 5, 3)))
        >>> layer.backward(np.ones_like(hs)).shape, layer.dh.shape
        ((4, 5, 3), (4, 2))
        """
        Wx, Wh, b = self.params
        N, T, H = dhs.shape
        D = Wx.shape[0]

        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        dh = np.zeros((N, H), dtype=dhs.dtype) if dh_next is None else dh_next
        dc = np.zeros((N, H), dtype=dhs.dtype) if dc_next is None else dc_next

        grads: list[Any] = [0, 0, 0]
        m = self.running
        for t in reversed(range(T)):
            layer = self.layers[t]
            # An ended sequence's step gets no gradient and passes dh, dc on.
            dx, dh_prev, dc_prev = layer.backward(where_running(m, t, dhs[:, t, :] + dh, 0),
                                                  where_running(m, t, dc, 0))
            dh, dc = where_running(m, t, dh_prev, dh), where_running(m, t, dc_prev, dc)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad

        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh, self.dc = dh, dc
        return dxs

    def set_state(self, h: FloatArray, c: FloatArray | None = None) -> None:
        """Start the next stateful forward from h (and c; zeros if None).

        Parameters
        ----------
        h : ndarray, shape (N, H)
        c : ndarray, shape (N, H), optional

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> layer.set_state(np.ones((4, 2)))
        >>> layer.forward(np.ones((4, 1, 3))).shape
        (4, 1, 2)
        """
        self.h, self.c = h, c

    def reset_state(self) -> None:
        """Start the next stateful forward from zeros.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> _ = layer.forward(np.ones((4, 1, 3)))
        >>> layer.reset_state()
        >>> layer.h is None and layer.c is None
        True
        """
        self.h, self.c = None, None


class RNN:
    """One plain RNN step: ``h_next = tanh(x @ Wx + h_prev @ Wh + b)``.

    With ``nonlinearity="relu"``, ``max(x @ Wx + h_prev @ Wh + b, 0)``.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, H), (H, H), (H,).
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> step = spec.RNN(np.eye(2), np.zeros((2, 2)), np.zeros(2), nonlinearity="relu")
    >>> step.forward(np.array([[1.0, -1.0]]), np.zeros((1, 2)))
    array([[1., 0.]])
    >>> step.backward(np.ones((1, 2)))[0]
    array([[1., 0.]])
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 nonlinearity: str = "tanh") -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache: Any = None  # forward's arrays, for backward
        self.nonlinearity = nonlinearity

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        """One step; keeps what `backward` needs.

        Parameters
        ----------
        x : ndarray, shape (N, D)
        h_prev : ndarray, shape (N, H)

        Returns
        -------
        h_next : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.RNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2))
        >>> step.forward(np.zeros((1, 3)), np.zeros((1, 2)))
        array([[0., 0.]])
        """
        Wx, Wh, b = self.params
        a = x @ Wx + h_prev @ Wh + b
        h_next = np.maximum(a, 0) if self.nonlinearity == "relu" else np.tanh(a)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Backpropagate the step; write ``grads`` in place.

        Parameters
        ----------
        dh_next : ndarray, shape (N, H)

        Returns
        -------
        dx : ndarray, shape (N, D)
        dh_prev : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.RNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2))
        >>> _ = step.forward(np.zeros((1, 3)), np.zeros((1, 2)))
        >>> step.backward(np.ones((1, 2)))[0]     # tanh'(0) = 1
        array([[2., 2., 2.]])
        """
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        if self.nonlinearity == "relu":
            dA = dh_next * (h_next > 0)
        else:
            dA = dh_next * (1 - h_next ** 2)
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)

        dx = dA @ Wx.T
        dh_prev = dA @ Wh.T
        return dx, dh_prev


class GRU:
    """One GRU step, gates z, r, h~ along 3H. Wx (D, 3H), Wh (H, 3H).

    reset_after=False (the book's): b (3H,) and::

        z = sigmoid(x Wx_z + h Wh_z + b_z),  r = sigmoid(x Wx_r + h Wh_r + b_r)
        h~ = tanh(x Wx_h + (r * h) Wh_h + b_h)

    reset_after=True (cuDNN, PyTorch, Keras): b (2, 3H), input and recurrent
    biases, and the reset gate scales the recurrent product instead::

        z, r = sigmoid(x Wx + b[0] + h Wh + b[1]) over their columns
        h~ = tanh(x Wx_h + b[0]_h + r * (h Wh_h + b[1]_h))

    Both: ``h_next = (1 - z) * h + z * h~``.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, 3H), (H, 3H), and (3H,) or, with reset_after, (2, 3H).
    reset_after : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> step = spec.GRU(np.zeros((3, 6)), np.zeros((2, 6)), np.zeros(6))
    >>> step.forward(np.ones((1, 3)), np.ones((1, 2)))  # z = 0.5, h~ = 0
    array([[0.5, 0.5]])
    >>> [g.shape for g in step.backward(np.ones((1, 2)))]
    [(1, 3), (1, 2)]
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 reset_after: bool = False) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.reset_after = reset_after
        self.cache: Any = None  # forward's arrays, for backward

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        """One step; keeps what `backward` needs.

        Parameters
        ----------
        x : ndarray, shape (N, D)
        h_prev : ndarray, shape (N, H)

        Returns
        -------
        h_next : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.GRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6))
        >>> step.forward(np.zeros((1, 3)), np.zeros((1, 2)))
        array([[0., 0.]])
        """
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        if self.reset_after:
            ax = x @ Wx + b[0]
            ah = h_prev @ Wh + b[1]
            z = sigmoid(ax[:, :H] + ah[:, :H])
            r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
            h_hat = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
            self.cache = (x, h_prev, z, r, h_hat, ah[:, 2 * H:])
        else:
            ax = x @ Wx + b
            z = sigmoid(ax[:, :H] + h_prev @ Wh[:, :H])
            r = sigmoid(ax[:, H:2 * H] + h_prev @ Wh[:, H:2 * H])
            h_hat = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ Wh[:, 2 * H:])
            self.cache = (x, h_prev, z, r, h_hat, None)
        h_next: FloatArray = (1 - z) * h_prev + z * h_hat
        return h_next

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Backpropagate the step; write ``grads`` in place.

        Parameters
        ----------
        dh_next : ndarray, shape (N, H)

        Returns
        -------
        dx : ndarray, shape (N, D)
        dh_prev : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> step = spec.GRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6))
        >>> _ = step.forward(np.zeros((1, 3)), np.zeros((1, 2)))
        >>> [g.shape for g in step.backward(np.ones((1, 2)))]
        [(1, 3), (1, 2)]
        """
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        x, h_prev, z, r, h_hat, ah_h = self.cache

        dh_prev = dh_next * (1 - z)
        dz = dh_next * (h_hat - h_prev) * z * (1 - z)
        dt = dh_next * z * (1 - h_hat ** 2)          # at h~'s pre-activation
        if self.reset_after:
            dah_h = dt * r                           # at h Wh_h + b[1]_h
            dr = dt * ah_h * r * (1 - r)
            dAx = np.hstack((dz, dr, dt))
            dAh = np.hstack((dz, dr, dah_h))
            self.grads[1][...] = h_prev.T @ dAh
            self.grads[2][0] = dAx.sum(axis=0)
            self.grads[2][1] = dAh.sum(axis=0)
            dh_prev += dAh @ Wh.T
        else:
            dhr = dt @ Wh[:, 2 * H:].T               # at r * h
            dh_prev += r * dhr
            dr = dhr * h_prev * r * (1 - r)
            dAx = np.hstack((dz, dr, dt))
            self.grads[1][:, :2 * H] = h_prev.T @ dAx[:, :2 * H]
            self.grads[1][:, 2 * H:] = (r * h_prev).T @ dt
            self.grads[2][...] = dAx.sum(axis=0)
            dh_prev += dAx[:, :2 * H] @ Wh[:, :2 * H].T
        self.grads[0][...] = x.T @ dAx
        dx = dAx @ Wx.T
        return dx, dh_prev


class _TimeRecurrent:
    """T steps of a cell with one state h: the loop of the book's TimeRNN."""

    # Set by the subclasses' __init__.
    params: list[FloatArray]
    grads: list[FloatArray]
    layers: "list[RNN | GRU]"
    h: FloatArray | None
    dh: FloatArray | None
    stateful: bool
    running: Mask | None = None

    def _cell(self) -> "RNN | GRU":
        raise NotImplementedError

    def forward(self, xs: FloatArray, lengths: Sequence[int] | None = None) -> FloatArray:
        """Run the T steps; with ``stateful`` start from the stored h.

        Parameters
        ----------
        xs : ndarray, shape (N, T, D)
        lengths : sequence of int, shape (N,), optional
            Sequence n runs its first ``lengths[n]`` steps (the module's
            docstring); None: all T.

        Returns
        -------
        hs : ndarray, shape (N, T, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeGRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6), stateful=True)
        >>> layer.forward(np.ones((4, 5, 3))).shape, layer.h.shape
        ((4, 5, 2), (4, 2))
        """
        Wx, Wh = self.params[:2]
        N, T, D = xs.shape
        H = Wh.shape[0]

        self.layers = []
        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.running = m = None if lengths is None else running(lengths, T)
        if m is not None:  # padded steps read zeros
            xs = np.where(m.transpose(1, 0, 2), xs, 0)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)

        for t in range(T):
            layer = self._cell()
            h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = where_running(m, t, h, 0)
            self.h = where_running(m, t, h, self.h)
            self.layers.append(layer)
        return hs

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None) -> FloatArray:
        """Backpropagate through the last forward; set ``grads`` and ``dh``.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, H)
        dh_next : ndarray, shape (N, H), optional
            The gradient at the last h (zero by default).

        Returns
        -------
        dxs : ndarray, shape (N, T, D)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
        >>> hs = layer.forward(np.ones((4, 5, 3)))
        >>> layer.backward(np.ones_like(hs)).shape, layer.dh.shape
        ((4, 5, 3), (4, 2))
        """
        Wx = self.params[0]
        N, T, H = dhs.shape
        D = Wx.shape[0]

        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        dh = np.zeros((N, H), dtype=dhs.dtype) if dh_next is None else dh_next
        grads: list[Any] = [0, 0, 0]
        m = self.running
        for t in reversed(range(T)):
            layer = self.layers[t]
            # An ended sequence's step gets no gradient and passes dh on.
            dx, dh_prev = layer.backward(where_running(m, t, dhs[:, t, :] + dh, 0))
            dh = where_running(m, t, dh_prev, dh)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad

        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs

    def set_state(self, h: FloatArray) -> None:
        """Start the next stateful forward from h.

        Parameters
        ----------
        h : ndarray, shape (N, H)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
        >>> layer.set_state(np.ones((4, 2)))
        >>> layer.forward(np.ones((4, 1, 3))).shape
        (4, 1, 2)
        """
        self.h = h

    def reset_state(self) -> None:
        """Start the next stateful forward from zeros.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeGRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6), stateful=True)
        >>> _ = layer.forward(np.ones((4, 1, 3)))
        >>> layer.reset_state()
        >>> layer.h is None
        True
        """
        self.h = None


class TimeRNN(_TimeRecurrent):
    """T plain RNN steps over xs (N, T, D), returning hs (N, T, H); see RNN.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, H), (H, H), (H,).
    stateful : bool, default False
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> layer = spec.TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2))
    >>> hs = layer.forward(np.ones((1, 4, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape
    ((1, 4, 2), (1, 4, 3))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 nonlinearity: str = "tanh") -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = []
        self.h, self.dh = None, None
        self.stateful = stateful
        self.nonlinearity = nonlinearity

    def _cell(self) -> RNN:
        Wx, Wh, b = self.params
        return RNN(Wx, Wh, b, nonlinearity=self.nonlinearity)


class TimeGRU(_TimeRecurrent):
    """T GRU steps over xs (N, T, D), returning hs (N, T, H); see GRU.

    Parameters
    ----------
    Wx, Wh, b : ndarray
        Shapes (D, 3H), (H, 3H), and (3H,) or, with reset_after, (2, 3H).
    stateful : bool, default False
    reset_after : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> layer = spec.TimeGRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros((2, 6)), reset_after=True)
    >>> hs = layer.forward(np.ones((1, 4, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape
    ((1, 4, 2), (1, 4, 3))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 reset_after: bool = False) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = []
        self.h, self.dh = None, None
        self.stateful = stateful
        self.reset_after = reset_after

    def _cell(self) -> GRU:
        Wx, Wh, b = self.params
        return GRU(Wx, Wh, b, reset_after=self.reset_after)


class TimeBiLSTM:
    """Two LSTMs over xs (N, T, D): one forwards in time, one backwards;
    forward returns (N, T, 2H), the second direction put back in time order.

    Parameters
    ----------
    Wx1, Wh1, b1, Wx2, Wh2, b2 : ndarray
        Each direction's LSTM weights, as in `TimeLSTM`.
    stateful : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import spec
    >>> layer = spec.TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2])
    >>> hs = layer.forward(np.ones((1, 4, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape
    ((1, 4, 4), (1, 4, 3))
    """

    def __init__(self, Wx1: FloatArray, Wh1: FloatArray, b1: FloatArray, Wx2: FloatArray,
                 Wh2: FloatArray, b2: FloatArray, stateful: bool = False) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads
        self.lengths: list[int] | None = None

    def forward(self, xs: FloatArray, lengths: Sequence[int] | None = None) -> FloatArray:
        """Run both directions.

        Parameters
        ----------
        xs : ndarray, shape (N, T, D)
        lengths : sequence of int, shape (N,), optional
            Sequence n runs its first ``lengths[n]`` steps; the backward
            direction starts at its last one. None: all T.

        Returns
        -------
        hs : ndarray, shape (N, T, 2H)
            The forward direction's, then the backward one's in time order.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2], stateful=True)
        >>> layer.forward(np.ones((4, 5, 3))).shape
        (4, 5, 4)
        """
        self.lengths = None if lengths is None else list(lengths)
        o1 = self.forward_lstm.forward(xs, lengths)
        o2 = self.backward_lstm.forward(self._reverse(xs), lengths)
        return np.concatenate((o1, self._reverse(o2)), axis=2)

    def _reverse(self, xs: FloatArray) -> FloatArray:
        """Each sequence's real steps in reverse order (all T without lengths)."""
        return xs[:, ::-1] if self.lengths is None else reverse_each(xs, self.lengths)

    def backward(self, dhs: FloatArray) -> FloatArray:
        """Backpropagate both directions; set ``grads``.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, 2H)

        Returns
        -------
        dxs : ndarray, shape (N, T, D)
            The sum of both directions'.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2], stateful=True)
        >>> hs = layer.forward(np.ones((4, 5, 3)))
        >>> layer.backward(np.ones_like(hs)).shape
        (4, 5, 3)
        """
        H = dhs.shape[2] // 2
        dxs1 = self.forward_lstm.backward(dhs[:, :, :H])
        dxs2 = self.backward_lstm.backward(self._reverse(dhs[:, :, H:]))
        return dxs1 + self._reverse(dxs2)

    def reset_state(self) -> None:
        """Start the next stateful forward from zeros, in both directions.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import spec
        >>> layer = spec.TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2], stateful=True)
        >>> _ = layer.forward(np.ones((4, 1, 3)))
        >>> layer.reset_state()
        >>> layer.forward_lstm.h is None
        True
        """
        self.forward_lstm.reset_state()
        self.backward_lstm.reset_state()

