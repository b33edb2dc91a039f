"""The benchmark runs, with and without torch (tests never look at its times)."""
import numpy as np
import pytest

from gatedrnn import __main__ as cli
from gatedrnn import bench
from gatedrnn.bench import cli as bench_cli, generation as bench_generation, lstm as bench_lstm
from gatedrnn.lm import BetterRnnlm, Rnnlm

TINY = ["--sizes", "2,3,4,5;1,1,8,8", "--budget", "0.001", "--peak-size", "64", "--no-scaling",
        "--no-interference", "--no-lengths", "--no-generation", "--no-engines"]


def test_bench_quick_without_torch(capsys, monkeypatch):
    """--quick (here on tiny sizes) prints every table, and how long it took."""
    monkeypatch.setattr(bench_cli, "import_torch", lambda: None)
    assert bench.main(TINY + ["--quick"]) == 0
    out = capsys.readouterr().out
    for text in ("threads:", "caches: L1d", "FMA peak", "BLAS reference",
                 "forward+backward, float32", "torch (not installed)",
                 "forward, float32", "targets", "the family, float32", "TimeGRU(reset_after=True)",
                 "TimeGRU, the book's", "TimeRNN", "TimeBiLSTM", "family targets",
                 "the output layer's products", "the language models end to end",
                 "inside/alone", "targets, end to end", "this --quick run took"):
        assert text in out, text


def test_the_full_runs_time_is_scaled_part_by_part(capsys, monkeypatch):
    """The estimate: each part of the reference full run, times this quick
    run's time for the part over the reference quick run's."""
    monkeypatch.setattr(bench_cli, "REFERENCE_FULL", {"setup": 3.0, "lstm": 237.0,
                                                      "family": 120.0, "models": 60.0})
    monkeypatch.setattr(bench_cli, "REFERENCE_QUICK", {"setup": 3.0, "lstm": 20.0,
                                                       "family": 5.0, "models": 12.0})
    parts = {"setup": 6.0, "lstm": 40.0, "family": 10.0, "models": 12.0}
    bench_cli.print_duration(parts, quick=True, default_plan=True)
    out = capsys.readouterr().out
    assert "this --quick run took 68 s (setup 6.0 s, lstm 40.0 s, family 10.0 s" in out
    assert "full run (without --quick) took 7.0 min on" in out and "took 40 s;" in out
    # 3 * 6/3 + 237 * 40/20 + 120 * 10/5 + 60 * 12/12 = 780 s
    assert "the full run takes about 13.0 min here" in out
    bench_cli.print_duration({"setup": 1.0, "lstm": 2.0}, quick=True, default_plan=True)
    # 3 * 1/3 + 237 * 2/20 = 24.7 s, the two parts that ran
    assert "about 25 s here for the parts run (family, models left out)" in capsys.readouterr().out
    bench_cli.print_duration(parts, quick=True, default_plan=False)   # --sizes etc.: no estimate
    assert "full run" not in capsys.readouterr().out


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
    rows = bench_lstm.scaling(0.001, False, D=3, H=5)  # every T: the bound shows past 140
    assert all(r["cache_values"] == 5 and r["infer_cache"] is None for r in rows)
    infer = [r["infer_ws"] for r in rows if r["kind"] == "T"]
    assert infer == sorted(infer) and infer[-1] == infer[-2]  # bounded in T
    bench_lstm.print_scaling(rows)
    assert "us/step" in capsys.readouterr().out


def test_recurrence_products_on_both_engines(capsys):
    rows = bench_lstm.recurrence_products(0.0, sizes=(8,))
    assert [r["name"] for r in rows][-1].startswith("TimeLSTM")
    assert all(r["goto"] > 0 and r["panels"] > 0 for r in rows)
    bench_lstm.print_recurrence_products(rows, None)
    assert "dxs = dA @ Wx^T" in capsys.readouterr().out


def test_interference_runs_without_torch(capsys):
    rows = bench_lstm.interference(None, 0.0)
    bench_lstm.print_interference(rows)
    assert "after a NumPy matmul" in capsys.readouterr().out


def test_torch_weights_are_permuted_to_its_gate_order(torch):
    p = bench_lstm.make_problem(2, 4, 3, 5, np.float64)
    ours = bench_lstm.Ours(p).layer.forward(p["xs"], train=False)
    np.testing.assert_allclose(bench_lstm.Torch(torch, p).hs(), ours, rtol=1e-10, atol=1e-12)


def test_the_bench_package_has_no_import_circle():
    """bench/'s modules import one another in one direction only (cli -> parts -> timing)."""
    import ast
    import pathlib

    folder = pathlib.Path(bench.__file__).parent
    graph = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {a.name for a in node.names}
        graph[path.stem] = {n for n in names if (folder / f"{n}.py").exists()}
    assert {"cli", "lstm", "family", "models", "timing", "machine"} <= set(graph)
    done, stack = set(), []

    def visit(module):
        assert module not in stack, f"import circle: {' -> '.join(stack + [module])}"
        if module in done:
            return
        stack.append(module)
        for other in graph[module]:
            visit(other)
        stack.pop()
        done.add(module)

    for module in graph:
        visit(module)


SMALL_MODELS = {"Rnnlm": (Rnnlm, 8), "BetterRnnlm": (BetterRnnlm, 300)}


