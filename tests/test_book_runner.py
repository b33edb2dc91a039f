"""gatedrnn.book.install() and `python -m gatedrnn book`, on the small book-like layout
of tests/book_layout/: book/common (the user's package), book/chapter/script.py (which
does sys.path.append('..') like the book's scripts and reports what it sees), and
stand-ins for our modules (ours/stand_in_*.py) put in the replacement table, so that
these tests do not depend on gatedrnn.book's own modules. One test uses the real table.
"""
import argparse
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from gatedrnn.__main__ import main as gatedrnn_main
from gatedrnn.book import run

# The module, even where gatedrnn.book re-exports its install() function under that name.
hook = importlib.import_module("gatedrnn.book.import_hook")

LAYOUT = Path(__file__).resolve().parent / "book_layout"
BOOK = LAYOUT / "book"
CHAPTER = BOOK / "chapter"
SCRIPT = CHAPTER / "script.py"
OURS = LAYOUT / "ours"

STAND_INS = {"common.time_layers": "stand_in_time_layers",
             "common.optimizer": "stand_in_optimizer",
             "common.util": "stand_in_util"}
# What the stand-ins' __all__ say, in the table's order.
STAND_IN_NAMES = {"common.time_layers": ("TimeRNN", "TimeLSTM", "TimeGRU"),
                  "common.optimizer": ("SGD", "Adam"),
                  "common.util": ("clip_grads", "eval_perplexity")}
# The one line the runner prints for the stand-ins.
STAND_IN_LINE = ("gatedrnn book: replaced with gatedrnn.book's: "
                 "common.time_layers {TimeRNN, TimeLSTM, TimeGRU}, common.optimizer {SGD, Adam}, "
                 "common.util {clip_grads, eval_perplexity}; everything else is the script's own "
                 "code")

