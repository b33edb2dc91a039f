"""PyTorch modules equivalent to our layers, for the benchmarks and the tests
(torch is never a dependency: callers pass the torch module in).

Where the weights cross the boundary:
- LSTM: our gate blocks f, g, i, o become PyTorch's i, f, g, o; PyTorch keeps
  weight_ih (4H, D) and weight_hh (4H, H), the transposes of Wx and Wh, and
  two biases (ours goes to bias_ih, bias_hh is zero).
- GRU with reset_after=True: our z, r, h~ become PyTorch's r, z, n; PyTorch
  writes h' = z h + (1 - z) n, so its z is 1 - ours: the z columns of Wx and
  Wh and the z biases are negated (sigmoid(-a) = 1 - sigmoid(a)). b[0] is
  bias_ih and b[1] bias_hh. (The book's GRU, reset before, has no PyTorch
  equivalent.)
- RNN: transposed weights; our b goes to bias_ih, bias_hh is zero.
"""
import numpy as np


def lstm_to_torch_order(a):
    """Gate blocks f, g, i, o along the last axis -> i, f, g, o."""
    f, g, i, o = np.split(a, 4, axis=-1)
    return np.concatenate([i, f, g, o], axis=-1)


def gru_to_torch_order(a):
    """Gate blocks z, r, h~ along the last axis -> r, -z, n (PyTorch's z is 1 - ours)."""
    z, r, n = np.split(a, 3, axis=-1)
    return np.concatenate([r, -z, n], axis=-1)


def torch_module(torch, kind, weights):
    """A torch.nn module (batch_first, on the CPU, in the weights' dtype) that
    computes what our layer of `kind` ("lstm", "gru_reset_after", "rnn",
    "bilstm") computes with `weights` (Wx, Wh, b per direction)."""
    Wx, Wh = weights[0], weights[1]
    D, H = Wx.shape[0], Wh.shape[0]
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[Wx.dtype]
    tensors = {}
    if kind == "gru_reset_after":
        module = torch.nn.GRU(D, H, batch_first=True)
        Wx, Wh, b = weights
        tensors = dict(weight_ih_l0=gru_to_torch_order(Wx).T, weight_hh_l0=gru_to_torch_order(Wh).T,
                       bias_ih_l0=gru_to_torch_order(b[0]), bias_hh_l0=gru_to_torch_order(b[1]))
    elif kind == "rnn":
        module = torch.nn.RNN(D, H, batch_first=True)
        Wx, Wh, b = weights
        tensors = dict(weight_ih_l0=Wx.T, weight_hh_l0=Wh.T, bias_ih_l0=b,
                       bias_hh_l0=np.zeros_like(b))
    elif kind in ("lstm", "bilstm"):
        module = torch.nn.LSTM(D, H, batch_first=True, bidirectional=kind == "bilstm")
        for d, suffix in enumerate(["", "_reverse"][:len(weights) // 3]):
            Wx, Wh, b = weights[3 * d:3 * d + 3]
            tensors.update({f"weight_ih_l0{suffix}": lstm_to_torch_order(Wx).T,
                            f"weight_hh_l0{suffix}": lstm_to_torch_order(Wh).T,
                            f"bias_ih_l0{suffix}": lstm_to_torch_order(b),
                            f"bias_hh_l0{suffix}": np.zeros_like(b)})
    else:
        raise ValueError(f"no PyTorch equivalent of {kind!r}")
    module = module.to(dtype)
    with torch.no_grad():
        for name, value in tensors.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module
