"""Bad input gets a clear exception, and the layer is unchanged afterwards."""
import re
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
    (((5, 20), (6, 24), (24,)), ValueError, r"Wx must have shape \(D, 4H\) = \(5, 24\), with H = 6 from Wh.shape = \(6, 24\) and D = 5 from Wx.shape\[0\]; got \(5, 20\)$"),
    (((5, 24), (6, 20), (24,)), ValueError, r"Wh must have shape \(H, 4H\) = \(6, 24\), with H = 6 from Wh.shape\[0\] = 6, Wx.shape\[1\] = 24 = 4H and b.shape\[0\] = 24 = 4H; got \(6, 20\)$"),
    (((5, 24), (6, 24), (20,)), ValueError, r"b must have shape \(4H,\) = \(24,\), with H = 6 from Wh.shape = \(6, 24\); got \(20,\)$"),
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


# -- weight shapes: the messages name H, D and the expected shape in numbers ----------

# D != H, and no gate count makes a weight square by chance.
WD, WH = 5, 6


def _family_constructors():
    """(id, kind, build(weights)) for every layer built on the weight checks:
    gatedrnn's Time and step layers and gatedrnn.book's."""
    from gatedrnn import problems as family
    import gatedrnn
    from gatedrnn.book import time_layers as book

    out = []
    for kind in family.KINDS:
        out.append((f"{kind}-time", kind, lambda w, k=kind: family.time_layer(k, gatedrnn, w)))
        if kind != "bilstm":
            out.append((f"{kind}-step", kind, lambda w, k=kind: family.step_layer(k, gatedrnn, w)))
    out += [("book-TimeLSTM", "lstm", lambda w: book.TimeLSTM(*w)),
            ("book-LSTM", "lstm", lambda w: book.LSTM(*w)),
            ("book-TimeGRU", "gru", lambda w: book.TimeGRU(*w)),
            ("book-GRU", "gru", lambda w: book.GRU(*w)),
            ("book-TimeRNN", "rnn", lambda w: book.TimeRNN(*w)),
            ("book-RNN", "rnn", lambda w: book.RNN(*w)),
            ("book-TimeBiLSTM", "bilstm", lambda w: book.TimeBiLSTM(*w))]
    return out


FAMILY_CONSTRUCTORS = _family_constructors()


def _weights(kind):
    from gatedrnn import problems as family
    return family.make_problem(kind, 1, 1, WD, WH, np.float32, seed=5)["weights"]


