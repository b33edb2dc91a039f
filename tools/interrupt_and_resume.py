#!/usr/bin/env python3
"""Interrupt a real training run with Ctrl-C, resume it, and compare it with
the same run left alone: the iteration count, the test perplexity and every
parameter must be equal, bit for bit.

    python tools/interrupt_and_resume.py                      # BetterRnnlm, 1400 iterations
    python tools/interrupt_and_resume.py --model rnnlm --iters 600 --interrupt-after 200

It runs `python -m gatedrnn train` three times in a scratch folder (the
uninterrupted run; the run that gets SIGINT once --interrupt-after iterations
have been logged; then the "continue with:" command that run printed, as
printed, plus --no-progress), with the installed gatedrnn, PTB from the usual
places (--data-dir, $GATEDRNN_DATA, the cache). The continued run must keep
the interrupted run's files: its parameters, log and checkpoint are compared
with the uninterrupted run's. The default 1400
iterations cross BetterRnnlm's first epoch end (1327 iterations), so the
validation, the best-parameter copy and the learning-rate schedule are part of
what is resumed. About 25 minutes on 2 cores.
"""
import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np


def train_command(args, save, *extra):
    command = [sys.executable, "-m", "gatedrnn", "train", "--model", args.model, "--seed",
               str(args.seed), "--max-iters", str(args.iters), "--save", save, "--no-progress",
               *extra]
    return command + (["--data-dir", args.data_dir] if args.data_dir else [])


def run(command, log):
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    print(out.stdout + out.stderr, end="", file=log, flush=True)
    print(f"  exit {out.returncode}, {time.perf_counter() - start:.0f} s", flush=True)
    return out


def run_and_interrupt(command, log_path, after, out_log):
    """Start the run, wait until its --log records iteration `after` or later,
    send SIGINT."""
    print("$", " ".join(command), f"  (SIGINT after {after} iterations)", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,  # SIGINT reaches it even when this runs in the background
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while proc.poll() is None:
        time.sleep(0.2)
        if os.path.exists(log_path):
            with open(log_path) as f:
                logged = [int(i) for i in re.findall(r"iter (\d+)", f.read())]
                if logged and logged[-1] >= after:
                    proc.send_signal(signal.SIGINT)
                    break
    output, _ = proc.communicate()
    print(output, end="", file=out_log, flush=True)
    print(f"  exit {proc.returncode}, {time.perf_counter() - start:.0f} s", flush=True)
    return proc.returncode, output


def log_lines(path):
    """The --log lines without their elapsed seconds (two runs differ there)."""
    with open(path) as f:
        return [re.sub(r"time \d+\[s\]", "time -", line) for line in f.read().splitlines()]


def figures(output):
    iters = re.search(r"stopped after (\d+) iterations", output)
    ppl = re.search(r"test perplexity: ([0-9.]+)", output)
    return (int(iters.group(1)) if iters else None, float(ppl.group(1)) if ppl else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="better", choices=["rnnlm", "better"])
    parser.add_argument("--iters", type=int, default=1400)
    parser.add_argument("--interrupt-after", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir")
    parser.add_argument("--work", help="scratch folder (default: a new temporary one)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="gatedrnn-resume-")
    os.makedirs(work, exist_ok=True)
    path = lambda name: os.path.join(work, name)  # noqa: E731
    with open(path("output.txt"), "w") as out_log:
        straight = run(train_command(args, path("straight.npz"), "--log", path("straight.log")),
                       out_log)
        code, first = run_and_interrupt(
            train_command(args, path("resumed.npz"), "--log", path("resumed.log"),
                          "--checkpoint", path("resumed.ckpt.npz")),
            path("resumed.log"), args.interrupt_after, out_log)
        at = re.search(r"interrupted at iteration (\d+)", first)
        printed = re.search(r"continue with:\n  (.*)", first)
        if printed is None:
            print("the interrupted run printed no 'continue with:' command")
            return 1
        command = shlex.split(printed.group(1))
        resumed = run([sys.executable, *command[1:], "--no-progress"], out_log)
    a, b = np.load(path("straight.npz")), np.load(path("resumed.npz"))
    names = a.files
    identical = set(names) == set(b.files) and all(np.array_equal(a[k], b[k]) for k in names)
    same_log = log_lines(path("straight.log")) == log_lines(path("resumed.log"))
    (n1, p1), (n2, p2) = figures(straight.stdout), figures(resumed.stdout)
    print(f"\nscratch folder: {work}")
    print(f"interrupted run: exit {code}, at iteration {at.group(1) if at else '?'}")
    print(f"uninterrupted: {n1} iterations, test perplexity {p1}")
    print(f"resumed:       {n2} iterations, test perplexity {p2}")
    print(f"continued with: {' '.join(command)} --no-progress")
    print(f"saved arrays ({', '.join(names)}) bit-identical: {identical}")
    print(f"logs equal (but for the elapsed seconds): {same_log}")
    ok = (code == 130 and at and n1 == n2 == args.iters and p1 == p2 and identical
          and same_log)
    print("RESUME CHECK PASSED" if ok else "RESUME CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
