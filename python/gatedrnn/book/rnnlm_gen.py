"""The book's chapter-7 text generators (``ch07/rnnlm_gen.py``) on gatedrnn.lm's models.

``RnnlmGen`` and ``BetterRnnlmGen`` take the book's arguments and give its
results: built after ``np.random.seed(k)`` they draw their initial weights
from NumPy's global generator with the book's calls, and ``generate`` draws
from it too, one ``random_sample()`` per draw as ``np.random.choice`` does,
so the word ids are the book's (but where a draw falls within float rounding
of a boundary between two ids). Generation runs `gatedrnn.lm.Rnnlm.generate`:
the inference path of the compiled kernels, the softmax in place.

What differs from the book's file on purpose: it runs on today's NumPy (the
book's ``int(x)`` of a one-element array raises ``TypeError`` on NumPy 2.x),
``BetterRnnlmGen.params`` lists the tied weight once (``load_params`` reads
the book's files all the same), and training a ``BetterRnnlmGen`` draws its
dropout masks from the model's own generator, not ``np.random``.
"""
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._typing import FloatArray, StrPath
from ..lm.generate import generate
from ..lm.models import BetterRnnlm, Rnnlm, _LanguageModel

__all__ = ["RnnlmGen", "BetterRnnlmGen"]


def _book_file(model: object, file_name: StrPath | None, must_exist: bool) -> str:
    """The book's BaseModel file name: <ClassName>.pkl by default; IOError if absent."""
    if file_name is None:
        file_name = type(model).__name__ + ".pkl"
    file_name = os.fspath(file_name)
    if "/" in file_name:
        file_name = file_name.replace("/", os.sep)
    if must_exist and not os.path.exists(file_name):
        raise IOError("No file: " + file_name)
    return file_name


class _BookGenerator(_LanguageModel):
    """What the book's two generators share: ``generate``, and BaseModel's
    files (``<ClassName>.pkl`` by default, ``No file: ...`` when absent)."""

    def generate(self, start_id: Any, skip_ids: Iterable[int] | None = None,  # type: ignore[override]
                 sample_size: int = 100) -> list[Any]:
        """``[start_id]`` and ``sample_size - 1`` sampled ids, as the book's.

        A drawn id in `skip_ids` is dropped, the last input fed again, and a
        new id drawn; the random numbers come from ``np.random``; the state
        carries on to the next call (`gatedrnn.lm.Rnnlm.generate` with
        ``rng=np.random, keep_state=True``).

        Parameters
        ----------
        start_id : int
            The first word id, fed to the model first.
        skip_ids : list of int, optional
            Ids never returned.
        sample_size : int, default 100
            The length of the list returned, `start_id` included.

        Returns
        -------
        list of int

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
        >>> np.random.seed(0)
        >>> model = RnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=5)
        >>> ids = model.generate(3, skip_ids=[0, 1], sample_size=6)
        >>> len(ids), ids[0], {0, 1} & set(ids)
        (6, 3, set())
        """
        word_ids = [start_id]
        if sample_size <= 1:   # the book's while loop does not run
            return word_ids
        ids = generate(self, start_id, int(sample_size) - 1,  # type: ignore[arg-type]
                       skip_ids=None if skip_ids is None else list(skip_ids), rng=np.random,
                       keep_state=True)
        return word_ids + [int(i) for i in ids]

    def load_params(self, file_name: StrPath | None = None) -> None:
        """Load the book's parameter file (default ``<ClassName>.pkl``), or an ``.npz``.

        Parameters
        ----------
        file_name : str or os.PathLike, optional

        Raises
        ------
        OSError
            ``No file: ...`` if the file does not exist, as the book's.

        Examples
        --------
        >>> import os, tempfile
        >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
        >>> path = os.path.join(tempfile.mkdtemp(), "Rnnlm.pkl")
        >>> RnnlmGen(30, 4, 5).save_params(path)
        >>> RnnlmGen(30, 4, 5).load_params(path)
        """
        super().load_params(_book_file(self, file_name, True))

    def save_params(self, file_name: StrPath | None = None, **kwargs: Any) -> None:
        """Save in the book's format (default ``<ClassName>.pkl``; a ``.pkl`` is float16).

        Parameters
        ----------
        file_name : str or os.PathLike, optional
        **kwargs
            Passed to `gatedrnn.lm.save_params`.

        Examples
        --------
        >>> import os, tempfile
        >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
        >>> path = os.path.join(tempfile.mkdtemp(), "Rnnlm.pkl")
        >>> RnnlmGen(30, 4, 5).save_params(path)
        >>> os.path.getsize(path) > 0
        True
        """
        super().save_params(_book_file(self, file_name, False), **kwargs)


