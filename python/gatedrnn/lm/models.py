"""The chapter-6 language models, in the book's API.

    model.forward(xs, ts, train_flg=True) -> mean loss (float)
    model.backward()                      -> fills model.grads in place
    model.params, model.grads             -> one entry per distinct array
    model.reset_state(), model.predict(xs, train_flg=False)
    model.save_params(path), model.load_params(path)

``params`` holds every trainable array once. In BetterRnnlm the output
layer's weight is the transposed embedding (weight tying); both gradients are
summed into one array, so an optimizer updates the shared weight once and
nothing has to search the list for duplicates.
"""
import os
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .._checks import check_array
from .._layers import TimeLSTM
from .layers import TimeAffine, TimeDropout, TimeEmbedding, TimeSoftmaxWithLoss
from .._typing import FloatArray, IntArray
from .._typing import StrPath
from .params import ParamsInfo, assign_arrays, load_params, read_params_file, save_params

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _rngs(seed: int | None, n: int) -> list[np.random.Generator]:
    """A Generator for the weights and n more for dropout, from one seed."""
    children = np.random.SeedSequence(seed).spawn(n + 1)
    return [np.random.default_rng(s) for s in children]


def _sizes(**sizes: int) -> list[int]:
    for name, value in sizes.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return [int(v) for v in sizes.values()]


def _dtype(dtype: DTypeLike) -> np.dtype[Any]:
    dtype = np.dtype(dtype)
    if dtype not in _DTYPES:
        raise TypeError(f"dtype must be float32 or float64; got {dtype}")
    return dtype


