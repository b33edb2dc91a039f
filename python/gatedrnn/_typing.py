"""Type aliases for the annotations: the arrays the layers take and return."""
import os
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

# Any float array: the layers follow their weights' dtype, float32 or float64.
FloatArray: TypeAlias = NDArray[np.floating[Any]]
Float32Array: TypeAlias = NDArray[np.float32]
Float64Array: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.integer[Any]]
# A file name, as open() takes it.
StrPath: TypeAlias = str | os.PathLike[str]
