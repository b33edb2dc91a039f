"""``python -m gatedrnn train`` and ``python -m gatedrnn eval``.

Defaults are the book's chapter-6 hyperparameters: ch06/train_rnnlm.py for
``--model rnnlm`` and ch06/train_better_rnnlm.py for ``--model better``.
"""
import argparse
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # imported when a command runs, so that argparse stays light
    from .trainer import RnnlmTrainer

Ids = NDArray[np.int32]
Log = Callable[[str], object]

# model -> (wordvec_size, hidden_size, max_epoch, save name)
_MODEL_DEFAULTS = {"rnnlm": (100, 100, 4, "Rnnlm.npz"),
                   "better": (650, 650, 40, "BetterRnnlm.npz")}
_LR_DEFAULTS = {"sgd": 20.0, "adam": 0.001}
# What --resume keeps from the run it continues, unless given anew.
_KEPT_ON_RESUME = ("save", "plot", "log", "max_iters", "checkpoint_every")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _per_model(index: int) -> str:
    """The help text of an option whose default depends on --model."""
    return "default " + " or ".join(f"{v[index]} ({k})" for k, v in _MODEL_DEFAULTS.items())


def _add_batch_arguments(p: argparse.ArgumentParser, batch_size: int, whose: str) -> None:
    p.add_argument("--batch-size", type=_positive_int, default=batch_size,
                   help=f"default {batch_size} ({whose})")
    p.add_argument("--time-size", type=_positive_int, default=35,
                   help=f"BPTT length, default 35 ({whose})")


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with ptb.{train,valid,test}.txt (else $GATEDRNN_DATA, then the "
                        "user cache, then a download)")
    p.add_argument("--unk", metavar="WORD",
                   help="map words outside the vocabulary to WORD (e.g. '<unk>') instead of "
                        "failing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=sorted(_MODEL_DEFAULTS), default="rnnlm",
                   help="rnnlm: Embedding-LSTM-Affine, D=H=100; better: two LSTMs, dropout, "
                        "tied weights, D=H=650, lr/4 when validation stalls (default rnnlm)")
    _add_data_arguments(p)
    p.add_argument("--train-file", metavar="TXT",
                   help="train on your own plain-text corpus instead of PTB (one sentence per "
                        "line; the vocabulary comes from this file)")
    p.add_argument("--valid-file", metavar="TXT", help="validation text for --train-file")
    p.add_argument("--test-file", metavar="TXT", help="test text for --train-file")
    _add_batch_arguments(p, 20, "the book's training")
    p.add_argument("--optimizer", choices=sorted(_LR_DEFAULTS), default="sgd",
                   help="default sgd")
    p.add_argument("--lr", type=float, help="default 20 (sgd) or 0.001 (adam)")
    p.add_argument("--max-grad", type=float, default=0.25,
                   help="clip gradients to this joint norm, default 0.25 (0: no clipping)")
    p.add_argument("--max-epoch", type=_positive_int, help=_per_model(2))
    p.add_argument("--wordvec-size", type=_positive_int, help=_per_model(0))
    p.add_argument("--hidden-size", type=_positive_int, help=_per_model(1))
    p.add_argument("--dropout", type=float, default=0.5, help="better only, default 0.5")
    p.add_argument("--eval-interval", type=_positive_int, default=20,
                   help="record the training perplexity every N iterations, default 20")
    p.add_argument("--seed", type=int, help="seed for the weights and dropout masks")
    p.add_argument("--save", metavar="FILE",
                   help=f"where to save the parameters, {_per_model(3)} (.pkl: the book's "
                        f"float16 pickle)")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the training perplexity curve (needs matplotlib: "
                        "pip install 'gatedrnn[plot]')")
    p.add_argument("--log", metavar="FILE",
                   help="write a line per recorded perplexity to FILE ('-': standard output)")
    p.add_argument("--max-iters", type=_positive_int, metavar="N",
                   help="stop after N iterations in all (a resumed run counts those before)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="where checkpoints go (default: the --save name with .ckpt.npz; with "
                        "--resume, the checkpoint resumed); one is always written on Ctrl-C")
    p.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                   help="write a checkpoint every N iterations")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the run saved in this checkpoint, writing its checkpoints "
                        "back to FILE: its model, data, settings, --save, --plot, --log, "
                        "--max-iters and --checkpoint-every are kept; of the options, only "
                        "those and --checkpoint, --data-dir and --no-progress apply anew")


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", metavar="FILE", required=True,
                   help="parameters saved by train (.npz), a checkpoint of train, or the "
                        "book's parameters (.pkl, a pickle: read only files you trust)")
    _add_data_arguments(p)
    p.add_argument("--split", choices=["train", "valid", "test"], default="test",
                   help="PTB split to evaluate, default test")
    p.add_argument("--file", metavar="TXT",
                   help="evaluate on this plain-text file instead of PTB")
    _add_batch_arguments(p, 10, "the book's evaluation")


