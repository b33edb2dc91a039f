"""SGD and Adam with the book's update rules (common/optimizer.py), in place.

``update(params, grads)`` modifies each param array in place, so layers that
hold views of a parameter (a tied weight's transpose) see the new values.
"""
import math
import numbers

from collections.abc import Sequence

import numpy as np

from .._typing import FloatArray
from . import _blas


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
    """params[i] -= lr * grads[i]."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        _check_lists(params, grads)
        for p, g in zip(params, grads):
            _blas.axpy_inplace(p, g, -self.lr)


class Adam(_LearningRate):
    """Adam (Kingma & Ba), written as the book writes it:

        m += (1 - beta1) (g - m);  v += (1 - beta2) (g^2 - v)
        p -= lr_t m / (sqrt(v) + 1e-7),  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
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