class _LanguageModel:
    """What Rnnlm and BetterRnnlm share: forward/backward plumbing and params I/O."""

    # Set by the subclasses' __init__.
    params: list[FloatArray]
    grads: list[FloatArray]
    loss_layer: TimeSoftmaxWithLoss

    affine: TimeAffine

    def predict(self, xs: IntArray, train_flg: bool = False) -> FloatArray:
        raise NotImplementedError

    def _features(self, xs: IntArray, train_flg: bool) -> FloatArray:
        """What the output layer reads: the last layer's hidden states."""
        raise NotImplementedError

    def book_params(self) -> list[FloatArray]:
        raise NotImplementedError

    def load_book_arrays(self, arrays: Sequence[ArrayLike]) -> None:
        raise NotImplementedError

    def forward(self, xs: IntArray, ts: IntArray, train_flg: bool = True) -> float:
        """The mean cross-entropy of the next-word scores against `ts`.

        Parameters
        ----------
        xs, ts : ndarray of int, shape (N, T)
            Word ids in [0, V): the inputs and the targets (the next words).
        train_flg : bool, default True
            Keep what `backward` needs and apply dropout; False evaluates.

        Returns
        -------
        float
            The mean loss (its exponential is the perplexity).

        Raises
        ------
        TypeError, ValueError
            If the ids are not integers in [0, V) of shape (N, T).

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> xs = np.array([[1, 2, 3]])
        >>> loss = model.forward(xs, xs + 1, train_flg=False)
        >>> type(loss).__name__, bool(abs(loss - np.log(10)) < 0.1)
        ('float', True)
        """
        if not train_flg:  # the loss alone: the scores never exist whole
            return self.loss_layer.forward_affine(self.affine, self._features(xs, False), ts)
        score = self.predict(xs, train_flg)
        return self.loss_layer.forward(score, ts, train=train_flg)

    def save_params(self, file_name: StrPath | None = None, **kwargs: Any) -> None:
        """Save the parameters to ``file_name`` (default ``<ClassName>.npz``).

        Parameters
        ----------
        file_name : str or os.PathLike, optional
            ``.npz`` (read without pickle; it records the model and its
            sizes), or ``.pkl``, the book's format (float16 arrays).
        **kwargs
            Passed to `gatedrnn.lm.save_params` (e.g. ``vocab=``).

        Examples
        --------
        >>> import os, tempfile
        >>> from gatedrnn.lm import Rnnlm
        >>> path = os.path.join(tempfile.mkdtemp(), "lm.npz")
        >>> Rnnlm(10, 4, 5, seed=0).save_params(path)
        >>> other = Rnnlm(10, 4, 5, seed=1)
        >>> other.load_params(path)
        >>> bool((other.params[0] == Rnnlm(10, 4, 5, seed=0).params[0]).all())
        True
        """
        if file_name is None:
            file_name = type(self).__name__ + ".npz"
        save_params(self, file_name, **kwargs)

    def load_params(self, file_name: StrPath | None = None) -> None:
        """Load the parameters from ``file_name`` (default ``<ClassName>.npz``), in place.

        Parameters
        ----------
        file_name : str or os.PathLike, optional
            An ``.npz`` written by `save_params`, or the book's ``.pkl``
            (read with an unpickler that admits only NumPy arrays; still,
            read only files you trust).

        Raises
        ------
        ValueError
            If the file's arrays do not fit this model.

        Examples
        --------
        >>> import os, tempfile
        >>> from gatedrnn.lm import Rnnlm
        >>> path = os.path.join(tempfile.mkdtemp(), "lm.npz")
        >>> Rnnlm(10, 4, 5, seed=0).save_params(path)
        >>> Rnnlm(10, 4, 6).load_params(path)
        Traceback (most recent call last):
            ...
        ValueError: ...
        """
        if file_name is None:
            file_name = type(self).__name__ + ".npz"
        load_params(self, file_name)

    def generate(self, start: ArrayLike, length: int = 100, *,
                 skip_ids: ArrayLike | None = None, temperature: float = 1.0,
                 top_k: int | None = None, samples: int | None = None,
                 rng: Any = None, keep_state: bool = False) -> IntArray:
        """Sample word ids: the prompt `start`, then `length` ids drawn one by one.

        The prompt goes through the model in one call over its whole length;
        then each id is drawn from ``softmax(scores / temperature)`` and fed
        back. Generation starts from the model's state (zeros after
        `reset_state`, or a state set with `set_state`), which is left as it
        was unless ``keep_state``.

        Parameters
        ----------
        start : int or array_like of int
            A start id, a prompt of ids (P,), or one prompt per sample (N, P).
        length : int, default 100
            Ids to sample after the prompt (the book's ``sample_size`` counts
            the start id too: ``sample_size - 1``).
        skip_ids : array_like of int, optional
            Ids never produced. When sampling, a drawn id in the set is
            dropped and the sample's last input is fed to the model again
            before it draws anew: the book's ``RnnlmGen`` rule, which
            advances the state (after 1000 drops in a row the draw is made
            from the other ids' weights alone). With `top_k` or
            ``temperature=0`` they are left out of the choice instead.
        temperature : float, default 1.0
            Scores are divided by it: below 1 sharper, above 1 flatter; 0
            takes the likeliest id every time (greedy, no random numbers).
        top_k : int, optional
            Draw only among the `top_k` likeliest ids (those not skipped;
            ids tied with the `top_k`-th are kept too).
        samples : int, optional
            Sample this many sequences at once from one prompt (rows of the
            same calls); the result is then (samples, length).
        rng : numpy.random.Generator, int, RandomState, numpy.random or None; or a sequence of them
            The random numbers: a Generator, a seed, None (fresh entropy),
            or the module ``numpy.random`` for its global generator, with
            which, after ``np.random.seed(s)``, the ids are those of the
            book's ``RnnlmGen.generate`` (one ``random_sample()`` per draw).
            A sequence gives each sample its own source: the batch then
            equals that many single runs.
        keep_state : bool, default False
            Leave the model in the state after the prompt and every sampled
            id but the last (as the book's generator does), so that
            ``generate(ids[-1], ...)`` continues the text.

        Returns
        -------
        ndarray of int64
            Shape (length,), or (N, length) with `samples` or a 2-D `start`.

        Raises
        ------
        TypeError, ValueError
            If an argument is of the wrong type or out of range (length < 1,
            temperature < 0, top_k outside [1, V], skip_ids covering the
            vocabulary, ids outside [0, V)), or the model's stored state fits
            neither one row nor N; nothing is drawn and nothing changes then.

        See Also
        --------
        gatedrnn.book.RnnlmGen : the book's generator class, on this method.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=50, wordvec_size=8, hidden_size=8, seed=0)
        >>> ids = model.generate(3, 10, skip_ids=[0, 1], rng=0)
        >>> ids.shape, bool(np.isin(ids, [0, 1]).any())
        ((10,), False)
        >>> model.generate([3, 4, 5], 6, samples=4, rng=1).shape
        (4, 6)
        >>> greedy = model.generate(3, 5, temperature=0)
        >>> bool((greedy == model.generate(3, 5, temperature=0)).all())
        True
        """
        from .generate import generate
        return generate(cast("Rnnlm | BetterRnnlm", self), start, length, skip_ids=skip_ids, temperature=temperature,
                        top_k=top_k, samples=samples, rng=rng, keep_state=keep_state)

    def _lstms(self) -> list[TimeLSTM]:
        raise NotImplementedError

    def get_state(self) -> list[tuple[FloatArray | None, FloatArray | None]]:
        """The LSTMs' states, ``[(h, c), ...]`` from the first LSTM on (None before any).

        Rnnlm's is a list of one pair; the book's ``RnnlmGen.get_state``
        returns the pair itself (`gatedrnn.book.RnnlmGen` does).

        Returns
        -------
        list of (h, c)
            Each (N, H) or None.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> model.get_state()
        [(None, None)]
        >>> _ = model.predict(np.array([[1, 2]]))
        >>> [(h.shape, c.shape) for h, c in model.get_state()]
        [((1, 5), (1, 5))]
        """
        return [(layer.h, layer.c) for layer in self._lstms()]

    def set_state(self, state: Sequence[tuple[FloatArray | None, FloatArray | None]]) -> None:
        """Set the LSTMs' states, as `get_state` returns them (None: zeros).

        Parameters
        ----------
        state : sequence of (h, c)
            One pair per LSTM, each (N, H) of the model's dtype, or None.

        Raises
        ------
        TypeError, ValueError
            If a pair does not fit its LSTM; nothing changes then.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> _ = model.predict(np.array([[1, 2]]))
        >>> saved = model.get_state()
        >>> _ = model.predict(np.array([[3]]))
        >>> model.set_state(saved)
        >>> model.get_state()[0][0] is saved[0][0]
        True
        """
        layers = self._lstms()
        if not isinstance(state, (list, tuple)) or len(state) != len(layers) or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in state):
            raise ValueError(f"state must be {len(layers)} pair(s) (h, c), one per LSTM, as "
                             f"get_state() returns; got {type(state).__name__}")
        checked: list[tuple[FloatArray, FloatArray | None] | None] = []
        for k, (layer, (h, c)) in enumerate(zip(layers, state)):
            if h is None:
                if c is not None:
                    raise ValueError(f"state[{k}] has c but no h")
                checked.append(None)
                continue
            H = layer.params[1].shape[0]
            h = check_array(h, f"state[{k}]'s h", layer.dtype, (None, H), "(N, H)",
                            f"with H == {H}")
            if c is not None:
                c = check_array(c, f"state[{k}]'s c", layer.dtype, h.shape, "(N, H)",
                                "to match h")
            checked.append((h, c))
        for layer, pair in zip(layers, checked):
            if pair is None:
                layer.reset_state()
            else:
                layer.h, layer.c = pair

    @property
    def dtype(self) -> np.dtype[Any]:
        """The parameters' dtype, float32 or float64."""
        return self.params[0].dtype

    @property
    def vocab_size(self) -> int:
        """V, the number of words."""
        return int(self.params[0].shape[0])


