"""Property-based tests (hypothesis): random shapes, dtypes, memory layouts,
initial states and sequences of calls; the compiled layers must equal the spec
within the dtype's tolerance every time.

The default profile ("quick", conftest.py) runs 50 derandomized examples per
test; `python -m pytest tests/test_properties.py --hypothesis-profile=long`
(or GATEDRNN_HYPOTHESIS_PROFILE=long) runs 2000 random ones, and
`--hypothesis-show-statistics` prints how many ran.
"""
import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from conftest import LAYOUTS, TOL
from gatedrnn import LSTM, TimeLSTM, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

dtypes = st.sampled_from([np.float32, np.float64])
layouts = st.sampled_from(["C", *LAYOUTS])
sizes = st.integers(0, 6)
seeds = st.integers(0, 2 ** 32 - 1)
# Weight scales from tiny (every pre-activation near 0) to well saturated gates.
scales = st.sampled_from([1e-3, 0.3, 1.0, 3.0])


def laid_out(a, layout):
    return a if layout == "C" else LAYOUTS[layout](a)


def assert_close(ours, ref, dtype, what):
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype} != {ref.dtype}"
    err = relative_error(ours, ref)
    assert err <= TOL[dtype], f"{what}: relative error {err:.2e} > {TOL[dtype]:.0e}"


@given(N=sizes, T=sizes, D=sizes, H=sizes, dtype=dtypes, seed=seeds, scale=scales,
       layout=st.fixed_dictionaries({k: layouts for k in
                                     ("xs", "Wx", "Wh", "b", "h0", "c0", "dhs", "dh_T", "dc_T")}),
       initial=st.sampled_from(["zeros", "h", "h and c"]),
       upstream=st.sampled_from(["none", "dh", "dc", "dh and dc"]))
def test_time_lstm_forward_backward_match_spec(N, T, D, H, dtype, seed, scale, layout, initial,
                                               upstream):
    p = make_problem(N, T, D, H, dtype, seed=seed, weight_scale=scale)
    p["dh_T"] = np.random.default_rng(seed + 1).standard_normal((N, H)).astype(dtype)
    q = {k: laid_out(v, layout[k]) for k, v in p.items()}
    note(f"(N, T, D, H) = {(N, T, D, H)}")

    results = []
    for cls, arrays in ((TimeLSTM, q), (spec.TimeLSTM, p)):
        layer = cls(arrays["Wx"], arrays["Wh"], arrays["b"], stateful=initial != "zeros")
        if initial != "zeros":
            layer.set_state(arrays["h0"], arrays["c0"] if initial == "h and c" else None)
        hs = layer.forward(arrays["xs"])
        h_T, c_T = layer.h.copy(), layer.c.copy()
        kwargs = {}
        if "dh" in upstream:
            kwargs["dh_next"] = arrays["dh_T"]
        if "dc" in upstream:
            kwargs["dc_next"] = arrays["dc_T"]
        dxs = layer.backward(arrays["dhs"], **kwargs)
        results.append(dict(hs=hs, h_T=h_T, c_T=c_T, dxs=dxs, dh0=layer.dh, dc0=layer.dc,
                            dWx=layer.grads[0], dWh=layer.grads[1], db=layer.grads[2]))
    for name in results[1]:
        assert_close(results[0][name], results[1][name], dtype, name)
    for k in p:  # the inputs were only read
        np.testing.assert_array_equal(q[k], p[k], err_msg=f"input {k} was written")


@given(N=sizes, D=sizes, H=sizes, dtype=dtypes, seed=seeds, scale=scales,
       layout=st.fixed_dictionaries({k: layouts for k in ("x", "Wx", "Wh", "b", "h", "c",
                                                          "dh", "dc")}))
