"""The kernel path is chosen at run time, so one wheel serves every x86-64:
each path this CPU supports, forced as a user forces it (GATEDRNN_KERNEL_PATH,
read at import, in a fresh interpreter), computes TimeLSTM as gatedrnn.spec
does; the paths offered are exactly those the CPU can run; the build never
asks for -march=native. tools/build_wheels.sh runs this against each installed
wheel; the normal suite runs it against the build in hand.
"""
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gatedrnn import _kernels

ROOT = Path(__file__).resolve().parents[1]
AVAILABLE = _kernels.available_paths()

# One forward and backward of TimeLSTM, float32 and float64, against the spec,
# on the path the environment forced; prints the path and the errors as JSON.
CHECK_ONE_PATH = """
import json
import numpy as np
from gatedrnn import TimeLSTM, _kernels, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error
errors = {}
for dtype in (np.float32, np.float64):
    p = make_problem(5, 9, 17, 33, dtype, seed=4)
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    for name in ref:
        assert ours[name].dtype == ref[name].dtype, name
        errors[f"{name} {np.dtype(dtype).name}"] = relative_error(ours[name], ref[name])
print(json.dumps({"path": _kernels.get_path(), "errors": errors}))
"""

TOL = {"float32": 1e-5, "float64": 1e-12}


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    raise AssertionError("/proc/cpuinfo has no flags line")


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.skipif(p not in AVAILABLE,
                                             reason=f"path {p!r} not available here"))
    for p in ["blas", "generic", "avx2", "avx512"]])
def test_each_path_forced_at_import_matches_spec(path):
    env = dict(os.environ, GATEDRNN_KERNEL_PATH=path)
    out = subprocess.run([sys.executable, "-c", CHECK_ONE_PATH], env=env,
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["path"] == path, "GATEDRNN_KERNEL_PATH was not honoured"
    for name, err in result["errors"].items():
        assert err <= TOL[name.split()[1]], f"{name} on {path}: relative error {err:.2e}"


def test_the_default_is_the_best_path_offered():
    out = subprocess.run([sys.executable, "-c", "from gatedrnn import _kernels; "
                          "print(_kernels.get_path(), _kernels.available_paths()[-1])"],
                         env={k: v for k, v in os.environ.items() if k != "GATEDRNN_KERNEL_PATH"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[1]


@pytest.mark.skipif(platform.machine() != "x86_64" or not sys.platform.startswith("linux"),
                    reason="reads the x86-64 CPU flags from /proc/cpuinfo")
def test_the_paths_offered_are_those_this_cpu_runs():
    # "generic" is baseline x86-64, so it is offered exactly when the SIMD
    # paths were built (-Dsimd=disabled, or a compiler failing the probe, has
    # "blas" alone); then avx2 and avx512 follow the CPU, not the build machine.
    if "generic" not in AVAILABLE:
        assert AVAILABLE == ["blas"]
        return
    flags = cpu_flags()
    expected = ["blas", "generic"]
    if {"avx2", "fma"} <= flags:
        expected.append("avx2")
        if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags:
            expected.append("avx512")
    assert AVAILABLE == expected


def test_the_build_never_asks_for_march_native():
    code = re.sub(r"#.*", "", (ROOT / "meson.build").read_text())
    assert "march=native" not in code and "mtune=native" not in code
