"""The book's ``common/time_layers.py`` on gatedrnn's compiled layers.

Every class of the book's module, under the same name and constructor
signature, with the behaviour its programs rely on:

- ``params`` and ``grads`` are lists of the very arrays: the weights passed in
  (never copied; a transposed view such as the tied ``embed_W.T`` stays the
  object in ``params``) and gradients overwritten in place by each backward,
  so that optimizers and weight tying by identity keep working;
- the recurrent layers have ``h`` (and ``c``), ``dh``, ``stateful``,
  ``set_state`` and ``reset_state`` as in the book; their ``forward(xs)`` also
  takes ``train=False`` to keep no cache;
- ``TimeDropout`` draws its masks from NumPy's global generator with the
  book's call, so that after ``np.random.seed(k)`` the masks are the book's.

The recurrent layers run on the compiled kernels (:mod:`gatedrnn._layers`),
the whole sequence in one call; ``TimeEmbedding``, ``TimeAffine`` and
``TimeSoftmaxWithLoss`` are the fast layers of :mod:`gatedrnn.lm.layers`.

Dtypes. The book writes its outputs as float32 (``dtype='f'``) whatever the
weights; these layers follow the weights' dtype. For the book's programs,
whose weights are float32, that is the same float32. Float64 weights give
float64 results: casting them down to float32 would silently throw away the
precision the caller asked for (a float64 gradient check, say). Inputs must
have the weights' dtype; the compiled layers raise TypeError otherwise, where
the book would silently mix precisions.
"""
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import _layers
from .._typing import FloatArray, IntArray
from .._checks import FLOAT_DTYPES, check_array, check_weights
from ..lm import layers as _lm

__all__ = [
    "RNN", "TimeRNN", "LSTM", "TimeLSTM", "GRU", "TimeGRU", "TimeBiLSTM",
    "TimeEmbedding", "TimeAffine", "TimeSoftmaxWithLoss", "TimeDropout",
    "TimeSigmoidWithLoss", "Simple_TimeSoftmaxWithLoss", "Simple_TimeAffine",
]

# The book's cross_entropy_error adds this inside the log.
_LOG_EPS = 1e-7


# --- recurrent layers, on the compiled kernels --------------------------------

class RNN(_layers.RNN):
    """One plain RNN step, h_next = tanh(x Wx + h_prev Wh + b).

    Wx (D, H), Wh (H, H), b (H,). forward(x (N, D), h_prev (N, H)) -> h_next;
    backward(dh_next) -> (dx, dh_prev), writing ``grads`` in place.

    Parameters
    ----------
    Wx, Wh, b : ndarray of float32 or float64
        Shapes (D, H), (H, H), (H,), one dtype.

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes.

    See Also
    --------
    gatedrnn.RNN : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> step = tl.RNN(np.eye(2), np.zeros((2, 2)), np.zeros(2))
    >>> step.forward(np.array([[0.5, -0.5]]), np.zeros((1, 2))).round(4)
    array([[ 0.4621, -0.4621]])
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> None:
        super().__init__(Wx, Wh, b)


class TimeRNN(_layers.TimeRNN):
    """T plain RNN steps in one compiled call: forward(xs (N, T, D)) -> hs (N, T, H).

    Wx (D, H), Wh (H, H), b (H,). With ``stateful=True`` the last ``h`` carries
    into the next forward. backward(dhs) -> dxs sets ``dh``, the gradient at
    the initial state.

    Parameters
    ----------
    Wx, Wh, b : ndarray of float32 or float64
        Shapes (D, H), (H, H), (H,), one dtype.
    stateful : bool, default False

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes.

    See Also
    --------
    gatedrnn.TimeRNN : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
    >>> hs = layer.forward(np.ones((4, 5, 3), np.float64))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape
    ((4, 5, 2), (4, 5, 3))
    >>> layer.set_state(None)        # as the book's, with a state saved before any forward
    >>> layer.h is None
    True
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 stateful: bool = False) -> None:
        super().__init__(Wx, Wh, b, stateful)

    def set_state(self, h: FloatArray | None) -> None:
        """Start the next stateful forward from h; None forgets it (zeros).

        As the book's does with a state saved before any forward.

        Parameters
        ----------
        h : ndarray, shape (N, H), or None

        Raises
        ------
        TypeError, ValueError
            If `h` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeRNN(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), stateful=True)
        >>> layer.set_state(np.ones((4, 2)))
        >>> layer.forward(np.zeros((4, 1, 3))).shape
        (4, 1, 2)
        """
        if h is None:
            self.h = None
        else:
            super().set_state(h)


