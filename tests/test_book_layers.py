"""gatedrnn.book.time_layers against the book's semantics and gatedrnn.spec.

The reference here is a short NumPy transcription of what the book's
``common/time_layers.py`` computes (one cell per time step, in float64),
written for these tests; the recurrent layers are also compared with
gatedrnn.spec. Float32 results are compared with the float64 reference on the
same float32 values, within conftest's TOL.
"""
import numpy as np
import pytest

from conftest import TOL
from gatedrnn import spec
from gatedrnn.book import time_layers as bl
from gatedrnn.gradcheck import relative_error

SHAPES = [(1, 1, 3, 2), (2, 5, 3, 4), (3, 4, 5, 3)]  # N, T, D, H: N=1, T=1, D != H, odd
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
BOOK_TIME = {"rnn": bl.TimeRNN, "lstm": bl.TimeLSTM, "gru": bl.TimeGRU}
BOOK_CELL = {"rnn": bl.RNN, "lstm": bl.LSTM, "gru": bl.GRU}
SPEC_TIME = {"rnn": spec.TimeRNN, "lstm": spec.TimeLSTM, "gru": spec.TimeGRU}


def rng(seed=0):
    return np.random.default_rng(seed)


def f64(a):
    return np.asarray(a, dtype=np.float64)


def close(got, want, dtype, what):
    assert isinstance(got, np.ndarray) and got.shape == np.shape(want), \
        f"{what}: shape {getattr(got, 'shape', type(got))} against {np.shape(want)}"
    err = relative_error(got, want)
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e}"


def weights(kind, D, H, dtype, r):
    G = GATES[kind]
    return [(0.6 * r.standard_normal(s)).astype(dtype) for s in [(D, G * H), (H, G * H), (G * H,)]]


# --- the transcription of the book's semantics (float64) ---------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Each cell: forward(x, state, Wx, Wh, b) -> (new state, memo);
# backward(dstate, memo, Wx, Wh, b) -> (dx, dstate before the step, (dWx, dWh, db)).

def rnn_forward(x, state, Wx, Wh, b):
    h, = state
    h_new = np.tanh(h @ Wh + x @ Wx + b)
    return (h_new,), (x, h, h_new)


def rnn_backward(dstate, memo, Wx, Wh, b):
    (dh_new,), (x, h, h_new) = dstate, memo
    dt = dh_new * (1 - h_new ** 2)
    return dt @ Wx.T, (dt @ Wh.T,), (x.T @ dt, h.T @ dt, dt.sum(axis=0))


def lstm_forward(x, state, Wx, Wh, b):
    h, c = state
    H = h.shape[1]
    a = x @ Wx + h @ Wh + b
    f, g = sigmoid(a[:, :H]), np.tanh(a[:, H:2 * H])
    i, o = sigmoid(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_new = f * c + g * i
    return (o * np.tanh(c_new), c_new), (x, h, c, f, g, i, o, c_new)


def lstm_backward(dstate, memo, Wx, Wh, b):
    (dh_new, dc_new), (x, h, c, f, g, i, o, c_new) = dstate, memo
    tc = np.tanh(c_new)
    ds = dc_new + dh_new * o * (1 - tc ** 2)
    da = np.concatenate([ds * c * f * (1 - f), ds * i * (1 - g ** 2), ds * g * i * (1 - i),
                         dh_new * tc * o * (1 - o)], axis=1)
    return da @ Wx.T, (da @ Wh.T, ds * f), (x.T @ da, h.T @ da, da.sum(axis=0))


def gru_forward(x, state, Wx, Wh, b):
    h, = state
    H = h.shape[1]
    z = sigmoid(x @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    r = sigmoid(x @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H])
    hh = np.tanh(x @ Wx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + b[2 * H:])
    return ((1 - z) * h + z * hh,), (x, h, z, r, hh)


def gru_backward(dstate, memo, Wx, Wh, b):
    (dn,), (x, h, z, r, hh) = dstate, memo
    H = h.shape[1]
    dt_h = dn * z * (1 - hh ** 2)
    d_rh = dt_h @ Wh[:, 2 * H:].T                # at r * h
    dt_z = dn * (hh - h) * z * (1 - z)
    dt_r = d_rh * h * r * (1 - r)
    dax = np.concatenate([dt_z, dt_r, dt_h], axis=1)
    dWh = np.concatenate([h.T @ dt_z, h.T @ dt_r, (r * h).T @ dt_h], axis=1)
    dh = dn * (1 - z) + r * d_rh + dt_z @ Wh[:, :H].T + dt_r @ Wh[:, H:2 * H].T
    return dax @ Wx.T, (dh,), (x.T @ dax, dWh, dax.sum(axis=0))


CELLS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward),
         "gru": (gru_forward, gru_backward)}


