"""python -m gatedrnn gradients: section 6.1's numbers against NumPy recurrences
written here (the book's bare matrix, the tanh RNN and the book's LSTM cell,
step by step), the shapes of the curves, clipping, the table and --plot."""
import os
import subprocess
import sys

import numpy as np
import pytest

from gatedrnn import gradients
from gatedrnn.__main__ import main as cli_main

N, H, T = 2, 3, 20
# The layer against a NumPy recurrence, both float64 (relative, over a curve).
RTOL = 1e-10


def norm(dh):
    """The book's: np.sqrt(np.sum(dh ** 2)) / N."""
    return np.sqrt(np.sum(dh ** 2)) / dh.shape[0]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def book_draw(scale):
    """np.random.seed(3); np.random.randn(H, H) * scale, as the book's script,
    with NumPy's global state put back afterwards."""
    state = np.random.get_state()
    try:
        np.random.seed(3)
        return np.random.randn(H, H) * scale
    finally:
        np.random.set_state(state)


def bare_reference(Wh):
    dh, out = np.ones((N, H)), []
    for _ in range(T):
        dh = np.dot(dh, Wh.T)
        out.append(norm(dh))
    return np.array(out)


def tanh_rnn_reference(Wh, xs):
    """h_t = tanh(x_t + h_{t-1} Wh), h_0 = 0; then dh = ones at h_T and back,
    step by step: dh_{t-1} = (dh_t * (1 - h_t**2)) @ Wh.T."""
    hs = [np.zeros((N, H))]
    for t in range(T):
        hs.append(np.tanh(xs[:, t] + hs[-1] @ Wh))
    dh, out = np.ones((N, H)), []
    for t in range(T, 0, -1):
        dh = (dh * (1 - hs[t] ** 2)) @ Wh.T
        out.append(norm(dh))
    return np.array(out)


def lstm_reference(Wx, Wh, b, xs, h_path=True):
    """The book's LSTM cell (gates f, g, i, o) forward over xs from zeros, then
    its backward from dh = ones at the last h, dc = 0: the norm of dc_prev at
    each step back. h_path=False cuts dh_prev = dA @ Wh.T: the cell alone."""
    h, c = np.zeros((N, H)), np.zeros((N, H))
    caches = []
    for t in range(T):
        A = xs[:, t] @ Wx + h @ Wh + b
        f, g = sigmoid(A[:, :H]), np.tanh(A[:, H:2 * H])
        i, o = sigmoid(A[:, 2 * H:3 * H]), sigmoid(A[:, 3 * H:])
        c_prev, c = c, f * c + g * i
        h = o * np.tanh(c)
        caches.append((c_prev, i, f, g, o, c))
    dh, dc, out = np.ones((N, H)), np.zeros((N, H)), []
    for c_prev, i, f, g, o, c_next in reversed(caches):
        tanh_c = np.tanh(c_next)
        ds = dc + dh * o * (1 - tanh_c ** 2)
        dc = ds * f
        dA = np.hstack((ds * c_prev * f * (1 - f), ds * i * (1 - g ** 2),
                        ds * g * i * (1 - i), dh * tanh_c * o * (1 - o)))
        dh = dA @ Wh.T if h_path else np.zeros_like(dh)
        out.append(norm(dc))
    return np.array(out)


def forget_gates(Wx, Wh, b, xs):
    """The forward's f at every step, as lstm_reference computes them."""
    h, c, fs = np.zeros((N, H)), np.zeros((N, H)), []
    for t in range(T):
        A = xs[:, t] @ Wx + h @ Wh + b
        f, g = sigmoid(A[:, :H]), np.tanh(A[:, H:2 * H])
        i, o = sigmoid(A[:, 2 * H:3 * H]), sigmoid(A[:, 3 * H:])
        c = f * c + g * i
        h = o * np.tanh(c)
        fs.append(f)
    return np.array(fs)


@pytest.fixture(scope="module")
def results():
    return gradients.chapter_results()


def test_the_book_draws_and_norm():
    for scale in (1.0, 0.5):
        np.testing.assert_array_equal(gradients.book_wh(scale), book_draw(scale),
                                      err_msg=f"Wh x{scale}")
    dh = np.arange(6.0).reshape(N, H)
    assert gradients.book_norm(dh) == pytest.approx(np.linalg.norm(dh) / N, rel=1e-15)
    # Not the mean of the rows' norms: the book divides the whole norm by N.
    assert gradients.book_norm(dh) != pytest.approx(np.linalg.norm(dh, axis=1).mean())


def test_bare_matrix_is_the_books_recurrence(results):
    for scale in (1.0, 0.5):
        np.testing.assert_allclose(results["bare"][scale], bare_reference(book_draw(scale)),
                                   rtol=1e-13, err_msg=f"bare x{scale}")