def _say(*args: object) -> None:
    print(*args, flush=True)


def _ptb_words(split: str, data_dir: str | None) -> list[str]:
    from .datasets import _read_words, ptb_path
    return _read_words(ptb_path(split, data_dir))


def _encode(words: Sequence[str], word_to_id: Mapping[str, int], unk: str | None,
            source: str) -> Ids:
    from .datasets import words_to_ids
    return words_to_ids(words, word_to_id, unk=unk, source=source)


def _load_training_data(run: Mapping[str, Any]
                        ) -> tuple[Ids, Ids | None, Ids | None, list[str], str, str | None]:
    """(train ids, valid ids or None, test ids or None, vocabulary list,
    description, the folder PTB was read from or None) of a run's settings."""
    from .datasets import load_corpus, load_ptb, ptb_path
    folder = None
    if run["train_file"]:
        train, word_to_id, id_to_word = load_corpus(run["train_file"])
        valid: Ids | None = None
        test: Ids | None = None
        if run["valid_file"]:
            valid, _, _ = load_corpus(run["valid_file"], word_to_id, unk=run["unk"])
        if run["test_file"]:
            test, _, _ = load_corpus(run["test_file"], word_to_id, unk=run["unk"])
        source = run["train_file"]
    else:
        if run["valid_file"] or run["test_file"]:
            raise SystemExit("error: --valid-file and --test-file need --train-file")
        train, word_to_id, id_to_word = load_ptb("train", run["data_dir"])
        valid, _, _ = load_ptb("valid", run["data_dir"])
        test, _, _ = load_ptb("test", run["data_dir"])
        source = "PTB"
        folder = os.path.dirname(ptb_path("train", run["data_dir"], download=False))
    vocab = [id_to_word[i] for i in range(len(id_to_word))]
    return train, valid, test, vocab, source, folder


def _recorded_data(run: Mapping[str, Any]) -> str:
    """The data a checkpoint's run recorded, for an error message."""
    if run.get("train_file"):
        return ", ".join(repr(run[k]) for k in ("train_file", "valid_file", "test_file")
                         if run.get(k))
    return (f"PTB in {run['data_dir']!r}" if run.get("data_dir")
            else "PTB from the usual places (no folder recorded)")


def _user_errors(run: Callable[[argparse.Namespace], int]
                 ) -> Callable[[argparse.Namespace], int]:
    """Report bad input (missing or corrupt data, unknown words, bad files) as
    one line on stderr and exit status 2, instead of a traceback."""
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            return 2
    wrapped.__name__, wrapped.__doc__ = run.__name__, run.__doc__
    return wrapped