def _state_grad(g: FloatArray | float, like: FloatArray) -> FloatArray:
    """The book starts its backward loops from dh = dc = 0, a scalar: a 0-d
    number becomes a full (N, H) array; anything else goes to the layer's checks."""
    if isinstance(g, (int, float, np.number)) and not isinstance(g, bool):
        return np.full(like.shape, g, like.dtype)
    return cast(FloatArray, g)  # not a number: the layer's checks report it


class LSTM(_layers.LSTM):
    """One LSTM step. Wx (D, 4H), Wh (H, 4H), b (4H,), gates f, g, i, o.

    forward(x (N, D), h_prev (N, H), c_prev (N, H)) -> (h_next, c_next);
    backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev), writing ``grads`` in
    place. dh_next or dc_next may be the scalar 0, as in the book's own loop.

    Parameters
    ----------
    Wx, Wh, b : ndarray of float32 or float64
        Shapes (D, 4H), (H, 4H), (4H,), one dtype.

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes.

    See Also
    --------
    gatedrnn.LSTM : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> step = tl.LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
    >>> h, c = step.forward(np.ones((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
    >>> [g.shape for g in step.backward(np.ones_like(h), 0)]   # dc_next: the scalar 0
    [(1, 3), (1, 2), (1, 2)]
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> None:
        super().__init__(Wx, Wh, b)

    def backward(self, dh_next: FloatArray | float,
                 dc_next: FloatArray | float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Backpropagate one step; dh_next or dc_next may be a scalar (0 in the book).

        Parameters
        ----------
        dh_next, dc_next : ndarray of shape (N, H), or a number
            A number stands for a full (N, H) array of it.

        Returns
        -------
        dx : ndarray, shape (N, D)
        dh_prev, dc_prev : ndarray, shape (N, H)

        Raises
        ------
        RuntimeError
            If no forward ran since the last backward.
        TypeError, ValueError
            If an array has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> step = tl.LSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8))
        >>> h, c = step.forward(np.ones((1, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
        >>> dx, dh_prev, dc_prev = step.backward(0, 0)     # the scalar 0: no gradient
        >>> float(abs(dx).max())
        0.0
        """
        # Only scalars are widened; their shape comes from the last forward's
        # state, and a missing forward is reported by the layer itself.
        cache = self._cache
        if cache is not None:
            like = cache.h0[0]
            dh_next = _state_grad(dh_next, like)
            dc_next = _state_grad(dc_next, like)
        # Without a forward the layer raises before it reads them.
        return super().backward(cast(FloatArray, dh_next), cast(FloatArray, dc_next))


class TimeLSTM(_layers.TimeLSTM):
    """T LSTM steps in one compiled call: forward(xs (N, T, D)) -> hs (N, T, H).

    Wx (D, 4H), Wh (H, 4H), b (4H,), gates f, g, i, o. With ``stateful=True``
    the last ``h`` and ``c`` carry into the next forward; ``set_state(h)``
    with c None starts c at zeros, as the book's. backward(dhs) -> dxs sets
    ``dh`` (and ``dc``), the gradients at the initial state.

    Parameters
    ----------
    Wx, Wh, b : ndarray of float32 or float64
        Shapes (D, 4H), (H, 4H), (4H,), one dtype.
    stateful : bool, default False

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes.

    See Also
    --------
    gatedrnn.TimeLSTM : the methods, equations and layouts, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
    >>> layer.set_state(np.zeros((4, 2)))          # c starts at zeros
    >>> hs = layer.forward(np.ones((4, 5, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape, layer.dc.shape
    ((4, 5, 2), (4, 5, 3), (4, 2))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray,
                 stateful: bool = False) -> None:
        super().__init__(Wx, Wh, b, stateful)

    def set_state(self, h: FloatArray | None, c: FloatArray | None = None) -> None:
        """Start the next stateful forward from h and c (zeros if None).

        h None forgets h, as the book's does with a state saved before any
        forward.

        Parameters
        ----------
        h : ndarray, shape (N, H), or None
        c : ndarray, shape (N, H), or None

        Raises
        ------
        TypeError, ValueError
            If `h` or `c` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeLSTM(np.ones((3, 8)), np.ones((2, 8)), np.zeros(8), stateful=True)
        >>> layer.set_state(np.zeros((4, 2)))
        >>> layer.c is None     # zeros at the next forward
        True
        """
        if h is None:
            if c is not None:
                H = self.params[1].shape[0]
                c = check_array(c, "c", self.dtype, (None, H), "(N, H)",
                                f"with H == Wh.shape[0] == {H}")
            self.h, self.c = None, c
        else:
            super().set_state(h, c)


def _zero_bias(Wx: object, Wh: object) -> FloatArray:
    """A read-only zero bias (3H,) for the book's bias-free GRU. Read-only so
    that nothing can train it: an optimizer handed it fails loudly instead."""
    if isinstance(Wx, np.ndarray) and isinstance(Wh, np.ndarray) and Wh.ndim == 2:
        b = np.zeros(Wh.shape[1], Wx.dtype)
    else:
        b = np.zeros(0)  # the layer's own checks then report Wx or Wh
    b.flags.writeable = False
    return b


class _BookGRUWeights:
    """Wx, Wh, dWx, dWh by name, as the book's GRU keeps them."""

    Wx = property(lambda self: self.params[0], lambda self, W: self.params.__setitem__(0, W),
                  doc="the input weights, params[0] (setting it sets params[0])")
    Wh = property(lambda self: self.params[1], lambda self, W: self.params.__setitem__(1, W),
                  doc="the recurrent weights, params[1] (setting it sets params[1])")
    dWx = property(lambda self: self.grads[0], doc="the gradient of Wx, written by backward")
    dWh = property(lambda self: self.grads[1], doc="the gradient of Wh, written by backward")


