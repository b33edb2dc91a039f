"""Fault injection: a training run killed with SIGKILL (no handler runs) at
chosen moments, again and again, each time resumed from whatever checkpoint is
left: every checkpoint on disk loads, a write killed half-way leaves its
.NAME.PID.tmp file, the next run removes those of dead processes (never one of
a live process), and the chain ends bit-identical to a run left alone.

The moments come from a fixed seed. Three kinds of kill: during the start
(before any write), after a drawn number of logged iterations (mostly between
writes), and inside a checkpoint write, which a wrapper holds half-written
until the kill (the process itself, otherwise unchanged, is the package's
command line).
"""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gatedrnn.__main__ import main
from gatedrnn.lm.checkpoint import load_checkpoint
from gatedrnn.lm.params import read_params_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

# Runs `python -m gatedrnn ARGS...`; with HOLD > 0 its HOLD-th checkpoint
# write stops half-way (half the bytes in the temporary file; a file named
# like it with .held added says so) until killed.
WRAPPER = r"""
import io, sys, time
import numpy as np

hold = int(sys.argv[1])
if hold:
    savez, writes = np.savez, [0]

    def savez_held(file, *args, **kwds):
        if ".ckpt.npz." in str(getattr(file, "name", "")):
            writes[0] += 1
            if writes[0] == hold:
                whole = io.BytesIO()
                savez(whole, *args, **kwds)
                file.write(whole.getvalue()[: whole.tell() // 2])
                file.flush()
                open(file.name + ".held", "w").close()
                time.sleep(120)
        return savez(file, *args, **kwds)

    np.savez = savez_held

from gatedrnn.__main__ import main
sys.exit(main(sys.argv[2:]))
"""
CAP = 200               # BetterRnnlm, 104 iterations an epoch: the chain crosses a validation
KILLS = ["write", "progress", "start", "write", "progress", "write", "progress", "start",
         "progress", "write", "progress", "write"]
DEADLINE = 60.0         # seconds to wait for any one event before failing


def _argv(d, *extra):
    return ["train", "--model", "better", "--train-file", str(d / "train.txt"), "--valid-file",
            str(d / "valid.txt"), "--wordvec-size", "8", "--hidden-size", "8", "--batch-size",
            "4", "--time-size", "6", "--max-epoch", "3", "--eval-interval", "1", "--seed", "1",
            "--dropout", "0.2", "--max-iters", str(CAP), "--no-progress", *extra]


def _lines(path):
    try:
        with open(path) as f:
            return f.read().count("\n")
    except FileNotFoundError:
        return 0


def _leftovers(d):
    return set(glob.glob(str(d / ".*.tmp")))


def _wait(proc, done, what):
    deadline = time.monotonic() + DEADLINE
    while not done():
        if proc.poll() is not None:
            return False            # it ended first (it may have finished the run)
        assert time.monotonic() < deadline, f"waited {DEADLINE} s for {what}"
        time.sleep(0.001)
    return True


def _log_lines(path):
    return [re.sub(r"time \d+\[s\]", "time -", line) for line in path.read_text().splitlines()]


def test_sigkill_at_random_moments_then_resume_is_bit_identical(corpus_files):
    d = corpus_files
    ckpt, save, log = d / "run.ckpt.npz", d / "run.npz", d / "run.log"
    start = _argv(d, "--save", str(save), "--log", str(log), "--checkpoint", str(ckpt),
                  "--checkpoint-every", "1")
    resume = ["train", "--resume", str(ckpt), "--no-progress"]   # everything else is kept
    live = d / f".run.ckpt.npz.{os.getpid()}.tmp"     # a live process's (pytest's own)
    rng = np.random.default_rng(20)
    steps, pending, inside, outside = 0, set(), 0, 0
    for n, kind in enumerate(KILLS):
        if n == 2:
            live.write_bytes(b"not ours to remove")
        # Drawn in a fixed order; kept short of the cap, so that each run is killed.
        left = CAP - steps
        hold = min(int(rng.integers(1, 30)), left - 1) if kind == "write" else 0
        skip, pause = min(int(rng.integers(1, 30)), left - 2), rng.uniform(0.0, 0.004)
        command = resume if ckpt.exists() else start
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, str(hold), *command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tmp = d / f".run.ckpt.npz.{proc.pid}.tmp"
        if kind == "start":
            time.sleep(rng.uniform(0.0, 0.1))
        elif kind == "progress":
            target = steps + skip
            if _wait(proc, lambda: _lines(log) >= target, f"{target} logged iterations"):
                time.sleep(pause)
        else:   # inside a write: the held one, half its bytes on disk
            held = d / f"{tmp.name}.held"
            if _wait(proc, held.exists, f"write {hold} to be held"):
                held.unlink()
        proc.kill()
        out, err = proc.communicate(timeout=DEADLINE)
        assert proc.returncode in (-signal.SIGKILL, 0), (out, err)
        assert "Traceback" not in err, err

        if "BetterRnnlm: V=" in out:    # it got as far as training: it cleaned up first
            assert not any(os.path.exists(p) for p in pending), (pending, out)
            if pending:
                assert re.search(rf"removed {len(pending)} unfinished write\(s\)", out), out
            pending = set()
        left = _leftovers(d) - {str(live)}
        if kind == "write" and proc.returncode != 0:
            assert str(tmp) in left, "the held write left no temporary file"
        if str(tmp) in left:
            inside += 1
        elif proc.returncode != 0:
            outside += 1
        pending |= left
        if ckpt.exists():               # whatever is on disk loads, and never goes back
            now = load_checkpoint(ckpt).trainer.steps
            assert steps <= now <= CAP
            steps = now
        if proc.returncode == 0:
            break
    assert inside >= 3 and outside >= 3, (inside, outside)

    final = subprocess.run([sys.executable, "-c", WRAPPER, "0", *resume],
                           capture_output=True, text=True, timeout=DEADLINE)
    assert final.returncode == 0, final
    assert (f"stopped after {CAP} iterations" in final.stdout
            or "nothing to train" in final.stdout), final.stdout
    assert _leftovers(d) == {str(live)}         # the dead processes' removed, the live one's kept
    live.unlink()

    (d / "straight").mkdir()
    s = d / "straight"
    assert main(_argv(d, "--save", str(s / "run.npz"), "--log", str(s / "run.log"),
                      "--checkpoint", str(s / "run.ckpt.npz"))) == 0
    straight, _ = read_params_file(s / "run.npz")
    killed, _ = read_params_file(save)
    last = load_checkpoint(ckpt)
    assert last.trainer.steps == CAP
    for k, (a, b, c) in enumerate(zip(straight, killed, last.model.params)):
        assert np.array_equal(a, b), f"params[{k}] of the saved file"
        assert np.array_equal(a, c), f"params[{k}] of the checkpoint"
    assert _log_lines(log) == _log_lines(s / "run.log")
