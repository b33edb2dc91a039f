"""``python -m gatedrnn gradients``: section 6.1 of the book (vanishing and
exploding gradients) on our compiled layers, as numbers and a picture.

Three experiments, each a function that returns its numbers:

- ``rnn_dh_norms``: the plain RNN's backward signal. The book's
  ``ch06/rnn_gradient_graph.py`` draws ``Wh`` with ``np.random.seed(3)``
  (N=2, H=3, T=20), starts from ``dh = ones((N, H))`` and repeats
  ``dh = dh @ Wh.T``, recording ``sqrt(sum(dh ** 2)) / N`` (the Frobenius norm
  over the batch divided by N, not a mean of row norms). ``bare_dh_norms`` is
  that bare-matrix recurrence. ``rnn_dh_norms`` runs the same weights through
  ``TimeRNN``'s backward, tanh included: the gradient ``ones`` arrives at the
  last hidden state, and the value at k steps back is the layer's ``dh``
  after a backward over the last k steps of one forward trajectory (a
  stateful forward from h_{T-k}), that is the dh of a single 20-step backward
  at step T-k.

  The inputs decide whether the tanh matters. With zero inputs and a zero
  initial state every h stays 0, tanh' = 1, and the layer reproduces the bare
  matrix exactly. With large inputs the states saturate, tanh' = 1 - h**2
  becomes small, and the scale-1 gradient no longer explodes (a plain tanh
  RNN's forward growth is bounded, so its backward growth is damped). We use
  h0 = 0 and small inputs, x ~ 0.03 N(0, 1) (the draws that follow Wh in the
  seed-3 stream), entering the pre-activation through Wx = I, b = 0. With Wh
  at scale 1 the states grow along the exploding direction to |h| of about
  0.65 in the last steps, where tanh' is about 0.6: the gradient still grows
  by two orders of magnitude over the 20 steps, visibly less than the bare
  matrix's. At scale 0.5 the states stay below 0.13 and the tanh barely
  changes the vanishing curve.
- ``clipping_run``: the exploding weights in training, with ``clip_grads``.
  A student ``TimeRNN`` starting from the scale-1 Wh learns, by SGD, the
  hidden states a teacher with the scale-0.5 Wh produces for fresh random
  inputs each step (x ~ 0.03 N(0, 1), batch 8, T = 20; loss
  0.5 * sum over t of |h_t - y_t|^2 / batch; lr 0.1; 30 steps). Each step
  records the total gradient norm before clipping and after, and the loss:
  the first steps' norms are several times max_norm and are clipped, and as
  Wh shrinks towards the teacher's they fall below it and pass unchanged.
  max_norm is 5.0, as in the book's clip example ``ch06/clip_grads.py`` (the
  chapter's language models clip at 0.25).
- ``lstm_dc_norms``: the LSTM's backward signal through the cell: the norm of
  dc over the same 20 steps, same inputs, the gradient ``ones`` arriving at
  the last hidden state as for the RNN. Along the cell the backward
  multiplies dc by the forget gate element-wise (the book's
  ``dc_prev = (dc_next + dh_next * o * tanh'(c)) * f``); Wh enters only
  through the h path. With a zero forget bias (f about 0.5 here) dc shrinks
  by three to four orders of magnitude over 20 steps, as the vanishing RNN's
  does. With a forget bias of 3 (f about 0.95, a gate that keeps) it stays
  within a factor of ten over the 20 steps at either Wh scale; at scale 1 it
  slowly grows. ``lstm_cell_path`` says where the growth comes from: along
  the cell alone (the h path cut, dc_prev = dc * f) dc can only shrink, by f
  a step. Each step also sends dc back through the gates into h,
  dh_prev = dA @ Wh.T, and the next step back puts that into the cell as
  f * o * tanh'(c) * dh: a loop through Wh. At scale 1 and forget bias 3 the
  loop adds more than f takes away (dc ends about 7 times the cell path's
  value); at scale 0.5 it adds about a fifth. The picture draws the plain
  RNN's dh at the same scales beside dc, so the chapter's point, that the
  cell carries what the RNN loses, is read off one panel.

The norms are ``book_norm``'s, the book's ``sqrt(sum(dh ** 2)) / N``.
matplotlib is imported only for ``--plot`` (``pip install 'gatedrnn[plot]'``).
"""
import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from ._layers import TimeLSTM, TimeRNN
from ._typing import Float64Array, FloatArray
from .clip import clip_grads
from .spec import sigmoid

