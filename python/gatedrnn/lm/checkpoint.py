"""Checkpoints of a training run, so that it can be interrupted and resumed
with bit-identical results.

A checkpoint is a ``.npz`` archive (read with ``allow_pickle=False``) that
holds everything the next iteration depends on:

- the parameters, and the model's configuration (class, sizes, dropout, dtype)
  and vocabulary;
- the LSTM states carried from one batch to the next;
- the dropout layers' random generators;
- the optimizer's state (its learning rate; Adam's moments and step count);
- the trainer's position (epoch, iteration, ``time_idx``), its records and
  running loss, and for the learning-rate schedule the epochs done, the best
  validation perplexity and parameters, and the history;
- the run's settings (the command line's), under ``"run"``.

It is written atomically: to a temporary file beside it
(``.NAME.PID.tmp``), then renamed. A process killed during the write leaves
that temporary file behind; `remove_stale_temporaries` removes those of
processes no longer running.
"""
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._layers import TimeLSTM
from .._typing import StrPath
from ._atomic import remove_stale_temporaries, write_atomically
from .layers import TimeDropout

from .models import BetterRnnlm, Rnnlm
from .optim import SGD, Adam
from .trainer import RnnlmTrainer

__all__ = ["Checkpoint", "is_checkpoint", "load_checkpoint", "remove_stale_temporaries",
           "save_checkpoint"]

FORMAT = "gatedrnn-checkpoint"
VERSION = 1


def is_checkpoint(path: StrPath) -> bool:
    """Whether ``path`` is a checkpoint (not a parameter file, nor unreadable).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool
        False for a missing or unreadable file, too.

    Examples
    --------
    >>> from gatedrnn.lm.checkpoint import is_checkpoint
    >>> is_checkpoint("no/such/file.npz")
    False
    """
    try:
        with np.load(os.fspath(path), allow_pickle=False) as z:
            return "checkpoint" in z.files
    except (OSError, ValueError):
        return False


def _lstms(model: Rnnlm | BetterRnnlm) -> list[TimeLSTM]:
    return model.lstm_layers if isinstance(model, BetterRnnlm) else [model.lstm_layer]


def _dropouts(model: Rnnlm | BetterRnnlm) -> list[TimeDropout]:
    return model.drop_layers if isinstance(model, BetterRnnlm) else []


def save_checkpoint(path: StrPath, model: Rnnlm | BetterRnnlm, optimizer: SGD | Adam,
                    trainer: RnnlmTrainer, *, schedule: dict[str, Any] | None = None,
                    run: dict[str, Any] | None = None,
                    vocab: Sequence[str] | None = None) -> str:
    """Write a checkpoint of the run to ``path`` atomically.

    The file (an ``.npz`` read without pickle) holds the parameters, the
    optimizer's state, the trainer's position and the LSTM states, the
    dropout RNGs, and optionally the schedule, the run's settings and the
    vocabulary. It is written to a temporary file and renamed, so a crash
    never leaves half a checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
    model : Rnnlm or BetterRnnlm
    optimizer : SGD or Adam
    trainer : RnnlmTrainer
    schedule : dict, keyword-only, optional
        `fit_with_lr_decay`'s ``trainer.schedule``.
    run : dict, keyword-only, optional
        JSON-ready settings of the run (the command line's).
    vocab : sequence of str, keyword-only, optional

    Returns
    -------
    str
        The path written.

    See Also
    --------
    load_checkpoint

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
    >>> from gatedrnn.lm.checkpoint import save_checkpoint, load_checkpoint, is_checkpoint
    >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
    >>> optimizer = SGD(lr=1.0)
    >>> trainer = RnnlmTrainer(model, optimizer)
    >>> corpus = np.tile(np.arange(10), 20)
    >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5)
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "run.ckpt.npz"),
    ...                        model, optimizer, trainer)
    >>> is_checkpoint(path)
    True
    >>> ckpt = load_checkpoint(path)
    >>> ckpt.trainer.steps, all(np.array_equal(a, b) for a, b in zip(ckpt.model.params, model.params))
    (19, True)
    """
    path = os.fspath(path)
    arrays: dict[str, Any] = {f"param_{k}": np.asarray(p) for k, p in enumerate(model.params)}
    states = []
    for k, lstm in enumerate(_lstms(model)):
        have = []
        for name in ("h", "c"):
            value = getattr(lstm, name)
            if value is not None:
                arrays[f"lstm_{k}_{name}"] = np.asarray(value)
            have.append(value is not None)
        states.append(have)
    opt: dict[str, Any] = {"class": type(optimizer).__name__, "lr": optimizer.lr}
    if isinstance(optimizer, Adam):
        opt.update(beta1=optimizer.beta1, beta2=optimizer.beta2, iter=optimizer.iter,
                   moments=optimizer.m is not None)
        if optimizer.m is not None:
            for k, (m, v) in enumerate(zip(optimizer.m, optimizer.v)):
                arrays[f"adam_m_{k}"], arrays[f"adam_v_{k}"] = m, v
    sched = None
    if schedule is not None:
        sched = {"epoch": schedule["epoch"], "best_ppl": schedule["best_ppl"],
                 "history": schedule["history"], "best": schedule["best"] is not None}
        if schedule["best"] is not None:
            for k, b in enumerate(schedule["best"]):
                arrays[f"best_{k}"] = b
    V, D = model.params[0].shape
    H = model.params[2].shape[0]
    meta = {
        "format": FORMAT, "version": VERSION,
        "model": {"class": type(model).__name__, "sizes": [V, D, H],
                  "dropout": _dropouts(model)[0].dropout_ratio if _dropouts(model) else None,
                  "dtype": model.dtype.name},
        "lstm_states": states,
        "dropout_rngs": [d.rng.bit_generator.state for d in _dropouts(model)],
        "optimizer": opt, "trainer": trainer.state_dict(), "schedule": sched, "run": run or {},
    }
    arrays["checkpoint"] = np.array(json.dumps(meta))
    if vocab is not None:
        arrays["vocab"] = np.array(list(vocab), dtype=str)
    write_atomically(path, lambda f: np.savez(f, **arrays))
    return path


