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
from numpy.typing import ArrayLike

from ._checks import check_array
from ._recurrent import Recurrent, Step, TimeRecurrent
from ._typing import FloatArray


class TimeLSTM(TimeRecurrent):
    """T LSTM steps at once: ``forward(xs (N, T, D)) -> hs (N, T, H)``.

    A drop-in for the book's ``TimeLSTM`` (``common/time_layers.py``), on the
    compiled kernels. With ``stateful=True`` the last ``h`` and ``c`` carry
    into the next forward.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, 4H)
        Input weights, the gates' blocks along the columns in the order
        f, g, i, o.
    Wh : ndarray, shape (H, 4H), the dtype of `Wx`
        Recurrent weights, same gate order.
    b : ndarray, shape (4H,), the dtype of `Wx`
        Bias, same gate order.
    stateful : bool, default False
        Carry ``h`` and ``c`` from one forward to the next.

    Attributes
    ----------
    params : list of ndarray
        ``[Wx, Wh, b]``: the very arrays passed in, never copies; they are
        read at every call, so in-place updates take effect.
    grads : list of ndarray
        ``[dWx, dWh, db]``, overwritten in place by every `backward`.
    h, c : ndarray, shape (N, H), or None
        The last hidden and cell state (None before the first forward).
    dh, dc : ndarray, shape (N, H), or None
        After a backward, the gradients at the initial state.
    dtype : numpy.dtype
        The weights' dtype, float32 or float64: inputs must have it.

    Raises
    ------
    TypeError
        If a weight is not an ndarray, not float32/float64, or the three
        dtypes differ.
    ValueError
        If the shapes do not fit (D, 4H), (H, 4H), (4H,).

    See Also
    --------
    LSTM : one step.
    gatedrnn.spec.TimeLSTM : the NumPy definition.
    gatedrnn.interop.from_torch : a TimeLSTM from a ``torch.nn.LSTM``.

    Notes
    -----
    Each step, with ``x`` (N, D) and ``h``, ``c`` (N, H)::

        A = x @ Wx + h @ Wh + b                         # (N, 4H)
        f = sigmoid(A[:, :H])      g = tanh(A[:, H:2H])
        i = sigmoid(A[:, 2H:3H])   o = sigmoid(A[:, 3H:])
        c' = f * c + g * i
        h' = o * tanh(c')

    PyTorch and Keras order the gates i, f, g, o, and PyTorch stores its
    weights transposed, (4H, D): `gatedrnn.interop` converts. A training
    forward keeps 5 values per (n, t) and hidden unit (the gates and c) for
    the backward; ``train=False`` keeps none.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import TimeLSTM, spec
    >>> N, T, D, H = 2, 5, 3, 4
    >>> rng = np.random.default_rng(0)
    >>> Wx = rng.standard_normal((D, 4 * H)) * 0.5
    >>> Wh = rng.standard_normal((H, 4 * H)) * 0.5
    >>> b = np.zeros(4 * H)
    >>> layer = TimeLSTM(Wx, Wh, b)
    >>> xs = rng.standard_normal((N, T, D))
    >>> hs = layer.forward(xs)
    >>> hs.shape, hs.dtype
    ((2, 5, 4), dtype('float64'))
    >>> np.allclose(hs, spec.TimeLSTM(Wx, Wh, b).forward(xs))
    True
    >>> dxs = layer.backward(np.ones_like(hs))
    >>> dxs.shape, [g.shape for g in layer.grads]
    ((2, 5, 3), [(3, 16), (4, 16), (16,)])
    >>> layer.dh.shape, layer.dc.shape
    ((2, 4), (2, 4))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 stateful: bool = False) -> None:
        super().__init__("lstm", Wx, Wh, b, stateful)

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None,
                 dc_next: FloatArray | None = None) -> FloatArray:
        """Backpropagate through the last training forward.

        Writes ``grads`` in place and sets ``dh`` and ``dc``, the gradients at
        the initial state. It uses up the forward's cache.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, H), the layer's dtype
            The gradient arriving at each ``hs[:, t]``.
        dh_next, dc_next : ndarray, shape (N, H), optional
            The gradients arriving at the last ``h`` and ``c`` (from a later
            layer or the next segment); zeros if None.

        Returns
        -------
        dxs : ndarray, shape (N, T, D)
            The gradient at ``xs``.

        Raises
        ------
        RuntimeError
            If no ``train=True`` forward ran since the last backward.
        TypeError, ValueError
            If an argument has the wrong dtype or shape; nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeLSTM
        >>> layer = TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> hs = layer.forward(np.ones((1, 4, 3)))
        >>> layer.backward(np.ones_like(hs), dc_next=np.ones((1, 2))).shape
        (1, 4, 3)
        """
        return self._backward_time(dhs, dh_next, dc_next)

    def set_state(self, h: FloatArray, c: FloatArray | None = None) -> None:
        """Start the next stateful forward from ``h`` and ``c``.

        Parameters
        ----------
        h : ndarray, shape (N, H), the layer's dtype
            The hidden state.
        c : ndarray, shape (N, H), optional
            The cell state; zeros if None.

        Raises
        ------
        TypeError, ValueError
            If ``h`` or ``c`` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeLSTM
        >>> layer = TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> layer.set_state(np.zeros((5, 2)))
        >>> layer.forward(np.ones((5, 1, 3))).shape
        (5, 1, 2)
        """
        self._set_state(h, c)


class TimeGRU(TimeRecurrent):
    """T GRU steps at once: ``forward(xs (N, T, D)) -> hs (N, T, H)``.

    The book's GRU (``reset_after=False``) or the cuDNN/PyTorch/Keras one
    (``reset_after=True``), on the compiled kernels. With ``stateful=True``
    the last ``h`` carries into the next forward.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, 3H)
        Input weights, the gates' blocks along the columns in the order
        z, r, h~ (the book's).
    Wh : ndarray, shape (H, 3H), the dtype of `Wx`
        Recurrent weights, same gate order.
    b : ndarray, the dtype of `Wx`
        Shape (3H,) with ``reset_after=False``; shape (2, 3H) with
        ``reset_after=True``: row 0 the input bias, row 1 the recurrent
        bias (as Keras stores them).
    stateful : bool, default False
        Carry ``h`` from one forward to the next.
    reset_after : bool, default False
        Apply the reset gate after the recurrent product (cuDNN's variant).

    Attributes
    ----------
    params : list of ndarray
        ``[Wx, Wh, b]``: the very arrays passed in.
    grads : list of ndarray
        ``[dWx, dWh, db]``, overwritten in place by every `backward`.
    h : ndarray, shape (N, H), or None
        The last hidden state.
    dh : ndarray, shape (N, H), or None
        After a backward, the gradient at the initial state.
    dtype : numpy.dtype
        The weights' dtype.

    Raises
    ------
    TypeError
        If a weight is not a float32/float64 ndarray or the dtypes differ.
    ValueError
        If the shapes do not fit.

    See Also
    --------
    GRU : one step.
    gatedrnn.spec.TimeGRU : the NumPy definition.

    Notes
    -----
    Each step, with ``x`` (N, D), ``h`` (N, H), and ``_z``, ``_r``, ``_h``
    the three column blocks::

        z = sigmoid(x @ Wx_z + h @ Wh_z + bias_z)
        r = sigmoid(x @ Wx_r + h @ Wh_r + bias_r)
        h~ = tanh(x @ Wx_h + (r * h) @ Wh_h + b_h)                 # reset_after=False
        h~ = tanh(x @ Wx_h + b[0]_h + r * (h @ Wh_h + b[1]_h))     # reset_after=True
        h' = (1 - z) * h + z * h~

    where ``bias`` is ``b``, or ``b[0] + b[1]`` with ``reset_after=True``.
    The book's variant needs two dependent products a step, cuDNN's one.

    PyTorch and Keras write ``h' = z * h + (1 - z) * h~``: their z is 1 - ours,
    which amounts to negating the z columns of Wx and Wh and the z biases;
    PyTorch orders its gates r, z, n. `gatedrnn.interop` converts. Only the
    ``reset_after=True`` GRU has a PyTorch equivalent.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import TimeGRU, spec
    >>> N, T, D, H = 2, 5, 3, 4
    >>> rng = np.random.default_rng(0)
    >>> Wx = rng.standard_normal((D, 3 * H)).astype(np.float32)
    >>> Wh = rng.standard_normal((H, 3 * H)).astype(np.float32)
    >>> b = np.zeros((2, 3 * H), np.float32)
    >>> layer = TimeGRU(Wx, Wh, b, reset_after=True)
    >>> xs = rng.standard_normal((N, T, D)).astype(np.float32)
    >>> hs = layer.forward(xs)
    >>> hs.shape, hs.dtype
    ((2, 5, 4), dtype('float32'))
    >>> ref = spec.TimeGRU(Wx, Wh, b, reset_after=True).forward(xs)
    >>> np.allclose(hs, ref, rtol=1e-5, atol=1e-6)
    True
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 reset_after: bool = False) -> None:
        self.reset_after = bool(reset_after)
        super().__init__("gru_reset_after" if reset_after else "gru", Wx, Wh, b, stateful)

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None) -> FloatArray:
        """Backpropagate through the last training forward.

        Writes ``grads`` in place and sets ``dh``, the gradient at the initial
        state. It uses up the forward's cache.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, H), the layer's dtype
            The gradient arriving at each ``hs[:, t]``.
        dh_next : ndarray, shape (N, H), optional
            The gradient arriving at the last ``h``; zeros if None.

        Returns
        -------
        dxs : ndarray, shape (N, T, D)
            The gradient at ``xs``.

        Raises
        ------
        RuntimeError
            If no ``train=True`` forward ran since the last backward.
        TypeError, ValueError
            If an argument has the wrong dtype or shape; nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeGRU
        >>> layer = TimeGRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6))
        >>> hs = layer.forward(np.ones((1, 4, 3)))
        >>> layer.backward(np.ones_like(hs)).shape, layer.dh.shape
        ((1, 4, 3), (1, 2))
        """
        return self._backward_time(dhs, dh_next)

    def set_state(self, h: FloatArray) -> None:
        """Start the next stateful forward from ``h``.

        Parameters
        ----------
        h : ndarray, shape (N, H), the layer's dtype
            The hidden state.

        Raises
        ------
        TypeError, ValueError
            If ``h`` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeGRU
        >>> layer = TimeGRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6), stateful=True)
        >>> layer.set_state(np.zeros((5, 2)))
        >>> layer.forward(np.ones((5, 1, 3))).shape
        (5, 1, 2)
        """
        self._set_state(h)


