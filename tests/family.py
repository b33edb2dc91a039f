"""The recurrent family for tests: runs of each kind (gatedrnn.problems makes
the problems and layers), on the compiled module (gatedrnn) and the spec
(gatedrnn.spec) alike, and the state of either kind of layer.
"""
import numpy as np

from gatedrnn.problems import GATES, HAS_C, KINDS, step_layer, time_layer  # noqa: F401
from gatedrnn.problems import make_problem as make


def directions(layer):
    """The spec's TimeBiLSTM as two TimeLSTMs, any other layer as itself."""
    return ([layer.forward_lstm, layer.backward_lstm] if hasattr(layer, "forward_lstm")
            else [layer])


def set_state(kind, layer, p):
    if kind != "bilstm":
        layer.set_state(p["h0"][0], *([p["c0"][0]] if kind in HAS_C else []))
    elif hasattr(layer, "forward_lstm"):  # the spec's: its two LSTMs
        for d, lstm in enumerate(directions(layer)):
            lstm.set_state(p["h0"][d], p["c0"][d])
    else:
        layer.set_state(p["h0"], p["c0"])


def state(kind, layer, name):
    """h, c, dh or dc of a layer: a list, one entry per direction."""
    if kind == "bilstm" and hasattr(layer, "forward_lstm"):
        return [getattr(lstm, name) for lstm in directions(layer)]
    value = getattr(layer, name)
    return list(value) if kind == "bilstm" else [value]


def run(kind, module, p, initial=True):
    """One forward and backward of the Time* layer from p's initial state
    (zeros with initial=False); every output and gradient, copied."""
    layer = time_layer(kind, module, p["weights"], stateful=initial)
    if initial:
        set_state(kind, layer, p)
    hs = layer.forward(p["xs"])
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
