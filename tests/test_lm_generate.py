"""Rnnlm.generate and BetterRnnlm.generate (gatedrnn/lm/generate.py) against the
book's generator written out in NumPy (tests/book_generator.py), and their
options, batches, state handling and errors."""
import numpy as np
import pytest

from book_generator import BookGenerator, assert_same_ids_or_tie
from conftest import BEST_AND_BLAS, kernel_path
from gatedrnn.lm import BetterRnnlm, Rnnlm, model_from_params
from gatedrnn.lm import generate as generation

# A uniform this close to a boundary of the distribution may fall on either side
# of it, with scores rounded differently.
TIE = {np.float32: 2e-6, np.float64: 1e-12}


def _rnnlm(dtype=np.float32, V=60, seed=0):
    model = Rnnlm(V, 8, 12, seed=seed, dtype=dtype)
    model.params[5][...] = np.linspace(-1, 1, V)    # a bias: some ids likelier
    return model


def _better(dtype=np.float32, V=60, H=16, seed=0):
    model = BetterRnnlm(V, H, H, seed=seed, dtype=dtype)
    model.params[0][...] *= 30                         # the tied weight: sharper scores
    return model


MODELS = {"Rnnlm": _rnnlm, "BetterRnnlm": _better}


@pytest.fixture(params=sorted(MODELS))
def make_model(request):
    return MODELS[request.param]


def _scores_along(model, ids, start):
    """The scores (len(ids), V) before each of ids, feeding start then ids one by
    one through the model's predict (from zeros)."""
    model.reset_state()
    scores = []
    x = start
    for i in ids:
        scores.append(model.predict(np.array([[x]]))[0, 0].astype(np.float64))
        x = i
    model.reset_state()
    return np.array(scores)


# ---- the book's generator ------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_ids_are_the_books_after_the_same_seed(make_model, dtype):
    model = make_model(dtype)
    book = BookGenerator(model)
    skip = sorted(set(model.generate(5, 6, temperature=0).tolist()))[:2]   # often drawn
    for seed in range(4):
        book.reset_state()
        np.random.seed(seed)
        expected = book.generate(5, skip, sample_size=40)
        np.random.seed(seed)
        ours = [5] + model.generate(5, 39, skip_ids=skip, rng=np.random).tolist()
        assert_same_ids_or_tie(ours, expected, book, TIE[dtype])
        assert not set(ours[1:]) & set(skip)
        # one uniform per draw, skipped draws included: the streams end in step
        np.random.seed(seed)
        np.random.random_sample(len(book.margins))
        after_book = np.random.random_sample()
        np.random.seed(seed)
        model.generate(5, 39, skip_ids=skip, rng=np.random)
        if ours == expected:
            assert np.random.random_sample() == after_book


def test_a_prompt_is_the_books_feeding_then_generate(make_model):
    """The book's generate_better_text: predict over start_ids[:-1], then
    generate(start_ids[-1]); ours takes the prompt whole."""
    model = make_model(np.float64)
    book = BookGenerator(model)
    prompt = [7, 2, 9, 4]
    np.random.seed(3)
    for x in prompt[:-1]:
        book.predict(x)
    expected = book.generate(prompt[-1], [0], sample_size=30)
    np.random.seed(3)
    ours = model.generate(prompt, 29, skip_ids=[0], rng=np.random)
    assert_same_ids_or_tie([prompt[-1], *ours], expected, book, TIE[np.float64])


def test_the_books_pickle_under_seeds(lm_book_rnnlm_pkl, lm_ptb_dir):
    """generate_text.py's run (start 'you', skipping N, <unk> and $) on the book's
    trained Rnnlm.pkl: the book's ids for seeds 0-2 (or a tie)."""
    from gatedrnn.lm import load_ptb
    model, _ = model_from_params(lm_book_rnnlm_pkl)
    _, word_to_id, _ = load_ptb("train", lm_ptb_dir)
    start = word_to_id["you"]
    skip = [word_to_id[w] for w in ("N", "<unk>", "$")]
    book = BookGenerator(model)
    for seed in range(3):
        book.reset_state()
        np.random.seed(seed)
        expected = book.generate(start, skip)
        np.random.seed(seed)
        ours = [start] + model.generate(start, 99, skip_ids=skip, rng=np.random).tolist()
        assert_same_ids_or_tie(ours, expected, book, TIE[np.float32])


# ---- the options -----------------------------------------------------------------

