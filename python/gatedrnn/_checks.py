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


def check_weights(Wx: FloatArray, Wh: FloatArray, b: FloatArray, gates: int = 4,
                  bias_rows: int = 1, suffix: str = "") -> tuple[int, int, np.dtype[Any]]:
    """Validate a cell's weights; return (D, H, dtype).

    Wx (D, G*H), Wh (H, G*H), b (G*H,) or (2, G*H) for bias_rows=2; one dtype,
    float32 or float64. `suffix` follows each name in messages (Wx1, ...).
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
    if Wh.ndim != 2 or Wh.shape[1] != gates * Wh.shape[0]:
        raise ValueError(f"{names[1]} must have shape (H, {G}H); got {Wh.shape}")
    H = Wh.shape[0]
    if Wx.ndim != 2 or Wx.shape[1] != gates * H:
        raise ValueError(f"{names[0]} must have shape (D, {G}H) with {G}H == "
                         f"{names[1]}.shape[1] == {gates * H}; got {Wx.shape}")
    if bias_rows == 1 and b.shape != (gates * H,):
        raise ValueError(f"{names[2]} must have shape ({G}H,) == ({gates * H},); got {b.shape}")
    if bias_rows == 2 and b.shape != (2, gates * H):
        raise ValueError(f"{names[2]} must have shape (2, {G}H) == (2, {gates * H}) (input "
                         f"and recurrent biases); got {b.shape}")
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
