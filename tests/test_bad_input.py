"""The bad-input battery: no input, however wrong, crashes the interpreter or
leaves a layer half-changed.

Part 1, in process: calls that must fail. Each case asserts the exception type
and that the message names the argument; then that the layer's params, grads,
state and cache are unchanged, and (where the layer was not altered on purpose)
that it goes on to give bit-identical results to a twin that never saw the
bad call.

Part 2, in subprocesses (the inputs reach the C kernels, so a crash must show
as a failed test, not a dead run): unusual inputs that must work (empty
dimensions, every memory layout, aliasing, NaN and Inf) compared with the spec,
and the size limit, checked without allocating.

Every test runs twice: on the best kernel path and on the BLAS path.
"""
import re
import tracemalloc
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

from conftest import LAYOUTS, TOL, assert_unchanged, run_isolated, snapshot
from gatedrnn import LSTM, TimeLSTM, _kernels, clip_grads, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

pytestmark = pytest.mark.usefixtures("best_and_blas")

N, T, D, H = 3, 4, 5, 6
F32 = np.float32

# dtypes that a float32 layer must refuse, with how numpy prints them.
WRONG_DTYPES = [np.int32, np.int64, np.bool_, np.float16, np.float64, np.complex64,
                np.complex128, object, ">f4", "<U1"]
NOT_ARRAYS = [None, 1.0, 3, "abc", np.float32(1.0)]


def _dtype_id(dt):
    return np.dtype(dt).str if np.dtype(dt).byteorder == ">" else np.dtype(dt).name


def zeros(shape, dt=F32):
    return np.zeros(shape, dt)


def nested_list(shape):
    return np.zeros(shape).tolist()


# -- Part 1: calls that must fail ---------------------------------------------------


@dataclass
class Case:
    id: str
    call: Callable          # call(layer, p)
    exc: type
    match: str              # a regex that names the argument
    setup: Optional[Callable] = None  # setup(layer, p): a deliberate change before the call


def _shape_cases(name, method, good_shape, letters, free=()):
    """Wrong ndim and a wrong size in every dimension of one argument, except
    the axes in `free`, which may take any size."""
    cases = []
    for shape in [good_shape[:-1], good_shape + (1,), (), good_shape[:1]]:
        if len(shape) == len(good_shape):
            continue
        cases.append(Case(f"{name}-ndim{len(shape)}", method(lambda p, s=shape: zeros(s)),
                          ValueError, rf"{name} must have shape {re.escape(letters)}"))
    for axis in range(len(good_shape)):
        if axis in free:
            continue
        for delta in (-1, 1):
            shape = list(good_shape)
            shape[axis] += delta
            cases.append(Case(f"{name}-axis{axis}{delta:+d}",
                              method(lambda p, s=tuple(shape): zeros(s)), ValueError,
                              rf"{name} must have shape {re.escape(letters)}.*got "
                              + re.escape(str(tuple(shape)))))
    return cases


def _dtype_cases(name, method, good_shape, optional=False):
    """Every wrong dtype and every non-array (but None where it means "default")."""
    not_arrays = [v for v in NOT_ARRAYS if not (optional and v is None)]
    cases = [Case(f"{name}-{_dtype_id(dt)}", method(lambda p, dt=dt: zeros(good_shape, dt)),
                  TypeError, rf"{name} must have dtype float32.*got {re.escape(str(np.dtype(dt)))}")
             for dt in WRONG_DTYPES]
    cases += [Case(f"{name}-{type(v).__name__}", method(lambda p, v=v: v), TypeError,
                   rf"{name} must be a numpy.ndarray; got {type(v).__name__}")
              for v in not_arrays + [nested_list(good_shape)]]
    return cases


def forward_with(xs_fn):
    return lambda layer, p: layer.forward(xs_fn(p))


def backward_with(dhs_fn=None, dh_fn=None, dc_fn=None):
    def call(layer, p):
        dhs = p["dhs"] if dhs_fn is None else dhs_fn(p)
        kwargs = {}
        if dh_fn is not None:
            kwargs["dh_next"] = dh_fn(p)
        if dc_fn is not None:
            kwargs["dc_next"] = dc_fn(p)
        return layer.backward(dhs, **kwargs)
    return call


def set_state_with(h_fn, c_fn=None):
    return lambda layer, p: layer.set_state(h_fn(p), None if c_fn is None else c_fn(p))


def _replace(index, value_fn):
    def setup(layer, p):
        layer.params[index] = value_fn(p)
    return setup


def _replace_grad(index, value_fn):
    def setup(layer, p):
        layer.grads[index] = value_fn(p)
    return setup


def _read_only_grad(index):
    def setup(layer, p):
        layer.grads[index].flags.writeable = False
    return setup


def _forward_again(xs_fn, train=True):
    def setup(layer, p):
        layer.forward(xs_fn(p), train=train)
    return setup


