"""clip_grads against the book's formula."""
import math

import numpy as np
import pytest

from gatedrnn import _kernels, clip_grads, spec


def book_clip_grads(grads, max_norm):
    """The book's common/util.py clip_grads, written out in float64."""
    total_norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for g in grads:
            g *= rate
    return total_norm


def make_grads(rng, dtypes=(np.float32, np.float64, np.float32)):
    shapes = [(7, 3), (5,), (2, 3, 4)]
    return [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes)]


@pytest.mark.parametrize("impl", [clip_grads, spec.clip_grads], ids=["gatedrnn", "spec"])
def test_clips_like_the_book_with_mixed_dtypes(impl):
    rng = np.random.default_rng(0)
    grads = make_grads(rng)
    expected = [g.copy() for g in grads]
    expected_norm = book_clip_grads(expected, 0.25)
    norm = impl(grads, 0.25)
    assert norm == pytest.approx(expected_norm, rel=1e-8)
    for g, e in zip(grads, expected):
        assert g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-6)
    clipped_norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    assert clipped_norm == pytest.approx(0.25, rel=1e-5)


def test_returns_the_norm_and_leaves_grads_below_the_threshold():
    rng = np.random.default_rng(1)
    grads = make_grads(rng)
    before = [g.copy() for g in grads]
    expected = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    assert clip_grads(grads, expected * 2) == pytest.approx(expected, rel=1e-8)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_float32_norm_is_accumulated_in_float64():
    # A million float32 values of 1e-3 plus one of 1: a float32 accumulator
    # is off by about 1e-6 here. Squares of float32 values are exact in
    # float64, so only the float64 additions round.
    grads = [np.full(1_000_000, 1e-3, np.float32), np.ones(1, np.float32)]
    exact = np.sqrt(1_000_000 * float(np.float32(1e-3)) ** 2 + 1)
    assert clip_grads(grads, 1e9) == pytest.approx(exact, rel=1e-14)
    float64_grads = [g.astype(np.float64) for g in grads]
    assert clip_grads(float64_grads, 1e9) == pytest.approx(exact, rel=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_norm_leaves_grads_and_can_raise(bad):
    grads = [np.ones(3), np.array([1.0, bad])]
    before = [g.copy() for g in grads]
    norm = clip_grads(grads, 1.0)
    assert not np.isfinite(norm)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)
    with pytest.raises(FloatingPointError, match="NaN or Inf"):
        clip_grads(grads, 1.0, error_if_nonfinite=True)


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"grads\[1\].*float32 or float64.*int64"):
        clip_grads([np.ones(2), np.ones(2, np.int64)], 1.0)
    with pytest.raises(TypeError, match="grads must be a list"):
        clip_grads(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="max_norm.*positive"):
        clip_grads([np.ones(2)], -1.0)
    with pytest.raises(TypeError, match="max_norm"):
        clip_grads([np.ones(2)], "1")
    frozen = np.ones(4)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\[0\] is read-only"):
        clip_grads([frozen], 0.5)


def test_grads_that_share_memory_are_refused_and_left_unchanged():
    """Scaling in place twice would clip the shared elements by rate**2."""
    base = np.arange(1.0, 9.0)
    for grads, pair in [([base, np.ones(3), base], r"grads\[0\] and grads\[2\]"),
                        ([base[:5], base[3:]], r"grads\[0\] and grads\[1\]")]:
        with pytest.raises(ValueError, match=pair + " share memory"):
            clip_grads(grads, 0.1)
        np.testing.assert_array_equal(base, np.arange(1.0, 9.0))
    # Views that do not overlap (e.g. parts of one flat buffer) are fine.
    halves = [base[::2], base[1::2]]
    norm = clip_grads(halves, 1.0)
    assert norm == pytest.approx(np.sqrt(np.sum(np.arange(1.0, 9.0) ** 2)), rel=1e-12)
    np.testing.assert_allclose(base, np.arange(1.0, 9.0) / (norm + 1e-6), rtol=1e-12)


def exact_sum_of_squares(grads):
    return math.fsum(float(v) ** 2 for g in grads for v in g.reshape(-1).astype(np.float64))


@pytest.mark.parametrize("sizes", [[0], [1, 15, 16, 17], [32767, 32768, 32769], [131071, 5],
                                   [131072], [200_003, 0, 7]])
def test_the_threaded_sum_is_exact_to_rounding_and_the_same_on_any_thread_count(sizes):
    """Chunks of 32768 and the threaded cutoff (131072 elements) on both
    sides, float32 and float64 mixed: within float64 rounding of the exact
    sum, and bit-identical whether one thread or all of them ran it."""
    rng = np.random.default_rng(len(sizes))
    grads = [rng.standard_normal(n).astype(np.float32 if k % 2 else np.float64)
             for k, n in enumerate(sizes)]
    exact = exact_sum_of_squares(grads)
    results = []
    for threads in (1, 2, 3):
        previous_threads = _kernels.set_num_threads(threads)
        previous_all = _kernels.set_all_threads(True)
        try:
            results.append(_kernels.sum_of_squares(grads))
        finally:
            _kernels.set_all_threads(previous_all)
            _kernels.set_num_threads(previous_threads)
    assert results[0] == pytest.approx(exact, rel=1e-13, abs=0)
    assert results[1] == results[0] and results[2] == results[0]
    assert clip_grads(grads, 1e30) == pytest.approx(math.sqrt(exact), rel=1e-13)


def test_the_threaded_sum_really_shares_the_work():
    grads = [np.ones(3_000_000, np.float32)]
    previous_threads = _kernels.set_num_threads(2)
    try:
        before = _kernels.jobs_shared()
        for _ in range(50):
            assert _kernels.sum_of_squares(grads) == 3_000_000.0
            if _kernels.jobs_shared() > before:
                break
        assert _kernels.jobs_shared() > before
    finally:
        _kernels.set_num_threads(previous_threads)


def test_non_contiguous_and_empty_grads():
    base = np.arange(24.0).reshape(4, 6)
    assert clip_grads([base[:, ::2], np.empty((0, 3))], 1e9) == pytest.approx(
        math.sqrt(sum(v * v for v in base[:, ::2].ravel())), rel=1e-15)
    assert clip_grads([], 1.0) == 0.0
