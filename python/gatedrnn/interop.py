"""Weights in and out of PyTorch and Keras.

Each conversion copies the weights and changes their layout; getting one of
these wrong gives a model that runs but is wrong, so they are done here once:

- LSTM. Ours: gates f, g, i, o along 4H, Wx (D, 4H), Wh (H, 4H), one bias.
  PyTorch: i, f, g, o; weight_ih (4H, D) and weight_hh (4H, H), the
  transposes; two biases, whose sum is ours. Keras: i, f, c (our g), o;
  kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,).
- GRU. Ours: z, r, h~ along 3H and h' = (1 - z) h + z h~. PyTorch and Keras
  write h' = z h + (1 - z) h~: their z is 1 - ours, so z's weight columns and
  biases are negated (sigmoid(-a) = 1 - sigmoid(a)). PyTorch orders its gates
  r, z, n and is the reset-after variant (our reset_after=True, with b[0] its
  bias_ih and b[1] its bias_hh). Keras orders z, r, h and has both variants:
  reset_after=True with bias (2, 3H), reset_after=False (the book's) with
  bias (3H,).
- RNN (tanh or relu). PyTorch's two biases sum to ours; Keras's SimpleRNN
  matches.

Our layers take batch-first input (N, T, D); modules made here are
batch_first. torch is imported only when a torch function is called, and it
is never a dependency; Keras needs no import at all (its weights are NumPy
arrays in its documented layouts).
"""
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _layers
from ._typing import FloatArray

if TYPE_CHECKING:  # lm imports the layers; imported here only when needed
    from .lm.models import BetterRnnlm, Rnnlm

# PyTorch is optional and untyped here: its tensors and modules are Any.
Torch = Any
# A layer to_torch and to_keras take.
Layer = Union[_layers.TimeLSTM, _layers.TimeGRU, _layers.TimeRNN, _layers.TimeBiLSTM,
              _layers.LSTM, _layers.GRU, _layers.RNN]
# What from_torch returns: a layer, a pair (GRU and RNN directions), a list per
# layer, or a language model.
_OneLayer = Union[_layers.TimeLSTM, _layers.TimeBiLSTM, _layers.TimeGRU, _layers.TimeRNN,
                  tuple[_layers.TimeGRU | _layers.TimeRNN, ...]]
FromTorch = Union[_OneLayer, list[_OneLayer], "Rnnlm", "BetterRnnlm"]

__all__ = ["from_torch", "to_torch", "from_keras", "to_keras"]

_FLOATS: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))


def lstm_to_torch_order(a: FloatArray) -> FloatArray:
    """Our gate blocks f, g, i, o along the last axis -> i, f, g, o (PyTorch's, Keras's)."""
    f, g, i, o = np.split(a, 4, axis=-1)
    return np.concatenate([i, f, g, o], axis=-1)


def gru_to_torch_order(a: FloatArray) -> FloatArray:
    """Our gate blocks z, r, h~ along the last axis -> PyTorch's r, z, n, with its
    z = 1 - ours (negated)."""
    z, r, n = np.split(a, 3, axis=-1)
    return np.concatenate([r, -z, n], axis=-1)


def _lstm_from_torch_order(a: FloatArray) -> FloatArray:
    """Gate blocks i, f, g, o along the last axis -> ours f, g, i, o."""
    i, f, g, o = np.split(a, 4, axis=-1)
    return np.concatenate([f, g, i, o], axis=-1)


def _gru_from_torch_order(a: FloatArray) -> FloatArray:
    """PyTorch's r, z, n (z = 1 - ours) along the last axis -> ours z, r, h~."""
    r, z, n = np.split(a, 3, axis=-1)
    return np.concatenate([-z, r, n], axis=-1)


def _gru_negate_z(a: FloatArray) -> FloatArray:
    """Keras's z, r, h with its z = 1 - ours, and back: negate the z block."""
    z, r, h = np.split(a, 3, axis=-1)
    return np.concatenate([-z, r, h], axis=-1)