def zero_state(kind, N, H):
    return tuple(np.zeros((N, H)) for _ in range(2 if kind == "lstm" else 1))


def time_forward(kind, xs, W, state):
    """The book's Time loop: one cell per step from `state`. -> (hs, last state, memos)."""
    step = CELLS[kind][0]
    W = [f64(w) for w in W]
    hs, memos = [], []
    for t in range(xs.shape[1]):
        state, memo = step(f64(xs[:, t]), tuple(f64(s) for s in state), *W)
        hs.append(state[0])
        memos.append(memo)
    return np.stack(hs, axis=1), state, memos


def time_backward(kind, memos, dhs, W):
    """Back through the steps, from a zero gradient at the last state.
    -> (dxs, the gradient at the initial state, [dWx, dWh, db])."""
    step = CELLS[kind][1]
    W = [f64(w) for w in W]
    dstate = tuple(np.zeros_like(s) for s in memos[0][1:2 + (kind == "lstm")])
    grads = [np.zeros_like(w) for w in W]
    dxs = [None] * len(memos)
    for t in reversed(range(len(memos))):
        dstate = (f64(dhs[:, t]) + dstate[0],) + dstate[1:]
        dxs[t], dstate, g = step(dstate, memos[t], *W)
        for total, part in zip(grads, g):
            total += part
    return np.stack(dxs, axis=1), dstate, grads


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_loss(xs, ts, ignore=-1):
    """The book's TimeSoftmaxWithLoss: mean -log p[target] over targets != ignore,
    and its gradient (p - onehot) / count at those targets, zero elsewhere."""
    if ts.ndim == 3:
        ts = ts.argmax(axis=2)
    p = softmax(f64(xs))
    keep = ts != ignore
    safe = np.where(keep, ts, 0)
    picked = np.take_along_axis(p, safe[..., None], axis=2)[..., 0]
    count = keep.sum()
    grad = p.copy()
    np.put_along_axis(grad, safe[..., None], picked[..., None] - 1, axis=2)
    grad *= keep[..., None] / count
    return -np.log(picked)[keep].sum() / count, grad


# --- the module --------------------------------------------------------------

def test_all_lists_every_class_of_the_books_module():
    assert sorted(bl.__all__) == sorted([
        "RNN", "TimeRNN", "LSTM", "TimeLSTM", "GRU", "TimeGRU", "TimeBiLSTM", "TimeEmbedding",
        "TimeAffine", "TimeSoftmaxWithLoss", "TimeDropout", "TimeSigmoidWithLoss",
        "Simple_TimeSoftmaxWithLoss", "Simple_TimeAffine"])
    assert all(isinstance(getattr(bl, name), type) for name in bl.__all__)


