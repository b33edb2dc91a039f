"""Saving and loading a model's parameters: the file formats. This module
knows no model class (a model is anything with ``params`` and
``book_params()``); the models use it, and ``model_from_params``, which
builds a model from a file, lives with them in models.py.

Two formats:

``.npz`` (ours, the default): a NumPy archive read with ``allow_pickle=False``,
so loading one never runs code. The arrays keep their dtype (float32), and
the archive records the model class, its sizes and optionally the
vocabulary, so ``python -m gatedrnn eval`` can rebuild the model from the
file alone.

``.pkl`` (the book's, ``BaseModel.save_params``): a pickled list of float16
arrays in the model's ``params`` order (BetterRnnlm lists its tied weight
twice). **Unpickling an untrusted file can run arbitrary code.** This module
reads ``.pkl`` files with an unpickler that only admits the few NumPy names an
array list needs (``numpy.ndarray``, ``numpy.dtype`` and NumPy's array
reconstructor) and refuses anything else, which closes the usual route for
code execution; still, read only files you trust, and prefer ``.npz``:
``save_params(model, "model.npz")``. Writing ``.pkl`` (float16, as the book
does) exists for exchanging files with the book's code.
"""
import os
import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from .._typing import FloatArray, StrPath
from ._atomic import write_atomically

if TYPE_CHECKING:  # models imports this module
    from .models import _LanguageModel

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # NumPy < 2
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]  # NumPy 1's name

NPZ_FORMAT_VERSION = 1


class ParamsInfo(TypedDict):
    """What a parameter file says besides its arrays (None where it does not say)."""

    format: str  # "npz" or "pkl"
    model: str | None
    sizes: tuple[int, ...] | None
    vocab: list[str] | None

# The globals a pickled list of NumPy arrays refers to (NumPy 1.x and 2.x names).
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
}


class _ArrayListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a parameter pickle may only hold NumPy "
                f"arrays (this file is not a plain list of arrays, or is not safe to load)"
            ) from None


def _model_sizes(model: "_LanguageModel") -> tuple[int, int, int]:
    """(V, D, H) of a Rnnlm or BetterRnnlm."""
    V, D = model.params[0].shape
    H = model.params[2].shape[0]
    return V, D, H


def save_params(model: "_LanguageModel", path: StrPath, *,
                vocab: Sequence[str] | None = None, format: str | None = None) -> str:
    """Write ``model``'s parameters to ``path``.

    Parameters
    ----------
    model : Rnnlm or BetterRnnlm
    path : str or os.PathLike
        The file, written as given (no suffix added).
    vocab : sequence of str, keyword-only, optional
        The words in id order, stored in ``.npz`` files.
    format : {"npz", "pkl"}, keyword-only, optional
        ``"npz"`` (read without pickle; it records the model and its sizes)
        by default, and for any suffix but ``.pkl``; ``"pkl"`` is the book's
        pickled list of float16 arrays.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If `format` is unknown, or a vocabulary is given for ``.pkl``.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm import Rnnlm, save_params, load_params
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> model = Rnnlm(3, 2, 2, seed=0)
    >>> _ = save_params(model, path, vocab=["a", "b", "<eos>"])
    >>> load_params(Rnnlm(3, 2, 2, seed=1), path)["vocab"]
    ['a', 'b', '<eos>']
    """
    path = os.fspath(path)
    if format is None:
        format = "pkl" if path.endswith(".pkl") else "npz"
    if format == "pkl":
        if vocab is not None:
            raise ValueError("the book's .pkl format has no room for a vocabulary; use .npz")
        arrays = [np.asarray(p).astype(np.float16) for p in model.book_params()]
        write_atomically(path, lambda f: pickle.dump(arrays, f))
        return path
    if format != "npz":
        raise ValueError(f"format must be 'npz' or 'pkl'; got {format!r}")
    entries: dict[str, Any] = {f"param_{k}": np.asarray(p) for k, p in enumerate(model.params)}
    entries["model"] = np.array(type(model).__name__)
    entries["sizes"] = np.array(_model_sizes(model), np.int64)
    entries["format_version"] = np.array(NPZ_FORMAT_VERSION)
    if vocab is not None:
        entries["vocab"] = np.array(list(vocab), dtype=str)
    # np.savez appends .npz to names without it; write through a file object
    # so the file is exactly `path`. Written whole or not at all (_atomic.py).
    write_atomically(path, lambda f: np.savez(f, **entries))
    return path