def _backward_once(layer, p):
    layer.backward(p["dhs"])


HUGE_XS = np.broadcast_to(np.float32(0), (2 ** 16, 2 ** 15, D))  # 2^31 rows; allocates nothing

TIME_CASES = (
    # forward(xs)
    _shape_cases("xs", lambda fn: forward_with(fn), (N, T, D), "(N, T, D)", free=(0, 1))
    + _dtype_cases("xs", lambda fn: forward_with(fn), (N, T, D))
    + [Case("xs-other-batch-while-stateful", forward_with(lambda p: zeros((N + 1, T, D))),
            ValueError, r"the stored state h must have shape \(N, H\) = \(4, 6\).*reset_state"),
       Case("xs-too-large", forward_with(lambda p: HUGE_XS), ValueError,
            r"xs \(65536, 32768, 5\) with H == 6 is too large for the kernels")]
    # backward(dhs, dh_next, dc_next)
    + _shape_cases("dhs", lambda fn: backward_with(fn), (N, T, H), "(N, T, H)")
    + _dtype_cases("dhs", lambda fn: backward_with(fn), (N, T, H))
    + _shape_cases("dh_next", lambda fn: backward_with(dh_fn=fn), (N, H), "(N, H)")
    + _dtype_cases("dh_next", lambda fn: backward_with(dh_fn=fn), (N, H), optional=True)
    + _shape_cases("dc_next", lambda fn: backward_with(dc_fn=fn), (N, H), "(N, H)")
    + _dtype_cases("dc_next", lambda fn: backward_with(dc_fn=fn), (N, H), optional=True)
    # set_state(h, c)
    + _shape_cases("h", lambda fn: set_state_with(fn), (N, H), "(N, H)", free=(0,))
    + _dtype_cases("h", lambda fn: set_state_with(fn), (N, H))
    + _shape_cases("c", lambda fn: set_state_with(lambda p: zeros((N, H)), fn), (N, H), "(N, H)")
    + _dtype_cases("c", lambda fn: set_state_with(lambda p: zeros((N, H)), fn), (N, H),
                   optional=True)
    # the order of calls
    + [Case("backward-after-inference-forward", backward_with(), RuntimeError,
            r"backward\(\) needs the cache of a forward\(\) with train=True.*train=False",
            setup=_forward_again(lambda p: p["xs"], train=False)),
       Case("second-backward", backward_with(), RuntimeError,
            r"backward\(\) needs the cache.*used by a backward\(\) already",
            setup=_backward_once),
       Case("dhs-of-an-earlier-longer-forward", backward_with(), ValueError,
            r"dhs must have shape \(N, T, H\) = \(3, 2, 6\) to match the last forward\(\)",
            setup=_forward_again(lambda p: p["xs"][:, :2]))]
    # params and grads replaced or frozen between calls
    + [Case("Wx-replaced-by-another-D", backward_with(), ValueError,
            r"grads\[0\] must have the shape of params\[0\], \(6, 24\); got \(5, 24\)",
            setup=_replace(0, lambda p: zeros((D + 1, 4 * H)))),
       Case("Wx-replaced-before-forward", forward_with(lambda p: p["xs"]), ValueError,
            r"grads\[0\] must have the shape of params\[0\]",
            setup=_replace(0, lambda p: zeros((D + 1, 4 * H)))),
       Case("Wh-replaced-by-another-H", backward_with(), ValueError,
            rf"Wx must have shape \(D, 4H\) = \({D}, {4 * H + 4}\), with H = {H + 1} from "
            rf"Wh.shape = \({H + 1}, {4 * H + 4}\) and D = {D} from Wx.shape\[0\]; "
            rf"got \({D}, {4 * H}\)$",
            setup=_replace(1, lambda p: zeros((H + 1, 4 * H + 4)))),
       Case("Wh-replaced-not-square", backward_with(), ValueError,
            rf"Wh must have shape \(H, 4H\) = \({H}, {4 * H}\), with H = {H} from Wh.shape\[0\] "
            rf"= {H}, Wx.shape\[1\] = {4 * H} = 4H and b.shape\[0\] = {4 * H} = 4H; "
            rf"got \({H}, {4 * H + 1}\)$",
            setup=_replace(1, lambda p: zeros((H, 4 * H + 1)))),
       Case("Wh-replaced-by-pytorch-layout", backward_with(), ValueError,
            rf"Wh must have shape \(H, 4H\) = \({H}, {4 * H}\), with H = {H} from .*; "
            rf"got \({4 * H}, {H}\), which is \(4H, H\): PyTorch's layout \(weight_hh_l0\), "
            r"the transpose of ours; gatedrnn.interop converts",
            setup=_replace(1, lambda p: p["Wh"].T.copy())),
       Case("b-replaced-by-another-size", backward_with(), ValueError,
            rf"b must have shape \(4H,\) = \({4 * H},\), with H = {H} from Wh.shape = "
            rf"\({H}, {4 * H}\); got \({4 * H + 1},\)$",
            setup=_replace(2, lambda p: zeros(4 * H + 1))),
       Case("b-replaced-by-a-list", forward_with(lambda p: p["xs"]), TypeError,
            r"b must be a numpy.ndarray; got list", setup=_replace(2, lambda p: [0.0] * 24)),
       Case("Wh-replaced-by-float64", backward_with(), TypeError,
            r"Wh must have the dtype of Wx \(float32\); got float64",
            setup=_replace(1, lambda p: p["Wh"].astype(np.float64))),
       Case("all-params-replaced-by-float64", backward_with(), ValueError,
            r"params changed from D=5, H=6, float32 to D=5, H=6, float64",
            setup=lambda layer, p: layer.params.__setitem__(
                slice(None), [a.astype(np.float64) for a in layer.params])),
       Case("grads-read-only", backward_with(), ValueError,
            r"grads\[1\] is read-only", setup=_read_only_grad(1)),
       Case("grads-int", backward_with(), TypeError,
            r"grads\[2\] must have dtype float32 or float64; got int64",
            setup=_replace_grad(2, lambda p: np.zeros(4 * H, np.int64))),
       Case("grads-other-shape", backward_with(), ValueError,
            r"grads\[1\] must have the shape of params\[1\], \(6, 24\); got \(6, 25\)",
            setup=_replace_grad(1, lambda p: zeros((H, 4 * H + 1)))),
       Case("grads-a-list", backward_with(), ValueError,
            r"grads\[0\] must have the shape of params\[0\], \(5, 24\); got list",
            setup=_replace_grad(0, lambda p: [[0.0] * 24] * 5))]
)

