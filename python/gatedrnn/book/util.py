"""The book's ``clip_grads`` and ``eval_perplexity`` (``common/util.py``), with its numbers.

``clip_grads`` gives the book's results to the bit: the squares of each
gradient are summed by a compiled pass that adds them in the order and the
dtype NumPy's ``np.sum(grad ** 2)`` does (pairwise, in float32 for float32
grads; src/lm/book_updates.c), without the temporary ``grad ** 2``, and the
norm, the rate and the scaling follow the book's scalar arithmetic. (The
package's ``gatedrnn.clip_grads`` sums in float64 and so differs from the book
in the last bits of the rate.)

``eval_perplexity`` runs the book's evaluation batches and prints its progress
lines; the batches are built with index arithmetic instead of a Python loop
over every word.
"""
import inspect
import math
import numbers
import sys

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _kernels
from .._typing import FloatArray, IntArray

# A model's forward(xs, ts[, train_flg]): the loss, of whatever type it returns.
_Forward = Callable[..., Any]

__all__ = ["clip_grads", "eval_perplexity"]

_FLOAT_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))
_INT32 = np.iinfo(np.int32)


def _sum_of_squares(grad: FloatArray) -> np.floating[Any]:
    """np.sum(grad ** 2), to the bit: a NumPy scalar of grad's dtype."""
    if grad.flags.aligned:
        if grad.flags.c_contiguous:
            return _kernels.book_sum_squares(grad)
        if grad.flags.f_contiguous:  # NumPy sums it in memory order, which .T walks in C order
            return _kernels.book_sum_squares(grad.T)
    return np.sum(grad ** 2)


def clip_grads(grads: Sequence[FloatArray], max_norm: float) -> None:
    """Scale ``grads`` in place when their joint L2 norm exceeds ``max_norm``, as the book.

    With ``total_norm = sqrt(sum of np.sum(grad ** 2))``, every array is
    multiplied by ``rate = max_norm / (total_norm + 1e-6)`` when ``rate < 1``.
    The arithmetic is the book's, in NumPy's dtypes: float32 grads give a
    float32 norm and rate. The results are bit-identical to the book's code.

    As in the book: a gradient listed twice is counted and scaled twice, a NaN
    leaves the grads unchanged, an infinite norm turns them to zeros and NaN;
    nothing is returned. Unlike the book, ``grads`` must be a list or tuple of
    float32 or float64 arrays and ``max_norm`` a positive finite number, or a
    ``TypeError`` / ``ValueError`` is raised before anything changes.

    Parameters
    ----------
    grads : list or tuple of ndarray of float32 or float64
        Scaled in place.
    max_norm : float
        Positive and finite.

    Returns
    -------
    None
        As the book's (`gatedrnn.clip_grads` returns the norm).

    Raises
    ------
    TypeError, ValueError
        For other arguments, before anything changes.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.util import clip_grads
    >>> grads = [np.full(4, 3.0, np.float32), np.full(4, 4.0, np.float32)]
    >>> clip_grads(grads, 1.0)
    >>> grads[0].round(4)
    array([0.3, 0.3, 0.3, 0.3], dtype=float32)
    """
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list or tuple of numpy arrays; got "
                        f"{type(grads).__name__}")
    for k, g in enumerate(grads):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k}] must be a numpy.ndarray; got {type(g).__name__}")
        if g.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"grads[{k}] must have dtype float32 or float64 (native byte "
                            f"order); got {g.dtype}")
    if isinstance(max_norm, (bool, np.bool_)) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"max_norm must be a real number; got {max_norm!r} "
                        f"({type(max_norm).__name__})")
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive finite number; got {max_norm!r}")

    # sum() adds from the int 0, in order: the book's running total.
    total_norm = np.sqrt(sum(_sum_of_squares(g) for g in grads))
    rate = max_norm / (total_norm + 1e-6)
    if not rate < 1:
        return
    for k, g in enumerate(grads):
        if not g.flags.writeable:
            raise ValueError(f"grads[{k}] is read-only, but clip_grads scales grads in place")
    for g in grads:
        np.multiply(g, rate, out=g)


