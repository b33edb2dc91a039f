"""Bad input gets a clear exception, and the layer is unchanged afterwards."""
import warnings

import numpy as np
import pytest

from conftest import assert_unchanged, snapshot
from gatedrnn import LSTM, TimeLSTM
from gatedrnn.demo import make_problem


@pytest.fixture
def trained_layer():
    """A stateful float32 layer after one forward, ready for backward."""
    p = make_problem(3, 4, 5, 6, np.float32)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
    layer.forward(p["xs"])
    return layer, p


@pytest.mark.parametrize("xs, exc, pattern", [
    (np.zeros((3, 5), np.float32), ValueError, r"xs must have shape \(N, T, D\).*got \(3, 5\)"),
    (np.zeros((3, 4, 7), np.float32), ValueError, r"D == Wx.shape\[0\] == 5; got \(3, 4, 7\)"),
    (np.zeros((3, 4, 5), np.float64), TypeError, r"xs must have dtype float32.*got float64"),
    (np.zeros((3, 4, 5), np.int32), TypeError, r"xs must have dtype float32.*got int32"),
    ([[[0.0] * 5] * 4] * 3, TypeError, r"xs must be a numpy.ndarray; got list"),
])
def test_bad_xs(trained_layer, xs, exc, pattern):
    layer, p = trained_layer
    snap = snapshot(layer)
    with pytest.raises(exc, match=pattern):
        layer.forward(xs)
    assert_unchanged(layer, snap)


@pytest.mark.parametrize("dhs, exc, pattern", [
    (np.zeros((3, 4, 5), np.float32), ValueError, r"dhs must have shape \(N, T, H\) = \(3, 4, 6\)"),
    (np.zeros((3, 3, 6), np.float32), ValueError, r"dhs must have shape.*got \(3, 3, 6\)"),
    (np.zeros((3, 4, 6), np.float64), TypeError, r"dhs must have dtype float32.*got float64"),
])
def test_bad_dhs(trained_layer, dhs, exc, pattern):
    layer, p = trained_layer
    snap = snapshot(layer)
    with pytest.raises(exc, match=pattern):
        layer.backward(dhs)
    assert_unchanged(layer, snap)
    layer.backward(p["dhs"])  # the cache survived the failed call


@pytest.mark.parametrize("shapes, exc, pattern", [
    (((5, 24), (6, 24), (24,)), None, None),
    (((5, 20), (6, 24), (24,)), ValueError, r"Wx must have shape \(D, 4H\) with 4H == Wh.shape\[1\] == 24; got \(5, 20\)"),
    (((5, 24), (6, 20), (24,)), ValueError, r"Wh must have shape \(H, 4H\); got \(6, 20\)"),
    (((5, 24), (6, 24), (20,)), ValueError, r"b must have shape \(4H,\) == \(24,\); got \(20,\)"),
    (((5, 24), (6, 24), (1, 24)), ValueError, r"b must have shape"),
    (((5, 24, 1), (6, 24), (24,)), ValueError, r"Wx must have shape"),
])
def test_mismatched_weight_shapes(shapes, exc, pattern):
    arrays = [np.zeros(s, np.float32) for s in shapes]
    if exc is None:
        TimeLSTM(*arrays)
        LSTM(*arrays)
        return
    for cls in (TimeLSTM, LSTM):
        with pytest.raises(exc, match=pattern):
            cls(*arrays)


def test_weight_dtypes():
    Wx, Wh, b = np.zeros((5, 24)), np.zeros((6, 24)), np.zeros(24)
    with pytest.raises(TypeError, match=r"Wh must have the dtype of Wx \(float64\); got float32"):
        TimeLSTM(Wx, Wh.astype(np.float32), b)
    with pytest.raises(TypeError, match=r"Wx must have dtype float32 or float64; got float16"):
        TimeLSTM(Wx.astype(np.float16), Wh, b)
    with pytest.raises(TypeError, match=r"b must be a numpy.ndarray; got list"):
        TimeLSTM(Wx, Wh, [0.0] * 24)


def test_backward_before_forward():
    p = make_problem(2, 3, 4, 5, np.float64)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    snap = snapshot(layer)
    with pytest.raises(RuntimeError, match="no forward"):
        layer.backward(p["dhs"])
    assert_unchanged(layer, snap)
    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    with pytest.raises(RuntimeError, match="no forward"):
        cell.backward(p["h0"], p["c0"])


def test_bad_set_state(trained_layer):
    layer, p = trained_layer
    snap = snapshot(layer)
    with pytest.raises(ValueError, match=r"h must have shape \(N, H\).*H == Wh.shape\[0\] == 6"):
        layer.set_state(np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match=r"h must have dtype float32"):
        layer.set_state(np.zeros((3, 6)))
    with pytest.raises(ValueError, match=r"c must have shape \(N, H\) = \(3, 6\)"):
        layer.set_state(np.zeros((3, 6), np.float32), np.zeros((2, 6), np.float32))
    assert_unchanged(layer, snap)


def test_param_replaced_with_another_shape():
    p = make_problem(2, 3, 4, 5, np.float64)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    layer.forward(p["xs"])
    layer.params[0] = np.zeros((7, 20))
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shape of params\[0\], \(7, 20\)"):
        layer.backward(p["dhs"])


def _set_in_place(array, attribute, value):
    """array.shape = value (or .dtype): NumPy 2.5 deprecates it, a later NumPy
    may refuse it (False then: that way of changing a weight is gone)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            setattr(array, attribute, value)
        except (AttributeError, TypeError):
            return False
    return True


def test_the_checks_fast_path_sees_every_change_to_the_weights():
    """Calls with the same arrays skip the weight checks; any change in
    place (shape, dtype), a replaced array or grad, or a new input layout
    brings the full checks and their messages back."""
    p = make_problem(2, 3, 4, 5, np.float64)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    want = layer.forward(p["xs"])
    np.testing.assert_array_equal(layer.forward(p["xs"]), want)  # the fast path
    Wx, b = layer.params[0], layer.params[2]
    if _set_in_place(Wx, "shape", (20, 4)):  # the same size
        with pytest.raises(ValueError, match=r"Wx must have shape \(D, 4H\)"):
            layer.forward(p["xs"])
        assert _set_in_place(Wx, "shape", (4, 20))
        np.testing.assert_array_equal(layer.forward(p["xs"]), want)
    if _set_in_place(b, "dtype", np.int64):  # a view of the same bytes as integers
        with pytest.raises(TypeError, match=r"b must have the dtype of Wx"):
            layer.forward(p["xs"])
        assert _set_in_place(b, "dtype", np.float64)
    layer.grads[1] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"grads\[1\] must have the shape of params\[1\]"):
        layer.forward(p["xs"])
    layer.grads[1] = np.zeros_like(p["Wh"])
    layer.params[1] = np.asfortranarray(p["Wh"])  # another layout: copied, same results
    np.testing.assert_array_equal(layer.forward(p["xs"]), want)
    np.testing.assert_array_equal(layer.forward(np.asfortranarray(p["xs"])), want)
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D\)"):
        layer.forward(p["xs"][:, :, :3])


def test_cell_bad_state_shapes():
    p = make_problem(3, 1, 4, 5, np.float64)
    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    x = p["xs"][:, 0]
    with pytest.raises(ValueError, match=r"h_prev must have shape \(N, H\) = \(3, 5\)"):
        cell.forward(x, p["h0"][:2], p["c0"])
    with pytest.raises(TypeError, match=r"c_prev must have dtype float64"):
        cell.forward(x, p["h0"], p["c0"].astype(np.float32))
