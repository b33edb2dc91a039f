"""The benchmark runs, with and without torch (tests never look at its times)."""
import numpy as np
import pytest

from gatedrnn import __main__ as cli
from gatedrnn import bench

TINY = ["--sizes", "2,3,4,5;1,1,8,8", "--budget", "0.001", "--peak-size", "64", "--no-scaling",
        "--no-interference"]


def test_bench_without_torch(capsys, monkeypatch):
    monkeypatch.setattr(bench, "import_torch", lambda: None)
    assert bench.main(TINY) == 0
    out = capsys.readouterr().out
    for text in ("threads:", "BLAS peak", "forward+backward, float32", "torch (not installed)",
                 "forward, float32", "targets", "the family, float32", "TimeGRU(reset_after=True)",
                 "TimeGRU, the book's", "TimeRNN", "TimeBiLSTM", "family targets"):
        assert text in out, text


def test_bench_with_torch_checks_torch_against_ours(capsys, torch):
    assert bench.main(TINY) == 0
    out = capsys.readouterr().out
    assert "|hs - torch hs|" in out and "PyTorch" in out
    assert "nn.LSTM bidirectional" in out and "|hs - torch hs| / max|torch hs|: " in out


def test_bench_refuses_an_unknown_cell():
    with pytest.raises(SystemExit, match="unknown --cells"):
        bench.main(TINY + ["--cells", "lstm,tcn"])


def test_bench_is_a_cli_subcommand():
    args = cli.build_parser().parse_args(["bench", "--quick", "--threads", "1", "--no-torch"])
    assert args.command == "bench" and args.quick and args.threads == 1 and args.no_torch


def test_scaling_reports_a_bounded_cache(capsys):
    rows = bench.scaling(0.001, True, D=3, H=5)
    assert all(r["cache_values"] == 5 and r["infer_cache"] is None for r in rows)
    infer = [r["infer_ws"] for r in rows if r["kind"] == "T"]
    assert infer == sorted(infer) and infer[-1] == infer[-2]  # bounded in T
    bench.print_scaling(rows)
    assert "us/step" in capsys.readouterr().out


def test_interference_runs_without_torch(capsys):
    rows = bench.interference(None, 0.0)
    bench.print_interference(rows)
    assert "after a NumPy matmul" in capsys.readouterr().out


def test_torch_weights_are_permuted_to_its_gate_order(torch):
    p = bench.make_problem(2, 4, 3, 5, np.float64)
    ours = bench.Ours(p).layer.forward(p["xs"], train=False)
    np.testing.assert_allclose(bench.Torch(torch, p).hs(), ours, rtol=1e-10, atol=1e-12)
