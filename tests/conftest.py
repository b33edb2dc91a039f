"""Shared test helpers: tolerances keyed by dtype, problem builders, layer
snapshots, a subprocess runner for crash-prone cases, a child that Ctrl-C reaches, hypothesis profiles, and
the language-model data.

Language-model data (gatedrnn.lm tests): the PTB text files and the book's
trained Rnnlm.pkl are never committed. Tests find them through

* ``--gatedrnn-data DIR`` or the environment variable ``GATEDRNN_DATA``: a
  folder holding ``ptb/ptb.{train,valid,test}.txt`` (``../shared/data`` here);
* ``--gatedrnn-book-params FILE`` or ``GATEDRNN_BOOK_PARAMS``: the book's
  ``Rnnlm.pkl``; by default ``<data folder>/book/Rnnlm.pkl``.

Without the data those tests skip, except under CI (``CI`` set), where missing
data is a failure: CI must run them.
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from gatedrnn import _kernels
from gatedrnn.demo import make_problem, run_layer  # noqa: F401  (re-exported for tests)

# Compiled against spec, as max |a - b| / max |b| over a whole array.
TOL = {np.float32: 1e-5, np.float64: 1e-12}

DTYPES = [np.float32, np.float64]

TESTS_DIR = Path(__file__).resolve().parent

# Hypothesis: "quick" (the default) is short and derandomized, so that CI sees
# the same examples every run; "long" explores. Choose with
# `python -m pytest --hypothesis-profile=long` or GATEDRNN_HYPOTHESIS_PROFILE=long.
settings.register_profile("quick", max_examples=50, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("GATEDRNN_HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


# Kernel paths (include/gatedrnn.h): every one this build and CPU offer, and
# the two that batteries run on, the best and the BLAS fallback.
PATHS = _kernels.available_paths()
BEST_AND_BLAS = sorted({PATHS[-1], "blas"}, key=PATHS.index)


@contextlib.contextmanager
def kernel_path(path, threads=None):
    """Run on `path` (and `threads` threads, offered even to small calls)."""
    previous = _kernels.set_path(path)
    if threads:
        _kernels.set_num_threads(threads)
        _kernels.set_all_threads(True)
    try:
        yield path
    finally:
        _kernels.set_path(previous)
        if threads:
            _kernels.set_num_threads(0)
            _kernels.set_all_threads(False)


@pytest.fixture(params=PATHS)
def every_path(request):
    """Each test that uses this runs once on every available kernel path."""
    with kernel_path(request.param):
        yield request.param


@pytest.fixture(params=BEST_AND_BLAS)
def best_and_blas(request):
    """Each test that uses this runs on the best path and on the BLAS path."""
    with kernel_path(request.param):
        yield request.param


def pytest_addoption(parser):
    group = parser.getgroup("gatedrnn")
    group.addoption("--gatedrnn-data", default=None,
                    help="folder with ptb/ptb.*.txt and book/Rnnlm.pkl (else $GATEDRNN_DATA)")
    group.addoption("--gatedrnn-book-params", default=None,
                    help="the book's Rnnlm.pkl (else $GATEDRNN_BOOK_PARAMS, else "
                         "<data>/book/Rnnlm.pkl)")


def _missing_lm_data(what):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing, and CI must run the tests that need it: set "
                    f"GATEDRNN_DATA (see tests/conftest.py)")
    pytest.skip(f"{what} not available (set GATEDRNN_DATA; see tests/conftest.py)")


def _lm_data_root(config):
    root = config.getoption("--gatedrnn-data") or os.environ.get("GATEDRNN_DATA")
    return os.path.abspath(root) if root else None


@pytest.fixture(scope="session")
def lm_ptb_dir(pytestconfig):
    """The folder holding ptb.{train,valid,test}.txt (fails under CI if absent)."""
    root = _lm_data_root(pytestconfig)
    if root:
        for folder in (os.path.join(root, "ptb"), root):
            if all(os.path.isfile(os.path.join(folder, f"ptb.{s}.txt"))
                   for s in ("train", "valid", "test")):
                return folder
    _missing_lm_data(f"the PTB data (ptb.*.txt under {root or 'GATEDRNN_DATA, unset'})")


@pytest.fixture(scope="session")
def lm_book_rnnlm_pkl(pytestconfig):
    """The path of the book's trained Rnnlm.pkl (fails under CI if absent)."""
    path = (pytestconfig.getoption("--gatedrnn-book-params")
            or os.environ.get("GATEDRNN_BOOK_PARAMS"))
    if not path:
        root = _lm_data_root(pytestconfig)
        path = os.path.join(root, "book", "Rnnlm.pkl") if root else None
    if path and os.path.isfile(path):
        return os.path.abspath(path)
    _missing_lm_data(f"the book's Rnnlm.pkl ({path or 'GATEDRNN_DATA, unset'})")


# -- Memory layouts: the same values in arrays that are not plain C arrays ----------

