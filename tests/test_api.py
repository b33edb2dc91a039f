"""The book's TimeLSTM semantics: params, grads, state (the book's training
pattern, for every layer of the family, is in test_family.py)."""
import numpy as np
import pytest

from conftest import TOL
from gatedrnn import LSTM, TimeLSTM, spec
from gatedrnn.demo import make_problem
from gatedrnn.gradcheck import relative_error


def test_params_are_the_arrays_passed_in(dtype):
    p = make_problem(2, 3, 4, 5, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    assert layer.params[0] is p["Wx"] and layer.params[1] is p["Wh"] and layer.params[2] is p["b"]
    assert [g.shape for g in layer.grads] == [(4, 20), (5, 20), (20,)]
    assert all(g.dtype == dtype for g in layer.grads)
    assert layer.dtype == dtype


def test_grads_are_overwritten_in_place_and_params_updates_are_seen(dtype):
    p = make_problem(3, 4, 5, 6, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    held = list(layer.grads)
    layer.forward(p["xs"])
    layer.backward(p["dhs"])
    first = [g.copy() for g in held]
    assert all(np.any(g != 0) for g in first)

    p["Wh"] *= 0.5  # an in-place update, as the book's optimizers do
    hs = layer.forward(p["xs"])
    layer.backward(p["dhs"])
    assert all(a is b for a, b in zip(layer.grads, held))
    assert any(np.any(a != b) for a, b in zip(held, first))

    reference = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"])
    assert relative_error(hs, reference.forward(p["xs"])) <= TOL[dtype]
    reference.backward(p["dhs"])
    for ours, ref in zip(held, reference.grads):
        assert relative_error(ours, ref) <= TOL[dtype]


def test_stateful_calls_equal_one_long_call(dtype):
    p = make_problem(3, 12, 4, 5, dtype)
    whole = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    hs_whole = whole.forward(p["xs"])

    pieces = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    hs_pieces = np.concatenate([pieces.forward(p["xs"][:, a:b]) for a, b in
                                [(0, 5), (5, 6), (6, 12)]], axis=1)
    np.testing.assert_array_equal(hs_pieces, hs_whole)
    np.testing.assert_array_equal(pieces.h, whole.h)
    np.testing.assert_array_equal(pieces.c, whole.c)
    np.testing.assert_array_equal(pieces.h, hs_whole[:, -1])


def test_stateful_carry_matches_spec_across_calls(dtype):
    p = make_problem(2, 9, 3, 4, dtype)
    ours = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    ref = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    for layer in (ours, ref):
        layer.set_state(p["h0"], p["c0"])
    for a, b in [(0, 4), (4, 9)]:
        hs, hs_ref = ours.forward(p["xs"][:, a:b]), ref.forward(p["xs"][:, a:b])
        dxs, dxs_ref = ours.backward(p["dhs"][:, a:b]), ref.backward(p["dhs"][:, a:b])
        for name, x, y in [("hs", hs, hs_ref), ("dxs", dxs, dxs_ref), ("h", ours.h, ref.h),
                           ("c", ours.c, ref.c), ("dh", ours.dh, ref.dh), ("dc", ours.dc, ref.dc),
                           *zip(["dWx", "dWh", "db"], ours.grads, ref.grads)]:
            assert relative_error(x, y) <= TOL[dtype], f"{name} in call {a}:{b}"


def test_non_stateful_always_starts_from_zero(dtype):
    p = make_problem(2, 3, 4, 5, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=False)
    first = layer.forward(p["xs"])
    layer.set_state(p["h0"], p["c0"])  # ignored without stateful, as in the book
    np.testing.assert_array_equal(layer.forward(p["xs"]), first)


def test_reset_and_set_state(dtype):
    p = make_problem(2, 3, 4, 5, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    fresh = layer.forward(p["xs"])
    assert np.any(layer.forward(p["xs"]) != fresh)
    layer.reset_state()
    assert layer.h is None and layer.c is None
    np.testing.assert_array_equal(layer.forward(p["xs"]), fresh)

    layer.set_state(p["h0"])  # c defaults to zeros
    ref = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    ref.set_state(p["h0"])
    assert relative_error(layer.forward(p["xs"]), ref.forward(p["xs"])) <= TOL[dtype]

    layer.set_state(p["h0"], p["c0"])
    ref.set_state(p["h0"], p["c0"])
    assert relative_error(layer.forward(p["xs"]), ref.forward(p["xs"])) <= TOL[dtype]


def test_batch_size_change_while_stateful_says_reset_state():
    p = make_problem(3, 2, 4, 5, np.float64)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    layer.forward(p["xs"])
    with pytest.raises(ValueError, match="reset_state"):
        layer.forward(p["xs"][:2])
    layer.reset_state()
    assert layer.forward(p["xs"][:2]).shape == (2, 2, 5)


def test_inference_forward_keeps_no_cache(dtype):
    p = make_problem(2, 3, 4, 5, dtype)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    hs_train = layer.forward(p["xs"])
    hs_infer = layer.forward(p["xs"], train=False)
    np.testing.assert_array_equal(hs_infer, hs_train)
    assert layer._cache is None
    with pytest.raises(RuntimeError, match="train=False"):
        layer.backward(p["dhs"])


def test_dh_next_and_dc_next_reach_the_last_state(dtype):
    p = make_problem(2, 4, 3, 5, dtype)
    ours = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    ref = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"])
    dh_T = p["h0"] * 2  # any non-zero (N, H) arrays
    for layer in (ours, ref):
        layer.forward(p["xs"])
    dxs = ours.backward(p["dhs"], dh_next=dh_T, dc_next=p["dc_T"])
    dxs_ref = ref.backward(p["dhs"], dh_next=dh_T, dc_next=p["dc_T"])
    assert relative_error(dxs, dxs_ref) <= TOL[dtype]
    assert relative_error(ours.dh, ref.dh) <= TOL[dtype]
    assert relative_error(ours.dc, ref.dc) <= TOL[dtype]


def test_single_step_cell_equals_time_lstm_with_one_step(dtype):
    p = make_problem(3, 1, 4, 5, dtype)
    time_layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    time_layer.set_state(p["h0"], p["c0"])
    hs = time_layer.forward(p["xs"])
    dxs = time_layer.backward(p["dhs"], dc_next=p["dc_T"])

    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    h_next, c_next = cell.forward(p["xs"][:, 0], p["h0"], p["c0"])
    dx, dh_prev, dc_prev = cell.backward(p["dhs"][:, 0], p["dc_T"])
    np.testing.assert_array_equal(h_next, hs[:, 0])
    np.testing.assert_array_equal(c_next, time_layer.c)
    np.testing.assert_array_equal(dx, dxs[:, 0])
    np.testing.assert_array_equal(dh_prev, time_layer.dh)
    np.testing.assert_array_equal(dc_prev, time_layer.dc)
    for a, b in zip(cell.grads, time_layer.grads):
        np.testing.assert_array_equal(a, b)


def test_second_backward_is_a_clear_error():
    p = make_problem(2, 3, 4, 5, np.float64)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    layer.forward(p["xs"])
    layer.backward(p["dhs"])
    grads = [g.copy() for g in layer.grads]
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(p["dhs"])
    for a, b in zip(layer.grads, grads):
        np.testing.assert_array_equal(a, b)