def read_params_file(path: StrPath) -> tuple[list[FloatArray], ParamsInfo]:
    """(arrays, info) from a ``.npz`` or book ``.pkl`` file.

    info has "format" ("npz" or "pkl") and, for ``.npz``, "model", "sizes"
    and "vocab" (a list of words, or None).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no parameter file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        with np.load(path, allow_pickle=False) as z:
            n = sum(1 for k in z.files if k.startswith("param_"))
            arrays = [z[f"param_{k}"] for k in range(n)]
            info: ParamsInfo = {"format": "npz", "model": str(z["model"]) if "model" in z.files else None,
                    "sizes": tuple(int(s) for s in z["sizes"]) if "sizes" in z.files else None,
                    "vocab": [str(w) for w in z["vocab"]] if "vocab" in z.files else None}
        return arrays, info
    if head[:1] != b"\x80":
        raise ValueError(f"{path!r} is neither a .npz archive nor a pickle")
    with open(path, "rb") as f:
        try:
            arrays = _ArrayListUnpickler(f).load()
        except pickle.UnpicklingError as e:
            raise ValueError(f"cannot read {path!r} as the book's parameter pickle: {e}") from e
    if not isinstance(arrays, (list, tuple)) or not all(isinstance(a, np.ndarray)
                                                        for a in arrays):
        raise ValueError(f"{path!r} must hold a list of NumPy arrays (the book's format); got "
                         f"{type(arrays).__name__}")
    return list(arrays), {"format": "pkl", "model": None, "sizes": None, "vocab": None}


def assign_arrays(params: Sequence[FloatArray], arrays: Sequence[ArrayLike],
                  model_name: str) -> None:
    """Copy ``arrays`` into ``params`` in place, casting to each param's dtype."""
    want = [p.shape for p in params]
    got = [tuple(np.shape(a)) for a in arrays]
    if want != got:
        raise ValueError(f"the parameter file holds {len(got)} arrays of shapes {got}; "
                         f"{model_name} with these sizes needs {len(want)} arrays of shapes "
                         f"{want}")
    for p, a in zip(params, arrays):
        a = np.asarray(a)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"the parameter file holds non-finite values (array of shape "
                             f"{a.shape})")
        p[...] = a


def load_params(model: "_LanguageModel", path: StrPath) -> ParamsInfo:
    """Load a parameter file into ``model``'s arrays, in place.

    Parameters
    ----------
    model : Rnnlm or BetterRnnlm
    path : str or os.PathLike
        An ``.npz`` from `save_params`, or the book's ``.pkl`` (read with an
        unpickler that admits only NumPy arrays; still, unpickling can run
        code: read only files you trust).

    Returns
    -------
    dict
        What the file says besides its arrays: ``format``, ``model``,
        ``sizes`` and ``vocab`` (None where it does not say).

    Raises
    ------
    ValueError
        If the file holds another model's parameters or arrays that do not fit.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm import Rnnlm, load_params
    >>> path = os.path.join(tempfile.mkdtemp(), "Rnnlm.pkl")   # the book's format
    >>> Rnnlm(3, 2, 2, seed=0).save_params(path)
    >>> load_params(Rnnlm(3, 2, 2), path)["format"]
    'pkl'
    """
    arrays, info = read_params_file(path)
    if info["format"] == "npz":
        if info["model"] not in (None, type(model).__name__):
            raise ValueError(f"{os.fspath(path)!r} holds {info['model']} parameters; the model "
                             f"is a {type(model).__name__}")
        assign_arrays(model.params, arrays, type(model).__name__)
    else:
        model.load_book_arrays(arrays)
    return info