class Rnnlm(_LanguageModel):
    """The book's LSTM language model (ch06 ``Rnnlm``).

    Embedding -> TimeLSTM (stateful) -> Affine -> softmax with loss.
    Initialised as in the book (embedding N(0, 0.01^2), LSTM and affine
    weights N(0, 1/fan_in), zero biases), from ``seed``.

    Parameters
    ----------
    vocab_size : int, default 10000
        V, the number of words.
    wordvec_size : int, default 100
        D, the embedding size.
    hidden_size : int, default 100
        H, the LSTM's size.
    seed : int or None, keyword-only
        Fixes the initial weights.
    dtype : float32 or float64, keyword-only, default float32

    Attributes
    ----------
    params, grads : list of ndarray
        ``[embed W (V, D), LSTM Wx (D, 4H), Wh (H, 4H), b (4H,), affine W
        (H, V), b (V,)]`` and their gradients, written in place by `backward`.

    Raises
    ------
    ValueError
        If a size is not a positive integer.
    TypeError
        If `dtype` is not float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, SGD
    >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
    >>> xs = np.array([[1, 2, 3], [4, 5, 6]])
    >>> loss = model.forward(xs, xs + 1)
    >>> bool(abs(loss - np.log(10)) < 0.1)    # near-uniform at the start
    True
    >>> model.backward()
    >>> SGD(lr=1.0).update(model.params, model.grads)
    >>> model.predict(xs).shape
    (2, 3, 10)
    """

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 100, hidden_size: int = 100,
                 *, seed: int | None = None, dtype: DTypeLike = np.float32) -> None:
        V, D, H = _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size,
                         hidden_size=hidden_size)
        dtype = _dtype(dtype)
        rng, = _rngs(seed, 0)
        rn = rng.standard_normal

        embed_W = (rn((V, D)) / 100).astype(dtype)
        lstm_Wx = (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype)
        lstm_Wh = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b = np.zeros(4 * H, dtype)
        affine_W = (rn((H, V)) / np.sqrt(H)).astype(dtype)
        affine_b = np.zeros(V, dtype)

        self.embed = TimeEmbedding(embed_W)
        self.lstm_layer = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.affine = TimeAffine(affine_W, affine_b)
        self.layers: list[TimeEmbedding | TimeLSTM | TimeAffine] = [
            self.embed, self.lstm_layer, self.affine]
        self.loss_layer = TimeSoftmaxWithLoss(overwrite_input=True)

        self.params: list[FloatArray] = []
        self.grads: list[FloatArray] = []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs: IntArray, train_flg: bool = False) -> FloatArray:
        """Next-word scores (before the softmax) for word ids.

        Parameters
        ----------
        xs : ndarray of int, shape (N, T)
            Word ids in [0, V).
        train_flg : bool, default False
            Keep the backward cache (training).

        Returns
        -------
        ndarray, shape (N, T, V), the model's dtype

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> model.predict(np.array([[1, 2, 3]])).shape
        (1, 3, 10)
        """
        return self.affine.forward(self._features(xs, train_flg))

    def _features(self, xs: IntArray, train_flg: bool) -> FloatArray:
        return self.lstm_layer.forward(self.embed.forward(xs), train=train_flg)

    def backward(self, dout: float = 1) -> None:
        """Write the gradients of the last training forward's loss into ``grads``.

        Parameters
        ----------
        dout : float, default 1
            The gradient arriving at the loss.

        Raises
        ------
        RuntimeError
            If no training forward ran since the last backward.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> xs = np.array([[1, 2, 3]])
        >>> _ = model.forward(xs, xs + 1)
        >>> model.backward()
        >>> [g.shape for g in model.grads][:3]
        [(10, 4), (4, 20), (5, 20)]
        """
        d = self.loss_layer.backward(dout)
        d = self.affine.backward(d)
        d = self.lstm_layer.backward(d)
        self.embed.backward(d)

    def _lstms(self) -> list[TimeLSTM]:
        return [self.lstm_layer]

    def reset_state(self) -> None:
        """Forget the LSTM's state: the next forward starts from zeros.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> _ = model.predict(np.array([[1, 2]]))
        >>> model.reset_state()
        >>> model.lstm_layer.h is None
        True
        """
        self.lstm_layer.reset_state()

    # The book's parameter files list the arrays in this order.
    def book_params(self) -> list[FloatArray]:
        """The arrays in the order of the book's parameter files (``params``).

        Returns
        -------
        list of ndarray

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> len(model.book_params())
        6
        """
        return list(self.params)

    def load_book_arrays(self, arrays: Sequence[ArrayLike]) -> None:
        """Copy arrays listed in the book's order into ``params``, in place.

        Parameters
        ----------
        arrays : sequence of array_like
            The 6 arrays, as `book_params` lists them (any float dtype).

        Raises
        ------
        ValueError
            If their number or shapes do not fit.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm
        >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=5, seed=0)
        >>> model.load_book_arrays([np.zeros(p.shape, np.float16) for p in model.params])
        >>> float(abs(model.params[0]).max())
        0.0
        """
        assign_arrays(self.params, arrays, type(self).__name__)


