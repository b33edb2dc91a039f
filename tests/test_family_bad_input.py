"""The bad-input battery (test_bad_input.py) for the rest of the family: the
GRU in both variants, the plain RNN and the bidirectional LSTM, Time layers
and single steps.

Part 1: calls that must fail, with the exception type and a message naming
the argument, leave the layer as it was (params, grads, state, cache) and
able to go on exactly as a twin that never saw the bad call.
Part 2, in subprocesses: empty dimensions, every memory layout, NaN and Inf,
against the spec.

Every test runs twice: on the best kernel path and on the BLAS path.
"""
import re

import numpy as np
import pytest

from gatedrnn import problems as family
from conftest import LAYOUTS, TOL, assert_unchanged, run_isolated, snapshot
from gatedrnn import spec
import gatedrnn
from gatedrnn.gradcheck import relative_error
from test_bad_input import Case, _compare, _dtype_cases, _shape_cases, zeros

pytestmark = pytest.mark.usefixtures("best_and_blas")

N, T, D, H = 3, 4, 5, 6
F32 = np.float32
KINDS = ("gru", "gru_reset_after", "rnn", "bilstm")


def _backward_args(kind, dhs, dh=None):
    if kind == "bilstm":
        return (dhs,)
    return (dhs,) if dh is None else (dhs, dh)


def _forward(fn):
    return lambda kind, layer, p: layer.forward(fn(p))


def _backward(dhs_fn=None, dh_fn=None):
    def call(kind, layer, p):
        dhs = p["dhs"] if dhs_fn is None else dhs_fn(p)
        return layer.backward(*_backward_args(kind, dhs, None if dh_fn is None else dh_fn(p)))
    return call


def _set_state(fn):
    return lambda kind, layer, p: layer.set_state(fn(p))


def _replace(index, fn):
    def setup(kind, layer, p):
        layer.params[index] = fn(p)
    return setup


def cases(kind):
    G = family.GATES[kind]
    g = G if G > 1 else ""
    out_h = 2 * H if kind == "bilstm" else H
    wide = "2H" if kind == "bilstm" else "H"
    result = (
        _shape_cases("xs", lambda fn: _forward(fn), (N, T, D), "(N, T, D)", free=(0, 1))
        + _dtype_cases("xs", lambda fn: _forward(fn), (N, T, D))
        + _shape_cases("dhs", lambda fn: _backward(fn), (N, T, out_h), f"(N, T, {wide})")
        + _dtype_cases("dhs", lambda fn: _backward(fn), (N, T, out_h))
        + [Case("backward-after-inference", _backward(), RuntimeError,
                r"backward\(\) needs the cache of a forward\(\) with train=True.*train=False",
                setup=lambda k, layer, p: layer.forward(p["xs"], train=False)),
           Case("second-backward", _backward(), RuntimeError, r"used by a backward\(\) already",
                setup=lambda k, layer, p: layer.backward(*_backward_args(k, p["dhs"]))),
           Case("Wh-replaced-not-square", _backward(), ValueError,
                rf"Wh1? must have shape \(H, {g}H\) = \({H}, {G * H}\), with H = {H} from "
                rf"Wh1?.shape\[0\] = {H}, .*; got \({H}, {G * H + 1}\)$",
                setup=_replace(1, lambda p: zeros((H, G * H + 1)))),
           Case("Wh-replaced-by-float64", _backward(), TypeError,
                r"Wh1? must have the dtype of Wx1? \(float32\); got float64",
                setup=_replace(1, lambda p: p["weights"][1].astype(np.float64)))]
    )
    if kind != "bilstm":
        result += (
            _shape_cases("dh_next", lambda fn: _backward(dh_fn=fn), (N, H), "(N, H)")
            + _dtype_cases("dh_next", lambda fn: _backward(dh_fn=fn), (N, H), optional=True)
            + _shape_cases("h", lambda fn: _set_state(fn), (N, H), "(N, H)", free=(0,))
            + _dtype_cases("h", lambda fn: _set_state(fn), (N, H))
            + [Case("xs-other-batch-while-stateful", _forward(lambda p: zeros((N + 1, T, D))),
                    ValueError, r"the stored state h must have shape \(N, H\).*reset_state")])
    else:
        result += [
            Case("h-not-a-pair", lambda k, layer, p: layer.set_state(p["h0"][0]), TypeError,
                 r"h must be a pair \(h1, h2\)"),
            Case("h-pair-of-other-shapes",
                 lambda k, layer, p: layer.set_state([p["h0"][0], zeros((N + 1, H))]),
                 ValueError, r"h\[1\] must have the shape of h\[0\]"),
            Case("h-float64", lambda k, layer, p: layer.set_state(
                [p["h0"][0].astype(np.float64), p["h0"][1]]), TypeError,
                 r"h\[0\] must have dtype float32"),
            Case("xs-other-batch-while-stateful", _forward(lambda p: zeros((N + 1, T, D))),
                 ValueError, r"the stored state h\[0\] must have shape \(N, H\).*reset_state")]
    if G > 1:
        result.append(Case("Wh-replaced-by-pytorch-layout", _backward(), ValueError,
                           rf"Wh1? must have shape \(H, {G}H\) = \({H}, {G * H}\), with H = {H} "
                           rf"from .*; got \({G * H}, {H}\), which is \({G}H, H\): PyTorch's "
                           r"layout \(weight_hh_l0\), the transpose of ours; gatedrnn.interop",
                           setup=_replace(1, lambda p: p["weights"][1].T.copy())))
    if kind == "gru_reset_after":
        result.append(Case("b-replaced-by-one-row", _forward(lambda p: p["xs"]), ValueError,
                           rf"b must have shape \(2, 3H\) = \(2, {3 * H}\) \(input and recurrent "
                           rf"biases\), with H = {H} from Wh.shape = \({H}, {3 * H}\); got "
                           rf"\({3 * H},\): \(3H,\) is the bias of the book's GRU "
                           r"\(reset_after=False\)", setup=_replace(2, lambda p: zeros(3 * H))))
    return result


