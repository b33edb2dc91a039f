"""The recurrent family (TimeLSTM, TimeGRU in both variants, TimeRNN,
TimeBiLSTM and the single-step cells): the spec against central finite
differences, the compiled layers against the spec on every kernel path, the
book's API semantics, the cache each keeps, and PyTorch's layers when torch
is importable.
"""
import functools

import numpy as np
import pytest

from gatedrnn import problems as family
import precision
from conftest import TOL
from gatedrnn import _kernels, spec
import gatedrnn
from gatedrnn.interop import to_torch
from gatedrnn.gradcheck import numerical_gradient, relative_error

KINDS = family.KINDS
FD_LIMIT = 1e-6


# -- The spec against central finite differences, float64 ----------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 3, 2), (3, 4, 2, 3)])
@pytest.mark.parametrize("kind", KINDS)
def test_spec_matches_finite_differences(kind, shape):
    p = family.make_problem(kind, *shape, np.float64, seed=sum(shape))
    loss, analytic, values = family.loss_and_gradients(kind, spec, p)
    for name, x in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, x))
        assert err <= FD_LIMIT, f"{kind} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind", KINDS)
def test_spec_matches_finite_differences_with_saturated_gates(kind):
    p = family.make_problem(kind, 2, 3, 4, 3, np.float64, seed=7, weight_scale=4.0)
    loss, analytic, values = family.loss_and_gradients(kind, spec, p)
    for name, x in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, x))
        assert err <= FD_LIMIT, f"{kind} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind", KINDS)
def test_spec_stateful_second_call_matches_finite_differences(kind):
    """The second call starts from the first call's state; its gradients
    (truncated there, as in the book) match finite differences taken with that
    carried state held fixed."""
    p = family.make_problem(kind, 2, 3, 4, 5, np.float64, seed=3)
    rng = np.random.default_rng(4)
    xs2 = rng.standard_normal((2, 3, 4))
    dhs2 = rng.standard_normal(p["dhs"].shape)
    layer = family.time_layer(kind, spec, p["weights"], stateful=True)
    family.set_state(kind, layer, p)
    layer.forward(p["xs"])
    carried = {name: [np.array(s, copy=True) for s in family.state(kind, layer, name)]
               for name in (("h", "c") if kind in family.HAS_C else ("h",))}
    layer.forward(xs2)
    analytic = {"xs2": layer.backward(dhs2),
                **{f"W{k}": g.copy() for k, g in enumerate(layer.grads)}}
    values = {"xs2": xs2, **{f"W{k}": w for k, w in enumerate(p["weights"])}}

    def loss():
        fresh = family.time_layer(kind, spec, p["weights"], stateful=True)
        q = dict(h0=carried["h"], c0=carried.get("c"))
        family.set_state(kind, fresh, q)
        return float(np.sum(fresh.forward(xs2) * dhs2))

    for name, x in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, x))
        assert err <= FD_LIMIT, f"{kind} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_after", "rnn", "rnn_relu"])
def test_spec_single_step_matches_finite_differences(kind):
    p = family.make_problem(kind, 3, 1, 4, 2, np.float64, seed=11)
    x, h0, dh = p["xs"][:, 0], p["h0"][0], p["dhs"][:, 0]
    c0, dc = (p["c0"][0], p["dc_T"]) if kind == "lstm" else (None, None)

    def outputs(cell):
        return cell.forward(x, h0, c0) if kind == "lstm" else (cell.forward(x, h0),)

    def loss():
        out = outputs(family.step_layer(kind, spec, p["weights"]))
        return float(np.sum(out[0] * dh) + (np.sum(out[1] * dc) if kind == "lstm" else 0))

    cell = family.step_layer(kind, spec, p["weights"])
    outputs(cell)
    grads = cell.backward(dh, dc) if kind == "lstm" else cell.backward(dh)
    analytic = {"x": grads[0], "h0": grads[1], **{f"W{k}": g for k, g in enumerate(cell.grads)}}
    values = {"x": x, "h0": h0, **{f"W{k}": w for k, w in enumerate(p["weights"])}}
    if kind == "lstm":
        analytic["c0"], values["c0"] = grads[2], c0
    for name, v in values.items():
        err = relative_error(analytic[name], numerical_gradient(loss, v))
        assert err <= FD_LIMIT, f"{kind} d{name}: relative error {err:.2e}"


# -- The compiled layers against the spec, on every path -------------------------------

