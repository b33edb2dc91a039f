"""gatedrnn.lm training: the book's batching, evaluation protocol, schedule,
optimizers, and a short run whose loss falls."""
import math

import numpy as np
import pytest

from gatedrnn.lm import (SGD, Adam, BetterRnnlm, Rnnlm, RnnlmTrainer, eval_perplexity,
                         fit_with_lr_decay)
from gatedrnn.lm import trainer as trainer_module


def book_batches(x, t, batch_size, time_size, n_calls):
    """The book's get_batch, written out literally: row i starts at i * jump and
    every row reads at the running time index, which grows by one per step."""
    data_size = len(x)
    jump = data_size // batch_size
    offsets = [i * jump for i in range(batch_size)]
    time_idx = 0
    out = []
    for _ in range(n_calls):
        bx = np.empty((batch_size, time_size), np.int64)
        bt = np.empty((batch_size, time_size), np.int64)
        for step in range(time_size):
            for i, offset in enumerate(offsets):
                bx[i, step] = x[(offset + time_idx) % data_size]
                bt[i, step] = t[(offset + time_idx) % data_size]
            time_idx += 1
        out.append((bx, bt))
    return out, time_idx


def book_eval_batches(corpus, batch_size, time_size):
    corpus_size = len(corpus)
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    jump = (corpus_size - 1) // batch_size
    out = []
    for iters in range(max_iters):
        xs = np.zeros((batch_size, time_size), np.int64)
        ts = np.zeros((batch_size, time_size), np.int64)
        offsets = [iters * time_size + i * jump for i in range(batch_size)]
        for step in range(time_size):
            for i, offset in enumerate(offsets):
                xs[i, step] = corpus[(offset + step) % corpus_size]
                ts[i, step] = corpus[(offset + step + 1) % corpus_size]
        out.append((xs, ts))
    return out


class RecordingModel:
    """Stands in for a model: records the batches, returns a fixed loss."""

    def __init__(self, loss=2.0, accepts_train_flg=True):
        self.params = [np.zeros(3, np.float32)]
        self.grads = [np.ones(3, np.float32)]
        self.seen, self.loss, self.resets = [], loss, 0
        if not accepts_train_flg:
            self.forward = self._forward_book_style

    def forward(self, xs, ts, train_flg=True):
        self.seen.append((xs.copy(), ts.copy()))
        return self.loss

    def _forward_book_style(self, xs, ts):
        self.seen.append((xs.copy(), ts.copy()))
        return self.loss

    def backward(self, dout=1):
        pass

    def reset_state(self):
        self.resets += 1


@pytest.mark.parametrize("data_size,batch_size,time_size", [(1000, 20, 7), (97, 3, 5), (50, 1, 50)])
def test_fit_batches_equal_the_books_formula(data_size, batch_size, time_size):
    corpus = np.random.default_rng(0).integers(0, 50, data_size + 1)
    xs, ts = corpus[:-1], corpus[1:]
    max_iters = data_size // (batch_size * time_size)
    epochs = 3
    model = RecordingModel()
    trainer = RnnlmTrainer(model, SGD(0.1))
    trainer.fit(xs, ts, max_epoch=epochs, batch_size=batch_size, time_size=time_size,
                eval_interval=None)
    want, final_idx = book_batches(xs, ts, batch_size, time_size, epochs * max_iters)
    assert len(model.seen) == len(want) == epochs * max_iters
    for k, ((gx, gt), (wx, wt)) in enumerate(zip(model.seen, want)):
        np.testing.assert_array_equal(gx, wx, err_msg=f"batch_x of iteration {k}")
        np.testing.assert_array_equal(gt, wt, err_msg=f"batch_t of iteration {k}")
    assert trainer.time_idx == final_idx, "the running time index carries across epochs"
    assert trainer.current_epoch == epochs

    # A second fit restarts the time index at 0, as the book's does.
    model.seen.clear()
    trainer.fit(xs, ts, max_epoch=1, batch_size=batch_size, time_size=time_size,
                eval_interval=None)
    np.testing.assert_array_equal(model.seen[0][0], want[0][0], err_msg="restart at 0")


def test_get_batch_equals_the_books_formula():
    x = np.arange(103) * 3
    t = x + 1
    trainer = RnnlmTrainer(RecordingModel(), SGD(0.1))
    trainer.time_idx = 0
    want, _ = book_batches(x, t, 4, 9, 8)
    for k, (wx, wt) in enumerate(want):
        gx, gt = trainer.get_batch(x, t, 4, 9)
        np.testing.assert_array_equal(gx, wx, err_msg=f"x, call {k}")
        np.testing.assert_array_equal(gt, wt, err_msg=f"t, call {k}")