class _Interrupt:
    """Ctrl-C during training: the run stops after the iteration it is in (a
    second Ctrl-C stops at once)."""

    def __enter__(self) -> "_Interrupt":
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: stopping after this iteration (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> Literal[False]:
        signal.signal(signal.SIGINT, self._previous)
        return False


def _check_plot(path: str | None) -> None:
    """--plot needs matplotlib: say so before training, not after."""
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'gatedrnn[plot]'") from None


def _absolute(path: str | None) -> str | None:
    """Paths are recorded absolute, so that a resume from elsewhere finds them
    ('-', standard output, stays)."""
    return path if path is None or path == "-" else os.path.abspath(path)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """A new run's settings, from the options (JSON-ready: a checkpoint keeps them)."""
    D0, H0, epochs0, save0 = _MODEL_DEFAULTS[args.model]
    return dict(model=args.model, wordvec_size=args.wordvec_size or D0,
                hidden_size=args.hidden_size or H0, dropout=args.dropout,
                batch_size=args.batch_size, time_size=args.time_size, optimizer=args.optimizer,
                lr=args.lr if args.lr is not None else _LR_DEFAULTS[args.optimizer],
                max_grad=args.max_grad if args.max_grad and args.max_grad > 0 else None,
                max_epoch=args.max_epoch or epochs0, eval_interval=args.eval_interval,
                seed=args.seed, save=_absolute(args.save or save0),
                train_file=_absolute(args.train_file), valid_file=_absolute(args.valid_file),
                test_file=_absolute(args.test_file), data_dir=_absolute(args.data_dir),
                unk=args.unk, plot=_absolute(args.plot), log=_absolute(args.log),
                max_iters=args.max_iters, checkpoint_every=args.checkpoint_every)


def _resumed_settings(args: argparse.Namespace, run: Mapping[str, Any]) -> dict[str, Any]:
    """A resumed run's settings: the checkpoint's, with the options given anew.
    A checkpoint from before these were recorded has no plot, log or caps."""
    settings = {"plot": None, "log": None, "max_iters": None, "checkpoint_every": None,
                **run}
    for key in _KEPT_ON_RESUME:
        value = getattr(args, key)
        if value is not None:
            settings[key] = (value if key in ("max_iters", "checkpoint_every")
                             else _absolute(value))
    if args.data_dir is not None:
        settings["data_dir"] = _absolute(args.data_dir)
    return settings


class _Run:
    """A training run's pieces, new or taken from a checkpoint."""

    def __init__(self, args: argparse.Namespace) -> None:
        from .checkpoint import load_checkpoint
        from .models import BetterRnnlm, Rnnlm
        from .optim import SGD, Adam
        from .trainer import RnnlmTrainer

        resumed = load_checkpoint(args.resume) if args.resume else None
        self.settings = run = (_resumed_settings(args, resumed.run) if resumed
                               else _settings(args))
        self.recorded_log = resumed.run.get("log") if resumed else None
        try:
            (self.train, self.valid, self.test, self.vocab, self.source,
             folder) = _load_training_data(run)
        except FileNotFoundError as e:
            if not resumed or args.data_dir is not None:
                raise
            raise FileNotFoundError(
                f"{args.resume} records its data as {_recorded_data(run)}, and it is not "
                f"there any more ({str(e).splitlines()[0]}); put it back"
                + (", or give --data-dir" if not run["train_file"] else "")) from None
        if folder is not None:
            run["data_dir"] = folder    # where PTB was found, for eval and resume
        if run["model"] == "better" and self.valid is None:
            raise SystemExit("error: --model better needs validation data (--valid-file)")
        if resumed:
            if resumed.vocab is not None and resumed.vocab != self.vocab:
                raise SystemExit(f"error: the checkpoint's vocabulary differs from "
                                 f"{self.source}'s")
            self.model, self.optimizer = resumed.model, resumed.optimizer
            self.trainer, self.schedule = resumed.trainer, resumed.schedule
        else:
            V, D, H = len(self.vocab), run["wordvec_size"], run["hidden_size"]
            if run["model"] == "rnnlm":
                self.model = Rnnlm(V, D, H, seed=run["seed"])
            else:
                self.model = BetterRnnlm(V, D, H, run["dropout"], seed=run["seed"])
            self.optimizer = (SGD if run["optimizer"] == "sgd" else Adam)(run["lr"])
            self.trainer, self.schedule = RnnlmTrainer(self.model, self.optimizer), None
        self.resumed_from = args.resume
        self.save = run["save"]
        self.checkpoint = (args.checkpoint or args.resume
                           or os.path.splitext(self.save)[0] + ".ckpt.npz")

    def nothing_left(self) -> str | None:
        """Why a resumed run has nothing to train, or None."""
        run, steps = self.settings, self.trainer.steps
        if run["max_iters"] is not None and steps >= run["max_iters"]:
            return (f"it is at iteration {steps}, already at --max-iters {run['max_iters']} "
                    f"(give a larger --max-iters to go on)")
        epochs = (self.schedule["epoch"] if self.schedule is not None
                  else self.trainer.current_epoch)
        if epochs >= run["max_epoch"]:
            return f"its {run['max_epoch']} epoch(s) are done"
        return None

    def logged_records(self) -> int:
        """How many lines the run's --log holds for the records in the checkpoint."""
        done = sum(len(h["train_ppl"]) for h in (self.schedule or {"history": []})["history"])
        return done + len(self.trainer.ppl_list)

    def describe(self) -> str:
        run, m = self.settings, self.model
        return (f"{type(m).__name__}: V={len(self.vocab)}, D={run['wordvec_size']}, "
                f"H={run['hidden_size']} on {self.source} ({len(self.train)} training words); "
                f"batch {run['batch_size']}, time {run['time_size']}, {run['optimizer']} lr "
                f"{self.optimizer.lr:g}, max_grad {run['max_grad']}, {run['max_epoch']} "
                f"epoch(s), seed {run['seed']}"
                + (f"; resumed from {self.resumed_from} at iteration {self.trainer.steps} "
                   f"({self.files()})" if self.resumed_from else ""))

    def files(self) -> str:
        run = self.settings
        every = run["checkpoint_every"]
        return "; ".join(text for text, value in (
            (f"checkpoints to {self.checkpoint}" + (f" every {every} iterations" if every else ""),
             True),
            (f"parameters to {self.save}", True), (f"log to {run['log']}", run["log"]),
            (f"curve to {run['plot']}", run["plot"]),
            (f"--max-iters {run['max_iters']}", run["max_iters"])) if value)

    def write_checkpoint(self) -> None:
        from .checkpoint import save_checkpoint
        save_checkpoint(self.checkpoint, self.model, self.optimizer, self.trainer,
                        schedule=getattr(self.trainer, "schedule", None), run=self.settings,
                        vocab=self.vocab)

    def save_params(self) -> None:
        from .params import save_params
        save_params(self.model, self.save,
                    vocab=None if self.save.endswith(".pkl") else self.vocab)

    def fit(self, progress: bool, log: Log | None, stop: Callable[["RnnlmTrainer"], object],
            on_iteration: Callable[["RnnlmTrainer"], object]) -> None:
        from .trainer import fit_with_lr_decay
        run = self.settings
        sizes = (run["batch_size"], run["time_size"], run["max_grad"], run["eval_interval"])
        if run["model"] == "rnnlm":
            self.trainer.fit(self.train[:-1], self.train[1:], run["max_epoch"], *sizes,
                             progress=progress, log=log, stop=stop, on_iteration=on_iteration,
                             max_steps=run["max_iters"])
        else:
            self.trainer, _ = fit_with_lr_decay(
                # __init__ made sure that the better model has validation data.
                self.model, self.optimizer, self.train, cast(Ids, self.valid), run["max_epoch"],
                *sizes,
                save_best=lambda m: self.save_params(), progress=progress, log=log,
                report=_say, trainer=self.trainer, schedule=self.schedule, stop=stop,
                on_iteration=on_iteration, max_steps=run["max_iters"])

    def training_perplexities(self) -> list[float]:
        """Every recorded training perplexity of the run, across epochs."""
        history = getattr(self.trainer, "schedule", {"history": None})["history"]
        if history is None:
            return list(self.trainer.ppl_list)
        return ([p for h in history for p in h["train_ppl"]]
                + (list(self.trainer.ppl_list) if self.trainer.stopped else []))


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB" if n >= 1000 else f"{n} B"


def _open_log(path: str | None, append: bool, keep: int | None = None
              ) -> tuple[Log | None, IO[str] | None]:
    """(log function or None, file to close or None) for --log. With `keep`,
    lines past the first `keep` are dropped first: a run killed after its last
    checkpoint logged records that the resumed run logs again."""
    if path == "-":
        return print, None
    if not path:
        return None, None
    if keep is not None and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        if len(lines) > keep:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines[:keep])
    f = open(path, "a" if append else "w", encoding="utf-8")

    def log(line: str) -> None:
        f.write(line + "\n")
        f.flush()
    return log, f