def _evaluation_forward(model: object) -> _Forward:
    """model.forward(xs, ts) for evaluation: with train_flg=False when forward
    takes it (the book's BetterRnnlm), else plain. When the signature cannot
    be read, the book's way: try train_flg=False, and on TypeError without."""
    forward: _Forward | None = getattr(model, "forward", None)
    if not callable(forward):
        raise TypeError(f"model must have a forward(xs, ts) method; got "
                        f"{type(model).__name__}")
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        def forward_as_the_book(xs: IntArray, ts: IntArray) -> Any:
            try:
                return forward(xs, ts, train_flg=False)
            except TypeError:
                return forward(xs, ts)
        return forward_as_the_book
    if any(p.name == "train_flg" or p.kind is inspect.Parameter.VAR_KEYWORD
           for p in parameters):
        return lambda xs, ts: forward(xs, ts, train_flg=False)
    return forward


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}")
    return int(value)


def eval_perplexity(model: object, corpus: ArrayLike, batch_size: int = 10,
                    time_size: int = 35) -> np.floating[Any]:
    """The perplexity of ``model`` on ``corpus``, with the book's batches and output.

    ``max_iters = (len(corpus) - 1) // (batch_size * time_size)`` batches of
    int32 word ids: row i of batch j starts at word ``j * time_size + i *
    jump``, ``jump = (len(corpus) - 1) // batch_size``, wrapping around the
    corpus; the targets are the next words. The losses that ``model.forward``
    returns are added as they come (a float32 loss keeps the running sum in
    NumPy's arithmetic, as in the book) and the result is ``np.exp(total /
    max_iters)``. The model's state is carried from batch to batch and not
    reset first: the book's scripts call ``model.reset_state()`` before.

    Prints ``evaluating perplexity ...``, then ``\\r<batch> / <max_iters>``
    after each batch, then a newline, as the book does.

    ``model`` is any object with ``forward(xs, ts)`` returning the loss;
    ``train_flg=False`` is passed when forward accepts it. Raises
    ``ValueError`` if the corpus is too short for one batch (the book divides
    by zero), and ``TypeError`` / ``ValueError`` for a corpus that is not a
    1-D sequence of integer ids within int32.

    Parameters
    ----------
    model : object
        With ``forward(xs, ts)`` returning the mean loss.
    corpus : array_like of int, shape (n,)
        Word ids.
    batch_size, time_size : int, default 10 and 35
        Positive.

    Returns
    -------
    numpy.floating
        The perplexity, in the dtype of the losses' sum.

    Raises
    ------
    TypeError, ValueError
        As above.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.util import eval_perplexity
    >>> class Uniform:                       # a model that knows nothing
    ...     def forward(self, xs, ts):
    ...         return np.log(10.0)
    >>> ppl = eval_perplexity(Uniform(), np.arange(100) % 10, batch_size=2, time_size=5)
    ... # doctest: +ELLIPSIS
    evaluating perplexity ...
    ...8 / 9
    >>> round(float(ppl), 6)
    10.0
    """
    batch_size = _positive_int(batch_size, "batch_size")
    time_size = _positive_int(time_size, "time_size")
    ids = np.asarray(corpus)
    if ids.ndim != 1:
        raise ValueError(f"corpus must be a 1-D sequence of word ids; got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"corpus must hold integer word ids; got dtype {ids.dtype}")
    corpus_size = len(ids)
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(f"the corpus ({corpus_size} words) is too short for one batch of "
                         f"batch_size * time_size + 1 = {batch_size * time_size + 1} words")
    if ids.min() < _INT32.min or ids.max() > _INT32.max:
        raise ValueError(f"corpus word ids must fit in int32, the dtype of the book's "
                         f"batches; got ids from {ids.min()} to {ids.max()}")
    forward = _evaluation_forward(model)

    print('evaluating perplexity ...')
    jump = (corpus_size - 1) // batch_size
    # Position of word t of row i in batch 0; batch j adds j * time_size.
    first_batch = (np.arange(batch_size, dtype=np.int64)[:, None] * jump
                   + np.arange(time_size, dtype=np.int64)[None, :])
    total_loss: Any = 0  # the book's running sum: from the int 0, in the losses' type
    for iters in range(max_iters):
        positions = (first_batch + iters * time_size) % corpus_size
        xs = ids[positions].astype(np.int32)
        ts = ids[(positions + 1) % corpus_size].astype(np.int32)
        total_loss += forward(xs, ts)
        sys.stdout.write('\r%d / %d' % (iters, max_iters))
        sys.stdout.flush()
    print('')
    perplexity: np.floating[Any] = np.exp(total_loss / max_iters)
    return perplexity
