"""Truncated-BPTT training and perplexity, with the book's batching.

``RnnlmTrainer.get_batch`` reads the corpus as the book's does: the batch
rows start at offsets ``i * jump`` (``jump = len(xs) // batch_size``) and all
advance together by one running time index, which carries over from one
iteration and one epoch to the next and restarts at 0 on each ``fit`` call.
``eval_perplexity`` is the book's evaluation: batch 10, time 35, rows at
``iters * time_size + i * jump`` with ``jump = (len(corpus) - 1) // batch_size``.
"""
import inspect
import math
import time
import warnings

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._typing import FloatArray, IntArray, LanguageModelLike, OptimizerLike, StrPath
from ..clip import clip_grads

# One record of a fit: (epoch, iteration, elapsed seconds, perplexity).
Record = tuple[int, int, float, float]


def batch_positions(data_size: int, batch_size: int, time_size: int,
                    time_idx: int) -> IntArray:
    """Corpus positions of one training batch, (batch_size, time_size):
    ``(i * jump + time_idx + t) % data_size``."""
    jump = data_size // batch_size
    rows = np.arange(batch_size, dtype=np.int64)[:, None] * jump
    return (rows + time_idx + np.arange(time_size, dtype=np.int64)[None, :]) % data_size


def eval_positions(corpus_size: int, batch_size: int, time_size: int, iters: int) -> IntArray:
    """Corpus positions of the inputs of evaluation batch ``iters``; the targets
    are the next positions (mod corpus_size)."""
    jump = (corpus_size - 1) // batch_size
    rows = iters * time_size + np.arange(batch_size, dtype=np.int64)[:, None] * jump
    return (rows + np.arange(time_size, dtype=np.int64)[None, :]) % corpus_size


def _progress_bar(total: int, desc: str, enabled: bool, initial: int = 0) -> Any:
    """A tqdm bar, or None; ``initial`` iterations count as done already
    (tqdm leaves them out of the rate, so that the ETA is for what is left)."""
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="it", dynamic_ncols=True,
                leave=True)


def _emit(bar: Any, log: Callable[[str], object], line: str) -> None:
    """Send a log line; print() goes through the bar so that it stays intact."""
    if log is print and bar is not None:
        bar.write(line)
    else:
        log(line)


def _distinct(params: list[FloatArray], grads: list[FloatArray]
              ) -> tuple[list[FloatArray], list[FloatArray], list[tuple[int, FloatArray]]]:
    """(params, grads, merges) with every array listed once, by identity.

    Our models already list each array once; this keeps the trainer correct
    for a model that lists one object twice (its gradients are summed, as the
    book's remove_duplicate does). It compares identities only, never values:
    a model that ties weights through a transposed view must expose them once
    itself, as BetterRnnlm does.
    """
    first: dict[int, int] = {}
    merges: list[tuple[int, FloatArray]] = []
    out_p: list[FloatArray] = []
    out_g: list[FloatArray] = []
    for k, (p, g) in enumerate(zip(params, grads)):
        if id(p) in first:
            merges.append((first[id(p)], g))
        else:
            first[id(p)] = len(out_p)
            out_p.append(p)
            out_g.append(g)
    return out_p, out_g, merges


def _accepts_train_flg(model: LanguageModelLike) -> bool:
    try:
        return "train_flg" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


