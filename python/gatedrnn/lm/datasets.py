"""Corpora as word-id arrays: Penn Treebank (as the book's dataset/ptb.py) and
plain-text files.

Words are split the book's way: every newline becomes the word ``<eos>`` and
the text is split on whitespace. Nothing is lower-cased or otherwise changed.
The vocabulary lists words in order of first appearance (in PTB, in the
training split), so the ids equal the book's.

Where ``load_ptb`` looks for ``ptb.{train,valid,test}.txt``, in order:

1. the ``data_dir`` argument,
2. the folder named by the environment variable ``GATEDRNN_DATA``,
3. the user cache folder (``cache_dir()``, e.g. ``~/.cache/gatedrnn``),
4. otherwise it downloads the files into that cache from the ``data/`` folder
   of the public repository tomsercu/lstm, where the book's loader takes them.

In 1 and 2 the files may sit in the folder itself or in its ``ptb/``
subfolder; in 3 they sit in ``ptb/``. A folder given in 1 or 2 must hold the
files (there is no fallback past an explicit choice). Every file is checked
against the MD5 sums below, which the package carries.
"""
import functools
import hashlib
import os
import sys
import urllib.error
import urllib.request

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from .._typing import StrPath

EOS = "<eos>"
PTB_URL_BASE = "https://raw.githubusercontent.com/tomsercu/lstm/master/data/"
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
PTB_MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
}
ENV_DATA = "GATEDRNN_DATA"


class DataNotFoundError(FileNotFoundError):
    """A data file is missing and could not be downloaded.

    A `FileNotFoundError`; the message says where the files come from and
    where to put them.

    Examples
    --------
    >>> import tempfile
    >>> from gatedrnn.lm import load_ptb, DataNotFoundError
    >>> try:
    ...     load_ptb("test", tempfile.mkdtemp(), download=False)
    ... except DataNotFoundError as e:
    ...     print(type(e).__name__, isinstance(e, FileNotFoundError))
    DataNotFoundError True
    """


class DataIntegrityError(ValueError):
    """A data file exists but its contents are not the expected ones.

    A `ValueError`, raised when a file's MD5 sum differs from the one the
    package carries; the message names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm import load_ptb, DataIntegrityError
    >>> folder = tempfile.mkdtemp()
    >>> for split in ("train", "valid", "test"):
    ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
    ...         _ = f.write("not the treebank\\n")
    >>> try:
    ...     load_ptb("train", folder)
    ... except DataIntegrityError as e:
    ...     print(type(e).__name__, isinstance(e, ValueError))
    DataIntegrityError True
    """


def split_words(text: str) -> list[str]:
    """Split text into words the book's way.

    Every newline becomes the word ``<eos>``; the text is split on
    whitespace; nothing else changes.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Examples
    --------
    >>> from gatedrnn.lm import split_words
    >>> split_words("the cat\\nsat  down\\n")
    ['the', 'cat', '<eos>', 'sat', 'down', '<eos>']
    """
    return text.replace("\n", f" {EOS} ").split()


def cache_dir() -> str:
    """The user cache folder for gatedrnn's data (created on download only)."""
    if os.environ.get("XDG_CACHE_HOME"):
        base = os.environ["XDG_CACHE_HOME"]
    elif sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.path.expanduser("~/.cache")
    return os.path.join(base, "gatedrnn")


def _how_to_supply(name: str, problem: str) -> str:
    return (f"{problem}\n"
            f"Supply the Penn Treebank files {', '.join(PTB_FILES.values())} (the data/ folder "
            f"of the GitHub repository tomsercu/lstm) in a folder and either\n"
            f"  - pass it as data_dir=... (Python) or --data-dir (python -m gatedrnn), or\n"
            f"  - set the environment variable {ENV_DATA} to it, or\n"
            f"  - copy the files into {os.path.join(cache_dir(), 'ptb')}.\n"
            f"The files may sit in the folder itself or in its ptb/ subfolder.")


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: dict[tuple[str, int, int], bool] = {}


def _verify(path: str, name: str, cached: bool = False) -> str:
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if _verified.get(key):
        return path
    digest = _md5(path)
    if digest != PTB_MD5[name]:
        fix = (" or delete it to let gatedrnn download it again" if cached else "")
        raise DataIntegrityError(
            f"{path} is not the expected {name}: its MD5 is {digest}, expected {PTB_MD5[name]} "
            f"(the file is corrupt, truncated or a different version). Replace it with the "
            f"original from the data/ folder of the GitHub repository tomsercu/lstm{fix}.")
    _verified[key] = True
    return path


