#!/usr/bin/env python3
"""Time the book's own programs alone and under gatedrnn.book, side by side.

    python tools/bench_book.py path/to/deep-learning-from-scratch-2
    python tools/bench_book.py BOOK --programs ch06-rnnlm,ch07-seq2seq --rounds 3

For each program, each round starts two fresh processes one after the other:
the book's code alone, then the same code after ``gatedrnn.book.install()``.
Each process builds the chapter's model with the book's own classes and
hyperparameters after ``np.random.seed(SEED)``, runs the first iterations
(their losses are compared), then times blocks of iterations of the book's own
training loop (its Trainer, RnnlmTrainer or, for ch05, the script's loop),
with a pause before each block. It prints the median milliseconds per
iteration of each side, the speed-up (book / gatedrnn, the range over the
blocks' medians in brackets) and the largest relative difference between the
two sides' first losses.

The book's checkout needs PTB in its ``dataset/`` folder for ch05 and ch06
(``ptb.train.txt`` and the others); copy them there from ``$GATEDRNN_DATA/ptb``
or let the book download them.
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# name: (chapter folder, iterations timed per block, blocks, losses compared)
PROGRAMS = {
    "ch05-simple-rnnlm": ("ch05", 200, 5, 20),
    "ch06-rnnlm": ("ch06", 20, 5, 20),
    "ch06-better-rnnlm": ("ch06", 3, 3, 2),
    "ch07-seq2seq": ("ch07", 40, 5, 20),
    "ch08-attention": ("ch08", 10, 3, 5),
}
PAUSE = 0.5  # seconds before each block, so that BLAS threads go back to sleep


def _ptb():
    from dataset import ptb
    corpus, word_to_id, _ = ptb.load_data("train")
    return corpus, len(word_to_id)


def _rnnlm_trainer_run(model, optimizer, corpus, iters, max_grad):
    """One call of the book's RnnlmTrainer.fit over exactly `iters`
    iterations, every loss recorded; returns (seconds, losses)."""
    from common.trainer import RnnlmTrainer
    trainer = RnnlmTrainer(model, optimizer)
    xs, ts = corpus[:iters * 700], corpus[1:iters * 700 + 1]
    start = time.perf_counter()
    trainer.fit(xs, ts, max_epoch=1, batch_size=20, time_size=35, max_grad=max_grad,
                eval_interval=1)
    return time.perf_counter() - start, [float(np.log(p)) for p in trainer.ppl_list]


def _seq_trainer_run(model, optimizer, x, t, iters, state):
    """One call of the book's Trainer.fit over `iters` batches of 128."""
    from common.trainer import Trainer
    trainer = Trainer(model, optimizer)
    n = iters * 128
    start = time.perf_counter()
    trainer.fit(x[state * n % len(x):][:n], t[state * n % len(x):][:n], max_epoch=1,
                batch_size=128, max_grad=5.0, eval_interval=1)
    return time.perf_counter() - start, trainer.loss_list


def _simple_rnnlm_loop(model, optimizer, xs, ts, iters, state):
    """ch05/train_custom_loop.py's loop: batch 10, time 5, SGD, no clipping."""
    batch_size, time_size, data_size = 10, 5, len(xs)
    jump = (data_size) // batch_size
    offsets = [i * jump for i in range(batch_size)]
    losses = []
    start = time.perf_counter()
    for _ in range(iters):
        batch_x = np.empty((batch_size, time_size), dtype="i")
        batch_t = np.empty((batch_size, time_size), dtype="i")
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                batch_x[i, t] = xs[(offset + state["time_idx"]) % data_size]
                batch_t[i, t] = ts[(offset + state["time_idx"]) % data_size]
            state["time_idx"] += 1
        losses.append(float(model.forward(batch_x, batch_t)))
        model.backward()
        optimizer.update(model.params, model.grads)
    return time.perf_counter() - start, losses