# --- the recurrent Time layers --------------------------------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_time_layer_matches_book_and_spec(kind, N, T, D, H, dtype):
    r = rng(N * 100 + T * 10 + D)
    W = weights(kind, D, H, dtype, r)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    dhs = r.standard_normal((N, T, H)).astype(dtype)

    layer = BOOK_TIME[kind](*W)
    hs = layer.forward(xs)
    assert hs.dtype == dtype and hs.shape == (N, T, H)
    want_hs, last, memos = time_forward(kind, xs, W, zero_state(kind, N, H))
    close(hs, want_hs, dtype, "hs")
    close(layer.h, last[0], dtype, "h")
    if kind == "lstm":
        close(layer.c, last[1], dtype, "c")

    dxs = layer.backward(dhs)
    assert dxs.dtype == dtype and dxs.shape == (N, T, D)
    want_dxs, dstate, want_grads = time_backward(kind, memos, dhs, W)
    close(dxs, want_dxs, dtype, "dxs")
    close(layer.dh, dstate[0], dtype, "dh")
    for name, got, want in zip(("dWx", "dWh", "db"), layer.grads, want_grads):
        assert got.dtype == dtype
        close(got, want, dtype, name)

    ref = SPEC_TIME[kind](*[f64(w) for w in W])
    close(hs, ref.forward(f64(xs)), dtype, "hs against spec")
    close(dxs, ref.backward(f64(dhs)), dtype, "dxs against spec")
    close(layer.dh, ref.dh, dtype, "dh against spec")
    for name, got, want in zip(("dWx", "dWh", "db"), layer.grads, ref.grads):
        close(got, want, dtype, f"{name} against spec")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_stateful_carry_set_state_and_reset(kind, dtype):
    r = rng(3)
    N, T, D, H = 2, 6, 3, 5
    W = weights(kind, D, H, dtype, r)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    whole, last, _ = time_forward(kind, xs, W, zero_state(kind, N, H))

    carried = BOOK_TIME[kind](*W, stateful=True)
    first, second = carried.forward(xs[:, :4]), carried.forward(xs[:, 4:])
    close(np.concatenate([first, second], axis=1), whole, dtype, "stateful halves")
    close(carried.h, last[0], dtype, "h after both halves")

    fresh = BOOK_TIME[kind](*W)                          # not stateful: each forward from zeros
    fresh.forward(xs[:, :4])
    close(fresh.forward(xs[:, 4:]), time_forward(kind, xs[:, 4:], W, zero_state(kind, N, H))[0],
          dtype, "non-stateful second forward")

    state = tuple(r.standard_normal((N, H)).astype(dtype) for _ in zero_state(kind, N, H))
    carried.set_state(*state)
    close(carried.forward(xs), time_forward(kind, xs, W, state)[0], dtype, "after set_state")
    if kind == "lstm":                                   # set_state(h): c starts at zeros
        carried.set_state(state[0])
        close(carried.forward(xs), time_forward(kind, xs, W, (state[0], np.zeros((N, H))))[0],
              dtype, "after set_state(h)")
    carried.reset_state()
    close(carried.forward(xs), whole, dtype, "after reset_state")
    carried.set_state(None)                              # a state saved before any forward
    close(carried.forward(xs), whole, dtype, "after set_state(None)")
    if kind == "lstm":
        carried.set_state(None, state[1])
        close(carried.forward(xs), time_forward(kind, xs, W, (np.zeros((N, H)), state[1]))[0],
              dtype, "after set_state(None, c)")

    # ch07's decoder: set_state(h) from a view hs[:, -1, :], then one step at a time.
    hs_enc = r.standard_normal((N, 3, H)).astype(dtype)
    h = hs_enc[:, -1, :]
    start = (f64(h),) + ((np.zeros((N, H)),) if kind == "lstm" else ())
    carried.set_state(h)
    steps = [carried.forward(xs[:, t:t + 1]) for t in range(T)]
    close(np.concatenate(steps, axis=1), time_forward(kind, xs, W, start)[0], dtype,
          "T=1 steps after set_state")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_params_and_grads_are_the_very_arrays(kind, dtype):
    r = rng(4)
    N, T, D, H = 2, 3, 4, 3
    W = weights(kind, D, H, dtype, r)
    layer = BOOK_TIME[kind](*W)
    assert all(p is w for p, w in zip(layer.params, W)) and len(layer.params) == 3
    grads = list(layer.grads)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    layer.forward(xs)
    layer.backward(np.ones((N, T, H), dtype))
    assert all(g is h for g, h in zip(layer.grads, grads)), "grads rebound instead of written"
    assert all(np.any(g != 0) for g in grads)

    # An optimizer's in-place step is what the next forward uses.
    for p, g in zip(layer.params, layer.grads):
        p -= 0.1 * g
    close(layer.forward(xs), time_forward(kind, xs, W, zero_state(kind, N, H))[0], dtype,
          "forward after an in-place update")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_match_book(kind, dtype):
    r = rng(5)
    N, D, H = 3, 4, 5
    W = weights(kind, D, H, dtype, r)
    x = r.standard_normal((N, D)).astype(dtype)
    state = tuple(r.standard_normal((N, H)).astype(dtype) for _ in zero_state(kind, N, H))
    dstate = tuple(r.standard_normal((N, H)).astype(dtype) for _ in state)
    cell = BOOK_CELL[kind](*W)
    grads = list(cell.grads)

    out = cell.forward(x, *state)
    want_state, memo = CELLS[kind][0](f64(x), tuple(f64(s) for s in state), *[f64(w) for w in W])
    for got, want, name in zip(out if kind == "lstm" else (out,), want_state, ("h", "c")):
        assert got.dtype == dtype
        close(got, want, dtype, f"{name}_next")

    back = cell.backward(*dstate)
    want_dx, want_dstate, want_grads = CELLS[kind][1](tuple(f64(d) for d in dstate), memo,
                                                      *[f64(w) for w in W])
    close(back[0], want_dx, dtype, "dx")
    for got, want, name in zip(back[1:], want_dstate, ("dh_prev", "dc_prev")):
        close(got, want, dtype, name)
    assert all(g is h for g, h in zip(cell.grads, grads))
    for name, got, want in zip(("dWx", "dWh", "db"), cell.grads, want_grads):
        close(got, want, dtype, name)