class GRU(_BookGRUWeights, _layers.GRU):
    """One GRU step, the book's variant: gates z, r, h~ along 3H,
    h~ = tanh(x Wx_h + (r * h) Wh_h + b_h), h_next = (1 - z) h + z h~.

    Wx (D, 3H), Wh (H, 3H), b (3H,). The book has two versions: the first
    ``GRU(Wx, Wh)`` has no bias, the later ``GRU(Wx, Wh, b)`` has one and
    ``params``/``grads``. Both calls work; without b the bias is a read-only
    zero array. forward(x, h_prev) -> h_next; backward(dh_next) -> (dx,
    dh_prev), after which ``dWx``, ``dWh`` and ``db`` (``grads``) hold the
    gradients.

    Parameters
    ----------
    Wx, Wh : ndarray of float32 or float64
        Shapes (D, 3H), (H, 3H), gates z, r, h~.
    b : ndarray, shape (3H,), optional
        The bias; without it, a read-only zeros array.

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes.

    See Also
    --------
    gatedrnn.GRU : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> step = tl.GRU(np.ones((3, 6)), np.ones((2, 6)))   # the first version: no bias
    >>> h = step.forward(np.ones((1, 3)), np.zeros((1, 2)))
    >>> dx, dh_prev = step.backward(np.ones_like(h))
    >>> step.dWx.shape, step.dWh.shape, step.db.shape
    ((3, 6), (2, 6), (6,))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray | None = None) -> None:
        super().__init__(Wx, Wh, _zero_bias(Wx, Wh) if b is None else b)

    db = property(lambda self: self.grads[2], doc="the gradient of b, written by backward")


class TimeGRU(_BookGRUWeights, _layers.TimeGRU):
    """T GRU steps in one compiled call (the book's variant, see GRU):
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs) -> dxs sets ``dh``,
    and ``dWx``, ``dWh`` (``grads``) hold the gradients.

    Both of the book's signatures work: ``TimeGRU(Wx, Wh, stateful=False)``
    (the first version, no bias; its constructor's typo left dWx unset, here
    dWx is the gradient) and ``TimeGRU(Wx, Wh, b, stateful=False)``. A bool in
    the third place is the first version's ``stateful``.

    Parameters
    ----------
    Wx, Wh : ndarray of float32 or float64
        Shapes (D, 3H), (H, 3H), gates z, r, h~.
    b : ndarray of shape (3H,), bool, or None
        The bias (a read-only zeros array if None), or the first version's
        `stateful`.
    stateful : bool, default False

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes, or `stateful` given twice.

    See Also
    --------
    gatedrnn.TimeGRU : the methods and equations, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeGRU(np.ones((3, 6)), np.ones((2, 6)), True)   # Wx, Wh, stateful
    >>> hs = layer.forward(np.ones((4, 5, 3)))
    >>> layer.stateful, hs.shape, layer.backward(np.ones_like(hs)).shape
    (True, (4, 5, 2), (4, 5, 3))
    """

    def __init__(self, Wx: FloatArray, Wh: FloatArray, b: FloatArray | bool | None = None,
                 stateful: bool = False) -> None:
        if isinstance(b, (bool, np.bool_)):
            if stateful is not False:
                raise TypeError(f"TimeGRU got stateful twice: b={b!r} (the first version's "
                                f"stateful, in the third place) and stateful={stateful!r}")
            b, stateful = None, bool(b)
        super().__init__(Wx, Wh, _zero_bias(Wx, Wh) if b is None else b, stateful)

    def set_state(self, h: FloatArray | None) -> None:
        """Start the next stateful forward from h; None forgets it (zeros).

        Parameters
        ----------
        h : ndarray, shape (N, H), or None

        Raises
        ------
        TypeError, ValueError
            If `h` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeGRU(np.ones((3, 6)), np.ones((2, 6)), stateful=True)
        >>> layer.set_state(np.ones((4, 2)))
        >>> layer.set_state(None)
        >>> layer.h is None
        True
        """
        if h is None:
            self.h = None
        else:
            super().set_state(h)


def _pair(first: object, second: object) -> list[Any] | None:
    return None if first is None and second is None else [first, second]


def _both(name: str, doc: str) -> Any:
    """A property held by the two directions' TimeLSTMs: [forward's, backward's]
    (None when both are None); setting it sets each direction's."""
    def get(self: Any) -> list[Any] | None:
        return _pair(getattr(self.forward_lstm, name), getattr(self.backward_lstm, name))

    def set_(self: Any, pair: Sequence[Any] | None) -> None:
        first, second = (None, None) if pair is None else pair
        setattr(self.forward_lstm, name, first)
        setattr(self.backward_lstm, name, second)
    return property(get, set_, doc=doc)


