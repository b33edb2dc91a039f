"""A small program that uses gatedrnn's public API as a typed user would.

tests/test_typing.py runs ``mypy --strict`` on it (with the package), and
runs it. Every call below is a documented entry point; the annotations say
what a user may rely on: float arrays in and out, in the weights' dtype.
"""
import os
import tempfile
from typing import Any

import numpy as np
from numpy.typing import NDArray

import gatedrnn
import gatedrnn.book
from gatedrnn import GRU, LSTM, RNN, TimeBiLSTM, TimeGRU, TimeLSTM, TimeRNN, clip_grads, spec
from gatedrnn.book import optimizer as book_optimizer
from gatedrnn.book import time_layers as book_layers
from gatedrnn.book import util as book_util
from gatedrnn.gradients import book_norm, book_wh, rnn_dh_norms
from gatedrnn.interop import from_keras, to_keras
from gatedrnn.lm import SGD, Adam, Rnnlm, RnnlmTrainer, eval_perplexity, load_params, save_params

FloatArray = NDArray[np.floating[Any]]


def weights(rng: np.random.Generator, D: int, H: int, gates: int,
            dtype: type[np.float32] | type[np.float64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    Wx = (rng.standard_normal((D, gates * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.standard_normal((H, gates * H)) / np.sqrt(H)).astype(dtype)
    return Wx, Wh, np.zeros(gates * H, dtype)


def layers(rng: np.random.Generator) -> float:
    """Every compiled layer forward and backward; the spec agrees; returns the clipped norm."""
    N, T, D, H = 3, 5, 4, 6
    xs: NDArray[np.float64] = rng.standard_normal((N, T, D))
    lstm = TimeLSTM(*weights(rng, D, H, 4, np.float64), stateful=True)
    hs: FloatArray = lstm.forward(xs)
    dxs: FloatArray = lstm.backward(np.ones_like(hs))
    Wx, Wh, b = (p.copy() for p in lstm.params)
    reference = spec.TimeLSTM(Wx, Wh, b)
    assert np.allclose(reference.forward(xs), hs)
    lstm.reset_state()

    gru = TimeGRU(*weights(rng, D, H, 3, np.float64), reset_after=False)
    rnn = TimeRNN(*weights(rng, D, H, 1, np.float64), nonlinearity="relu")
    bi = TimeBiLSTM(*weights(rng, D, H, 4, np.float64), *weights(rng, D, H, 4, np.float64))
    for layer in (gru, rnn):
        layer.backward(np.ones_like(layer.forward(xs)))
    bi.backward(np.ones_like(bi.forward(xs)))

    x32 = xs[:, 0].astype(np.float32)
    h32 = np.zeros((N, H), np.float32)
    h_next, c_next = LSTM(*weights(rng, D, H, 4, np.float32)).forward(x32, h32, h32)
    h_gru: FloatArray = GRU(*weights(rng, D, H, 3, np.float32)).forward(x32, h32)
    h_rnn: FloatArray = RNN(*weights(rng, D, H, 1, np.float32)).forward(x32, h32)
    assert h_next.dtype == c_next.dtype == h_gru.dtype == h_rnn.dtype == np.float32
    assert dxs.shape == xs.shape

    previous: int = gatedrnn.set_num_threads(1)
    gatedrnn.set_num_threads(previous)
    norm: float = clip_grads(lstm.grads + gru.grads + rnn.grads + bi.grads, 1.0)
    return norm


def language_model(rng: np.random.Generator) -> float:
    """A few steps of training, saving and loading, and the perplexity."""
    corpus = rng.integers(0, 20, size=400).astype(np.int32)
    model = Rnnlm(vocab_size=20, wordvec_size=8, hidden_size=8, seed=0)
    trainer = RnnlmTrainer(model, SGD(lr=1.0))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=4, time_size=5,
                max_grad=0.25, eval_interval=5)
    ppl: list[float] = trainer.ppl_list
    assert ppl, "fit records a perplexity every eval_interval iterations"
    with tempfile.TemporaryDirectory() as folder:
        path = save_params(model, os.path.join(folder, "model.npz"))
        load_params(Rnnlm(vocab_size=20, wordvec_size=8, hidden_size=8), path)
    Adam(lr=0.01).update(model.params, model.grads)
    return eval_perplexity(model, corpus, batch_size=2, time_size=5)


def the_book(rng: np.random.Generator) -> float:
    """The book's API (gatedrnn.book) and its chapter-6 helpers."""
    replaced: dict[str, tuple[str, ...]] = gatedrnn.book.install()
    assert gatedrnn.book.is_installed() and replaced
    gatedrnn.book.uninstall()
    layer = book_layers.TimeLSTM(*weights(rng, 4, 6, 4, np.float32))
    hs = layer.forward(rng.standard_normal((2, 3, 4)).astype(np.float32))
    layer.backward(np.ones_like(hs))
    book_optimizer.Adam().update(layer.params, layer.grads)
    book_util.clip_grads(layer.grads, 5.0)
    keras: dict[str, Any] = to_keras(TimeGRU(*weights(rng, 4, 6, 3, np.float32)[:2],
                                             np.zeros((2, 18), np.float32), reset_after=True))
    back = from_keras("gru", keras["kernel"], keras["recurrent_kernel"], keras["bias"])
    assert isinstance(back, TimeGRU)
    norms: NDArray[np.float64] = rnn_dh_norms(book_wh(0.5), np.zeros((2, 20, 3)))
    return book_norm(np.ones((2, 3))) * float(norms[-1])


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"gatedrnn {gatedrnn.__version__}: clipped norm {layers(rng):.3f}, "
          f"perplexity {language_model(rng):.1f}, book norm {the_book(rng):.3g}")


if __name__ == "__main__":
    main()
