"""gatedrnn.lm datasets: PTB ids equal to the book's, where the files are
looked for, and clear errors for missing, corrupt or undownloadable data."""
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest

from gatedrnn.lm import DataIntegrityError, DataNotFoundError, load_corpus, load_ptb, split_words
from gatedrnn.lm import datasets

SPLITS = ("train", "valid", "test")


def test_md5_constants_match_the_shared_checksums(lm_ptb_dir):
    sums = os.path.join(lm_ptb_dir, "MD5SUMS")
    if not os.path.isfile(sums):
        pytest.skip(f"no MD5SUMS beside the PTB files in {lm_ptb_dir}")
    with open(sums) as f:
        listed = dict(reversed(line.split()) for line in f if line.strip())
    assert listed == datasets.PTB_MD5


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No GATEDRNN_DATA, an empty cache, and no network."""
    monkeypatch.delenv("GATEDRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    def offline(url, *a, **k):
        calls.append(url)
        raise urllib.error.URLError("network is unreachable (mocked)")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return calls


def book_ids(path, word_to_id=None):
    """The book's dataset/ptb.py reading, written out."""
    with open(path) as f:
        words = f.read().replace("\n", "<eos>").strip().split()
    if word_to_id is None:
        word_to_id = {}
        for w in words:
            if w not in word_to_id:
                word_to_id[w] = len(word_to_id)
    return np.array([word_to_id[w] for w in words]), word_to_id


def test_ptb_ids_equal_the_books(lm_ptb_dir, monkeypatch):
    monkeypatch.setenv("GATEDRNN_DATA", lm_ptb_dir)
    corpus, word_to_id, id_to_word = load_ptb("train")
    assert len(word_to_id) == 10000 and len(id_to_word) == 10000
    assert len(corpus) == 929589
    assert corpus.dtype == np.int32
    want, book_vocab = book_ids(os.path.join(lm_ptb_dir, "ptb.train.txt"))
    assert list(word_to_id) == list(book_vocab), "vocabulary in order of first appearance"
    np.testing.assert_array_equal(corpus, want, err_msg="train ids")
    assert id_to_word[int(corpus[0])] == "aer" and "<eos>" in word_to_id
    for split, n in (("valid", 73760), ("test", 82430)):
        ids, w2i, _ = load_ptb(split)
        assert len(ids) == n, split
        np.testing.assert_array_equal(ids, book_ids(os.path.join(lm_ptb_dir, f"ptb.{split}.txt"),
                                                    book_vocab)[0], err_msg=f"{split} ids")
        assert w2i == word_to_id
    np.testing.assert_array_equal(load_ptb("val")[0], load_ptb("valid")[0])


def test_lookup_order(lm_ptb_dir, isolated, monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b" / "ptb"
    cache = tmp_path / "cache" / "gatedrnn" / "ptb"
    for folder in (a, b, cache):
        folder.mkdir(parents=True)
        for s in SPLITS:
            os.symlink(os.path.join(lm_ptb_dir, f"ptb.{s}.txt"), folder / f"ptb.{s}.txt")
    monkeypatch.setenv("GATEDRNN_DATA", str(tmp_path / "b"))      # files in its ptb/
    assert datasets.ptb_path("test", a) == str(a / "ptb.test.txt"), "data_dir first"
    assert datasets.ptb_path("test") == str(b / "ptb.test.txt"), "then GATEDRNN_DATA"
    monkeypatch.delenv("GATEDRNN_DATA")
    assert datasets.ptb_path("test") == str(cache / "ptb.test.txt"), "then the cache"
    assert isolated == [], "nothing downloaded"
    # An explicit folder without the files is an error, not a fallback.
    with pytest.raises(DataNotFoundError, match=r"ptb.test.txt is not in data_dir"):
        datasets.ptb_path("test", tmp_path / "empty")


def test_offline_without_data_says_how_to_supply_it(isolated):
    with pytest.raises(DataNotFoundError) as info:
        load_ptb("train")
    msg = str(info.value)
    assert "ptb.train.txt" in msg and "downloading it from" in msg
    assert "GATEDRNN_DATA" in msg and "data_dir" in msg and "--data-dir" in msg
    assert isolated == [datasets.PTB_URL_BASE + "ptb.train.txt"]
    # The failed download leaves nothing behind, not even the cache folders.
    assert not os.path.exists(os.path.dirname(datasets.cache_dir()))


def test_interrupted_download_leaves_nothing_behind(isolated, monkeypatch, tmp_path):
    class Interrupted(_Response):
        def read(self, n):
            if self.pos:
                raise KeyboardInterrupt
            return super().read(n)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **k: Interrupted(b"x" * 99))
    with pytest.raises(KeyboardInterrupt):
        datasets.ptb_path("valid")
    assert not os.path.exists(tmp_path / "cache")
    # A cache folder that was there before stays.
    (tmp_path / "cache" / "gatedrnn").mkdir(parents=True)
    with pytest.raises(KeyboardInterrupt):
        datasets.ptb_path("valid")
    assert os.listdir(tmp_path / "cache" / "gatedrnn") == []


