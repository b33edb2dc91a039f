"""gatedrnn.book.util against the book's clip_grads and eval_perplexity.

The references below restate the book's common/util.py: clip_grads as NumPy
evaluates it (the compiled sum must give the same bits), eval_perplexity with
the book's word-by-word batch loops and progress lines.
"""
import io
import sys
import warnings

import numpy as np
import pytest

from gatedrnn.book import util as book_util


def bits(a):
    return np.ascontiguousarray(a).view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_bits_equal(actual, expected, what):
    assert actual.dtype == expected.dtype, what
    np.testing.assert_array_equal(bits(actual), bits(expected), err_msg=what)


# ---- clip_grads ------------------------------------------------------------------

def reference_clip_grads(grads, max_norm):
    """The book's rule, as NumPy evaluates it: a running total of np.sum(g ** 2)
    from the int 0, its square root, and the scaling when the rate is below 1."""
    squares = 0
    for g in grads:
        squares = squares + np.sum(g ** 2)
    norm = np.sqrt(squares)
    rate = max_norm / (norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate


def make_grads(rng, shapes, dtypes, scale=1.0):
    return [(rng.standard_normal(s) * scale * 10.0 ** rng.integers(-3, 3, size=s)).astype(d)
            for s, d in zip(shapes, dtypes)]


def fortran(a):
    return np.asfortranarray(a)


def strided(a):
    big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


CASES = {
    "float32": ([(13, 7), (300,), (2, 3, 4), (1,)], [np.float32] * 4),
    "float64": ([(13, 7), (300,), (2, 3, 4), (1,)], [np.float64] * 4),
    "mixed": ([(5, 9), (129,), (4, 4)], [np.float32, np.float64, np.float32]),
    "large": ([(650, 400), (100_003,), (2600,)], [np.float32] * 3),
    "empty arrays": ([(0,), (3, 0), (6,)], [np.float32, np.float64, np.float32]),
}


@pytest.mark.parametrize("layout", [None, fortran, strided], ids=["C", "F", "strided"])
@pytest.mark.parametrize("max_norm", [0.25, 1e6], ids=["clipped", "not clipped"])
@pytest.mark.parametrize("case", list(CASES))
def test_clip_grads_matches_the_book_to_the_bit(case, max_norm, layout):
    rng = np.random.default_rng(0)
    shapes, dtypes = CASES[case]
    grads = make_grads(rng, shapes, dtypes)
    if layout is not None:
        grads = [layout(g) for g in grads]
    expected = [g.copy(order="K") for g in grads]   # NumPy sums in memory order
    reference_clip_grads(expected, max_norm)
    assert book_util.clip_grads(grads, max_norm) is None
    for k, (g, e) in enumerate(zip(grads, expected)):
        assert_bits_equal(g, e, f"{case} grads[{k}]")


# NumPy before 2.4 cuts sums of more than its 8192-element buffer into other
# blocks (measured on NumPy 2.2.6, which Python 3.10 gets: 1 to 2 ulp apart at
# 65,536, 260,000 and 1,000,003 elements), so the bits are NumPy 2.4's there,
# and older NumPy gets a few ulp.
EXACT_ABOVE_8192 = np.lib.NumpyVersion(np.__version__) >= "2.4.0"


def _assert_numpy_s_sum(got, expected, n, what):
    if n <= 8192 or EXACT_ABOVE_8192:
        assert_bits_equal(np.array(got), np.array(expected), what)
    else:
        ulp = np.spacing(np.abs(expected))
        assert abs(got - expected) <= 4 * ulp, (what, got, expected)


def test_the_sum_of_squares_is_numpy_s_to_the_bit():
    # NumPy's pairwise summation: under 8 terms in order, blocks of up to 128
    # in 8 accumulators, halves split at multiples of 8; every branch below.
    rng = np.random.default_rng(1)
    sizes = list(range(0, 260)) + [1023, 1024, 1031, 65_536, 1_000_003]
    for dtype in (np.float32, np.float64):
        for n in sizes:
            a = (rng.standard_normal(n) * rng.uniform(0.01, 100)).astype(dtype)
            got = book_util._sum_of_squares(a)
            expected = np.sum(a ** 2)
            assert type(got) is type(expected)
            _assert_numpy_s_sum(got, expected, n, f"{dtype.__name__} n={n}")
        for shape in [(650, 400), (10, 2, 33), (3, 1, 1)]:
            a = rng.standard_normal(shape).astype(dtype)
            for layout in (lambda x: x, fortran, strided):
                b = layout(a)
                _assert_numpy_s_sum(book_util._sum_of_squares(b), np.sum(b ** 2), b.size,
                                    f"{dtype.__name__} {shape}")


def test_the_float32_norm_is_a_float32_sum():
    # Where a float64 sum would differ: many small squares next to a large one.
    grads = [np.full(1_000_000, 1e-3, np.float32), np.ones(1, np.float32)]
    expected = [g.copy() for g in grads]
    reference_clip_grads(expected, 0.5)
    book_util.clip_grads(grads, 0.5)
    for g, e in zip(grads, expected):
        assert_bits_equal(g, e, "float32 sum")


def test_a_grad_listed_twice_counts_and_scales_twice():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((6, 7)).astype(np.float32)
    other = rng.standard_normal(5).astype(np.float32)
    expected_g, expected_other = g.copy(), other.copy()
    reference_clip_grads([expected_g, expected_g, expected_other], 0.1)
    book_util.clip_grads([g, g, other], 0.1)
    assert_bits_equal(g, expected_g, "the twice-listed grad")
    assert_bits_equal(other, expected_other, "the other grad")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_grads_as_the_book(bad):
    # NaN: the rate is NaN, nothing is scaled; Inf: the rate is 0, Inf * 0 is NaN.
    rng = np.random.default_rng(3)
    grads = make_grads(rng, [(4, 5), (6,)], [np.float32, np.float64])
    grads[0][1, 2] = bad
    expected = [g.copy() for g in grads]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reference_clip_grads(expected, 0.25)
        book_util.clip_grads(grads, 0.25)
    for k, (g, e) in enumerate(zip(grads, expected)):
        assert_bits_equal(g, e, f"grads[{k}] with {bad}")


def test_max_norm_as_a_numpy_scalar_keeps_numpy_s_arithmetic():
    rng = np.random.default_rng(4)
    grads = make_grads(rng, [(30, 40)], [np.float32])
    expected = [g.copy() for g in grads]
    reference_clip_grads(expected, np.float64(0.25))
    book_util.clip_grads(grads, np.float64(0.25))
    assert_bits_equal(grads[0], expected[0], "np.float64 max_norm")


@pytest.mark.parametrize("grads, max_norm, error, match", [
    (np.ones(3, np.float32), 1.0, TypeError, "grads must be a list"),
    ([np.ones(3, np.float32), [1.0, 2.0]], 1.0, TypeError, r"grads\[1\]"),
    ([np.ones(3, np.float32), np.ones(3, np.int64)], 1.0, TypeError, r"grads\[1\].*dtype"),
    ([np.ones(3, np.float32)], "1", TypeError, "max_norm"),
    ([np.ones(3, np.float32)], True, TypeError, "max_norm"),
    ([np.ones(3, np.float32)], float("nan"), ValueError, "max_norm"),
    ([np.ones(3, np.float32)], 0.0, ValueError, "max_norm"),
    ([np.ones(3, np.float32)], -1.0, ValueError, "max_norm"),
])
def test_clip_grads_bad_input_raises_and_changes_nothing(grads, max_norm, error, match):
    before = [np.array(g, copy=True) for g in (grads if isinstance(grads, list) else [grads])]
    with pytest.raises(error, match=match):
        book_util.clip_grads(grads, max_norm)
    for g, b in zip(grads if isinstance(grads, list) else [grads], before):
        np.testing.assert_array_equal(np.asarray(g), b)


def test_clip_grads_read_only_grad_raises_before_scaling_any():
    rng = np.random.default_rng(5)
    grads = make_grads(rng, [(5, 5), (4,)], [np.float32, np.float32], scale=100)
    grads[1].flags.writeable = False
    before = [g.copy() for g in grads]
    with pytest.raises(ValueError, match=r"grads\[1\] is read-only"):
        book_util.clip_grads(grads, 0.25)
    for g, b in zip(grads, before):
        assert_bits_equal(g, b, "after the failed call")
    book_util.clip_grads(grads, 1e9)    # nothing to scale: read-only is fine


# ---- eval_perplexity -------------------------------------------------------------

class TinyModel:
    """A stateful stand-in for a book language model: its loss depends on the
    batch's words and on its state, in float32, and it records every call."""

    def __init__(self):
        self.calls = []
        self.resets = 0
        self.state = np.float32(0)

    def forward(self, xs, ts):
        self.calls.append((xs.copy(), ts.copy()))
        mix = np.float32((xs * 3 + ts).sum() % 97) / np.float32(17)
        self.state = np.float32(0.5) * self.state + mix
        return np.float32(1) + self.state / np.float32(10)

    def reset_state(self):
        self.resets += 1
        self.state = np.float32(0)


class TrainFlagModel(TinyModel):
    def forward(self, xs, ts, train_flg=True):
        assert train_flg is False, "evaluation must pass train_flg=False"
        return super().forward(xs, ts)


class KeywordModel(TinyModel):
    def forward(self, xs, ts, **options):
        assert options == {"train_flg": False}
        return super().forward(xs, ts)


def reference_eval_perplexity(model, corpus, batch_size, time_size, out):
    """The book's evaluation, word by word, asking forward for train_flg=False first."""
    out.write("evaluating perplexity ...\n")
    n = len(corpus)
    batches = (n - 1) // (batch_size * time_size)
    jump = (n - 1) // batch_size
    total = 0
    for j in range(batches):
        xs = np.zeros((batch_size, time_size), np.int32)
        ts = np.zeros((batch_size, time_size), np.int32)
        for t in range(time_size):
            for i in range(batch_size):
                where = j * time_size + i * jump + t
                xs[i, t] = corpus[where % n]
                ts[i, t] = corpus[(where + 1) % n]
        try:
            loss = model.forward(xs, ts, train_flg=False)
        except TypeError:
            loss = model.forward(xs, ts)
        total += loss
        out.write("\r%d / %d" % (j, batches))
    out.write("\n")
    return np.exp(total / batches)


@pytest.mark.parametrize("model_class", [TinyModel, TrainFlagModel, KeywordModel])
@pytest.mark.parametrize("batch_size, time_size, size", [(10, 35, 1000), (3, 7, 64), (1, 1, 2),
                                                          (4, 5, 21)])
def test_eval_perplexity_matches_the_book(model_class, batch_size, time_size, size, capsys):
    rng = np.random.default_rng(6)
    corpus = rng.integers(0, 500, size=size)
    reference_model, model = model_class(), model_class()
    expected_out = io.StringIO()
    expected = reference_eval_perplexity(reference_model, corpus, batch_size, time_size,
                                         expected_out)
    got = book_util.eval_perplexity(model, corpus, batch_size, time_size)
    assert type(got) is type(expected)
    assert got == expected
    assert capsys.readouterr().out == expected_out.getvalue()
    assert len(model.calls) == len(reference_model.calls) == (size - 1) // (batch_size * time_size)
    for (xs, ts), (rxs, rts) in zip(model.calls, reference_model.calls):
        assert xs.dtype == ts.dtype == np.int32
        np.testing.assert_array_equal(xs, rxs)
        np.testing.assert_array_equal(ts, rts)
    assert model.resets == 0, "the book leaves the state as it is"


def test_eval_perplexity_defaults_and_a_list_corpus(capsys):
    corpus = [k % 13 for k in range(1200)]
    model, reference_model = TinyModel(), TinyModel()
    expected = reference_eval_perplexity(reference_model, corpus, 10, 35, io.StringIO())
    assert book_util.eval_perplexity(model, corpus) == expected
    assert len(model.calls) == 3


def test_eval_perplexity_with_a_python_float_loss(capsys):
    class FloatModel(TinyModel):
        def forward(self, xs, ts):
            return float(super().forward(xs, ts))
    corpus = np.arange(100) % 7
    expected = reference_eval_perplexity(FloatModel(), corpus, 2, 5, io.StringIO())
    got = book_util.eval_perplexity(FloatModel(), corpus, 2, 5)
    assert type(got) is np.float64 and got == expected


@pytest.mark.parametrize("args, error, match", [
    (dict(corpus=np.arange(10)), ValueError, "too short"),
    (dict(corpus=np.arange(400).reshape(20, 20)), ValueError, "1-D"),
    (dict(corpus=np.linspace(0, 1, 400)), TypeError, "integer"),
    (dict(corpus=np.arange(400) + 2 ** 40), ValueError, "int32"),
    (dict(corpus=np.arange(400), batch_size=0), ValueError, "batch_size"),
    (dict(corpus=np.arange(400), time_size=2.5), TypeError, "time_size"),
    (dict(corpus=np.arange(400), batch_size=True), TypeError, "batch_size"),
    (dict(corpus=np.arange(400), model=object()), TypeError, "forward"),
])
def test_eval_perplexity_bad_input(args, error, match, capsys):
    model = args.pop("model", TinyModel())
    with pytest.raises(error, match=match):
        book_util.eval_perplexity(model, **args)
    assert getattr(model, "calls", []) == []
    assert capsys.readouterr().out == ""


def test_names():
    assert book_util.__all__ == ["clip_grads", "eval_perplexity"]
    assert sys.modules["gatedrnn.book.util"] is book_util
