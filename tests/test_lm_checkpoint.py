"""Long runs: capped with --max-iters, checkpointed, interrupted with Ctrl-C
and resumed, with parameters bit-identical to a run that went straight through."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import interruptible

from gatedrnn.__main__ import main
from gatedrnn.lm import Adam, BetterRnnlm, Rnnlm, SGD, RnnlmTrainer, fit_with_lr_decay
from gatedrnn.lm.checkpoint import is_checkpoint, load_checkpoint, save_checkpoint
from gatedrnn.lm.params import read_params_file


def _corpus(n=900, vocab=20, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, n)


def _model(kind):
    if kind == "rnnlm":
        return Rnnlm(20, 6, 5, seed=1)
    return BetterRnnlm(20, 6, 6, 0.3, seed=2)


def _optimizer(name):
    return SGD(1.0) if name == "sgd" else Adam(0.01)


@pytest.mark.parametrize("kind, opt, stop_at", [("rnnlm", "sgd", 7), ("better", "sgd", 10),
                                                ("better", "adam", 13), ("rnnlm", "adam", 21)])
def test_resume_is_bit_identical(kind, opt, stop_at, tmp_path):
    """Train 3 epochs (21 iterations) straight, or stop at `stop_at` (inside an
    epoch, or at its end: 7, 14, 21), checkpoint, rebuild everything from the
    file and go on: the same parameters, optimizer state and records."""
    corpus = _corpus()
    xs, ts = corpus[:-1], corpus[1:]

    def fit(trainer, **kw):
        return trainer.fit(xs, ts, max_epoch=3, batch_size=5, time_size=25, max_grad=0.25,
                           eval_interval=4, **kw)

    straight = RnnlmTrainer(_model(kind), _optimizer(opt))
    fit(straight)
    first = RnnlmTrainer(_model(kind), _optimizer(opt))
    fit(first, stop=lambda t: t.steps >= stop_at)
    assert first.stopped and first.steps == stop_at
    path = tmp_path / "run.ckpt.npz"
    save_checkpoint(path, first.model, first.optimizer, first, run={"note": "test"})
    assert is_checkpoint(path)
    saved = load_checkpoint(path)
    assert saved.run == {"note": "test"}
    fit(saved.trainer)
    assert not saved.trainer.stopped and saved.trainer.steps == straight.steps == 21
    for a, b in zip(saved.model.params, straight.model.params):
        np.testing.assert_array_equal(a, b)
    assert saved.trainer.ppl_list == straight.ppl_list
    assert saved.optimizer.lr == straight.optimizer.lr
    if opt == "adam":
        assert saved.optimizer.iter == straight.optimizer.iter
        for a, b in zip(saved.optimizer.m + saved.optimizer.v,
                        straight.optimizer.m + straight.optimizer.v):
            np.testing.assert_array_equal(a, b)


# A step count, or a stop that comes while an epoch is being evaluated (as a
# Ctrl-C then does): the next epoch's fit stops before its first iteration.
AFTER_EPOCH_1 = "after epoch 1's evaluation"


@pytest.mark.parametrize("stop_at", [5, 7, 12, AFTER_EPOCH_1])
def test_the_learning_rate_schedule_resumes_bit_identically(stop_at, tmp_path):
    """BetterRnnlm's schedule (validation, lr / 4, the best parameters kept),
    stopped inside an epoch, at its end, or during its evaluation, and resumed
    from a checkpoint."""
    corpus, valid = _corpus(), _corpus(400, seed=1)

    def run(trainer=None, schedule=None, model=None, optimizer=None, **kw):
        model = model or _model("better")
        optimizer = optimizer or SGD(5.0)
        return fit_with_lr_decay(model, optimizer, corpus, valid, max_epoch=3, batch_size=5,
                                 time_size=25, eval_interval=4, trainer=trainer,
                                 schedule=schedule, **kw)

    straight, history = run()
    if stop_at == AFTER_EPOCH_1:
        first, _ = run(stop=lambda t: t.schedule["epoch"] >= 1)
        assert first.steps == 7
    else:
        first, _ = run(stop=lambda t: t.steps >= stop_at)
    assert first.stopped
    path = tmp_path / "schedule.ckpt.npz"
    save_checkpoint(path, first.model, first.optimizer, first, schedule=first.schedule)
    saved = load_checkpoint(path)
    resumed, resumed_history = run(trainer=saved.trainer, schedule=saved.schedule,
                                   model=saved.model, optimizer=saved.optimizer)
    assert [h["val_ppl"] for h in resumed_history] == [h["val_ppl"] for h in history]
    assert [h["lr"] for h in resumed_history] == [h["lr"] for h in history]
    for a, b in zip(saved.model.params, straight.model.params):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_is_written_atomically_and_refuses_other_files(tmp_path):
    model = _model("rnnlm")
    trainer = RnnlmTrainer(model, SGD(1.0))
    corpus = _corpus()
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=5, time_size=25)
    path = tmp_path / "a.ckpt.npz"
    save_checkpoint(path, model, trainer.optimizer, trainer)
    save_checkpoint(path, model, trainer.optimizer, trainer)   # over the old one
    assert sorted(os.listdir(tmp_path)) == ["a.ckpt.npz"]      # no temporary left behind
    model.save_params(tmp_path / "p.npz")
    assert not is_checkpoint(tmp_path / "p.npz")
    with pytest.raises(ValueError, match="is not a checkpoint"):
        load_checkpoint(tmp_path / "p.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "none.npz")


# -- the command line ----------------------------------------------------------------------

def _train_argv(d, save, *extra, model="better"):
    return ["train", "--model", model, "--train-file", str(d / "train.txt"), "--valid-file",
            str(d / "valid.txt"), "--wordvec-size", "8", "--hidden-size", "8", "--batch-size",
            "4", "--time-size", "6", "--max-epoch", "3", "--eval-interval", "5", "--seed", "1",
            "--dropout", "0.2", "--save", str(save), "--no-progress", *extra]


@pytest.mark.parametrize("model", ["rnnlm", "better"])
def test_cli_max_iters_checkpoint_and_resume(corpus_files, model, capsys):
    """--max-iters 130 straight, against --max-iters 60 and a --resume to 130
    (through the end of epoch 1, at 105 iterations): the same parameters."""
    d = corpus_files
    assert main(_train_argv(d, d / "straight.npz", "--max-iters", "130", model=model)) == 0
    assert "stopped after 130 iterations (--max-iters)" in capsys.readouterr().out
    ckpt = d / "run.ckpt.npz"
    assert main(_train_argv(d, d / "resumed.npz", "--max-iters", "60", "--checkpoint",
                            str(ckpt), model=model)) == 0
    assert is_checkpoint(ckpt) and load_checkpoint(ckpt).trainer.steps == 60
    assert main(["train", "--resume", str(ckpt), "--max-iters", "130", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"resumed from {ckpt} at iteration 60" in out
    straight, _ = read_params_file(d / "straight.npz")
    resumed, _ = read_params_file(d / "resumed.npz")
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    assert main(["eval", "--params", str(ckpt), "--file", str(d / "valid.txt"),
                 "--no-progress"]) == 0
    assert "(checkpoint)" in capsys.readouterr().out


def _log_lines(path):
    """The --log lines without their elapsed seconds (two runs differ there)."""
    return [re.sub(r"time \d+\[s\]", "time -", line) for line in path.read_text().splitlines()]


def test_cli_ctrl_c_writes_a_checkpoint_and_the_printed_command_continues_the_run(corpus_files):
    """SIGINT during training: exit 130, no traceback, a checkpoint, and a
    "continue with:" command that, run as printed, continues the same run: to
    the same end, with the same parameters file and the same log as a run
    left alone."""
    d = corpus_files
    # 30 epochs (3120 iterations, about a second): the signal, sent within 50 ms
    # of the first log line, lands well before the end, in an iteration or in
    # an epoch's evaluation.
    run = ["--max-epoch", "30", "--max-iters", "4000"]
    argv = [sys.executable, "-m", "gatedrnn"] + _train_argv(
        d, d / "interrupted.npz", *run, "--log", str(d / "interrupted.log"))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    log = d / "interrupted.log"
    deadline = time.monotonic() + 60
    while (not log.exists() or not log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err
    ckpt = d / "interrupted.ckpt.npz"
    assert f"checkpoint written to {ckpt}" in out
    steps = load_checkpoint(ckpt).trainer.steps
    assert 0 < steps < 3120                    # 30 epochs of 104 iterations
    command = shlex.split(re.search(r"continue with:\n  (.*)", out).group(1))
    assert command[:3] == ["python", "-m", "gatedrnn"]
    assert main(command[3:]) == 0
    assert main(_train_argv(d, d / "straight.npz", *run, "--log", str(d / "straight.log"))) == 0
    for a, b in zip(read_params_file(d / "straight.npz")[0],
                    read_params_file(d / "interrupted.npz")[0]):
        np.testing.assert_array_equal(a, b)
    assert _log_lines(d / "interrupted.log") == _log_lines(d / "straight.log")
    assert load_checkpoint(ckpt).trainer.steps == 3120


@pytest.mark.parametrize("model", ["rnnlm", "better"])
def test_cli_resume_keeps_the_runs_files(corpus_files, model, capsys, monkeypatch):
    """--resume F continues the run as it was started: its checkpoints go back
    to F (not to a name made from --save), its --save, --log, --plot and
    --checkpoint-every stay, and --max-iters too when not given anew."""
    d = corpus_files
    plot = ["--plot", str(d / "run.png")] if model == "rnnlm" else []
    if plot:
        pytest.importorskip("matplotlib")
    assert main(_train_argv(d, d / "straight.npz", "--max-iters", "130", "--log",
                            str(d / "straight.log"), model=model)) == 0
    ckpt = d / "my.ckpt.npz"
    assert main(_train_argv(d, d / "run.npz", "--max-iters", "60", "--checkpoint", str(ckpt),
                            "--checkpoint-every", "7", "--log", str(d / "run.log"), *plot,
                            model=model)) == 0
    first_png = (d / "run.png").read_bytes() if plot else None
    capsys.readouterr()

    import gatedrnn.lm.checkpoint as checkpoint_module
    written = []
    save = checkpoint_module.save_checkpoint
    monkeypatch.setattr(checkpoint_module, "save_checkpoint",
                        lambda path, *a, **k: written.append(a[2].steps) or save(path, *a, **k))
    assert main(["train", "--resume", str(ckpt), "--max-iters", "130", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert load_checkpoint(ckpt).trainer.steps == 130
    assert not (d / "run.ckpt.npz").exists()                # no checkpoint under another name
    assert written == list(range(63, 130, 7)) + [130]      # every 7, and at the end
    assert f"checkpoints to {ckpt}" in out and f"log to {d / 'run.log'}" in out
    for a, b in zip(read_params_file(d / "straight.npz")[0], read_params_file(d / "run.npz")[0]):
        np.testing.assert_array_equal(a, b)
    assert _log_lines(d / "run.log") == _log_lines(d / "straight.log")
    if plot:
        assert f"perplexity curve drawn to {d / 'run.png'}" in out
        assert (d / "run.png").read_bytes() != first_png     # the whole run's curve now

    # Given anew, an option wins: the parameters go to the new --save.
    assert main(["train", "--resume", str(ckpt), "--max-iters", "140", "--save",
                 str(d / "other.npz"), "--no-progress"]) == 0
    assert (d / "other.npz").exists() and load_checkpoint(ckpt).trainer.steps == 140


def test_cli_resume_at_the_cap_trains_nothing(corpus_files, capsys):
    """A checkpoint at or past --max-iters: one line, exit 0, no iteration, and
    the checkpoint and parameters left as they are (no rewrite at all)."""
    d = corpus_files
    ckpt, save = d / "c.ckpt.npz", d / "p.npz"
    assert main(_train_argv(d, save, "--max-iters", "30", "--checkpoint", str(ckpt))) == 0
    capsys.readouterr()

    def state():
        return [(p.read_bytes(), p.stat().st_mtime_ns) for p in (ckpt, save)]

    before = state()
    for extra in ([], ["--max-iters", "30"], ["--max-iters", "20"]):
        time.sleep(0.01)                       # so that a rewrite would change the mtime
        assert main(["train", "--resume", str(ckpt), "--no-progress", *extra]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 and out[0].startswith("nothing to train:"), out
        assert "iteration 30" in out[0]
        assert state() == before
    assert load_checkpoint(ckpt).trainer.steps == 30
    # A missing parameters file is written from the checkpoint (nothing else changes).
    params = [p.copy() for p in load_checkpoint(ckpt).model.params]
    save.unlink()
    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    assert f"parameters saved to {save}" in capsys.readouterr().out
    for a, b in zip(read_params_file(save)[0], params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", ["rnnlm", "better"])
def test_cli_resume_of_a_finished_run_trains_nothing(corpus_files, model, capsys):
    d = corpus_files
    ckpt, save = d / "c.ckpt.npz", d / "p.npz"
    assert main(_train_argv(d, save, "--max-epoch", "1", "--checkpoint", str(ckpt),
                            model=model)) == 0
    capsys.readouterr()
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in (ckpt, save)]
    time.sleep(0.01)
    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "its 1 epoch(s) are done" in out[0], out
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in (ckpt, save)] == before


def test_stale_temporaries_of_dead_processes_only(tmp_path):
    """remove_stale_temporaries removes .NAME.PID.tmp of processes that ended,
    never of a running one (this process, a live child), nor other files."""
    from gatedrnn.lm.checkpoint import remove_stale_temporaries
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {f".run.ckpt.npz.{dead_pid}.tmp": b"x" * 1000,
                 f".run.ckpt.npz.{live.pid}.tmp": b"y",
                 f".run.ckpt.npz.{os.getpid()}.tmp": b"z",
                 ".run.ckpt.npz.notapid.tmp": b"",
                 f".other.npz.{dead_pid}.tmp": b"",
                 "run.ckpt.npz": b"the checkpoint"}
        for name, data in names.items():
            (tmp_path / name).write_bytes(data)
        removed = remove_stale_temporaries(tmp_path / "run.ckpt.npz")
        assert removed == [(str(tmp_path / f".run.ckpt.npz.{dead_pid}.tmp"), 1000)]
        assert sorted(os.listdir(tmp_path)) == sorted(set(names) - {
            f".run.ckpt.npz.{dead_pid}.tmp"})
    finally:
        live.kill()
        live.wait()
    assert remove_stale_temporaries(tmp_path / "run.ckpt.npz") == [
        (str(tmp_path / f".run.ckpt.npz.{live.pid}.tmp"), 1)]


def test_cli_plot_without_matplotlib_fails_before_training(corpus_files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    d = corpus_files
    assert main(_train_argv(d, d / "m.npz", "--plot", str(d / "c.png"))) == 2
    assert "error: --plot needs matplotlib" in capsys.readouterr().err
    assert not (d / "m.npz").exists()


def test_a_checkpoint_from_before_the_recorded_files_still_resumes(corpus_files, capsys,
                                                                    monkeypatch):
    """A checkpoint whose run settings are those an earlier version wrote (no
    plot, log or caps; paths as typed, relative): it resumes (to the same
    parameters as a straight run) and evaluates on its recorded files."""
    d = corpus_files
    monkeypatch.chdir(d)
    assert main(_train_argv(d, d / "straight.npz", "--max-iters", "40", model="rnnlm")) == 0
    ckpt = d / "old.ckpt.npz"
    assert main(_train_argv(d, d / "old.npz", "--max-iters", "25", "--checkpoint", str(ckpt),
                            "--test-file", str(d / "test.txt"), "--unk", "w0",
                            model="rnnlm")) == 0
    saved = load_checkpoint(ckpt)
    old_keys = ("model", "wordvec_size", "hidden_size", "dropout", "batch_size", "time_size",
                "optimizer", "lr", "max_grad", "max_epoch", "eval_interval", "seed", "save",
                "train_file", "valid_file", "test_file", "data_dir", "unk")
    run = {k: saved.run[k] for k in old_keys}
    run.update(save="old.npz", train_file="train.txt", valid_file="valid.txt",
               test_file="test.txt", data_dir=None)
    save_checkpoint(ckpt, saved.model, saved.optimizer, saved.trainer, run=run,
                    vocab=saved.vocab)
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt), "--max-iters", "40", "--no-progress"]) == 0
    assert "stopped after 40 iterations" in capsys.readouterr().out
    for a, b in zip(read_params_file(d / "straight.npz")[0], read_params_file(d / "old.npz")[0]):
        np.testing.assert_array_equal(a, b)
    assert load_checkpoint(ckpt).trainer.steps == 40          # written back to the file
    assert main(["eval", "--params", str(ckpt), "--no-progress"]) == 0
    assert "on test.txt:" in capsys.readouterr().out