def _rnn_cell(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    return "rnn" if nonlinearity == "tanh" else "rnn_relu"


class TimeRNN(TimeRecurrent):
    """T plain RNN steps at once: ``forward(xs (N, T, D)) -> hs (N, T, H)``.

    The book's ``TimeRNN`` (tanh), or with ``nonlinearity="relu"`` the relu
    RNN PyTorch's ``nn.RNN`` offers, on the compiled kernels. With
    ``stateful=True`` the last ``h`` carries into the next forward.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, H)
        Input weights.
    Wh : ndarray, shape (H, H), the dtype of `Wx`
        Recurrent weights.
    b : ndarray, shape (H,), the dtype of `Wx`
        Bias (a PyTorch module's ``b_ih + b_hh``).
    stateful : bool, default False
        Carry ``h`` from one forward to the next.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation.

    Attributes
    ----------
    params : list of ndarray
        ``[Wx, Wh, b]``: the very arrays passed in.
    grads : list of ndarray
        ``[dWx, dWh, db]``, overwritten in place by every `backward`.
    h : ndarray, shape (N, H), or None
        The last hidden state.
    dh : ndarray, shape (N, H), or None
        After a backward, the gradient at the initial state.
    dtype : numpy.dtype
        The weights' dtype.

    Raises
    ------
    TypeError
        If a weight is not a float32/float64 ndarray or the dtypes differ.
    ValueError
        If the shapes do not fit, or `nonlinearity` is neither "tanh" nor "relu".

    See Also
    --------
    RNN : one step.
    gatedrnn.spec.TimeRNN : the NumPy definition.

    Notes
    -----
    Each step: ``h' = tanh(x @ Wx + h @ Wh + b)``, or
    ``h' = max(x @ Wx + h @ Wh + b, 0)`` with relu.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import TimeRNN, spec
    >>> rng = np.random.default_rng(0)
    >>> Wx, Wh, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), np.zeros(4)
    >>> xs = rng.standard_normal((2, 5, 3))
    >>> hs = TimeRNN(Wx, Wh, b, nonlinearity="relu").forward(xs)
    >>> hs.shape, bool((hs >= 0).all())
    ((2, 5, 4), True)
    >>> np.allclose(hs, spec.TimeRNN(Wx, Wh, b, nonlinearity="relu").forward(xs))
    True
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray, stateful: bool = False,
                 nonlinearity: str = "tanh") -> None:
        super().__init__(_rnn_cell(nonlinearity), Wx, Wh, b, stateful)
        self.nonlinearity = nonlinearity

    def backward(self, dhs: FloatArray, dh_next: FloatArray | None = None) -> FloatArray:
        """Backpropagate through the last training forward.

        Writes ``grads`` in place and sets ``dh``, the gradient at the initial
        state. It uses up the forward's cache.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, H), the layer's dtype
            The gradient arriving at each ``hs[:, t]``.
        dh_next : ndarray, shape (N, H), optional
            The gradient arriving at the last ``h``; zeros if None.

        Returns
        -------
        dxs : ndarray, shape (N, T, D)
            The gradient at ``xs``.

        Raises
        ------
        RuntimeError
            If no ``train=True`` forward ran since the last backward.
        TypeError, ValueError
            If an argument has the wrong dtype or shape; nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeRNN
        >>> layer = TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2))
        >>> hs = layer.forward(np.ones((1, 4, 3)))
        >>> layer.backward(np.ones_like(hs)).shape, layer.dh.shape
        ((1, 4, 3), (1, 2))
        """
        return self._backward_time(dhs, dh_next)

    def set_state(self, h: FloatArray) -> None:
        """Start the next stateful forward from ``h``.

        Parameters
        ----------
        h : ndarray, shape (N, H), the layer's dtype
            The hidden state.

        Raises
        ------
        TypeError, ValueError
            If ``h`` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeRNN
        >>> layer = TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
        >>> layer.set_state(np.zeros((5, 2)))
        >>> layer.forward(np.ones((5, 1, 3))).shape
        (5, 1, 2)
        """
        self._set_state(h)


class TimeBiLSTM(Recurrent):
    """A bidirectional LSTM: ``forward(xs (N, T, D)) -> hs (N, T, 2H)``.

    As the book's ``TimeBiLSTM``: two LSTMs, the first forwards in time, the
    second backwards; ``hs[..., :H]`` is the first direction's output and
    ``hs[..., H:]`` the second's, put back in time order. The two directions
    run at once, in one call to the kernels (one per core on two threads).

    Parameters
    ----------
    Wx1, Wh1, b1 : ndarray of float32 or float64
        The forward direction's LSTM weights, shapes (D, 4H), (H, 4H), (4H,),
        gates f, g, i, o, as in `TimeLSTM`.
    Wx2, Wh2, b2 : ndarray
        The backward direction's, same shapes and dtype.
    stateful : bool, default False
        Carry each direction's state into the next forward (as the book's).

    Attributes
    ----------
    params : list of ndarray
        ``[Wx1, Wh1, b1, Wx2, Wh2, b2]``: the very arrays passed in.
    grads : list of ndarray
        Their gradients, overwritten in place by every `backward`.
    h, c : list of two ndarray of shape (N, H), or None
        The last states, (forward direction's, backward direction's).
    dh, dc : list of two ndarray of shape (N, H), or None
        After a backward, the gradients at each direction's initial state.
    dtype : numpy.dtype
        The weights' dtype.

    Raises
    ------
    TypeError
        If a weight is not a float32/float64 ndarray or the dtypes differ.
    ValueError
        If the shapes do not fit, or the two directions' sizes differ.

    See Also
    --------
    TimeLSTM, gatedrnn.spec.TimeBiLSTM

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import TimeBiLSTM, spec
    >>> D, H = 3, 4
    >>> rng = np.random.default_rng(0)
    >>> weights = [rng.standard_normal(s) for s in [(D, 4 * H), (H, 4 * H), (4 * H,)] * 2]
    >>> layer = TimeBiLSTM(*weights)
    >>> xs = rng.standard_normal((2, 5, D))
    >>> hs = layer.forward(xs)
    >>> hs.shape
    (2, 5, 8)
    >>> np.allclose(hs, spec.TimeBiLSTM(*weights).forward(xs))
    True
    >>> layer.backward(np.ones_like(hs)).shape, len(layer.grads)
    ((2, 5, 3), 6)
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

    def forward(self, xs: FloatArray, train: bool = True, *,
                lengths: ArrayLike | None = None) -> FloatArray:
        """Run both directions over ``xs``.

        Parameters
        ----------
        xs : ndarray, shape (N, T, D), the layer's dtype
            The input sequences, any memory layout.
        train : bool, default True
            Keep the cache for `backward`; False (inference) keeps none.
        lengths : array of int, shape (N,), optional
            Sequences of different lengths, padded to T (see
            `TimeLSTM.forward`): the backward direction starts at each
            sequence's own last real step, as PyTorch's does on packed input,
            and both directions' ``hs`` are zero past the sequence.

        Returns
        -------
        hs : ndarray, shape (N, T, 2H)
            The forward direction's hidden states, then the backward
            direction's, both in time order.

        Raises
        ------
        TypeError, ValueError
            If `xs` has the wrong dtype or shape, `lengths` is not an integer
            array of shape (N,) with values in [0, T], or a stored state does
            not fit; nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeBiLSTM
        >>> layer = TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2])
        >>> layer.forward(np.ones((1, 4, 3)), train=False).shape
        (1, 4, 4)
        """
        weights, D, H, dtype = self._weights()
        xs = self._checked_xs(xs, D, H, dtype)
        checked = self._lengths(lengths, xs)
        N = xs.shape[0]
        h0, c0 = self._state("h", N, H, dtype), self._state("c", N, H, dtype)
        if checked is None:  # the backward direction reads a reversed copy
            xs_dirs, reversed = [xs, np.ascontiguousarray(xs[:, ::-1])], None
        else:  # the kernels reverse each sequence's real steps
            xs_dirs, reversed = [xs, xs], [False, True]

        (hs1, c1, _, h1), (hs2, c2, _, h2) = self._forward(weights, xs_dirs, h0, c0, train, D, H,
                                                           dtype, checked, reversed)

        self.h = [h1, h2]
        self.c = [c1, c2]
        return np.concatenate((hs1, hs2 if reversed else hs2[:, ::-1]), axis=2)

    def backward(self, dhs: FloatArray) -> FloatArray:
        """Backpropagate through the last training forward.

        Writes ``grads`` in place and sets ``dh`` and ``dc``; uses up the
        forward's cache.

        Parameters
        ----------
        dhs : ndarray, shape (N, T, 2H), the layer's dtype
            The gradient arriving at each ``hs[:, t]``.

        Returns
        -------
        dxs : ndarray, shape (N, T, D)
            The gradient at ``xs``: the sum of both directions'.

        Raises
        ------
        RuntimeError
            If no ``train=True`` forward ran since the last backward.
        TypeError, ValueError
            If `dhs` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeBiLSTM
        >>> layer = TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2])
        >>> hs = layer.forward(np.ones((1, 4, 3)))
        >>> layer.backward(np.ones_like(hs)).shape, len(layer.dh)
        ((1, 4, 3), 2)
        """
        weights, D, H, dtype = self._weights()
        cache = self._take_cache(D, H, dtype)
        N, T = cache.xs[0].shape[:2]
        dhs = check_array(dhs, "dhs", dtype, (N, T, 2 * H), "(N, T, 2H)",
                          "to match the last forward()")
        in_time_order = cache.reversed is not None  # the kernels reverse the sequences
        dhs2 = dhs[:, :, H:] if in_time_order else dhs[:, ::-1, H:]
        dhs_dirs = [np.ascontiguousarray(dhs[:, :, :H]), np.ascontiguousarray(dhs2)]
        zeros = np.zeros((N, H), dtype)

        (dxs1, dh1, dc1), (dxs2, dh2, dc2) = self._backward(cache, dhs_dirs, [zeros, zeros],
                                                            [zeros, zeros], weights)
        self.dh, self.dc = [dh1, dh2], [dc1, dc2]
        dxs1 += dxs2 if in_time_order else dxs2[:, ::-1]
        return dxs1

    def set_state(self, h: Sequence[FloatArray],
                  c: Sequence[FloatArray] | None = None) -> None:
        """Start the next stateful forward from ``h`` and ``c``.

        Parameters
        ----------
        h : pair of ndarray, each of shape (N, H)
            ``(h1, h2)``, the forward and the backward direction's state.
        c : pair of ndarray, each of shape (N, H), optional
            ``(c1, c2)``; zeros if None.

        Raises
        ------
        TypeError
            If `h` or `c` is not a pair, or an array has the wrong dtype.
        ValueError
            If a shape does not fit.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeBiLSTM
        >>> layer = TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2], stateful=True)
        >>> layer.set_state((np.zeros((5, 2)), np.zeros((5, 2))))
        >>> layer.forward(np.ones((5, 1, 3))).shape
        (5, 1, 4)
        """
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
        """Start the next stateful forward from zeros (forget ``h`` and ``c``).

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import TimeBiLSTM
        >>> layer = TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2], stateful=True)
        >>> _ = layer.forward(np.ones((1, 4, 3)))
        >>> layer.reset_state()
        >>> layer.h is None
        True
        """
        self.h, self.c = None, None