ALL_CASES = [(kind, case) for kind in KINDS for case in cases(kind)]


def _pair(kind, p):
    """A stateful float32 layer after set_state and a training forward, and a twin."""
    layers = []
    for _ in range(2):
        layer = family.time_layer(kind, gatedrnn, [w.copy() for w in p["weights"]],
                                  stateful=True)
        family.set_state(kind, layer, p)
        layer.forward(p["xs"].copy())
        layers.append(layer)
    return layers


def _continue(kind, layer, p):
    """backward, then another forward: everything a later call could see."""
    dxs = layer.backward(*_backward_args(kind, p["dhs"]))
    out = [dxs, *[g.copy() for g in layer.grads], layer.forward(p["xs"])]
    for name in ("h", "dh"):
        out += [np.array(s) for s in family.state(kind, layer, name)]
    return out


@pytest.mark.parametrize("kind, case", ALL_CASES, ids=[f"{k}-{c.id}" for k, c in ALL_CASES])
def test_refuses(kind, case):
    p = family.make_problem(kind, N, T, D, H, F32, seed=3)
    layer, twin = _pair(kind, p)
    if case.setup is not None:
        case.setup(kind, layer, p)
        case.setup(kind, twin, p)
    before = snapshot(layer)
    with pytest.raises(case.exc, match=case.match):
        case.call(kind, layer, p)
    assert_unchanged(layer, before)
    if case.setup is None:
        for k, (a, b) in enumerate(zip(_continue(kind, layer, p), _continue(kind, twin, p))):
            np.testing.assert_array_equal(a, b, err_msg=f"output {k} after the refused call")


WEIGHT_CASES = [
    ("Wx-int", lambda w: [w[0].astype(np.int32), *w[1:]], TypeError, r"Wx1? must have dtype"),
    ("Wh-float64", lambda w: [w[0], w[1].astype(np.float64), *w[2:]], TypeError,
     r"Wh1? must have the dtype of Wx1?"),
    ("Wx-columns", lambda w: [w[0][:, :-1], *w[1:]], ValueError, r"Wx1? must have shape \(D, "),
    ("Wh-columns", lambda w: [w[0], w[1][:, :-1], *w[2:]], ValueError,
     r"Wh1? must have shape \(H, "),
    ("b-size", lambda w: [w[0], w[1], w[2][..., :-1], *w[3:]], ValueError,
     r"b1? must have shape"),
    ("b-list", lambda w: [w[0], w[1], w[2].tolist(), *w[3:]], TypeError,
     r"b1? must be a numpy.ndarray; got list"),
]


@pytest.mark.parametrize("name, change, exc, match", WEIGHT_CASES, ids=[c[0] for c in WEIGHT_CASES])
@pytest.mark.parametrize("kind", KINDS)
def test_constructor_refuses(kind, name, change, exc, match):
    p = family.make_problem(kind, N, T, D, H, F32, seed=3)
    with pytest.raises(exc, match=match):
        family.time_layer(kind, gatedrnn, change(p["weights"]))
    if kind != "bilstm":
        with pytest.raises(exc, match=match):
            family.step_layer(kind, gatedrnn, change(p["weights"]))


