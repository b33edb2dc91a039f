"""gatedrnn.lm parameter files: our .npz, the book's float16 pickle, and
refusal of pickles that are not plain array lists."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from gatedrnn.lm import BetterRnnlm, Rnnlm, load_params, model_from_params, save_params


def _models(seed=1):
    return [Rnnlm(30, 4, 5, seed=seed), BetterRnnlm(30, 6, 6, 0.5, seed=seed)]


@pytest.mark.parametrize("index", [0, 1], ids=["Rnnlm", "BetterRnnlm"])
def test_npz_roundtrip_is_exact(tmp_path, index):
    model = _models()[index]
    path = tmp_path / "m.npz"
    save_params(model, path, vocab=[f"w{i}" for i in range(30)])
    other = _models(seed=99)[index]
    other.load_params(str(path))
    for k, (a, b) in enumerate(zip(model.params, other.params)):
        np.testing.assert_array_equal(a, b, err_msg=f"params[{k}]")
    rebuilt, info = model_from_params(path)
    assert type(rebuilt) is type(model) and info["vocab"][:2] == ["w0", "w1"]
    for k, (a, b) in enumerate(zip(model.params, rebuilt.params)):
        np.testing.assert_array_equal(a, b, err_msg=f"rebuilt params[{k}]")
    if index == 1:
        np.testing.assert_array_equal(rebuilt.affine.params[0], rebuilt.params[0].T,
                                      err_msg="tying survives loading")


@pytest.mark.parametrize("index,count", [(0, 6), (1, 9)], ids=["Rnnlm", "BetterRnnlm"])
def test_book_pickle_format(tmp_path, index, count):
    model = _models()[index]
    path = tmp_path / "m.pkl"
    save_params(model, path)
    with open(path, "rb") as f:
        raw = pickle.load(f)
    assert len(raw) == count and all(a.dtype == np.float16 for a in raw)
    rebuilt, info = model_from_params(path)
    assert type(rebuilt) is type(model) and info["format"] == "pkl"
    for k, (a, b) in enumerate(zip(model.params, rebuilt.params)):
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a.astype(np.float16).astype(np.float32), b,
                                      err_msg=f"params[{k}] through float16")


class _Evil:
    def __reduce__(self):
        return (os.mkdir, ("/nonexistent-never-created-by-gatedrnn",))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump([np.zeros(3, np.float16), _Evil()], f)
    with pytest.raises(ValueError, match="refusing to load posix.mkdir|refusing to load os"):
        load_params(Rnnlm(10, 3, 3), path)
    assert not os.path.exists("/nonexistent-never-created-by-gatedrnn")


def test_mismatched_file_is_a_clear_error(tmp_path):
    path = tmp_path / "small.npz"
    save_params(Rnnlm(30, 4, 5, seed=0), path)
    with pytest.raises(ValueError, match=r"needs 6 arrays of shapes \[\(31, 4\)"):
        load_params(Rnnlm(31, 4, 5), path)
    with pytest.raises(ValueError, match="holds Rnnlm parameters"):
        load_params(BetterRnnlm(30, 4, 4), path)
    with pytest.raises(FileNotFoundError, match="no parameter file"):
        load_params(Rnnlm(30, 4, 5), tmp_path / "missing.npz")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="neither"):
        model_from_params(bad)


def test_reading_a_pickle_closes_its_file(tmp_path):
    # An unclosed file warns only when it is collected, so check in a fresh
    # interpreter with warnings as errors and the collector run.
    path = tmp_path / "m.pkl"
    save_params(Rnnlm(30, 4, 5, seed=0), path)
    code = ("import gc, warnings; from gatedrnn.lm import model_from_params, load_params, Rnnlm; "
            f"model_from_params({str(path)!r}); load_params(Rnnlm(30, 4, 5), {str(path)!r}); "
            "gc.collect()")
    out = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", code],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "ResourceWarning" not in out.stderr, out.stderr
