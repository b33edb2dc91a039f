"""gatedrnn: a fast, verified LSTM for NumPy code.

The layers follow the API of *Deep Learning from Scratch 2* (chapter 6) and run
on C kernels (packed-weight SIMD kernels; SciPy's BLAS as a fallback). Gate order along the 4H axis is f, g, i, o
(PyTorch and Keras use i, f, g, o).

    from gatedrnn import TimeLSTM, LSTM, clip_grads
    from gatedrnn import spec    # the readable NumPy definition
    import gatedrnn.lm           # the chapter-6 language model (layers, models, training)

The kernels run on gatedrnn.get_num_threads() threads (set_num_threads(n), or
the environment variable GATEDRNN_NUM_THREADS; by default the usable CPUs).
"""
from . import spec
from ._kernels import get_num_threads, set_num_threads
from ._layers import LSTM, TimeLSTM
from .clip import clip_grads

__version__ = "0.1.0"
__all__ = ["LSTM", "TimeLSTM", "clip_grads", "spec", "get_num_threads", "set_num_threads",
           "__version__"]
