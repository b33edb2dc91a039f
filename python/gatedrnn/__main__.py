"""Command line: `python -m gatedrnn [--version] [demo | bench | train | eval | generate | book |
gradients]`.

One ``add_parser`` block per command; ``main`` dispatches on its name.
"""
import argparse
import sys
from collections.abc import Callable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gatedrnn",
                                     description="gatedrnn: fast, verified recurrent layers for NumPy.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"gatedrnn {__version__}")
    commands = parser.add_subparsers(dest="command")

    demo = commands.add_parser(
        "demo", help="gradient-check the compiled layers and time them against the NumPy spec "
                     "(the default)",
        description="Check every compiled layer (TimeLSTM, TimeGRU, TimeRNN, TimeBiLSTM): its "
                    "gradients against central finite differences, its outputs and gradients "
                    "against gatedrnn.spec in float32 and float64, then time forward+backward "
                    "against the spec (the median of several rounds, and how much they "
                    "varied). Exits 1 if a check fails. Takes about half a minute.")
    demo.add_argument("--quick", action="store_true", help="skip the largest size")

    from . import bench
    bench.build_parser(commands.add_parser(
        "bench", help="time TimeLSTM against the spec, PyTorch (if installed) and the BLAS",
        description=bench.DESCRIPTION))

    from .lm import cli as lm_cli  # argparse definitions only; nothing heavy is imported

    train = commands.add_parser(
        "train", help="train the chapter-6 LSTM language model (PTB or your own text)",
        description="Train Rnnlm or BetterRnnlm with the book's truncated BPTT and "
                    "gradient clipping; the defaults are the book's hyperparameters.")
    lm_cli.add_train_arguments(train)

    evaluate = commands.add_parser(
        "eval", help="perplexity of saved language-model parameters (.npz or the book's .pkl)",
        description="Evaluate saved parameters with the book's protocol (batch 10, time 35).")
    lm_cli.add_eval_arguments(evaluate)

    generate = commands.add_parser(
        "generate", help="sample text from a trained language model (.npz, checkpoint or the "
                         "book's .pkl)",
        description="Sample text from Rnnlm or BetterRnnlm parameters, as the book's "
                    "ch07/generate_text.py does: the start words are fed to the model, then "
                    "each word is drawn from its softmax and fed back. Text goes to standard "
                    "output ('<eos>' printed as a sentence end); one line on standard error "
                    "describes the run.")
    lm_cli.add_generate_arguments(generate)

    from .book import run as book_run  # argparse definitions only
    book_run.add_arguments(commands.add_parser(
        "book", help="run one of the book's programs unchanged, on gatedrnn's layers",
        description=book_run.DESCRIPTION))

    from . import gradients
    gradients.add_arguments(commands.add_parser(
        "gradients", help="the chapter's argument: vanishing and exploding gradients, "
                          "clipping, the LSTM's cell",
        description=gradients.DESCRIPTION))
    return parser


def until_interrupted(command: str, run: Callable[[], int]) -> int:
    """run(), or on Ctrl-C one line on stderr and exit status 130 (128 + SIGINT),
    as the shell reports a program that SIGINT ended; no traceback."""
    try:
        return run()
    except KeyboardInterrupt:
        print(f"\n{command}: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        return 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "demo"):
        from . import demo
        return until_interrupted("demo", lambda: demo.main(quick=getattr(args, "quick", False)))
    if args.command == "bench":
        from . import bench
        return until_interrupted("bench", lambda: bench.main(args=args))
    if args.command == "train":
        from .lm.cli import run_train
        return run_train(args)
    if args.command == "eval":
        from .lm.cli import run_eval
        return run_eval(args)
    if args.command == "generate":
        from .lm.cli import run_generate
        return run_generate(args)
    if args.command == "book":
        from .book.run import main as run_book
        return run_book(args)
    if args.command == "gradients":
        from .gradients import main as run_gradients
        return run_gradients(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