DESCRIPTION = ("Section 6.1 of the book on gatedrnn's layers: the plain RNN's backward signal "
               "exploding (Wh at scale 1) and vanishing (scale 0.5), through TimeRNN's tanh and "
               "as the book's bare matrix; the exploding case in training with clip_grads; and "
               "the LSTM's cell gradient dc for comparison. Prints the tables; --plot draws them.")

# The book's ch06/rnn_gradient_graph.py.
BATCH, HIDDEN, STEPS, SEED = 2, 3, 20, 3
SCALES = (1.0, 0.5)
INPUT_SCALE = 0.03
# The book's ch06/clip_grads.py.
MAX_NORM = 5.0
FORGET_BIASES = (0.0, 3.0)


# ---- arguments ----------------------------------------------------------------

def _int_at_least(value: int, name: str, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}; got {value}")
    return int(value)


def _real(value: float, name: str, kind: str = "non-negative") -> float:
    """A finite real number; kind "any", "non-negative" or "positive"."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not (np.isfinite(value) and {"any": True, "non-negative": value >= 0,
                                     "positive": value > 0}[kind]):
        raise ValueError(f"{name} must be a {'' if kind == 'any' else kind + ' '}finite "
                         f"number; got {value}")
    return float(value)


def _seed(seed: int) -> int:
    if _int_at_least(seed, "seed", 0) >= 2 ** 32:
        raise ValueError(f"seed must be below 2**32 (NumPy's RandomState); got {seed}")
    return int(seed)


def _square(Wh: FloatArray) -> FloatArray:
    if not isinstance(Wh, np.ndarray):
        raise TypeError(f"Wh must be a numpy.ndarray; got {type(Wh).__name__}")
    if Wh.ndim != 2 or Wh.shape[0] != Wh.shape[1] or Wh.shape[0] == 0:
        raise ValueError(f"Wh must be a square matrix (H, H); got shape {Wh.shape}")
    if Wh.dtype not in (np.float32, np.float64):
        raise TypeError(f"Wh must have dtype float32 or float64; got {Wh.dtype}")
    return Wh


def _sequence(xs: FloatArray, D: int, dtype: np.dtype[Any]) -> FloatArray:
    if not isinstance(xs, np.ndarray):
        raise TypeError(f"xs must be a numpy.ndarray; got {type(xs).__name__}")
    if xs.ndim != 3 or xs.shape[2] != D or 0 in xs.shape:
        raise ValueError(f"xs must have shape (N, T, D) with N, T >= 1 and D == {D}; "
                         f"got {xs.shape}")
    if xs.dtype != dtype:
        raise TypeError(f"xs must have the weights' dtype {dtype}; got {xs.dtype}")
    return xs


def book_norm(dh: FloatArray) -> float:
    """The book's norm of a batch of gradients (N, H): sqrt(sum(dh ** 2)) / N."""
    return float(np.sqrt(np.sum(dh ** 2)) / dh.shape[0])


def book_wh(scale: float, hidden: int = HIDDEN, seed: int = SEED) -> Float64Array:
    """The book's Wh: ``np.random.seed(seed); np.random.randn(H, H) * scale``,
    drawn from a private generator (NumPy's global one is not touched)."""
    scale, hidden, seed = _real(scale, "scale"), _int_at_least(hidden, "hidden", 1), _seed(seed)
    return np.random.RandomState(seed).randn(hidden, hidden) * scale


def experiment_inputs(batch: int = BATCH, steps: int = STEPS, hidden: int = HIDDEN,
                      seed: int = SEED, input_scale: float = INPUT_SCALE) -> Float64Array:
    """xs (N, T, H): ``input_scale`` times the normal draws that follow Wh in
    the seed's stream (the same for every scale)."""
    batch, steps = _int_at_least(batch, "batch", 1), _int_at_least(steps, "steps", 1)
    hidden, seed = _int_at_least(hidden, "hidden", 1), _seed(seed)
    input_scale = _real(input_scale, "input_scale")
    rng = np.random.RandomState(seed)
    rng.randn(hidden, hidden)  # Wh's draws
    return input_scale * rng.randn(batch, steps, hidden)