def test_timernn_signal_is_the_tanh_recurrence(results):
    xs = gradients.experiment_inputs()
    assert xs.shape == (N, T, H)
    rng = np.random.RandomState(3)
    rng.randn(H, H)
    np.testing.assert_array_equal(xs, gradients.INPUT_SCALE * rng.randn(N, T, H))
    for scale in (1.0, 0.5):
        np.testing.assert_allclose(results["rnn"][scale],
                                   tanh_rnn_reference(book_draw(scale), xs), rtol=RTOL,
                                   err_msg=f"TimeRNN x{scale}")


def test_timernn_without_inputs_is_the_bare_matrix():
    # h stays 0, so tanh' = 1 at every step.
    for scale in (1.0, 0.5):
        Wh = book_draw(scale)
        np.testing.assert_allclose(gradients.rnn_dh_norms(Wh, np.zeros((N, T, H))),
                                   bare_reference(Wh), rtol=RTOL, err_msg=f"x{scale}")


def test_exploding_and_vanishing_shapes(results):
    for kind in ("bare", "rnn"):
        up, down = results[kind][1.0], results[kind][0.5]
        assert np.all(np.diff(up) > 0), kind
        assert up[-1] / up[0] > 30, kind          # orders of magnitude up
        assert np.all(np.diff(down) < 0), kind
        assert down[0] / down[-1] > 1e3, kind     # and down
    # The tanh matters: it damps the explosion visibly, but keeps it.
    assert results["rnn"][1.0][-1] < 0.8 * results["bare"][1.0][-1]


def test_lstm_dc_is_the_books_cell(results):
    xs = gradients.experiment_inputs()
    for (scale, fb), got in results["lstm"].items():
        Wx, Wh, b = gradients.lstm_weights(scale, fb)
        np.testing.assert_array_equal(Wh, np.random.RandomState(3).randn(H, 4 * H) * scale)
        np.testing.assert_array_equal(b[:H], fb)
        np.testing.assert_array_equal(b[H:], 0)
        np.testing.assert_allclose(got, lstm_reference(Wx, Wh, b, xs), rtol=RTOL,
                                   err_msg=f"dc, Wh x{scale}, forget bias {fb}")


def test_lstm_cell_path_is_the_book_cell_without_h(results):
    xs = gradients.experiment_inputs()
    for key, cell in results["lstm_cell"].items():
        Wx, Wh, b = gradients.lstm_weights(*key)
        np.testing.assert_allclose(cell["norms"], lstm_reference(Wx, Wh, b, xs, h_path=False),
                                   rtol=RTOL, err_msg=f"cell path, {key}")
        assert cell["forget"] == pytest.approx(forget_gates(Wx, Wh, b, xs).mean(), rel=1e-12)
        # At k = 1 no dh has come back through Wh yet: the two agree.
        assert cell["norms"][0] == pytest.approx(results["lstm"][key][0], rel=RTOL)


def test_the_h_path_through_wh_makes_the_kept_dc_rise(results):
    """What the caption says: with forget bias 3 the cell alone only shrinks
    (by f < 1 a step); the full dc rises at Wh x1, by what the h path adds."""
    for scale in (1.0, 0.5):
        cell = results["lstm_cell"][(scale, 3.0)]
        assert 0.9 < cell["forget"] < 1
        assert np.all(np.diff(cell["norms"]) < 0), scale
    full, cell = results["lstm"][(1.0, 3.0)], results["lstm_cell"][(1.0, 3.0)]["norms"]
    assert full[-1] > 2 * full.min() and full[-1] > full[0]       # it rises, after a dip
    assert full[-1] / cell[-1] > 5                                  # the h path adds most
    ratio = results["lstm"][(0.5, 3.0)][-1] / results["lstm_cell"][(0.5, 3.0)]["norms"][-1]
    assert 0.8 < ratio < 1.5                                        # little at x0.5
    caption = gradients.lstm_caption(results, width=1000)
    assert f"dc climbs to {full[-1]:.2g} at k = 20, {full[-1] / cell[-1]:.1f} times" in caption
    assert f"to {cell[-1]:.2g} at k = 20" in caption and f"{ratio:.2f} times" in caption


def test_lstm_dc_shapes(results):
    lstm = results["lstm"]
    assert set(lstm) == {(1.0, 0.0), (1.0, 3.0), (0.5, 0.0), (0.5, 3.0)}
    for scale in (1.0, 0.5):
        forgets, keeps = lstm[(scale, 0.0)], lstm[(scale, 3.0)]
        assert forgets[0] / forgets[-1] > 1e3, scale   # f ~ 0.5: vanishes
        assert keeps.max() / keeps.min() < 10, scale   # f ~ 0.95: kept
        # Where the plain RNN at the same scale lost 1e3 or more, the kept dc did not.
        assert keeps[-1] > 1e2 * results["rnn"][0.5][-1]