def _find_in(folder: str, name: str) -> str | None:
    for candidate in (os.path.join(folder, "ptb", name), os.path.join(folder, name)):
        if os.path.isfile(candidate):
            return candidate
    return None


def _missing_folders(folder: str) -> list[str]:
    """The folders, innermost first, that os.makedirs(folder) would create."""
    missing: list[str] = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _download(name: str, dest: str) -> str:
    """Download, verify and move into place; on any failure (Ctrl-C included)
    remove the partial file and the folders made for it."""
    url = PTB_URL_BASE + name
    created = _missing_folders(os.path.dirname(dest))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    part = f"{dest}.part{os.getpid()}"
    try:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as f:
                while True:
                    block = response.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
            raise DataNotFoundError(_how_to_supply(
                name, f"{name} was not found, and downloading it from {url} failed: {e}")) from e
        try:
            _verify(part, name)
        except DataIntegrityError:
            raise DataIntegrityError(f"the download of {name} from {url} has the wrong MD5 "
                                     f"(expected {PTB_MD5[name]}); nothing was saved") from None
        os.replace(part, dest)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        for folder in created:
            try:
                os.rmdir(folder)   # only if empty: another download may be using it
            except OSError:
                break
        raise
    return dest


def ptb_path(split: str, data_dir: StrPath | None = None, *, download: bool = True) -> str:
    """The verified path of a PTB split's file ('train', 'valid'/'val', 'test')."""
    name = PTB_FILES[_split(split)]
    for folder, origin in ((data_dir, "data_dir"), (os.environ.get(ENV_DATA), ENV_DATA)):
        if folder:
            found = _find_in(os.fspath(folder), name)
            if found is None:
                raise DataNotFoundError(_how_to_supply(
                    name, f"{name} is not in {origin} = {os.fspath(folder)!r} (looked for "
                          f"{os.path.join(folder, 'ptb', name)} and {os.path.join(folder, name)})"))
            return _verify(found, name)
    cached = os.path.join(cache_dir(), "ptb", name)
    if os.path.isfile(cached):
        return _verify(cached, name, cached=True)
    if not download:
        raise DataNotFoundError(_how_to_supply(name, f"{name} was not found (download=False)"))
    return _download(name, cached)


def _split(split: str) -> str:
    split = {"val": "valid"}.get(split, split)
    if split not in PTB_FILES:
        raise ValueError(f"split must be 'train', 'valid' (or 'val') or 'test'; got {split!r}")
    return split


def _read_words(path: str, encoding: str = "utf-8") -> list[str]:
    with open(path, encoding=encoding) as f:
        return split_words(f.read())


def build_vocab(words: Sequence[str]) -> tuple[dict[str, int], dict[int, str]]:
    """(word_to_id, id_to_word) in order of first appearance."""
    word_to_id: dict[str, int] = {}
    for w in words:
        if w not in word_to_id:
            word_to_id[w] = len(word_to_id)
    return word_to_id, {i: w for w, i in word_to_id.items()}