@pytest.mark.parametrize("accepts_train_flg", [True, False])
def test_eval_perplexity_protocol(accepts_train_flg):
    corpus = np.random.default_rng(1).integers(0, 30, 1234)
    model = RecordingModel(loss=1.5, accepts_train_flg=accepts_train_flg)
    ppl = eval_perplexity(model, corpus)          # batch 10, time 35 by default
    want = book_eval_batches(corpus, 10, 35)
    assert len(model.seen) == len(want) == (1234 - 1) // 350
    for k, ((gx, gt), (wx, wt)) in enumerate(zip(model.seen, want)):
        np.testing.assert_array_equal(gx, wx, err_msg=f"xs of batch {k}")
        np.testing.assert_array_equal(gt, wt, err_msg=f"ts of batch {k}")
    assert ppl == pytest.approx(math.exp(1.5))
    assert model.resets == 1


@pytest.mark.parametrize("corpus_size, batch_size, time_size",
                         [(1230, 10, 35), (120, 4, 5), (42, 2, 3), (82430, 10, 35)])
def test_eval_offsets_on_a_corpus_a_multiple_of_the_batch(corpus_size, batch_size, time_size):
    """The book's rule (common/util.py, eval_perplexity): row i of batch j
    reads from j * time_size + i * jump on, jump = (len(corpus) - 1) // batch_size.
    Only when len(corpus) is a multiple of batch_size does len // batch_size
    differ (by one); PTB's test set (82430 words) is such a corpus."""
    assert corpus_size % batch_size == 0
    corpus = np.arange(corpus_size)          # each id is its position
    model = RecordingModel()
    eval_perplexity(model, corpus, batch_size, time_size)
    jump = (corpus_size - 1) // batch_size
    assert jump == corpus_size // batch_size - 1
    assert len(model.seen) == (corpus_size - 1) // (batch_size * time_size)
    for j, (xs, ts) in enumerate(model.seen):
        starts = [j * time_size + i * jump for i in range(batch_size)]
        np.testing.assert_array_equal(xs[:, 0], starts, err_msg=f"row offsets of batch {j}")
        want = (np.array(starts)[:, None] + np.arange(time_size)) % corpus_size
        np.testing.assert_array_equal(xs, want, err_msg=f"xs of batch {j}")
        np.testing.assert_array_equal(ts, (want + 1) % corpus_size, err_msg=f"ts of batch {j}")


def test_records_and_log_lines():
    corpus = np.random.default_rng(2).integers(0, 30, 20 * 35 * 5 + 1)
    lines = []
    trainer = RnnlmTrainer(RecordingModel(loss=math.log(7.0)), SGD(0.1))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=2, eval_interval=2, log=lines.append)
    # 5 iterations per epoch, records at iters 0, 2, 4 of each epoch
    assert [(r[0], r[1]) for r in trainer.records] == [(1, 1), (1, 3), (1, 5),
                                                        (2, 1), (2, 3), (2, 5)]
    assert trainer.ppl_list == pytest.approx([7.0] * 6)
    assert lines[0].startswith("| epoch 1 |  iter 1 / 5 |") and "perplexity 7.00" in lines[0]


def test_short_training_run_loss_falls():
    rng = np.random.default_rng(3)
    V = 24
    # A learnable corpus: a fixed random sentence of 60 words, repeated.
    corpus = np.tile(rng.integers(0, V, 60), 40)
    for model, opt in ((Rnnlm(V, 16, 16, seed=0), SGD(lr=5.0)),
                       (BetterRnnlm(V, 16, 16, 0.1, seed=0), Adam(lr=0.02))):
        trainer = RnnlmTrainer(model, opt)
        trainer.fit(corpus[:-1], corpus[1:], max_epoch=6, batch_size=4, time_size=10,
                    max_grad=1.0, eval_interval=10)
        first, last = trainer.ppl_list[0], trainer.ppl_list[-1]
        assert first > 0.8 * V, f"{type(model).__name__}: starts near uniform, {first:.1f}"
        assert last < first / 3, f"{type(model).__name__}: perplexity {first:.1f} -> {last:.1f}"
        model.reset_state()
        assert eval_perplexity(model, corpus, batch_size=4, time_size=10) < first / 3


