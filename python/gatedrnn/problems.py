"""Random problems and layers of every kind, for the benchmarks, the tests and
tools/memcheck_layers.py: the same weights built for gatedrnn's layers, the
spec's, and PyTorch's (gatedrnn.interop); and runs of either module's layers.

Kinds: "lstm", "gru" (reset before, the book's), "gru_reset_after", "rnn"
(tanh), "rnn_relu", "bilstm". A problem is a dict: "weights" (Wx, Wh, b per direction), "xs",
"h0" (and "c0" for the LSTMs) per direction, "dhs", "dh_T" (and "dc_T"), and
optionally "lengths" (N,), which the runs below pass to the forward.
"""
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._typing import FloatArray

# A problem: weights, inputs, states and upstream gradients, by name.
Problem = dict[str, Any]
# A layer of gatedrnn or of the spec (their classes share the book's API, not a base).
Layer = Any

KINDS = ("lstm", "gru", "gru_reset_after", "rnn", "rnn_relu", "bilstm")
GATES = {"lstm": 4, "gru": 3, "gru_reset_after": 3, "rnn": 1, "rnn_relu": 1, "bilstm": 4}
HAS_C = ("lstm", "bilstm")


def make_problem(kind: str, N: int, T: int, D: int, H: int, dtype: DTypeLike, seed: int = 0,
                 weight_scale: float = 1.0) -> Problem:
    """Weights as the book initialises them (randn / sqrt(fan-in)) times
    weight_scale; random inputs, initial state and upstream gradients."""
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 1.0) -> FloatArray:
        return (scale * rng.standard_normal(shape)).astype(dtype)

    G = GATES[kind]
    weights: list[FloatArray] = []
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


def time_layer(kind: str, module: ModuleType, weights: list[FloatArray],
               stateful: bool = False) -> Layer:
    """The Time* layer of `kind` from `module` (gatedrnn or gatedrnn.spec)."""
    if kind == "lstm":
        return module.TimeLSTM(*weights, stateful=stateful)
    if kind in ("gru", "gru_reset_after"):
        return module.TimeGRU(*weights, stateful=stateful, reset_after=kind == "gru_reset_after")
    if kind in ("rnn", "rnn_relu"):
        return module.TimeRNN(*weights, stateful=stateful,
                              nonlinearity="relu" if kind == "rnn_relu" else "tanh")
    return module.TimeBiLSTM(*weights, stateful=stateful)


def step_layer(kind: str, module: ModuleType, weights: list[FloatArray]) -> Layer:
    """The single-step layer of `kind` (not for bilstm)."""
    if kind == "lstm":
        return module.LSTM(*weights)
    if kind in ("gru", "gru_reset_after"):
        return module.GRU(*weights, reset_after=kind == "gru_reset_after")
    return module.RNN(*weights, nonlinearity="relu" if kind == "rnn_relu" else "tanh")


def directions(layer: Layer) -> list[Layer]:
    """The spec's TimeBiLSTM as two TimeLSTMs, any other layer as itself."""
    return ([layer.forward_lstm, layer.backward_lstm] if hasattr(layer, "forward_lstm")
            else [layer])


def set_state(kind: str, layer: Layer, p: Problem) -> None:
    if kind != "bilstm":
        layer.set_state(p["h0"][0], *([p["c0"][0]] if kind in HAS_C else []))
    elif hasattr(layer, "forward_lstm"):  # the spec's: its two LSTMs
        for d, lstm in enumerate(directions(layer)):
            lstm.set_state(p["h0"][d], p["c0"][d])
    else:
        layer.set_state(p["h0"], p["c0"])


def state(kind: str, layer: Layer, name: str) -> list[FloatArray]:
    """h, c, dh or dc of a layer: a list, one entry per direction."""
    if kind == "bilstm" and hasattr(layer, "forward_lstm"):
        return [getattr(lstm, name) for lstm in directions(layer)]
    value = getattr(layer, name)
    return list(value) if kind == "bilstm" else [value]


def lengths_argument(p: Problem) -> dict[str, Any]:
    """The forward's keyword arguments for p: its lengths, if it has some."""
    return {"lengths": p["lengths"]} if p.get("lengths") is not None else {}


def run(kind: str, module: ModuleType, p: Problem, initial: bool = True) -> dict[str, FloatArray]:
    """One forward and backward of the Time* layer from p's initial state
    (zeros with initial=False); every output and gradient, copied."""
    layer = time_layer(kind, module, p["weights"], stateful=initial)
    if initial:
        set_state(kind, layer, p)
    hs = layer.forward(p["xs"], **lengths_argument(p))
    out = dict(hs=hs)
    for d, h in enumerate(state(kind, layer, "h")):
        out[f"h_T{d}"] = np.array(h, copy=True)
    if kind in HAS_C:
        for d, c in enumerate(state(kind, layer, "c")):
            out[f"c_T{d}"] = np.array(c, copy=True)
    if kind == "bilstm":
        out["dxs"] = layer.backward(p["dhs"])
    elif kind == "lstm":
        out["dxs"] = layer.backward(p["dhs"], dh_next=p["dh_T"], dc_next=p["dc_T"])
    else:
        out["dxs"] = layer.backward(p["dhs"], dh_next=p["dh_T"])
    for name in ("dh", "dc") if kind in HAS_C else ("dh",):
        for d, g in enumerate(state(kind, layer, name)):
            out[f"{name}0_{d}"] = np.array(g, copy=True)
    for k, g in enumerate(layer.grads):
        out[f"grads[{k}]"] = g.copy()
    return out


def loss_and_gradients(
        kind: str, module: ModuleType, p: Problem,
) -> tuple[Callable[[], float], dict[str, FloatArray], dict[str, FloatArray]]:
    """(loss, analytic, values): loss() is L = sum(hs * dhs) + the last state
    times dh_T (and c_T times dc_T) of `module`'s layer from p's initial
    state, re-run on every call (for finite differences, which perturb the
    arrays of `values` in place); `analytic` holds the layer's gradients of
    those arrays, by name."""
    def loss() -> float:
        layer = time_layer(kind, module, p["weights"], stateful=True)
        set_state(kind, layer, p)
        total = np.sum(layer.forward(p["xs"], **lengths_argument(p)) * p["dhs"])
        if kind != "bilstm":  # the book's BiLSTM takes no gradient at its last state
            total += np.sum(layer.h * p["dh_T"])
            if kind == "lstm":
                total += np.sum(layer.c * p["dc_T"])
        return float(total)

    out = run(kind, module, p)
    analytic = {f"W{k}": out[f"grads[{k}]"] for k in range(len(p["weights"]))}
    analytic["xs"] = out["dxs"]
    for d in range(len(p["h0"])):
        analytic[f"h0_{d}"] = out[f"dh0_{d}"]
        if kind in HAS_C:
            analytic[f"c0_{d}"] = out[f"dc0_{d}"]
    values = {f"W{k}": w for k, w in enumerate(p["weights"])}
    values["xs"] = p["xs"]
    for d in range(len(p["h0"])):
        values[f"h0_{d}"] = p["h0"][d]
        if kind in HAS_C:
            values[f"c0_{d}"] = p["c0"][d]
    return loss, analytic, values
