"""``python -m gatedrnn train`` and ``python -m gatedrnn eval``.

Defaults are the book's chapter-6 hyperparameters: ch06/train_rnnlm.py for
``--model rnnlm`` and ch06/train_better_rnnlm.py for ``--model better``.
"""
import argparse
import os
import sys
import time

# model -> (wordvec_size, hidden_size, max_epoch, save name)
_MODEL_DEFAULTS = {"rnnlm": (100, 100, 4, "Rnnlm.npz"),
                   "better": (650, 650, 40, "BetterRnnlm.npz")}
_LR_DEFAULTS = {"sgd": 20.0, "adam": 0.001}


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _add_data_arguments(p):
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with ptb.{train,valid,test}.txt (else $GATEDRNN_DATA, then the "
                        "user cache, then a download)")
    p.add_argument("--unk", metavar="WORD",
                   help="map words outside the vocabulary to WORD (e.g. '<unk>') instead of "
                        "failing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_train_arguments(p):
    p.add_argument("--model", choices=sorted(_MODEL_DEFAULTS), default="rnnlm",
                   help="rnnlm: Embedding-LSTM-Affine, D=H=100; better: two LSTMs, dropout, "
                        "tied weights, D=H=650, lr/4 when validation stalls (default rnnlm)")
    _add_data_arguments(p)
    p.add_argument("--train-file", metavar="TXT",
                   help="train on your own plain-text corpus instead of PTB (one sentence per "
                        "line; the vocabulary comes from this file)")
    p.add_argument("--valid-file", metavar="TXT", help="validation text for --train-file")
    p.add_argument("--test-file", metavar="TXT", help="test text for --train-file")
    p.add_argument("--batch-size", type=_positive_int, default=20, help="default 20")
    p.add_argument("--time-size", type=_positive_int, default=35, help="BPTT length, default 35")
    p.add_argument("--optimizer", choices=sorted(_LR_DEFAULTS), default="sgd",
                   help="default sgd")
    p.add_argument("--lr", type=float, help="default 20 (sgd) or 0.001 (adam)")
    p.add_argument("--max-grad", type=float, default=0.25,
                   help="clip gradients to this joint norm, default 0.25 (0: no clipping)")
    p.add_argument("--max-epoch", type=_positive_int, help="default 4 (rnnlm) or 40 (better)")
    p.add_argument("--wordvec-size", type=_positive_int, help="default 100 (rnnlm) or 650 (better)")
    p.add_argument("--hidden-size", type=_positive_int, help="default 100 (rnnlm) or 650 (better)")
    p.add_argument("--dropout", type=float, default=0.5, help="better only, default 0.5")
    p.add_argument("--eval-interval", type=_positive_int, default=20,
                   help="record the training perplexity every N iterations, default 20")
    p.add_argument("--seed", type=int, help="seed for the weights and dropout masks")
    p.add_argument("--save", metavar="FILE",
                   help="where to save the parameters, default Rnnlm.npz / BetterRnnlm.npz "
                        "(.pkl: the book's float16 pickle)")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the training perplexity curve (needs matplotlib: "
                        "pip install 'gatedrnn[plot]')")
    p.add_argument("--log", metavar="FILE",
                   help="write a line per recorded perplexity to FILE ('-': standard output)")


def add_eval_arguments(p):
    p.add_argument("--params", metavar="FILE", required=True,
                   help="parameters saved by train (.npz) or by the book's code (.pkl, a "
                        "pickle: read only files you trust)")
    _add_data_arguments(p)
    p.add_argument("--split", choices=["train", "valid", "test"], default="test",
                   help="PTB split to evaluate, default test")
    p.add_argument("--file", metavar="TXT",
                   help="evaluate on this plain-text file instead of PTB")
    p.add_argument("--batch-size", type=_positive_int, default=10, help="default 10 (the book's)")
    p.add_argument("--time-size", type=_positive_int, default=35, help="default 35 (the book's)")


def _say(*args):
    print(*args, flush=True)


def _ptb_words(split, data_dir):
    from .datasets import _read_words, ptb_path
    return _read_words(ptb_path(split, data_dir))


def _encode(words, word_to_id, unk, source):
    from .datasets import words_to_ids
    return words_to_ids(words, word_to_id, unk=unk, source=source)


def _load_training_data(args):
    """(train ids, valid ids or None, test ids or None, vocabulary list, description)."""
    from .datasets import load_corpus, load_ptb
    if args.train_file:
        train, word_to_id, id_to_word = load_corpus(args.train_file)
        valid = test = None
        if args.valid_file:
            valid, _, _ = load_corpus(args.valid_file, word_to_id, unk=args.unk)
        if args.test_file:
            test, _, _ = load_corpus(args.test_file, word_to_id, unk=args.unk)
        source = args.train_file
    else:
        if args.valid_file or args.test_file:
            raise SystemExit("error: --valid-file and --test-file need --train-file")
        train, word_to_id, id_to_word = load_ptb("train", args.data_dir)
        valid, _, _ = load_ptb("valid", args.data_dir)
        test, _, _ = load_ptb("test", args.data_dir)
        source = "PTB"
    vocab = [id_to_word[i] for i in range(len(id_to_word))]
    return train, valid, test, vocab, source


def _user_errors(run):
    """Report bad input (missing or corrupt data, unknown words, bad files) as
    one line on stderr and exit status 2, instead of a traceback."""
    def wrapped(args):
        try:
            return run(args)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            return 2
    wrapped.__name__, wrapped.__doc__ = run.__name__, run.__doc__
    return wrapped


@_user_errors
def run_train(args):
    from .models import BetterRnnlm, Rnnlm
    from .optim import SGD, Adam
    from .params import save_params
    from .trainer import RnnlmTrainer, eval_perplexity, fit_with_lr_decay, plot_perplexity

    D0, H0, epochs0, save0 = _MODEL_DEFAULTS[args.model]
    D = args.wordvec_size or D0
    H = args.hidden_size or H0
    max_epoch = args.max_epoch or epochs0
    lr = args.lr if args.lr is not None else _LR_DEFAULTS[args.optimizer]
    max_grad = args.max_grad if args.max_grad and args.max_grad > 0 else None
    save = args.save or save0
    progress = not args.no_progress

    train, valid, test, vocab, source = _load_training_data(args)
    V = len(vocab)
    if args.model == "better" and valid is None:
        raise SystemExit("error: --model better needs validation data (--valid-file)")
    if args.model == "rnnlm":
        model = Rnnlm(V, D, H, seed=args.seed)
    else:
        model = BetterRnnlm(V, D, H, args.dropout, seed=args.seed)
    optimizer = SGD(lr) if args.optimizer == "sgd" else Adam(lr)
    _say(f"{type(model).__name__}: V={V}, D={D}, H={H} on {source} ({len(train)} training "
         f"words); batch {args.batch_size}, time {args.time_size}, {args.optimizer} lr {lr:g}, "
         f"max_grad {max_grad}, {max_epoch} epoch(s), seed {args.seed}")

    log_file = None
    if args.log == "-":
        log = print
    elif args.log:
        log_file = open(args.log, "w", encoding="utf-8")

        def log(line):
            log_file.write(line + "\n")
            log_file.flush()
    else:
        log = None

    start = time.perf_counter()
    try:
        if args.model == "rnnlm":
            trainer = RnnlmTrainer(model, optimizer)
            trainer.fit(train[:-1], train[1:], max_epoch, args.batch_size, args.time_size,
                        max_grad, args.eval_interval, progress=progress, log=log)
            ppl_list = trainer.ppl_list
            save_params(model, save, vocab=None if save.endswith(".pkl") else vocab)
            _say(f"trained in {time.perf_counter() - start:.1f} s; last recorded training "
                 f"perplexity {ppl_list[-1]:.2f}; parameters saved to {save}")
            if valid is not None:
                ppl = eval_perplexity(model, valid, progress=progress)
                _say(f"valid perplexity: {ppl:.2f}")
        else:
            def save_best(m):
                save_params(m, save, vocab=None if save.endswith(".pkl") else vocab)

            trainer, history = fit_with_lr_decay(
                model, optimizer, train, valid, max_epoch, args.batch_size, args.time_size,
                max_grad, args.eval_interval, save_best=save_best, progress=progress,
                log=log, report=_say)
            ppl_list = [p for h in history for p in h["train_ppl"]]
            _say(f"trained in {time.perf_counter() - start:.1f} s; best parameters "
                 f"(valid perplexity {min(h['val_ppl'] for h in history):.2f}) saved to {save}")
        if args.plot:
            plot_perplexity(ppl_list, args.eval_interval, args.plot,
                            title=f"{type(model).__name__} training perplexity")
            _say(f"perplexity curve drawn to {args.plot}")
        if test is not None:
            t0 = time.perf_counter()
            ppl = eval_perplexity(model, test, progress=progress)
            _say(f"test perplexity: {ppl:.2f} ({time.perf_counter() - t0:.1f} s)")
    finally:
        if log_file is not None:
            log_file.close()
    return 0


@_user_errors
def run_eval(args):
    from .datasets import load_ptb
    from .params import model_from_params
    from .trainer import eval_perplexity

    model, info = model_from_params(args.params)
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
        corpus = _encode(_read_words(args.file), word_to_id, args.unk, args.file)
        what = args.file
    elif vocab is not None:
        word_to_id = {w: i for i, w in enumerate(vocab)}
        corpus = _encode(_ptb_words(args.split, args.data_dir), word_to_id, args.unk,
                         f"PTB {args.split}")
        what, vocab_source = f"PTB {args.split}", args.params
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