class Checkpoint:
    """A checkpoint read back by `load_checkpoint`.

    Parameters
    ----------
    model : Rnnlm or BetterRnnlm
    optimizer : SGD or Adam
    trainer : RnnlmTrainer
        Positioned to continue: its next ``fit`` goes on from the checkpoint.
    schedule : dict or None
        `fit_with_lr_decay`'s state, to pass back as ``schedule=``.
    run : dict
        The run's settings.
    vocab : list of str or None

    See Also
    --------
    load_checkpoint : reads one (its example shows the fields).

    Examples
    --------
    >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
    >>> from gatedrnn.lm.checkpoint import Checkpoint
    >>> model, opt = Rnnlm(10, 4, 4, seed=0), SGD(1.0)
    >>> ckpt = Checkpoint(model, opt, RnnlmTrainer(model, opt), None, {}, None)
    >>> ckpt.trainer.model is ckpt.model
    True
    """

    def __init__(self, model: Rnnlm | BetterRnnlm, optimizer: SGD | Adam, trainer: RnnlmTrainer,
                 schedule: dict[str, Any] | None, run: dict[str, Any],
                 vocab: list[str] | None) -> None:
        self.model, self.optimizer, self.trainer = model, optimizer, trainer
        self.schedule, self.run, self.vocab = schedule, run, vocab


def load_checkpoint(path: StrPath) -> Checkpoint:
    """Read a checkpoint and rebuild the run from it.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Checkpoint
        The model, optimizer and trainer (positioned to continue), the
        schedule, the run's settings and the vocabulary.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If the file is not a checkpoint (a parameter file, say) or of an
        unknown format.

    See Also
    --------
    save_checkpoint

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from gatedrnn.lm import Rnnlm, SGD, RnnlmTrainer
    >>> from gatedrnn.lm.checkpoint import save_checkpoint, load_checkpoint, is_checkpoint
    >>> model = Rnnlm(vocab_size=10, wordvec_size=4, hidden_size=4, seed=0)
    >>> optimizer = SGD(lr=1.0)
    >>> trainer = RnnlmTrainer(model, optimizer)
    >>> corpus = np.tile(np.arange(10), 20)
    >>> _ = trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5)
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "run.ckpt.npz"),
    ...                        model, optimizer, trainer)
    >>> is_checkpoint(path)
    True
    >>> ckpt = load_checkpoint(path)
    >>> ckpt.trainer.steps, all(np.array_equal(a, b) for a, b in zip(ckpt.model.params, model.params))
    (19, True)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path!r} is not a checkpoint: {e}") from e
    with z:
        if "checkpoint" not in z.files:
            raise ValueError(f"{path!r} is not a checkpoint (a parameter file? use it with "
                             f"eval --params)")
        meta = json.loads(str(z["checkpoint"]))
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"{path!r}: unknown checkpoint format {meta.get('format')} "
                             f"version {meta.get('version')}")
        arrays = {k: z[k] for k in z.files if k != "checkpoint"}
    cfg = meta["model"]
    V, D, H = cfg["sizes"]
    if cfg["class"] == "Rnnlm":
        model: Rnnlm | BetterRnnlm = Rnnlm(V, D, H, seed=0, dtype=cfg["dtype"])
    elif cfg["class"] == "BetterRnnlm":
        model = BetterRnnlm(V, D, H, cfg["dropout"], seed=0, dtype=cfg["dtype"])
    else:
        raise ValueError(f"{path!r}: unknown model {cfg['class']!r}")
    for k, p in enumerate(model.params):
        p[...] = arrays[f"param_{k}"]
    for k, (lstm, (has_h, has_c)) in enumerate(zip(_lstms(model), meta["lstm_states"])):
        lstm.h = arrays[f"lstm_{k}_h"].copy() if has_h else None
        lstm.c = arrays[f"lstm_{k}_c"].copy() if has_c else None
    for drop, state in zip(_dropouts(model), meta["dropout_rngs"]):
        drop.rng.bit_generator.state = state
    opt = meta["optimizer"]
    optimizer: SGD | Adam
    if opt["class"] == "Adam":
        optimizer = Adam(opt["lr"], opt["beta1"], opt["beta2"])
        optimizer.iter = opt["iter"]
        if opt["moments"]:
            n = len(model.params)
            optimizer.m = [arrays[f"adam_m_{k}"].copy() for k in range(n)]
            optimizer.v = [arrays[f"adam_v_{k}"].copy() for k in range(n)]
    else:
        optimizer = SGD(opt["lr"])
    trainer = RnnlmTrainer(model, optimizer)
    trainer.load_state_dict(meta["trainer"])
    schedule = None
    if meta["schedule"] is not None:
        s = meta["schedule"]
        best = ([arrays[f"best_{k}"].copy() for k in range(len(model.params))] if s["best"]
                else None)
        schedule = {"epoch": s["epoch"], "best_ppl": s["best_ppl"], "best": best,
                    "history": s["history"]}
    vocab = [str(w) for w in arrays["vocab"]] if "vocab" in arrays else None
    return Checkpoint(model, optimizer, trainer, schedule, meta["run"], vocab)