def child(book, program, engine, seed):
    """Runs in a fresh process: build, first losses, timed blocks; prints JSON."""
    folder, per_block, blocks, compared = PROGRAMS[program]
    os.chdir(os.path.join(book, folder))
    sys.path[:0] = [os.getcwd(), book]
    if engine == "gatedrnn":
        import gatedrnn.book
        gatedrnn.book.install()
    np.random.seed(seed)
    quiet = contextlib.redirect_stdout(io.StringIO())
    if program in ("ch06-rnnlm", "ch06-better-rnnlm"):
        from common.optimizer import SGD
        corpus, V = _ptb()
        if program == "ch06-rnnlm":
            from rnnlm import Rnnlm
            model = Rnnlm(V, 100, 100)
        else:
            from better_rnnlm import BetterRnnlm
            model = BetterRnnlm(V, 650, 650, 0.5)
        optimizer = SGD(20.0)
        run = lambda n, k: _rnnlm_trainer_run(model, optimizer, corpus, n, 0.25)  # noqa: E731
    elif program == "ch05-simple-rnnlm":
        from common.optimizer import SGD
        from simple_rnnlm import SimpleRnnlm
        corpus, _ = _ptb()
        corpus = corpus[:1000]
        model, optimizer = SimpleRnnlm(int(corpus.max() + 1), 100, 100), SGD(0.1)
        state = {"time_idx": 0}
        run = lambda n, k: _simple_rnnlm_loop(model, optimizer, corpus[:-1], corpus[1:], n,  # noqa: E731
                                              state)
    else:
        from common.optimizer import Adam
        from dataset import sequence
        if program == "ch07-seq2seq":
            from seq2seq import Seq2seq as Model
            (x, t), _ = sequence.load_data("addition.txt")
            sizes = (16, 128)
        else:
            from attention_seq2seq import AttentionSeq2seq as Model
            (x, t), _ = sequence.load_data("date.txt")
            x = x[:, ::-1]
            sizes = (16, 256)
        char_to_id, _ = sequence.get_vocab()
        model, optimizer = Model(len(char_to_id), *sizes), Adam()
        run = lambda n, k: _seq_trainer_run(model, optimizer, x, t, n, k)  # noqa: E731
    with quiet:
        _, losses = run(compared, 0)
        ms = []
        for k in range(blocks):
            time.sleep(PAUSE)
            seconds, _ = run(per_block, k + 1)
            ms.append(1e3 * seconds / per_block)
    print(json.dumps({"losses": losses[:compared], "ms": ms}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("book", help="the book's checkout (deep-learning-from-scratch-2)")
    parser.add_argument("--programs", default=",".join(PROGRAMS),
                        help="comma-separated, from: " + ", ".join(PROGRAMS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("PROGRAM", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    book = os.path.abspath(args.book)
    if args.child:
        return child(book, *args.child, args.seed)
    env = dict(os.environ, MPLBACKEND="Agg")
    print(f"{'program':20s} {'book ms/iter':>12s} {'gatedrnn':>9s} {'speed-up':>20s} "
          f"{'first losses, max rel diff':>27s}")
    for program in args.programs.split(","):
        results = {"book": [], "gatedrnn": []}
        for _ in range(args.rounds):
            for engine in results:
                out = subprocess.run([sys.executable, __file__, book, "--seed", str(args.seed),
                                      "--child", program, engine],
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    sys.exit(f"{program} ({engine}) failed:\n{out.stderr}")
                results[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
        ms = {e: [m for r in rs for m in r["ms"]] for e, rs in results.items()}
        per_round = [statistics.median(b["ms"]) / statistics.median(g["ms"])
                     for b, g in zip(results["book"], results["gatedrnn"])]
        book_ms, ours_ms = statistics.median(ms["book"]), statistics.median(ms["gatedrnn"])
        a = np.array(results["book"][0]["losses"])
        b = np.array(results["gatedrnn"][0]["losses"])
        diff = float(np.max(np.abs(a - b) / np.abs(a)))
        spread = f"({min(per_round):.2f}-{max(per_round):.2f})"
        print(f"{program:20s} {book_ms:12.2f} {ours_ms:9.2f} {book_ms / ours_ms:11.2f}x "
              f"{spread:>9s} {diff:27.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