class TimeBiLSTM(_layers.TimeBiLSTM):
    """Two LSTMs over xs (N, T, D), the first forwards in time and the second
    backwards: forward -> (N, T, 2H), backward(dhs (N, T, 2H)) -> dxs, the
    sum of both directions'. Both directions run in one compiled call.

    As in the book, ``forward_lstm`` and ``backward_lstm`` are TimeLSTMs over
    (Wx1, Wh1, b1) and (Wx2, Wh2, b2), and ``params``/``grads`` are theirs
    joined: the same arrays. They hold the state: ``h``, ``c``, ``dh`` and
    ``dc`` here are [forward_lstm's, backward_lstm's], and each direction
    starts from its own state when its ``stateful`` is set (setting
    ``stateful`` here sets both; reading it gives the pair if they differ).
    Each one can also run on its own, as a TimeLSTM.

    Parameters
    ----------
    Wx1, Wh1, b1, Wx2, Wh2, b2 : ndarray of float32 or float64
        Each direction's LSTM weights, (D, 4H), (H, 4H), (4H,).
    stateful : bool, default False

    Raises
    ------
    TypeError, ValueError
        For weights of other dtypes or shapes (named Wx1 ... b2).

    See Also
    --------
    gatedrnn.TimeBiLSTM : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeBiLSTM(*[np.ones(s) for s in [(3, 8), (2, 8), (8,)] * 2])
    >>> hs = layer.forward(np.ones((4, 5, 3)))
    >>> hs.shape, layer.backward(np.ones_like(hs)).shape, len(layer.dh)
    ((4, 5, 4), (4, 5, 3), 2)
    >>> layer.forward_lstm.params[0] is layer.params[0]
    True
    """

    h = _both("h", "the last hidden state of each direction")
    c = _both("c", "the last cell state of each direction")
    dh = _both("dh", "the gradient at each direction's initial h, after backward")
    dc = _both("dc", "the gradient at each direction's initial c, after backward")

    def __init__(self, Wx1: FloatArray, Wh1: FloatArray, b1: FloatArray, Wx2: FloatArray,
                 Wh2: FloatArray, b2: FloatArray, stateful: bool = False) -> None:
        # Checked here first, so that messages name Wx1 ... b2.
        check_weights(Wx1, Wh1, b1, 4, 1, "1")
        check_weights(Wx2, Wh2, b2, 4, 1, "2")
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        super().__init__(Wx1, Wh1, b1, Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    @property  # type: ignore[override]  # the book's: a pair when the directions differ
    def stateful(self) -> bool | tuple[bool, bool]:
        """Both directions' ``stateful``; the pair (forward's, backward's) if they differ."""
        first, second = self.forward_lstm.stateful, self.backward_lstm.stateful
        return first if first == second else (first, second)

    @stateful.setter
    def stateful(self, value: bool) -> None:
        self.forward_lstm.stateful = self.backward_lstm.stateful = value

    def _state(self, name: str, N: int, H: int, dtype: np.dtype[Any]) -> list[FloatArray]:
        """Each direction's initial state, as its own TimeLSTM would start."""
        states = []
        for which, lstm in (("forward_lstm", self.forward_lstm),
                            ("backward_lstm", self.backward_lstm)):
            value = getattr(lstm, name) if lstm.stateful else None
            states.append(lstm._stored_state(f"{name} of {which}", value, N, H, dtype))
        return states


# --- embedding, affine, softmax loss and dropout, on gatedrnn.lm's layers -------

class TimeEmbedding(_lm.TimeEmbedding):
    """xs (N, T) word ids -> W[xs], (N, T, D), as the book's.

    backward(dout) writes the gradient of W into ``grads[0]`` and returns
    None. ``W`` is ``params[0]``.

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (V, D)

    Raises
    ------
    TypeError, ValueError
        If `W` is not a 2-D float32/float64 ndarray.

    See Also
    --------
    gatedrnn.lm.TimeEmbedding : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeEmbedding(np.arange(6.0).reshape(3, 2))
    >>> layer.forward(np.array([[2, 0]]))[0]
    array([[4., 5.],
           [0., 1.]])
    """

    def __init__(self, W: FloatArray) -> None:
        super().__init__(W)

    W = property(lambda self: self.params[0], lambda self, W: self.params.__setitem__(0, W),
                 doc="the embedding, params[0] (setting it sets params[0])")


class TimeAffine(_lm.TimeAffine):
    """x (N, T, D) -> x W + b, (N, T, M), through BLAS.

    W may be a transposed view (the book's weight tying, ``TimeAffine(embed_W.T,
    b)``): it stays the object in ``params`` and is read in place. Its gradient
    has W's memory layout, as the book's ``np.zeros_like(W)``, so that adding
    its transpose to the embedding's gradient runs over contiguous memory.

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (D, M)
    b : ndarray, shape (M,), the dtype of `W`

    Raises
    ------
    TypeError, ValueError
        For other dtypes or shapes.

    See Also
    --------
    gatedrnn.lm.TimeAffine : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> embed_W = np.ones((5, 3))
    >>> layer = tl.TimeAffine(embed_W.T, np.zeros(5))        # weight tying
    >>> layer.forward(np.ones((1, 2, 3))).shape, layer.params[0].base is embed_W
    ((1, 2, 5), True)
    """

    def __init__(self, W: FloatArray, b: FloatArray) -> None:
        super().__init__(W, b)
        self.grads[0] = np.zeros_like(W)


class TimeSoftmaxWithLoss(_lm.TimeSoftmaxWithLoss):
    """forward(xs (N, T, V), ts) -> the mean cross-entropy of softmax(xs)
    against ts, word ids (N, T) or one-hot (N, T, V); targets equal to
    ``ignore_label`` (-1, settable) add nothing and the mean runs over the
    others. backward(dout=1) -> dxs (N, T, V), once per forward.

    One compiled pass per row; xs is left as it is (the book's does not
    change it either).

    See Also
    --------
    gatedrnn.lm.TimeSoftmaxWithLoss : the methods, documented in full.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeSoftmaxWithLoss()
    >>> round(layer.forward(np.zeros((1, 2, 4)), np.array([[1, 3]])), 6)   # log(4)
    1.386294
    >>> layer.backward().shape
    (1, 2, 4)
    """

    def __init__(self) -> None:
        super().__init__(overwrite_input=False)
        self.ignore_label = -1


def _check_ratio(ratio: float) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.floating, np.integer)):
        raise TypeError(f"dropout_ratio must be a number in [0, 1); got {type(ratio).__name__}")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout_ratio must lie in [0, 1); got {ratio}")


