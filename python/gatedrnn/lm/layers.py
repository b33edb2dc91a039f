"""The language model's time layers, in the API of the book's common/time_layers.py.

Each layer has ``params`` and ``grads`` lists; ``grads`` are written in place
by ``backward`` so that an optimizer's references stay valid. Dtypes follow
the weights (float32 for speed, float64 for gradient checks).

The LSTM itself is :class:`gatedrnn.TimeLSTM` (compiled kernels).
"""
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _kernels
from .._checks import FLOAT_DTYPES
from .._typing import FloatArray, IntArray
from . import _products


def _require_float_param(W: object, name: str) -> None:
    if not isinstance(W, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(W).__name__}")
    if W.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64; got {W.dtype}")


def check_word_ids(ids: ArrayLike, V: int, name: str = "word ids") -> IntArray:
    """ids as an integer array with every value in [0, V); ValueError naming the
    offending ids otherwise."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers; got dtype {ids.dtype}")
    if ids.size:
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= V:
            bad = np.unique(ids[(ids < 0) | (ids >= V)])
            shown = ", ".join(str(int(i)) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
            raise ValueError(f"{name} must lie in [0, V) with V = {V} (the vocabulary size of "
                             f"the model); got {bad.size} out-of-range id(s): {shown}")
    return ids


class TimeEmbedding:
    """Word embedding: xs (N, T) word ids -> W[xs], (N, T, D).

    backward() adds the rows of dout into the gradient in one scatter (sorted
    ids, summed per distinct id), instead of a full V x D array per time step.

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (V, D)
        The embedding, one row per word id; ``params[0]``.
    accumulate : bool, default False
        Make `backward` add to ``grads[0]`` rather than overwrite it; a
        model with tied weights uses this to sum two gradients in one array.

    Raises
    ------
    TypeError, ValueError
        If `W` is not a 2-D float32/float64 ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import TimeEmbedding
    >>> layer = TimeEmbedding(np.arange(6.0).reshape(3, 2))
    >>> layer.forward(np.array([[2, 0]]))
    array([[[4., 5.],
            [0., 1.]]])
    >>> layer.backward(np.ones((1, 2, 2)))
    >>> layer.grads[0]
    array([[1., 1.],
           [0., 0.],
           [1., 1.]])
    """

    def __init__(self, W: FloatArray, accumulate: bool = False) -> None:
        _require_float_param(W, "W")
        if W.ndim != 2:
            raise ValueError(f"W must have shape (V, D); got {W.shape}")
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.accumulate = accumulate
        self.idx: IntArray | None = None

    def forward(self, xs: ArrayLike) -> FloatArray:
        """Look the ids up.

        Parameters
        ----------
        xs : array_like of int, shape (N, T)
            Word ids in [0, V).

        Returns
        -------
        ndarray, shape (N, T, D)
            The rows ``W[xs]``, in W's dtype.

        Raises
        ------
        TypeError
            If the ids are not integers.
        ValueError
            If an id is outside [0, V) (the message names them) or xs is not 2-D.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeEmbedding
        >>> TimeEmbedding(np.zeros((5, 3), np.float32)).forward([[0, 4], [1, 1]]).shape
        (2, 2, 3)
        >>> TimeEmbedding(np.zeros((5, 3))).forward([[5]])
        Traceback (most recent call last):
            ...
        ValueError: xs must lie in [0, V) with V = 5 (the vocabulary size of the model); got 1 out-of-range id(s): 5
        """
        W, = self.params
        V = W.shape[0]
        xs = check_word_ids(xs, V, "xs")
        if xs.ndim != 2:
            raise ValueError(f"xs must have shape (N, T); got {xs.shape}")
        self.idx = xs
        return np.take(W, xs, axis=0)

    def backward(self, dout: FloatArray) -> None:
        """Write (or with ``accumulate`` add) the gradient of W into ``grads[0]``.

        Parameters
        ----------
        dout : ndarray, shape (N, T, D)
            The gradient at the forward's output.

        Returns
        -------
        None
            The ids have no gradient.

        Raises
        ------
        RuntimeError
            If no forward ran.
        ValueError
            If `dout` has the wrong shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeEmbedding
        >>> layer = TimeEmbedding(np.zeros((3, 2)))
        >>> _ = layer.forward(np.array([[1, 1, 2]]))
        >>> layer.backward(np.ones((1, 3, 2)))   # repeated ids add up
        >>> layer.grads[0]
        array([[0., 0.],
               [2., 2.],
               [1., 1.]])
        """
        W, = self.params
        if self.idx is None:
            raise RuntimeError("backward() needs a forward() first")
        N, T = self.idx.shape
        D = W.shape[1]
        if not isinstance(dout, np.ndarray) or dout.shape != (N, T, D):
            got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
            raise ValueError(f"dout must have shape (N, T, D) = ({N}, {T}, {D}); got {got}")
        grad = self.grads[0]
        if not self.accumulate:
            grad[...] = 0
        scatter_add_rows(grad, self.idx.reshape(-1), dout.reshape(N * T, D))
        return None


def scatter_add_rows(grad: FloatArray, ids: IntArray, rows: FloatArray) -> FloatArray:
    """grad[ids[k]] += rows[k] for every k, repeated ids summed.

    The ids are sorted once; each run of equal ids is summed with
    ``np.add.reduceat`` and added to its row of grad in one fancy-indexed add.
    """
    if ids.size == 0:
        return grad
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    sums = np.add.reduceat(rows[order], starts, axis=0)
    grad[sorted_ids[starts]] += sums.astype(grad.dtype, copy=False)
    return grad


class TimeAffine:
    """Affine map over time: x (N, T, D) -> x @ W + b, (N, T, M).

    W may be a transposed view (weight tying): the products read it in place.
    ``grads[0]`` may likewise be a transposed view of another layer's
    gradient; it is written in place.

    Parameters
    ----------
    W : ndarray of float32 or float64, shape (D, M)
        The weights.
    b : ndarray, shape (M,), the dtype of `W`
        The bias.

    Raises
    ------
    TypeError
        If `W` or `b` is not a float32/float64 ndarray, or their dtypes differ.
    ValueError
        If the shapes do not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import TimeAffine
    >>> layer = TimeAffine(np.ones((3, 2)), np.array([0.0, 1.0]))
    >>> layer.forward(np.ones((1, 2, 3)))
    array([[[3., 4.],
            [3., 4.]]])
    >>> layer.backward(np.ones((1, 2, 2))).shape, layer.grads[1]
    ((1, 2, 3), array([2., 2.]))
    """

    def __init__(self, W: FloatArray, b: FloatArray) -> None:
        _require_float_param(W, "W")
        _require_float_param(b, "b")
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W must have shape (D, M) and b shape (M,); got {W.shape} and "
                             f"{b.shape}")
        if b.dtype != W.dtype:
            raise TypeError(f"b must have the dtype of W ({W.dtype}); got {b.dtype}")
        self.params = [W, b]
        self.grads = [np.zeros(W.shape, W.dtype), np.zeros_like(b)]
        self.x: FloatArray | None = None
        self._scratch = _kernels.MatmulScratch()

    def _rows(self, x: FloatArray) -> FloatArray:
        """x (N, T, D), checked, as C-contiguous rows (N*T, D)."""
        W = self.params[0]
        D = W.shape[0]
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != D:
            got = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"x must have shape (N, T, D) with D == W.shape[0] == {D}; got {got}")
        if x.dtype != W.dtype:
            raise TypeError(f"x must have dtype {W.dtype}, the dtype of W; got {x.dtype}")
        N, T, _ = x.shape
        return np.ascontiguousarray(x).reshape(N * T, D)

    def forward(self, x: FloatArray) -> FloatArray:
        """Return ``x @ W + b``.

        Parameters
        ----------
        x : ndarray, shape (N, T, D), the dtype of W

        Returns
        -------
        ndarray, shape (N, T, M)

        Raises
        ------
        TypeError, ValueError
            If `x` has the wrong dtype or shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeAffine
        >>> layer = TimeAffine(np.eye(2, 3), np.ones(3))
        >>> layer.forward(np.array([[[1.0, 2.0]]]))
        array([[[2., 3., 1.]]])
        """
        W, b = self.params
        M = W.shape[1]
        rx = self._rows(x)
        N, T, _ = x.shape
        out = np.empty((N * T, M), W.dtype)
        _products.matmul_into(out, rx, W, bias=np.ascontiguousarray(b), scratch=self._scratch)
        self.x = rx
        self._NT = (N, T)
        return out.reshape(N, T, M)

    def row_losses(self, x: FloatArray, targets: NDArray[np.int64]) -> FloatArray | None:
        """``-log softmax(x @ W + b)`` at `targets`, per row of the (N*T, M)
        scores, without the scores in memory (evaluation); None on the BLAS
        kernel path, where the caller computes the scores instead.

        Parameters
        ----------
        x : ndarray, shape (N, T, D), the dtype of W
        targets : ndarray of int64, shape (N*T,)
            Column indices in [0, M) (checked by the caller).

        Returns
        -------
        ndarray of float64, shape (N*T,), or None

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeAffine
        >>> layer = TimeAffine(np.zeros((2, 4)), np.zeros(4))   # uniform over 4 classes
        >>> losses = layer.row_losses(np.ones((1, 2, 2)), np.array([0, 3]))
        >>> losses is None or bool(np.allclose(losses, np.log(4)))
        True
        """
        W, b = self.params
        rx = self._rows(x)
        return _kernels.affine_xent(rx, W, np.ascontiguousarray(b), targets, self._scratch)

    def backward(self, dout: FloatArray) -> FloatArray:
        """Write dW and db into ``grads`` in place; return the gradient at x.

        Parameters
        ----------
        dout : ndarray, shape (N, T, M)
            The gradient at the forward's output.

        Returns
        -------
        dx : ndarray, shape (N, T, D)

        Raises
        ------
        RuntimeError
            If no forward ran.
        ValueError
            If `dout` has the wrong shape.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeAffine
        >>> layer = TimeAffine(np.eye(2, 3), np.zeros(3))
        >>> _ = layer.forward(np.array([[[1.0, 2.0]]]))
        >>> layer.backward(np.ones((1, 1, 3))), layer.grads[0]
        (array([[[1., 1.]]]), array([[1., 1., 1.],
               [2., 2., 2.]]))
        """
        W, b = self.params
        if self.x is None:
            raise RuntimeError("backward() needs a forward() first")
        N, T = self._NT
        D, M = W.shape
        if not isinstance(dout, np.ndarray) or dout.shape != (N, T, M):
            got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
            raise ValueError(f"dout must have shape (N, T, M) = ({N}, {T}, {M}); got {got}")
        dout = np.ascontiguousarray(dout, dtype=W.dtype).reshape(N * T, M)
        rx = self.x
        dW, db = self.grads
        _write(dW, lambda out: _products.matmul_into(out, rx.T, dout, scratch=self._scratch))
        _write(db, lambda out: _products.column_sums_into(out, dout, scratch=self._scratch))
        dx = np.empty((N * T, D), W.dtype)
        _products.matmul_into(dx, dout, W.T, scratch=self._scratch)
        return dx.reshape(N, T, D)


def _write(grad: FloatArray, compute: Callable[[FloatArray], object]) -> None:
    """Run compute(out) straight into grad when BLAS can write it, else through
    a temporary assigned in place."""
    if (grad.flags.c_contiguous or grad.flags.f_contiguous) and grad.flags.writeable:
        compute(grad)
    else:
        tmp = np.empty(grad.shape, grad.dtype)
        compute(tmp)
        grad[...] = tmp


class TimeSoftmaxWithLoss:
    """Mean cross-entropy of softmax(xs) (N, T, V) against word ids ts (N, T).

    As in the book, targets equal to ``ignore_label`` (-1) add no loss and get
    no gradient, and the mean runs over the other targets. ts may also be
    one-hot, (N, T, V).

    Numerically stable: each row is shifted by its maximum and the loss is
    ``log(sum(exp(shifted))) - shifted[target]``, so large scores neither
    overflow nor take the log of zero. When training, the forward pass already leaves the gradient
    (softmax / count) in its buffer, and backward only subtracts at the
    targets. With ``overwrite_input=True`` that buffer is xs itself (the
    models use this: the scores are theirs); otherwise a new array. The rows
    run through one compiled pass each (max, exp and sum, scale).

    Parameters
    ----------
    overwrite_input : bool, default False
        Let a training forward turn `xs` itself into the gradient buffer;
        otherwise a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import TimeSoftmaxWithLoss
    >>> layer = TimeSoftmaxWithLoss()
    >>> xs = np.zeros((1, 2, 4))             # uniform over 4 words
    >>> round(layer.forward(xs, np.array([[1, -1]])), 6)  # -1: ignored
    1.386294
    >>> layer.backward()[0, 0]
    array([ 0.25, -0.75,  0.25,  0.25])
    """

    ignore_label = -1

    def __init__(self, overwrite_input: bool = False) -> None:
        self.params: list[FloatArray] = []  # no weights
        self.grads: list[FloatArray] = []
        self.overwrite_input = overwrite_input
        # (buffer, targets, mask, count, (N, T, V)) from a training forward.
        self.cache: tuple[Any, IntArray, Any, int, tuple[int, int, int]] | None = None

    def forward(self, xs: FloatArray, ts: IntArray, train: bool = True) -> float:
        """The mean loss over the targets that are not ``ignore_label``.

        Parameters
        ----------
        xs : ndarray of float32 or float64, shape (N, T, V)
            The scores.
        ts : ndarray of int, shape (N, T), or one-hot (N, T, V)
            The target word ids; ``ignore_label`` (-1) adds no loss.
        train : bool, default True
            Keep the gradient for `backward`; False computes the loss only.

        Returns
        -------
        float
            The mean cross-entropy.

        Raises
        ------
        TypeError, ValueError
            If `xs` or `ts` has the wrong dtype or shape, an id is out of
            range, or every target is ignored.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeSoftmaxWithLoss
        >>> xs = np.log(np.array([[[0.5, 0.25, 0.25]]]))
        >>> round(TimeSoftmaxWithLoss().forward(xs, np.array([[0]]), train=False), 6)   # -log(0.5)
        0.693147
        """
        if not isinstance(xs, np.ndarray) or xs.ndim != 3:
            got = xs.shape if isinstance(xs, np.ndarray) else type(xs).__name__
            raise ValueError(f"xs must have shape (N, T, V); got {got}")
        if xs.dtype not in FLOAT_DTYPES:
            raise TypeError(f"xs must have dtype float32 or float64; got {xs.dtype}")
        N, T, V = xs.shape
        rows = N * T
        targets, mask, count = self._targets(ts, N, T, V)
        src = np.ascontiguousarray(xs).reshape(rows, V)
        buf: FloatArray | None
        scale: FloatArray | None
        if train:
            in_place = (self.overwrite_input and xs.flags.writeable
                        and np.shares_memory(src, xs))
            buf = src if in_place else np.empty((rows, V), xs.dtype)
            scale = np.where(mask, 1.0 / count, 0.0).astype(xs.dtype)
        else:
            buf = scale = None  # the loss only
        # One pass per row in C: max, exp and sum, then buf = scale * softmax
        # (the gradient, but for the -1/count at the targets added in backward).
        losses = _kernels.softmax_xent(src, targets, scale, buf)
        loss = float(np.dot(losses, mask)) / count
        self.cache = (buf, targets, mask, count, (N, T, V)) if train else None
        return loss

    def forward_affine(self, affine: TimeAffine, x: FloatArray, ts: IntArray) -> float:
        """The evaluation loss of ``affine.forward(x)`` against `ts`, the same as
        ``forward(affine.forward(x), ts, train=False)`` but without the scores
        in memory: they exist only tile by tile, in the kernels'
        output-layer loss (the unfused pair on the BLAS kernel path).

        Parameters
        ----------
        affine : TimeAffine
            The output layer, (D, V).
        x : ndarray, shape (N, T, D)
            Its input.
        ts : ndarray of int, shape (N, T), or one-hot (N, T, V)
            The target word ids; ``ignore_label`` (-1) adds no loss.

        Returns
        -------
        float
            The mean cross-entropy.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeAffine, TimeSoftmaxWithLoss
        >>> affine = TimeAffine(np.zeros((2, 4)), np.zeros(4))
        >>> round(TimeSoftmaxWithLoss().forward_affine(affine, np.ones((1, 3, 2)),
        ...                                            np.array([[0, 3, -1]])), 6)  # log 4
        1.386294
        """
        if not isinstance(x, np.ndarray) or x.ndim != 3:
            got = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"x must have shape (N, T, D); got {got}")
        N, T, _ = x.shape
        targets, mask, count = self._targets(ts, N, T, affine.params[0].shape[1])
        losses = affine.row_losses(x, targets)
        if losses is None:
            return self.forward(affine.forward(x), ts, train=False)
        self.cache = None
        return float(np.dot(losses, mask)) / count

    def _targets(self, ts: IntArray, N: int, T: int, V: int
                 ) -> tuple[NDArray[np.int64], Any, int]:
        """(targets (N*T,) int64 with 0 where ignored, the mask of the others,
        their count), from ids (N, T) or one-hot ts (N, T, V), checked."""
        ts = np.asarray(ts)
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        if ts.shape != (N, T):
            raise ValueError(f"ts must have shape (N, T) = ({N}, {T}) to match xs; got {ts.shape}")
        if ts.dtype.kind not in "iu":
            raise TypeError(f"ts must be integer word ids; got dtype {ts.dtype}")
        ts = ts.reshape(N * T)
        mask = ts != self.ignore_label
        check_word_ids(ts[mask], V, "ts (targets other than ignore_label)")
        count = int(mask.sum())
        if count == 0:
            raise ValueError("every target in ts equals ignore_label; there is no loss to average")
        return np.where(mask, ts, 0).astype(np.int64), mask, count

    def backward(self, dout: float = 1) -> FloatArray:
        """The gradient at xs, (N, T, V), times `dout`; uses up the forward's cache.

        Parameters
        ----------
        dout : float, default 1
            The gradient arriving at the loss.

        Returns
        -------
        dxs : ndarray, shape (N, T, V)
            ``(softmax(xs) - onehot(ts)) * dout / count``, zero at ignored targets.

        Raises
        ------
        RuntimeError
            If no training forward ran since the last backward.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeSoftmaxWithLoss
        >>> layer = TimeSoftmaxWithLoss()
        >>> _ = layer.forward(np.zeros((1, 1, 2)), np.array([[0]]))
        >>> layer.backward(dout=2.0)
        array([[[-1.,  1.]]])
        """
        if self.cache is None:
            raise RuntimeError("backward() needs the cache of a forward() with train=True; "
                               "run forward() again")
        buf, targets, mask, count, (N, T, V) = self.cache
        self.cache = None  # the buffer becomes the gradient
        rows = np.flatnonzero(mask)
        buf[rows, targets[rows]] -= buf.dtype.type(1.0 / count)
        if dout != 1:
            buf *= buf.dtype.type(dout)
        dxs: FloatArray = buf.reshape(N, T, V)
        return dxs


class TimeDropout:
    """Inverted dropout, as in the book: in training, each value is kept with
    probability 1 - dropout_ratio and scaled by 1 / (1 - dropout_ratio); at
    inference (``train_flg = False``) the input passes unchanged.

    Parameters
    ----------
    dropout_ratio : float, default 0.5
        The probability of dropping a value, in [0, 1).
    seed : int, numpy.random.Generator or None
        Makes the masks reproducible.

    Raises
    ------
    ValueError
        If `dropout_ratio` is outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import TimeDropout
    >>> layer = TimeDropout(0.5, seed=0)
    >>> out = layer.forward(np.ones((1, 2, 1000)))
    >>> sorted(set(out.ravel().tolist()))   # dropped, or kept and doubled
    [0.0, 2.0]
    >>> layer.train_flg = False
    >>> layer.forward(np.ones((1, 1, 3)))
    array([[[1., 1., 1.]]])
    """

    def __init__(self, dropout_ratio: float = 0.5,
                 seed: int | np.random.Generator | None = None) -> None:
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must lie in [0, 1); got {dropout_ratio}")
        self.params: list[FloatArray] = []  # no weights
        self.grads: list[FloatArray] = []
        self.dropout_ratio = dropout_ratio
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.mask: FloatArray | None = None
        self.train_flg = True

    def forward(self, xs: FloatArray) -> FloatArray:
        """Apply a fresh mask in training; return xs itself at inference.

        Parameters
        ----------
        xs : ndarray, any shape

        Returns
        -------
        ndarray, the shape of `xs`

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeDropout
        >>> out = TimeDropout(0.25, seed=0).forward(np.ones((2, 3, 100)))
        >>> out.shape, sorted(set(out.ravel().round(4).tolist()))
        ((2, 3, 100), [0.0, 1.3333])
        """
        if not self.train_flg or self.dropout_ratio == 0.0:
            self.mask = None
            return xs
        dtype = xs.dtype if xs.dtype in FLOAT_DTYPES else np.dtype(np.float64)
        keep = self.rng.random(xs.shape, dtype=np.float32) > self.dropout_ratio
        self.mask = keep.astype(dtype)
        self.mask *= dtype.type(1.0 / (1.0 - self.dropout_ratio))
        return xs * self.mask

    def backward(self, dout: FloatArray) -> FloatArray:
        """Return dout times the last forward's mask (dout itself if none was applied).

        Parameters
        ----------
        dout : ndarray, the shape of the forward's `xs`

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import TimeDropout
        >>> layer = TimeDropout(0.5, seed=0)
        >>> out = layer.forward(np.ones((1, 1, 6)))
        >>> bool((layer.backward(np.ones((1, 1, 6))) == out).all())
        True
        """
        if self.mask is None:
            return dout
        return dout * self.mask
