"""SGD and Adam with the book's update rules (common/optimizer.py), in place.

``update(params, grads)`` modifies each param array in place, so layers that
hold views of a parameter (a tied weight's transpose) see the new values.
"""
import math
import numbers

from collections.abc import Sequence

import numpy as np

from .._typing import FloatArray
from ..book.optimizer import SGD as BookSGD


def _check_lr(lr: float) -> float:
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) \
            or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number; got {lr!r}")
    return float(lr)


class _LearningRate:
    """The optimizers' ``lr``, checked whenever it is set (the book's schedules
    divide it in place: ``optimizer.lr /= 4``)."""

    @property
    def lr(self) -> float:
        """The learning rate: a positive finite number (ValueError otherwise)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_lr(value)


def _check_lists(params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
    if len(params) != len(grads):
        raise ValueError(f"params and grads must have the same length; got {len(params)} "
                         f"and {len(grads)}")
    for k, (p, g) in enumerate(zip(params, grads)):
        if p.shape != g.shape:
            raise ValueError(f"grads[{k}] must have the shape of params[{k}], {p.shape}; "
                             f"got {g.shape}")


class SGD(_LearningRate):
    """Stochastic gradient descent: ``params[i] -= lr * grads[i]``, in place.

    Parameters
    ----------
    lr : float, default 0.01
        The learning rate, positive and finite (it may be changed later,
        e.g. ``optimizer.lr /= 4``).

    Raises
    ------
    ValueError
        If `lr` is not a positive finite number.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import SGD
    >>> p = np.ones(3)
    >>> SGD(lr=0.5).update([p], [np.array([1.0, 2.0, 4.0])])
    >>> p
    array([ 0.5,  0. , -1. ])
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        """Update each param array in place.

        Parameters
        ----------
        params, grads : sequence of ndarray
            The parameters and their gradients, pairwise of one shape.

        Raises
        ------
        ValueError
            If the lengths or a pair's shapes differ.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import SGD
        >>> p = np.zeros(2)
        >>> SGD(lr=0.1).update([p], [np.ones(3)])
        Traceback (most recent call last):
            ...
        ValueError: grads[0] must have the shape of params[0], (2,); got (3,)
        """
        _check_lists(params, grads)
        # The book's rule on the kernels' threads, to NumPy's bits; never BLAS
        # axpy, whose threads would spin into the next iteration's kernels.
        BookSGD(self.lr).update(list(params), list(grads))


class Adam(_LearningRate):
    """Adam (Kingma & Ba), with the book's update rule.

    Each update, as the book writes it::

        m += (1 - beta1) (g - m);  v += (1 - beta2) (g^2 - v)
        p -= lr_t m / (sqrt(v) + 1e-7),  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)

    Parameters
    ----------
    lr : float, default 0.001
        The learning rate, positive and finite.
    beta1, beta2 : float, default 0.9 and 0.999
        The moments' decay rates, in [0, 1).

    Raises
    ------
    ValueError
        If a hyperparameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import Adam
    >>> p = np.zeros(2)
    >>> Adam(lr=0.1).update([p], [np.array([1.0, -1.0])])
    >>> p.round(6)   # the first step is lr times the gradient's sign
    array([-0.1,  0.1])
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real) \
                    or not 0 <= beta < 1:
                raise ValueError(f"{name} must be a number in [0, 1); got {beta!r}")
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: list[FloatArray] | None = None  # None until the first update
        self.v: list[FloatArray] = []

    def update(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        """Update each param array in place (the moments are kept per position).

        Parameters
        ----------
        params, grads : sequence of ndarray
            The parameters and their gradients, pairwise of one shape; the
            same list, in the same order, at every call.

        Raises
        ------
        ValueError
            If the lengths or a pair's shapes differ.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Adam
        >>> p, opt = np.zeros(1), Adam(lr=0.1)
        >>> for _ in range(3):
        ...     opt.update([p], [np.ones(1)])
        >>> opt.iter, p.round(4)     # a constant gradient: lr a step
        (3, array([-0.3]))
        """
        _check_lists(params, grads)
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * np.sqrt(1.0 - b2 ** self.iter) / (1.0 - b1 ** self.iter)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            t = g - m
            t *= (1 - b1)
            m += t
            np.square(g, out=t)
            t -= v
            t *= (1 - b2)
            v += t
            np.sqrt(v, out=t)
            t += 1e-7
            np.divide(m, t, out=t)
            t *= lr_t
            p -= t
