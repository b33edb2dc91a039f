"""mypy --strict on the package and on a typed client (tests/typed_client.py).

From the source tree (an editable install) mypy reads python/gatedrnn; against
an installed wheel it checks the installed package (``-p gatedrnn``), which
also proves that the wheel ships py.typed and the _kernels stub. The settings
are pyproject.toml's [tool.mypy]. The test extra installs mypy; without it the
tests skip, unless GATEDRNN_REQUIRE_MYPY=1 (CI's test steps), where its absence
fails instead, as GATEDRNN_REQUIRE_TORCH does for the torch tests.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gatedrnn

if importlib.util.find_spec("mypy") is None:
    if os.environ.get("GATEDRNN_REQUIRE_MYPY"):
        pytest.fail("mypy is not installed, and GATEDRNN_REQUIRE_MYPY asks for the typing "
                    "tests: pip install '.[test]'", pytrace=False)
    pytest.skip("mypy is not installed (pip install mypy)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
CLIENT = Path(__file__).with_name("typed_client.py")
SOURCE = ROOT / "python" / "gatedrnn"
FROM_SOURCE = Path(gatedrnn.__file__).resolve().parent == SOURCE.resolve()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One mypy cache for the module's runs, outside the tree."""
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(targets, cache_dir, cwd, env=None):
    """(report, exit status) of mypy --strict with pyproject.toml's settings.
    Against a wheel cwd is away from python/, so that the installed package is read."""
    args = ["--strict", "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(cache_dir), "--show-error-codes"]
    done = subprocess.run([sys.executable, "-m", "mypy", *args, *targets], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)
    return done.stdout + done.stderr, done.returncode


def test_the_package_and_the_typed_client_pass_mypy_strict(cache_dir, tmp_path):
    if FROM_SOURCE:
        runs = [[str(SOURCE), str(CLIENT)]]
    else:  # mypy takes a package or files, not both; it reports no errors inside site-packages
        runs = [["-p", "gatedrnn"], [str(CLIENT)]]
    for targets in runs:
        report, status = run_mypy(targets, cache_dir, ROOT if FROM_SOURCE else tmp_path)
        assert status == 0, f"mypy --strict {' '.join(targets)} found errors:\n{report}"


def test_mypy_strict_catches_a_misuse_of_the_api(cache_dir, tmp_path):
    """The annotations say something: wrong arguments are errors, not Any."""
    bad = tmp_path / "bad_client.py"
    bad.write_text(
        "import numpy as np\n"
        "from gatedrnn import TimeLSTM, clip_grads\n"
        "from gatedrnn.lm import Rnnlm\n"
        "layer = TimeLSTM(np.zeros((2, 8)), np.zeros((2, 8)), np.zeros(8))\n"
        "layer.forward('xs')\n"
        "total: str = clip_grads(layer.grads, 1.0)\n"
        "Rnnlm(hidden_size='100')\n")
    # From the source tree the client finds python/gatedrnn through MYPYPATH.
    env = {"MYPYPATH": str(ROOT / "python")} if FROM_SOURCE else None
    report, status = run_mypy([str(bad)], cache_dir, tmp_path, env)
    assert status == 1, report
    for line in (5, 6, 7):
        assert f"bad_client.py:{line}: error" in report, f"line {line} not flagged:\n{report}"


def test_the_typed_client_runs():
    subprocess.run([sys.executable, str(CLIENT)], check=True, cwd=ROOT)