def test_lstm_cell_backward_takes_the_books_scalar_zero(dtype):
    r = rng(6)
    W = weights("lstm", 3, 2, dtype, r)
    x, h, c = (r.standard_normal(s).astype(dtype) for s in [(2, 3), (2, 2), (2, 2)])
    dh = r.standard_normal((2, 2)).astype(dtype)
    cell = bl.LSTM(*W)
    cell.forward(x, h, c)
    dx_scalar, dh_scalar, dc_scalar = cell.backward(dh, 0)
    cell.forward(x, h, c)
    dx, dh_prev, dc_prev = cell.backward(dh, np.zeros((2, 2), dtype))
    for name, a, b in [("dx", dx_scalar, dx), ("dh_prev", dh_scalar, dh_prev),
                       ("dc_prev", dc_scalar, dc_prev)]:
        np.testing.assert_array_equal(a, b, err_msg=name)


# --- the GRU without a bias (the book's first version) --------------------------

def test_time_gru_without_bias_gives_the_books_dWx_dWh(dtype):
    r = rng(7)
    N, T, D, H = 2, 4, 3, 5
    Wx, Wh, _ = weights("gru", D, H, dtype, r)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    dhs = r.standard_normal((N, T, H)).astype(dtype)
    no_bias = [Wx, Wh, np.zeros(3 * H)]

    layer = bl.TimeGRU(Wx, Wh)
    assert layer.Wx is Wx and layer.Wh is Wh and not layer.stateful
    hs = layer.forward(xs)
    want_hs, _, memos = time_forward("gru", xs, no_bias, zero_state("gru", N, H))
    close(hs, want_hs, dtype, "hs")
    dxs = layer.backward(dhs)
    want_dxs, dstate, want_grads = time_backward("gru", memos, dhs, no_bias)
    close(dxs, want_dxs, dtype, "dxs")
    close(layer.dh, dstate[0], dtype, "dh")
    close(layer.dWx, want_grads[0], dtype, "dWx")
    close(layer.dWh, want_grads[1], dtype, "dWh")
    assert layer.dWx is layer.grads[0] and layer.dWh is layer.grads[1]

    # The stand-in bias is zero and read-only: nothing can train it.
    bias = layer.params[2]
    assert bias.dtype == dtype and not np.any(bias)
    with pytest.raises(ValueError, match="read-only"):
        bias -= 0.1 * layer.grads[2]

    # The first version's TimeGRU(Wx, Wh, stateful) with stateful in the third place.
    assert bl.TimeGRU(Wx, Wh, True).stateful is True
    with pytest.raises(TypeError, match="stateful twice"):
        bl.TimeGRU(Wx, Wh, True, stateful=True)


def test_gru_cell_without_bias(dtype):
    r = rng(8)
    N, D, H = 2, 3, 4
    Wx, Wh, _ = weights("gru", D, H, dtype, r)
    x, h, dn = (r.standard_normal(s).astype(dtype) for s in [(N, D), (N, H), (N, H)])
    cell = bl.GRU(Wx, Wh)
    W = [f64(Wx), f64(Wh), np.zeros(3 * H)]
    (want_h,), memo = gru_forward(f64(x), (f64(h),), *W)
    close(cell.forward(x, h), want_h, dtype, "h_next")
    dx, dh = cell.backward(dn)
    want_dx, (want_dh,), (dWx, dWh, _) = gru_backward((f64(dn),), memo, *W)
    close(dx, want_dx, dtype, "dx")
    close(dh, want_dh, dtype, "dh_prev")
    close(cell.dWx, dWx, dtype, "dWx")
    close(cell.dWh, dWh, dtype, "dWh")


# --- the bidirectional LSTM --------------------------------------------------------