def test_greedy_is_the_argmax_and_draws_nothing(make_model):
    model = make_model(np.float64)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    ids = model.generate(4, 25, temperature=0, rng=rng)
    assert rng.bit_generator.state == before
    scores = _scores_along(model, ids, 4)
    np.testing.assert_array_equal(ids, scores.argmax(axis=1), err_msg="greedy ids")
    # a temperature near 0 gives the same ids, where the top two scores are apart
    gaps = np.sort(scores, axis=1)[:, -1] - np.sort(scores, axis=1)[:, -2]
    assert gaps.min() > 1e-4     # the next likeliest id has weight below exp(-100)
    np.testing.assert_array_equal(model.generate(4, 25, temperature=1e-6, rng=0), ids)


def test_greedy_skips_the_skipped(make_model):
    model = make_model(np.float64)
    first = model.generate(4, 1, temperature=0)[0]
    ids = model.generate(4, 20, temperature=0, skip_ids=[first])
    scores = _scores_along(model, ids, 4)
    scores[:, first] = -np.inf
    np.testing.assert_array_equal(ids, scores.argmax(axis=1))


@pytest.mark.parametrize("k", [1, 3])
def test_top_k_never_leaves_the_k_likeliest(make_model, k):
    model = make_model(np.float64)
    ids = model.generate(2, 60, top_k=k, temperature=2.0, rng=1)
    scores = _scores_along(model, ids, 2)
    rank = (scores > scores[np.arange(len(ids)), ids][:, None]).sum(axis=1)
    assert rank.max() < k, rank
    if k == 1:
        np.testing.assert_array_equal(ids, model.generate(2, 60, temperature=0))
    else:
        assert len(set(rank.tolist())) > 1   # not the argmax every time


def test_top_k_leaves_skipped_ids_out_of_the_k(make_model):
    model = make_model(np.float64)
    greedy = model.generate(2, 30, temperature=0)
    skip = sorted(set(greedy.tolist()))[:3]
    ids = model.generate(2, 30, top_k=2, skip_ids=skip, rng=4)
    assert not set(ids.tolist()) & set(skip)
    scores = _scores_along(model, ids, 2)
    scores[:, skip] = -np.inf
    rank = (scores > scores[np.arange(len(ids)), ids][:, None]).sum(axis=1)
    assert rank.max() < 2


def test_temperature_flattens_and_sharpens():
    """Over many samples, the frequency of each id follows softmax(scores / T)."""
    model = _rnnlm(np.float64, V=20)
    first = model.predict(np.array([[1]]))[0, 0]
    model.reset_state()
    for T in (0.5, 2.0):
        ids = model.generate(1, 1, samples=20000, temperature=T, rng=0)[:, 0]
        freq = np.bincount(ids, minlength=20) / ids.size
        p = np.exp((first - first.max()) / T)
        p /= p.sum()
        np.testing.assert_allclose(freq, p, atol=0.012, err_msg=f"T={T}")


def test_skipped_ids_never_appear(make_model):
    model = make_model()
    unskipped = model.generate(0, 40, samples=6, rng=2)
    skip = np.argsort(np.bincount(unskipped.ravel(), minlength=60))[-6:]
    assert np.isin(unskipped, skip).mean() > 0.15    # they would be drawn often
    ids = model.generate(0, 40, samples=6, skip_ids=skip, rng=2)
    assert not np.isin(ids, skip).any()


def test_skipped_ids_that_hold_all_the_weight():
    """At a temperature near 0 the skipped argmax holds all the weight: the
    book's redraws would never end; after 1000 the draw is made among the rest."""
    model = _rnnlm(np.float64)
    top = int(model.generate(4, 1, temperature=0)[0])
    ids = model.generate(4, 3, skip_ids=[top], temperature=1e-9, rng=0)
    assert top not in ids.tolist()
    # the likeliest of the rest, since their weights underflow too
    scores = _scores_along(model, ids[:1], 4)
    scores[:, top] = -np.inf
    assert ids[0] == scores.argmax()


# ---- batches ---------------------------------------------------------------------

@pytest.mark.parametrize("skip", [None, "likely"])
def test_a_batch_with_seeds_equals_single_runs(make_model, skip):
    model = make_model()
    skip_ids = None if skip is None else sorted(set(model.generate(3, 8, temperature=0).tolist()))
    seeds = [11, 12, 13, 14, 15]
    batch = model.generate([3, 6], 30, samples=5, skip_ids=skip_ids,
                           rng=[np.random.default_rng(s) for s in seeds])
    for row, seed in zip(batch, seeds):
        np.testing.assert_array_equal(
            row, model.generate([3, 6], 30, skip_ids=skip_ids, rng=seed), err_msg=f"seed {seed}")