class LSTM(Step):
    """One LSTM step, as the book's ``LSTM`` cell, on the compiled kernels.

    ``forward(x, h_prev, c_prev) -> (h_next, c_next)`` and
    ``backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)``.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, 4H)
        Input weights, gates f, g, i, o along the columns (see `TimeLSTM`
        for the equations).
    Wh : ndarray, shape (H, 4H), the dtype of `Wx`
        Recurrent weights.
    b : ndarray, shape (4H,), the dtype of `Wx`
        Bias.

    Attributes
    ----------
    params, grads : list of ndarray
        ``[Wx, Wh, b]`` (the arrays passed in) and their gradients, written
        in place by `backward`.

    Raises
    ------
    TypeError, ValueError
        If the weights have the wrong dtypes or shapes.

    See Also
    --------
    TimeLSTM, gatedrnn.spec.LSTM

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import LSTM, spec
    >>> rng = np.random.default_rng(0)
    >>> Wx, Wh, b = rng.standard_normal((3, 8)), rng.standard_normal((2, 8)), np.zeros(8)
    >>> x, h, c = rng.standard_normal((5, 3)), np.zeros((5, 2)), np.zeros((5, 2))
    >>> h_next, c_next = LSTM(Wx, Wh, b).forward(x, h, c)
    >>> h_next.shape, c_next.shape
    ((5, 2), (5, 2))
    >>> np.allclose(h_next, spec.LSTM(Wx, Wh, b).forward(x, h, c)[0])
    True
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> None:
        super().__init__("lstm", Wx, Wh, b)

    def forward(self, x: FloatArray, h_prev: FloatArray,
                c_prev: FloatArray) -> tuple[FloatArray, FloatArray]:
        """One step forward (keeps what `backward` needs).

        Parameters
        ----------
        x : ndarray, shape (N, D), the layer's dtype
            The input.
        h_prev, c_prev : ndarray, shape (N, H)
            The previous hidden and cell state.

        Returns
        -------
        h_next, c_next : ndarray, shape (N, H)
            The next hidden and cell state.

        Raises
        ------
        TypeError, ValueError
            If an argument has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import LSTM
        >>> step = LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> h, c = step.forward(np.ones((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
        >>> h.shape, c.shape
        ((1, 2), (1, 2))
        """
        h_next, c_next = self._step_forward(x, h_prev, c_prev)
        return h_next, cast(FloatArray, c_next)  # an LSTM step always has c

    def backward(self, dh_next: FloatArray,
                 dc_next: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Backpropagate through the last forward; writes ``grads`` in place.

        Parameters
        ----------
        dh_next, dc_next : ndarray, shape (N, H), the layer's dtype
            The gradients arriving at ``h_next`` and ``c_next``.

        Returns
        -------
        dx : ndarray, shape (N, D)
            The gradient at ``x``.
        dh_prev, dc_prev : ndarray, shape (N, H)
            The gradients at ``h_prev`` and ``c_prev``.

        Raises
        ------
        RuntimeError
            If no forward ran since the last backward.
        TypeError, ValueError
            If an argument has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import LSTM
        >>> step = LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> h, c = step.forward(np.ones((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
        >>> [g.shape for g in step.backward(np.ones_like(h), np.zeros_like(c))]
        [(1, 3), (1, 2), (1, 2)]
        """
        dx, dh_prev, dc_prev = self._step_backward(dh_next, dc_next)
        return dx, dh_prev, cast(FloatArray, dc_prev)  # an LSTM step always has dc


class GRU(Step):
    """One GRU step, on the compiled kernels.

    ``forward(x, h_prev) -> h_next`` and ``backward(dh_next) -> (dx, dh_prev)``.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, 3H)
        Input weights, gates z, r, h~ along the columns (see `TimeGRU` for
        the equations of both variants).
    Wh : ndarray, shape (H, 3H), the dtype of `Wx`
        Recurrent weights.
    b : ndarray, the dtype of `Wx`
        Shape (3H,), or (2, 3H) (input and recurrent rows) with
        ``reset_after=True``.
    reset_after : bool, default False
        cuDNN's (PyTorch's, Keras's) variant rather than the book's.

    Attributes
    ----------
    params, grads : list of ndarray
        ``[Wx, Wh, b]`` (the arrays passed in) and their gradients, written
        in place by `backward`.

    Raises
    ------
    TypeError, ValueError
        If the weights have the wrong dtypes or shapes.

    See Also
    --------
    TimeGRU, gatedrnn.spec.GRU

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import GRU, spec
    >>> rng = np.random.default_rng(0)
    >>> Wx, Wh, b = rng.standard_normal((3, 6)), rng.standard_normal((2, 6)), np.zeros(6)
    >>> x, h = rng.standard_normal((5, 3)), np.zeros((5, 2))
    >>> h_next = GRU(Wx, Wh, b).forward(x, h)
    >>> h_next.shape, np.allclose(h_next, spec.GRU(Wx, Wh, b).forward(x, h))
    ((5, 2), True)
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 reset_after: bool = False) -> None:
        self.reset_after = bool(reset_after)
        super().__init__("gru_reset_after" if reset_after else "gru", Wx, Wh, b)

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        """One step forward (keeps what `backward` needs).

        Parameters
        ----------
        x : ndarray, shape (N, D), the layer's dtype
            The input.
        h_prev : ndarray, shape (N, H)
            The previous hidden state.

        Returns
        -------
        h_next : ndarray, shape (N, H)

        Raises
        ------
        TypeError, ValueError
            If an argument has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import GRU
        >>> step = GRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6))
        >>> step.forward(np.ones((1, 3)), np.zeros((1, 2))).shape
        (1, 2)
        """
        return self._step_forward(x, h_prev)[0]

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Backpropagate through the last forward; writes ``grads`` in place.

        Parameters
        ----------
        dh_next : ndarray, shape (N, H), the layer's dtype
            The gradient arriving at ``h_next``.

        Returns
        -------
        dx : ndarray, shape (N, D)
            The gradient at ``x``.
        dh_prev : ndarray, shape (N, H)
            The gradient at ``h_prev``.

        Raises
        ------
        RuntimeError
            If no forward ran since the last backward.
        TypeError, ValueError
            If `dh_next` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import GRU
        >>> step = GRU(np.ones((3, 6)), np.ones((2, 6)), np.zeros(6))
        >>> h = step.forward(np.ones((1, 3)), np.zeros((1, 2)))
        >>> [g.shape for g in step.backward(np.ones_like(h))]
        [(1, 3), (1, 2)]
        """
        return self._step_backward(dh_next)[:2]


class RNN(Step):
    """One plain RNN step: ``h_next = tanh(x @ Wx + h_prev @ Wh + b)``.

    With ``nonlinearity="relu"``, ``h_next = max(x @ Wx + h_prev @ Wh + b, 0)``.
    ``forward(x, h_prev) -> h_next`` and ``backward(dh_next) -> (dx, dh_prev)``.

    Parameters
    ----------
    Wx : ndarray of float32 or float64, shape (D, H)
        Input weights.
    Wh : ndarray, shape (H, H), the dtype of `Wx`
        Recurrent weights.
    b : ndarray, shape (H,), the dtype of `Wx`
        Bias.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation.

    Attributes
    ----------
    params, grads : list of ndarray
        ``[Wx, Wh, b]`` (the arrays passed in) and their gradients, written
        in place by `backward`.

    Raises
    ------
    TypeError, ValueError
        If the weights have the wrong dtypes or shapes, or `nonlinearity` is
        unknown.

    See Also
    --------
    TimeRNN, gatedrnn.spec.RNN

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import RNN
    >>> step = RNN(np.eye(2), np.zeros((2, 2)), np.zeros(2))
    >>> step.forward(np.array([[0.5, -0.5]]), np.zeros((1, 2))).round(4)
    array([[ 0.4621, -0.4621]])
    >>> dx, dh_prev = step.backward(np.ones((1, 2)))
    >>> dx.round(4)
    array([[0.7864, 0.7864]])
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 nonlinearity: str = "tanh") -> None:
        super().__init__(_rnn_cell(nonlinearity), Wx, Wh, b)
        self.nonlinearity = nonlinearity

    def forward(self, x: FloatArray, h_prev: FloatArray) -> FloatArray:
        """One step forward (keeps what `backward` needs).

        Parameters
        ----------
        x : ndarray, shape (N, D), the layer's dtype
            The input.
        h_prev : ndarray, shape (N, H)
            The previous hidden state.

        Returns
        -------
        h_next : ndarray, shape (N, H)

        Raises
        ------
        TypeError, ValueError
            If an argument has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import RNN
        >>> step = RNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), nonlinearity="relu")
        >>> step.forward(-np.ones((1, 3)), np.zeros((1, 2)))
        array([[0., 0.]])
        """
        return self._step_forward(x, h_prev)[0]

    def backward(self, dh_next: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Backpropagate through the last forward; writes ``grads`` in place.

        Parameters
        ----------
        dh_next : ndarray, shape (N, H), the layer's dtype
            The gradient arriving at ``h_next``.

        Returns
        -------
        dx : ndarray, shape (N, D)
            The gradient at ``x``.
        dh_prev : ndarray, shape (N, H)
            The gradient at ``h_prev``.

        Raises
        ------
        RuntimeError
            If no forward ran since the last backward.
        TypeError, ValueError
            If `dh_next` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn import RNN
        >>> step = RNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2))
        >>> h = step.forward(np.ones((1, 3)), np.zeros((1, 2)))
        >>> [g.shape for g in step.backward(np.ones_like(h))]
        [(1, 3), (1, 2)]
        """
        return self._step_backward(dh_next)[:2]
