"""Time one training iteration of the chapter-6 language models.

    flock /tmp/gatedrnn-bench.lock python benchmarks/lm_iteration.py [--better] [--repeat N]

One iteration is what RnnlmTrainer.fit does per batch: forward, backward,
clip_grads at 0.25 and an SGD update, at the book's sizes (batch 20, time 35,
V=10000; Rnnlm D=H=100, BetterRnnlm D=H=650 with dropout 0.5). Batches come
from PTB when it is found (GATEDRNN_DATA), else from random word ids.

The reference times are the book's own code measured on this machine (see
shared/NOTES.md): it is not run here.
"""
import argparse
import statistics
import time

import numpy as np

from gatedrnn import clip_grads
from gatedrnn.lm import SGD, BetterRnnlm, DataNotFoundError, Rnnlm, RnnlmTrainer, load_ptb

BOOK_SECONDS = {"Rnnlm": 0.17, "BetterRnnlm": 2.1}


def corpus():
    try:
        return load_ptb("train", download=False)[0], "PTB"
    except DataNotFoundError:
        return np.random.default_rng(0).integers(0, 10000, 929589), "random ids"


def time_iterations(model, ids, repeat, warmup=2):
    optimizer = SGD(20.0)
    trainer = RnnlmTrainer(model, optimizer)
    trainer.time_idx = 0
    xs, ts = ids[:-1], ids[1:]
    times = []
    for k in range(warmup + repeat):
        bx, bt = trainer.get_batch(xs, ts, 20, 35)
        start = time.perf_counter()
        model.forward(bx, bt)
        model.backward()
        clip_grads(model.grads, 0.25)
        optimizer.update(model.params, model.grads)
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--better", action="store_true", help="BetterRnnlm only")
    parser.add_argument("--rnnlm", action="store_true", help="Rnnlm only")
    parser.add_argument("--repeat", type=int, help="iterations to time (default 20 / 5)")
    args = parser.parse_args()
    ids, source = corpus()
    which = ["Rnnlm", "BetterRnnlm"]
    if args.better != args.rnnlm:
        which = ["BetterRnnlm"] if args.better else ["Rnnlm"]
    print(f"batches from {source}")
    for name in which:
        if name == "Rnnlm":
            model, repeat = Rnnlm(10000, 100, 100, seed=0), args.repeat or 20
        else:
            model, repeat = BetterRnnlm(10000, 650, 650, 0.5, seed=0), args.repeat or 5
        times = time_iterations(model, ids, repeat)
        med = statistics.median(times)
        print(f"{name:12s} median {med * 1e3:7.1f} ms over {repeat} iterations "
              f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}); book's code "
              f"{BOOK_SECONDS[name]:.2f} s: {BOOK_SECONDS[name] / med:.1f}x faster")


if __name__ == "__main__":
    main()
