"""gatedrnn.book.rnnlm_gen: the book's RnnlmGen and BetterRnnlmGen (ch07/rnnlm_gen.py),
with the book's initial weights, random numbers, stateful generate and files."""
import os

import numpy as np
import pytest

from book_generator import BookGenerator, assert_same_ids_or_tie
from gatedrnn.book.rnnlm_gen import BetterRnnlmGen, RnnlmGen


def _book_init(kind, V, D, H):
    """The book's Rnnlm / BetterRnnlm __init__ draws, as our params lists them."""
    rn = np.random.randn
    embed = (rn(V, D) / 100).astype("f")
    if kind is RnnlmGen:
        Wx = (rn(D, 4 * H) / np.sqrt(D)).astype("f")
        Wh = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        W = (rn(H, V) / np.sqrt(H)).astype("f")
        return [embed, Wx, Wh, np.zeros(4 * H, "f"), W, np.zeros(V, "f")]
    Wx1 = (rn(D, 4 * H) / np.sqrt(D)).astype("f")
    Wh1 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
    Wx2 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
    Wh2 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
    zeros = np.zeros(4 * H, "f")
    return [embed, Wx1, Wh1, zeros, Wx2, Wh2, zeros, np.zeros(V, "f")]


@pytest.mark.parametrize("kind", [RnnlmGen, BetterRnnlmGen])
def test_the_books_initial_weights_and_random_stream(kind):
    np.random.seed(7)
    expected = _book_init(kind, 40, 12, 12)
    after = np.random.random_sample()
    np.random.seed(7)
    model = kind(40, 12, 12)
    assert np.random.random_sample() == after
    assert len(model.params) == len(expected)
    for k, (p, q) in enumerate(zip(model.params, expected)):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p, q, err_msg=f"params[{k}]")


@pytest.mark.parametrize("kind", [RnnlmGen, BetterRnnlmGen])
def test_generate_is_the_books_and_carries_the_state(kind):
    np.random.seed(0)
    model = kind(50, 16, 16)
    model.params[0][...] *= 40
    book = BookGenerator(model)
    skip = [1, 2]
    for call in range(2):   # the second call goes on from the first's state, in both
        np.random.seed(10 + call)
        expected = book.generate(3, skip, sample_size=30)
        np.random.seed(10 + call)
        ours = model.generate(3, skip, sample_size=30)
        assert isinstance(ours, list) and all(type(i) is int for i in ours[1:])
        assert_same_ids_or_tie(ours, expected, book, 2e-6)
    state = model.get_state()
    h = state[0] if kind is RnnlmGen else state[1][0]
    np.testing.assert_allclose(h, book.state[-1][0], rtol=1e-4, atol=1e-6)


def test_a_sample_size_of_one_draws_nothing():
    np.random.seed(0)
    model = RnnlmGen(20, 4, 4)
    before = np.random.get_state()[1].copy()
    assert model.generate(5, sample_size=1) == [5]
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert model.get_state() == (None, None)


@pytest.mark.parametrize("kind", [RnnlmGen, BetterRnnlmGen])
def test_get_and_set_state_take_the_books_shapes(kind):
    np.random.seed(0)
    model = kind(20, 4, 4)
    model.generate(2, sample_size=4)
    state = model.get_state()
    pairs = [state] if kind is RnnlmGen else state
    assert isinstance(state, tuple if kind is RnnlmGen else list)
    assert [(h.shape, c.shape) for h, c in pairs] == [((1, 4), (1, 4))] * len(pairs)
    np.random.seed(5)
    first = model.generate(7, sample_size=12)
    model.set_state(state)
    np.random.seed(5)
    assert model.generate(7, sample_size=12) == first
    model.set_state((None, None) if kind is RnnlmGen else [(None, None)] * 2)
    assert all(h is None for h, _ in ([model.get_state()] if kind is RnnlmGen
                                      else model.get_state()))


def test_files_default_to_the_books_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    model = RnnlmGen(20, 4, 4)
    with pytest.raises(OSError, match="No file: RnnlmGen.pkl"):
        model.load_params()
    model.save_params()
    assert os.path.isfile("RnnlmGen.pkl")
    np.random.seed(1)
    other = RnnlmGen(20, 4, 4)
    other.load_params()
    for p, q in zip(other.params, model.params):
        np.testing.assert_array_equal(p, q.astype(np.float16).astype(np.float32))
