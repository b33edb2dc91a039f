"""Comparing with the spec where rounding matters: the truth is the spec in
extended precision (np.longdouble) on the same values, and the bound is the
dtype's tolerance, or, where the problem itself is so ill-conditioned that
rounding of the size the dtype allows moves the result by more, twice that
movement, measured on the very problem (see test_properties.py)."""
import contextlib

import numpy as np

from conftest import TOL
from gatedrnn import spec
from gatedrnn.gradcheck import relative_error

EXTENDED = np.longdouble  # 64-bit mantissa on x86-64 Linux; float64 elsewhere
ACTIVATION_ULPS = 3

def extended(arrays):
    """The same values in EXTENDED: arrays, and lists of arrays, in a dict."""
    def up(v):
        if isinstance(v, list):
            return [up(x) for x in v]
        return v.astype(EXTENDED) if isinstance(v, np.ndarray) else v
    return {k: up(v) for k, v in arrays.items()}


class _NoisyActivations:
    """numpy for the spec, except that every exp and tanh result is off by a
    random relative error of up to `rel` (for spec.np, see noisy_spec)."""

    def __init__(self, rel, seed):
        self.rel, self.rng = rel, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(np, name)

    def _noisy(self, y):
        y = np.asarray(y)
        return y * (1 + self.rel * self.rng.uniform(-1, 1, y.shape)).astype(y.dtype)

    def exp(self, x):
        return self._noisy(np.exp(x))

    def tanh(self, x):
        return self._noisy(np.tanh(x))


@contextlib.contextmanager
def noisy_spec(dtype, seed):
    """The spec with activations accurate to ACTIVATION_ULPS ulps of dtype."""
    saved = spec.np
    spec.np = _NoisyActivations(ACTIVATION_ULPS * np.finfo(dtype).eps, seed)
    try:
        yield
    finally:
        spec.np = saved


def references(run, p, dtype, draws=3):
    """(truth, the spec in dtype, draws of the spec with noisy activations),
    each a dict of outputs, for run(arrays) -> dict."""
    truth = run(extended(p))
    others = [run(p)]
    for k in range(draws):
        with noisy_spec(dtype, k):
            others.append(run(extended(p)))
    return truth, others


def check(ours, truth, others, dtype, what):
    """ours (the layer's dtype) within TOL of the extended-precision spec, or
    within twice the largest miss of the rounded references (others)."""
    assert ours.shape == truth.shape, f"{what}: shape {ours.shape} != {truth.shape}"
    assert ours.dtype == dtype, f"{what}: dtype {ours.dtype}, not {np.dtype(dtype)}"
    floor = max(relative_error(o, truth) for o in others)
    err = relative_error(ours, truth)
    assert err <= max(TOL[dtype], 2 * floor), (
        f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e} (rounding alone moves the "
        f"spec by {floor:.2e} here)")