def bare_dh_norms(Wh: FloatArray, steps: int = STEPS, batch: int = BATCH) -> Float64Array:
    """The book's bare-matrix recurrence: dh = ones (N, H), then ``steps``
    times dh = dh @ Wh.T; the book_norm after each (k = 1 .. steps back)."""
    Wh = _square(Wh)
    steps, batch = _int_at_least(steps, "steps", 1), _int_at_least(batch, "batch", 1)
    dh: FloatArray = np.ones((batch, Wh.shape[0]), Wh.dtype)
    norms: list[float] = []
    for _ in range(steps):
        dh = dh @ Wh.T
        norms.append(book_norm(dh))
    return np.array(norms)


def _states(layer: TimeRNN | TimeLSTM, xs: FloatArray, with_c: bool) -> list[Any]:
    """The states before each step of one forward of a stateful layer over xs,
    from zeros: a list of T + 1 entries, h (or (h, c)) before step t and after
    the last."""
    layer.reset_state()
    N, T, _ = xs.shape
    H = layer.params[1].shape[0]
    zeros = np.zeros((N, H), layer.dtype)
    states: list[Any] = [(zeros, zeros) if with_c else zeros]
    for t in range(T):
        layer.forward(xs[:, t:t + 1], train=False)
        h = cast(FloatArray, layer.h)  # the forward has set h (and c for the LSTM)
        states.append((h.copy(), cast(FloatArray, layer.c).copy()) if with_c else h.copy())
    return states


def _signal_back(layer: TimeRNN | TimeLSTM, xs: FloatArray, with_c: bool) -> list[FloatArray]:
    """For k = 1 .. T: the gradient at the state k steps before the end, when
    ``ones`` arrives at the last hidden state and nothing at the others: the
    layer's dh (dc for an LSTM) after a backward over the last k steps,
    forwarded from the state the full forward had there."""
    states = _states(layer, xs, with_c)
    N, T, _ = xs.shape
    ones = np.ones((N, layer.params[1].shape[0]), layer.dtype)
    signal: list[FloatArray] = []
    for k in range(1, T + 1):
        if with_c:
            layer.set_state(*states[T - k])
        else:
            layer.set_state(states[T - k])
        layer.forward(xs[:, T - k:])
        layer.backward(np.zeros((N, k, ones.shape[1]), layer.dtype), ones)
        signal.append(cast(FloatArray, layer.dc if with_c else layer.dh).copy())  # set by backward
    layer.reset_state()
    return signal


def rnn_dh_norms(Wh: FloatArray, xs: FloatArray) -> Float64Array:
    """The book_norm of TimeRNN's dh at k = 1 .. T steps back (tanh included),
    ``ones`` arriving at the last hidden state; inputs xs (N, T, H) through
    Wx = I, b = 0, h0 = 0."""
    H = _square(Wh).shape[0]
    xs = _sequence(xs, H, Wh.dtype)
    layer = TimeRNN(np.eye(H, dtype=Wh.dtype), Wh, np.zeros(H, Wh.dtype), stateful=True)
    return np.array([book_norm(dh) for dh in _signal_back(layer, xs, with_c=False)])


def lstm_weights(scale: float, forget_bias: float, hidden: int = HIDDEN, seed: int = SEED
                 ) -> tuple[Float64Array, Float64Array, Float64Array]:
    """(Wx, Wh, b) of the LSTM experiment: Wh = randn(H, 4H) * scale from the
    seed (the book's kind of draw), Wx = [I I I I] (the input enters every
    gate as it enters the RNN), b zero but ``forget_bias`` on the f gate."""
    scale, hidden, seed = _real(scale, "scale"), _int_at_least(hidden, "hidden", 1), _seed(seed)
    forget_bias = _real(forget_bias, "forget_bias", "any")
    Wh = np.random.RandomState(seed).randn(hidden, 4 * hidden) * scale
    Wx = np.tile(np.eye(hidden), 4)
    b = np.zeros(4 * hidden)
    b[:hidden] = forget_bias  # gates f, g, i, o
    return Wx, Wh, b