class RnnlmTrainer:
    """Trains a stateful language model with truncated BPTT, as the book's RnnlmTrainer.

    After ``fit``: ``ppl_list`` holds the perplexity of every ``eval_interval``
    iterations (the mean loss since the last record, exponentiated; the first
    record covers iteration 1 alone, as in the book), and ``records`` the same
    with the epoch, iteration and elapsed time.

    A run can stop between iterations (``fit(stop=...)``) and go on later:
    ``state_dict()`` is its position (epoch, iteration, ``time_idx``, the
    records and the running loss), ``load_state_dict()`` puts it back, and the
    next ``fit`` then continues from there instead of starting afresh
    (gatedrnn.lm.checkpoint saves it with the model and the optimizer).

    Parameters
    ----------
    model : Rnnlm, BetterRnnlm or a model with the book's API
        ``forward(xs, ts)``, ``backward()``, ``params``, ``grads``,
        ``reset_state()``.
    optimizer : SGD, Adam or an optimizer with ``update(params, grads)``
        and ``lr``.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
    >>> corpus = np.tile(np.arange(10), 50)          # 500 words, a repeating pattern
    >>> model = Rnnlm(vocab_size=10, wordvec_size=8, hidden_size=8, seed=0)
    >>> trainer = RnnlmTrainer(model, SGD(lr=1.0))
    >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=10, batch_size=2, time_size=5,
    ...                 max_grad=0.25, eval_interval=49)
    >>> trainer.steps, len(trainer.ppl_list)
    (490, 10)
    >>> bool(trainer.ppl_list[-1] < trainer.ppl_list[0])
    True
    """

    # Only a trainer that fit_with_lr_decay ran has it: the schedule's state.
    schedule: dict[str, Any]

    def __init__(self, model: LanguageModelLike, optimizer: OptimizerLike) -> None:
        self.model = model
        self.optimizer = optimizer
        self.time_idx = 0
        self.ppl_list: list[float] = []
        self.records: list[Record] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self.skipped_updates = 0
        self.iteration = 0          # iterations done in the current epoch
        self.steps = 0              # iterations done in all
        self.stopped = False        # the last fit returned early (stop() or max_steps)
        self._epochs_in_fit = 0     # epochs done by the current fit
        self._loss = [0.0, 0]       # loss summed, and counted, since the last record
        self._elapsed = 0.0         # seconds of training before this fit went on
        self._resume = False

    def state_dict(self) -> dict[str, Any]:
        """The position of the run: plain numbers and lists (JSON-ready).

        Returns
        -------
        dict
            Epoch, iteration, ``time_idx``, the records and the running loss;
            `load_state_dict` takes it back.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
        >>> trainer = RnnlmTrainer(Rnnlm(10, 4, 4, seed=0), SGD(lr=1.0))
        >>> corpus = np.tile(np.arange(10), 20)
        >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5)
        >>> state = trainer.state_dict()
        >>> state["steps"], state["time_idx"]
        (19, 95)
        """
        return dict(time_idx=self.time_idx, current_epoch=self.current_epoch,
                    iteration=self.iteration, epochs_in_fit=self._epochs_in_fit,
                    total_loss=self._loss[0], loss_count=self._loss[1],
                    ppl_list=list(self.ppl_list or []),
                    records=[list(r) for r in self.records or []],
                    eval_interval=self.eval_interval, skipped_updates=self.skipped_updates,
                    elapsed=self._elapsed, steps=self.steps)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back a position from `state_dict`: the next fit continues it.

        Parameters
        ----------
        state : dict
            What `state_dict` returned.

        Raises
        ------
        KeyError
            If an entry is missing.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
        >>> trainer = RnnlmTrainer(Rnnlm(10, 4, 4, seed=0), SGD(lr=1.0))
        >>> corpus = np.tile(np.arange(10), 20)
        >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5)
        >>> later = RnnlmTrainer(trainer.model, trainer.optimizer)
        >>> later.load_state_dict(trainer.state_dict())
        >>> later.steps, later.time_idx
        (19, 95)
        """
        self.time_idx = int(state["time_idx"])
        self.current_epoch = int(state["current_epoch"])
        self.iteration = int(state["iteration"])
        self._epochs_in_fit = int(state["epochs_in_fit"])
        self._loss = [float(state["total_loss"]), int(state["loss_count"])]
        self.ppl_list = [float(v) for v in state["ppl_list"]]
        self.records = [tuple(r) for r in state["records"]]
        self.eval_interval = state["eval_interval"]
        self.skipped_updates = int(state["skipped_updates"])
        self._elapsed = float(state["elapsed"])
        self.steps = int(state["steps"])
        self._resume = True

    def get_batch(self, x: IntArray, t: IntArray, batch_size: int,
                  time_size: int) -> tuple[IntArray, IntArray]:
        """The next training batch, the book's way, and advance ``time_idx``.

        Parameters
        ----------
        x, t : ndarray of int, shape (n,)
            The inputs and the targets.
        batch_size, time_size : int

        Returns
        -------
        batch_x, batch_t : ndarray, shape (batch_size, time_size)
            Row i reads from offset ``i * (n // batch_size) + time_idx``,
            wrapping around.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
        >>> trainer = RnnlmTrainer(Rnnlm(10, 4, 4, seed=0), SGD(lr=1.0))
        >>> corpus = np.tile(np.arange(10), 20)
        >>> x, t = trainer.get_batch(np.arange(20), np.arange(1, 21), 2, 3)
        >>> x
        array([[ 0,  1,  2],
               [10, 11, 12]])
        >>> trainer.time_idx
        3
        """
        pos = batch_positions(len(x), batch_size, time_size, self.time_idx)
        self.time_idx += time_size
        return x[pos], t[pos]

    def fit(self, xs: ArrayLike, ts: ArrayLike, max_epoch: int = 10, batch_size: int = 20,
            time_size: int = 35, max_grad: float | None = None, eval_interval: int | None = 20,
            *, progress: bool = False, log: Callable[[str], object] | None = None,
            stop: "Callable[[RnnlmTrainer], object] | None" = None,
            on_iteration: "Callable[[RnnlmTrainer], object] | None" = None,
            max_steps: int | None = None) -> "RnnlmTrainer":
        """Train for ``max_epoch`` epochs of ``len(xs) // (batch_size * time_size)`` iterations.

        Parameters
        ----------
        xs, ts : array_like of int, shape (n,)
            The inputs and the targets (usually ``corpus[:-1]`` and ``corpus[1:]``).
        max_epoch : int, default 10
        batch_size, time_size : int, default 20 and 35
            Sequences per batch, and the truncated-BPTT length.
        max_grad : float or None, default None
            Clip the gradients to this joint norm with `gatedrnn.clip_grads`
            (no clipping if None). An update whose gradient norm is not
            finite is skipped and counted in ``skipped_updates``.
        eval_interval : int or None, default 20
            Record the perplexity every this many iterations.
        progress : bool, keyword-only, default False
            Show a tqdm bar with the running perplexity; its total is what
            this fit will train (up to `max_steps`), and the iterations done
            before a resumed fit count as done.
        log : callable, keyword-only, optional
            Receives a line of text at every record (e.g. ``print``).
        stop : callable, keyword-only, optional
            ``stop(trainer)``, checked before the first iteration and after
            every iteration, ends the fit early when it returns true
            (``self.stopped`` is then set, and ``fit`` after
            `load_state_dict`, or again on this trainer, goes on from there).
        on_iteration : callable, keyword-only, optional
            ``on_iteration(trainer)``, called after every iteration (e.g. to
            write a checkpoint).
        max_steps : int, keyword-only, optional
            Stop once ``self.steps`` (the iterations of every fit of this
            trainer, a resumed run's included) reaches this many, as `stop`
            does; a trainer already there trains nothing.

        Returns
        -------
        RnnlmTrainer
            self.

        Raises
        ------
        ValueError
            If `xs` and `ts` are not 1-D of one length, or shorter than one
            batch.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
        >>> trainer = RnnlmTrainer(Rnnlm(10, 4, 4, seed=0), SGD(lr=1.0))
        >>> corpus = np.tile(np.arange(10), 20)
        >>> lines = []
        >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=2, batch_size=2, time_size=5,
        ...                 max_grad=0.25, eval_interval=10, log=lines.append,
        ...                 stop=lambda tr: tr.steps == 25)
        >>> trainer.stopped, trainer.steps, len(lines)
        (True, 25, 3)
        >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=2, batch_size=2, time_size=5,
        ...                 max_steps=25)          # already there: nothing more
        >>> trainer.stopped, trainer.steps
        (True, 25)
        """
        xs, ts = np.asarray(xs), np.asarray(ts)
        if xs.ndim != 1 or xs.shape != ts.shape:
            raise ValueError(f"xs and ts must be 1-D word-id arrays of one length; got shapes "
                             f"{xs.shape} and {ts.shape}")
        data_size = len(xs)
        max_iters = data_size // (batch_size * time_size)
        if max_iters < 1:
            raise ValueError(f"the corpus ({data_size} words) is shorter than one batch of "
                             f"batch_size * time_size = {batch_size * time_size} words")
        if max_steps is not None and max_steps < 0:
            raise ValueError(f"max_steps must be >= 0 or None; got {max_steps}")

        def should_stop() -> bool:
            return ((max_steps is not None and self.steps >= max_steps)
                    or (stop is not None and bool(stop(self))))

        if not self._resume:
            self.time_idx = 0
            self.ppl_list, self.records = [], []
            self.iteration, self._epochs_in_fit = 0, 0
            self._loss = [0.0, 0]
            self._elapsed = 0.0
        # A stop before the first iteration keeps this fit's start (a fresh one,
        # or the resumed state) for a checkpoint: a later fit goes on from it.
        if should_stop():
            self._resume = True
            self.stopped = True
            return self
        self._resume = False
        self.eval_interval = eval_interval
        self.stopped = False
        model, optimizer = self.model, self.optimizer
        params, grads, merges = _distinct(model.params, model.grads)
        done = self._epochs_in_fit * max_iters + self.iteration
        left = max(max_epoch * max_iters - done, 0)
        if max_steps is not None:
            left = min(left, max_steps - self.steps)
        bar = _progress_bar(done + left, "train", progress, initial=done)
        start = time.perf_counter() - self._elapsed
        try:
            while self._epochs_in_fit < max_epoch:
                while self.iteration < max_iters:
                    iters = self.iteration
                    batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
                    loss = model.forward(batch_x, batch_t)
                    model.backward()
                    for k, g in merges:
                        grads[k] += g
                    norm = clip_grads(grads, max_grad) if max_grad is not None else 0.0
                    if math.isfinite(norm):
                        optimizer.update(params, grads)
                    else:   # clip_grads left the grads as they are; do not apply them
                        self.skipped_updates += 1
                        warnings.warn(f"gradient norm is {norm} at iteration {iters + 1} of "
                                      f"epoch {self.current_epoch + 1}; update skipped",
                                      RuntimeWarning, stacklevel=2)
                    self._loss[0] += float(loss)
                    self._loss[1] += 1

                    if eval_interval is not None and iters % eval_interval == 0:
                        ppl = math.exp(self._loss[0] / self._loss[1])
                        elapsed = time.perf_counter() - start
                        self.ppl_list.append(ppl)
                        self.records.append((self.current_epoch + 1, iters + 1, elapsed, ppl))
                        if log is not None:
                            _emit(bar, log, f"| epoch {self.current_epoch + 1} |  iter "
                                            f"{iters + 1} / {max_iters} | time {elapsed:.0f}[s]"
                                            f" | perplexity {ppl:.2f}")
                        if bar is not None:
                            bar.set_postfix(epoch=self.current_epoch + 1, ppl=f"{ppl:.2f}",
                                            refresh=False)
                        self._loss = [0.0, 0]
                    self.iteration += 1
                    self.steps += 1
                    self._elapsed = time.perf_counter() - start
                    if bar is not None:
                        bar.update(1)
                    if on_iteration is not None:
                        on_iteration(self)
                    if should_stop():
                        self.stopped = True
                        return self
                self.iteration = 0
                self._epochs_in_fit += 1
                self.current_epoch += 1
        finally:
            if bar is not None:
                bar.close()
        return self

    def plot(self, path: StrPath | None = None,
             ylim: tuple[float, float] | None = None) -> None:
        """Plot the perplexity curve; save it to ``path`` (e.g. a .png) or show it.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to save the figure; shown on screen if None.
        ylim : (float, float), optional
            The y-axis limits.

        Raises
        ------
        ImportError
            Without matplotlib (``pip install 'gatedrnn[plot]'``).

        Examples
        --------
        >>> import os, tempfile
        >>> import pytest; _ = pytest.importorskip("matplotlib")
        >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
        >>> trainer = RnnlmTrainer(Rnnlm(10, 4, 4, seed=0), SGD(lr=1.0))
        >>> corpus = np.tile(np.arange(10), 20)
        >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5)
        >>> path = os.path.join(tempfile.mkdtemp(), "ppl.png")
        >>> trainer.plot(path)
        >>> os.path.getsize(path) > 0
        True
        """
        plot_perplexity(self.ppl_list, self.eval_interval, path, ylim)


def plot_perplexity(ppl_list: list[float], eval_interval: int | None, path: StrPath | None = None,
                    ylim: tuple[float, float] | None = None, title: str | None = None) -> None:
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install 'gatedrnn[plot]'") from e
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(np.arange(len(ppl_list)), ppl_list, label="train")
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:   # the first records are near V: a log axis keeps the rest readable
        ax.set_yscale("log")
    ax.set_xlabel(f"iterations (x{eval_interval})")
    ax.set_ylabel("perplexity")
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is None:
        plt.show()
    else:
        fig.savefig(path, dpi=100)
    plt.close(fig)


def eval_perplexity(model: LanguageModelLike, corpus: ArrayLike, batch_size: int = 10,
                    time_size: int = 35, *, progress: bool = False,
                    reset_state: bool = True) -> float:
    """Perplexity of ``model`` on ``corpus`` with the book's protocol.

    ``max_iters = (len(corpus) - 1) // (batch_size * time_size)`` batches; the
    result is exp of the mean of the batch losses. The state is reset first
    (the book's scripts call ``model.reset_state()`` before evaluating) unless
    ``reset_state=False``, and is carried from one batch to the next.

    Parameters
    ----------
    model : Rnnlm, BetterRnnlm or a model with the book's API
    corpus : array_like of int, shape (n,)
        Word ids.
    batch_size, time_size : int, default 10 and 35
        The book's evaluation batches.
    progress : bool, keyword-only, default False
        Show a tqdm bar.
    reset_state : bool, keyword-only, default True

    Returns
    -------
    float
        The perplexity.

    Raises
    ------
    ValueError
        If `corpus` is not 1-D or is shorter than one batch.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, eval_perplexity
    >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
    >>> ppl = eval_perplexity(model, np.tile(np.arange(10), 10), batch_size=2, time_size=5)
    >>> bool(9 < ppl < 11)          # an untrained model: about the vocabulary size
    True
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D array of word ids; got shape {corpus.shape}")
    corpus_size = len(corpus)
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(f"the corpus ({corpus_size} words) is too short for one evaluation "
                         f"batch of batch_size * time_size + 1 = "
                         f"{batch_size * time_size + 1} words")
    if reset_state:
        model.reset_state()
    kwargs = {"train_flg": False} if _accepts_train_flg(model) else {}
    total_loss = 0.0
    bar = _progress_bar(max_iters, "eval", progress)
    try:
        for iters in range(max_iters):
            pos = eval_positions(corpus_size, batch_size, time_size, iters)
            xs = corpus[pos]
            ts = corpus[(pos + 1) % corpus_size]
            total_loss += float(model.forward(xs, ts, **kwargs))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return math.exp(total_loss / max_iters)


def fit_with_lr_decay(
        model: LanguageModelLike, optimizer: OptimizerLike, corpus: ArrayLike,
        corpus_val: ArrayLike, max_epoch: int = 40, batch_size: int = 20, time_size: int = 35,
        max_grad: float | None = 0.25, eval_interval: int | None = 20, *, decay: float = 4.0,
        save_best: StrPath | Callable[[LanguageModelLike], object] | None = None,
        restore_best: bool = True, progress: bool = False,
        log: Callable[[str], object] | None = None, report: Callable[[str], object] | None = None,
        trainer: RnnlmTrainer | None = None, schedule: dict[str, Any] | None = None,
        stop: Callable[[RnnlmTrainer], object] | None = None,
        on_iteration: Callable[[RnnlmTrainer], object] | None = None,
        max_steps: int | None = None,
) -> tuple[RnnlmTrainer, list[dict[str, Any]]]:
    """The book's BetterRnnlm schedule (ch06/train_better_rnnlm.py): train one
    epoch at a time on ``corpus``; after each, measure the perplexity on
    ``corpus_val``; if it improved, keep the parameters, else divide the
    learning rate by ``decay``.

    The best parameters are kept as a copy in memory and, if ``save_best`` is
    given (a path, or a callable taking the model), saved each time they
    improve. With ``restore_best`` (default) they are put back into the model
    at the end; the book's script saves them but evaluates the last ones.
    ``log`` receives the per-record training lines, ``report`` a line per
    epoch.

    ``stop``, ``on_iteration`` and ``max_steps`` are passed to
    RnnlmTrainer.fit: when they end the run early, ``trainer.stopped`` is set and ``trainer.schedule``
    holds the schedule's state (epochs done, the best perplexity and
    parameters, the history). Passing ``trainer=`` and ``schedule=`` back (say,
    from a checkpoint) continues the run where it stopped.

    Parameters
    ----------
    model, optimizer
        As for `RnnlmTrainer`.
    corpus, corpus_val : array_like of int, shape (n,)
        The training and the validation corpus.
    max_epoch, batch_size, time_size, max_grad, eval_interval
        As for `RnnlmTrainer.fit` (defaults 40, 20, 35, 0.25, 20, the book's).
    decay : float, keyword-only, default 4.0
    save_best : str, os.PathLike or callable, keyword-only, optional
    restore_best : bool, keyword-only, default True
    progress, log, report : keyword-only
        A tqdm bar; a callable for the record lines; one for a line per epoch.
    trainer, schedule : keyword-only, optional
        A run to continue.
    stop, on_iteration : callable, keyword-only, optional
        As for `RnnlmTrainer.fit`.
    max_steps : int, keyword-only, optional
        As for `RnnlmTrainer.fit`: iterations in all, across epochs.

    Returns
    -------
    trainer : RnnlmTrainer
    history : list of dict
        One dict per epoch with ``epoch``, ``lr``, ``val_ppl``, ``seconds``
        and ``train_ppl`` (that epoch's recorded perplexities).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, SGD, fit_with_lr_decay
    >>> corpus = np.tile(np.arange(10), 40)
    >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
    >>> trainer, history = fit_with_lr_decay(model, SGD(lr=1.0), corpus, corpus,
    ...                                      max_epoch=2, batch_size=2, time_size=5)
    >>> [sorted(h) for h in history][0]
    ['epoch', 'lr', 'seconds', 'train_ppl', 'val_ppl']
    """
    corpus = np.asarray(corpus)
    trainer = trainer or RnnlmTrainer(model, optimizer)
    state = schedule or {"epoch": 0, "best_ppl": float("inf"), "best": None, "history": []}
    trainer.schedule = state
    xs, ts = corpus[:-1], corpus[1:]
    while state["epoch"] < max_epoch:
        start = time.perf_counter() - (trainer._elapsed if trainer._resume else 0.0)
        lr = optimizer.lr
        trainer.fit(xs, ts, max_epoch=1, batch_size=batch_size, time_size=time_size,
                    max_grad=max_grad, eval_interval=eval_interval, progress=progress, log=log,
                    stop=stop, on_iteration=on_iteration, max_steps=max_steps)
        if trainer.stopped:
            return trainer, state["history"]
        ppl = eval_perplexity(model, corpus_val, progress=progress)
        seconds = time.perf_counter() - start
        epoch = state["epoch"] + 1
        state["history"].append({"epoch": epoch, "lr": lr, "val_ppl": ppl, "seconds": seconds,
                                 "train_ppl": list(trainer.ppl_list)})
        if report is not None:
            report(f"epoch {epoch}: valid perplexity {ppl:.2f} (lr {lr:g}, {seconds:.0f} s)")
        if ppl < state["best_ppl"]:
            state["best_ppl"] = ppl
            state["best"] = [p.copy() for p in model.params]
            if callable(save_best):
                save_best(model)
            elif save_best is not None:
                model.save_params(save_best)
        else:
            optimizer.lr /= decay
        model.reset_state()
        state["epoch"] = epoch
    if restore_best and state["best"] is not None:
        for p, b in zip(model.params, state["best"]):
            p[...] = b
    return trainer, state["history"]
