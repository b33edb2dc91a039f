"""Shared test helpers: tolerances keyed by dtype and problem builders."""
import numpy as np
import pytest

from gatedrnn.demo import make_problem, run_layer  # noqa: F401  (re-exported for tests)

# Compiled against spec, as max |a - b| / max |b| over a whole array.
TOL = {np.float32: 1e-5, np.float64: 1e-12}

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param
