"""Type aliases for the annotations: the arrays the layers take and return."""
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

# Any float array: the layers follow their weights' dtype, float32 or float64.
FloatArray: TypeAlias = NDArray[np.floating[Any]]
Float32Array: TypeAlias = NDArray[np.float32]
Float64Array: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.integer[Any]]