class BetterRnnlm(_LanguageModel):
    """Embedding -> Dropout -> LSTM -> Dropout -> LSTM -> Dropout -> Affine.

    The affine weight is the embedding's transpose (weight tying), so
    ``wordvec_size`` must equal ``hidden_size``. ``params`` lists the shared
    array once (as the embedding, (V, D)); its gradient is the sum of the
    embedding's and the transposed affine's: the affine backward writes its
    part straight into that array, and the embedding's rows are added to it.

    ``seed`` fixes both the initial weights and the dropout masks.

    Parameters
    ----------
    vocab_size : int, default 10000
        V, the number of words.
    wordvec_size, hidden_size : int, default 650
        D and H; weight tying needs them equal.
    dropout_ratio : float, default 0.5
        For the three dropout layers.
    seed : int or None, keyword-only
        Fixes the initial weights and the dropout masks.
    dtype : float32 or float64, keyword-only, default float32

    Attributes
    ----------
    params, grads : list of ndarray
        ``[embed W (V, D), LSTM 1's Wx, Wh, b, LSTM 2's Wx, Wh, b, affine b (V,)]``
        and their gradients.

    Raises
    ------
    ValueError
        If a size is not a positive integer or D != H.
    TypeError
        If `dtype` is not float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import BetterRnnlm
    >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
    >>> [p.shape for p in model.params][:2], len(model.params)
    ([(10, 4), (4, 16)], 8)
    >>> xs = np.array([[1, 2, 3]])
    >>> _ = model.forward(xs, xs + 1)
    >>> model.backward()
    >>> model.predict(xs).shape
    (1, 3, 10)
    """

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 650, hidden_size: int = 650,
                 dropout_ratio: float = 0.5, *, seed: int | None = None,
                 dtype: DTypeLike = np.float32) -> None:
        V, D, H = _sizes(vocab_size=vocab_size, wordvec_size=wordvec_size,
                         hidden_size=hidden_size)
        if D != H:
            raise ValueError(f"weight tying needs wordvec_size == hidden_size; got {D} and {H}")
        dtype = _dtype(dtype)
        rng, *drop_rngs = _rngs(seed, 3)
        rn = rng.standard_normal

        embed_W = (rn((V, D)) / 100).astype(dtype)
        lstm_Wx1 = (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype)
        lstm_Wh1 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b1 = np.zeros(4 * H, dtype)
        lstm_Wx2 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_Wh2 = (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype)
        lstm_b2 = np.zeros(4 * H, dtype)
        affine_b = np.zeros(V, dtype)

        # The affine layer runs first in backward and overwrites the shared
        # gradient; the embedding then adds its rows (accumulate=True).
        self.embed = TimeEmbedding(embed_W, accumulate=True)
        self.affine = TimeAffine(embed_W.T, affine_b)
        self.affine.grads[0] = self.embed.grads[0].T
        self.drop_layers = [TimeDropout(dropout_ratio, seed=r) for r in drop_rngs]
        self.lstm_layers = [TimeLSTM(lstm_Wx1, lstm_Wh1, lstm_b1, stateful=True),
                            TimeLSTM(lstm_Wx2, lstm_Wh2, lstm_b2, stateful=True)]
        self.layers = [self.embed, self.drop_layers[0], self.lstm_layers[0],
                       self.drop_layers[1], self.lstm_layers[1], self.drop_layers[2],
                       self.affine]
        self.loss_layer = TimeSoftmaxWithLoss(overwrite_input=True)

        lstm1, lstm2 = self.lstm_layers
        self.params = [embed_W, *lstm1.params, *lstm2.params, affine_b]
        self.grads = [self.embed.grads[0], *lstm1.grads, *lstm2.grads, self.affine.grads[1]]

    def predict(self, xs: IntArray, train_flg: bool = False) -> FloatArray:
        """Next-word scores (N, T, V) for word ids xs (N, T); dropout only if train_flg.

        Parameters
        ----------
        xs : ndarray of int, shape (N, T)
        train_flg : bool, default False

        Returns
        -------
        ndarray, shape (N, T, V)

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import BetterRnnlm
        >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
        >>> model.predict(np.array([[1, 2, 3]])).shape
        (1, 3, 10)
        """
        return self.affine.forward(self._features(xs, train_flg))

    def _features(self, xs: IntArray, train_flg: bool) -> FloatArray:
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        x = self.embed.forward(xs)
        for k in range(2):
            x = self.drop_layers[k].forward(x)
            x = self.lstm_layers[k].forward(x, train=train_flg)
        return self.drop_layers[2].forward(x)

    def backward(self, dout: float = 1) -> None:
        """Write the gradients of the last training forward's loss into ``grads``.

        Parameters
        ----------
        dout : float, default 1
            The gradient arriving at the loss.

        Raises
        ------
        RuntimeError
            If no training forward ran since the last backward.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import BetterRnnlm
        >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
        >>> _ = model.forward(np.array([[1, 2]]), np.array([[2, 3]]))
        >>> model.backward()
        >>> model.grads[0].shape     # the tied weight's gradient, summed
        (10, 4)
        """
        d = self.loss_layer.backward(dout)
        d = self.affine.backward(d)            # writes the shared gradient
        for k in (1, 0):
            d = self.drop_layers[k + 1].backward(d)
            d = self.lstm_layers[k].backward(d)
        d = self.drop_layers[0].backward(d)
        self.embed.backward(d)                 # adds to the shared gradient

    def _lstms(self) -> list[TimeLSTM]:
        return list(self.lstm_layers)

    def reset_state(self) -> None:
        """Forget both LSTMs' states: the next forward starts from zeros.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import BetterRnnlm
        >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
        >>> _ = model.predict(np.array([[1, 2]]))
        >>> model.reset_state()
        >>> [lstm.h for lstm in model.lstm_layers]
        [None, None]
        """
        for layer in self.lstm_layers:
            layer.reset_state()

    # The book's files list the tied weight twice: [embed W, 6 LSTM arrays,
    # embed W.T, affine b].
    def book_params(self) -> list[FloatArray]:
        """The arrays in the order of the book's files, the tied weight twice (9).

        Returns
        -------
        list of ndarray

        Examples
        --------
        >>> from gatedrnn.lm import BetterRnnlm
        >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
        >>> arrays = model.book_params()
        >>> len(arrays), arrays[7].shape, arrays[7].base is model.params[0]
        (9, (4, 10), True)
        """
        p = self.params
        return [p[0], *p[1:7], p[0].T, p[7]]

    def load_book_arrays(self, arrays: Sequence[ArrayLike]) -> None:
        """Copy the book's 9 arrays (or our 8) into ``params``, in place.

        Parameters
        ----------
        arrays : sequence of array_like
            As `book_params` lists them (the tied weight twice), or ``params``'s 8.

        Raises
        ------
        ValueError
            If their number or shapes do not fit.

        Examples
        --------
        >>> from gatedrnn.lm import BetterRnnlm
        >>> model = BetterRnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
        >>> model.load_book_arrays([a.copy() for a in BetterRnnlm(10, 4, 4, seed=1).book_params()])
        >>> bool((model.params[0] == BetterRnnlm(10, 4, 4, seed=1).params[0]).all())
        True
        """
        name = type(self).__name__
        if len(arrays) == 9:
            tied = np.asarray(arrays[7])
            if tied.shape != np.shape(arrays[0])[::-1]:
                raise ValueError(f"{name}: the book's array 7 (the tied affine weight) must have "
                                 f"shape {np.shape(arrays[0])[::-1]}; got {tied.shape}")
            arrays = [*arrays[:7], arrays[8]]
        assign_arrays(self.params, arrays, name)