class RnnlmGen(_BookGenerator, Rnnlm):
    """The book's ``RnnlmGen``: ``Rnnlm`` with ``generate``, ``get_state``, ``set_state``.

    Parameters
    ----------
    vocab_size, wordvec_size, hidden_size : int, default 10000, 100, 100
        The book's defaults. The initial weights are drawn from
        ``np.random.randn`` with the book's calls (float32).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
    >>> np.random.seed(0)
    >>> model = RnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=5)
    >>> ids = model.generate(1, skip_ids=[0], sample_size=8)
    >>> len(ids), ids[0], 0 in ids
    (8, 1, False)
    """

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 100,
                 hidden_size: int = 100) -> None:
        super().__init__(vocab_size, wordvec_size, hidden_size, seed=0)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = np.random.randn
        embed_W = (rn(V, D) / 100).astype("f")
        lstm_Wx = (rn(D, 4 * H) / np.sqrt(D)).astype("f")
        lstm_Wh = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        affine_W = (rn(H, V) / np.sqrt(H)).astype("f")
        self.load_book_arrays([embed_W, lstm_Wx, lstm_Wh, np.zeros(4 * H, "f"), affine_W,
                               np.zeros(V, "f")])

    def get_state(self) -> tuple[FloatArray | None, FloatArray | None]:  # type: ignore[override]
        """The LSTM's ``(h, c)``, as the book's.

        Returns
        -------
        tuple
            ``(h, c)``, each (N, H) or None.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
        >>> model = RnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=5)
        >>> model.get_state()
        (None, None)
        """
        return self.lstm_layer.h, self.lstm_layer.c

    def set_state(self, state: tuple[FloatArray | None, FloatArray | None]  # type: ignore[override]
                  ) -> None:
        """Set the LSTM's ``(h, c)``, as `get_state` returns it.

        Parameters
        ----------
        state : tuple
            ``(h, c)``, each (N, H) of the model's dtype, or None.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book.rnnlm_gen import RnnlmGen
        >>> model = RnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=5)
        >>> saved = model.get_state()
        >>> _ = model.generate(2, sample_size=3)
        >>> model.set_state(saved)
        >>> model.get_state()
        (None, None)
        """
        super().set_state([tuple(state)])  # type: ignore[list-item]


class BetterRnnlmGen(_BookGenerator, BetterRnnlm):
    """The book's ``BetterRnnlmGen``: ``BetterRnnlm`` with ``generate``, ``get_state``, ``set_state``.

    Parameters
    ----------
    vocab_size, wordvec_size, hidden_size : int, default 10000, 650, 650
    dropout_ratio : float, default 0.5
        The book's defaults. The initial weights are drawn from
        ``np.random.randn`` with the book's calls (float32).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.rnnlm_gen import BetterRnnlmGen
    >>> np.random.seed(0)
    >>> model = BetterRnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=4)
    >>> ids = model.generate(2, sample_size=5)
    >>> len(ids), [h.shape for h, c in model.get_state()]
    (5, [(1, 4), (1, 4)])
    """

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 650,
                 hidden_size: int = 650, dropout_ratio: float = 0.5) -> None:
        super().__init__(vocab_size, wordvec_size, hidden_size, dropout_ratio, seed=0)
        V, D, H = vocab_size, wordvec_size, hidden_size
        rn = np.random.randn
        embed_W = (rn(V, D) / 100).astype("f")
        lstm_Wx1 = (rn(D, 4 * H) / np.sqrt(D)).astype("f")
        lstm_Wh1 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        lstm_Wx2 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        lstm_Wh2 = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        zeros = np.zeros(4 * H, "f")
        self.load_book_arrays([embed_W, lstm_Wx1, lstm_Wh1, zeros, lstm_Wx2, lstm_Wh2, zeros,
                               np.zeros(V, "f")])

    def get_state(self) -> list[tuple[FloatArray | None, FloatArray | None]]:
        """Both LSTMs' ``(h, c)``, as the book's.

        Returns
        -------
        list of tuple
            ``[(h1, c1), (h2, c2)]``, each (N, H) or None.

        Examples
        --------
        >>> from gatedrnn.book.rnnlm_gen import BetterRnnlmGen
        >>> BetterRnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=4).get_state()
        [(None, None), (None, None)]
        """
        return super().get_state()

    def set_state(self, states: Any) -> None:
        """Set both LSTMs' states, as `get_state` returns them.

        Parameters
        ----------
        states : list of tuple
            ``[(h1, c1), (h2, c2)]``, each (N, H) or None.

        Examples
        --------
        >>> from gatedrnn.book.rnnlm_gen import BetterRnnlmGen
        >>> model = BetterRnnlmGen(vocab_size=30, wordvec_size=4, hidden_size=4)
        >>> saved = model.get_state()
        >>> _ = model.generate(1, sample_size=3)
        >>> model.set_state(saved)
        >>> model.get_state()
        [(None, None), (None, None)]
        """
        super().set_state([tuple(s) for s in states])