def test_bilstm_directions_must_match():
    p = family.make_problem("bilstm", N, T, D, H, F32, seed=3)
    other = family.make_problem("bilstm", N, T, D, H + 1, F32, seed=3)["weights"][3:]
    with pytest.raises(ValueError, match=r"the two directions' weights must match: D=5, H=6"):
        family.time_layer("bilstm", gatedrnn, p["weights"][:3] + other)


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "Tanh", None, 1])
def test_rnn_nonlinearity_must_be_tanh_or_relu(nonlinearity):
    p = family.make_problem("rnn", N, T, D, H, F32, seed=3)
    for cls in (gatedrnn.TimeRNN, gatedrnn.RNN):
        with pytest.raises(ValueError, match=re.escape(
                f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")):
            cls(*p["weights"], nonlinearity=nonlinearity)


@pytest.mark.parametrize("kind", ["gru", "gru_reset_after", "rnn"])
def test_single_step_refuses(kind):
    p = family.make_problem(kind, N, 1, D, H, F32, seed=3)
    x, h = p["xs"][:, 0], p["h0"][0]
    cell = family.step_layer(kind, gatedrnn, p["weights"])
    for call, exc, match in [
            (lambda: cell.forward(x[:, :-1], h), ValueError, r"x must have shape \(N, D\)"),
            (lambda: cell.forward(x, h[:-1]), ValueError, r"h_prev must have shape \(N, H\)"),
            (lambda: cell.forward(x.astype(np.float64), h), TypeError, r"x must have dtype"),
            (lambda: cell.backward(h), RuntimeError, r"no forward\(\) has run yet")]:
        before = snapshot(cell)
        with pytest.raises(exc, match=match):
            call()
        assert_unchanged(cell, before)
    cell.forward(x, h)
    before = snapshot(cell)
    with pytest.raises(ValueError, match=re.escape("dh_next must have shape (N, H) = (3, 6)")):
        cell.backward(h[:1])
    assert_unchanged(cell, before)


# -- Part 2: inputs that must work, in subprocesses ---------------------------------------

ZERO_SHAPES = [(0, 4, 5, 6), (3, 0, 5, 6), (3, 4, 0, 6), (3, 4, 5, 0), (0, 0, 0, 0), (1, 1, 0, 1),
               (2, 3, 4, 0)]


def check_zero_sizes(kind, dtype_name):
    dtype = np.dtype(dtype_name).type
    for shape in ZERO_SHAPES:
        p = family.make_problem(kind, *shape, dtype, seed=1)
        ours, ref = family.run(kind, gatedrnn, p), family.run(kind, spec, p)
        _compare(ours, ref, dtype, f"{kind} {shape}")
        if 0 in (shape[0], shape[1], shape[3]):
            for k in range(len(p["weights"])):
                assert not np.any(ours[f"grads[{k}]"]), f"grads[{k}] {shape} must be zero"
    print(f"{kind}: {len(ZERO_SHAPES)} shapes with an empty dimension")


def _laid_out(p, transform):
    return dict(p, weights=[transform(w) for w in p["weights"]], xs=transform(p["xs"]),
                dhs=transform(p["dhs"]), h0=[transform(h) for h in p["h0"]],
                **({"c0": [transform(c) for c in p["c0"]]} if "c0" in p else {}))


def check_layouts(kind, dtype_name):
    dtype = np.dtype(dtype_name).type
    p = family.make_problem(kind, 4, 6, 5, 3, dtype, seed=2)
    ref = family.run(kind, spec, p)
    for layout, transform in LAYOUTS.items():
        q = _laid_out(p, transform)
        kept = [np.array(w) for w in q["weights"]] + [np.array(q["xs"])]
        _compare(family.run(kind, gatedrnn, q), ref, dtype, f"{kind} {layout}")
        for a, b in zip(q["weights"] + [q["xs"]], kept):
            np.testing.assert_array_equal(a, b, err_msg=f"an input was written ({layout})")
    print(f"{kind}: {len(LAYOUTS)} layouts")


def check_non_finite(kind, dtype_name):
    dtype = np.dtype(dtype_name).type
    count = 0
    with np.errstate(all="ignore"):
        targets = dict(xs=lambda p: p["xs"], Wh=lambda p: p["weights"][1],
                       b=lambda p: p["weights"][2], h0=lambda p: p["h0"][0],
                       dhs=lambda p: p["dhs"])
        for target, pick in targets.items():
            for bad in (np.nan, np.inf, -np.inf):
                p = family.make_problem(kind, 3, 4, 5, 6, dtype, seed=9)
                array = pick(p)
                array[(1,) * array.ndim] = bad
                ours, ref = family.run(kind, gatedrnn, p), family.run(kind, spec, p)
                for name in ref:
                    finite = np.isfinite(ref[name])
                    np.testing.assert_array_equal(np.isfinite(ours[name]), finite,
                                                  err_msg=f"{kind} {name}, {bad} in {target}")
                    if finite.any():
                        err = relative_error(ours[name][finite], ref[name][finite])
                        assert err <= TOL[dtype], f"{kind} {name}, {bad} in {target}: {err:.2e}"
                count += 1
    print(f"{kind}: {count} non-finite placements")


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("check", ["check_zero_sizes", "check_layouts", "check_non_finite"])
def test_unusual_inputs_in_subprocess(check, dtype_name, best_and_blas):
    for kind in KINDS:
        run_isolated("test_family_bad_input", check, kind, dtype_name, path=best_and_blas)