def bilstm_reference(xs, W1, W2, dhs, state1=None, state2=None):
    N, T, _ = xs.shape
    H = W1[1].shape[0]
    hs1, last1, memos1 = time_forward("lstm", xs, W1, state1 or zero_state("lstm", N, H))
    hs2, last2, memos2 = time_forward("lstm", xs[:, ::-1], W2, state2 or zero_state("lstm", N, H))
    out = np.concatenate([hs1, hs2[:, ::-1]], axis=2)
    dxs1, d1, g1 = time_backward("lstm", memos1, dhs[:, :, :H], W1)
    dxs2, d2, g2 = time_backward("lstm", memos2, dhs[:, ::-1, H:], W2)
    return out, dxs1 + dxs2[:, ::-1], g1 + g2, (last1, last2), (d1, d2)


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_bilstm_matches_book_and_spec(N, T, D, H, dtype):
    r = rng(9 + N + T)
    W1, W2 = weights("lstm", D, H, dtype, r), weights("lstm", D, H, dtype, r)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    dhs = r.standard_normal((N, T, 2 * H)).astype(dtype)
    layer = bl.TimeBiLSTM(*W1, *W2)
    out, dxs = layer.forward(xs), None
    want_out, want_dxs, want_grads, lasts, dstates = bilstm_reference(xs, W1, W2, dhs)
    assert out.dtype == dtype
    close(out, want_out, dtype, "out")
    dxs = layer.backward(dhs)
    close(dxs, want_dxs, dtype, "dxs")
    for k, (got, want) in enumerate(zip(layer.grads, want_grads)):
        close(got, want, dtype, f"grads[{k}]")
    for d in range(2):
        close(layer.h[d], lasts[d][0], dtype, f"h[{d}]")
        close(layer.c[d], lasts[d][1], dtype, f"c[{d}]")
        close(layer.dh[d], dstates[d][0], dtype, f"dh[{d}]")

    ref = spec.TimeBiLSTM(*[f64(w) for w in W1 + W2])
    close(out, ref.forward(f64(xs)), dtype, "out against spec")
    close(dxs, ref.backward(f64(dhs)), dtype, "dxs against spec")
    for k, (got, want) in enumerate(zip(layer.grads, ref.grads)):
        close(got, want, dtype, f"grads[{k}] against spec")


def test_bilstm_directions_are_the_books_forward_and_backward_lstm(dtype):
    r = rng(10)
    N, D, H = 2, 3, 4
    W1, W2 = weights("lstm", D, H, dtype, r), weights("lstm", D, H, dtype, r)
    layer = bl.TimeBiLSTM(*W1, *W2, stateful=True)
    assert isinstance(layer.forward_lstm, bl.TimeLSTM) and isinstance(layer.backward_lstm,
                                                                      bl.TimeLSTM)
    assert all(p is w for p, w in zip(layer.params, W1 + W2))
    assert all(p is q for p, q in zip(layer.params,
                                      layer.forward_lstm.params + layer.backward_lstm.params))
    assert all(g is q for g, q in zip(layer.grads,
                                      layer.forward_lstm.grads + layer.backward_lstm.grads))
    assert layer.forward_lstm.stateful and layer.backward_lstm.stateful

    # Stateful: each direction carries its own state, as the book's two TimeLSTMs.
    a, b = (r.standard_normal((N, 3, D)).astype(dtype) for _ in range(2))
    layer.forward(a)
    _, l1, _ = time_forward("lstm", a, W1, zero_state("lstm", N, H))
    _, l2, _ = time_forward("lstm", a[:, ::-1], W2, zero_state("lstm", N, H))
    close(layer.forward_lstm.h, l1[0], dtype, "forward_lstm.h")
    close(layer.backward_lstm.c, l2[1], dtype, "backward_lstm.c")
    dhs = np.zeros((N, 3, 2 * H), dtype)
    want = bilstm_reference(b, W1, W2, dhs, l1, l2)[0]
    close(layer.forward(b), want, dtype, "second stateful forward")

    # Resetting one direction's TimeLSTM restarts that direction only.
    layer.reset_state()
    layer.forward(a)
    layer.forward_lstm.reset_state()
    want = bilstm_reference(b, W1, W2, dhs, None, l2)[0]
    close(layer.forward(b), want, dtype, "after forward_lstm.reset_state()")
    layer.reset_state()
    close(layer.forward(b), bilstm_reference(b, W1, W2, dhs)[0], dtype, "after reset_state()")


# --- embedding, affine, softmax loss, dropout ---------------------------------------