SHAPES = [  # (N, T, D, H): N = 1, T = 1, D != H, odd sizes, several blocks and panels
    (1, 1, 1, 1),
    (1, 1, 7, 5),
    (1, 6, 3, 4),
    (3, 1, 4, 3),
    (2, 7, 5, 3),
    (5, 3, 17, 33),
    (7, 11, 2, 19),
    (13, 3, 20, 65),
    (20, 35, 100, 100),
]


@functools.lru_cache(maxsize=None)
def reference(kind, shape, dtype, seed, weight_scale=1.0):
    p = family.make_problem(kind, *shape, dtype, seed=seed, weight_scale=weight_scale)
    return family.run(kind, spec, p)


def assert_matches_spec(kind, shape, dtype, seed=None, weight_scale=1.0, layout=None,
                        context=""):
    seed = sum(shape) if seed is None else seed
    p = family.make_problem(kind, *shape, dtype, seed=seed, weight_scale=weight_scale)
    if layout:
        p = layout(p)
    ours, ref = family.run(kind, gatedrnn, p), reference(kind, shape, dtype, seed, weight_scale)
    assert ours.keys() == ref.keys()
    for name in ref:
        assert ours[name].dtype == ref[name].dtype, f"{kind} {name} dtype"
        err = relative_error(ours[name], ref[name])
        assert err <= TOL[dtype], (f"{kind} {name} {shape}{context}: relative error {err:.2e} "
                                   f"> {TOL[dtype]:.0e}")


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("kind", KINDS)
def test_compiled_matches_spec(kind, shape, dtype, every_path):
    assert_matches_spec(kind, shape, dtype, context=f" on {every_path}")


@pytest.mark.parametrize("kind", KINDS)
def test_long_sequence_float32(kind, every_path):
    assert_matches_spec(kind, (3, 220, 6, 11), np.float32, context=f" on {every_path}")


@pytest.mark.parametrize("kind", KINDS)
def test_saturating_inputs(kind, dtype, every_path):
    """Pre-activations of tens: sigmoid and tanh sit at their limits, where
    1 - f and 1 - g^2 cancel. In float32 such a problem moves by more than the
    tolerance under rounding alone (the float32 spec itself misses by up to
    6e-5 here), so the reference is the spec in extended precision and the
    bound allows twice what rounding does to it (precision.py)."""
    p = family.make_problem(kind, 5, 8, 6, 7, dtype, seed=9, weight_scale=30.0)
    ours = family.run(kind, gatedrnn, p)
    assert all(np.all(np.isfinite(v)) for v in ours.values())
    truth, others = precision.references(lambda a: family.run(kind, spec, a), p, dtype)
    for name in truth:
        precision.check(ours[name], truth[name], [o[name] for o in others], dtype,
                        f"{kind} {name} saturated, on {every_path}")


def _strided(p):
    """The same values in non-contiguous arrays (every other element, Fortran order)."""
    def strided(a):
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]

    q = dict(p, weights=[np.asfortranarray(w) if w.ndim == 2 else strided(w)
                         for w in p["weights"]])
    q["xs"] = np.ascontiguousarray(p["xs"].transpose(1, 0, 2)).transpose(1, 0, 2)
    q["dhs"] = strided(p["dhs"])
    q["h0"] = [strided(h) for h in p["h0"]]
    assert not q["xs"].flags.c_contiguous and not q["dhs"].flags.c_contiguous
    return q


@pytest.mark.parametrize("kind", KINDS)
def test_non_contiguous_inputs_and_weights(kind, dtype):
    assert_matches_spec(kind, (4, 6, 5, 3), dtype, seed=2, layout=_strided,
                        context=" non-contiguous")


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_after", "rnn", "rnn_relu"])
def test_single_step_matches_spec(kind, dtype, every_path):
    for N, D, H in [(1, 1, 1), (3, 5, 17), (6, 2, 9)]:
        p = family.make_problem(kind, N, 1, D, H, dtype, seed=N + D + H)
        x, h0, dh = p["xs"][:, 0], p["h0"][0], p["dhs"][:, 0]
        results = []
        for module in (gatedrnn, spec):
            cell = family.step_layer(kind, module, p["weights"])
            if kind == "lstm":
                out = [*cell.forward(x, h0, p["c0"][0]), *cell.backward(dh, p["dc_T"])]
            else:
                out = [cell.forward(x, h0), *cell.backward(dh)]
            results.append(out + [g.copy() for g in cell.grads])
        for k, (ours, ref) in enumerate(zip(*results)):
            assert ours.dtype == ref.dtype
            err = relative_error(ours, ref)
            assert err <= TOL[dtype], f"{kind} output {k} {(N, D, H)}: {err:.2e}"