def clipping_reference(train_steps, max_norm, lr, batch, input_scale):
    """The protocol of clipping_run in NumPy: BPTT of the tanh RNN, the book's
    clip_grads, SGD."""
    rng = np.random.RandomState(3)
    Wh = rng.randn(H, H)
    Wx, Whs, b = np.eye(H), Wh.copy(), np.zeros(H)
    teacher = 0.5 * Wh

    def forward(Wx, Wh, b, xs):
        hs = [np.zeros((batch, H))]
        for t in range(T):
            hs.append(np.tanh(xs[:, t] @ Wx + hs[-1] @ Wh + b))
        return hs

    loss, before, after = [], [], []
    for _ in range(train_steps):
        xs = input_scale * rng.randn(batch, T, H)
        y = forward(np.eye(H), teacher, np.zeros(H), xs)
        hs = forward(Wx, Whs, b, xs)
        loss.append(0.5 * sum(np.sum((hs[t] - y[t]) ** 2) for t in range(1, T + 1)) / batch)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Whs), np.zeros_like(b)
        dh = np.zeros((batch, H))
        for t in range(T, 0, -1):
            da = (dh + (hs[t] - y[t]) / batch) * (1 - hs[t] ** 2)
            dWx += xs[:, t - 1].T @ da
            dWh += hs[t - 1].T @ da
            db += da.sum(axis=0)
            dh = da @ Whs.T
        grads = [dWx, dWh, db]
        total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
        rate = max_norm / (total + 1e-6)
        if rate < 1:
            for g in grads:
                g *= rate
        before.append(total)
        after.append(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
        for p, g in zip((Wx, Whs, b), grads):
            p -= lr * g
    return np.array(loss), np.array(before), np.array(after)


def test_clipping_run_is_the_books_clip(results):
    clip = results["clip"]
    assert (clip["max_norm"], clip["lr"], clip["batch"]) == (5.0, 0.1, 8)
    loss, before, after = clipping_reference(len(clip["loss"]), 5.0, 0.1, 8,
                                             gradients.INPUT_SCALE)
    np.testing.assert_allclose(clip["loss"], loss, rtol=1e-8, err_msg="loss")
    np.testing.assert_allclose(clip["before"], before, rtol=1e-8, err_msg="before")
    np.testing.assert_allclose(clip["after"], after, rtol=1e-8, err_msg="after")


def test_clipped_norms(results):
    clip = results["clip"]
    before, after, max_norm = clip["before"], clip["after"], clip["max_norm"]
    above = before > max_norm
    assert above.sum() >= 5 and (~above).sum() >= 5   # both cases occur
    assert before[0] > 5 * max_norm                    # the exploding start
    assert np.all(after <= max_norm * (1 + 1e-12))
    np.testing.assert_allclose(after[above], max_norm, rtol=1e-6, err_msg="clipped")
    # before is clip_grads' BLAS sum, after NumPy's: equal up to the last bits.
    np.testing.assert_allclose(after[~above], before[~above], rtol=1e-13, err_msg="left alone")
    assert clip["loss"][-5:].mean() < 0.25 * clip["loss"][:5].mean()   # it learns


def test_no_global_random_state_touched():
    state = np.random.get_state()
    gradients.chapter_results()
    after = np.random.get_state()
    assert state[0] == after[0] and state[2:] == after[2:]
    np.testing.assert_array_equal(state[1], after[1])


def test_main_prints_the_tables(results, capsys):
    assert cli_main(["gradients"]) == 0
    out = capsys.readouterr().out
    for words in ("The plain RNN's backward signal", "np.random.seed(3)",
                  "sqrt(sum(dh**2)) / N", "x ~ 0.03 N(0,1)", "clip_grads at max_norm = 5",
                  "ch06/clip_grads.py", "The LSTM's backward signal through the cell"):
        assert words in out, words
    lines = out.splitlines()
    row20 = next(line for line in lines if line.split()[:1] == ["20"])
    expected = [results["bare"][1.0][-1], results["rnn"][1.0][-1],
                results["bare"][0.5][-1], results["rnn"][0.5][-1]]
    assert [float(v) for v in row20.split()[1:]] == \
        pytest.approx([float(f"{v:.3g}") for v in expected])
    clipped = [line for line in lines if line.endswith("clipped")]
    assert len(clipped) == int(np.sum(results["clip"]["before"] > 5.0))


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    had_pyplot = "matplotlib.pyplot" in sys.modules
    png = tmp_path / "gradients.png"
    assert cli_main(["gradients", "--plot", str(png)]) == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 20000
    assert f"curves drawn to {png}" in capsys.readouterr().out
    if not had_pyplot:   # the Agg canvas directly: pyplot's global state is left alone
        assert "matplotlib.pyplot" not in sys.modules


def test_the_picture_reads_in_words(results):
    """y-labels are words, not code; the LSTM panel holds the plain RNN's
    curves at the same Wh scales, the cell-alone curve and the caption."""
    pytest.importorskip("matplotlib")
    fig = gradients.figure(results)
    rnn_ax, clip_ax, lstm_ax, key_ax = fig.axes
    for ax in (rnn_ax, clip_ax, lstm_ax):
        label = ax.get_ylabel()
        assert label and not set(label) & set("()*_=/"), label
        assert "gradient norm" in label
    lines = {line.get_label(): line.get_ydata() for line in lstm_ax.get_lines()}
    for scale in (1.0, 0.5):
        np.testing.assert_array_equal(lines[f"plain RNN dh, Wh x{scale:g}"],
                                      results["rnn"][scale])
        for fb in (0.0, 3.0):
            np.testing.assert_array_equal(lines[f"LSTM dc, Wh x{scale:g}, forget bias {fb:g}"],
                                          results["lstm"][(scale, fb)])
    cut = next(v for k, v in lines.items() if "cell alone" in k)
    np.testing.assert_array_equal(cut, results["lstm_cell"][(1.0, 3.0)]["norms"])
    texts = " ".join(text.get_text() for text in key_ax.texts).replace("\n", " ")
    assert gradients.lstm_caption(results, width=10000) in texts
    assert len(key_ax.get_legend().get_texts()) == len(lines)


def test_plot_without_matplotlib_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    png = tmp_path / "gradients.png"
    assert cli_main(["gradients", "--plot", str(png)]) == 2
    out, err = capsys.readouterr()
    assert out == ""                                        # nothing computed or printed
    assert err.startswith("error: ") and "matplotlib" in err and err.count("\n") == 1
    assert not png.exists()


@pytest.mark.parametrize("name, says", [("curves.nope", "matplotlib's formats"),
                                        ("no-folder/curves.png", "there is no folder")])
def test_plot_bad_file_is_one_error_line(tmp_path, capsys, name, says):
    pytest.importorskip("matplotlib")
    assert cli_main(["gradients", "--plot", str(tmp_path / name)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and says in err


def test_no_matplotlib_import_without_plot():
    code = ("import sys\nfrom gatedrnn.__main__ import main\n"
            "assert main(['gradients']) == 0\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr


def test_float32_follows_the_weights():
    Wh, xs = book_draw(1.0), gradients.experiment_inputs()
    got = gradients.rnn_dh_norms(Wh.astype(np.float32), xs.astype(np.float32))
    np.testing.assert_allclose(got, tanh_rnn_reference(Wh, xs), rtol=1e-4, err_msg="float32")


@pytest.mark.parametrize("call, error, says", [
    (lambda: gradients.book_wh(-1.0), ValueError, "scale must be a non-negative"),
    (lambda: gradients.book_wh(1.0, seed=2 ** 32), ValueError, "seed must be below 2**32"),
    (lambda: gradients.experiment_inputs(steps=0), ValueError, "steps must be at least 1"),
    (lambda: gradients.experiment_inputs(input_scale=float("nan")), ValueError, "input_scale"),
    (lambda: gradients.bare_dh_norms(np.ones((2, 3))), ValueError, "Wh must be a square"),
    (lambda: gradients.bare_dh_norms([[1.0]]), TypeError, "Wh must be a numpy.ndarray"),
    (lambda: gradients.bare_dh_norms(np.eye(3), batch=1.5), TypeError, "batch must be an int"),
    (lambda: gradients.rnn_dh_norms(np.eye(3), np.zeros((2, 3))), ValueError,
     "xs must have shape (N, T, D)"),
    (lambda: gradients.rnn_dh_norms(np.eye(3), np.zeros((2, 4, 3), np.float32)), TypeError,
     "xs must have the weights' dtype float64"),
    (lambda: gradients.lstm_weights(1.0, float("inf")), ValueError, "forget_bias"),
    (lambda: gradients.lstm_dc_norms(*gradients.lstm_weights(1.0, 0.0), np.zeros((2, 4, 5))),
     ValueError, "D == 3"),
    (lambda: gradients.clipping_run(max_norm=0), ValueError, "max_norm must be a positive"),
    (lambda: gradients.clipping_run(train_steps=True), TypeError, "train_steps must be an int"),
    (lambda: gradients.clipping_run(lr="0.1"), TypeError, "lr must be a real number"),
])
def test_bad_arguments_name_themselves(call, error, says):
    with pytest.raises(error) as e:
        call()
    assert says in str(e.value)