def test_time_embedding(dtype):
    r = rng(11)
    V, D = 7, 3
    W = r.standard_normal((V, D)).astype(dtype)
    xs = np.array([[0, 3, 3], [6, 0, 1]])
    layer = bl.TimeEmbedding(W)
    assert layer.W is W and layer.params[0] is W
    out = layer.forward(xs)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, W[xs], err_msg="embedding forward")
    dout = r.standard_normal((2, 3, D)).astype(dtype)
    grad = layer.grads[0]
    assert layer.backward(dout) is None
    want = np.zeros((V, D))
    for (n, t), word in np.ndenumerate(xs):              # repeated ids add up
        want[word] += dout[n, t]
    assert layer.grads[0] is grad
    close(grad, want, dtype, "dW")


def test_time_affine(dtype):
    r = rng(12)
    N, T, D, M = 2, 3, 4, 5
    W, b = r.standard_normal((D, M)).astype(dtype), r.standard_normal(M).astype(dtype)
    x = r.standard_normal((N, T, D)).astype(dtype)
    dout = r.standard_normal((N, T, M)).astype(dtype)
    layer = bl.TimeAffine(W, b)
    assert layer.params[0] is W and layer.params[1] is b
    out = layer.forward(x)
    assert out.dtype == dtype and out.shape == (N, T, M)
    close(out, f64(x) @ f64(W) + f64(b), dtype, "out")
    grads = list(layer.grads)
    dx = layer.backward(dout)
    close(dx, f64(dout) @ f64(W).T, dtype, "dx")
    close(layer.grads[0], f64(x).reshape(-1, D).T @ f64(dout).reshape(-1, M), dtype, "dW")
    close(layer.grads[1], f64(dout).sum(axis=(0, 1)), dtype, "db")
    assert all(g is h for g, h in zip(layer.grads, grads))


def test_time_affine_tied_to_the_embedding(dtype):
    """BetterRnnlm's TimeAffine(embed_W.T, b): the view stays in params, an
    update of the embedding is seen, and the gradient is laid out like W."""
    r = rng(13)
    V, H, N, T = 6, 3, 2, 4
    embed_W = r.standard_normal((V, H)).astype(dtype)
    b = np.zeros(V, dtype)
    tied = embed_W.T
    layer = bl.TimeAffine(tied, b)
    assert layer.params[0] is tied
    x = r.standard_normal((N, T, H)).astype(dtype)
    close(layer.forward(x), f64(x) @ f64(embed_W).T, dtype, "tied out")
    dout = r.standard_normal((N, T, V)).astype(dtype)
    layer.backward(dout)
    assert layer.grads[0].shape == (H, V) and layer.grads[0].T.flags.c_contiguous
    close(layer.grads[0], f64(x).reshape(-1, H).T @ f64(dout).reshape(-1, V), dtype, "tied dW")
    embed_W *= 2                                          # an optimizer's in-place step
    close(layer.forward(x), f64(x) @ f64(embed_W).T, dtype, "after the embedding changed")


def test_time_softmax_with_loss(dtype):
    r = rng(14)
    N, T, V = 3, 4, 5
    xs = (3 * r.standard_normal((N, T, V))).astype(dtype)
    ts = r.integers(0, V, (N, T))
    ts[0, 1] = ts[2, 3] = -1
    layer = bl.TimeSoftmaxWithLoss()
    assert layer.ignore_label == -1 and layer.params == [] and layer.grads == []
    before = xs.copy()
    loss = layer.forward(xs, ts)
    want_loss, want_grad = softmax_loss(xs, ts)
    np.testing.assert_allclose(loss, want_loss, rtol=TOL[dtype], err_msg="loss")
    np.testing.assert_array_equal(xs, before, err_msg="forward changed xs")
    dxs = layer.backward(2.0)
    assert dxs.dtype == dtype and dxs.shape == (N, T, V)
    close(dxs, 2.0 * want_grad, dtype, "dxs with dout=2")
    assert not np.any(dxs[0, 1]) and not np.any(dxs[2, 3]), "ignored targets got a gradient"

    # One-hot labels, and a different ignore_label.
    ts = r.integers(0, V, (N, T))
    one_hot = np.eye(V, dtype=np.int32)[ts]
    layer.forward(xs, one_hot)
    want_loss, want_grad = softmax_loss(xs, ts)
    close(layer.backward(), want_grad, dtype, "dxs, one-hot")
    layer.ignore_label = 2
    loss = layer.forward(xs, ts)
    want_loss, want_grad = softmax_loss(xs, ts, ignore=2)
    np.testing.assert_allclose(loss, want_loss, rtol=TOL[dtype], err_msg="loss, ignore_label=2")
    close(layer.backward(), want_grad, dtype, "dxs, ignore_label=2")