def model_from_params(path: StrPath, *, dtype: DTypeLike = np.float32, dropout_ratio: float = 0.5
                      ) -> tuple["Rnnlm | BetterRnnlm", ParamsInfo]:
    """Build the model a parameter file describes and load it.

    ``.npz`` files name their model; for the book's ``.pkl`` the model follows
    from the arrays (6 arrays: Rnnlm; 9 arrays with a tied weight: BetterRnnlm).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` from `save_params`, or the book's ``.pkl``.
    dtype : float32 or float64, keyword-only, default float32
    dropout_ratio : float, keyword-only, default 0.5
        For a BetterRnnlm.

    Returns
    -------
    model : Rnnlm or BetterRnnlm
    info : dict
        What the file says: its format, the model, its sizes and vocabulary.

    Raises
    ------
    ValueError
        If the file holds no model this package knows.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm import Rnnlm, model_from_params
    >>> path = os.path.join(tempfile.mkdtemp(), "small.npz")
    >>> Rnnlm(10, 4, 5, seed=0).save_params(path)
    >>> model, info = model_from_params(path)
    >>> type(model).__name__, info["format"], model.vocab_size
    ('Rnnlm', 'npz', 10)
    """
    arrays, info = read_params_file(path)
    if info["format"] == "npz":
        kind = info["model"]
        if info["sizes"] is None:
            raise ValueError(f"{os.fspath(path)!r} names its model but not its sizes")
        V, D, H = info["sizes"]
    elif len(arrays) == 6:
        kind = "Rnnlm"
        (V, D), H = arrays[0].shape, arrays[2].shape[0]
    elif len(arrays) == 9:
        kind = "BetterRnnlm"
        (V, D), H = arrays[0].shape, arrays[2].shape[0]
    else:
        raise ValueError(f"{os.fspath(path)!r} holds {len(arrays)} arrays; the book's Rnnlm "
                         f"files hold 6 and BetterRnnlm files 9")
    if kind == "Rnnlm":
        model: Rnnlm | BetterRnnlm = Rnnlm(V, D, H, seed=0, dtype=dtype)
    elif kind == "BetterRnnlm":
        model = BetterRnnlm(V, D, H, dropout_ratio, seed=0, dtype=dtype)
    else:
        raise ValueError(f"{os.fspath(path)!r} holds parameters of an unknown model {kind!r}")
    if info["format"] == "npz":
        assign_arrays(model.params, arrays, kind)
    else:
        model.load_book_arrays(arrays)
    return model, info
