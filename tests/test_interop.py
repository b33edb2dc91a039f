"""gatedrnn.interop: weights in and out of PyTorch (when torch is importable)
and Keras (NumPy arrays in its documented layouts, checked against a NumPy
transcription of Keras's cell equations written here).

Against torch everything runs in float64, within 1e-12: outputs, the input
gradient and every weight gradient, for each kind and direction.
"""
import numpy as np
import pytest

import gatedrnn
from gatedrnn import interop, spec
from gatedrnn.interop import gru_to_torch_order, lstm_to_torch_order
from gatedrnn.gradcheck import relative_error
from gatedrnn.lm import BetterRnnlm, Rnnlm, eval_perplexity
from gatedrnn.lm.trainer import eval_positions

LIMIT = 1e-12


def _torch_run(torch, module, xs, dhs):
    """hs and d(sum(hs * dhs))/dxs, and the module's parameter grads by name."""
    x = torch.from_numpy(xs).requires_grad_(True)
    out, _ = module(x)
    out.backward(torch.from_numpy(dhs))
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), x.grad.numpy(), grads


def _our_run(layers, xs, dhs):
    """Our layer (or a list, stacked): hs, dxs and each layer's grads."""
    stack = layers if isinstance(layers, list) else [layers]
    outs, x = [], xs
    for layer in stack:
        x = layer.forward(x)
        outs.append(x)
    d = dhs
    for layer in reversed(stack):
        d = layer.backward(d)
    return outs[-1], d


def _torch_names(kind, k, suffix):
    return [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}", f"bias_ih_l{k}{suffix}",
            f"bias_hh_l{k}{suffix}"]


def _assert_grads_match(kind, layer, grads, k, suffix, params):
    """Our grads (Wx, Wh, b) against torch's, mapped to its layout."""
    dWx, dWh, db = params
    order = lstm_to_torch_order if kind == "lstm" else gru_to_torch_order if kind == "gru" \
        else (lambda a: a)
    W_ih, W_hh, b_ih, b_hh = (grads[n] for n in _torch_names(kind, k, suffix))
    assert relative_error(order(dWx).T, W_ih) <= LIMIT, f"{kind} weight_ih l{k}{suffix}"
    assert relative_error(order(dWh).T, W_hh) <= LIMIT, f"{kind} weight_hh l{k}{suffix}"
    if kind == "gru":
        assert relative_error(order(db[0]), b_ih) <= LIMIT
        assert relative_error(order(db[1]), b_hh) <= LIMIT
    else:  # our one bias is their sum: both get its gradient
        assert relative_error(order(db), b_ih) <= LIMIT
        assert relative_error(order(db), b_hh) <= LIMIT


def _torch_module(torch, kind, D, H, **options):
    """nn.LSTM, nn.GRU, nn.RNN (tanh) or, for "rnn_relu", nn.RNN(nonlinearity='relu')."""
    if kind == "rnn_relu":
        return torch.nn.RNN(D, H, nonlinearity="relu", **options).double()
    return getattr(torch.nn, kind.upper())(D, H, **options).double()


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "rnn_relu"])
def test_from_torch_unidirectional_equals_torch(kind, num_layers, torch):
    torch.manual_seed(1)
    N, T, D, H = 3, 6, 5, 4
    module = _torch_module(torch, kind, D, H, num_layers=num_layers, batch_first=True)
    layers = interop.from_torch(module)
    assert isinstance(layers, list) == (num_layers > 1)
    rng = np.random.default_rng(2)
    xs, dhs = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    hs_t, dxs_t, grads = _torch_run(torch, module, xs, dhs)
    hs, dxs = _our_run(layers, xs, dhs)
    assert relative_error(hs, hs_t) <= LIMIT and relative_error(dxs, dxs_t) <= LIMIT
    for k, layer in enumerate(layers if num_layers > 1 else [layers]):
        _assert_grads_match(kind, layer, grads, k, "", layer.grads)