CELL_CASES = (
    _shape_cases("x", lambda fn: lambda c, p: c.forward(fn(p), p["h0"], p["c0"]), (N, D), "(N, D)",
                 free=(0,))
    + _dtype_cases("x", lambda fn: lambda c, p: c.forward(fn(p), p["h0"], p["c0"]), (N, D))
    + _shape_cases("h_prev", lambda fn: lambda c, p: c.forward(p["x"], fn(p), p["c0"]), (N, H),
                   "(N, H)")
    + _dtype_cases("h_prev", lambda fn: lambda c, p: c.forward(p["x"], fn(p), p["c0"]), (N, H))
    + _shape_cases("c_prev", lambda fn: lambda c, p: c.forward(p["x"], p["h0"], fn(p)), (N, H),
                   "(N, H)")
    + _dtype_cases("c_prev", lambda fn: lambda c, p: c.forward(p["x"], p["h0"], fn(p)), (N, H))
    + _shape_cases("dh_next", lambda fn: lambda c, p: c.backward(fn(p), p["c0"]), (N, H), "(N, H)")
    + _dtype_cases("dh_next", lambda fn: lambda c, p: c.backward(fn(p), p["c0"]), (N, H))
    + _shape_cases("dc_next", lambda fn: lambda c, p: c.backward(p["h0"], fn(p)), (N, H), "(N, H)")
    + _dtype_cases("dc_next", lambda fn: lambda c, p: c.backward(p["h0"], fn(p)), (N, H))
    + [Case("x-too-large",
            lambda c, p: c.forward(np.broadcast_to(F32(0), (2 ** 31, D)), p["h0"], p["c0"]),
            ValueError, r"x \(2147483648, 5\) with H == 6 is too large for the kernels"),
       Case("cell-second-backward", lambda c, p: c.backward(p["h0"], p["c0"]), RuntimeError,
            r"backward\(\) needs the cache.*used by a backward\(\) already",
            setup=lambda c, p: c.backward(p["h0"], p["c0"]))]
)


def _time_pair(p):
    """A stateful float32 TimeLSTM after set_state and a training forward, and
    an identical twin with its own copies of everything."""
    layers = []
    for _ in range(2):
        layer = TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), stateful=True)
        layer.set_state(p["h0"].copy(), p["c0"].copy())
        layer.forward(p["xs"].copy())
        layers.append(layer)
    return layers


def _cell_pair(p):
    cells = []
    for _ in range(2):
        cell = LSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy())
        cell.forward(p["x"].copy(), p["h0"].copy(), p["c0"].copy())
        cells.append(cell)
    return cells


def _assert_same_results(a, b, context):
    for name, x, y in zip(["hs/dxs"] + [f"grads[{k}]" for k in range(3)] + ["h", "c", "dh", "dc"],
                          [a[0], *a[1], *a[2]], [b[0], *b[1], *b[2]]):
        if x is None or y is None:
            assert x is y, f"{name} {context}"
        else:
            np.testing.assert_array_equal(x, y, err_msg=f"{name} {context}")