def test_duplicated_param_objects_are_summed_once():
    shared = np.ones(4, np.float32)

    class Dup(RecordingModel):
        def __init__(self):
            super().__init__()
            self.params = [shared, shared]
            self.grads = [np.full(4, 1.0, np.float32), np.full(4, 2.0, np.float32)]

        def backward(self, dout=1):
            self.grads[0][...] = 1.0
            self.grads[1][...] = 2.0

    corpus = np.zeros(200, np.int64)
    RnnlmTrainer(Dup(), SGD(lr=0.5)).fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2,
                                         time_size=5, eval_interval=None)
    # 19 iterations of one update by 0.5 * (1 + 2)
    np.testing.assert_allclose(shared, 1.0 - 19 * 1.5)


def test_nonfinite_gradient_skips_the_update():
    model = RecordingModel()
    model.grads[0][...] = np.nan
    corpus = np.zeros(100, np.int64)
    trainer = RnnlmTrainer(model, SGD(lr=1.0))
    with pytest.warns(RuntimeWarning, match="update skipped"):
        trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=2, time_size=5,
                    max_grad=0.25, eval_interval=None)
    assert trainer.skipped_updates == 9
    np.testing.assert_array_equal(model.params[0], 0.0)


def test_lr_decay_schedule_keeps_the_best(monkeypatch):
    val_ppls = iter([50.0, 60.0, 40.0, 45.0])
    monkeypatch.setattr(trainer_module, "eval_perplexity", lambda *a, **k: next(val_ppls))
    model = Rnnlm(10, 3, 3, seed=0)
    saved = []
    snapshots = []
    orig_fit = RnnlmTrainer.fit

    def fit_and_snapshot(self, *args, **kwargs):
        out = orig_fit(self, *args, **kwargs)
        snapshots.append([p.copy() for p in model.params])
        return out
    monkeypatch.setattr(RnnlmTrainer, "fit", fit_and_snapshot)
    opt = SGD(lr=20.0)
    corpus = np.random.default_rng(4).integers(0, 10, 400)
    _, history = fit_with_lr_decay(model, opt, corpus, corpus, max_epoch=4, batch_size=2,
                                   time_size=5, save_best=lambda m: saved.append(1))
    assert [h["lr"] for h in history] == [20.0, 20.0, 5.0, 5.0]
    assert opt.lr == 1.25
    assert len(saved) == 2                      # epochs 1 and 3 improved
    for p, best in zip(model.params, snapshots[2]):
        np.testing.assert_array_equal(p, best, err_msg="best (epoch 3) parameters restored")


def test_optimizers_follow_the_books_rules():
    rng = np.random.default_rng(5)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads_seq = [[rng.standard_normal((3, 4)), rng.standard_normal(5)] for _ in range(3)]

    ours = [p.copy() for p in params]
    book = [p.copy() for p in params]
    sgd = SGD(lr=0.3)
    for grads in grads_seq:
        sgd.update(ours, grads)
        for p, g in zip(book, grads):
            p -= 0.3 * g
    for k, (a, b) in enumerate(zip(ours, book)):
        np.testing.assert_allclose(a, b, rtol=1e-14, err_msg=f"SGD params[{k}]")

    ours = [p.copy() for p in params]
    book = [p.copy() for p in params]
    adam = Adam(lr=0.01, beta1=0.8, beta2=0.9)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for it, grads in enumerate(grads_seq, start=1):
        adam.update(ours, grads)
        lr_t = 0.01 * np.sqrt(1 - 0.9 ** it) / (1 - 0.8 ** it)
        for p, g, mk, vk in zip(book, grads, m, v):
            mk += (1 - 0.8) * (g - mk)
            vk += (1 - 0.9) * (g ** 2 - vk)
            p -= lr_t * mk / (np.sqrt(vk) + 1e-7)
    for k, (a, b) in enumerate(zip(ours, book)):
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=f"Adam params[{k}]")


def test_sgd_updates_float32_in_place():
    p = np.ones((4, 5), np.float32)
    view = p.T
    SGD(lr=0.5).update([p], [np.full((4, 5), 2.0, np.float32)])
    np.testing.assert_array_equal(view, 0.0)
    assert p.dtype == np.float32


def test_corpus_too_short_is_a_clear_error():
    trainer = RnnlmTrainer(RecordingModel(), SGD(0.1))
    with pytest.raises(ValueError, match="shorter than one batch"):
        trainer.fit(np.zeros(100, int), np.zeros(100, int), batch_size=20, time_size=35)
    with pytest.raises(ValueError, match="too short"):
        eval_perplexity(RecordingModel(), np.zeros(300, int))