def lstm_dc_norms(Wx: FloatArray, Wh: FloatArray, b: FloatArray, xs: FloatArray) -> Float64Array:
    """The book_norm of TimeLSTM's dc at k = 1 .. T steps back, ``ones``
    arriving at the last hidden state (and nothing at the last cell); h0 = c0 = 0."""
    layer = TimeLSTM(Wx, Wh, b, stateful=True)  # checks the weights
    xs = _sequence(xs, Wx.shape[0], Wx.dtype)
    return np.array([book_norm(dc) for dc in _signal_back(layer, xs, with_c=True)])


def lstm_cell_path(Wx: FloatArray, Wh: FloatArray, b: FloatArray, xs: FloatArray
                   ) -> dict[str, Any]:
    """dc along the cell alone: the book_norm of dc at k = 1 .. T steps back
    with the h path cut (dc_prev = dc * f, no dh = dA @ Wh.T coming back),
    from the same dc as lstm_dc_norms at k = 1; h0 = c0 = 0.

    Returns ``norms`` and ``forget``, the mean forget gate over the run.
    The difference from lstm_dc_norms is what the h path through Wh adds."""
    layer = TimeLSTM(Wx, Wh, b, stateful=True)  # checks the weights
    xs = _sequence(xs, Wx.shape[0], Wx.dtype)
    N, T, _ = xs.shape
    H = Wh.shape[0]
    states = _states(layer, xs, with_c=True)
    layer.reset_state()
    # The gates from the forward's states, as the book's LSTM computes them.
    A = np.stack([xs[:, t] @ Wx + states[t][0] @ Wh + b for t in range(T)])  # (T, N, 4H)
    f, o = sigmoid(A[:, :, :H]), sigmoid(A[:, :, 3 * H:])
    tanh_c = np.tanh(states[T][1])
    dc = np.ones((N, H)) * o[T - 1] * (1 - tanh_c ** 2) * f[T - 1]
    norms = [book_norm(dc)]
    for t in range(T - 2, -1, -1):
        dc = dc * f[t]
        norms.append(book_norm(dc))
    return dict(norms=np.array(norms), forget=float(f.mean()))


def clipping_run(train_steps: int = 30, max_norm: float = MAX_NORM, lr: float = 0.1,
                 batch: int = 8, steps: int = STEPS, hidden: int = HIDDEN, seed: int = SEED,
                 input_scale: float = INPUT_SCALE) -> dict[str, Any]:
    """Train a student TimeRNN from the exploding Wh (``book_wh(1)``) towards a
    teacher with ``book_wh(0.5)``, by SGD with ``clip_grads(grads, max_norm)``.

    Each step draws xs = input_scale * randn(batch, steps, hidden) (the draws
    after Wh in the seed's stream), takes the teacher's hidden states as
    targets, and the loss 0.5 * sum(|h_t - y_t|^2) / batch over every step.
    Returns a dict of arrays of length ``train_steps``: ``loss``, ``before``
    (the total norm of [dWx, dWh, db], as clip_grads returns it) and
    ``after`` (the norm recomputed after clipping); and the settings
    ``max_norm``, ``lr`` and ``batch``.
    """
    train_steps = _int_at_least(train_steps, "train_steps", 1)
    max_norm, lr = _real(max_norm, "max_norm", "positive"), _real(lr, "lr", "positive")
    batch, steps = _int_at_least(batch, "batch", 1), _int_at_least(steps, "steps", 1)
    hidden, seed = _int_at_least(hidden, "hidden", 1), _seed(seed)
    input_scale = _real(input_scale, "input_scale")
    rng = np.random.RandomState(seed)
    Wh = rng.randn(hidden, hidden)  # book_wh(1)
    # Separate arrays: SGD updates the student's params in place.
    student = TimeRNN(np.eye(hidden), Wh.copy(), np.zeros(hidden))
    teacher = TimeRNN(np.eye(hidden), 0.5 * Wh, np.zeros(hidden))
    loss: list[float] = []
    before: list[float] = []
    after: list[float] = []
    for _ in range(train_steps):
        xs = input_scale * rng.randn(batch, steps, hidden)
        diff = student.forward(xs) - teacher.forward(xs, train=False)
        loss.append(0.5 * float(np.sum(diff ** 2)) / batch)
        student.backward(diff / batch)
        before.append(clip_grads(student.grads, max_norm))
        after.append(float(np.sqrt(sum(np.sum(g ** 2) for g in student.grads))))
        for p, g in zip(student.params, student.grads):
            p -= lr * g
    return dict(loss=np.array(loss), before=np.array(before), after=np.array(after),
                max_norm=max_norm, lr=lr, batch=batch)


