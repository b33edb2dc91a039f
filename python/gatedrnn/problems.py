"""Random problems and layers of every kind, for the benchmarks and the tests:
the same weights built for gatedrnn's layers, the spec's, and PyTorch's
(gatedrnn._torch).

Kinds: "lstm", "gru" (reset before, the book's), "gru_reset_after", "rnn",
"bilstm". A problem is a dict: "weights" (Wx, Wh, b per direction), "xs",
"h0" (and "c0" for the LSTMs) per direction, "dhs", "dh_T" (and "dc_T").
"""
import numpy as np

KINDS = ("lstm", "gru", "gru_reset_after", "rnn", "bilstm")
GATES = {"lstm": 4, "gru": 3, "gru_reset_after": 3, "rnn": 1, "bilstm": 4}
HAS_C = ("lstm", "bilstm")


def make_problem(kind, N, T, D, H, dtype, seed=0, weight_scale=1.0):
    """Weights as the book initialises them (randn / sqrt(fan-in)) times
    weight_scale; random inputs, initial state and upstream gradients."""
    rng = np.random.default_rng(seed)

    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    G = GATES[kind]
    weights = []
    for _ in range(2 if kind == "bilstm" else 1):
        b_shape = (2, G * H) if kind == "gru_reset_after" else (G * H,)
        weights += [r(D, G * H, scale=weight_scale / np.sqrt(max(D, 1))),
                    r(H, G * H, scale=weight_scale / np.sqrt(max(H, 1))),
                    r(*b_shape, scale=0.1 * weight_scale)]
    dirs = 2 if kind == "bilstm" else 1
    p = dict(weights=weights, xs=r(N, T, D), dhs=r(N, T, dirs * H),
             h0=[r(N, H, scale=0.5) for _ in range(dirs)], dh_T=r(N, H))
    if kind in HAS_C:
        p["c0"] = [r(N, H, scale=0.5) for _ in range(dirs)]
        p["dc_T"] = r(N, H)
    return p


def time_layer(kind, module, weights, stateful=False):
    """The Time* layer of `kind` from `module` (gatedrnn or gatedrnn.spec)."""
    if kind == "lstm":
        return module.TimeLSTM(*weights, stateful=stateful)
    if kind in ("gru", "gru_reset_after"):
        return module.TimeGRU(*weights, stateful=stateful, reset_after=kind == "gru_reset_after")
    if kind == "rnn":
        return module.TimeRNN(*weights, stateful=stateful)
    return module.TimeBiLSTM(*weights, stateful=stateful)


def step_layer(kind, module, weights):
    """The single-step layer of `kind` (not for bilstm)."""
    if kind == "lstm":
        return module.LSTM(*weights)
    if kind in ("gru", "gru_reset_after"):
        return module.GRU(*weights, reset_after=kind == "gru_reset_after")
    return module.RNN(*weights)