@pytest.mark.parametrize("ratio", [0.5, 0.3, 0.0])
def test_time_dropout_draws_the_books_masks(ratio, dtype):
    xs = rng(15).standard_normal((3, 4, 5)).astype(dtype)
    dout = rng(16).standard_normal((3, 4, 5)).astype(dtype)
    layer = bl.TimeDropout(ratio)
    assert layer.train_flg and layer.params == [] and layer.grads == []

    np.random.seed(42)
    out = layer.forward(xs)
    after_ours = np.random.rand()
    # The book: uniform draws of xs's shape from the global generator, kept
    # where above the ratio, scaled by 1 / (1 - ratio) (float32 in the book).
    np.random.seed(42)
    keep = np.random.rand(*xs.shape) > ratio
    after_book = np.random.rand()
    scale = (np.float32 if dtype == np.float32 else np.float64)(1 / (1.0 - ratio))
    mask = np.where(keep, scale, 0).astype(dtype)
    assert after_ours == after_book, "the generator's state differs afterwards"
    assert out.dtype == dtype and layer.mask.dtype == dtype
    np.testing.assert_array_equal(layer.mask, mask, err_msg="mask")
    np.testing.assert_array_equal(out, xs * mask, err_msg="out")
    np.testing.assert_array_equal(layer.backward(dout), dout * mask, err_msg="dx")

    # Not training: xs unchanged, the gradient passes, and nothing is drawn.
    layer.train_flg = False
    np.random.seed(7)
    assert layer.forward(xs) is xs
    assert np.random.rand() == np.random.RandomState(7).rand()
    np.testing.assert_array_equal(layer.backward(dout), dout, err_msg="dx, not training")


# --- the simple layers ---------------------------------------------------------------

def test_time_sigmoid_with_loss(dtype):
    r = rng(17)
    N, T = 3, 5
    xs = (3 * r.standard_normal((N, T))).astype(dtype)
    ts = r.integers(0, 2, (N, T))
    layer = bl.TimeSigmoidWithLoss()
    loss = layer.forward(xs, ts)
    y = sigmoid(f64(xs))
    p = np.where(ts == 1, y, 1 - y)
    np.testing.assert_allclose(loss, -np.mean(np.log(p + 1e-7)), rtol=TOL[dtype], err_msg="loss")
    dxs = layer.backward(1.5)
    assert dxs.dtype == dtype and dxs.shape == (N, T)
    close(dxs, (y - ts) * 1.5 / (N * T), dtype, "dxs")
    with pytest.raises(ValueError, match="labels 0 and 1"):
        layer.forward(xs, np.full((N, T), 2))


def test_simple_time_softmax_with_loss(dtype):
    r = rng(18)
    N, T, V = 2, 3, 4
    xs = (3 * r.standard_normal((N, T, V))).astype(dtype)
    ts = r.integers(0, V, (N, T))
    p = softmax(f64(xs))
    picked = np.take_along_axis(p, ts[..., None], axis=2)[..., 0]
    want_loss = -np.mean(np.log(picked + 1e-7))
    want_grad = (p - np.eye(V)[ts]) / (N * T)
    layer = bl.Simple_TimeSoftmaxWithLoss()
    for labels in (ts, np.eye(V)[ts]):                   # ids, then one-hot
        np.testing.assert_allclose(layer.forward(xs, labels), want_loss, rtol=TOL[dtype],
                                   err_msg="loss")
        dxs = layer.backward()
        assert dxs.dtype == dtype
        close(dxs, want_grad, dtype, "dxs")
        close(layer.backward(3.0), 3.0 * want_grad, dtype, "dxs again, dout=3")


def test_simple_time_affine(dtype):
    r = rng(19)
    N, T, D, M = 2, 3, 4, 5
    W, b = r.standard_normal((D, M)).astype(dtype), r.standard_normal(M).astype(dtype)
    xs = r.standard_normal((N, T, D)).astype(dtype)
    dout = r.standard_normal((N, T, M)).astype(dtype)
    layer = bl.Simple_TimeAffine(W, b)
    assert layer.W is W and layer.b is b and layer.dW is None and not hasattr(layer, "params")
    out = layer.forward(xs)
    assert out.dtype == dtype and out.shape == (N, T, M)
    close(out, f64(xs) @ f64(W) + f64(b), dtype, "out")
    dxs = layer.backward(dout)
    close(dxs, f64(dout) @ f64(W).T, dtype, "dxs")
    close(layer.dW, sum(f64(xs[:, t]).T @ f64(dout[:, t]) for t in range(T)), dtype, "dW")
    close(layer.db, f64(dout).sum(axis=(0, 1)), dtype, "db")