def chapter_results() -> dict[str, Any]:
    """Every curve of the command with its defaults, as a dict of arrays:
    ``bare``, ``rnn`` and ``lstm`` map a key to norms at k = 1 .. 20 steps back
    (``bare[scale]``, ``rnn[scale]``, ``lstm[(scale, forget_bias)]``),
    ``lstm_cell[(scale, forget_bias)]`` is lstm_cell_path()'s dict, and
    ``clip`` is clipping_run()'s dict."""
    xs = experiment_inputs()
    results: dict[str, Any] = dict(bare={}, rnn={}, lstm={}, lstm_cell={})
    for scale in SCALES:
        Wh = book_wh(scale)
        results["bare"][scale] = bare_dh_norms(Wh)
        results["rnn"][scale] = rnn_dh_norms(Wh, xs)
        for fb in FORGET_BIASES:
            results["lstm"][(scale, fb)] = lstm_dc_norms(*lstm_weights(scale, fb), xs)
            results["lstm_cell"][(scale, fb)] = lstm_cell_path(*lstm_weights(scale, fb), xs)
    results["clip"] = clipping_run()
    return results


# ---- printing -----------------------------------------------------------------

def _row(first: str | int, values: Sequence[float | str], width: int = 12) -> str:
    return f"{first:>5}" + "".join(f"{v:>{width}.3g}" if not isinstance(v, str)
                                   else f"{v:>{width}}" for v in values)


def format_tables(results: dict[str, Any]) -> str:
    """The three tables as text."""
    s1, s2 = SCALES
    lines = [
        f"The plain RNN's backward signal (the book's ch06/rnn_gradient_graph.py: N={BATCH}, "
        f"H={HIDDEN}, T={STEPS}, Wh = randn(H, H) * scale after np.random.seed({SEED})).",
        "norm = sqrt(sum(dh**2)) / N, k steps back from dh = ones at the last step.",
        "bare: dh = dh @ Wh.T (the book's). TimeRNN: our layer's backward, tanh included, "
        f"over inputs x ~ {INPUT_SCALE} N(0,1)",
        "(Wx = I, b = 0, h0 = 0): small enough for the states to stay off saturation (|h| < 0.7 "
        "at x1), so the tanh damps",
        "the growth (tanh' down to 0.6) but keeps the shapes; with zero inputs the layer would "
        "equal the bare matrix, with large ones it saturates.",
        "",
        _row("k", [f"bare x{s1:g}", f"TimeRNN x{s1:g}", f"bare x{s2:g}", f"TimeRNN x{s2:g}"],
             14),
    ]
    for k in range(STEPS):
        lines.append(_row(k + 1, [results["bare"][s1][k], results["rnn"][s1][k],
                                  results["bare"][s2][k], results["rnn"][s2][k]], 14))
    clip = results["clip"]
    lines += [
        "",
        f"The exploding Wh (x{s1:g}) in training, with gatedrnn.clip_grads at max_norm = "
        f"{clip['max_norm']:g} (the book's ch06/clip_grads.py):",
        f"a TimeRNN learns by SGD (lr {clip['lr']:g}, batch {clip['batch']}, T={STEPS}, inputs "
        f"x ~ {INPUT_SCALE} N(0,1)) the states of a teacher with Wh "
        f"x{s2:g}; total norm of [dWx, dWh, db].",
        "",
        _row("step", ["loss", "before", "after", ""], 12).rstrip(),
    ]
    for i, (loss, b, a) in enumerate(zip(clip["loss"], clip["before"], clip["after"])):
        lines.append(_row(i + 1, [loss, b, a, "clipped" if b > clip["max_norm"] else ""],
                          12).rstrip())
    keys = list(results["lstm"])
    kept = (SCALES[0], FORGET_BIASES[-1])
    lines += [
        "",
        "The LSTM's backward signal through the cell: norm of dc, k steps back, dh = ones at "
        "the last step, the same inputs;",
        f"Wh = randn(H, 4H) * scale after np.random.seed({SEED}), Wx = [I I I I], b = 0 but the "
        "forget gate's bias bf.",
        "Along the cell the backward multiplies by f element-wise: bf = 0 gives f ~ "
        f"{results['lstm_cell'][(SCALES[0], FORGET_BIASES[0])]['forget']:.2f}, bf = 3 gives "
        f"f ~ {results['lstm_cell'][kept]['forget']:.2f}. 'cell': the same with the h "
        "path cut (dc_prev = dc * f).",
        *lstm_caption(results, width=110, where="the column 'cell'").splitlines(),
        "",
        _row("k", [f"x{s:g} bf={fb:g}" for s, fb in keys]
             + [f"x{kept[0]:g} bf={kept[1]:g} cell"], 14),
    ]
    for k in range(STEPS):
        lines.append(_row(k + 1, [results["lstm"][key][k] for key in keys]
                          + [results["lstm_cell"][kept]["norms"][k]], 14))
    return "\n".join(lines)


