"""gatedrnn: fast, verified recurrent layers for NumPy code.

The layers follow the API of *Deep Learning from Scratch 2* (chapter 6) and run
on C kernels (packed-weight SIMD kernels; SciPy's BLAS as a fallback):
the LSTM, the GRU (the book's variant and the cuDNN/PyTorch/Keras one), the
plain RNN and the bidirectional LSTM, each as a whole sequence (Time*) and as
a single step.

Gate orders: LSTM f, g, i, o along 4H (PyTorch and Keras use i, f, g, o);
GRU z, r, h~ along 3H with h' = (1 - z) h + z h~ (PyTorch and Keras use
h' = z h + (1 - z) h~, and PyTorch orders its gates r, z, n).

    from gatedrnn import TimeLSTM, TimeGRU, TimeRNN, TimeBiLSTM, clip_grads
    from gatedrnn import spec    # the readable NumPy definition
    import gatedrnn.lm           # the chapter-6 language model (layers, models, training)

The kernels run on gatedrnn.get_num_threads() threads (set_num_threads(n), or
the environment variable GATEDRNN_NUM_THREADS; by default the usable CPUs).
"""
from importlib import metadata as _metadata

from . import spec
from ._kernels import get_num_threads, set_num_threads
from ._layers import GRU, LSTM, RNN, TimeBiLSTM, TimeGRU, TimeLSTM, TimeRNN
from .clip import clip_grads

# The installed distribution's version (meson.build's project(version:), its one source).
__version__: str = _metadata.version("gatedrnn")
__all__ = ["LSTM", "TimeLSTM", "GRU", "TimeGRU", "RNN", "TimeRNN", "TimeBiLSTM", "clip_grads",
           "spec", "get_num_threads", "set_num_threads", "__version__"]
