"""gatedrnn: a fast, verified LSTM for NumPy code.

The layers follow the API of *Deep Learning from Scratch 2* (chapter 6) and run
on C kernels that call SciPy's BLAS. Gate order along the 4H axis is f, g, i, o
(PyTorch and Keras use i, f, g, o).

    from gatedrnn import TimeLSTM, LSTM, clip_grads
    from gatedrnn import spec    # the readable NumPy definition
    import gatedrnn.lm           # the chapter-6 language model (layers, models, training)
"""
from . import spec
from ._layers import LSTM, TimeLSTM
from .clip import clip_grads

__version__ = "0.1.0"
__all__ = ["LSTM", "TimeLSTM", "clip_grads", "spec", "__version__"]
