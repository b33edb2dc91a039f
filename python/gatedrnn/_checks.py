"""Input validation shared by the layers: every message names the argument,
what was expected and what was given."""
from typing import Any

import numpy as np

from . import _kernels
from ._typing import FloatArray

FLOAT_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))


def as_c_array(a: FloatArray) -> FloatArray:
    """`a` as a C-contiguous, aligned ndarray; no copy when it already is one.

    The kernels read whole rows through plain pointers, so an unaligned array
    (e.g. np.frombuffer at an odd offset) would be undefined behaviour there.
    """
    flags = a.flags
    if flags.c_contiguous and flags.aligned:  # the usual case, without np.require's cost
        return a
    return np.require(a, requirements=["C", "A"])


def _require_ndarray(a: object, name: str) -> FloatArray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(a).__name__}")
    return a


# Where a weight arrives in another library's layout, the messages say so.
_INTEROP = "gatedrnn.interop converts PyTorch's and Keras's weights (from_torch, from_keras)"


def _hidden_size_votes(Wx: FloatArray, Wh: FloatArray, b: FloatArray, gates: int,
                       bias_rows: int, names: list[str]) -> tuple[int, str] | None:
    """H for a message about a Wh of the wrong shape, and what says so; None
    if no shape says anything. Wx's columns and b's length, the weights not
    in question, decide; Wh's own shape only breaks their disagreement or
    speaks when they are silent (a transposed Wh, (4H, H), before its rows)."""
    G = "" if gates == 1 else str(gates)
    own: list[tuple[int, str]] = []
    if Wh.ndim == 2:
        rows, cols = Wh.shape
        own.append((rows, f"{names[1]}.shape[0] = {rows}"))
        if cols % gates == 0:
            own.append((cols // gates, f"{names[1]}.shape[1] = {cols} = {G}H"))
        if gates > 1 and rows == gates * cols:  # PyTorch's (4H, H)
            own.append((cols, f"{names[1]}.shape[1] = {cols} ({names[1]} transposed)"))
    others: list[tuple[int, str]] = []
    if Wx.ndim == 2 and Wx.shape[1] % gates == 0:
        others.append((Wx.shape[1] // gates, f"{names[0]}.shape[1] = {Wx.shape[1]} = {G}H"))
    b_ok = b.ndim == bias_rows and (bias_rows == 1 or b.shape[0] == 2)
    if b_ok and b.shape[-1] % gates == 0:
        axis = b.ndim - 1
        others.append((b.shape[-1] // gates, f"{names[2]}.shape[{axis}] = {b.shape[-1]} = {G}H"))
    said_by_own = [h for h, _ in own]
    if others:
        agreed = [h for h, _ in others if h in said_by_own]
        H = others[0][0] if len({h for h, _ in others}) == 1 or not agreed else agreed[0]
    elif own:
        H = own[-1][0]  # transposed if that fits, else the rows
    else:
        return None
    sources = [why for h, why in own + others if h == H]
    said = sources[0] if len(sources) == 1 else ", ".join(sources[:-1]) + " and " + sources[-1]
    return H, said


def check_weights(Wx: FloatArray, Wh: FloatArray, b: FloatArray, gates: int = 4,
                  bias_rows: int = 1, suffix: str = "") -> tuple[int, int, np.dtype[Any]]:
    """Validate a cell's weights; return (D, H, dtype).

    Wx (D, G*H), Wh (H, G*H), b (G*H,) or (2, G*H) for bias_rows=2; one dtype,
    float32 or float64. `suffix` follows each name in messages (Wx1, ...).
    A shape message gives H (and D) as inferred from the other weights, the
    expected shape in numbers, and names PyTorch's transposed layouts.
    """
    G = "" if gates == 1 else str(gates)
    names = [name + suffix for name in ("Wx", "Wh", "b")]
    for name, a in zip(names, (Wx, Wh, b)):
        _require_ndarray(a, name)
    if Wx.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{names[0]} must have dtype float32 or float64; got {Wx.dtype}")
    for name, a in zip(names[1:], (Wh, b)):
        if a.dtype != Wx.dtype:
            raise TypeError(f"{name} must have the dtype of {names[0]} ({Wx.dtype}); "
                            f"got {a.dtype}")
    transposed = f"; {_INTEROP}" + (", gate order included" if gates > 1 else "")
    if Wh.ndim != 2 or Wh.shape[1] != gates * Wh.shape[0]:
        inferred = _hidden_size_votes(Wx, Wh, b, gates, bias_rows, names)
        if inferred is None:
            raise ValueError(f"{names[1]} must have shape (H, {G}H); got {Wh.shape}")
        h, said = inferred
        hint = ""
        if gates > 1 and Wh.shape == (gates * h, h):
            hint = (f", which is ({G}H, H): PyTorch's layout (weight_hh_l0), the transpose "
                    f"of ours{transposed}")
        raise ValueError(f"{names[1]} must have shape (H, {G}H) = ({h}, {gates * h}), with "
                         f"H = {h} from {said}; got {Wh.shape}{hint}")
    H = Wh.shape[0]
    from_Wh = f"H = {H} from {names[1]}.shape = {Wh.shape}"
    if Wx.ndim != 2 or Wx.shape[1] != gates * H:
        if Wx.ndim != 2:
            raise ValueError(f"{names[0]} must have shape (D, {G}H) = (D, {gates * H}), with "
                             f"{from_Wh}; got {Wx.shape}")
        if Wx.shape[0] == gates * H:  # PyTorch's (4H, D)
            D = Wx.shape[1]
            raise ValueError(f"{names[0]} must have shape (D, {G}H) = ({D}, {gates * H}), with "
                             f"{from_Wh} and D = {D} from {names[0]}.shape[1]; got "
                             f"{Wx.shape}, which is ({G}H, D): PyTorch's layout "
                             f"(weight_ih_l0), the transpose of ours{transposed}")
        D = Wx.shape[0]
        raise ValueError(f"{names[0]} must have shape (D, {G}H) = ({D}, {gates * H}), with "
                         f"{from_Wh} and D = {D} from {names[0]}.shape[0]; got "
                         f"{Wx.shape}")
    want = (gates * H,) if bias_rows == 1 else (2, gates * H)
    if b.shape != want:
        letters = f"({G}H,)" if bias_rows == 1 else f"(2, {G}H)"
        what = " (input and recurrent biases)" if bias_rows == 2 else ""
        hint = ""
        if bias_rows == 1 and b.shape == (2, gates * H):
            hint = (": (2, 3H) is the bias of TimeGRU(reset_after=True), PyTorch's and Keras's "
                    "GRU" if gates == 3 else
                    ": one row; PyTorch's two biases go in as their sum, b_ih + b_hh"
                    ) + f"; {_INTEROP}"
        elif bias_rows == 2 and b.shape == (gates * H,):
            hint = (": (3H,) is the bias of the book's GRU (reset_after=False); here row 0 is "
                    f"the input bias and row 1 the recurrent one; {_INTEROP}")
        raise ValueError(f"{names[2]} must have shape {letters} = {want}{what}, "
                         f"with {from_Wh}; got {b.shape}{hint}")
    _kernels.check_sizes(0, 0, Wx.shape[0], H, f"{names[0]} {Wx.shape} with {names[1]} "
                                                f"{Wh.shape}")
    return Wx.shape[0], H, Wx.dtype


def check_array(a: object, name: str, dtype: np.dtype[Any], shape: tuple[int | None, ...],
                letters: str, why: str = "", contiguous: bool = True) -> FloatArray:
    """Return `a` as a C-contiguous, aligned array (no copy when it already is one).

    shape holds the required size of each axis, or None where any size goes;
    letters names the axes for the message, e.g. "(N, T, D)". With
    contiguous=False `a` is returned as it is, for a size check before a copy.
    """
    a = _require_ndarray(a, name)
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, the dtype of the layer's weights; "
                        f"got {a.dtype} (convert explicitly, e.g. {name}.astype(np.{dtype}))")
    if a.ndim != len(shape) or any(want is not None and want != got
                                   for want, got in zip(shape, a.shape)):
        wanted = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        if len(shape) == 1:
            wanted = wanted[:-1] + ",)"
        detail = f" {why}" if why else ""
        raise ValueError(f"{name} must have shape {letters} = {wanted}{detail}; got {a.shape}")
    return as_c_array(a) if contiguous else a


def check_lengths(lengths: object, N: int, T: int) -> "np.ndarray[Any, np.dtype[np.int64]] | None":
    """Sequence lengths for a batch (N, T): None, or an own C-contiguous int64
    copy of an integer array (N,) with every value in [0, T]."""
    if lengths is None:
        return None
    if isinstance(lengths, (list, tuple)):
        lengths = np.asarray(lengths)
        if lengths.size == 0:
            lengths = lengths.astype(np.int64)
    if not isinstance(lengths, np.ndarray):
        raise TypeError(f"lengths must be an integer array of shape (N,) = ({N},), or None; "
                        f"got {type(lengths).__name__}")
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must have an integer dtype (one length per sequence); got "
                        f"{lengths.dtype}")
    if lengths.shape != (N,):
        raise ValueError(f"lengths must have shape (N,) = ({N},), one length per sequence of "
                         f"xs; got {lengths.shape}")
    bad = np.flatnonzero((lengths < 0) | (lengths > T))
    if bad.size:
        n = int(bad[0])
        raise ValueError(f"lengths must be in [0, T] = [0, {T}]; got lengths[{n}] = "
                         f"{int(lengths[n])} ({bad.size} out of range)")
    return np.array(lengths, dtype=np.int64, order="C")
