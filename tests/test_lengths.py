"""Sequences of different lengths (``lengths=`` on every Time layer's forward).

The spec defines them (a row whose sequence has ended keeps its state and
outputs zeros) and is checked against finite differences; every kernel path is
checked against the spec on 1 and 2 threads, in both dtypes, at sizes with
several inference chunks, several K blocks and the dot-product backward, with
lengths of 0, 1, T and mixtures; then what a user relies on: equal lengths are
the plain call, padding is never read, each sequence is computed as if alone,
the stateful carry, the BiLSTM's backward direction, and bad lengths.
(Against PyTorch's packed sequences and Keras's masks: tests/test_interop.py.)
"""
import time

import numpy as np
import pytest

import gatedrnn
from conftest import TOL, assert_unchanged, snapshot
from gatedrnn import _kernels, spec
from gatedrnn import problems as family
from gatedrnn.gradcheck import numerical_gradient, relative_error
from test_path_matrix import SIMD_PATHS, assert_matches_reference, run_all_three

FD_LIMIT = 1e-6


def with_lengths(kind, shape, lengths, dtype, seed=0):
    p = family.make_problem(kind, *shape, dtype, seed=seed)
    p["lengths"] = np.array(lengths)
    return p


# -- the spec against finite differences -------------------------------------------------

@pytest.mark.parametrize("lengths", [[3, 0, 1], [1, 3, 2], [0, 0, 0]], ids=str)
@pytest.mark.parametrize("kind", family.KINDS)
def test_spec_matches_finite_differences(kind, lengths):
    """Every gradient, the initial states' too, from non-zero initial states and
    non-zero gradients at the last states (taken after each sequence's last step)."""
    p = with_lengths(kind, (3, 3, 2, 3), lengths, np.float64, seed=5)
    loss, analytic, values = family.loss_and_gradients(kind, spec, p)
    for name, x in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, x))
        assert err <= FD_LIMIT, f"{kind} d{name}: relative error {err:.2e}"


