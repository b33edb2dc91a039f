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

It is written atomically: to a temporary file beside it, then renamed.
"""
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._layers import TimeLSTM
from .._typing import StrPath
from .layers import TimeDropout

from .models import BetterRnnlm, Rnnlm
from .optim import SGD, Adam
from .trainer import RnnlmTrainer

FORMAT = "gatedrnn-checkpoint"
VERSION = 1


def is_checkpoint(path: StrPath) -> bool:
    """Whether ``path`` is a checkpoint (not a parameter file)."""
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
    """Write a checkpoint of the run to ``path`` atomically."""
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
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


class Checkpoint:
    """A checkpoint read back: ``model``, ``optimizer``, ``trainer`` (positioned
    to continue), ``schedule`` (or None), ``run`` (settings) and ``vocab``."""

    def __init__(self, model: Rnnlm | BetterRnnlm, optimizer: SGD | Adam, trainer: RnnlmTrainer,
                 schedule: dict[str, Any] | None, run: dict[str, Any],
                 vocab: list[str] | None) -> None:
        self.model, self.optimizer, self.trainer = model, optimizer, trainer
        self.schedule, self.run, self.vocab = schedule, run, vocab


def load_checkpoint(path: StrPath) -> Checkpoint:
    """Read a checkpoint and rebuild the run from it (see Checkpoint)."""
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
