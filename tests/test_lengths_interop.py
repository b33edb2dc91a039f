"""Sequences of different lengths against PyTorch's packed sequences and
Keras's masks.

PyTorch: ``pack_padded_sequence(..., enforce_sorted=False)`` into nn.LSTM, nn.GRU
and nn.RNN (tanh, relu), one and two directions, outputs unpacked with
``pad_packed_sequence``, from non-zero initial states, with a loss on the outputs
and the last states: outputs, last states, dxs, every weight gradient and the
initial states' gradients, float64 within 1e-12. (PyTorch refuses length 0;
tests/test_lengths.py covers it against the spec.)

Keras: a NumPy transcription of its masked recurrence (keras.ops.rnn with a
mask: a masked step keeps the states, and its output is the previous output,
or zeros with ``zero_output_for_mask=True``, which Bidirectional sets), with
the cell equations of tests/test_interop.py.
"""
import numpy as np
import pytest

import gatedrnn
from gatedrnn import interop, spec
from gatedrnn.gradcheck import relative_error
from test_interop import _assert_grads_match, _torch_module, keras_gru, keras_lstm

LIMIT = 1e-12
LENGTHS = [7, 2, 5, 1, 7]  # unsorted, with 1 and T
N, T, D, H = 5, 7, 4, 3