def _continue_time(layer, p):
    """backward, then another forward: everything a later call could see."""
    dxs = layer.backward(p["dhs"], dc_next=p["dc_T"])
    grads = [g.copy() for g in layer.grads]
    state = [layer.dh, layer.dc]
    hs = layer.forward(p["xs"])
    return dxs, grads, state + [layer.h, layer.c, hs]


def _continue_cell(cell, p):
    dx, dh, dc = cell.backward(p["h0"], p["c0"])
    grads = [g.copy() for g in cell.grads]
    h, c = cell.forward(p["x"], p["h0"], p["c0"])
    return dx, grads, [dh, dc, h, c]


@pytest.fixture
def problem():
    p = make_problem(N, T, D, H, F32, seed=3)
    p["x"] = p["xs"][:, 0].copy()
    return p


@pytest.mark.parametrize("case", TIME_CASES, ids=[c.id for c in TIME_CASES])
def test_time_lstm_refuses(case, problem):
    layer, twin = _time_pair(problem)
    if case.setup is not None:
        case.setup(layer, problem)
    before = snapshot(layer)
    with pytest.raises(case.exc, match=case.match):
        case.call(layer, problem)
    assert_unchanged(layer, before)
    if case.setup is None:
        _assert_same_results(_continue_time(layer, problem), _continue_time(twin, problem),
                             f"after the refused {case.id}")


@pytest.mark.parametrize("case", CELL_CASES, ids=[c.id for c in CELL_CASES])
def test_lstm_cell_refuses(case, problem):
    cell, twin = _cell_pair(problem)
    if case.setup is not None:
        case.setup(cell, problem)
    before = snapshot(cell)
    with pytest.raises(case.exc, match=case.match):
        case.call(cell, problem)
    assert_unchanged(cell, before)
    if case.setup is None:
        _assert_same_results(_continue_cell(cell, problem), _continue_cell(twin, problem),
                             f"after the refused {case.id}")


def test_backward_before_any_forward(problem):
    for layer, call in [(TimeLSTM(problem["Wx"], problem["Wh"], problem["b"]),
                         lambda layer: layer.backward(problem["dhs"])),
                        (LSTM(problem["Wx"], problem["Wh"], problem["b"]),
                         lambda cell: cell.backward(problem["h0"], problem["c0"]))]:
        before = snapshot(layer)
        with pytest.raises(RuntimeError, match=r"backward\(\) needs.*no forward\(\) has run yet"):
            call(layer)
        assert_unchanged(layer, before)


# Constructor: Wx (D, 4H), Wh (H, 4H), b (4H,) of one float dtype.
def _weights(**changes):
    w = dict(Wx=zeros((D, 4 * H)), Wh=zeros((H, 4 * H)), b=zeros(4 * H))
    w.update(changes)
    return w


WEIGHT_CASES = (
    [(f"Wx-shape{s}", _weights(Wx=zeros(s)), ValueError, r"Wx must have shape \(D, 4H\)")
     for s in [(D, 4 * H + 1), (D, 4 * H - 1), (D,), (D, 4 * H, 1), ()]]
    + [(f"Wh-shape{s}", _weights(Wh=zeros(s)), ValueError, r"Wh must have shape \(H, 4H\)")
       for s in [(H, 4 * H + 1), (H + 1, 4 * H), (4 * H,), (H, 4 * H, 1), ()]]
    + [(f"b-shape{s}", _weights(b=zeros(s)), ValueError,
        rf"b must have shape \(4H,\) = \({4 * H},\), with H = {H} from Wh.shape = "
        rf"\({H}, {4 * H}\); got {re.escape(str(s))}")
       for s in [(4 * H + 1,), (4 * H - 4,), (1, 4 * H), ()]]
    + [(f"Wx-{_dtype_id(dt)}", _weights(Wx=zeros((D, 4 * H), dt)), TypeError,
        rf"Wx must have dtype float32 or float64; got {re.escape(str(np.dtype(dt)))}")
       for dt in WRONG_DTYPES if dt is not np.float64]
    + [(f"{name}-mixed-{_dtype_id(dt)}", _weights(**{name: zeros(shape, dt)}), TypeError,
        rf"{name} must have the dtype of Wx \(float32\); got {re.escape(str(np.dtype(dt)))}")
       for name, shape in [("Wh", (H, 4 * H)), ("b", (4 * H,))]
       for dt in [np.float64, np.float16, np.int32, object]]
    + [(f"{name}-{type(v).__name__}", _weights(**{name: v}), TypeError,
        rf"{name} must be a numpy.ndarray; got {type(v).__name__}")
       for name in ("Wx", "Wh", "b") for v in [None, 0.5, [0.0] * 24]]
    + [("Wx-too-large", _weights(Wx=np.broadcast_to(F32(0), (2 ** 31, 4 * H))), ValueError,
        r"Wx \(2147483648, 24\) with Wh \(6, 24\) is too large for the kernels")]
)