def test_one_prompt_per_row_equals_single_runs(make_model):
    model = make_model()
    prompts = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    batch = model.generate(prompts, 12, rng=[0, 1, 2])
    assert batch.shape == (3, 12)
    for row, prompt, seed in zip(batch, prompts, [0, 1, 2]):
        np.testing.assert_array_equal(row, model.generate(prompt, 12, rng=seed))


def test_one_generator_for_a_batch_is_reproducible(make_model):
    model = make_model()
    a = model.generate(3, 10, samples=4, rng=7)
    b = model.generate(3, 10, samples=4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert len({tuple(r) for r in a.tolist()}) > 1


# ---- state ---------------------------------------------------------------------

def test_the_state_is_restored(make_model):
    model = make_model()
    model.generate(1, 5, rng=0)
    assert all(h is None and c is None for h, c in model.get_state())
    model.predict(np.array([[4, 5]]))
    before = [(h.copy(), c.copy()) for h, c in model.get_state()]
    objects = model.get_state()
    model.generate(2, 10, samples=3, skip_ids=[1], rng=0)
    after = model.get_state()
    for (h, c), (h0, c0), (ho, co) in zip(after, before, objects):
        assert h is ho and c is co
        np.testing.assert_array_equal(h, h0)
        np.testing.assert_array_equal(c, c0)


def test_generation_starts_from_the_models_state(make_model):
    """A stored one-row state is the prompt's starting point (the book's
    stateful generator), repeated over the samples."""
    model = make_model(np.float64)
    model.predict(np.array([[4, 5]]))
    ids = model.generate(6, 8, temperature=0)
    fresh = make_model(np.float64)
    np.testing.assert_array_equal(ids, fresh.generate([4, 5, 6], 8, temperature=0))
    np.testing.assert_array_equal(model.generate(6, 8, samples=3, temperature=0),
                                  np.tile(ids, (3, 1)))


def test_keep_state_leaves_the_state_before_the_last_id(make_model):
    model = make_model(np.float64)
    rng = np.random.default_rng(0)
    ids = model.generate([3, 4], 10, rng=rng, keep_state=True)
    reference = make_model(np.float64)
    reference.predict(np.array([[3, 4, *ids[:-1]]]))
    for (h, c), (hr, cr) in zip(model.get_state(), reference.get_state()):
        np.testing.assert_allclose(h, hr, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c, cr, rtol=1e-12, atol=1e-14)
    # continuing from the last id gives what one longer run gives
    more = model.generate(ids[-1], 10, rng=rng)
    whole = make_model(np.float64).generate([3, 4], 20, rng=0)
    np.testing.assert_array_equal(whole, np.concatenate([ids, more]))


def test_a_stored_state_of_another_batch_size_is_an_error(make_model):
    model = make_model()
    model.predict(np.array([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match=r"reset_state\(\)"):
        model.generate(1, 5, samples=3)
    assert model.generate(1, 5, samples=2, rng=0).shape == (2, 5)


# ---- weights changed in place ------------------------------------------------------

def _clone(model):
    (V, D), H = model.params[0].shape, model.params[2].shape[0]
    fresh = type(model)(V, D, H, seed=1, dtype=model.dtype)
    for p, q in zip(fresh.params, model.params):
        p[...] = q
    return fresh


def test_tables_follow_weights_changed_in_place():
    """BetterRnnlm with a 1 MB Wx keeps a memo of input projections, Rnnlm a
    transposed output weight: both are reused while the weights stay, and
    follow updates in place."""
    better = BetterRnnlm(50, 256, 256, seed=0)
    better.params[0][...] *= 40
    assert better.lstm_layers[0].params[0].nbytes >= generation._MEMO_MIN_BYTES
    rnnlm = _rnnlm()
    for model, sources in ((better, [0, 1]), (rnnlm, [4])):
        first = model.generate(3, 15, temperature=0)
        derived = model.__dict__["_inference"]
        kept = [derived.memo.value, derived.out_rows.value]
        assert kept[0 if model is better else 1] is not None
        np.testing.assert_array_equal(model.generate(3, 15, temperature=0), first)
        assert derived.memo.value is kept[0] and derived.out_rows.value is kept[1]
        for k in sources:
            model.params[k][...] = np.roll(model.params[k], 1, axis=-1)
            np.testing.assert_array_equal(model.generate(3, 15, temperature=0),
                                          _clone(model).generate(3, 15, temperature=0),
                                          err_msg=f"params[{k}] changed")


@pytest.mark.parametrize("path", BEST_AND_BLAS)
def test_every_kernel_path_generates_the_same_text(make_model, path):
    model = make_model(np.float64)
    expected = BookGenerator(model)
    np.random.seed(0)
    book = expected.generate(2, [1], sample_size=20)
    with kernel_path(path):
        np.random.seed(0)
        ours = [2] + model.generate(2, 19, skip_ids=[1], rng=np.random).tolist()
    assert_same_ids_or_tie(ours, book, expected, TIE[np.float64])


# ---- bad arguments ---------------------------------------------------------------

BAD = [
    (dict(length=0), ValueError, "length must be at least 1"),
    (dict(length=-3), ValueError, "length must be at least 1"),
    (dict(length=2.0), TypeError, "length must be an integer"),
    (dict(length=True), TypeError, "length must be an integer"),
    (dict(temperature=-0.5), ValueError, "temperature must be finite and >= 0"),
    (dict(temperature=float("nan")), ValueError, "temperature must be finite"),
    (dict(temperature=float("inf")), ValueError, "temperature must be finite"),
    (dict(temperature="1"), TypeError, "temperature must be a real number"),
    (dict(top_k=0), ValueError, r"top_k must lie in \[1, V\] with V = 60; got 0"),
    (dict(top_k=61), ValueError, r"top_k must lie in \[1, V\] with V = 60; got 61"),
    (dict(top_k=2.5), TypeError, "top_k must be an integer"),
    (dict(skip_ids=list(range(60))), ValueError, "skip_ids cover the whole vocabulary"),
    (dict(skip_ids=[3, 60]), ValueError, r"skip_ids must lie in \[0, V\) with V = 60 .*got 60"),
    (dict(skip_ids=[-1]), ValueError, r"skip_ids must lie in \[0, V\).*got -1"),
    (dict(skip_ids=[1.5]), TypeError, "skip_ids must be word ids"),
    (dict(start=60), ValueError, r"start must lie in \[0, V\) with V = 60 .*got 60"),
    (dict(start=[1, -2]), ValueError, r"start must lie in \[0, V\).*got -2"),
    (dict(start="you"), TypeError, "start must be a word id"),
    (dict(start=[1.0, 2.0]), TypeError, "start must be word ids"),
    (dict(start=True), TypeError, "start must be a word id"),
    (dict(start=[]), ValueError, "with P >= 1; got shape"),
    (dict(start=np.zeros((2, 2, 2), int)), ValueError, "one prompt per sample"),
    (dict(samples=0), ValueError, "samples must be a positive integer"),
    (dict(start=[[1, 2]], samples=2), ValueError, "samples goes with one prompt"),
    (dict(rng="seed"), TypeError, "rng must be a numpy.random.Generator"),
    (dict(rng=-1), ValueError, "rng must be a non-negative seed"),
    (dict(samples=2, rng=[1, 2, 3]), ValueError, r"one per sample \(2\); got a sequence of 3"),
    (dict(keep_state=1), TypeError, "keep_state must be True or False"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD, ids=[str(b[0])[:40] for b in BAD])
def test_bad_arguments_change_nothing(kwargs, error, message):
    model = _rnnlm()
    model.predict(np.array([[1, 2]]))
    state = [(h.copy(), c.copy()) for h, c in model.get_state()]
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    np.random.seed(0)
    global_before = np.random.get_state()[1].copy()
    args = dict(start=1, length=5, rng=rng)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        model.generate(args.pop("start"), args.pop("length"), **args)
    assert rng.bit_generator.state == before, "random numbers were drawn"
    np.testing.assert_array_equal(np.random.get_state()[1], global_before)
    for (h, c), (h0, c0) in zip(model.get_state(), state):
        np.testing.assert_array_equal(h, h0)
        np.testing.assert_array_equal(c, c0)


def test_nan_weights_are_an_error_not_a_draw():
    model = _rnnlm()
    model.params[5][7] = np.nan
    with pytest.raises(ValueError, match="scores are not finite"):
        model.generate(1, 5, rng=0)


def test_get_and_set_state_round_trip(make_model):
    model = make_model()
    model.predict(np.array([[1, 2, 3]]))
    saved = model.get_state()
    first = model.generate(4, 6, temperature=0)
    model.predict(np.array([[9]]))
    model.set_state(saved)
    np.testing.assert_array_equal(model.generate(4, 6, temperature=0), first)
    model.set_state([(None, None)] * len(saved))
    assert all(h is None for h, _ in model.get_state())
    with pytest.raises(ValueError, match="pair"):
        model.set_state([(None, None)] * (len(saved) + 1))
    with pytest.raises(ValueError, match=r"state\[0\]'s h must have shape"):
        model.set_state([(np.zeros((1, 3), model.dtype), None)] * len(saved))