def words_to_ids(words: Sequence[str], word_to_id: Mapping[str, int], *, unk: str | None = None,
                 source: str = "the corpus") -> NDArray[np.int32]:
    """Word ids (int32) of ``words``. A word missing from the vocabulary is an
    error, unless ``unk`` names a vocabulary word to map unknown words to."""
    if unk is not None and unk not in word_to_id:
        raise ValueError(f"unk={unk!r} (--unk on the command line) is not a word of the "
                         f"vocabulary")
    get = word_to_id.get
    ids = np.fromiter((get(w, -1) for w in words), dtype=np.int64, count=len(words))
    missing = ids < 0
    if missing.any():
        if unk is None:
            unknown = list(dict.fromkeys(w for w, m in zip(words, missing) if m))
            shown = ", ".join(repr(w) for w in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise ValueError(f"{source} has {int(missing.sum())} word(s) not in the vocabulary "
                             f"({len(unknown)} distinct: {shown}). To map them to a vocabulary "
                             f"word such as '<unk>', pass --unk '<unk>' (python -m gatedrnn) or "
                             f"unk='<unk>' (Python); or build the vocabulary from a corpus that "
                             f"contains them")
        ids[missing] = word_to_id[unk]
    return ids.astype(np.int32)


@functools.lru_cache(maxsize=4)
def _ptb_vocab(train_path: str, _stamp: tuple[int, int]) -> tuple[dict[str, int], dict[int, str]]:
    return build_vocab(_read_words(train_path))


@functools.lru_cache(maxsize=8)
def _ptb_ids(path: str, _stamp: tuple[int, int], train_path: str,
             _train_stamp: tuple[int, int]) -> NDArray[np.int32]:
    word_to_id, _ = _ptb_vocab(train_path, _train_stamp)
    return words_to_ids(_read_words(path), word_to_id, source=path)


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def load_ptb(split: str = "train", data_dir: StrPath | None = None, *,
             download: bool = True) -> tuple[NDArray[np.int32], dict[str, int], dict[int, str]]:
    """Load a Penn Treebank split as word ids, as the book's ``ptb.load_data``.

    The files are looked for in `data_dir`, then ``$GATEDRNN_DATA``, then
    the user cache (``~/.cache/gatedrnn/ptb``), and are downloaded into the
    cache otherwise; each is checked against the MD5 sum the package carries.

    Parameters
    ----------
    split : {"train", "valid", "test"}, default "train"
    data_dir : str or os.PathLike, optional
        A folder holding the three files (or a ``ptb/`` subfolder with them).
    download : bool, keyword-only, default True
        Download missing files into the cache.

    Returns
    -------
    corpus : ndarray of int32, shape (n_words,)
        The split's word ids.
    word_to_id : dict of str to int
    id_to_word : dict of int to str
        The vocabulary (10,000 words) of the training split, in order of
        first appearance, so the ids equal the book's.

    Raises
    ------
    DataNotFoundError
        If a file is missing and cannot be downloaded (or `download` is False).
    DataIntegrityError
        If a file's contents are not PTB's.
    ValueError
        If `split` is unknown.

    Examples
    --------
    The example runs with the files in ``$GATEDRNN_DATA``:

    >>> import os, pytest
    >>> if not os.environ.get("GATEDRNN_DATA"): pytest.skip("needs the PTB files")
    >>> from gatedrnn.lm import load_ptb
    >>> corpus, word_to_id, id_to_word = load_ptb("train")
    >>> len(word_to_id), corpus.shape, id_to_word[0]
    (10000, (929589,), 'aer')
    """
    split = _split(split)
    train_path = ptb_path("train", data_dir, download=download)
    path = train_path if split == "train" else ptb_path(split, data_dir, download=download)
    word_to_id, id_to_word = _ptb_vocab(train_path, _stamp(train_path))
    corpus = _ptb_ids(path, _stamp(path), train_path, _stamp(train_path))
    return corpus.copy(), dict(word_to_id), dict(id_to_word)


def load_corpus(path: StrPath, word_to_id: Mapping[str, int] | None = None, *,
                unk: str | None = None, encoding: str = "utf-8"
                ) -> tuple[NDArray[np.int32], Mapping[str, int], dict[int, str]]:
    """Load a plain-text file as word ids, split like PTB (see `split_words`).

    Parameters
    ----------
    path : str or os.PathLike
        The text file.
    word_to_id : mapping of str to int, optional
        A vocabulary to use (e.g. the training corpus's, to evaluate on
        held-out text); by default it is built from this file, in order of
        first appearance.
    unk : str, keyword-only, optional
        The vocabulary word that replaces words outside `word_to_id`
        (PTB's is ``'<unk>'``); without it such words raise ValueError.
    encoding : str, keyword-only, default "utf-8"

    Returns
    -------
    corpus : ndarray of int32, shape (n_words,)
    word_to_id : mapping of str to int
    id_to_word : dict of int to str

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If the file holds no words, or words outside `word_to_id` (named in
        the message) and no `unk`.

    Examples
    --------
    >>> import os, tempfile
    >>> from gatedrnn.lm import load_corpus
    >>> path = os.path.join(tempfile.mkdtemp(), "text.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a b a\\nc\\n")
    >>> corpus, word_to_id, id_to_word = load_corpus(path)
    >>> corpus, word_to_id
    (array([0, 1, 0, 2, 3, 2], dtype=int32), {'a': 0, 'b': 1, '<eos>': 2, 'c': 3})
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no corpus file at {path!r}")
    words = _read_words(path, encoding)
    if not words:
        raise ValueError(f"{path!r} holds no words")
    if word_to_id is None:
        word_to_id, id_to_word = build_vocab(words)
    else:
        id_to_word = {i: w for w, i in word_to_id.items()}
    return words_to_ids(words, word_to_id, unk=unk, source=path), word_to_id, id_to_word
