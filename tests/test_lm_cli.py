"""python -m gatedrnn train / eval on a tiny corpus of one's own."""
import os

import pytest

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
