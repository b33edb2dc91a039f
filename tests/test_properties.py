"""Property-based tests (hypothesis): random shapes, dtypes, memory layouts,
initial states and sequences of calls; the compiled layers must equal the spec
within the dtype's tolerance every time.

The reference is the spec evaluated in extended precision (np.longdouble) on
the same values. The bound is TOL[dtype] relative to the largest reference
value, except where the problem itself is so ill-conditioned that rounding of
the size the layer's dtype allows moves the result by more: then it is twice
that movement, measured on the very problem. Two measures of it: the spec run
in the layer's dtype, and the spec in extended precision with every exp and
tanh perturbed by up to 3 ulps of the layer's dtype (the kernels' activations
are accurate to 2.8 ulps; NumPy's to about 1). The long run found such
problems: one step with N = D = H = 1 where c = f*c0 + g*i cancels 100-fold
(hs off by 1.06e-5 in float32, the float32 spec by 4e-7, by luck), and an
LSTM cell with N = D = 1, H = 5 and saturated gates, where 1 - g**2 and the
sum dx = dA @ Wx.T both cancel (dx off by 8.2e-5, the float32 spec by 1.1e-5).

Each example also draws the kernel path (every one this build and CPU offer)
and the thread count (1, or 2 offered even to these small calls, so that the
threaded code runs). Sizes reach H = 40 (several vector widths, full and
partial vectors) and N*T = 144 (across the 64-row cutoff of the dot-product
backward).

The default profile ("quick", conftest.py) runs 50 derandomized examples per
test; `python -m pytest tests/test_properties.py --hypothesis-profile=long`
(or GATEDRNN_HYPOTHESIS_PROFILE=long) runs 2000 random ones, and
`--hypothesis-show-statistics` prints how many ran.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import event, example, given, note
from hypothesis import strategies as st

from conftest import LAYOUTS, PATHS, TOL, kernel_path
from precision import EXTENDED, check, extended, noisy_spec, references
from gatedrnn import problems as family
import gatedrnn
from gatedrnn import LSTM, TimeLSTM, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

dtypes = st.sampled_from([np.float32, np.float64])
layouts = st.sampled_from(["C", *LAYOUTS])
batch = st.integers(0, 12)
steps = st.integers(0, 12)
inputs = st.integers(0, 9)
hidden = st.integers(0, 40)
paths = st.sampled_from(PATHS)
threads = st.sampled_from([1, 2])
seeds = st.integers(0, 2 ** 32 - 1)
# Weight scales from tiny (every pre-activation near 0) to well saturated gates.
scales = st.sampled_from([1e-3, 0.3, 1.0, 3.0])


def laid_out(a, layout):
    return a if layout == "C" else LAYOUTS[layout](a)


def time_lstm_results(cls, a, initial, upstream):
    layer = cls(a["Wx"], a["Wh"], a["b"], stateful=initial != "zeros")
    if initial != "zeros":
        layer.set_state(a["h0"], a["c0"] if initial == "h and c" else None)
    hs = layer.forward(a["xs"])
    h_T, c_T = layer.h.copy(), layer.c.copy()
    kwargs = {}
    if "dh" in upstream:
        kwargs["dh_next"] = a["dh_T"]
    if "dc" in upstream:
        kwargs["dc_next"] = a["dc_T"]
    dxs = layer.backward(a["dhs"], **kwargs)
    return dict(hs=hs, h_T=h_T, c_T=c_T, dxs=dxs, dh0=layer.dh, dc0=layer.dc,
                dWx=layer.grads[0], dWh=layer.grads[1], db=layer.grads[2])


@given(N=batch, T=steps, D=inputs, H=hidden, dtype=dtypes, seed=seeds, scale=scales,
       layout=st.fixed_dictionaries({k: layouts for k in
                                     ("xs", "Wx", "Wh", "b", "h0", "c0", "dhs", "dh_T", "dc_T")}),
       initial=st.sampled_from(["zeros", "h", "h and c"]),
       upstream=st.sampled_from(["none", "dh", "dc", "dh and dc"]), path=paths,
       threads=threads)
def test_time_lstm_forward_backward_match_spec(N, T, D, H, dtype, seed, scale, layout, initial,
                                               upstream, path, threads):
    p = make_problem(N, T, D, H, dtype, seed=seed, weight_scale=scale)
    p["dh_T"] = np.random.default_rng(seed + 1).standard_normal((N, H)).astype(dtype)
    q = {k: laid_out(v, layout[k]) for k, v in p.items()}
    note(f"(N, T, D, H) = {(N, T, D, H)}")
    # --hypothesis-show-statistics counts these: what the examples reached.
    event(f"{path}, {threads} thread(s)")
    event("N*T > 64" if N * T > 64 else "N*T <= 64")
    event("H > 16" if H > 16 else "H <= 16")

    with kernel_path(path, threads):
        ours = time_lstm_results(TimeLSTM, q, initial, upstream)
    truth, others = references(lambda a: time_lstm_results(spec.TimeLSTM, a, initial, upstream),
                               p, dtype)
    for name in truth:
        check(ours[name], truth[name], [o[name] for o in others], dtype, name)
    for k in p:  # the inputs were only read
        np.testing.assert_array_equal(q[k], p[k], err_msg=f"input {k} was written")


@given(kind=st.sampled_from(["gru", "gru_reset_after", "rnn", "rnn_relu", "bilstm"]), N=batch, T=steps,
       D=inputs, H=hidden, dtype=dtypes, seed=seeds, scale=scales, path=paths, threads=threads,
       layout=layouts, initial=st.booleans())
def test_family_forward_backward_match_spec(kind, N, T, D, H, dtype, seed, scale, path, threads,
                                            layout, initial):
    """The GRU in both variants, the plain RNN and the bidirectional LSTM, as
    the LSTM above: random sizes, paths, threads, layouts (of every input and
    weight at once) and initial states, against the extended-precision spec."""
    p = family.make_problem(kind, N, T, D, H, dtype, seed=seed, weight_scale=scale)
    note(f"{kind} (N, T, D, H) = {(N, T, D, H)}")
    event(f"{kind}")
    q = dict(p, weights=[laid_out(w, layout) for w in p["weights"]], xs=laid_out(p["xs"], layout),
             dhs=laid_out(p["dhs"], layout))
    with kernel_path(path, threads):
        ours = family.run(kind, gatedrnn, q, initial=initial)
    truth, others = references(lambda a: family.run(kind, spec, a, initial=initial), p, dtype)
    for name in truth:
        check(ours[name], truth[name], [o[name] for o in others], dtype, f"{kind} {name}")


def cell_results(cls, a):
    cell = cls(a["Wx"], a["Wh"], a["b"])
    h, c = cell.forward(a["x"], a["h"], a["c"])
    dx, dh, dc = cell.backward(a["dh"], a["dc"])
    return dict(h_next=h, c_next=c, dx=dx, dh_prev=dh, dc_prev=dc,
                dWx=cell.grads[0], dWh=cell.grads[1], db=cell.grads[2])


@given(N=batch, D=inputs, H=hidden, dtype=dtypes, seed=seeds, scale=scales,
       layout=st.fixed_dictionaries({k: layouts for k in ("x", "Wx", "Wh", "b", "h", "c",
                                                          "dh", "dc")}),
       path=paths, threads=threads)
@example(N=1, D=1, H=5, dtype=np.float32, seed=1, scale=3.0,  # ill-conditioned: see the top
         layout=dict.fromkeys(("x", "Wx", "Wh", "b", "h", "c", "dh", "dc"), "C"),
         path=PATHS[-1], threads=1)
def test_lstm_cell_matches_spec(N, D, H, dtype, seed, scale, layout, path, threads):
    p = make_problem(N, 1, D, H, dtype, seed=seed, weight_scale=scale)
    p = dict(x=p["xs"][:, 0].copy(), Wx=p["Wx"], Wh=p["Wh"], b=p["b"], h=p["h0"], c=p["c0"],
             dh=p["dhs"][:, 0].copy(), dc=p["dc_T"])
    q = {k: laid_out(v, layout[k]) for k, v in p.items()}
    with kernel_path(path, threads):
        ours = cell_results(LSTM, q)
    truth, others = references(lambda a: cell_results(spec.LSTM, a), p, dtype)
    for name in truth:
        check(ours[name], truth[name], [o[name] for o in others], dtype, name)


# A stateful session: a list of calls, each applied to the compiled layer and
# to the spec (in the same dtype and in extended precision), compared after
# every call.
calls = st.one_of(
    st.tuples(st.just("forward"), st.integers(0, 5), st.booleans(), layouts),  # T, train, layout
    st.tuples(st.just("backward"), layouts, st.booleans()),                    # layout, dc_next
    st.tuples(st.just("reset_state")),
    st.tuples(st.just("set_state"), st.booleans()),                            # with c
    st.tuples(st.just("sgd_step"), st.sampled_from([0.01, 0.1])),              # params -= lr * grads
)


@given(N=st.integers(1, 4), D=st.integers(1, 5), H=st.integers(1, 40), dtype=dtypes,
       seed=seeds, session=st.lists(calls, min_size=1, max_size=12), path=paths,
       threads=threads)
@example(N=1, D=1, H=1, dtype=np.float32, seed=402,  # c cancels 100-fold: see the top
         session=[("forward", 1, False, "C"), ("set_state", False), ("backward", "C", False),
                  ("backward", "C", False), ("set_state", True), ("forward", 1, False, "C")],
         path=PATHS[-1], threads=1)
def test_stateful_sessions_match_spec(N, D, H, dtype, seed, session, path, threads):
    with kernel_path(path, threads):
        stateful_session(N, D, H, dtype, seed, session)


def stateful_session(N, D, H, dtype, seed, session):
    p = make_problem(N, 5, D, H, dtype, seed=seed)
    rng = np.random.default_rng(seed)
    ours = TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), stateful=True)
    # The references, as in references(): the truth first, then the spec in
    # dtype, then the spec with noisy activations (each its own noise).
    kinds = [(EXTENDED, None), (dtype, None)] + [(EXTENDED, k) for k in range(3)]
    refs = [spec.TimeLSTM(*(p[k].astype(t) for k in ("Wx", "Wh", "b")), stateful=True)
            for t, _ in kinds]
    ready = False          # whether our layer holds a cache that backward may use
    T = 0

    def on_refs(method, *arrays, **kw):
        """The same call on every reference, each in its own precision."""
        out = []
        for ref, (t, noise) in zip(refs, kinds):
            args = [None if a is None else a.astype(t) for a in arrays]
            kwargs = {k: None if v is None else v.astype(t) for k, v in kw.items()}
            with noisy_spec(dtype, noise) if noise is not None else contextlib.nullcontext():
                out.append(getattr(ref, method)(*args, **kwargs))
        return out

    def compare(name, ours_value, ref_values):
        check(ours_value, ref_values[0], ref_values[1:], dtype, f"{name} after call {i} {step}")

    for i, step in enumerate(session):
        kind = step[0]
        if kind == "forward":
            _, T, train, layout = step
            xs = rng.standard_normal((N, T, D)).astype(dtype)
            compare("hs", ours.forward(laid_out(xs, layout), train=train), on_refs("forward", xs))
            compare("h", ours.h, [r.h for r in refs])
            compare("c", ours.c, [r.c for r in refs])
            ready = train
        elif kind == "backward":
            _, layout, with_dc = step
            dhs = rng.standard_normal((N, T, H)).astype(dtype)
            dc = rng.standard_normal((N, H)).astype(dtype) if with_dc else None
            if not ready:
                try:
                    ours.backward(laid_out(dhs, layout), dc_next=dc)
                except RuntimeError:
                    continue
                raise AssertionError(f"backward without a cache was accepted at call {i}")
            dxs = ours.backward(laid_out(dhs, layout), dc_next=dc)
            compare("dxs", dxs, on_refs("backward", dhs, dc_next=dc))
            compare("dh", ours.dh, [r.dh for r in refs])
            compare("dc", ours.dc, [r.dc for r in refs])
            for k, name in enumerate(("dWx", "dWh", "db")):
                compare(name, ours.grads[k], [r.grads[k] for r in refs])
            ready = False
        elif kind == "reset_state":
            ours.reset_state()
            on_refs("reset_state")
        elif kind == "set_state":
            h = rng.standard_normal((N, H)).astype(dtype)
            c = rng.standard_normal((N, H)).astype(dtype) if step[1] else None
            ours.set_state(h, c)
            on_refs("set_state", h, c)
        elif kind == "sgd_step":
            # An update in place, as the book's optimizers do; the references
            # take the same values, so that all params stay equal.
            for k in range(3):
                ours.params[k] -= step[1] * ours.grads[k]
                for ref in refs:
                    ref.params[k][...] = ours.params[k]


@pytest.mark.parametrize("scale", [1e-2, 1e-3, 1e-4])
def test_small_activations_keep_relative_accuracy(scale, dtype):
    """Tiny weights and inputs make every pre-activation small, so hs is small;
    the kernels' tanh must be accurate relative to its result there, as np.tanh
    is. (A tanh computed as (1 - e) / (1 + e) missed by ~1e-4 in float32 at
    scale 1e-3, found by test_time_lstm_forward_backward_match_spec.)"""
    p = make_problem(4, 6, 8, 8, dtype, seed=1, weight_scale=scale)
    for name in ("xs", "h0", "c0"):
        p[name] *= scale
    ours, truth = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, extended(p))
    for name in truth:
        err = relative_error(ours[name], truth[name])
        assert err <= TOL[dtype], f"{name} at scale {scale}: relative error {err:.2e}"