def _weight_cases(kind, direction):
    """(id, change, regex) for the weights of one direction: the expected
    shapes are written out from WD, WH and the gate count."""
    from gatedrnn import problems as family
    G = family.GATES[kind]
    g = G if G > 1 else ""
    s = str(direction + 1) if kind == "bilstm" else ""
    Wx, Wh, b = 3 * direction, 3 * direction + 1, 3 * direction + 2
    two_rows = kind == "gru_reset_after"
    b_shape = rf"\(2, {G * WH}\)" if two_rows else rf"\({G * WH},\)"
    b_letters = rf"\(2, {g}H\)" if two_rows else rf"\({g}H,\)"
    from_Wh = rf"H = {WH} from Wh{s}.shape = \({WH}, {G * WH}\)"
    interop = r"gatedrnn.interop converts PyTorch's and Keras's weights \(from_torch, from_keras\)"

    def swap(index, fn):
        return lambda w: [fn(a) if k == index else a for k, a in enumerate(w)]

    cases = [
        ("Wh-one-column-short", swap(Wh, lambda a: a[:, :-1]),
         rf"^Wh{s} must have shape \(H, {g}H\) = \({WH}, {G * WH}\), with H = {WH} from "
         rf"Wh{s}.shape\[0\] = {WH}, .*Wx{s}.shape\[1\] = {G * WH} = {g}H and "
         rf"b{s}.shape\[{int(two_rows)}\] = {G * WH} = {g}H; got \({WH}, {G * WH - 1}\)$"),
        ("Wx-one-column-extra", swap(Wx, lambda a: np.zeros((WD, G * WH + 1), a.dtype)),
         rf"^Wx{s} must have shape \(D, {g}H\) = \({WD}, {G * WH}\), with {from_Wh} and "
         rf"D = {WD} from Wx{s}.shape\[0\]; got \({WD}, {G * WH + 1}\)$"),
        ("Wx-pytorch-layout", swap(Wx, lambda a: a.T.copy()),
         rf"^Wx{s} must have shape \(D, {g}H\) = \({WD}, {G * WH}\), with {from_Wh} and "
         rf"D = {WD} from Wx{s}.shape\[1\]; got \({G * WH}, {WD}\), which is \({g}H, D\): "
         rf"PyTorch's layout \(weight_ih_l0\), the transpose of ours; {interop}"),
        ("b-one-short", swap(b, lambda a: a[..., :-1]),
         rf"^b{s} must have shape {b_letters} = {b_shape}.*, with {from_Wh}; got "
         + re.escape(str((2, G * WH - 1) if two_rows else (G * WH - 1,))) + "$"),
    ]
    if G > 1:  # a square Wh (the RNN's) is its own transpose
        cases += [
            ("Wh-pytorch-layout", swap(Wh, lambda a: a.T.copy()),
             rf"^Wh{s} must have shape \(H, {g}H\) = \({WH}, {G * WH}\), with H = {WH} from "
             rf".*; got \({G * WH}, {WH}\), which is \({g}H, H\): PyTorch's layout "
             rf"\(weight_hh_l0\), the transpose of ours; {interop}, gate order included$"),
            # Wx and Wh as PyTorch stores them: H still comes out right, from Wh and b.
            ("Wx-and-Wh-pytorch-layout", lambda w: swap(Wx, lambda a: a.T.copy())(
                swap(Wh, lambda a: a.T.copy())(w)),
             rf"^Wh{s} must have shape \(H, {g}H\) = \({WH}, {G * WH}\), with H = {WH} from "
             rf"Wh{s}.shape\[1\] = {WH} \(Wh{s} transposed\) and b{s}.shape\[{int(two_rows)}\] "
             rf"= {G * WH} = {g}H; got \({G * WH}, {WH}\), which is"),
        ]
    if kind in ("lstm", "bilstm", "rnn", "rnn_relu"):
        cases.append(("b-two-rows", swap(b, lambda a: np.stack([a, a])),
                      rf"^b{s} must have shape \({g}H,\) = \({G * WH},\), with {from_Wh}; got "
                      rf"\(2, {G * WH}\): one row; PyTorch's two biases go in as their sum, "
                      rf"b_ih \+ b_hh; {interop}$"))
    if kind == "gru":
        cases.append(("b-two-rows", swap(b, lambda a: np.stack([a, a])),
                      rf"^b must have shape \(3H,\) = \({3 * WH},\), with {from_Wh}; got "
                      rf"\(2, {3 * WH}\): \(2, 3H\) is the bias of TimeGRU\(reset_after=True\)"))
    if kind == "gru_reset_after":
        cases.append(("b-one-row", swap(b, lambda a: a[0].copy()),
                      rf"^b must have shape \(2, 3H\) = \(2, {3 * WH}\) \(input and recurrent "
                      rf"biases\), with {from_Wh}; got \({3 * WH},\): \(3H,\) is the bias of "
                      r"the book's GRU \(reset_after=False\)"))
    return cases


WEIGHT_MESSAGE_CASES = [
    (name, kind, build, case)
    for name, kind, build in FAMILY_CONSTRUCTORS
    for direction in range(2 if kind == "bilstm" else 1)
    for case in _weight_cases(kind, direction)]


@pytest.mark.parametrize(
    "kind, build, case", [c[1:] for c in WEIGHT_MESSAGE_CASES],
    ids=[f"{c[0]}-{c[3][0]}{'-dir2' if 'Wh2' in c[3][2] else ''}"
         for c in WEIGHT_MESSAGE_CASES])
def test_weight_shape_messages_name_the_numbers(kind, build, case):
    _, change, pattern = case
    weights = _weights(kind)
    build(weights)  # the unchanged weights are fine
    with pytest.raises(ValueError, match=pattern):
        build(change(weights))


def test_the_book_gru_without_a_bias_infers_H_from_Wx():
    """The book's bias-free GRU makes its zero bias from Wh's columns, so a
    transposed Wh must not drag H along with it."""
    from gatedrnn.book import time_layers as book
    Wx, Wh, _ = _weights("gru")
    with pytest.raises(ValueError, match=rf"^Wh must have shape \(H, 3H\) = \({WH}, {3 * WH}\), "
                                         rf"with H = {WH} from .*Wx.shape\[1\] = {3 * WH} = 3H"
                                         rf".*; got \({3 * WH}, {WH}\), which is \(3H, H\)"):
        book.TimeGRU(Wx, Wh.T.copy())