# The names of the book's common/ modules that gatedrnn.book provides (issue 9).
BOOK_NAMES = {
    "common.time_layers": {"RNN", "TimeRNN", "LSTM", "TimeLSTM", "GRU", "TimeGRU", "TimeBiLSTM",
                           "TimeEmbedding", "TimeAffine", "TimeSoftmaxWithLoss", "TimeDropout",
                           "TimeSigmoidWithLoss", "Simple_TimeSoftmaxWithLoss",
                           "Simple_TimeAffine"},
    "common.optimizer": {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"},
    "common.util": {"clip_grads", "eval_perplexity"},
    "rnnlm_gen": {"RnnlmGen", "BetterRnnlmGen"},   # ch07's (issue 20)
}

USER_TOP_LEVEL = {"common", "model", "rnnlm_gen", "stand_in_time_layers", "stand_in_optimizer",
                  "stand_in_util", "stand_in_without_all"}


def _forget_user_modules():
    for name in [n for n in sys.modules if n.partition(".")[0] in USER_TOP_LEVEL]:
        del sys.modules[name]


@pytest.fixture
def clean_imports():
    """No hook and none of the layout's modules before; the same after."""
    assert not hook.is_installed()
    assert not any(n.partition(".")[0] in USER_TOP_LEVEL for n in sys.modules)
    assert importlib.util.find_spec("common") is None, "a `common` is importable already"
    meta_path = list(sys.meta_path)
    yield
    hook.uninstall()
    sys.meta_path[:] = meta_path
    _forget_user_modules()


@pytest.fixture
def stand_ins(clean_imports, monkeypatch):
    """The replacement table pointing at tests/book_layout/ours."""
    monkeypatch.setattr(hook, "REPLACEMENTS", dict(STAND_INS))
    monkeypatch.syspath_prepend(str(OURS))
    return {book: importlib.import_module(ours) for book, ours in STAND_INS.items()}


def _star_import(module_name):
    namespace = {}
    exec(f"from {module_name} import *", namespace)
    return namespace


# ---------------------------------------------------------------- install()

def test_install_before_common_is_on_path_replaces_ours_keeps_theirs(stand_ins, monkeypatch):
    assert importlib.util.find_spec("common") is None
    assert hook.install() == STAND_IN_NAMES
    assert hook.is_installed()
    monkeypatch.syspath_prepend(str(BOOK))   # as the script's sys.path.append('..'), later

    for book, names in STAND_IN_NAMES.items():
        module = importlib.import_module(book)
        # the user's file ran ...
        assert Path(module.__file__) == BOOK / "common" / (book.split(".")[1] + ".py")
        # ... and every name of our __all__ is ours, TimeGRU included (the user's has none)
        for name in names:
            assert getattr(module, name) is getattr(stand_ins[book], name), f"{book}.{name}"

    time_layers = sys.modules["common.time_layers"]
    layers = importlib.import_module("common.layers")
    util = sys.modules["common.util"]
    trainer = importlib.import_module("common.trainer")
    # the user's other names stay
    assert time_layers.np is np and time_layers.Embedding is layers.Embedding
    assert time_layers.TimeAttention.__module__ == "common.time_layers"
    assert util.preprocess.__module__ == "common.util" and util.preprocess("a b") == ["a", "b"]
    assert trainer.Trainer.__module__ == "common.trainer"
    # the user's code that imports or looks up a replaced name gets ours
    assert trainer.clip_grads is stand_ins["common.util"].clip_grads
    assert type(time_layers.TimeAttention().make_lstm()) is stand_ins["common.time_layers"].TimeLSTM
    # a later `from common.time_layers import TimeLSTM`, and the book's star imports
    assert _star_import("common.time_layers")["TimeLSTM"] is stand_ins["common.time_layers"].TimeLSTM
    star = _star_import("common.time_layers")
    assert star["TimeGRU"] is stand_ins["common.time_layers"].TimeGRU
    assert star["Embedding"] is layers.Embedding and star["TimeAttention"] is time_layers.TimeAttention
    assert _star_import("common.optimizer")["Adam"] is stand_ins["common.optimizer"].Adam


def test_install_twice_keeps_one_hook_at_the_front(stand_ins, monkeypatch):
    hook.install()

    class LaterFinder:
        def find_spec(self, fullname, path, target=None):
            return None

    sys.meta_path.insert(0, LaterFinder())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hook.install() == STAND_IN_NAMES
    hooks = [f for f in sys.meta_path if isinstance(f, hook._BookFinder)]
    assert len(hooks) == 1 and sys.meta_path[0] is hooks[0]

    monkeypatch.syspath_prepend(str(BOOK))
    util = importlib.import_module("common.util")
    assert util.clip_grads is stand_ins["common.util"].clip_grads
    # a module imported through the hook has ours: installing again does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hook.install()

    assert hook.uninstall() is True and hook.uninstall() is False and not hook.is_installed()
    assert not any(isinstance(f, hook._BookFinder) for f in sys.meta_path)
    _forget_user_modules()
    assert importlib.import_module("common.util").clip_grads.__module__ == "common.util"


def test_module_imported_before_install_keeps_the_books_and_warns(stand_ins, monkeypatch):
    monkeypatch.syspath_prepend(str(BOOK))
    util = importlib.import_module("common.util")
    users_clip_grads = util.clip_grads
    with pytest.warns(RuntimeWarning, match=r"common\.util was imported before install\(\)") as w:
        hook.install()
    assert len(w) == 1 and "common.time_layers" not in str(w[0].message)
    assert w[0].filename == __file__   # points at the caller of install()
    assert util.clip_grads is users_clip_grads and users_clip_grads.__module__ == "common.util"
    # what is imported afterwards is replaced
    time_layers = importlib.import_module("common.time_layers")
    assert time_layers.TimeLSTM is stand_ins["common.time_layers"].TimeLSTM


def test_install_rejects_a_bad_table_and_changes_nothing(stand_ins, monkeypatch):
    without_all = types.ModuleType("stand_in_without_all")
    without_all.clip_grads = stand_ins["common.util"].clip_grads
    monkeypatch.setitem(sys.modules, "stand_in_without_all", without_all)
    lying = types.ModuleType("stand_in_lying")
    lying.__all__ = ["clip_grads", "not_defined"]
    lying.clip_grads = without_all.clip_grads
    monkeypatch.setitem(sys.modules, "stand_in_lying", lying)

    hook.install()   # a good hook in place: a failed install() must leave it
    before = list(sys.meta_path)
    bad_tables = [
        (["common.util"], TypeError, "REPLACEMENTS must be a dict"),
        ({"common.util": 3}, TypeError, "module names"),
        ({"common.util": "stand_in_without_all"}, AttributeError, r"stand_in_without_all must list"),
        ({"common.util": "stand_in_lying"}, AttributeError, r"\['not_defined'\]"),
        ({"common.util": "stand_in_no_such_module"}, ModuleNotFoundError, "stand_in_no_such_module"),
    ]
    for table, error, message in bad_tables:
        monkeypatch.setattr(hook, "REPLACEMENTS", table)
        with pytest.raises(error, match=message):
            hook.install()
        assert sys.meta_path == before, table
    monkeypatch.syspath_prepend(str(BOOK))
    assert importlib.import_module("common.util").clip_grads is stand_ins["common.util"].clip_grads


def test_the_real_table_replaces_every_name_of_gatedrnn_book(clean_imports, monkeypatch):
    """gatedrnn.book's modules export the book's names, and install() puts each in place."""
    assert hook.REPLACEMENTS == {"common.time_layers": "gatedrnn.book.time_layers",
                                 "common.optimizer": "gatedrnn.book.optimizer",
                                 "common.util": "gatedrnn.book.util",
                                 "rnnlm_gen": "gatedrnn.book.rnnlm_gen"}
    ours = {book: importlib.import_module(m) for book, m in hook.REPLACEMENTS.items()}
    for book, module in ours.items():
        assert set(getattr(module, "__all__", ())) == BOOK_NAMES[book], module.__name__
    replaced = hook.install()
    assert {book: set(names) for book, names in replaced.items()} == BOOK_NAMES
    monkeypatch.syspath_prepend(str(BOOK))
    monkeypatch.syspath_prepend(str(CHAPTER))   # rnnlm_gen sits in its chapter, as ch07's
    for book, names in BOOK_NAMES.items():
        module = importlib.import_module(book)
        for name in sorted(names):
            assert getattr(module, name) is getattr(ours[book], name), f"{book}.{name}"
    trainer = importlib.import_module("common.trainer")
    assert trainer.clip_grads is ours["common.util"].clip_grads
    assert sys.modules["rnnlm_gen"].helper() == "the user's helper"   # the user's file ran


def test_runner_runs_a_chapter_7_script_on_our_generators(clean_imports, capsys):
    """The layout's generate.py (as ch07/generate_text.py: `from rnnlm_gen import
    RnnlmGen`, whose generate fails on NumPy 2 in the user's file) prints text
    through gatedrnn.book.rnnlm_gen, the one line on stderr saying so."""
    assert gatedrnn_main(["book", str(CHAPTER / "generate.py"), "30"]) == 0
    captured = capsys.readouterr()
    assert "rnnlm_gen {RnnlmGen, BetterRnnlmGen}" in captured.err.splitlines()[0]
    text, helper = captured.out.rsplit("\n", 2)[:2]
    assert helper == "the user's helper"
    words = text.replace(".\n", " <eos>\n").split()
    assert len(words) == 30 and words[0] == "a" and "g" not in words
    # the same text as our RnnlmGen outside the runner
    from gatedrnn.book.rnnlm_gen import RnnlmGen
    np.random.seed(0)
    model = RnnlmGen(vocab_size=8, wordvec_size=4, hidden_size=5)
    np.random.seed(1)
    vocab = ["a", "b", "c", "d", "<eos>", "e", "f", "g"]
    assert words == [vocab[i] for i in model.generate(0, skip_ids=[7], sample_size=30)]


# ---------------------------------------------------------------- the runner, in process

def _report(facts_file):
    return json.loads(Path(facts_file).read_text())


def _replaced_and_kept(facts):
    """The script's view of what is ours (stand-ins) and what stays the user's."""
    assert facts["SGD"] == "stand_in_optimizer.SGD"
    assert facts["clip_grads"] == facts["trainer.clip_grads"] == "stand_in_util.clip_grads"
    assert facts["model.TimeLSTM"] == "stand_in_time_layers.TimeLSTM"
    assert facts["TimeAttention().make_lstm()"] == "stand_in_time_layers.TimeLSTM"
    assert facts["preprocess"] == "common.util.preprocess"
    assert facts["Trainer"] == "common.trainer.Trainer"
    assert facts["model.Embedding"] == "common.layers.Embedding"
    assert facts["time_layers.np"] == "numpy"


def test_runner_runs_the_script_as_python_would_and_restores(stand_ins, tmp_path, capsys):
    facts_file = tmp_path / "facts.json"
    cwd, argv, path = os.getcwd(), sys.argv, sys.path
    argv_list, path_list = list(sys.argv), list(sys.path)

    status = gatedrnn_main(["book", str(SCRIPT), "report", str(facts_file), "--flag", "-x"])

    assert status == 0
    facts = _report(facts_file)
    assert facts["name"] == "__main__" and facts["file"] == str(SCRIPT)
    assert facts["argv"] == [str(SCRIPT), "report", str(facts_file), "--flag", "-x"]
    assert facts["cwd"] == str(CHAPTER) and facts["path"][0] == str(CHAPTER)
    assert ".." in facts["path"] and os.path.normpath(facts["common"]) == str(BOOK / "common")
    _replaced_and_kept(facts)
    # one line from us, on stderr; stdout is the script's alone
    captured = capsys.readouterr()
    assert captured.err == STAND_IN_LINE + "\n"
    assert captured.out == "script: report written\n"
    # restored: working directory, argv, path (the same objects), no hook, no user modules
    assert os.getcwd() == cwd
    assert sys.argv is argv and sys.argv == argv_list
    assert sys.path is path and sys.path == path_list
    assert not hook.is_installed()
    assert not any(n.partition(".")[0] in {"common", "model"} for n in sys.modules)
    assert "stand_in_util" in sys.modules   # imported by the caller's table: not the script's


def test_runner_twice_in_process_imports_each_checkout_afresh(stand_ins, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(BOOK, copy)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert gatedrnn_main(["book", str(SCRIPT), "report", str(first)]) == 0
    assert gatedrnn_main(["book", str(copy / "chapter" / "script.py"), "report", str(second)]) == 0
    assert os.path.normpath(_report(first)["common"]) == str(BOOK / "common")
    facts = _report(second)
    assert os.path.normpath(facts["common"]) == str(copy / "common") and facts["cwd"] == str(copy / "chapter")
    _replaced_and_kept(facts)
    assert capsys.readouterr().err == 2 * (STAND_IN_LINE + "\n")


@pytest.mark.parametrize("script_args, status, stderr_tail", [
    (["exit", "3"], 3, ""),
    (["exit", "0"], 0, ""),
    (["exit-message", "stopped by the script"], 1, "stopped by the script\n"),
])
def test_runner_returns_the_scripts_exit_status(stand_ins, capsys, script_args, status, stderr_tail):
    assert gatedrnn_main(["book", str(SCRIPT)] + script_args) == status
    assert capsys.readouterr().err == STAND_IN_LINE + "\n" + stderr_tail
    assert not hook.is_installed()


def test_runner_prints_the_scripts_traceback_and_returns_1(stand_ins, capsys):
    assert gatedrnn_main(["book", str(SCRIPT), "raise"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == STAND_IN_LINE
    # as python prints it: from the script's frame on, none of the runner's
    assert err[1] == "Traceback (most recent call last):"
    assert err[2].startswith(f'  File "{SCRIPT}", line ') and err[2].endswith("in <module>")
    assert err[-1] == "ValueError: boom from the script"
    # (the package's folder, not the word: a checkout's own path may hold "gatedrnn")
    package = os.path.dirname(os.path.dirname(run.__file__))
    assert not any("runpy" in line or package in line for line in err[1:])


def test_runner_reports_a_script_that_does_not_compile_as_python_would(stand_ins, tmp_path, capsys):
    script = tmp_path / "broken.py"
    script.write_text("x = 1\ndef (:\n")
    assert gatedrnn_main(["book", str(script)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == STAND_IN_LINE
    assert err[1] == f'  File "{script}", line 2' and err[-1].startswith("SyntaxError: ")
    assert not any("Traceback" in line or "runpy" in line for line in err)


def test_runner_names_the_folders_searched_when_common_is_missing(stand_ins, tmp_path, capsys):
    lonely = tmp_path / "lonely"
    shutil.copytree(CHAPTER, lonely / "chapter")
    script = lonely / "chapter" / "script.py"
    assert gatedrnn_main(["book", str(script), "report", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(STAND_IN_LINE + "\n")
    lines = err.splitlines()[1:]
    import_line = next(i for i, s in enumerate(script.read_text().splitlines(), 1)
                       if s.startswith("import common"))
    assert lines[0] == ("python -m gatedrnn book: error: the book's package `common` was not "
                        f"found (imported at {script}:{import_line})")
    assert f"{lonely / 'chapter'} (the script's folder)" in lines[1]
    assert f"{lonely} (the script's sys.path entry '..')" in lines[1]
    assert "beside common/" in lines[2]
    assert "Traceback" not in err and not (tmp_path / "x.json").exists()

    # a `common` that is not the book's: it has no time_layers
    other = tmp_path / "other"
    shutil.copytree(CHAPTER, other / "chapter")
    (other / "common").mkdir()
    (other / "common" / "__init__.py").write_text("")
    assert gatedrnn_main(["book", str(other / "chapter" / "script.py"), "report", "x"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith(f"python -m gatedrnn book: error: the package `common` found in "
                             f"{other / 'common'} has no module `time_layers`")


def test_runner_missing_script_is_a_usage_error(stand_ins, tmp_path, capsys):
    missing = tmp_path / "missing.py"
    for target, what in [(missing, "does not exist"), (tmp_path, "is a folder, not a script")]:
        with pytest.raises(SystemExit) as exit_:
            gatedrnn_main(["book", str(target), "report"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: python -m gatedrnn book ")
        assert f"python -m gatedrnn book: error: argument script: {str(target)!r} {what}" in err
    # main() given a namespace directly
    assert run.main(argparse.Namespace(script=str(missing), script_args=[])) == 2
    assert capsys.readouterr().err == (f"python -m gatedrnn book: error: argument script: "
                                       f"{str(missing)!r} is not a file\n")
    assert not hook.is_installed()


def test_runner_help_tells_how_to_run_headless(capsys):
    with pytest.raises(SystemExit) as exit_:
        gatedrnn_main(["book", "-h"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "MPLBACKEND=Agg" in out and "script" in out


# ---------------------------------------------------------------- the runner, as a process

# `python -c` with the stand-in table, then gatedrnn's command line (as `python -m gatedrnn`).
BOOTSTRAP = """
import importlib, sys
sys.path.append({ours!r})
importlib.import_module("gatedrnn.book.import_hook").REPLACEMENTS = {table!r}
from gatedrnn.__main__ import main
sys.exit(main())
""".format(ours=str(OURS), table=STAND_INS)


def _run_process(tmp_path, *args):
    return subprocess.run([sys.executable, "-c", BOOTSTRAP, "book", str(SCRIPT), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_process_runs_the_script_from_its_folder(tmp_path):
    facts_file = str(tmp_path / "facts.json")
    proc = _run_process(tmp_path, "report", facts_file)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == STAND_IN_LINE + "\n" and proc.stdout == "script: report written\n"
    facts = _report(facts_file)
    assert facts["cwd"] == str(CHAPTER) and facts["path"][0] == str(CHAPTER)
    # the folder the command was started in is not on the script's sys.path
    assert str(tmp_path) not in facts["path"] and "" not in facts["path"]
    assert facts["argv"] == [str(SCRIPT), "report", facts_file] and facts["name"] == "__main__"
    _replaced_and_kept(facts)


@pytest.mark.parametrize("script_args, status, last_line", [
    (["exit", "3"], 3, STAND_IN_LINE),
    (["raise"], 1, "ValueError: boom from the script"),
])
def test_process_exits_with_the_scripts_status(tmp_path, script_args, status, last_line):
    proc = _run_process(tmp_path, *script_args)
    assert proc.returncode == status, proc.stderr
    assert proc.stderr.splitlines()[0] == STAND_IN_LINE
    assert proc.stderr.splitlines()[-1] == last_line and proc.stdout == ""