@pytest.mark.parametrize("cls", [TimeLSTM, LSTM])
@pytest.mark.parametrize("name, weights, exc, match", WEIGHT_CASES,
                         ids=[c[0] for c in WEIGHT_CASES])
def test_constructor_refuses(cls, name, weights, exc, match):
    with pytest.raises(exc, match=match):
        cls(weights["Wx"], weights["Wh"], weights["b"])


# clip_grads: the grads are unchanged after any refusal.
def _grads():
    rng = np.random.default_rng(5)
    return [rng.standard_normal((4, 3)).astype(F32), rng.standard_normal(5)]


CLIP_CASES = (
    [(f"grads-{type(v).__name__}", lambda g, v=v: clip_grads(v, 1.0), TypeError,
      r"grads must be a list or tuple of numpy arrays")
     for v in [np.ones(3), None, 2.0, {"a": np.ones(2)}, {np.float64(1.0)}, iter([np.ones(2)])]]
    + [(f"element-{type(v).__name__}", lambda g, v=v: clip_grads([g[0], v], 1.0), TypeError,
        rf"grads\[1\] must be a numpy.ndarray; got {type(v).__name__}")
       for v in [None, 1.0, [1.0, 2.0]]]
    + [(f"element-{_dtype_id(dt)}", lambda g, dt=dt: clip_grads([g[0], np.ones(3, dt)], 1e-3),
        TypeError, rf"grads\[1\] must have dtype float32 or float64; got {np.dtype(dt)}")
       for dt in [np.int32, np.bool_, np.float16, np.complex128, object, ">f8"]]
    + [(f"max_norm-{v}", lambda g, v=v: clip_grads(g, v), ValueError,
        r"max_norm must be a positive finite number")
       for v in [-1.0, 0, np.nan, np.inf, -np.inf]]
    + [(f"max_norm-{type(v).__name__}", lambda g, v=v: clip_grads(g, v), TypeError,
        r"max_norm must be a real number")
       for v in [True, "1", None, 1j, np.array(1.0), [1.0]]]
    + [("read-only-when-clipping", lambda g: clip_grads([g[0], _frozen(g[1])], 1e-3), ValueError,
        r"grads\[1\] is read-only"),
       ("same-array-twice", lambda g: clip_grads([g[0], g[1], g[0]], 1e-3), ValueError,
        r"grads\[0\] and grads\[2\] share memory"),
       ("overlapping-views", lambda g: clip_grads([g[1][:3], g[1][2:]], 1e-3), ValueError,
        r"grads\[0\] and grads\[1\] share memory"),
       ("non-finite-with-error_if_nonfinite",
        lambda g: clip_grads([g[0], _with(g[1], np.nan)], 1e-3, error_if_nonfinite=True),
        FloatingPointError, r"the total norm of grads is nan")]
)


def _frozen(a):
    a.flags.writeable = False
    return a


def _with(a, value):
    a[1] = value
    return a


@pytest.mark.parametrize("name, call, exc, match", CLIP_CASES, ids=[c[0] for c in CLIP_CASES])
def test_clip_grads_refuses(name, call, exc, match):
    grads = _grads()
    before = [g.copy() for g in grads]
    with pytest.raises(exc, match=match):
        call(grads)
    for k, (g, b) in enumerate(zip(grads, before)):
        assert g.dtype == b.dtype
        if k == 1 and name.startswith("non-finite"):
            b[1] = np.nan
        np.testing.assert_array_equal(g, b, err_msg=f"grads[{k}] changed")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("gdtype", [np.float32, np.float64])
def test_clip_grads_non_finite_rule(bad, gdtype):
    """The documented rule: a non-finite norm is returned and nothing is scaled."""
    grads = [np.full(4, 100.0, gdtype), np.array([1.0, bad, 2.0], gdtype)]
    before = [g.copy() for g in grads]
    norm = clip_grads(grads, 1e-3)
    assert np.isnan(norm) if np.isnan(bad) else norm == np.inf
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


# -- Part 2: inputs that must work, run in subprocesses -----------------------------
# Each check_* function runs in its own interpreter through run_isolated.

def _compare(ours, ref, dtype, context):
    assert ours.keys() == ref.keys(), context
    for name in ref:
        assert ours[name].shape == ref[name].shape, f"{name} shape {context}"
        assert ours[name].dtype == ref[name].dtype, f"{name} dtype {context}"
        err = relative_error(ours[name], ref[name])
        assert err <= TOL[dtype], f"{name} {context}: relative error {err:.2e}"