class _Response:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_into_the_cache_is_verified(lm_ptb_dir, isolated, monkeypatch):
    files = {}
    for s in SPLITS:
        with open(os.path.join(lm_ptb_dir, f"ptb.{s}.txt"), "rb") as f:
            files[datasets.PTB_URL_BASE + f"ptb.{s}.txt"] = f.read()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **k: _Response(files[url]))
    corpus, w2i, _ = load_ptb("test")
    assert len(corpus) == 82430 and len(w2i) == 10000
    cached = os.path.join(datasets.cache_dir(), "ptb", "ptb.test.txt")
    assert os.path.isfile(cached)

    # A download with the wrong content is rejected and leaves nothing behind.
    os.remove(cached)
    files[datasets.PTB_URL_BASE + "ptb.test.txt"] = b"tampered\n"
    with pytest.raises(DataIntegrityError, match="wrong MD5"):
        datasets.ptb_path("test")
    assert sorted(os.listdir(os.path.dirname(cached))) == ["ptb.train.txt"]


def test_corrupt_file_names_the_file_and_the_fix(lm_ptb_dir, tmp_path):
    for s in SPLITS:
        shutil.copy(os.path.join(lm_ptb_dir, f"ptb.{s}.txt"), tmp_path)
    with open(tmp_path / "ptb.valid.txt", "ab") as f:
        f.write(b" extra\n")
    with pytest.raises(DataIntegrityError) as info:
        load_ptb("valid", tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "ptb.valid.txt") in msg and "MD5" in msg
    assert "tomsercu/lstm" in msg
    # The other splits are fine.
    assert len(load_ptb("test", tmp_path)[0]) == 82430


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"ptb.train.txt is not in data_dir"):
        load_ptb("test", tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        load_ptb("dev", tmp_path)


def test_split_words_matches_the_books_rule_on_ptb_style_lines():
    text = " the cat sat \n on the mat \n"
    assert split_words(text) == text.replace("\n", "<eos>").strip().split()
    assert split_words("no spaces\nat the ends\n") == ["no", "spaces", "<eos>", "at", "the",
                                                       "ends", "<eos>"]


def test_own_corpus_and_unknown_words(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("the cat sat\nthe dog sat <unk>\n")
    corpus, w2i, i2w = load_corpus(train)
    assert list(w2i) == ["the", "cat", "sat", "<eos>", "dog", "<unk>"]
    np.testing.assert_array_equal(corpus, [0, 1, 2, 3, 0, 4, 2, 5, 3])
    assert i2w[4] == "dog"
    held_out = tmp_path / "test.txt"
    held_out.write_text("the bird sat\nthe cow\n")
    with pytest.raises(ValueError, match=r"2 word\(s\) not in the vocabulary.*'bird', 'cow'") \
            as info:
        load_corpus(held_out, w2i)
    assert "--unk '<unk>'" in str(info.value) and "unk='<unk>'" in str(info.value)
    ids, _, _ = load_corpus(held_out, w2i, unk="<unk>")
    np.testing.assert_array_equal(ids, [0, 5, 2, 3, 0, 5, 3])
    with pytest.raises(ValueError, match="not a word of the vocabulary"):
        load_corpus(held_out, w2i, unk="<oov>")
    with pytest.raises(FileNotFoundError, match="no corpus file"):
        load_corpus(tmp_path / "nope.txt")