def test_from_torch_bidirectional_lstm_equals_torch(torch):
    torch.manual_seed(3)
    N, T, D, H = 2, 7, 3, 5
    module = torch.nn.LSTM(D, H, num_layers=2, batch_first=True, bidirectional=True).double()
    layers = interop.from_torch(module)
    assert all(isinstance(layer, gatedrnn.TimeBiLSTM) for layer in layers)
    rng = np.random.default_rng(4)
    xs, dhs = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, 2 * H))
    hs_t, dxs_t, grads = _torch_run(torch, module, xs, dhs)
    hs, dxs = _our_run(layers, xs, dhs)
    assert relative_error(hs, hs_t) <= LIMIT and relative_error(dxs, dxs_t) <= LIMIT
    for k, layer in enumerate(layers):
        _assert_grads_match("lstm", layer, grads, k, "", layer.grads[:3])
        _assert_grads_match("lstm", layer, grads, k, "_reverse", layer.grads[3:])


@pytest.mark.parametrize("kind", ["gru", "rnn", "rnn_relu"])
def test_from_torch_bidirectional_gru_and_rnn_give_a_pair(kind, torch):
    torch.manual_seed(5)
    N, T, D, H = 2, 6, 4, 3
    module = _torch_module(torch, kind, D, H, batch_first=True, bidirectional=True)
    forward, backward = interop.from_torch(module)
    rng = np.random.default_rng(6)
    xs, dhs = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, 2 * H))
    hs_t, dxs_t, grads = _torch_run(torch, module, xs, dhs)
    hs = np.concatenate([forward.forward(xs), backward.forward(xs[:, ::-1].copy())[:, ::-1]],
                        axis=2)
    dxs = (forward.backward(dhs[:, :, :H].copy())
           + backward.backward(dhs[:, ::-1, H:].copy())[:, ::-1])
    assert relative_error(hs, hs_t) <= LIMIT and relative_error(dxs, dxs_t) <= LIMIT
    _assert_grads_match(kind, forward, grads, 0, "", forward.grads)
    _assert_grads_match(kind, backward, grads, 0, "_reverse", backward.grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after", "rnn", "rnn_relu", "bilstm"])
def test_to_torch_equals_ours_and_converts_back(kind, dtype, torch):
    """to_torch gives a module computing what our layer computes: outputs, and
    in float64 the input gradient and every weight gradient within 1e-12; and
    from_torch takes it back to the very weights."""
    from gatedrnn import problems
    p = problems.make_problem(kind, 3, 5, 4, 6, dtype, seed=7)
    layer = problems.time_layer(kind, gatedrnn, p["weights"])
    module = interop.to_torch(layer)
    assert module.batch_first and next(module.parameters()).dtype == getattr(
        torch, np.dtype(dtype).name)
    back = interop.from_torch(module)
    for a, b in zip(back.params, layer.params):
        np.testing.assert_array_equal(a, b)
    if dtype == np.float32:
        with torch.no_grad():
            hs_t = module(torch.from_numpy(p["xs"]))[0].numpy()
        assert relative_error(layer.forward(p["xs"]), hs_t) <= 1e-6
        return
    hs_t, dxs_t, grads = _torch_run(torch, module, p["xs"], p["dhs"])
    hs, dxs = _our_run(layer, p["xs"], p["dhs"])
    assert relative_error(hs, hs_t) <= LIMIT and relative_error(dxs, dxs_t) <= LIMIT
    assert getattr(module, "nonlinearity", "tanh") == ("relu" if kind == "rnn_relu" else "tanh")
    torch_kind = {"gru_reset_after": "gru", "bilstm": "lstm"}.get(kind, kind)
    _assert_grads_match(torch_kind, layer, grads, 0, "", layer.grads[:3])
    if kind == "bilstm":
        _assert_grads_match(torch_kind, layer, grads, 0, "_reverse", layer.grads[3:])


def test_to_torch_of_a_stack_and_of_single_steps(torch):
    rng = np.random.default_rng(8)
    D, H = 4, 3
    first = gatedrnn.TimeLSTM(rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)),
                              rng.standard_normal(4 * H))
    second = gatedrnn.TimeLSTM(rng.standard_normal((H, 4 * H)), rng.standard_normal((H, 4 * H)),
                               rng.standard_normal(4 * H))
    module = interop.to_torch([first, second])
    assert module.num_layers == 2
    xs = rng.standard_normal((2, 5, D))
    with torch.no_grad():
        hs_t = module(torch.from_numpy(xs))[0].numpy()
    assert relative_error(second.forward(first.forward(xs)), hs_t) <= LIMIT
    cell = gatedrnn.GRU(rng.standard_normal((D, 3 * H)), rng.standard_normal((H, 3 * H)),
                        rng.standard_normal((2, 3 * H)), reset_after=True)
    assert isinstance(interop.to_torch(cell), torch.nn.GRU)