def test_spec_ended_rows_pass_their_state_through():
    """Written out for the LSTM: h and c after the last real step, hs zero past it."""
    p = with_lengths("lstm", (3, 4, 2, 3), [4, 2, 0], np.float64, seed=1)
    layer = family.time_layer("lstm", spec, p["weights"], stateful=True)
    family.set_state("lstm", layer, p)
    hs = layer.forward(p["xs"], lengths=p["lengths"])
    for n, L in enumerate(p["lengths"]):
        alone = family.time_layer("lstm", spec, p["weights"], stateful=True)
        alone.set_state(p["h0"][0][n:n + 1], p["c0"][0][n:n + 1])
        expected = alone.forward(p["xs"][n:n + 1, :L])
        np.testing.assert_allclose(hs[n, :L], expected[0], rtol=1e-13, atol=1e-15)
        assert np.all(hs[n, L:] == 0)
        np.testing.assert_allclose(layer.h[n], alone.h[0], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(layer.c[n], alone.c[0], rtol=1e-13, atol=1e-15)


# -- every path against the spec -------------------------------------------------------

# (N, T, D, H), lengths, and what each one exercises.
CASES = {
    "several inference chunks and K blocks": ((3, 700, 5, 9), [700, 1, 350]),
    "many row blocks, zeros and T": ((60, 40, 7, 21),
                                     list(np.random.default_rng(60).integers(0, 41, 60))),
    "row blocks that end mid-block": ((13, 6, 20, 65), [6, 5, 5, 4, 3, 6, 1, 0, 2, 6, 6, 1, 3]),
    "odd sizes, partial vectors": ((7, 9, 16, 37), [9, 0, 1, 9, 5, 3, 8]),
    "the dot-product backward": ((2, 30, 3, 5), [30, 7]),
    "one sequence, T = 1": ((1, 1, 4, 3), [1]),
}
# Threads, and how two share a step: by sequences (slices of near-equal total
# length) or by gate columns (a barrier per step).
THREADS = {"1 thread": (1, None), "2 threads, rows": (2, "rows"),
           "2 threads, columns": (2, "columns")}


@pytest.fixture
def kernels_restored():
    yield
    _kernels.set_path(None)
    _kernels.set_split(None)
    _kernels.set_all_threads(False)
    _kernels.set_num_threads(0)


def reference(kind, case, dtype):
    shape, lengths = CASES[case]
    p = with_lengths(kind, shape, lengths, dtype, seed=sum(shape))
    return p, family.run(kind, spec, p)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", family.KINDS)
def test_blas_path(kind, case, dtype, kernels_restored):
    _kernels.set_path("blas")
    p, ref = reference(kind, case, dtype)
    assert_matches_reference(run_all_three(kind, p), ref, dtype, f"{kind}, blas, {case}")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("kind", family.KINDS)
def test_simd_path(kind, path, case, threads, dtype, kernels_restored):
    count, split = THREADS[threads]
    _kernels.set_path(path)
    _kernels.set_split(split)
    _kernels.set_num_threads(count)
    _kernels.set_all_threads(True)
    p, ref = reference(kind, case, dtype)
    before = _kernels.jobs_shared()
    out = run_all_three(kind, p)
    assert_matches_reference(out, ref, dtype, f"{kind}, {path}, {threads}, {case}")
    if count == 1:
        return
    # Bit-identical to one thread, and a worker really took part (see test_path_matrix).
    _kernels.set_num_threads(1)
    alone = run_all_three(kind, p)
    for name in out:
        np.testing.assert_array_equal(out[name], alone[name], err_msg=name)
    _kernels.set_num_threads(2)
    deadline = time.monotonic() + 10
    while _kernels.jobs_shared() == before and time.monotonic() < deadline:
        run_all_three(kind, p)
    assert _kernels.jobs_shared() > before, "no call ran on two threads in 10 s"


# -- what users rely on ----------------------------------------------------------------

@pytest.mark.parametrize("kind", family.KINDS)
def test_equal_lengths_are_the_plain_call(kind, every_path):
    """lengths all T (as an array or a list) is today's call, to the bit."""
    p = family.make_problem(kind, 4, 5, 3, 6, np.float32, seed=2)
    plain = family.run(kind, gatedrnn, p)
    for lengths in (np.full(4, 5), [5, 5, 5, 5]):
        p["lengths"] = lengths
        same = family.run(kind, gatedrnn, p)
        for name in plain:
            np.testing.assert_array_equal(same[name], plain[name], err_msg=name)


@pytest.mark.parametrize("kind", family.KINDS)
def test_padding_is_never_read(kind, every_path):
    """NaN in the padded xs and dhs changes nothing: the padded steps do not run."""
    p = with_lengths(kind, (5, 6, 3, 4), [6, 2, 0, 5, 1], np.float64, seed=3)
    clean = family.run(kind, gatedrnn, p)
    for n, L in enumerate(p["lengths"]):
        p["xs"][n, L:] = np.nan
        p["dhs"][n, L:] = np.nan
    dirty = family.run(kind, gatedrnn, p)
    for name in clean:
        np.testing.assert_array_equal(dirty[name], clean[name], err_msg=name)
    assert not np.any(clean["dxs"][1, 2:]) and not np.any(clean["hs"][2])


@pytest.mark.parametrize("kind", family.KINDS)
def test_each_sequence_as_if_alone(kind, every_path):
    """Sequence n in a batch gives what it gives alone, cut to its length: its
    outputs, last state, initial-state gradients; the weight gradients are the
    sum of the sequences'."""
    lengths = [4, 1, 0, 3]
    p = with_lengths(kind, (4, 4, 3, 5), lengths, np.float64, seed=4)
    batch = family.run(kind, gatedrnn, p)
    grads = [0.0] * len(p["weights"])
    for n, L in enumerate(lengths):
        q = dict(weights=p["weights"], xs=p["xs"][n:n + 1, :L], dhs=p["dhs"][n:n + 1, :L],
                 h0=[h[n:n + 1] for h in p["h0"]], dh_T=p["dh_T"][n:n + 1])
        if kind in family.HAS_C:
            q["c0"], q["dc_T"] = [c[n:n + 1] for c in p["c0"]], p["dc_T"][n:n + 1]
        alone = family.run(kind, gatedrnn, q)
        for name, value in alone.items():
            if name.startswith("grads"):
                grads[int(name[6])] = grads[int(name[6])] + value
                continue
            got = batch[name][n:n + 1, :L] if name in ("hs", "dxs") else batch[name][n:n + 1]
            np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-14, err_msg=f"{name}[{n}]")
    for k, g in enumerate(grads):
        np.testing.assert_allclose(batch[f"grads[{k}]"], g, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after", "rnn", "bilstm"])
def test_stateful_carry_is_each_sequences_last_state(kind, dtype):
    """A stateful layer carries each sequence's state after its last real step
    into the next call (a sequence of length 0 carries its state unchanged)."""
    p = with_lengths(kind, (4, 5, 3, 6), [5, 3, 0, 1], dtype, seed=6)
    rng = np.random.default_rng(7)
    xs2 = rng.standard_normal(p["xs"].shape).astype(dtype)
    layers = {}
    for name, module in (("ours", gatedrnn), ("spec", spec)):
        layer = family.time_layer(kind, module, p["weights"], stateful=True)
        family.set_state(kind, layer, p)
        layer.forward(p["xs"], lengths=p["lengths"])
        layers[name] = (layer, layer.forward(xs2, lengths=[2, 5, 1, 0]))
    (ours, hs), (ref, expected) = layers["ours"], layers["spec"]
    assert relative_error(hs, expected) <= TOL[dtype]
    for name in ("h", "c") if kind in family.HAS_C else ("h",):
        for got, want in zip(family.state(kind, ours, name), family.state(kind, ref, name)):
            assert relative_error(got, want) <= TOL[dtype], name


def test_bilstm_backward_direction_starts_at_each_last_step(dtype):
    """The second direction reads sequence n from step lengths[n]-1 back to 0:
    it is a TimeLSTM run on each sequence's real steps reversed."""
    p = with_lengths("bilstm", (3, 5, 2, 4), [5, 2, 3], dtype, seed=8)
    layer = gatedrnn.TimeBiLSTM(*p["weights"])
    hs = layer.forward(p["xs"], lengths=p["lengths"])
    H = 4
    for n, L in enumerate(p["lengths"]):
        backward = gatedrnn.TimeLSTM(*p["weights"][3:])
        expected = backward.forward(np.ascontiguousarray(p["xs"][n:n + 1, :L][:, ::-1]))
        assert relative_error(hs[n, :L, H:], expected[0, ::-1]) <= TOL[dtype]
        assert relative_error(layer.h[1][n], backward.h[0]) <= TOL[dtype]
        assert not np.any(hs[n, L:])


def test_backward_uses_the_lengths_of_its_forward(every_path):
    """A backward follows the lengths of the forward whose cache it consumes."""
    p = with_lengths("lstm", (3, 4, 2, 3), [4, 1, 2], np.float64, seed=9)
    layer = gatedrnn.TimeLSTM(*p["weights"])
    reference = spec.TimeLSTM(*p["weights"])
    layer.forward(p["xs"], train=False)  # no lengths, and no cache
    layer.forward(p["xs"], lengths=p["lengths"])
    reference.forward(p["xs"], lengths=p["lengths"])
    np.testing.assert_allclose(layer.backward(p["dhs"]), reference.backward(p["dhs"]),
                               rtol=1e-12, atol=1e-14)


def test_lengths_accept_any_integer_array():
    p = with_lengths("rnn", (3, 4, 2, 3), [4, 0, 2], np.float64)
    expected = family.run("rnn", gatedrnn, p)["hs"]
    for lengths in ([4, 0, 2], (4, 0, 2), np.array([4, 0, 2], np.uint8),
                    np.array([4, 9, 0, 7, 2], np.int32)[::2]):
        layer = family.time_layer("rnn", gatedrnn, p["weights"], stateful=True)
        family.set_state("rnn", layer, p)
        np.testing.assert_array_equal(layer.forward(p["xs"], lengths=lengths), expected)


# -- bad lengths ------------------------------------------------------------------------

BAD_LENGTHS = [
    ([4, 0], ValueError, r"lengths must have shape \(N,\) = \(3,\).*got \(2,\)"),
    (np.zeros((3, 1), np.int64), ValueError, r"shape \(N,\) = \(3,\).*got \(3, 1\)"),
    ([4, -1, 2], ValueError, r"lengths must be in \[0, T\] = \[0, 4\]; got lengths\[1\] = -1"),
    ([4, 5, 2], ValueError, r"\[0, T\] = \[0, 4\]; got lengths\[1\] = 5 \(1 out of range\)"),
    (np.array([4.0, 1.0, 2.0]), TypeError, r"lengths must have an integer dtype.*float64"),
    (np.array([True, False, True]), TypeError, r"integer dtype.*bool"),
    ("444", TypeError, r"lengths must be an integer array of shape \(N,\) = \(3,\).*got str"),
    (4, TypeError, r"lengths must be an integer array.*got int"),
]


@pytest.mark.parametrize("lengths, error, message", BAD_LENGTHS,
                         ids=[repr(b[0])[:24] for b in BAD_LENGTHS])
@pytest.mark.parametrize("kind", family.KINDS)
def test_bad_lengths_raise_and_change_nothing(kind, lengths, error, message, best_and_blas):
    p = with_lengths(kind, (3, 4, 2, 3), [4, 1, 2], np.float64)
    layer = family.time_layer(kind, gatedrnn, p["weights"], stateful=True)
    family.set_state(kind, layer, p)
    layer.forward(p["xs"], lengths=p["lengths"])  # a state and a cache to keep
    before = snapshot(layer)
    with pytest.raises(error, match=message):
        layer.forward(p["xs"], lengths=lengths)
    assert_unchanged(layer, before)
    layer.backward(p["dhs"])  # the cache of the good call is still there


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_after", "rnn"])
def test_single_step_cells_take_no_lengths(kind):
    p = family.make_problem(kind, 2, 1, 3, 4, np.float64)
    cell = family.step_layer(kind, gatedrnn, p["weights"])
    state = [p["h0"][0]] + ([p["c0"][0]] if kind == "lstm" else [])
    with pytest.raises(TypeError, match="lengths"):
        cell.forward(p["xs"][:, 0], *state, lengths=[1, 1])