def lstm_caption(results: dict[str, Any], width: int = 60, where: str = "dotted") -> str:
    """Why the forget-bias-3 curve rises at Wh x1, with the run's numbers;
    ``where`` says where the cell path alone is shown."""
    import textwrap

    fb = FORGET_BIASES[-1]
    (s1, s2), last = SCALES, STEPS
    full = {s: results["lstm"][(s, fb)][-1] for s in SCALES}
    cell = {s: results["lstm_cell"][(s, fb)]["norms"][-1] for s in SCALES}
    forget = results["lstm_cell"][(s1, fb)]["forget"]
    # "\0" holds a formula's spaces together through the wrapping.
    text = (f"Forget bias {fb:g} keeps f ~ {forget:.2f}, so along the cell alone dc shrinks by "
            f"f a step (at Wh x{s1:g}: to {cell[s1]:.2g} at k = {last}, {where}). But each step "
            f"also sends dc through the gates into h, dh\0=\0dA\0Wh^T, which the step before "
            f"adds to the cell as f\0o\0tanh'(c)\0dh. At Wh x{s1:g} this loop through Wh "
            f"gains more than f loses: after a dip, dc climbs to {full[s1]:.2g} at "
            f"k\0=\0{last}, {full[s1] / cell[s1]:.1f} times the cell alone (at Wh x{s2:g}: "
            f"{full[s2] / cell[s2]:.2f} times).")
    return textwrap.fill(text, width).replace("\0", " ")


# ---- the picture --------------------------------------------------------------

