"""Type aliases for the annotations: the arrays the layers take and return."""
import os
from typing import Any, Protocol, TypeAlias

import numpy as np
from numpy.typing import NDArray

# Any float array: the layers follow their weights' dtype, float32 or float64.
FloatArray: TypeAlias = NDArray[np.floating[Any]]
Float32Array: TypeAlias = NDArray[np.float32]
Float64Array: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.integer[Any]]
# A file name, as open() takes it.
StrPath: TypeAlias = str | os.PathLike[str]


class LanguageModelLike(Protocol):
    """What the trainer and eval_perplexity need of a model: gatedrnn.lm's
    models, and the book's, which take no ``train_flg``."""

    params: list[FloatArray]
    grads: list[FloatArray]

    def forward(self, xs: IntArray, ts: IntArray, /) -> float: ...
    def backward(self) -> object: ...
    def reset_state(self) -> None: ...
    def save_params(self, file_name: StrPath, /) -> None: ...


class OptimizerLike(Protocol):
    """What the trainer needs of an optimizer: gatedrnn.lm's, and the book's."""

    lr: float

    def update(self, params: list[FloatArray], grads: list[FloatArray], /) -> None: ...