def _dirty_allocator(nbytes):
    """Leave NaN in the memory that the next allocations of about nbytes may get,
    so that an output the kernel forgets to write shows up."""
    junk = [np.full(max(1, nbytes // 8), np.nan) for _ in range(8)]
    del junk


ZERO_SHAPES = [(0, 4, 5, 6), (3, 0, 5, 6), (3, 4, 0, 6), (3, 4, 5, 0), (0, 0, 5, 6),
               (0, 4, 0, 0), (3, 0, 0, 0), (0, 0, 0, 0), (1, 1, 0, 1), (2, 3, 4, 0),
               (5, 7, 33, 0)]


def check_zero_sizes(dtype_name):
    dtype = np.dtype(dtype_name).type
    for shape in ZERO_SHAPES:
        n, t, d, h = shape
        p = make_problem(*shape, dtype, seed=1)
        ref = run_layer(spec.TimeLSTM, p)
        _dirty_allocator(n * t * max(d, 4 * h) * 8)
        ours = run_layer(TimeLSTM, p)
        _compare(ours, ref, dtype, f"TimeLSTM {shape}")
        if h == 0 or n == 0 or t == 0:
            for name in ("dWx", "dWh", "db"):
                assert not np.any(ours[name]), f"{name} {shape} must be zero"
        if h == 0:
            assert not np.any(ours["dxs"]), f"dxs {shape} must be zero when H == 0"
        if t == 0:  # an empty sequence carries the state through unchanged
            np.testing.assert_array_equal(ours["c_T"], p["c0"], err_msg=f"c_T {shape}")
            np.testing.assert_array_equal(ours["dh0"], np.zeros((n, h), dtype))
            np.testing.assert_array_equal(ours["dc0"], p["dc_T"], err_msg=f"dc0 {shape}")
            layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
            layer.set_state(p["h0"], p["c0"])
            assert layer.forward(p["xs"]).shape == (n, 0, h)
            np.testing.assert_array_equal(layer.h, p["h0"], err_msg=f"h after T=0 {shape}")
        # The single-step cell with the same sizes.
        x = p["xs"][:, 0] if t else np.zeros((n, d), dtype)
        results = []
        for cls in (LSTM, spec.LSTM):
            cell = cls(p["Wx"], p["Wh"], p["b"])
            h_next, c_next = cell.forward(x, p["h0"], p["c0"])
            dx, dh, dc = cell.backward(p["h0"], p["c0"])
            results.append(dict(zip(["h", "c", "dx", "dh", "dc", "dWx", "dWh", "db"],
                                    [h_next, c_next, dx, dh, dc, *cell.grads])))
        _compare(*results, dtype, f"LSTM {shape}")
    print(f"{len(ZERO_SHAPES)} shapes with an empty dimension")




def check_layouts(dtype_name):
    dtype = np.dtype(dtype_name).type
    count = 0
    p = make_problem(4, 6, 5, 3, dtype, seed=2)
    ref = run_layer(spec.TimeLSTM, p)
    for layout, transform in LAYOUTS.items():
        # Every input at once, then each input alone.
        for names in [tuple(p)] + [(k,) for k in p]:
            q = dict(p)
            for k in names:
                q[k] = transform(p[k])
            kept = {k: q[k].copy() for k in q}
            _compare(run_layer(TimeLSTM, q), ref, dtype, f"({layout} {names})")
            for k in q:
                np.testing.assert_array_equal(q[k], kept[k], err_msg=f"input {k} was written")
            count += 1
        # Grads replaced by arrays of that layout are written in place.
        if layout != "read_only":
            layer = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
            held = [transform(np.zeros_like(g)) for g in layer.grads]
            layer.grads = list(held)
            layer.set_state(p["h0"], p["c0"])
            layer.forward(p["xs"])
            layer.backward(p["dhs"], dc_next=p["dc_T"])
            for name, g in zip(("dWx", "dWh", "db"), held):
                assert relative_error(g, ref[name]) <= TOL[dtype], f"{name} in {layout} grads"
            count += 1
    # A zero-stride (broadcast) xs: the same row for every sequence.
    q = dict(p, xs=np.broadcast_to(p["xs"][:1], p["xs"].shape))
    _compare(run_layer(TimeLSTM, q), run_layer(spec.TimeLSTM, dict(q, xs=q["xs"].copy())),
             dtype, "(broadcast xs)")
    count += 1
    print(f"{count} layout combinations")


def check_aliasing(dtype_name):
    """Outputs are always new arrays; inputs that alias outputs, the layer's own
    state or grads, or each other give the results of unaliased copies."""
    dtype = np.dtype(dtype_name).type
    lim = TOL[dtype]

    def pair(p, **kw):
        return (TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), **kw),
                spec.TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), **kw))

    # hs fed back as xs (D == H), and hs given back as dhs.
    p = make_problem(3, 4, 5, 5, dtype, seed=4)
    ours, ref = pair(p, stateful=True)
    hs, hs_ref = ours.forward(p["xs"]), ref.forward(p["xs"])
    kept = hs.copy()
    hs2, hs2_ref = ours.forward(hs), ref.forward(hs_ref)
    assert relative_error(hs2, hs2_ref) <= lim, "forward(hs)"
    assert hs2 is not hs and not np.shares_memory(hs2, hs)
    dxs, dxs_ref = ours.backward(hs2), ref.backward(hs2_ref.copy())
    assert relative_error(dxs, dxs_ref) <= lim, "backward(hs)"
    np.testing.assert_array_equal(hs, kept, err_msg="hs was written")
    for g, g_ref in zip(ours.grads, ref.grads):
        assert relative_error(g, g_ref) <= lim, "grads after backward(hs)"

    # dh_next and dc_next that are the layer's own h and c; set_state from them.
    ours, ref = pair(p, stateful=True)
    ours.forward(p["xs"]), ref.forward(p["xs"])
    h_kept, c_kept = ours.h.copy(), ours.c.copy()
    dxs = ours.backward(p["dhs"], dh_next=ours.h, dc_next=ours.c)
    dxs_ref = ref.backward(p["dhs"], dh_next=ref.h.copy(), dc_next=ref.c.copy())
    assert relative_error(dxs, dxs_ref) <= lim, "dh_next=layer.h"
    np.testing.assert_array_equal(ours.h, h_kept)
    np.testing.assert_array_equal(ours.c, c_kept)
    ours.set_state(ours.h, ours.c)
    ref.set_state(ref.h, ref.c)
    assert relative_error(ours.forward(p["xs"]), ref.forward(p["xs"])) <= lim, "set_state(h, c)"

    # xs made as a view of grads[0], and dhs as a view of grads[1]: the kernel
    # writes those grads while reading its inputs.
    p = make_problem(3, 4, 4, 3, dtype, seed=5)    # Wx (4, 12): 48 == N*T*D
    ours, ref = pair(p)
    ours.grads[0][...] = p["xs"].reshape(ours.grads[0].shape)
    xs_view = ours.grads[0].reshape(p["xs"].shape)
    ours.forward(xs_view), ref.forward(p["xs"])
    dxs, dxs_ref = ours.backward(p["dhs"]), ref.backward(p["dhs"])
    assert relative_error(dxs, dxs_ref) <= lim, "xs = grads[0] view"
    for name, g, g_ref in zip(("dWx", "dWh", "db"), ours.grads, ref.grads):
        assert relative_error(g, g_ref) <= lim, f"{name} with xs = grads[0] view"

    p = make_problem(4, 5, 3, 5, dtype, seed=6)    # Wh (5, 20): 100 == N*T*H
    ours, ref = pair(p)
    ours.grads[1][...] = p["dhs"].reshape(ours.grads[1].shape)
    ours.forward(p["xs"]), ref.forward(p["xs"])
    dxs, dxs_ref = ours.backward(ours.grads[1].reshape(p["dhs"].shape)), ref.backward(p["dhs"])
    assert relative_error(dxs, dxs_ref) <= lim, "dhs = grads[1] view"
    for name, g, g_ref in zip(("dWx", "dWh", "db"), ours.grads, ref.grads):
        assert relative_error(g, g_ref) <= lim, f"{name} with dhs = grads[1] view"

    # xs that is a view of the weights themselves.
    p = make_problem(3, 4, 4, 3, dtype, seed=7)
    ours, ref = pair(p)
    xs = ours.params[0].reshape(3, 4, 4)
    hs, hs_ref = ours.forward(xs), ref.forward(ref.params[0].reshape(3, 4, 4).copy())
    assert relative_error(hs, hs_ref) <= lim, "xs = Wx view"
    assert relative_error(ours.backward(p["dhs"]), ref.backward(p["dhs"])) <= lim

    # The cell: h_prev is c_prev, dh_next is dc_next, h_next fed back as x.
    p = make_problem(3, 1, 4, 4, dtype, seed=8)
    results = []
    for cls in (LSTM, spec.LSTM):
        cell = cls(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy())
        hc = p["h0"].copy()
        h, c = cell.forward(p["xs"][:, 0], hc, hc if cls is LSTM else hc.copy())
        out = cell.backward(c, c if cls is LSTM else c.copy())
        cell2 = cls(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy())
        h2, c2 = cell2.forward(h, h, c)
        results.append([h, c, *out, *cell.grads, h2, c2])
    for k, (a, b) in enumerate(zip(*results)):
        assert relative_error(a, b) <= lim, f"cell aliasing, output {k}"
    print("aliasing checks passed")


