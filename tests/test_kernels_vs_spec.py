"""The compiled kernels against the NumPy spec, in float32 and float64, on
every kernel path this build and CPU offer (the every_path fixture)."""
import numpy as np
import pytest

from conftest import TOL
from gatedrnn import LSTM, TimeLSTM, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

pytestmark = pytest.mark.usefixtures("every_path")

SHAPES = [  # (N, T, D, H)
    (1, 1, 1, 1),
    (1, 1, 7, 5),
    (1, 6, 3, 4),
    (3, 1, 4, 3),
    (2, 7, 5, 3),
    (4, 9, 13, 7),
    (5, 3, 17, 33),
    (7, 11, 2, 19),
    (20, 35, 100, 100),
]


def assert_all_close_to_spec(ours, ref, limit, context=""):
    assert ours.keys() == ref.keys()
    for name in ref:
        assert ours[name].dtype == ref[name].dtype, name
        err = relative_error(ours[name], ref[name])
        assert err <= limit, f"{name}{context}: relative error {err:.2e} > {limit:.0e}"


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_forward_backward_match_spec(shape, dtype):
    p = make_problem(*shape, dtype, seed=sum(shape))
    assert_all_close_to_spec(run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p), TOL[dtype])


def test_comparison_detects_a_perturbed_weight(dtype):
    """The tolerance is tight enough to see a change in the 5th digit of one weight."""
    p = make_problem(4, 5, 6, 7, dtype)
    ref = run_layer(spec.TimeLSTM, p)
    p["Wh"][3, 5] *= 1 + 1e-3
    errors = {k: relative_error(v, ref[k]) for k, v in run_layer(TimeLSTM, p).items()}
    assert max(errors.values()) > TOL[dtype]


def test_zero_initial_state_non_stateful(dtype):
    p = make_problem(3, 4, 5, 6, dtype)
    results = []
    for cls in (TimeLSTM, spec.TimeLSTM):
        layer = cls(p["Wx"], p["Wh"], p["b"])
        hs = layer.forward(p["xs"])
        dxs = layer.backward(p["dhs"])
        results.append([hs, dxs, layer.dh, *layer.grads])
    for name, ours, ref in zip(["hs", "dxs", "dh", "dWx", "dWh", "db"], *results):
        assert relative_error(ours, ref) <= TOL[dtype], name


def test_non_contiguous_inputs_and_weights(dtype):
    p = make_problem(4, 6, 5, 3, dtype, seed=2)
    ref = run_layer(spec.TimeLSTM, p)

    def strided(a):
        """The same values in a non-contiguous array (every other element)."""
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]

    q = {k: strided(v) for k, v in p.items()}
    q["Wx"] = np.asfortranarray(p["Wx"])
    q["xs"] = np.ascontiguousarray(p["xs"].transpose(1, 0, 2)).transpose(1, 0, 2)
    for k in ("Wx", "xs", "Wh", "dhs"):
        assert not q[k].flags.c_contiguous, k
    assert_all_close_to_spec(run_layer(TimeLSTM, q), ref, TOL[dtype], " (non-contiguous)")


def test_saturated_gates(dtype):
    # Pre-activations of tens: sigmoid and tanh sit at their limits.
    p = make_problem(5, 8, 6, 7, dtype, seed=9, weight_scale=30.0)
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    with np.errstate(over="raise", invalid="raise"):
        assert all(np.all(np.isfinite(v)) for v in ours.values())
    assert_all_close_to_spec(ours, ref, TOL[dtype], " (saturated)")


def test_extreme_pre_activations_do_not_overflow(dtype):
    p = make_problem(2, 3, 4, 5, dtype, seed=1)
    p["b"][:] = np.tile(np.array([1e4, -1e4, 1e4, -1e4], dtype), 5)
    ours = run_layer(TimeLSTM, p)
    assert all(np.all(np.isfinite(v)) for v in ours.values())
    assert_all_close_to_spec(ours, run_layer(spec.TimeLSTM, p), TOL[dtype], " (extreme)")


def test_long_sequence_float32():
    p = make_problem(4, 250, 16, 24, np.float32, seed=12)
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    assert_all_close_to_spec(ours, ref, TOL[np.float32], " (T=250)")


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 4, 5), (6, 2, 9)])
def test_single_step_cell_matches_spec(shape, dtype):
    N, D, H = shape
    p = make_problem(N, 1, D, H, dtype, seed=N + D + H)
    x, h, c = p["xs"][:, 0, :], p["h0"], p["c0"]
    dh_next, dc_next = p["dhs"][:, 0, :], p["dc_T"]
    results = []
    for cls in (LSTM, spec.LSTM):
        cell = cls(p["Wx"], p["Wh"], p["b"])
        h_next, c_next = cell.forward(x, h, c)
        dx, dh, dc = cell.backward(dh_next, dc_next)
        results.append([h_next, c_next, dx, dh, dc, *cell.grads])
    names = ["h_next", "c_next", "dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"]
    for name, ours, ref in zip(names, *results):
        assert ours.dtype == ref.dtype, name
        assert relative_error(ours, ref) <= TOL[dtype], name