# ---- PyTorch -------------------------------------------------------------------------

def _import_torch() -> Torch:
    try:
        import torch
    except ImportError as e:
        raise ImportError("this conversion needs PyTorch, which gatedrnn does not install: "
                          "pip install torch") from e
    return torch


def _numpy(tensor: Torch, dtype: np.dtype[Any]) -> FloatArray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=dtype)


def _module_dtype(module: Torch, dtype: DTypeLike | None) -> np.dtype[Any]:
    """The NumPy dtype of the converted weights: `dtype`, or the module's if it
    is float32 or float64 (anything else needs dtype= chosen: no silent cast)."""
    first = next(module.parameters())
    found = np.dtype(str(first.dtype).removeprefix("torch."))
    if dtype is None:
        if found not in _FLOATS:
            raise TypeError(f"the module's weights are {found}; gatedrnn layers are float32 or "
                            f"float64: pass dtype=np.float32 (or np.float64) to convert them")
        return found
    dtype = np.dtype(dtype)
    if dtype not in _FLOATS:
        raise TypeError(f"dtype must be float32 or float64; got {dtype}")
    return dtype


def _torch_weights(module: Torch, layer: int, suffix: str, dtype: np.dtype[Any]
                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(W_ih^T, W_hh^T, b_ih, b_hh) of one layer and direction, in PyTorch's gate order."""
    name = f"l{layer}{suffix}"
    W_ih = _numpy(getattr(module, f"weight_ih_{name}"), dtype).T
    W_hh = _numpy(getattr(module, f"weight_hh_{name}"), dtype).T
    if module.bias:
        b_ih = _numpy(getattr(module, f"bias_ih_{name}"), dtype)
        b_hh = _numpy(getattr(module, f"bias_hh_{name}"), dtype)
    else:
        b_ih = b_hh = np.zeros(W_ih.shape[1], dtype)
    return W_ih, W_hh, b_ih, b_hh


def _layer_from_torch(kind: str, module: Torch, layer: int, suffix: str,
                      dtype: np.dtype[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
    W_ih, W_hh, b_ih, b_hh = _torch_weights(module, layer, suffix, dtype)
    if kind == "LSTM":
        order = _lstm_from_torch_order
        return (np.ascontiguousarray(order(W_ih)), np.ascontiguousarray(order(W_hh)),
                np.ascontiguousarray(order(b_ih + b_hh)))
    if kind == "GRU":
        b = np.stack([_gru_from_torch_order(b_ih), _gru_from_torch_order(b_hh)])
        return (np.ascontiguousarray(_gru_from_torch_order(W_ih)),
                np.ascontiguousarray(_gru_from_torch_order(W_hh)), b)
    return np.ascontiguousarray(W_ih), np.ascontiguousarray(W_hh), b_ih + b_hh


def from_torch(module: Torch, *, dtype: DTypeLike | None = None) -> FromTorch:
    """The gatedrnn layer(s) computing what a PyTorch module computes.

    ``nn.LSTM`` gives a ``TimeLSTM``, ``nn.GRU`` a ``TimeGRU(reset_after=True)``
    and ``nn.RNN`` a ``TimeRNN`` (tanh or relu, as the module's), holding converted copies of the
    weights, in the module's dtype (float32 or float64; ``dtype`` chooses
    another). With ``bidirectional=True`` an LSTM gives a ``TimeBiLSTM``, and a
    GRU or an RNN a pair (forward direction, backward direction: run the
    second on the reversed sequence). With ``num_layers > 1`` the result is a
    list, one entry per layer (PyTorch's dropout between layers is not
    carried over). A module made by ``to_torch`` from a language model gives
    that model back.

    The layers are batch-first, whatever the module's ``batch_first``: they
    take (N, T, D). ``proj_size`` and other modules raise.

    Parameters
    ----------
    module : torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN, or a module from `to_torch`
    dtype : float32 or float64, keyword-only, optional
        The layers' dtype; by default the module's.

    Returns
    -------
    TimeLSTM, TimeGRU, TimeRNN, TimeBiLSTM, a pair, a list, Rnnlm or BetterRnnlm
        As above.

    Raises
    ------
    ImportError
        Without torch (it is imported only here, never a dependency).
    TypeError
        For another module, or a dtype other than float32/float64.
    ValueError
        For an LSTM with ``proj_size``.

    Notes
    -----
    PyTorch's LSTM orders its gates i, f, g, o and stores ``weight_ih_l0``
    as (4H, D): the blocks are permuted to f, g, i, o and transposed, and
    ``b = b_ih + b_hh``. PyTorch's GRU orders its gates r, z, n with
    ``h' = z h + (1 - z) n``: its z columns are negated to give ours, and
    its two biases become the rows of ``b`` (2, 3H).

    Examples
    --------
    The example runs where torch is installed:

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> import numpy as np
    >>> from gatedrnn.interop import from_torch
    >>> module = torch.nn.LSTM(3, 4, batch_first=True).double()
    >>> layer = from_torch(module)
    >>> xs = np.random.default_rng(0).standard_normal((2, 5, 3))
    >>> expected = module(torch.from_numpy(xs))[0].detach().numpy()
    >>> type(layer).__name__, np.allclose(layer.forward(xs), expected)
    ('TimeLSTM', True)
    """
    torch = _import_torch()
    if getattr(module, "_gatedrnn_language_model", False):
        return _language_model_from_torch(module, dtype)
    kinds = {torch.nn.LSTM: "LSTM", torch.nn.GRU: "GRU", torch.nn.RNN: "RNN"}
    kind = kinds.get(type(module))
    if kind is None:
        raise TypeError(f"from_torch takes nn.LSTM, nn.GRU, nn.RNN or a module made by "
                        f"to_torch; got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"an LSTM with proj_size={module.proj_size} has no gatedrnn "
                         f"equivalent (the hidden state is projected)")
    dtype = _module_dtype(module, dtype)
    layers: list[_OneLayer] = []
    for layer in range(module.num_layers):
        dirs = [_layer_from_torch(kind, module, layer, suffix, dtype)
                for suffix in (["", "_reverse"] if module.bidirectional else [""])]
        if kind == "LSTM" and module.bidirectional:
            layers.append(_layers.TimeBiLSTM(*dirs[0], *dirs[1]))
        elif kind == "LSTM":
            layers.append(_layers.TimeLSTM(*dirs[0]))
        else:
            made = [_layers.TimeGRU(*w, reset_after=True) if kind == "GRU"
                    else _layers.TimeRNN(*w, nonlinearity=module.nonlinearity) for w in dirs]
            layers.append(tuple(made) if module.bidirectional else made[0])
    return layers if module.num_layers > 1 else layers[0]


def _weights_of(layer: object) -> tuple[str, list[FloatArray]]:
    """[Wx, Wh, b] per direction, and the torch class's name, for a gatedrnn layer."""
    if isinstance(layer, (_layers.TimeBiLSTM, _layers.TimeLSTM, _layers.LSTM)):
        return "LSTM", layer.params
    if isinstance(layer, (_layers.TimeGRU, _layers.GRU)):
        if not layer.reset_after:
            raise ValueError("PyTorch's GRU is the reset-after variant; a GRU with "
                             "reset_after=False (the book's) has no PyTorch equivalent")
        return "GRU", layer.params
    if isinstance(layer, (_layers.TimeRNN, _layers.RNN)):
        return "RNN", layer.params
    raise TypeError(f"to_torch takes a gatedrnn layer (TimeLSTM, TimeGRU, TimeRNN, "
                    f"TimeBiLSTM or a single step), a list of them, or a gatedrnn.lm model; "
                    f"got {type(layer).__name__}")


def _torch_tensors(kind: str, Wx: FloatArray, Wh: FloatArray, b: FloatArray, suffix: str,
                   layer: int = 0) -> dict[str, FloatArray]:
    name = f"l{layer}{suffix}"
    if kind == "LSTM":
        W_ih, W_hh, b_ih = (lstm_to_torch_order(a) for a in (Wx, Wh, b))
        b_hh = np.zeros_like(b)
    elif kind == "GRU":
        W_ih, W_hh = gru_to_torch_order(Wx), gru_to_torch_order(Wh)
        b_ih, b_hh = gru_to_torch_order(b[0]), gru_to_torch_order(b[1])
    else:
        W_ih, W_hh, b_ih, b_hh = Wx, Wh, b, np.zeros_like(b)
    return {f"weight_ih_{name}": W_ih.T, f"weight_hh_{name}": W_hh.T,
            f"bias_ih_{name}": b_ih, f"bias_hh_{name}": b_hh}


def _copy_into(torch: Torch, module: Torch, tensors: dict[str, FloatArray]) -> Torch:
    with torch.no_grad():
        for name, value in tensors.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def to_torch(layer: "Layer | Sequence[Layer] | Rnnlm | BetterRnnlm") -> Torch:
    """A batch-first PyTorch module (on the CPU, in the layer's dtype)
    computing what ``layer`` computes, with converted copies of its weights.

    ``layer`` is a ``TimeLSTM``, ``TimeGRU`` (``reset_after=True`` only: the
    book's GRU has no PyTorch equivalent), ``TimeRNN`` or ``TimeBiLSTM`` (or a
    single-step ``LSTM``, ``GRU``, ``RNN``), a list of layers of one kind
    whose sizes chain (one module with ``num_layers``), or a ``gatedrnn.lm``
    model (``Rnnlm``, ``BetterRnnlm``: see ``from_torch`` for the way back).

    Parameters
    ----------
    layer : a gatedrnn layer, a list of them, Rnnlm or BetterRnnlm
        As above.

    Returns
    -------
    torch.nn.Module
        ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` with ``batch_first=True``; for
        a language model a module ``module(ids, state) -> (scores, state)``.

    Raises
    ------
    ImportError
        Without torch.
    TypeError
        For an object that is not one of these layers.
    ValueError
        For the book's GRU (``reset_after=False``), an empty list, or a list
        of layers of several kinds or whose sizes do not chain.

    Examples
    --------
    The example runs where torch is installed:

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> import numpy as np
    >>> from gatedrnn import TimeGRU
    >>> from gatedrnn.interop import to_torch
    >>> rng = np.random.default_rng(0)
    >>> layer = TimeGRU(rng.standard_normal((3, 12)), rng.standard_normal((4, 12)),
    ...                 np.zeros((2, 12)), reset_after=True)
    >>> module = to_torch(layer)
    >>> xs = rng.standard_normal((2, 5, 3))
    >>> expected = module(torch.from_numpy(xs))[0].detach().numpy()
    >>> type(module).__name__, np.allclose(layer.forward(xs), expected)
    ('GRU', True)
    """
    torch = _import_torch()
    from .lm.models import BetterRnnlm, Rnnlm
    if isinstance(layer, (Rnnlm, BetterRnnlm)):
        return _language_model_to_torch(torch, layer)
    # Any: _weights_of checks each item's type below.
    stack: list[Any] = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    if not stack:
        raise ValueError("to_torch needs at least one layer")
    found = [_weights_of(item) for item in stack]
    kinds = {k for k, _ in found}
    directions = {isinstance(item, _layers.TimeBiLSTM) for item in stack}
    if len(kinds) > 1 or len(directions) > 1:
        raise ValueError("a list given to to_torch must hold layers of one kind")
    kind, bidirectional = kinds.pop(), directions.pop()
    D, H = found[0][1][0].shape[0], found[0][1][1].shape[0]
    dtype = found[0][1][0].dtype
    dirs = 2 if bidirectional else 1
    for k, (_, params) in enumerate(found[1:], 1):
        if params[0].shape[0] != dirs * H or params[1].shape[0] != H:
            raise ValueError(f"layer {k} of the list takes D={params[0].shape[0]}, H="
                             f"{params[1].shape[0]}; stacked on layer {k - 1} it must take "
                             f"D={dirs * H}, H={H}")
    options: dict[str, str] = {}
    if kind == "RNN":
        nonlinearities = {item.nonlinearity for item in stack}
        if len(nonlinearities) > 1:
            raise ValueError("a list given to to_torch must hold RNNs of one nonlinearity")
        options["nonlinearity"] = nonlinearities.pop()
    cls = getattr(torch.nn, kind)
    module = cls(D, H, num_layers=len(stack), batch_first=True, bidirectional=bidirectional,
                 **options)
    module = module.to({np.dtype(np.float32): torch.float32,
                        np.dtype(np.float64): torch.float64}[np.dtype(dtype)])
    tensors: dict[str, FloatArray] = {}
    for k, (_, params) in enumerate(found):
        for d, suffix in enumerate(["", "_reverse"][:dirs]):
            tensors.update(_torch_tensors(kind, params[3 * d], params[3 * d + 1], params[3 * d + 2],
                                          suffix, layer=k))
    return _copy_into(torch, module, tensors)


# ---- the language models ---------------------------------------------------------------

_LANGUAGE_MODEL: Any = None  # the class, made on first use


def _language_model_class(torch: Torch) -> Any:
    """The PyTorch twin of gatedrnn.lm's models, made once torch is imported."""
    global _LANGUAGE_MODEL
    if _LANGUAGE_MODEL is not None:
        return _LANGUAGE_MODEL

    class TorchLanguageModel(torch.nn.Module):  # type: ignore[misc]  # torch is Any here
        """Embedding -> dropout -> LSTM (num_layers, dropout between them) ->
        dropout -> linear, batch-first: ``forward(ids (N, T), state=None) ->
        (scores (N, T, V), state)``; pass the returned state to the next call
        to carry it as the book's stateful layers do. With ``tied`` the linear
        layer's weight is the embedding (BetterRnnlm)."""

        _gatedrnn_language_model = True

        def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int,
                     num_layers: int = 1, dropout: float = 0.0, tied: bool = False) -> None:
            super().__init__()
            self.config = dict(vocab_size=vocab_size, wordvec_size=wordvec_size,
                               hidden_size=hidden_size, num_layers=num_layers, dropout=dropout,
                               tied=tied)
            self.embed = torch.nn.Embedding(vocab_size, wordvec_size)
            self.drop = torch.nn.Dropout(dropout)
            self.lstm = torch.nn.LSTM(wordvec_size, hidden_size, num_layers=num_layers,
                                      batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0)
            self.linear = torch.nn.Linear(hidden_size, vocab_size)
            if tied:
                self.linear.weight = self.embed.weight

        def forward(self, ids: Torch, state: Torch = None) -> tuple[Torch, Torch]:
            hs, state = self.lstm(self.drop(self.embed(ids)), state)
            return self.linear(self.drop(hs)), state

    _LANGUAGE_MODEL = TorchLanguageModel
    return TorchLanguageModel


def _language_model_to_torch(torch: Torch, model: "Rnnlm | BetterRnnlm") -> Torch:
    from .lm.models import BetterRnnlm
    better = isinstance(model, BetterRnnlm)
    p = model.params
    V, D = p[0].shape
    H = p[2].shape[0]
    cls = _language_model_class(torch)
    dropout = model.drop_layers[0].dropout_ratio if isinstance(model, BetterRnnlm) else 0.0
    module = cls(V, D, H, num_layers=2 if better else 1, dropout=dropout, tied=better)
    module = module.to({np.dtype(np.float32): torch.float32,
                        np.dtype(np.float64): torch.float64}[p[0].dtype])
    tensors = {"embed.weight": p[0]}
    for k in range(2 if better else 1):
        tensors.update({f"lstm.{n}": v for n, v in
                        _torch_tensors("LSTM", p[1 + 3 * k], p[2 + 3 * k], p[3 + 3 * k], "",
                                       layer=k).items()})
    if better:
        tensors["linear.bias"] = p[7]
    else:
        tensors.update({"linear.weight": p[4].T, "linear.bias": p[5]})
    with torch.no_grad():
        state = module.state_dict()
        for name, value in tensors.items():
            state[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def _language_model_from_torch(module: Torch,
                               dtype: DTypeLike | None) -> "Rnnlm | BetterRnnlm":
    from .lm.models import BetterRnnlm, Rnnlm
    c = module.config
    dtype = _module_dtype(module, dtype)
    model: Rnnlm | BetterRnnlm
    if c["tied"]:
        model = BetterRnnlm(c["vocab_size"], c["wordvec_size"], c["hidden_size"],
                            dropout_ratio=c["dropout"], dtype=dtype)
    else:
        model = Rnnlm(c["vocab_size"], c["wordvec_size"], c["hidden_size"], dtype=dtype)
    arrays = [_numpy(module.embed.weight, dtype)]
    for k in range(c["num_layers"]):
        arrays += _layer_from_torch("LSTM", module.lstm, k, "", dtype)
    if c["tied"]:
        arrays.append(_numpy(module.linear.bias, dtype))
    else:
        arrays += [_numpy(module.linear.weight, dtype).T, _numpy(module.linear.bias, dtype)]
    for param, value in zip(model.params, arrays):
        param[...] = value
    return model


# ---- Keras ------------------------------------------------------------------------------

def from_keras(kind: str, kernel: ArrayLike, recurrent_kernel: ArrayLike, bias: ArrayLike, *,
               reset_after: bool = True, activation: str = "tanh"
               ) -> _layers.TimeLSTM | _layers.TimeGRU | _layers.TimeRNN:
    """The gatedrnn layer for a Keras layer's weights.

    The weights are NumPy arrays in Keras's layouts (no Keras import); they
    are copied, and their dtype is kept. The LSTM and GRU are those with
    Keras's default activations (tanh, and sigmoid for the gates).

    Parameters
    ----------
    kind : {"lstm", "gru", "simple_rnn"}
    kernel : array_like, shape (D, 4H), (D, 3H) or (D, H)
        Keras's ``kernel``. The LSTM's gates are i, f, c, o (reordered to
        f, g, i, o); the GRU's z, r, h with z = 1 - ours (its z columns are
        negated).
    recurrent_kernel : array_like, shape (H, 4H), (H, 3H) or (H, H)
    bias : array_like
        (4H,), (H,), or for the GRU (2, 3H) with ``reset_after=True``
        (Keras's default) and (3H,) with False.
    reset_after : bool, keyword-only, default True
        The GRU's variant.
    activation : {"tanh", "relu"}, keyword-only, default "tanh"
        "relu" for a ``simple_rnn`` only.

    Returns
    -------
    TimeLSTM, TimeGRU or TimeRNN

    Raises
    ------
    ValueError
        For an unknown `kind`, a bias of the wrong shape, or an activation
        other than tanh for the LSTM and GRU.

    See Also
    --------
    to_keras

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.interop import from_keras, to_keras
    >>> rng = np.random.default_rng(0)
    >>> kernel, recurrent = rng.standard_normal((3, 12)), rng.standard_normal((4, 12))
    >>> gru = from_keras("gru", kernel, recurrent, np.zeros((2, 12)))
    >>> type(gru).__name__, gru.reset_after
    ('TimeGRU', True)
    >>> np.array_equal(gru.params[0][:, :4], -kernel[:, :4])   # z negated
    True
    >>> np.array_equal(to_keras(gru)["kernel"], kernel)        # and back
    True
    """
    kernel, recurrent_kernel, bias = (np.asarray(a) for a in (kernel, recurrent_kernel, bias))
    if kind in ("lstm", "gru") and activation != "tanh":
        raise ValueError(f"gatedrnn's {kind.upper()} uses tanh; got activation={activation!r}")
    if kind == "lstm":
        Wx, Wh, b = (np.ascontiguousarray(_lstm_from_torch_order(a))
                     for a in (kernel, recurrent_kernel, bias))
        return _layers.TimeLSTM(Wx, Wh, b)
    if kind == "gru":
        want = (2, recurrent_kernel.shape[-1]) if reset_after else (recurrent_kernel.shape[-1],)
        if bias.shape != want:
            raise ValueError(f"a Keras GRU with reset_after={reset_after} has a bias of shape "
                             f"{want}; got {bias.shape}")
        Wx, Wh, b = (np.ascontiguousarray(_gru_negate_z(a))
                     for a in (kernel, recurrent_kernel, bias))
        return _layers.TimeGRU(Wx, Wh, b, reset_after=reset_after)
    if kind in ("simple_rnn", "rnn"):
        return _layers.TimeRNN(np.array(kernel), np.array(recurrent_kernel), np.array(bias),
                               nonlinearity=activation)
    raise ValueError(f"kind must be 'lstm', 'gru' or 'simple_rnn'; got {kind!r}")


def to_keras(layer: Layer) -> dict[str, Any]:
    """The weights of ``layer`` as NumPy arrays in Keras's layouts (copies).

    Parameters
    ----------
    layer : TimeLSTM, TimeGRU, TimeRNN, LSTM, GRU or RNN

    Returns
    -------
    dict
        ``kernel``, ``recurrent_kernel``, ``bias``, and for a GRU
        ``reset_after``, for an RNN ``activation``, ready for
        ``keras_layer.set_weights([d["kernel"], d["recurrent_kernel"], d["bias"]])``.

    Raises
    ------
    TypeError
        For another object (a TimeBiLSTM is two LSTMs: convert
        ``TimeLSTM(*layer.params[:3])`` and ``TimeLSTM(*layer.params[3:])``).

    See Also
    --------
    from_keras

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn import TimeLSTM
    >>> from gatedrnn.interop import to_keras
    >>> H = 2
    >>> b = np.concatenate([np.full(H, k, float) for k in (1, 2, 3, 4)])  # f, g, i, o
    >>> weights = to_keras(TimeLSTM(np.zeros((3, 4 * H)), np.zeros((H, 4 * H)), b))
    >>> sorted(weights), weights["bias"]                                   # i, f, c, o
    (['bias', 'kernel', 'recurrent_kernel'], array([3., 3., 1., 1., 2., 2., 4., 4.]))
    """
    if isinstance(layer, (_layers.TimeLSTM, _layers.LSTM)):
        kernel, recurrent, bias = (lstm_to_torch_order(a) for a in layer.params)
        return dict(kernel=kernel, recurrent_kernel=recurrent, bias=bias)
    if isinstance(layer, (_layers.TimeGRU, _layers.GRU)):
        kernel, recurrent, bias = (_gru_negate_z(a) for a in layer.params)
        return dict(kernel=kernel, recurrent_kernel=recurrent, bias=bias,
                    reset_after=layer.reset_after)
    if isinstance(layer, (_layers.TimeRNN, _layers.RNN)):
        return dict(zip(("kernel", "recurrent_kernel", "bias"), (p.copy() for p in layer.params)),
                    activation=layer.nonlinearity)
    raise TypeError(f"to_keras takes a TimeLSTM, TimeGRU, TimeRNN or a single step; "
                    f"got {type(layer).__name__} (a TimeBiLSTM is two LSTMs: convert "
                    f"TimeLSTM(*layer.params[:3]) and TimeLSTM(*layer.params[3:]))")