NON_FINITE_TARGETS = ["xs", "Wx", "Wh", "b", "h0", "c0", "dhs", "dc_T"]


def check_non_finite(dtype_name):
    """NaN and Inf propagate as in the spec: the same entries are non-finite, the
    finite entries agree, nothing crashes; clip_grads then follows its rule."""
    dtype = np.dtype(dtype_name).type
    count = 0
    with np.errstate(all="ignore"):
        for target in NON_FINITE_TARGETS:
            for bad in (np.nan, np.inf, -np.inf):
                p = make_problem(3, 4, 5, 6, dtype, seed=9)
                index = tuple(min(1, s - 1) for s in p[target].shape)
                p[target][index] = bad
                ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
                for name in ref:
                    finite = np.isfinite(ref[name])
                    np.testing.assert_array_equal(np.isfinite(ours[name]), finite,
                                                  err_msg=f"{name}, {bad} in {target}")
                    if finite.any():
                        err = relative_error(ours[name][finite], ref[name][finite])
                        assert err <= TOL[dtype], f"{name}, {bad} in {target}: {err:.2e}"
                if np.isnan(bad):  # a NaN always reaches some output (an Inf may saturate)
                    assert any(np.isnan(v).any() for v in ours.values()), f"NaN in {target}"
                layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
                layer.forward(p["xs"])
                layer.backward(p["dhs"])
                grads = [g.copy() for g in layer.grads]
                norm = clip_grads(layer.grads, 1.0)
                if not np.isfinite(norm):
                    for g, kept in zip(layer.grads, grads):
                        np.testing.assert_array_equal(g, kept)
                count += 1
    print(f"{count} non-finite placements")


