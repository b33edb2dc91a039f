"""Gradient clipping by the joint L2 norm, as in the book's common/util.py."""
import math

from collections.abc import Sequence

import numpy as np
from . import _kernels
from ._checks import FLOAT_DTYPES
from ._typing import FloatArray


def _sum_of_squares(grads: Sequence[FloatArray]) -> float:
    """sum(g ** 2) over all grads in float64, without a float64 copy of any,
    on the kernels' thread pool (never BLAS, whose threads would spin after)."""
    return _kernels.sum_of_squares([np.ascontiguousarray(g) for g in grads])


def clip_grads(grads: Sequence[FloatArray], max_norm: float, *,
               error_if_nonfinite: bool = False) -> float:
    """Scale ``grads`` in place so that their joint L2 norm is at most ``max_norm``.

    The book's rule: with ``total_norm`` the L2 norm of all arrays together,
    every array is multiplied by ``max_norm / (total_norm + 1e-6)`` when that
    rate is below 1. float32 and float64 arrays of any shape may be mixed in
    one list: the squares are summed in float64 (exact products of float32
    values), without a float64 copy of each array, on the kernels' threads,
    in an order fixed by the sizes: the same norm for any thread count.

    Non-finite norm (a NaN or an infinity in some gradient): by default the
    grads are left untouched and the non-finite norm is returned, so that the
    caller can skip the update; with ``error_if_nonfinite=True`` a
    ``FloatingPointError`` is raised instead. (The book's code would turn every
    gradient into NaN or zeros in this case.)

    Each array is scaled once, in place, so no two entries of ``grads`` may share
    memory (the same array listed twice, or overlapping views). The book
    removes duplicates first (``remove_duplicate``). Nothing is changed when
    an error is raised.

    Parameters
    ----------
    grads : list or tuple of ndarray of float32 or float64
        The gradients, of any shapes; float32 and float64 may be mixed.
        Scaled in place.
    max_norm : float
        The largest joint L2 norm allowed, positive and finite.
    error_if_nonfinite : bool, default False
        Raise rather than return when the norm is NaN or infinite.

    Returns
    -------
    total_norm : float
        The joint L2 norm before clipping.

    Raises
    ------
    TypeError
        If `grads` is not a list or tuple of float32/float64 ndarrays, or
        `max_norm` is not a real number.
    ValueError
        If `max_norm` is not positive and finite, two entries share memory,
        or an entry to scale is read-only.
    FloatingPointError
        If the norm is not finite and ``error_if_nonfinite=True``.

    See Also
    --------
    gatedrnn.spec.clip_grads : the book's rule in plain NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import clip_grads
    >>> grads = [np.full(4, 3.0), np.full((2, 2), 4.0, np.float32)]
    >>> clip_grads(grads, max_norm=1.0)
    10.0
    >>> round(float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))), 6)
    1.0
    >>> clip_grads([np.array([np.nan])], 1.0)
    nan
        """
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list or tuple of numpy arrays; got {type(grads).__name__}")
    for k, g in enumerate(grads):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k}] must be a numpy.ndarray; got {type(g).__name__}")
        if g.dtype not in FLOAT_DTYPES:
            raise TypeError(f"grads[{k}] must have dtype float32 or float64; got {g.dtype}")
    for k, g in enumerate(grads):
        for j in range(k):
            if np.may_share_memory(grads[j], g) and np.shares_memory(grads[j], g):
                raise ValueError(f"grads[{j}] and grads[{k}] share memory, so clip_grads would "
                                 f"scale the shared elements twice; pass each gradient once")
    if isinstance(max_norm, (bool, np.bool_)) or not isinstance(max_norm, (int, float, np.integer, np.floating)):
        raise TypeError(f"max_norm must be a real number; got {type(max_norm).__name__}")
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive finite number; got {max_norm}")

    total_norm = math.sqrt(_sum_of_squares(grads))
    if not math.isfinite(total_norm):
        if error_if_nonfinite:
            raise FloatingPointError(
                f"the total norm of grads is {total_norm}; some gradient holds NaN or Inf")
        return total_norm

    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for k, g in enumerate(grads):
            if not g.flags.writeable:
                raise ValueError(f"grads[{k}] is read-only, but clip_grads scales grads in place")
        for g in grads:
            g *= rate
    return total_norm