def _torch_packed_run(torch, module, xs, h0, c0, dhs, dh_T, dc_T):
    """Outputs (padded with zeros), last states, and the gradients of
    L = sum(hs * dhs) + sum(h_n * dh_T) (+ sum(c_n * dc_T))."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    x = torch.from_numpy(xs).requires_grad_(True)
    h = torch.from_numpy(h0).requires_grad_(True)
    c = torch.from_numpy(c0).requires_grad_(True) if c0 is not None else None
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    out, state = module(packed, (h, c) if c is not None else h)
    hs, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    h_n, c_n = state if c is not None else (state, None)
    loss = (hs * torch.from_numpy(dhs)).sum() + (h_n * torch.from_numpy(dh_T)).sum()
    if c is not None:
        loss = loss + (c_n * torch.from_numpy(dc_T)).sum()
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return dict(hs=hs.detach().numpy(), h_n=h_n.detach().numpy(),
                c_n=None if c_n is None else c_n.detach().numpy(), dxs=x.grad.numpy(),
                dh0=h.grad.numpy(), dc0=None if c is None else c.grad.numpy(), grads=grads)


def _problem(kind, dirs, seed):
    rng = np.random.default_rng(seed)
    has_c = kind == "lstm"
    return dict(xs=rng.standard_normal((N, T, D)), h0=rng.standard_normal((dirs, N, H)),
                c0=rng.standard_normal((dirs, N, H)) if has_c else None,
                dhs=rng.standard_normal((N, T, dirs * H)), dh_T=rng.standard_normal((dirs, N, H)),
                dc_T=rng.standard_normal((dirs, N, H)) if has_c else None)


def _assert_close(ours, theirs, what):
    err = relative_error(ours, theirs)
    assert err <= LIMIT, f"{what}: relative error {err:.1e}"


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "rnn_relu"])
def test_unidirectional_equals_torch_packed(kind, torch):
    torch.manual_seed(21)
    module = _torch_module(torch, kind, D, H, batch_first=True)
    p = _problem(kind, 1, 22)
    theirs = _torch_packed_run(torch, module, p["xs"], p["h0"], p["c0"], p["dhs"], p["dh_T"],
                               p["dc_T"])
    layer = interop.from_torch(module)
    layer.stateful = True
    state = [p["h0"][0]] + ([p["c0"][0]] if kind == "lstm" else [])
    layer.set_state(*state)
    hs = layer.forward(p["xs"], lengths=LENGTHS)
    _assert_close(hs, theirs["hs"], "hs")
    _assert_close(layer.h, theirs["h_n"][0], "h_n")
    if kind == "lstm":
        _assert_close(layer.c, theirs["c_n"][0], "c_n")
        dxs = layer.backward(p["dhs"], dh_next=p["dh_T"][0], dc_next=p["dc_T"][0])
        _assert_close(layer.dc, theirs["dc0"][0], "dc0")
    else:
        dxs = layer.backward(p["dhs"], dh_next=p["dh_T"][0])
    _assert_close(dxs, theirs["dxs"], "dxs")
    _assert_close(layer.dh, theirs["dh0"][0], "dh0")
    _assert_grads_match({"rnn_relu": "rnn"}.get(kind, kind), layer, theirs["grads"], 0, "",
                        layer.grads)


def test_bidirectional_lstm_equals_torch_packed(torch):
    """TimeBiLSTM's backward direction starts at each sequence's last real step,
    as torch's does on packed input (TimeBiLSTM takes no gradient at its last
    states, so dh_T = 0 here)."""
    torch.manual_seed(23)
    module = torch.nn.LSTM(D, H, batch_first=True, bidirectional=True).double()
    p = _problem("lstm", 2, 24)
    zeros = np.zeros_like(p["dh_T"])
    theirs = _torch_packed_run(torch, module, p["xs"], p["h0"], p["c0"], p["dhs"], zeros, zeros)
    layer = interop.from_torch(module)
    layer.stateful = True
    layer.set_state(list(p["h0"]), list(p["c0"]))
    _assert_close(layer.forward(p["xs"], lengths=LENGTHS), theirs["hs"], "hs")
    for d in range(2):
        _assert_close(layer.h[d], theirs["h_n"][d], f"h_n[{d}]")
        _assert_close(layer.c[d], theirs["c_n"][d], f"c_n[{d}]")
    _assert_close(layer.backward(p["dhs"]), theirs["dxs"], "dxs")
    for d in range(2):
        _assert_close(layer.dh[d], theirs["dh0"][d], f"dh0[{d}]")
        _assert_close(layer.dc[d], theirs["dc0"][d], f"dc0[{d}]")
    _assert_grads_match("lstm", layer, theirs["grads"], 0, "", layer.grads[:3])
    _assert_grads_match("lstm", layer, theirs["grads"], 0, "_reverse", layer.grads[3:])


@pytest.mark.parametrize("kind", ["gru", "rnn", "rnn_relu"])
def test_bidirectional_gru_and_rnn_pairs_equal_torch_packed(kind, torch):
    """from_torch gives a pair for these; the second runs on each sequence's
    real steps reversed (spec.reverse_each), with the same lengths."""
    torch.manual_seed(25)
    module = _torch_module(torch, kind, D, H, batch_first=True, bidirectional=True)
    p = _problem(kind, 2, 26)
    theirs = _torch_packed_run(torch, module, p["xs"], p["h0"], None, p["dhs"], p["dh_T"], None)
    forward, backward = interop.from_torch(module)
    for d, layer in enumerate((forward, backward)):
        layer.stateful = True
        layer.set_state(p["h0"][d])
    hs = np.concatenate([forward.forward(p["xs"], lengths=LENGTHS),
                         spec.reverse_each(backward.forward(spec.reverse_each(p["xs"], LENGTHS),
                                                            lengths=LENGTHS), LENGTHS)], axis=2)
    _assert_close(hs, theirs["hs"], "hs")
    dxs = (forward.backward(np.ascontiguousarray(p["dhs"][:, :, :H]), dh_next=p["dh_T"][0])
           + spec.reverse_each(backward.backward(spec.reverse_each(p["dhs"][:, :, H:], LENGTHS),
                                                 dh_next=p["dh_T"][1]), LENGTHS))
    _assert_close(dxs, theirs["dxs"], "dxs")
    for d, layer in enumerate((forward, backward)):
        _assert_close(layer.h, theirs["h_n"][d], f"h_n[{d}]")
        _assert_close(layer.dh, theirs["dh0"][d], f"dh0[{d}]")
    torch_kind = {"rnn_relu": "rnn"}.get(kind, kind)
    _assert_grads_match(torch_kind, forward, theirs["grads"], 0, "", forward.grads)
    _assert_grads_match(torch_kind, backward, theirs["grads"], 0, "_reverse", backward.grads)


# -- Keras: its masked recurrence, transcribed -------------------------------------------

def keras_masked(step, xs, mask, states, zero_output_for_mask):
    """keras.ops.rnn with a mask: outputs (N, T, H) and the last states, where
    step(xs_t (N, 1, D), states) -> (outputs (N, 1, H), new states) is one step
    of the cell."""
    outputs, previous = [], 0
    for t in range(xs.shape[1]):
        output, new_states = step(xs[:, t:t + 1], states)
        keep = mask[:, t:t + 1]
        states = [np.where(keep, a, b) for a, b in zip(new_states, states)]
        output = np.where(keep, output[:, 0], 0 if zero_output_for_mask else previous)
        outputs.append(output)
        previous = output
    return np.stack(outputs, axis=1), states


MASK = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]


@pytest.mark.parametrize("zero_output_for_mask", [True, False])
@pytest.mark.parametrize("kind", ["lstm", "gru reset after", "gru"])
def test_equals_keras_under_a_mask(kind, zero_output_for_mask):
    """Ours where Keras masks: the same outputs at the real steps, the same last
    states; at the masked steps zeros, as Keras with zero_output_for_mask
    (without it Keras repeats each sequence's last real output there)."""
    rng = np.random.default_rng(27)
    G, reset_after = (4, None) if kind == "lstm" else (3, kind == "gru reset after")
    kernel, recurrent = rng.standard_normal((D, G * H)), rng.standard_normal((H, G * H))
    bias = rng.standard_normal((2, G * H) if reset_after else G * H)
    xs = rng.standard_normal((N, T, D))
    zeros = np.zeros((N, H))
    if kind == "lstm":
        def step(x, s):
            return keras_lstm(x, kernel, recurrent, bias, h0=s[0], c0=s[1], states=True)
        expected, states = keras_masked(step, xs, MASK, [zeros, zeros], zero_output_for_mask)
        layer = interop.from_keras("lstm", kernel, recurrent, bias)
    else:
        def step(x, s):
            return keras_gru(x, kernel, recurrent, bias, reset_after, h0=s[0], states=True)
        expected, states = keras_masked(step, xs, MASK, [zeros], zero_output_for_mask)
        layer = interop.from_keras("gru", kernel, recurrent, bias, reset_after=reset_after)
    hs = layer.forward(xs, lengths=LENGTHS)
    _assert_close(layer.h, states[0], "h")
    if kind == "lstm":
        _assert_close(layer.c, states[1], "c")
    if not zero_output_for_mask:
        last = hs[np.arange(N), np.array(LENGTHS) - 1]
        hs = np.where(MASK[:, :, None], hs, last[:, None, :])
    _assert_close(hs, expected, "hs")