@_user_errors
def run_train(args: argparse.Namespace) -> int:
    from .trainer import eval_perplexity, plot_perplexity

    from .checkpoint import remove_stale_temporaries

    _check_plot(args.plot)
    r = _Run(args)
    run = r.settings
    _check_plot(run["plot"])
    for path in dict.fromkeys(p for p in (r.checkpoint, args.resume, r.save) if p):
        removed = remove_stale_temporaries(path)
        if removed:
            _say(f"removed {len(removed)} unfinished write(s) of {path} left by processes no "
                 f"longer running: " + ", ".join(f"{os.path.basename(name)} ({_size(size)})"
                                                 for name, size in removed))
    if r.resumed_from:
        why = r.nothing_left()
        if why is not None:
            saved = "" if os.path.exists(r.save) else "; its parameters saved to " + r.save
            if saved:
                r.save_params()
            _say(f"nothing to train: {r.resumed_from} is done, {why}; files left as they "
                 f"are{saved}")
            return 0
    _say(r.describe())
    progress = not args.no_progress
    keep = (r.logged_records() if r.resumed_from and run["log"] == r.recorded_log else None)
    log, log_file = _open_log(run["log"], append=bool(args.resume), keep=keep)
    every, cap = run["checkpoint_every"], run["max_iters"]

    def on_iteration(t: "RnnlmTrainer") -> None:
        # At the cap, the checkpoint is written after the parameters, below.
        if every and t.steps % every == 0 and not (cap is not None and t.steps >= cap):
            r.write_checkpoint()

    start = time.perf_counter()
    try:
        with _Interrupt() as interrupt:
            r.fit(progress, log, lambda t: interrupt.requested, on_iteration)
            if interrupt.requested:
                r.write_checkpoint()
                _say(f"interrupted at iteration {r.trainer.steps}: checkpoint written to "
                     f"{r.checkpoint}; continue with:\n  python -m gatedrnn train --resume "
                     f"{shlex.quote(r.checkpoint)}")
                return 130
        seconds = time.perf_counter() - start
        stopped = r.trainer.stopped
        ppl_list = r.training_perplexities()
        if r.settings["model"] == "rnnlm" or stopped:
            # Parameters first: a checkpoint at the cap then means they were saved.
            r.save_params()
        if stopped or args.checkpoint or every or r.resumed_from:
            r.write_checkpoint()
        if r.settings["model"] == "rnnlm" or stopped:
            _say((f"stopped after {r.trainer.steps} iterations (--max-iters); checkpoint "
                  f"{r.checkpoint}; " if stopped else "")
                 + f"trained in {seconds:.1f} s; last recorded training perplexity "
                   f"{ppl_list[-1]:.2f}; parameters saved to {r.save}")
            if r.valid is not None and r.settings["model"] == "rnnlm":
                _say(f"valid perplexity: {eval_perplexity(r.model, r.valid, progress=progress):.2f}")
        else:
            _say(f"trained in {seconds:.1f} s; best parameters (valid perplexity "
                 f"{r.trainer.schedule['best_ppl']:.2f}) saved to {r.save}")
        if run["plot"]:
            plot_perplexity(ppl_list, run["eval_interval"], run["plot"],
                            title=f"{type(r.model).__name__} training perplexity")
            _say(f"perplexity curve drawn to {run['plot']}")
        if r.test is not None:
            t0 = time.perf_counter()
            ppl = eval_perplexity(r.model, r.test, progress=progress)
            _say(f"test perplexity: {ppl:.2f} ({time.perf_counter() - t0:.1f} s)")
    finally:
        if log_file is not None:
            log_file.close()
    return 0