# -- The book's API semantics ---------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_params_are_the_arrays_passed_in_and_grads_are_written_in_place(kind, dtype):
    p = family.make_problem(kind, 3, 4, 5, 6, dtype)
    layer = family.time_layer(kind, gatedrnn, p["weights"])
    assert all(a is b for a, b in zip(layer.params, p["weights"]))
    assert [g.shape for g in layer.grads] == [w.shape for w in p["weights"]]
    assert all(g.dtype == dtype for g in layer.grads) and layer.dtype == dtype
    held = list(layer.grads)
    layer.forward(p["xs"])
    layer.backward(p["dhs"])
    first = [g.copy() for g in held]
    assert all(np.any(g != 0) for g in first)
    p["weights"][1] *= 0.5  # an in-place update, as the book's optimizers do
    layer.forward(p["xs"])
    layer.backward(p["dhs"])
    assert all(a is b for a, b in zip(layer.grads, held))
    assert any(np.any(a != b) for a, b in zip(held, first))


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_calls_equal_one_long_call(kind, dtype):
    p = family.make_problem(kind, 3, 12, 4, 5, dtype)
    whole = family.time_layer(kind, gatedrnn, p["weights"], stateful=True)
    pieces = family.time_layer(kind, gatedrnn, p["weights"], stateful=True)
    if kind == "bilstm":
        # The backward direction carries its state from the end of one call
        # into the start of the next, as the book's: pieces differ from a whole.
        hs = [pieces.forward(p["xs"][:, a:b]) for a, b in [(0, 5), (5, 12)]]
        ref = family.time_layer(kind, spec, p["weights"], stateful=True)
        for piece, (a, b) in zip(hs, [(0, 5), (5, 12)]):
            assert relative_error(piece, ref.forward(p["xs"][:, a:b])) <= TOL[dtype]
        return
    hs_whole = whole.forward(p["xs"])
    hs_pieces = np.concatenate([pieces.forward(p["xs"][:, a:b]) for a, b in
                                [(0, 5), (5, 6), (6, 12)]], axis=1)
    np.testing.assert_array_equal(hs_pieces, hs_whole)
    np.testing.assert_array_equal(pieces.h, whole.h)
    np.testing.assert_array_equal(pieces.h, hs_whole[:, -1])


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_after", "rnn", "rnn_relu"])
def test_single_step_equals_one_step_of_the_time_layer(kind, dtype):
    p = family.make_problem(kind, 3, 1, 4, 5, dtype, seed=5)
    time = family.time_layer(kind, gatedrnn, p["weights"], stateful=True)
    family.set_state(kind, time, p)
    hs = time.forward(p["xs"])
    cell = family.step_layer(kind, gatedrnn, p["weights"])
    args = (p["xs"][:, 0], p["h0"][0]) + ((p["c0"][0],) if kind == "lstm" else ())
    h = cell.forward(*args)
    np.testing.assert_array_equal(h[0] if kind == "lstm" else h, hs[:, 0])
    if kind == "lstm":
        dxs = time.backward(p["dhs"], dc_next=p["dc_T"])
        dx, dh, dc = cell.backward(p["dhs"][:, 0], p["dc_T"])
        np.testing.assert_array_equal(dc, time.dc)
    else:
        dxs = time.backward(p["dhs"])
        dx, dh = cell.backward(p["dhs"][:, 0])
    np.testing.assert_array_equal(dx, dxs[:, 0])
    np.testing.assert_array_equal(dh, time.dh)
    for a, b in zip(cell.grads, time.grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_book_training_pattern_matches_spec_step_for_step(kind, dtype):
    """forward, backward, params[i] -= lr * grads[i], repeated, as the book trains."""
    p = family.make_problem(kind, 4, 6, 5, 7, dtype, seed=21)
    target = np.random.default_rng(22).standard_normal(p["dhs"].shape).astype(dtype)
    layers = [family.time_layer(kind, module, [w.copy() for w in p["weights"]], stateful=True)
              for module in (gatedrnn, spec)]
    losses = ([], [])
    for step in range(6):
        for k, layer in enumerate(layers):
            hs = layer.forward(p["xs"])
            losses[k].append(0.5 * float(np.sum((hs - target) ** 2)))
            layer.backward(hs - target)
            for param, grad in zip(layer.params, layer.grads):
                param -= 0.1 * grad
        for a, b in zip(layers[0].params, layers[1].params):
            assert relative_error(a, b) <= 10 * TOL[dtype], f"{kind} params after step {step}"
    assert losses[0][-1] < losses[0][0]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_inference_keeps_no_cache_and_gives_the_training_forward(kind, dtype, every_path):
    p = family.make_problem(kind, 5, 40, 6, 17, dtype)
    layer = family.time_layer(kind, gatedrnn, p["weights"])
    inferred = layer.forward(p["xs"], train=False)
    assert layer._cache is None
    with pytest.raises(RuntimeError, match="train=False"):
        layer.backward(p["dhs"])
    np.testing.assert_array_equal(inferred, layer.forward(p["xs"]))


# Values kept per (n, t) and hidden unit between forward and backward.
CACHE_WIDTH = {"lstm": 5, "gru": 4, "gru_reset_after": 5, "rnn": 1, "rnn_relu": 1, "bilstm": 10}


@pytest.mark.parametrize("kind", KINDS)
def test_cache_bounds_and_reuse(kind):
    """LSTM 5 values per (n, t) and unit, GRU 4 (reset after: 5, see the
    guide), RNN 1, BiLSTM twice the LSTM's; a training forward of the same
    shape reuses the buffers, and the workspace does not grow with T in
    inference."""
    N, T, D, H = 4, 7, 5, 9
    p = family.make_problem(kind, N, T, D, H, np.float32)
    layer = family.time_layer(kind, gatedrnn, p["weights"])
    layer.forward(p["xs"])
    caches = layer._cache.caches
    assert sum(c.size for c in caches) == CACHE_WIDTH[kind] * N * T * H
    layer.backward(p["dhs"])
    nbytes = layer._workspace.nbytes
    layer.forward(p["xs"])
    assert all(a is b for a, b in zip(layer._cache.caches, caches))
    layer.backward(p["dhs"])
    assert layer._workspace.nbytes == nbytes
    sizes = []
    for T in (350, 1400):
        q = family.make_problem(kind, 3, T, 8, 20, np.float32)
        inference = family.time_layer(kind, gatedrnn, q["weights"])
        inference.forward(q["xs"], train=False)
        sizes.append(inference._workspace.nbytes)
    if _kernels.get_path() != "blas":  # the BLAS path's inference scratch is N*T*G*H
        assert sizes[0] == sizes[1]


def test_the_directions_of_a_bilstm_run_at_once_on_two_threads():
    if _kernels.get_path() == "blas":
        pytest.skip("the BLAS path runs the directions one after the other")
    p = family.make_problem("bilstm", 8, 40, 16, 32, np.float32)
    layer = family.time_layer("bilstm", gatedrnn, p["weights"])
    previous = _kernels.set_num_threads(2)
    try:
        before = _kernels.jobs_shared()
        for _ in range(50):
            layer.forward(p["xs"])
            layer.backward(p["dhs"])
            if _kernels.jobs_shared() > before:
                break
        assert _kernels.jobs_shared() > before
    finally:
        _kernels.set_num_threads(previous if previous else 0)


# -- PyTorch, when it is importable ----------------------------------------------------

@pytest.mark.parametrize("kind", ["gru_reset_after", "rnn", "rnn_relu", "bilstm"])
def test_equals_pytorch(kind, torch):
    """TimeGRU(reset_after=True) is torch.nn.GRU under the conversion in the
    docstrings (gates r, z, n; z = 1 - ours), TimeRNN is nn.RNN (tanh or relu)
    with b = b_ih + b_hh, TimeBiLSTM is nn.LSTM(bidirectional=True): float64,
    within 1e-12, forward and gradients."""
    N, T, D, H = 3, 7, 5, 4
    p = family.make_problem(kind, N, T, D, H, np.float64, seed=13)
    ours = family.time_layer(kind, gatedrnn, p["weights"])
    hs = ours.forward(p["xs"])
    dxs = ours.backward(p["dhs"])

    module = to_torch(ours)
    xs = torch.from_numpy(p["xs"]).requires_grad_(True)
    out, _ = module(xs)
    out.backward(torch.from_numpy(p["dhs"]))
    assert relative_error(hs, out.detach().numpy()) <= 1e-12
    assert relative_error(dxs, xs.grad.numpy()) <= 1e-12
    if kind in ("rnn", "rnn_relu"):
        assert relative_error(ours.grads[0], module.weight_ih_l0.grad.numpy().T) <= 1e-12
        assert relative_error(ours.grads[1], module.weight_hh_l0.grad.numpy().T) <= 1e-12
        assert relative_error(ours.grads[2], module.bias_ih_l0.grad.numpy()) <= 1e-12