# --- a small language model, end to end --------------------------------------------------

def test_rnnlm_stack_matches_the_transcription(dtype):
    """Embedding, stateful LSTM, affine and softmax loss from these classes give
    the transcription's loss and gradients, two batches in a row."""
    r = rng(20)
    V, D, H, N, T = 7, 3, 4, 2, 5
    embed_W = (0.5 * r.standard_normal((V, D))).astype(dtype)
    Wx, Wh, b = weights("lstm", D, H, dtype, r)
    affine_W = r.standard_normal((H, V)).astype(dtype)
    affine_b = r.standard_normal(V).astype(dtype)
    layers = [bl.TimeEmbedding(embed_W), bl.TimeLSTM(Wx, Wh, b, stateful=True),
              bl.TimeAffine(affine_W, affine_b)]
    loss_layer = bl.TimeSoftmaxWithLoss()
    params = [p for layer in layers for p in layer.params]
    grads = [g for layer in layers for g in layer.grads]
    assert all(p is q for p, q in zip(params, [embed_W, Wx, Wh, b, affine_W, affine_b]))

    state = zero_state("lstm", N, H)
    for step in range(2):
        xs, ts = r.integers(0, V, (N, T)), r.integers(0, V, (N, T))
        out = xs
        for layer in layers:
            out = layer.forward(out)
        loss = loss_layer.forward(out, ts)
        dout = loss_layer.backward()
        for layer in reversed(layers):
            dout = layer.backward(dout)

        emb = f64(embed_W)[xs]
        hs, state, memos = time_forward("lstm", emb, [Wx, Wh, b], state)
        scores = hs @ f64(affine_W) + f64(affine_b)
        want_loss, dscores = softmax_loss(scores, ts)
        d_affine_W = hs.reshape(-1, H).T @ dscores.reshape(-1, V)
        dhs = dscores @ f64(affine_W).T
        dembs, _, lstm_grads = time_backward("lstm", memos, dhs, [Wx, Wh, b])
        d_embed = np.zeros((V, D))
        np.add.at(d_embed, xs.ravel(), dembs.reshape(-1, D))
        want_grads = [d_embed, *lstm_grads, d_affine_W, dscores.sum(axis=(0, 1))]

        np.testing.assert_allclose(loss, want_loss, rtol=TOL[dtype], err_msg=f"loss {step}")
        for name, got, want in zip(("embed_W", "Wx", "Wh", "b", "affine_W", "affine_b"),
                                   grads, want_grads):
            assert got.dtype == dtype
            close(got, want, dtype, f"d{name}, batch {step}")


# --- bad input: the layers' own errors come through ---------------------------------------

def test_errors_are_not_hidden():
    r = rng(21)
    W = weights("lstm", 3, 2, np.float32, r)
    with pytest.raises(TypeError, match="xs must have dtype float32"):
        bl.TimeLSTM(*W).forward(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="xs must have shape"):
        bl.TimeRNN(*weights("rnn", 3, 2, np.float32, r)).forward(np.zeros((1, 2, 4), "f"))
    with pytest.raises(ValueError, match="Wx2 must have shape"):
        bl.TimeBiLSTM(*W, W[0][:, :5], W[1], W[2])
    with pytest.raises(ValueError, match="Wh must have shape"):
        bl.TimeGRU(W[0], W[1])                               # 4H columns, not 3H
    with pytest.raises(RuntimeError, match="forward"):
        bl.TimeLSTM(*W).backward(np.zeros((1, 2, 2), "f"))
    with pytest.raises(ValueError, match="dropout_ratio"):
        bl.TimeDropout(1.0)
    with pytest.raises(ValueError, match="dout must have the shape"):
        drop = bl.TimeDropout()
        drop.forward(np.ones((2, 3), "f"))
        drop.backward(np.ones((3, 2), "f"))
    with pytest.raises(ValueError, match="xs must lie in"):
        bl.TimeEmbedding(np.zeros((4, 2), "f")).forward(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="D == W.shape"):
        bl.Simple_TimeAffine(np.zeros((3, 2), "f"), np.zeros(2, "f")).forward(
            np.zeros((1, 2, 4), "f"))