@_user_errors
def run_eval(args: argparse.Namespace) -> int:
    from .datasets import load_ptb
    from .models import model_from_params
    from .trainer import eval_perplexity

    from .checkpoint import is_checkpoint, load_checkpoint
    info: Mapping[str, Any]
    run: Mapping[str, Any] = {}
    if is_checkpoint(args.params):
        saved = load_checkpoint(args.params)
        model, info = saved.model, {"format": "checkpoint", "vocab": saved.vocab}
        run = saved.run
    else:
        model, info = model_from_params(args.params)
    # The run's --unk goes with the run's data; other data need their own.
    unk = args.unk if args.unk is not None or args.file else run.get("unk")
    V = model.vocab_size
    vocab = info.get("vocab")
    if args.file:
        if vocab is None:
            from .datasets import build_vocab
            word_to_id, _ = build_vocab(_ptb_words("train", args.data_dir))
            vocab_source = "the PTB training split"
        else:
            word_to_id = {w: i for i, w in enumerate(vocab)}
            vocab_source = args.params
        from .datasets import _read_words
        if not os.path.isfile(args.file):
            raise SystemExit(f"error: no corpus file at {args.file!r}")
        corpus = _encode(_read_words(args.file), word_to_id, unk, args.file)
        what = args.file
    elif vocab is not None:
        word_to_id = {w: i for i, w in enumerate(vocab)}
        words, what = _run_split(run, args.split, args.data_dir, args.params)
        corpus = _encode(words, word_to_id, unk, what)
        vocab_source = args.params
    else:
        corpus, word_to_id, _ = load_ptb(args.split, args.data_dir)
        what, vocab_source = f"PTB {args.split}", "the PTB training split"
    if len(word_to_id) != V:
        raise SystemExit(f"error: the model's vocabulary has V={V} words, but the vocabulary "
                         f"from {vocab_source} has {len(word_to_id)}")
    t0 = time.perf_counter()
    ppl = eval_perplexity(model, corpus, args.batch_size, args.time_size,
                          progress=not args.no_progress)
    _say(f"{type(model).__name__} from {args.params} ({info['format']}) on {what}: "
         f"{len(corpus)} words, batch {args.batch_size}, time {args.time_size}, "
         f"{time.perf_counter() - t0:.1f} s")
    _say(f"{'corpus' if args.file else args.split} perplexity: {ppl:.2f}")
    return 0


