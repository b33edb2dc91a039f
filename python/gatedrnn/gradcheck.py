"""Central finite differences and error measures, for tests and the demo."""
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._typing import FloatArray


def numerical_gradient(loss: Callable[[], float], x: FloatArray, eps: float = 1e-6) -> FloatArray:
    """d loss() / d x by central differences; x is perturbed in place and restored."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + eps
        loss_plus = loss()
        x[idx] = original - eps
        loss_minus = loss()
        x[idx] = original
        grad[idx] = (loss_plus - loss_minus) / (2 * eps)
    return grad


def relative_error(actual: ArrayLike, expected: ArrayLike) -> float:
    """max |actual - expected| / max |expected|: an error relative to the array's scale."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} vs {expected.shape}")
    if expected.size == 0:
        return 0.0
    scale = np.max(np.abs(expected))
    diff = np.max(np.abs(actual - expected))
    return float(diff / scale) if scale > 0 else float(diff)