def check_size_limit():
    """Sizes that overflow the kernels' integer types are refused before any
    allocation; sizes whose products only exceed int32 are accepted, since the
    kernels index with size_t and BLAS sees each factor separately."""
    big = 2 ** 31
    refused = [(1, big, 1, 1), (big, 1, 1, 1), (2 ** 16, 2 ** 15, 1, 1),  # N*T > INT_MAX
               (1, 1, big, 1), (1, 1, 1, 2 ** 29),                         # D, 4H > INT_MAX
               (1, 2 ** 20, 1, 2 ** 9),                                    # T*4H > INT_MAX
               (2 ** 30, 2 ** 30, 2 ** 30, 1), (2 ** 62, 2 ** 62, 1, 1),   # size_t overflow
               (2 ** 64, 1, 1, 1), (2 ** 70, 1, 1, 1)]                     # beyond size_t
    accepted = [(2 ** 16, 2 ** 10, 1, 2 ** 10),  # N*T*4H = 2^38 elements: above int32
                (2 ** 20, 2 ** 10, 7, 2 ** 8),   # N*T = 2^30, N*T*4H = 2^40
                (1, 1, big - 1, 1), (big - 1, 1, 1, 1), (0, 0, 0, 0)]
    for sizes in refused:
        try:
            _kernels.check_sizes(*sizes, "the test sizes")
        except ValueError as e:
            assert "the test sizes is too large for the kernels" in str(e), e
            assert str(sizes) in str(e), e
        else:
            raise AssertionError(f"{sizes} was accepted")
    for sizes in accepted:
        _kernels.check_sizes(*sizes, "the test sizes")

    # Through the layers, with broadcast inputs that allocate nothing: the
    # refusal comes before any copy (peak traced memory stays tiny).
    p = make_problem(2, 3, 5, 6, np.float32)
    layer = TimeLSTM(p["Wx"], p["Wh"], p["b"])
    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    calls = [
        (lambda: layer.forward(np.broadcast_to(np.float32(0), (2 ** 16, 2 ** 15, 5))), "xs"),
        (lambda: layer.forward(np.broadcast_to(np.float32(0), (1, 2 ** 31, 5))), "xs"),
        (lambda: cell.forward(np.broadcast_to(np.float32(0), (2 ** 31, 5)),
                              np.zeros((1, 6), np.float32), np.zeros((1, 6), np.float32)), "x"),
        (lambda: TimeLSTM(np.broadcast_to(np.float32(0), (2 ** 31, 24)), p["Wh"], p["b"]), "Wx"),
    ]
    tracemalloc.start()
    for call, name in calls:
        try:
            call()
        except ValueError as e:
            assert str(e).startswith(name + " ") and "too large for the kernels" in str(e), e
        else:
            raise AssertionError(f"a huge {name} was accepted")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2 ** 20, f"{peak} bytes were allocated before the refusal"
    print(f"{len(refused)} refused, {len(accepted)} accepted, {len(calls)} layer calls refused")


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("check", ["check_zero_sizes", "check_layouts", "check_aliasing",
                                   "check_non_finite"])
def test_unusual_inputs_in_subprocess(check, dtype_name, best_and_blas):
    run_isolated("test_bad_input", check, dtype_name, path=best_and_blas)


def test_size_limit_in_subprocess(best_and_blas):
    run_isolated("test_bad_input", "check_size_limit", path=best_and_blas)


def test_subprocess_runner_reports_a_crash():
    """The runner itself: a segfault in the child fails the test, naming the signal."""
    with pytest.raises(pytest.fail.Exception, match="crashed the interpreter with .*SEGV"):
        run_isolated("test_bad_input", "crash_on_purpose")


def crash_on_purpose():
    import ctypes
    ctypes.string_at(0)  # reads address 0