def figure(results: dict[str, Any]) -> Any:
    """The three panels as a matplotlib Figure on an Agg canvas (neither pyplot
    nor the user's backend is touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 9), layout="constrained")
    FigureCanvasAgg(fig)
    (rnn_ax, clip_ax), (lstm_ax, key_ax) = fig.subplots(2, 2)
    k = np.arange(1, STEPS + 1)
    rnn_colors = dict(zip(SCALES, ("tab:red", "tab:blue")))
    for scale, color in rnn_colors.items():
        # Wide and pale, so that the layer's curve stays visible where they meet.
        rnn_ax.plot(k, results["bare"][scale], "-", color=color, linewidth=5, alpha=0.3,
                    label=f"bare dh @ Wh.T, Wh x{scale:g}")
        rnn_ax.plot(k, results["rnn"][scale], "-o", color=color, markersize=3,
                    label=f"TimeRNN (tanh), Wh x{scale:g}")
    rnn_ax.set_title("plain RNN: dh, k steps back")

    clip = results["clip"]
    steps = np.arange(1, len(clip["before"]) + 1)
    clip_ax.plot(steps, clip["before"], "-o", color="tab:red", markersize=3,
                 label="before clip_grads")
    clip_ax.plot(steps, clip["after"], "-o", color="tab:green", markersize=3,
                 label="after clip_grads")
    clip_ax.axhline(clip["max_norm"], color="gray", linestyle=":",
                    label=f"max_norm = {clip['max_norm']:g}")
    clip_ax.set_title("TimeRNN, Wh x1 in training")
    clip_ax.set_xlabel("training step")
    clip_ax.set_ylabel("gradient norm of the weights")

    # The plain RNN's dh at the same scales, as in the first panel: the cell
    # keeps what the RNN loses at x0.5, and does not explode with it at x1.
    for scale, color in rnn_colors.items():
        lstm_ax.plot(k, results["rnn"][scale], "-" if scale == SCALES[0] else "--",
                     color=color, linewidth=1, alpha=0.6, label=f"plain RNN dh, Wh x{scale:g}")
    colors = {0.0: "tab:purple", 3.0: "tab:orange"}
    for (scale, fb), norms in results["lstm"].items():
        lstm_ax.plot(k, norms, "-o" if scale == SCALES[0] else "--o", markersize=3,
                     color=colors.get(fb), label=f"LSTM dc, Wh x{scale:g}, forget bias {fb:g}")
    kept = (SCALES[0], FORGET_BIASES[-1])
    lstm_ax.plot(k, results["lstm_cell"][kept]["norms"], ":", color=colors[kept[1]],
                 linewidth=2, label=f"LSTM dc, Wh x{kept[0]:g}, forget bias {kept[1]:g}: the cell alone "
                       "(h path cut)")
    lstm_ax.set_title("LSTM's cell against the plain RNN")
    # Its key and caption in the fourth cell: seven curves leave no room inside.
    key_ax.axis("off")
    key_ax.legend(*lstm_ax.get_legend_handles_labels(), loc="upper left", fontsize=9,
                  title="LSTM's cell against the plain RNN (left)", title_fontsize=9)
    key_ax.text(0.0, 0.0, lstm_caption(results, width=62), transform=key_ax.transAxes,
                fontsize=9.5, va="bottom", ha="left")

    for ax in (rnn_ax, lstm_ax):
        ax.set_xlabel("steps back (k)")
        ax.set_ylabel("gradient norm per sequence")
        ax.set_xticks([1, 5, 10, 15, 20])
    for ax in (rnn_ax, clip_ax, lstm_ax):
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
    rnn_ax.legend(fontsize=8)
    clip_ax.legend(fontsize=8)
    return fig


def plot(results: dict[str, Any], path: str) -> None:
    """Draw the three panels to ``path`` (a format matplotlib knows from the
    suffix, e.g. .png)."""
    figure(results).savefig(path, dpi=90)


# ---- the command --------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also draw the curves to this file, log-scale (needs matplotlib: "
                             "pip install 'gatedrnn[plot]')")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2


def main(args: argparse.Namespace) -> int:
    """Print the tables (and draw them with --plot). Returns the exit code."""
    path = getattr(args, "plot", None)
    if path is not None:
        # Say so before computing anything.
        try:
            # Not "from matplotlib.backend_bases import": a cached submodule
            # would be found even where matplotlib itself is blocked.
            import matplotlib.backend_bases
        except ImportError:
            return _error("--plot needs matplotlib: pip install 'gatedrnn[plot]'")
        suffix = path.rpartition(".")[2].lower() if "." in path else ""
        known = matplotlib.backend_bases.FigureCanvasBase.get_supported_filetypes()
        if suffix not in known:
            return _error(f"--plot needs a file name ending in one of matplotlib's formats "
                          f"({', '.join('.' + s for s in sorted(known))}); got {path!r}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return _error(f"--plot {path!r}: there is no folder {folder!r}")

    results = chapter_results()
    print(format_tables(results), flush=True)
    if path is not None:
        try:
            plot(results, path)
        except OSError as e:
            return _error(f"could not write the plot to {path!r}: {e}")
        print(f"\ncurves drawn to {path}", flush=True)
    return 0
