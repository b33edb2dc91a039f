"""The book's chapter-7 generator (ch07/rnnlm_gen.py, RnnlmGen.generate and
BetterRnnlmGen.generate) written out in NumPy, on the parameters of a
gatedrnn.lm model: the reference the generation tests compare with.

It follows the book's code step by step: a stateful LSTM in the book's
formulas (common/time_layers.py), the output scores, the book's softmax
(common/functions.py), ``np.random.choice(len(p), size=1, p=p)`` from the
global generator, and the book's loop, in which a drawn id in ``skip_ids``
is dropped and the last input is predicted from again. Besides the ids it
records, for every draw, how close its uniform number came to a boundary of
the cumulative distribution: a draw that close can land on the other side in
a computation that rounds differently (ours), and only such a draw may make
the ids differ.
"""
import numpy as np

from gatedrnn.lm import BetterRnnlm


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def book_softmax(x):
    """common/functions.py's softmax of a 1-D array."""
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


class BookGenerator:
    """RnnlmGen / BetterRnnlmGen over a model's parameters (copied)."""

    def __init__(self, model):
        p = [a.copy() for a in model.params]
        self.E = p[0]
        if isinstance(model, BetterRnnlm):
            self.lstms = [tuple(p[1:4]), tuple(p[4:7])]
            self.W, self.b = p[0].T, p[7]
        else:
            self.lstms = [tuple(p[1:4])]
            self.W, self.b = p[4], p[5]
        self.reset_state()
        self.margins = []

    def reset_state(self):
        self.state = [None] * len(self.lstms)

    def predict(self, word_id):
        """The scores (V,) after feeding one id, the state carried on."""
        x = self.E[np.array(word_id).reshape(1, 1)][:, 0]
        for k, (Wx, Wh, b) in enumerate(self.lstms):
            H = Wh.shape[0]
            h, c = self.state[k] or (np.zeros((1, H), Wx.dtype), np.zeros((1, H), Wx.dtype))
            A = x @ Wx + h @ Wh + b
            f, g = _sigmoid(A[:, :H]), np.tanh(A[:, H:2 * H])
            i, o = _sigmoid(A[:, 2 * H:3 * H]), _sigmoid(A[:, 3 * H:])
            c = f * c + g * i
            h = o * np.tanh(c)
            self.state[k] = (h, c)
            x = h
        return (x @ self.W + self.b).flatten()

    def _choice(self, p):
        """np.random.choice(len(p), size=1, p=p), recording the draw's margin."""
        saved = np.random.get_state()
        u = np.random.random_sample()
        np.random.set_state(saved)
        sampled = np.random.choice(len(p), size=1, p=p)
        cdf = np.cumsum(p.astype(np.float64))
        cdf /= cdf[-1]
        j = int(sampled[0])
        lower = cdf[j - 1] if j else 0.0
        self.margins.append(min(u - lower, cdf[j] - u))
        return sampled

    def generate(self, start_id, skip_ids=None, sample_size=100):
        """The book's RnnlmGen.generate (its int() of an array fixed)."""
        word_ids = [start_id]
        self.margins = []
        self.draws = [0]   # draws made when word_ids[k] was appended
        x = start_id
        while len(word_ids) < sample_size:
            score = self.predict(x)
            p = book_softmax(score)
            sampled = self._choice(p)
            if (skip_ids is None) or (sampled not in skip_ids):
                x = int(sampled[0])
                word_ids.append(x)
                self.draws.append(len(self.margins))
        return word_ids


def assert_same_ids_or_tie(ours, book, generator, tie):
    """ours == book (both with the start id first), or the book's draws up to
    the one that gave the first differing id include one whose uniform fell
    within `tie` of a boundary, where rounding decides."""
    ours, book = list(map(int, ours)), list(map(int, book))
    assert len(ours) == len(book)
    if ours == book:
        return
    first = next(k for k in range(len(ours)) if ours[k] != book[k])
    margins = generator.margins[:generator.draws[first]]
    closest = min(margins)
    assert closest < tie, (f"the ids differ first at {first} (ours {ours[first]}, the book's "
                           f"{book[first]}), and none of the {len(margins)} draws up to there "
                           f"was within {tie} of a boundary (closest {closest:.3g})")