def test_generation_bytes_per_step_are_the_weights_read():
    rnnlm, better = Rnnlm(50, 8, 8, seed=0), BetterRnnlm(50, 300, 300, seed=0)
    f = 4  # float32
    # Rnnlm: Wx, Wh, b (torch: two), an embedding row, the output weight and bias
    assert bench_generation.bytes_per_step(rnnlm, True) == f * (8 * 32 + 8 * 32 + 32 + 8 + 8 * 50 + 50)
    assert bench_generation.bytes_per_step(rnnlm, False) == f * (8 * 32 + 8 * 32 + 64 + 8 + 8 * 50 + 50)
    # BetterRnnlm, Wx of 1.4 MB: ours reads a memo row in place of Wx and the embedding row
    H4 = 4 * 300
    assert bench_generation.bytes_per_step(better, True) == f * (
        H4 + 300 * H4 + H4 + (300 * H4 + 300 * H4 + H4) + 50 * 300 + 50)
    assert bench_generation.bytes_per_step(better, False) == f * (
        300 + 2 * (300 * H4 + 300 * H4 + 2 * H4) + 50 * 300 + 50)


def test_generation_part_runs_and_prints(capsys, monkeypatch):
    monkeypatch.setattr(bench_generation, "TOKENS", {"Rnnlm": 6, "BetterRnnlm": 6})
    rows = bench_generation.run_generation(None, 0.0, True, SMALL_MODELS, vocab=60, pause=0.0)
    assert [(r["model"], r["samples"]) for r in rows] == [
        ("Rnnlm", 1), ("Rnnlm", 20), ("BetterRnnlm", 1), ("BetterRnnlm", 20)]
    assert all(r["ours"] > 0 and "torch" not in r for r in rows)
    bench_generation.print_generation(rows, 1e10, 1 << 28)
    targets = bench_generation.generation_targets(rows, 1e10)
    assert [ok for _, ok in targets].count(None) == 4 and len(targets) == 5
    out = capsys.readouterr().out
    assert "text generation, float32" in out and "256 MB" in out and "ours/bound" in out


def test_generation_part_against_torch(capsys, torch, monkeypatch):
    monkeypatch.setattr(bench_generation, "TOKENS", {"Rnnlm": 6, "BetterRnnlm": 6})
    rows = bench_generation.run_generation(torch, 0.0, True, {"Rnnlm": (Rnnlm, 8)}, vocab=60,
                                           pause=0.0)
    assert all(r["torch"] > 0 for r in rows)
    assert all(ok is not None for _, ok in bench_generation.generation_targets(rows, 1e10))


def test_read_bandwidth_reads_a_bounded_array():
    rate, nbytes = bench_cli.read_bandwidth(2, passes=1, most=64 << 20)
    assert nbytes == 64 << 20 and rate > 0


def test_lengths_part_runs_and_checks_torch(capsys, torch):
    from gatedrnn.bench import lengths
    rows = lengths.run_lengths(torch, 0.0, sizes=[(3, 5, 2, 4)])
    assert rows[0]["torch_error"] < 1e-5 and 0 < rows[0]["fill"] <= 1
    lengths.print_lengths(rows)
    out = capsys.readouterr().out
    assert "torch packed" in out and "|hs - torch hs|" in out
    assert all(ok is not None for _, ok in lengths.lengths_targets(rows))


def test_lengths_part_without_torch(capsys):
    from gatedrnn.bench import lengths
    rows = lengths.run_lengths(None, 0.0, sizes=[(3, 5, 2, 4)])
    lengths.print_lengths(rows)
    verdicts = dict(lengths.lengths_targets(rows))
    assert [ok for text, ok in verdicts.items() if "torch" in text] == [None]


def test_step_part_reports_the_bytes_each_core_streams(capsys):
    from gatedrnn.bench import step
    rows = step.run_step(0.0, 100.0, 2, sizes=[(4, 16), (20, 650)])
    by = {(r["size"], r["threads"]): r for r in rows}
    assert by[((4, 16), 1)]["bytes"] == 16 * 64 * 4          # Wh, float32, one thread
    by = {(r["size"], r["threads"], r["split"]): r for r in rows}
    assert by[((20, 650), 2, "rows")]["default"]               # 10 rows a slice
    assert by[((20, 650), 2, "rows")]["bytes"] == 650 * 2600 * 4    # each slice reads all of Wh
    assert not by[((20, 650), 2, "columns")]["default"]
    assert by[((20, 650), 2, "columns")]["bytes"] == 650 * 2600 * 4 / 2  # each core its half
    assert by[((4, 16), 2, "rows")]["default"] and by[((4, 16), 2, "rows")]["bytes"] == 16 * 64 * 4
    for r in rows:
        assert r["gbs"] * 1e9 * r["seconds"] == pytest.approx(r["bytes"])
        assert r["of_peak"] == pytest.approx(r["gflops"] / (100.0 * r["threads"] / 2))
    step.print_step(rows)
    assert "L3 GB/s" in capsys.readouterr().out
    assert [ok is not None for _, ok in step.step_targets(rows)] == [True]


def test_products_part_times_torch_mm_beside_sgemm(capsys, torch):
    """torch.mm (MKL on x86) is the measured ceiling the products are read against."""
    from gatedrnn.bench import machine, models
    assert machine.torch_mm_peak(torch, 0.0, n=64) > 0
    rows = models.run_products(0.0, quick=True, torch=torch)
    assert rows and all(r["torch"] > 0 and r["sgemm"] > 0 for r in rows)
    models.print_products(rows, 100.0)
    out = capsys.readouterr().out
    assert "torch.mm" in out and f"{rows[0]['engine'] / rows[0]['torch']:.2f}" in out