def test_torch_conversions_refuse_what_has_no_equivalent(torch):
    with pytest.raises(ValueError, match="proj_size=2 has no gatedrnn equivalent"):
        interop.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    rng = np.random.default_rng(10)
    tanh, relu = (gatedrnn.TimeRNN(rng.standard_normal((3, 3)), rng.standard_normal((3, 3)),
                                   rng.standard_normal(3), nonlinearity=f) for f in ("tanh", "relu"))
    with pytest.raises(ValueError, match="RNNs of one nonlinearity"):
        interop.to_torch([tanh, relu])
    with pytest.raises(TypeError, match="from_torch takes nn.LSTM, nn.GRU, nn.RNN"):
        interop.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(TypeError, match="pass dtype=np.float32"):
        interop.from_torch(torch.nn.LSTM(3, 4).half())
    assert interop.from_torch(torch.nn.LSTM(3, 4).half(), dtype=np.float32).dtype == np.float32
    rng = np.random.default_rng(9)
    book = gatedrnn.TimeGRU(rng.standard_normal((3, 12)), rng.standard_normal((4, 12)),
                            rng.standard_normal(12))
    with pytest.raises(ValueError, match="reset_after=False .* has no PyTorch equivalent"):
        interop.to_torch(book)
    with pytest.raises(TypeError, match="to_torch takes a gatedrnn layer"):
        interop.to_torch(np.zeros(3))
    with pytest.raises(ValueError, match="layer 1 of the list takes D=3"):
        interop.to_torch([gatedrnn.TimeRNN(rng.standard_normal((3, 4)),
                                           rng.standard_normal((4, 4)), np.zeros(4))] * 2)


def test_from_torch_without_bias_and_time_first_modules(torch):
    torch.manual_seed(10)
    module = torch.nn.GRU(3, 4, bias=False).double()  # batch_first=False
    layer = interop.from_torch(module)
    xs = np.random.default_rng(11).standard_normal((2, 5, 3))
    with torch.no_grad():  # the module takes (T, N, D); ours (N, T, D)
        hs_t = module(torch.from_numpy(xs.transpose(1, 0, 2).copy()))[0].numpy()
    assert relative_error(layer.forward(xs), hs_t.transpose(1, 0, 2)) <= LIMIT


def test_language_models_convert_and_give_the_same_perplexity(torch):
    """An Rnnlm and a BetterRnnlm in float64: to torch and back with the same
    weights, and the same perplexity evaluated in both frameworks on a small
    corpus with the book's protocol (batch 10, time 35, the state carried)."""
    corpus = np.random.default_rng(12).integers(0, 30, 2000)
    for model in (Rnnlm(30, 8, 6, seed=1, dtype=np.float64),
                  BetterRnnlm(30, 7, 7, seed=2, dtype=np.float64)):
        module = interop.to_torch(model).eval()
        back = interop.from_torch(module)
        assert type(back) is type(model)
        for a, b in zip(back.params, model.params):
            np.testing.assert_array_equal(a, b)
        ours = eval_perplexity(model, corpus)
        batch, time, size = 10, 35, len(corpus)
        iters, total, state = (size - 1) // (batch * time), 0.0, None
        with torch.no_grad():
            for it in range(iters):
                pos = eval_positions(size, batch, time, it)
                scores, state = module(torch.from_numpy(corpus[pos]), state)
                loss = torch.nn.functional.cross_entropy(
                    scores.reshape(-1, scores.shape[-1]),
                    torch.from_numpy(corpus[(pos + 1) % size]).reshape(-1))
                total += float(loss)
        theirs = float(np.exp(total / iters))
        assert abs(ours - theirs) <= 1e-10 * ours, (type(model).__name__, ours, theirs)