def test_evaluation_turns_dropout_off_and_keeps_no_cache():
    model = BetterRnnlm(30, 8, 8, 0.5, seed=6)
    corpus = np.random.default_rng(7).integers(0, 30, 400)
    a = eval_perplexity(model, corpus, batch_size=2, time_size=5)
    b = eval_perplexity(model, corpus, batch_size=2, time_size=5)
    assert a == b, "no dropout at evaluation"
    with pytest.raises(RuntimeError, match="forward"):
        model.backward()
    assert all(layer.train_flg is False for layer in model.drop_layers)
    model.reset_state()
    model.forward(corpus[:10].reshape(2, 5), corpus[1:11].reshape(2, 5))
    assert all(layer.train_flg is True for layer in model.drop_layers)


def _bar_counts(text):
    """(n, total) of every state a tqdm bar printed, in order."""
    import re
    return [(int(n), int(total)) for n, total in re.findall(r"\| *(\d+)/(\d+) \[", text)]


def test_a_trainer_at_max_steps_trains_nothing_and_goes_on_later():
    """fit(max_steps=N) on a trainer already at N leaves everything as it is
    (the book's loop would run one more iteration first); a later fit with a
    larger cap continues exactly as one fit to that cap would."""
    corpus = np.random.default_rng(0).integers(0, 20, 901)
    xs, ts = corpus[:-1], corpus[1:]
    kw = dict(max_epoch=3, batch_size=5, time_size=25, max_grad=0.25, eval_interval=4)

    straight = RnnlmTrainer(Rnnlm(20, 6, 5, seed=1), SGD(1.0))
    straight.fit(xs, ts, **kw, max_steps=15)
    assert straight.stopped and straight.steps == 15

    trainer = RnnlmTrainer(Rnnlm(20, 6, 5, seed=1), SGD(1.0))
    trainer.fit(xs, ts, **kw, max_steps=9)
    assert trainer.stopped and trainer.steps == 9
    later = RnnlmTrainer(trainer.model, trainer.optimizer)
    later.load_state_dict(trainer.state_dict())
    before = [p.copy() for p in later.model.params]
    calls = []
    later.fit(xs, ts, **kw, max_steps=9, on_iteration=calls.append)
    assert later.stopped and later.steps == 9 and calls == []
    for a, b in zip(later.model.params, before):
        np.testing.assert_array_equal(a, b, err_msg="params at the cap")
    # A stop that is already true before the first iteration is the same.
    later.fit(xs, ts, **kw, stop=lambda t: True)
    assert later.steps == 9
    later.fit(xs, ts, **kw, max_steps=15)     # still resumes where it was
    assert later.steps == 15
    for a, b in zip(later.model.params, straight.model.params):
        np.testing.assert_array_equal(a, b, err_msg="params resumed to 15")
    assert later.ppl_list == straight.ppl_list
    with pytest.raises(ValueError, match="max_steps must be >= 0"):
        later.fit(xs, ts, **kw, max_steps=-1)


def test_the_progress_bar_counts_to_max_steps(capsys):
    """The bar's total is what the fit will train: the cap, not the epochs;
    after a resume it starts at the iterations done (tqdm leaves those out of
    the rate, so the ETA is for what is left)."""
    corpus = np.random.default_rng(0).integers(0, 20, 901)
    xs, ts = corpus[:-1], corpus[1:]
    kw = dict(max_epoch=3, batch_size=5, time_size=25, progress=True)   # 7 a epoch, 21 in all
    trainer = RnnlmTrainer(Rnnlm(20, 6, 5, seed=1), SGD(1.0))
    trainer.fit(xs, ts, **kw, max_steps=10)
    counts = _bar_counts(capsys.readouterr().err)
    assert counts[0] == (0, 10) and counts[-1] == (10, 10), counts
    assert {total for _, total in counts} == {10}

    later = RnnlmTrainer(trainer.model, trainer.optimizer)
    later.load_state_dict(trainer.state_dict())
    later.fit(xs, ts, **kw, max_steps=16)
    counts = _bar_counts(capsys.readouterr().err)
    assert counts[0] == (10, 16) and counts[-1] == (16, 16), counts

    fresh = RnnlmTrainer(Rnnlm(20, 6, 5, seed=1), SGD(1.0))
    fresh.fit(xs, ts, **kw, max_steps=100)      # the epochs end first
    counts = _bar_counts(capsys.readouterr().err)
    assert counts[-1] == (21, 21), counts

    # fit_with_lr_decay: a bar an epoch, each up to what is left of the cap.
    fit_with_lr_decay(Rnnlm(20, 6, 5, seed=1), SGD(1.0), corpus, corpus[:400], max_epoch=3,
                      batch_size=5, time_size=25, progress=True, max_steps=10)
    counts = [c for c in _bar_counts(capsys.readouterr().err) if c[1] != 1]  # eval bars: 1
    assert (7, 7) in counts and counts[-1] == (3, 3), counts