def test_lstm_cell_matches_spec(N, D, H, dtype, seed, scale, layout):
    p = make_problem(N, 1, D, H, dtype, seed=seed, weight_scale=scale)
    p = dict(x=p["xs"][:, 0].copy(), Wx=p["Wx"], Wh=p["Wh"], b=p["b"], h=p["h0"], c=p["c0"],
             dh=p["dhs"][:, 0].copy(), dc=p["dc_T"])
    q = {k: laid_out(v, layout[k]) for k, v in p.items()}
    results = []
    for cls, a in ((LSTM, q), (spec.LSTM, p)):
        cell = cls(a["Wx"], a["Wh"], a["b"])
        h, c = cell.forward(a["x"], a["h"], a["c"])
        dx, dh, dc = cell.backward(a["dh"], a["dc"])
        results.append(dict(h_next=h, c_next=c, dx=dx, dh_prev=dh, dc_prev=dc,
                            dWx=cell.grads[0], dWh=cell.grads[1], db=cell.grads[2]))
    for name in results[1]:
        assert_close(results[0][name], results[1][name], dtype, name)


# A stateful session: a list of calls, each applied to the compiled layer and
# to the spec, compared after every call.
calls = st.one_of(
    st.tuples(st.just("forward"), st.integers(0, 5), st.booleans(), layouts),  # T, train, layout
    st.tuples(st.just("backward"), layouts, st.booleans()),                    # layout, dc_next
    st.tuples(st.just("reset_state")),
    st.tuples(st.just("set_state"), st.booleans()),                            # with c
    st.tuples(st.just("sgd_step"), st.sampled_from([0.01, 0.1])),              # params -= lr * grads
)


@given(N=st.integers(1, 4), D=st.integers(1, 5), H=st.integers(1, 5), dtype=dtypes, seed=seeds,
       session=st.lists(calls, min_size=1, max_size=12))
def test_stateful_sessions_match_spec(N, D, H, dtype, seed, session):
    p = make_problem(N, 5, D, H, dtype, seed=seed)
    rng = np.random.default_rng(seed)
    ours = TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), stateful=True)
    ref = spec.TimeLSTM(p["Wx"].copy(), p["Wh"].copy(), p["b"].copy(), stateful=True)
    ready = False          # whether our layer holds a cache that backward may use
    T = 0
    # Errors compound over a session (the carried state differs by rounding
    # each call); allow a factor for the number of calls.
    limit = TOL[dtype]

    def check(name, a, b):
        err = relative_error(a, b)
        assert err <= limit, f"{name} after {step}: relative error {err:.2e}"

    for i, step in enumerate(session):
        kind = step[0]
        if kind == "forward":
            _, T, train, layout = step
            xs = rng.standard_normal((N, T, D)).astype(dtype)
            hs = ours.forward(laid_out(xs, layout), train=train)
            check("hs", hs, ref.forward(xs))
            check("h", ours.h, ref.h)
            check("c", ours.c, ref.c)
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
            check("dxs", dxs, ref.backward(dhs, dc_next=dc))
            check("dh", ours.dh, ref.dh)
            check("dc", ours.dc, ref.dc)
            for name, g, g_ref in zip(("dWx", "dWh", "db"), ours.grads, ref.grads):
                check(name, g, g_ref)
            ready = False
        elif kind == "reset_state":
            ours.reset_state()
            ref.reset_state()
        elif kind == "set_state":
            h = rng.standard_normal((N, H)).astype(dtype)
            c = rng.standard_normal((N, H)).astype(dtype) if step[1] else None
            ours.set_state(h, c)
            ref.set_state(h, c)
        elif kind == "sgd_step":
            # The same update on both sides, so that the params stay equal.
            for mine, theirs, g in zip(ours.params, ref.params, ours.grads):
                update = step[1] * g
                mine -= update
                theirs -= update


@pytest.mark.parametrize("scale", [1e-2, 1e-3, 1e-4])
def test_small_activations_keep_relative_accuracy(scale, dtype):
    """Tiny weights and inputs make every pre-activation small, so hs is small;
    the kernels' tanh must be accurate relative to its result there, as np.tanh
    is. (A tanh computed as (1 - e) / (1 + e) missed by ~1e-4 in float32 at
    scale 1e-3, found by test_time_lstm_forward_backward_match_spec.)"""
    p = make_problem(4, 6, 8, 8, dtype, seed=1, weight_scale=scale)
    for name in ("xs", "h0", "c0"):
        p[name] *= scale
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    for name in ref:
        assert_close(ours[name], ref[name], dtype, f"{name} at scale {scale}")