def interruptible():
    """A child's SIGINT back to the default, for the Ctrl-C tests: a parent
    started in the background (``cmd &``, as CI may be) hands its children
    SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _fortran(a):
    return np.asfortranarray(a) if a.ndim > 1 else a


def _reversed(a):
    """Negative strides on every axis, the same values."""
    flipped = a[(slice(None, None, -1),) * a.ndim].copy()
    return flipped[(slice(None, None, -1),) * a.ndim]


def _sliced(a, step=2):
    """Every step-th element of a larger array, on every axis."""
    big = np.full(tuple(step * s + 1 for s in a.shape), np.nan, a.dtype)
    view = big[(slice(1, None, step),) * a.ndim]
    view[...] = a
    return view


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _unaligned(a):
    buf = bytearray(a.nbytes + 1)
    u = np.frombuffer(buf, a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    return u


LAYOUTS = dict(fortran=_fortran, reversed=_reversed, sliced=_sliced,
               sliced3=lambda a: _sliced(a, 3), read_only=_read_only, unaligned=_unaligned)


# -- Snapshots: a failed call must leave a layer exactly as it was ----------------

def _copy(a):
    if isinstance(a, list):  # one entry per direction
        return [_copy(x) for x in a]
    return a.copy() if isinstance(a, np.ndarray) else a


def snapshot(layer):
    """Everything a call could change: params, grads, state, cache (identity and
    contents), each copied."""
    cache = getattr(layer, "_cache", None)
    cache_arrays = None if cache is None else {
        k: _copy(getattr(cache, k)) for k in ("xs", "h0", "c0", "caches")}
    return dict(
        params=[(id(p), _copy(p)) for p in layer.params],
        grads=[(id(g), _copy(g)) for g in layer.grads],
        state={k: _copy(getattr(layer, k, None)) for k in ("h", "c", "dh", "dc")},
        cache=(cache, cache_arrays, getattr(layer, "_no_cache_reason", None)),
    )


def _same(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a is b or a == b


def assert_unchanged(layer, before):
    after = snapshot(layer)
    for group in ("params", "grads"):
        for k, ((id_a, a), (id_b, b)) in enumerate(zip(after[group], before[group])):
            assert id_a == id_b, f"{group}[{k}] was replaced"
            assert _same(a, b), f"{group}[{k}] changed"
    for k in before["state"]:
        assert _same(after["state"][k], before["state"][k]), f"state {k} changed"
    cache_a, arrays_a, reason_a = after["cache"]
    cache_b, arrays_b, reason_b = before["cache"]
    assert cache_a is cache_b, "the cache was replaced or dropped"
    assert reason_a == reason_b
    if arrays_b is not None:
        for k in arrays_b:
            assert _same(arrays_a[k], arrays_b[k]), f"cache {k} changed"


# -- A tiny corpus of one's own, for the command line's tests ------------------------

@pytest.fixture
def corpus_files(tmp_path):
    """train.txt, valid.txt and test.txt of 15 words; test.txt ends with a word
    outside the vocabulary ("zebra")."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(15)]
    sentence = " ".join(words[k] for k in [*rng.permutation(15), *rng.integers(0, 15, 5)])
    (tmp_path / "train.txt").write_text((sentence + "\n") * 120)
    (tmp_path / "valid.txt").write_text((sentence + "\n") * 40)
    (tmp_path / "test.txt").write_text((sentence + "\n") * 40 + "w0 zebra\n")
    return tmp_path


# -- PyTorch, for the tests that compare against it ---------------------------------

@pytest.fixture(scope="session")
def torch():
    """PyTorch, or a skip when it is not installed. With GATEDRNN_REQUIRE_TORCH=1
    (CI's torch step) its absence fails instead: those tests must run there."""
    if os.environ.get("GATEDRNN_REQUIRE_TORCH"):
        import torch
        return torch
    return pytest.importorskip("torch")


def pytest_collection_modifyitems(config, items):
    # `pytest -m torch` selects every test that uses the torch fixture.
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)


# -- Crash-prone cases run in a fresh interpreter ---------------------------------

def run_isolated(module, function, *args, timeout=300, path=None):
    """Run tests/<module>.py's function(*args) in a new Python process (on the
    kernel path `path`, if given).

    The arguments go through JSON. A failed assertion in the child fails the
    test with the child's traceback; a crash (a signal such as SIGSEGV or
    SIGABRT, e.g. from a sanitizer) fails it naming the signal, instead of
    killing the test run.
    """
    code = ("import json, os, sys; sys.path.insert(0, sys.argv[1]); import importlib; "
            "from gatedrnn import _kernels; "
            "wanted = os.environ.get('GATEDRNN_KERNEL_PATH'); "
            "assert not wanted or _kernels.get_path() == wanted, _kernels.get_path(); "
            "m = importlib.import_module(sys.argv[2]); "
            "getattr(m, sys.argv[3])(*json.loads(sys.argv[4]))")
    env = dict(os.environ, GATEDRNN_KERNEL_PATH=path) if path else None
    proc = subprocess.run([sys.executable, "-c", code, str(TESTS_DIR), module, function,
                           json.dumps(args)], capture_output=True, text=True, timeout=timeout,
                          env=env)
    call = f"{module}.{function}{tuple(args)}" + (f" on {path}" if path else "")
    # Under tools/sanitize.sh a sanitizer may report and exit instead of a signal.
    report = re.search(r"ERROR: AddressSanitizer: .*|runtime error: .*", proc.stderr)
    if proc.returncode < 0 or report:
        name = " ".join(filter(None, [
            signal.Signals(-proc.returncode).name if proc.returncode < 0 else "",
            f"({report[0]})" if report else ""]))
        pytest.fail(f"{call} crashed the interpreter with {name}\n"
                    f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{call} failed in its subprocess (exit {proc.returncode})\n"
                    f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}", pytrace=False)
    return proc.stdout
