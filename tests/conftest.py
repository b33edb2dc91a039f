"""Shared test helpers: tolerances keyed by dtype, problem builders, and the
language-model data.

Language-model data (gatedrnn.lm tests): the PTB text files and the book's
trained Rnnlm.pkl are never committed. Tests find them through

* ``--gatedrnn-data DIR`` or the environment variable ``GATEDRNN_DATA``: a
  folder holding ``ptb/ptb.{train,valid,test}.txt`` (``../shared/data`` here);
* ``--gatedrnn-book-params FILE`` or ``GATEDRNN_BOOK_PARAMS``: the book's
  ``Rnnlm.pkl``; by default ``<data folder>/book/Rnnlm.pkl``.

Without the data those tests skip, except under CI (``CI`` set), where missing
data is a failure: CI must run them.
"""
import os

import numpy as np
import pytest

from gatedrnn.demo import make_problem, run_layer  # noqa: F401  (re-exported for tests)

# Compiled against spec, as max |a - b| / max |b| over a whole array.
TOL = {np.float32: 1e-5, np.float64: 1e-12}

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param



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