class TimeDropout:
    """Inverted dropout, the book's: in training (``train_flg = True``) each
    value is kept where ``np.random.rand(*xs.shape) > dropout_ratio`` and
    scaled by 1 / (1 - dropout_ratio); otherwise xs passes unchanged.

    The mask comes from NumPy's global generator with the book's call and
    shape, so that after ``np.random.seed(k)`` it is the book's, and a ratio
    of 0 still draws (as the book's does) to keep later draws the same.
    ``mask`` has xs's dtype (the book's is always float32, so for float64 xs
    the book's scale is rounded to float32 and this one's is not).
    backward(dout) -> dout * mask, or dout after a forward with train_flg False.

    Parameters
    ----------
    dropout_ratio : float, default 0.5
        In [0, 1).

    Raises
    ------
    TypeError, ValueError
        If `dropout_ratio` is not a number in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> np.random.seed(0)
    >>> layer = tl.TimeDropout(0.5)
    >>> out = layer.forward(np.ones((1, 2, 1000)))
    >>> sorted(set(out.ravel().tolist()))   # dropped, or kept and doubled
    [0.0, 2.0]
    >>> bool((layer.backward(np.ones_like(out)) == out).all())
    True
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        _check_ratio(dropout_ratio)
        self.params: list[FloatArray] = []
        self.grads: list[FloatArray] = []
        self.dropout_ratio = dropout_ratio
        self.mask: FloatArray | None = None
        self.train_flg = True
        self._forwarded = False

    def forward(self, xs: FloatArray) -> FloatArray:
        """xs times a fresh mask in training; xs itself otherwise.

        Parameters
        ----------
        xs : ndarray of float32 or float64, any shape

        Returns
        -------
        ndarray, the shape and dtype of `xs`

        Raises
        ------
        TypeError
            If `xs` is not a float32/float64 ndarray.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeDropout(0.5)
        >>> layer.train_flg = False
        >>> xs = np.ones((1, 2, 3))
        >>> layer.forward(xs) is xs
        True
        """
        if not isinstance(xs, np.ndarray):
            raise TypeError(f"xs must be a numpy.ndarray; got {type(xs).__name__}")
        if xs.dtype not in FLOAT_DTYPES:
            raise TypeError(f"xs must have dtype float32 or float64; got {xs.dtype}")
        if not self.train_flg:
            self.mask, self._forwarded = None, True
            return xs
        ratio = self.dropout_ratio
        _check_ratio(ratio)  # it may have been changed since construction
        keep = np.random.rand(*xs.shape) > ratio
        # mask = keep * scale in one pass, into xs's dtype (1.0 * scale, as the book's).
        mask = np.empty(xs.shape, xs.dtype)
        np.multiply(keep, xs.dtype.type(1.0 / (1.0 - ratio)), out=mask)
        self.mask, self._forwarded = mask, True
        return xs * mask

    def backward(self, dout: FloatArray) -> FloatArray:
        """dout times the last forward's mask (dout itself after an inference forward).

        Parameters
        ----------
        dout : ndarray, the shape of the forward's `xs`

        Returns
        -------
        ndarray

        Raises
        ------
        RuntimeError
            If no forward ran.
        ValueError
            If `dout` does not have the forward's shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> np.random.seed(1)
        >>> layer = tl.TimeDropout(0.5)
        >>> out = layer.forward(np.ones((1, 1, 4)))
        >>> bool((layer.backward(np.ones((1, 1, 4))) == layer.mask).all())
        True
        """
        if not self._forwarded:
            raise RuntimeError("backward() needs a forward() first")
        if self.mask is None:
            return dout
        if not isinstance(dout, np.ndarray) or dout.shape != self.mask.shape:
            got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
            raise ValueError(f"dout must have the shape of the last forward's xs, "
                             f"{self.mask.shape}; got {got}")
        return dout * self.mask


# --- the book's simple layers, vectorised --------------------------------------

def _check_float_array(a: object, name: str, ndim: int, letters: str) -> None:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64; got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have shape {letters}; got {a.shape}")


def _sigmoid(x: FloatArray) -> FloatArray:
    # exp only ever sees a non-positive argument, so nothing overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class TimeSigmoidWithLoss:
    """Binary cross-entropy of sigmoid(xs), xs (N, T), against labels ts (N, T)
    of 0 and 1: the mean over N and T of -log(p + 1e-7), p the probability of
    the label (the book's SigmoidWithLoss at each step, averaged over T).
    backward(dout=1) -> (sigmoid(xs) - ts) * dout / (N T), in xs's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.TimeSigmoidWithLoss()
    >>> round(layer.forward(np.zeros((2, 3)), np.ones((2, 3), int)), 6)   # log(2)
    0.693147
    >>> layer.backward()[0]
    array([-0.08333333, -0.08333333, -0.08333333])
    """

    def __init__(self) -> None:
        self.params: list[FloatArray] = []
        self.grads: list[FloatArray] = []
        self.xs_shape: tuple[int, ...] | None = None
        self.cache: tuple[FloatArray, NDArray[np.bool_]] | None = None  # (y, positive)

    def forward(self, xs: FloatArray, ts: IntArray) -> float:
        """The mean binary cross-entropy.

        Parameters
        ----------
        xs : ndarray of float32 or float64, shape (N, T)
            The scores.
        ts : ndarray of int or bool, shape (N, T)
            The labels, 0 or 1.

        Returns
        -------
        float

        Raises
        ------
        TypeError, ValueError
            For other dtypes, shapes or labels.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeSigmoidWithLoss()
        >>> round(layer.forward(np.array([[0.0, 100.0]]), np.array([[1, 1]])), 4)   # (log 2 + 0) / 2
        0.3466
        """
        _check_float_array(xs, "xs", 2, "(N, T)")
        ts = np.asarray(ts)
        if ts.shape != xs.shape:
            raise ValueError(f"ts must have shape (N, T) = {xs.shape} to match xs; got {ts.shape}")
        if ts.dtype.kind not in "iub":
            raise TypeError(f"ts must be integer (or bool) labels 0 and 1; got dtype {ts.dtype}")
        if np.any((ts < 0) | (ts > 1)):
            raise ValueError("ts must hold only the labels 0 and 1; got values outside them")
        y = _sigmoid(xs)
        positive = ts.astype(bool)
        p = np.where(positive, y, 1 - y)
        loss = -float(np.sum(np.log(p + _LOG_EPS))) / xs.size
        self.xs_shape = xs.shape
        self.cache = (y, positive)
        return loss

    def backward(self, dout: float = 1) -> FloatArray:
        """The gradient at xs, (N, T), times `dout`.

        Parameters
        ----------
        dout : float, default 1

        Returns
        -------
        ndarray, shape (N, T)

        Raises
        ------
        RuntimeError
            If no forward ran.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.TimeSigmoidWithLoss()
        >>> _ = layer.forward(np.zeros((1, 2)), np.array([[0, 1]]))
        >>> layer.backward()
        array([[ 0.25, -0.25]])
        """
        if self.cache is None:
            raise RuntimeError("backward() needs a forward() first")
        y, positive = self.cache
        dxs = y - positive
        dxs *= y.dtype.type(dout / y.size)
        return dxs


class Simple_TimeSoftmaxWithLoss:
    """The book's plain softmax loss: the mean over N and T of
    -log(softmax(xs)[target] + 1e-7), with no ignore_label. xs (N, T, V),
    ts word ids (N, T) or one-hot (N, T, V). backward(dout=1) ->
    (softmax(xs) - onehot(ts)) * dout / (N T), and may run again.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.Simple_TimeSoftmaxWithLoss()
    >>> round(layer.forward(np.zeros((1, 2, 4)), np.array([[1, 3]])), 6)
    1.386294
    >>> layer.backward()[0, 0]
    array([ 0.125, -0.375,  0.125,  0.125])
    """

    def __init__(self) -> None:
        self.params: list[FloatArray] = []
        self.grads: list[FloatArray] = []
        self.cache: tuple[FloatArray, IntArray] | None = None  # (ys, ts)

    def forward(self, xs: FloatArray, ts: IntArray) -> float:
        """The mean cross-entropy of softmax(xs) against ts.

        Parameters
        ----------
        xs : ndarray of float32 or float64, shape (N, T, V)
        ts : ndarray of int, shape (N, T), or one-hot (N, T, V)

        Returns
        -------
        float

        Raises
        ------
        TypeError, ValueError
            For other dtypes or shapes, or ids outside [0, V).

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.Simple_TimeSoftmaxWithLoss()
        >>> onehot = np.array([[[0, 1, 0, 0]]])
        >>> round(layer.forward(np.zeros((1, 1, 4)), onehot), 6)     # log(4)
        1.386294
        """
        _check_float_array(xs, "xs", 3, "(N, T, V)")
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != xs.shape:
                raise ValueError(f"one-hot ts must have the shape of xs, {xs.shape}; "
                                 f"got {ts.shape}")
            ts = ts.argmax(axis=2)
        if ts.shape != (N, T):
            raise ValueError(f"ts must have shape (N, T) = ({N}, {T}) to match xs; got {ts.shape}")
        ts = _lm.check_word_ids(ts, V, "ts")
        ys = xs - xs.max(axis=2, keepdims=True)
        np.exp(ys, out=ys)
        ys /= ys.sum(axis=2, keepdims=True)
        picked = np.take_along_axis(ys, ts[:, :, None], axis=2)
        loss: float = -float(np.sum(np.log(picked + _LOG_EPS))) / (N * T)
        self.cache = (ys, ts)
        return loss

    def backward(self, dout: float = 1) -> FloatArray:
        """The gradient at xs, (N, T, V), times `dout`; it may run again.

        Parameters
        ----------
        dout : float, default 1

        Returns
        -------
        ndarray, shape (N, T, V)

        Raises
        ------
        RuntimeError
            If no forward ran.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.Simple_TimeSoftmaxWithLoss()
        >>> _ = layer.forward(np.zeros((1, 1, 2)), np.array([[1]]))
        >>> layer.backward(dout=2)
        array([[[ 1., -1.]]])
        """
        if self.cache is None:
            raise RuntimeError("backward() needs a forward() first")
        ys, ts = self.cache
        N, T, V = ys.shape
        dxs: FloatArray = ys.copy()
        np.put_along_axis(dxs, ts[:, :, None],
                          np.take_along_axis(dxs, ts[:, :, None], axis=2) - 1, axis=2)
        dxs *= ys.dtype.type(dout / (N * T))
        return dxs


class Simple_TimeAffine:
    """x (N, T, D) -> x W + b, (N, T, M), as the book's per-step version (which
    keeps W and b as attributes and has no params/grads). backward(dout) ->
    dx, and sets ``dW`` and ``db`` to new arrays of the gradients (the book's
    reads a ``dW`` that its Affine layer never sets; this is what it meant).

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (D, M)
    b : ndarray, shape (M,), the dtype of `W`

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book import time_layers as tl
    >>> layer = tl.Simple_TimeAffine(np.ones((3, 2)), np.zeros(2))
    >>> out = layer.forward(np.ones((1, 4, 3)))
    >>> out.shape, layer.backward(np.ones_like(out)).shape, layer.dW
    ((1, 4, 2), (1, 4, 3), array([[4., 4.],
           [4., 4.],
           [4., 4.]]))
    """

    def __init__(self, W: FloatArray, b: FloatArray) -> None:
        self.W, self.b = W, b
        self.dW: FloatArray | None = None
        self.db: FloatArray | None = None
        self.x: FloatArray | None = None

    def _checked_weights(self) -> tuple[FloatArray, FloatArray]:
        W, b = self.W, self.b
        _check_float_array(W, "W", 2, "(D, M)")
        if not isinstance(b, np.ndarray) or b.shape != (W.shape[1],):
            got = b.shape if isinstance(b, np.ndarray) else type(b).__name__
            raise ValueError(f"b must have shape (M,) == ({W.shape[1]},); got {got}")
        if b.dtype != W.dtype:
            raise TypeError(f"b must have the dtype of W ({W.dtype}); got {b.dtype}")
        return W, b

    def forward(self, xs: FloatArray) -> FloatArray:
        """Return ``xs @ W + b``, (N, T, M), for xs (N, T, D).

        Parameters
        ----------
        xs : ndarray of W's dtype, shape (N, T, D)

        Returns
        -------
        ndarray, shape (N, T, M)

        Raises
        ------
        TypeError, ValueError
            For other dtypes or shapes (of xs, W or b).

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.Simple_TimeAffine(np.eye(2, 3), np.ones(3))
        >>> layer.forward(np.array([[[1.0, 2.0]]]))
        array([[[2., 3., 1.]]])
        """
        W, b = self._checked_weights()
        _check_float_array(xs, "xs", 3, "(N, T, D)")
        if xs.shape[2] != W.shape[0]:
            raise ValueError(f"xs must have shape (N, T, D) with D == W.shape[0] == "
                             f"{W.shape[0]}; got {xs.shape}")
        if xs.dtype != W.dtype:
            raise TypeError(f"xs must have dtype {W.dtype}, the dtype of W; got {xs.dtype}")
        N, T, D = xs.shape
        self.x = xs
        # One product over all N T rows (a 3-D @ 2-D would run one per batch row).
        out = xs.reshape(N * T, D) @ W
        out += b
        return out.reshape(N, T, -1)

    def backward(self, dout: FloatArray) -> FloatArray:
        """Return dx (N, T, D) for dout (N, T, M); set ``dW`` and ``db``.

        Parameters
        ----------
        dout : ndarray of W's dtype, shape (N, T, M)

        Returns
        -------
        ndarray, shape (N, T, D)

        Raises
        ------
        RuntimeError
            If no forward ran.
        TypeError, ValueError
            For other dtypes or shapes.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book import time_layers as tl
        >>> layer = tl.Simple_TimeAffine(np.eye(2, 3), np.zeros(3))
        >>> _ = layer.forward(np.ones((1, 2, 2)))
        >>> layer.backward(np.ones((1, 2, 3))), layer.db
        (array([[[1., 1.],
                [1., 1.]]]), array([2., 2., 2.]))
        """
        if self.x is None:
            raise RuntimeError("backward() needs a forward() first")
        W, _ = self._checked_weights()
        N, T, D = self.x.shape
        M = W.shape[1]
        if not isinstance(dout, np.ndarray) or dout.shape != (N, T, M):
            got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
            raise ValueError(f"dout must have shape (N, T, M) = ({N}, {T}, {M}); got {got}")
        if dout.dtype != W.dtype:
            raise TypeError(f"dout must have dtype {W.dtype}, the dtype of W; got {dout.dtype}")
        rdout = dout.reshape(N * T, M)
        self.dW = self.x.reshape(N * T, D).T @ rdout
        self.db = rdout.sum(axis=0)
        dx: FloatArray = (rdout @ W.T).reshape(N, T, D)
        return dx