def _run_split(run: Mapping[str, Any], split: str, data_dir: str | None,
               params: str) -> tuple[list[str], str]:
    """(words, description) of a split of the data a checkpoint's run trained
    on: its own file for the split, else PTB's from the folder it recorded
    (--data-dir first)."""
    from .datasets import _read_words
    if run.get("train_file") and data_dir is None:
        path = run.get(f"{split}_file")
        if not path:
            raise ValueError(f"{params} was trained on {run['train_file']!r} with no {split} "
                             f"file ({_recorded_data(run)}); give one with --file")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{params} records its {split} data as {path!r}, which is "
                                    f"not there any more; put it back, or give --file")
        return _read_words(path), path
    folder = data_dir if data_dir is not None else run.get("data_dir")
    try:
        return _ptb_words(split, folder), f"PTB {split}"
    except FileNotFoundError as e:
        if data_dir is not None or not folder:
            raise
        raise FileNotFoundError(f"{params} records its data as PTB in {folder!r}, and it is "
                                f"not there any more ({str(e).splitlines()[0]}); put it back, "
                                f"or give --data-dir or --file") from None


# ---- python -m gatedrnn generate ---------------------------------------------------

# The words the book's ch07/generate_text.py never prints.
BOOK_SKIP_WORDS = ("N", "<unk>", "$")


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {text!r}")
    return value


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", metavar="FILE", required=True,
                   help="parameters saved by train (.npz), a checkpoint of train (.ckpt.npz), "
                        "or the book's parameters (.pkl, a pickle: read only files you trust)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with ptb.train.txt, for the vocabulary of files that do not "
                        "hold one (the book's .pkl): else $GATEDRNN_DATA, then the user cache, "
                        "then a download")
    p.add_argument("--unk", metavar="WORD",
                   help="map start words outside the vocabulary to WORD (e.g. '<unk>') "
                        "instead of failing")
    p.add_argument("--start", metavar="WORDS", default="you",
                   help="the words the text starts from, fed to the model first (default: "
                        "you, as the book's generate_text.py)")
    p.add_argument("--length", type=_positive_int, default=99, metavar="N",
                   help="words to sample after the start words (default 99: with one start "
                        "word, the book's 100-word text)")
    p.add_argument("--skip", metavar="WORDS", default=None,
                   help="words never to print, drawn again when sampled as the book does "
                        f"(default: {' '.join(BOOK_SKIP_WORDS)}, the book's, those in the "
                        f"vocabulary; '' for none)")
    p.add_argument("--temperature", type=_temperature, default=1.0, metavar="T",
                   help="divide the scores by T: below 1 safer, above 1 more varied; 0 always "
                        "takes the likeliest word (default 1)")
    p.add_argument("--top-k", type=_positive_int, default=None, metavar="K",
                   help="sample only among the K likeliest words")
    p.add_argument("--samples", type=_positive_int, default=1, metavar="S",
                   help="texts to sample from the same start, at once (default 1)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed of NumPy's legacy generator (np.random.seed(S), as the book's "
                        "programs use it): the same words as the book's RnnlmGen.generate "
                        "after np.random.seed(S); default: fresh randomness")


