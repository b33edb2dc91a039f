"""python -m gatedrnn train / eval on a tiny corpus of one's own."""
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import interruptible

from gatedrnn.__main__ import build_parser, main
from gatedrnn.lm import model_from_params


def test_parser_keeps_demo_the_default():
    args = build_parser().parse_args([])
    assert args.command is None
    args = build_parser().parse_args(["train"])
    assert (args.model, args.batch_size, args.time_size, args.max_grad, args.eval_interval) == \
        ("rnnlm", 20, 35, 0.25, 20)
    assert args.lr is None and args.max_epoch is None   # filled per model: 20.0, 4 / 40


@pytest.mark.parametrize("model", ["rnnlm", "better"])
def test_train_then_eval_own_corpus(corpus_files, model, capsys):
    d = corpus_files
    save = d / f"{model}.npz"
    log = d / "log.txt"
    argv = ["train", "--model", model, "--train-file", str(d / "train.txt"),
            "--valid-file", str(d / "valid.txt"), "--test-file", str(d / "test.txt"),
            "--unk", "w0", "--wordvec-size", "8", "--hidden-size", "8", "--batch-size", "4",
            "--time-size", "6", "--max-epoch", "2", "--eval-interval", "5", "--seed", "1",
            "--save", str(save), "--log", str(log), "--no-progress"]
    if model == "better":
        argv += ["--dropout", "0.2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "test perplexity:" in out and str(save) in out
    assert log.read_text().startswith("| epoch 1 |  iter 1 / ")
    rebuilt, info = model_from_params(save)
    assert sorted(info["vocab"]) == sorted([f"w{i}" for i in range(15)] + ["<eos>"])
    assert rebuilt.vocab_size == 16

    # eval with the vocabulary stored in the file; the unknown word needs --unk
    capsys.readouterr()
    assert main(["eval", "--params", str(save), "--file", str(d / "test.txt"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'zebra'" in err and "unk" in err
    assert main(["eval", "--params", str(save), "--file", str(d / "test.txt"), "--unk", "w0",
                 "--no-progress"]) == 0
    assert "corpus perplexity:" in capsys.readouterr().out


def test_train_plots_the_curve(corpus_files, capsys):
    pytest.importorskip("matplotlib")
    d = corpus_files
    png = d / "curve.png"
    assert main(["train", "--train-file", str(d / "train.txt"), "--wordvec-size", "6",
                 "--hidden-size", "6", "--batch-size", "4", "--time-size", "5",
                 "--max-epoch", "1", "--eval-interval", "3", "--save", str(d / "m.npz"),
                 "--plot", str(png), "--no-progress"]) == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 1000


def test_missing_data_is_one_clear_line(tmp_path, capsys):
    assert main(["eval", "--params", str(tmp_path / "none.npz")]) == 2
    assert "no parameter file" in capsys.readouterr().err
    assert main(["train", "--data-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "ptb.train.txt is not in data_dir" in err and "GATEDRNN_DATA" in err


def _train_own(d, *extra):
    return ["train", "--train-file", str(d / "train.txt"), "--valid-file", str(d / "valid.txt"),
            "--test-file", str(d / "test.txt"), "--unk", "w0", "--wordvec-size", "6",
            "--hidden-size", "6", "--batch-size", "4", "--time-size", "5", "--max-epoch", "2",
            "--seed", "1", "--save", str(d / "m.npz"), *extra]


def test_train_progress_counts_to_max_iters(corpus_files, capsys):
    """With --max-iters the bar's total is the cap (not the 2 epochs' 250
    iterations), and a resumed run's bar starts at the iterations done."""
    d = corpus_files
    ckpt = d / "m.ckpt.npz"
    assert main(_train_own(d, "--max-iters", "12", "--checkpoint", str(ckpt))) == 0
    train_bars = re.findall(r"train: .*?\| *(\d+)/(\d+) \[", capsys.readouterr().err)
    assert train_bars[0] == ("0", "12") and train_bars[-1] == ("12", "12"), train_bars
    assert main(["train", "--resume", str(ckpt), "--max-iters", "20"]) == 0
    train_bars = re.findall(r"train: .*?\| *(\d+)/(\d+) \[", capsys.readouterr().err)
    assert train_bars[0] == ("12", "20") and train_bars[-1] == ("20", "20"), train_bars


def test_eval_of_a_checkpoint_finds_its_own_files(corpus_files, capsys, monkeypatch, tmp_path):
    """eval --params CKPT evaluates on the files the run trained with (and its
    --unk), wherever it runs from; when they are gone, the error names them."""
    d = corpus_files
    monkeypatch.setenv("GATEDRNN_DATA", str(tmp_path / "no-ptb-here"))
    ckpt = d / "m.ckpt.npz"
    assert main(_train_own(d, "--max-iters", "5", "--checkpoint", str(ckpt),
                           "--no-progress")) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)                 # recorded paths are absolute
    assert main(["eval", "--params", str(ckpt), "--no-progress"]) == 0
    recorded = capsys.readouterr().out
    assert f"on {d / 'test.txt'}:" in recorded
    assert main(["eval", "--params", str(ckpt), "--file", str(d / "test.txt"), "--unk", "w0",
                 "--no-progress"]) == 0
    given = capsys.readouterr().out
    ppl = re.compile(r"perplexity: ([0-9.]+)")
    assert ppl.search(recorded).group(1) == ppl.search(given).group(1)
    assert main(["eval", "--params", str(ckpt), "--split", "valid", "--no-progress"]) == 0
    assert f"on {d / 'valid.txt'}:" in capsys.readouterr().out

    (d / "test.txt").rename(d / "moved.txt")
    assert main(["eval", "--params", str(ckpt), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and repr(str(d / "test.txt")) in err
    assert "not there any more" in err and "--file" in err
    assert main(["train", "--resume", str(ckpt), "--max-iters", "8", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert repr(str(d / "test.txt")) in err and "not there any more" in err


@pytest.fixture
def fake_ptb(tmp_path, monkeypatch):
    """A tiny stand-in for PTB in DIR/ptb/ (its MD5 sums patched in), with
    $GATEDRNN_DATA, the cache and downloads out of reach."""
    from gatedrnn.lm import datasets
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    folder = tmp_path / "ptbdata" / "ptb"
    folder.mkdir(parents=True)
    for split, n in (("train", 2000), ("valid", 400), ("test", 400)):
        text = "\n".join(" ".join(rng.choice(words, 9)) for _ in range(n // 10)) + "\n"
        path = folder / f"ptb.{split}.txt"
        path.write_text(text)
        monkeypatch.setitem(datasets.PTB_MD5, path.name,
                            hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.delenv("GATEDRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "PTB_URL_BASE", (tmp_path / "no-download").as_uri() + "/")
    return tmp_path / "ptbdata"


def test_a_checkpoint_records_the_ptb_folder(fake_ptb, tmp_path, capsys):
    """Trained on PTB from --data-dir: eval and resume find it there without
    --data-dir; moved away, the errors name the recorded folder."""
    ckpt = tmp_path / "p.ckpt.npz"
    assert main(["train", "--data-dir", str(fake_ptb), "--wordvec-size", "4", "--hidden-size",
                 "4", "--batch-size", "2", "--time-size", "5", "--max-iters", "3", "--seed", "1",
                 "--save", str(tmp_path / "p.npz"), "--checkpoint", str(ckpt),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["eval", "--params", str(ckpt), "--no-progress"]) == 0
    assert "on PTB test:" in capsys.readouterr().out

    moved = fake_ptb.rename(tmp_path / "moved")
    assert main(["eval", "--params", str(ckpt), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert repr(str(fake_ptb / "ptb")) in err and "--data-dir" in err
    assert main(["train", "--resume", str(ckpt), "--max-iters", "5", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert repr(str(fake_ptb / "ptb")) in err and "--data-dir" in err
    assert main(["eval", "--params", str(ckpt), "--data-dir", str(moved), "--no-progress"]) == 0
    assert main(["train", "--resume", str(ckpt), "--max-iters", "5", "--data-dir", str(moved),
                 "--no-progress"]) == 0
    assert "stopped after 5 iterations" in capsys.readouterr().out


# ---- python -m gatedrnn generate ------------------------------------------------------

def _words(out):
    """The printed text back to words: '.\n' is the book's rendering of ' <eos>'."""
    return out.replace(".\n", " <eos>\n").split()


@pytest.fixture
def tiny_params(corpus_files):
    """An .npz with its vocabulary (w0 .. w14, <eos>) and a checkpoint of the same model."""
    from gatedrnn.lm import SGD, RnnlmTrainer, Rnnlm, load_corpus
    from gatedrnn.lm.checkpoint import save_checkpoint
    _, word_to_id, id_to_word = load_corpus(corpus_files / "train.txt")
    vocab = [id_to_word[i] for i in range(len(id_to_word))]
    model = Rnnlm(len(vocab), 8, 8, seed=0)
    model.params[0][...] *= 50
    path = corpus_files / "tiny.npz"
    model.save_params(path, vocab=vocab)
    model.predict(np.zeros((4, 3), int))            # a training batch's state, saved with it
    ckpt = corpus_files / "tiny.ckpt.npz"
    save_checkpoint(ckpt, model, SGD(1.0), RnnlmTrainer(model, SGD(1.0)), vocab=vocab)
    model.reset_state()
    return path, ckpt, model, vocab, word_to_id


def test_generate_prints_the_words_and_uses_the_seed(tiny_params, capsys):
    path, ckpt, model, vocab, word_to_id = tiny_params
    for params in (path, ckpt):
        assert main(["generate", "--params", str(params), "--start", "w3 w4", "--length", "12",
                     "--seed", "1", "--samples", "2"]) == 0
        captured = capsys.readouterr()
        texts = captured.out.split("-" * 50 + "\n")
        assert len(texts) == 2
        expected = model.generate([word_to_id["w3"], word_to_id["w4"]], 12, samples=2,
                                  rng=np.random.RandomState(1))
        for text, ids in zip(texts, expected):
            assert _words(text) == ["w3", "w4"] + [vocab[i] for i in ids]
        assert "Rnnlm from" in captured.err and "2 text(s)" in captured.err


def test_generate_skips_and_handles_unknown_words(tiny_params, capsys):
    path, _, _, vocab, _ = tiny_params
    assert main(["generate", "--params", str(path), "--start", "w1", "--length", "40",
                 "--skip", "w0 <eos> w5", "--seed", "3"]) == 0
    words = _words(capsys.readouterr().out)
    assert len(words) == 41 and not {"w0", "<eos>", "w5"} & set(words)

    assert main(["generate", "--params", str(path), "--start", "w1 zebra"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --start has 1 word(s) not in the vocabulary") and "zebra" in err
    assert "--unk" in err
    assert main(["generate", "--params", str(path), "--start", "w1 zebra", "--unk", "w7",
                 "--length", "3"]) == 0
    assert _words(capsys.readouterr().out)[:2] == ["w1", "w7"]
    assert main(["generate", "--params", str(path)]) == 2
    assert "the default --start, the book's 'you', is not a word" in capsys.readouterr().err
    assert main(["generate", "--params", str(path), "--start", "w1", "--skip", "w1 giraffe"]) == 2
    assert "--skip has word(s) not in the vocabulary" in capsys.readouterr().err
    assert main(["generate", "--params", str(path), "--start", "w1", "--top-k", "17"]) == 2
    assert "--top-k must be at most V = 16; got 17" in capsys.readouterr().err
    assert main(["generate", "--params", str(path.parent / "missing.npz")]) == 2
    assert "error: no parameter file at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "--params", str(path), "--temperature", "-1"])
    assert "must be a finite number >= 0" in capsys.readouterr().err


def test_generate_greedy_and_top_k(tiny_params, capsys):
    path, _, model, vocab, word_to_id = tiny_params
    assert main(["generate", "--params", str(path), "--start", "w2", "--length", "10",
                 "--temperature", "0"]) == 0
    greedy = model.generate(word_to_id["w2"], 10, temperature=0)
    assert _words(capsys.readouterr().out) == ["w2"] + [vocab[i] for i in greedy]
    assert main(["generate", "--params", str(path), "--start", "w2", "--length", "10",
                 "--top-k", "1", "--seed", "5"]) == 0
    assert _words(capsys.readouterr().out) == ["w2"] + [vocab[i] for i in greedy]


def test_generate_ctrl_c_is_one_line_and_130(tiny_params):
    path = tiny_params[0]
    argv = [sys.executable, "-m", "gatedrnn", "generate", "--params", str(path), "--start",
            "w1", "--length", "5000000", "--seed", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    line = proc.stderr.readline()     # the run's description: generation has begun
    assert "Rnnlm from" in line, (line, proc.communicate())
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err == "\ninterrupted: no text generated\n" and out == ""