# -- Keras: its documented cell equations, transcribed -----------------------------------

def _sigmoid(x):
    return spec.sigmoid(x)


def keras_lstm(xs, kernel, recurrent_kernel, bias, h0=None, c0=None, states=False):
    """Keras LSTM (gates i, f, c, o; tanh, sigmoid), from zero state or (h0, c0);
    with states=True also the last [h, c]."""
    N, T, _ = xs.shape
    H = recurrent_kernel.shape[0]
    h = np.zeros((N, H)) if h0 is None else h0
    c, out = np.zeros((N, H)) if c0 is None else c0, []
    for t in range(T):
        z = xs[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, cc, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cc)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return (np.stack(out, axis=1), [h, c]) if states else np.stack(out, axis=1)


def keras_gru(xs, kernel, recurrent_kernel, bias, reset_after, h0=None, states=False):
    """Keras GRU (gates z, r, h; h' = z h + (1 - z) hh), from zero state or h0;
    with states=True also the last [h]."""
    N, T, _ = xs.shape
    H = recurrent_kernel.shape[0]
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    h, out = np.zeros((N, H)) if h0 is None else h0, []
    for t in range(T):
        x = xs[:, t] @ kernel + b_in
        if reset_after:
            rec = h @ recurrent_kernel + b_rec
            z = _sigmoid(x[:, :H] + rec[:, :H])
            r = _sigmoid(x[:, H:2 * H] + rec[:, H:2 * H])
            hh = np.tanh(x[:, 2 * H:] + r * rec[:, 2 * H:])
        else:
            z = _sigmoid(x[:, :H] + h @ recurrent_kernel[:, :H])
            r = _sigmoid(x[:, H:2 * H] + h @ recurrent_kernel[:, H:2 * H])
            hh = np.tanh(x[:, 2 * H:] + (r * h) @ recurrent_kernel[:, 2 * H:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return (np.stack(out, axis=1), [h]) if states else np.stack(out, axis=1)


def keras_simple_rnn(xs, kernel, recurrent_kernel, bias, activation="tanh"):
    """Keras SimpleRNN with activation tanh or relu, from zero state."""
    N, T, _ = xs.shape
    f = np.tanh if activation == "tanh" else (lambda a: np.maximum(a, 0))
    h, out = np.zeros((N, recurrent_kernel.shape[0])), []
    for t in range(T):
        h = f(xs[:, t] @ kernel + h @ recurrent_kernel + bias)
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("kind, reset_after, activation", [
    ("lstm", None, None), ("gru", True, None), ("gru", False, None), ("simple_rnn", None, None),
    ("simple_rnn", None, "relu")])
def test_keras_layouts(kind, reset_after, activation):
    rng = np.random.default_rng(13)
    N, T, D, H = 3, 6, 4, 5
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    kernel, recurrent = rng.standard_normal((D, G * H)), rng.standard_normal((H, G * H)) / 2
    bias = rng.standard_normal((2, G * H) if reset_after else (G * H,)) / 10
    xs = rng.standard_normal((N, T, D))
    kwargs = {} if reset_after is None else {"reset_after": reset_after}
    if activation is not None:
        kwargs["activation"] = activation
    layer = interop.from_keras(kind, kernel, recurrent, bias, **kwargs)
    reference = {"lstm": keras_lstm, "gru": keras_gru, "simple_rnn": keras_simple_rnn}[kind]
    expected = reference(xs, kernel, recurrent, bias, **kwargs)
    assert relative_error(layer.forward(xs), expected) <= LIMIT
    weights = interop.to_keras(layer)
    for name, value in zip(("kernel", "recurrent_kernel", "bias"), (kernel, recurrent, bias)):
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    if kind == "gru":
        assert weights["reset_after"] is reset_after
    if kind == "simple_rnn":
        assert weights["activation"] == (activation or "tanh")


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_after", "rnn", "rnn_relu"])
def test_to_keras_weights_compute_what_our_layer_computes(kind):
    """The other direction: our layer's weights, in Keras's layout, through
    Keras's equations, give our layer's outputs."""
    from gatedrnn import problems
    p = problems.make_problem(kind, 3, 6, 4, 5, np.float64, seed=15)
    layer = problems.time_layer(kind, gatedrnn, p["weights"])
    w = interop.to_keras(layer)
    if kind.startswith("gru"):
        expected = keras_gru(p["xs"], w["kernel"], w["recurrent_kernel"], w["bias"],
                             w["reset_after"])
    elif kind == "lstm":
        expected = keras_lstm(p["xs"], w["kernel"], w["recurrent_kernel"], w["bias"])
    else:
        expected = keras_simple_rnn(p["xs"], w["kernel"], w["recurrent_kernel"], w["bias"],
                                    w["activation"])
    assert relative_error(layer.forward(p["xs"]), expected) <= LIMIT


def test_keras_conversions_refuse_bad_input():
    with pytest.raises(ValueError, match=r"reset_after=True has a bias of shape \(2, 12\)"):
        interop.from_keras("gru", np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12))
    with pytest.raises(ValueError, match="gatedrnn's LSTM uses tanh; got activation='relu'"):
        interop.from_keras("lstm", np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16),
                           activation="relu")
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'; got 'elu'"):
        interop.from_keras("simple_rnn", np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4),
                           activation="elu")
    with pytest.raises(ValueError, match="kind must be 'lstm', 'gru' or 'simple_rnn'"):
        interop.from_keras("tcn", np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    rng = np.random.default_rng(14)
    bi = gatedrnn.TimeBiLSTM(*(rng.standard_normal(s) for s in [(3, 8), (2, 8), (8,)] * 2))
    with pytest.raises(TypeError, match="a TimeBiLSTM is two LSTMs"):
        interop.to_keras(bi)


def test_interop_imports_no_torch():
    """torch is imported only when a torch function is called."""
    import subprocess
    import sys
    code = ("import sys, gatedrnn.interop, numpy as np; "
            "gatedrnn.interop.from_keras('simple_rnn', np.zeros((2, 3)), np.zeros((3, 3)), "
            "np.zeros(3)); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the torch conversions' layouts, without torch ------------------------------------------
# A stand-in for the few names of torch that interop uses, holding NumPy arrays, so
# that the layouts to_torch writes and from_torch reads are checked in the default
# suite against PyTorch's documented cell equations, transcribed here. (Mistakes
# that a round trip cannot see, such as the GRU's two bias rows swapped both ways,
# would otherwise pass wherever torch is not installed.)

class _FakeTensor:
    def __init__(self, array):
        self.array = array
        self.dtype = f"torch.{array.dtype}"

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array

    def copy_(self, array):
        assert array.shape == self.array.shape, (array.shape, self.array.shape)
        self.array[...] = array


class _FakeRecurrent:
    """nn.LSTM, nn.GRU, nn.RNN: one layer, one direction, weights drawn from `rng`
    (zeros if none), in PyTorch's shapes: weight_ih (G*H, D), weight_hh (G*H, H),
    bias_ih and bias_hh (G*H,)."""
    gates = 0

    def __init__(self, D, H, num_layers=1, batch_first=True, bidirectional=False,
                 nonlinearity="tanh", rng=None):
        assert num_layers == 1 and batch_first and not bidirectional
        self.num_layers, self.bidirectional, self.bias = 1, False, True
        self.nonlinearity, self.proj_size = nonlinearity, 0
        G = self.gates
        draw = rng.standard_normal if rng is not None else np.zeros
        for name, shape in [("weight_ih_l0", (G * H, D)), ("weight_hh_l0", (G * H, H)),
                            ("bias_ih_l0", (G * H,)), ("bias_hh_l0", (G * H,))]:
            setattr(self, name, _FakeTensor(draw(shape)))

    def to(self, dtype):
        assert dtype == "torch.float64"
        return self

    def parameters(self):
        return iter([self.weight_ih_l0])

    def arrays(self):
        return [getattr(self, n).array for n in
                ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]


def _fake_torch():
    import contextlib
    import types

    nn = types.SimpleNamespace(
        LSTM=type("LSTM", (_FakeRecurrent,), {"gates": 4}),
        GRU=type("GRU", (_FakeRecurrent,), {"gates": 3}),
        RNN=type("RNN", (_FakeRecurrent,), {"gates": 1}))
    return types.SimpleNamespace(nn=nn, float32="torch.float32", float64="torch.float64",
                                 no_grad=contextlib.nullcontext, from_numpy=lambda a: a)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _torch_cell_equations(kind, W_ih, W_hh, b_ih, b_hh, xs):
    """hs (N, T, H) of PyTorch's nn.LSTM / nn.GRU / nn.RNN(tanh), from zero
    state, as its documentation writes them: rows of W_ih, W_hh and the biases
    in the gate order i, f, g, o (LSTM) or r, z, n (GRU)."""
    N, T, _ = xs.shape
    H = W_hh.shape[1]
    h, c, hs = np.zeros((N, H)), np.zeros((N, H)), []
    for t in range(T):
        gi, gh = xs[:, t] @ W_ih.T + b_ih, h @ W_hh.T + b_hh
        if kind == "LSTM":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        elif kind == "GRU":
            (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
            n = np.tanh(i_n + r * h_n)       # b_hn inside r *: the bias rows are not a sum
            h = (1 - z) * n + z * h
        else:
            h = np.tanh(gi + gh)
        hs.append(h)
    return np.stack(hs, axis=1)


def _ours(kind, D, H, rng):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    Wx, Wh = rng.standard_normal((D, G * H)), rng.standard_normal((H, G * H)) / np.sqrt(H)
    if kind == "GRU":   # two bias rows, far apart, so that a swap shows
        return gatedrnn.TimeGRU(Wx, Wh, np.stack([rng.standard_normal(G * H),
                                                  3 + rng.standard_normal(G * H)]),
                                reset_after=True)
    layer_class = gatedrnn.TimeLSTM if kind == "LSTM" else gatedrnn.TimeRNN
    return layer_class(Wx, Wh, rng.standard_normal(G * H))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_to_torch_writes_pytorchs_layout(kind, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", _fake_torch())
    rng = np.random.default_rng(31)
    layer = _ours(kind, 3, 4, rng)
    module = interop.to_torch(layer)
    assert type(module).__name__ == kind
    xs = rng.standard_normal((2, 6, 3))
    np.testing.assert_allclose(_torch_cell_equations(kind, *module.arrays(), xs),
                               layer.forward(xs), rtol=1e-12, atol=1e-12,
                               err_msg=f"to_torch({kind}) under PyTorch's equations")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_from_torch_reads_pytorchs_layout(kind, monkeypatch):
    torch = _fake_torch()
    monkeypatch.setitem(__import__("sys").modules, "torch", torch)
    rng = np.random.default_rng(32)
    module = getattr(torch.nn, kind)(3, 4, rng=rng)
    module.bias_hh_l0.array += 3   # the two biases far apart, so that a swap shows
    layer = interop.from_torch(module)
    xs = rng.standard_normal((2, 6, 3))
    np.testing.assert_allclose(layer.forward(xs),
                               _torch_cell_equations(kind, *module.arrays(), xs),
                               rtol=1e-12, atol=1e-12,
                               err_msg=f"from_torch(nn.{kind}) against PyTorch's equations")