def _generation_model(args: argparse.Namespace) -> tuple[Any, list[str], str]:
    """(model, vocabulary list, where the vocabulary came from) for --params."""
    from .checkpoint import is_checkpoint, load_checkpoint
    from .models import model_from_params
    if not os.path.isfile(args.params):
        raise FileNotFoundError(f"no parameter file at {args.params!r}")
    vocab: Sequence[str] | None
    if is_checkpoint(args.params):
        saved = load_checkpoint(args.params)
        model, vocab = saved.model, saved.vocab
    else:
        model, info = model_from_params(args.params)
        vocab = info.get("vocab")
    source = args.params
    if vocab is None:
        from .datasets import load_ptb
        _, _, id_to_word = load_ptb("train", args.data_dir)
        vocab = [id_to_word[i] for i in range(len(id_to_word))]
        source = "the PTB training split"
    if len(vocab) != model.vocab_size:
        raise ValueError(f"the model's vocabulary has V={model.vocab_size} words, but the "
                         f"vocabulary from {source} has {len(vocab)}")
    model.reset_state()   # a checkpoint carries its training batch's state: start from zeros
    return model, list(vocab), source


def _text(words: Sequence[str]) -> str:
    """The words as the book prints them: '<eos>' ends a sentence."""
    return " ".join(words).replace(" <eos>", ".\n")


@_user_errors
def run_generate(args: argparse.Namespace) -> int:
    try:
        return _generate(args)
    except KeyboardInterrupt:
        print("\ninterrupted: no text generated", file=sys.stderr, flush=True)
        return 130


def _generate(args: argparse.Namespace) -> int:
    from .datasets import split_words
    model, vocab, vocab_source = _generation_model(args)
    word_to_id = {w: i for i, w in enumerate(vocab)}
    start_words = split_words(args.start)
    if not start_words:
        raise ValueError("--start must hold at least one word")
    if args.start == "you" and "you" not in word_to_id and args.unk is None:
        raise ValueError(f"the default --start, the book's 'you', is not a word of the "
                         f"vocabulary (from {vocab_source}): pass --start WORDS")
    start = _encode(start_words, word_to_id, args.unk, "--start")
    if args.skip is None:
        skip_words = [w for w in BOOK_SKIP_WORDS if w in word_to_id]
    else:
        skip_words = split_words(args.skip)
        unknown = [w for w in skip_words if w not in word_to_id]
        if unknown:
            raise ValueError(f"--skip has word(s) not in the vocabulary (from {vocab_source}): "
                             f"{', '.join(repr(w) for w in unknown[:5])}")
    skip_ids = [word_to_id[w] for w in skip_words] or None
    if args.top_k is not None and args.top_k > model.vocab_size:
        raise ValueError(f"--top-k must be at most V = {model.vocab_size}; got {args.top_k}")
    rng = np.random.RandomState(args.seed) if args.seed is not None else None
    print(f"{type(model).__name__} from {args.params}: V={model.vocab_size}; "
          f"{args.samples} text(s) of {len(start_words)} start word(s) and {args.length} "
          f"sampled; skipping {' '.join(skip_words) or 'nothing'}", file=sys.stderr, flush=True)
    ids = model.generate(start, args.length, skip_ids=skip_ids, temperature=args.temperature,
                         top_k=args.top_k, samples=args.samples, rng=rng)
    shown = [vocab[i] for i in start]   # what the model read: --unk's word for unknown ones
    for k, row in enumerate(ids):
        if k:
            _say("-" * 50)
        _say(_text(shown + [vocab[i] for i in row]))
    return 0
