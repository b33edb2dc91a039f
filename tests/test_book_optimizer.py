"""gatedrnn.book.optimizer against the book's update rules, to the bit.

The reference below writes each rule of the book's common/optimizer.py as
NumPy expressions with temporaries, evaluated by the installed NumPy: the
compiled passes must give the same bits, params and state, step after step.
"""
import inspect
import time
import tracemalloc
import warnings

import numpy as np
import pytest

from gatedrnn import _kernels
from gatedrnn.book import optimizer as book_optimizer


# ---- the book's rules, as NumPy evaluates them --------------------------------

def sgd_rule(opt, params, grads, state):
    for p, g in zip(params, grads):
        p -= opt["lr"] * g


def momentum_rule(opt, params, grads, state):
    v = state.setdefault("v", [np.zeros_like(p) for p in params])
    for k, (p, g) in enumerate(zip(params, grads)):
        v[k] = opt["momentum"] * v[k] - opt["lr"] * g   # a new array each step, as the book
        p += v[k]


def nesterov_rule(opt, params, grads, state):
    v = state.setdefault("v", [np.zeros_like(p) for p in params])
    mu, lr = opt["momentum"], opt["lr"]
    for k, (p, g) in enumerate(zip(params, grads)):
        v[k] *= mu
        v[k] -= lr * g
        p += mu * mu * v[k]
        p -= (1 + mu) * lr * g


def adagrad_rule(opt, params, grads, state):
    h = state.setdefault("h", [np.zeros_like(p) for p in params])
    for k, (p, g) in enumerate(zip(params, grads)):
        h[k] += g * g
        p -= opt["lr"] * g / (np.sqrt(h[k]) + 1e-7)


def rmsprop_rule(opt, params, grads, state):
    h = state.setdefault("h", [np.zeros_like(p) for p in params])
    rho = opt["decay_rate"]
    for k, (p, g) in enumerate(zip(params, grads)):
        h[k] *= rho
        h[k] += (1 - rho) * g * g
        p -= opt["lr"] * g / (np.sqrt(h[k]) + 1e-7)


def adam_rule(opt, params, grads, state):
    m = state.setdefault("m", [np.zeros_like(p) for p in params])
    v = state.setdefault("v", [np.zeros_like(p) for p in params])
    state["iter"] = t = state.get("iter", 0) + 1
    b1, b2 = opt["beta1"], opt["beta2"]
    # A NumPy float64: under NEP 50 the step below is float64 for float32 params.
    lr_t = opt["lr"] * np.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
    for k, (p, g) in enumerate(zip(params, grads)):
        m[k] += (1 - b1) * (g - m[k])
        v[k] += (1 - b2) * (g ** 2 - v[k])
        p -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-7)


RULES = {"SGD": sgd_rule, "Momentum": momentum_rule, "Nesterov": nesterov_rule,
         "AdaGrad": adagrad_rule, "RMSprop": rmsprop_rule, "Adam": adam_rule}

# The book's constructor arguments and their defaults.
BOOK_DEFAULTS = {
    "SGD": {"lr": 0.01},
    "Momentum": {"lr": 0.01, "momentum": 0.9},
    "Nesterov": {"lr": 0.01, "momentum": 0.9},
    "AdaGrad": {"lr": 0.01},
    "RMSprop": {"lr": 0.01, "decay_rate": 0.99},
    "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
}
OTHER_SETTINGS = {
    "SGD": {"lr": 20.0},   # ch06's lr
    "Momentum": {"lr": 0.07, "momentum": 0.5},
    "Nesterov": {"lr": 0.03, "momentum": 0.7},
    "AdaGrad": {"lr": 1.5},
    "RMSprop": {"lr": 0.002, "decay_rate": 0.9},
    "Adam": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
}
STATE_NAMES = {"SGD": (), "Momentum": ("v",), "Nesterov": ("v",), "AdaGrad": ("h",),
               "RMSprop": ("h",), "Adam": ("m", "v")}
NAMES = list(RULES)


# ---- helpers -------------------------------------------------------------------

SHAPES = [(13, 7), (5,), (2, 3, 4), (1,), (0, 3)]


def bits(a):
    """The bit pattern of a float array, so that comparisons see -0.0 and NaN."""
    return np.ascontiguousarray(a).view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_bits_equal(actual, expected, what):
    assert actual.dtype == expected.dtype, what
    assert actual.shape == expected.shape, what
    np.testing.assert_array_equal(bits(actual), bits(expected), err_msg=what)


def laid_out(a, layout, rng):
    """`a`'s values in an array of the given memory layout."""
    if layout == "contiguous":
        return a.copy()
    if layout == "fortran":
        return np.asfortranarray(a)
    # strided: every other element of a larger array
    big = rng.standard_normal(tuple(2 * n + 1 for n in a.shape)).astype(a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def make_params(rng, shapes, dtype):
    """Params of magnitudes from 1e-5 to 10, so that the steps are not lost in
    the rounding of p - step (which would hide a step rounded differently)."""
    return [(rng.standard_normal(s) * 10.0 ** rng.integers(-5, 2, size=s)).astype(dtype)
            for s in shapes]


def make_grads(rng, params, step):
    """Gradients of several magnitudes (and a few zeros), the params' dtype and shapes."""
    grads = []
    for p in params:
        g = rng.standard_normal(p.shape) * 10.0 ** rng.integers(-4, 3, size=p.shape)
        g[rng.random(p.shape) < 0.05] = 0.0
        grads.append(g.astype(p.dtype))
    return grads


def run_both(name, settings, dtype, layout, steps=5, seed=0, shapes=SHAPES, between=None):
    """Step ours and the reference side by side and compare every array after each step."""
    rng = np.random.default_rng(seed)
    start = make_params(rng, shapes, dtype)
    ours = [laid_out(p, layout, rng) for p in start]
    reference = [p.copy() for p in start]
    opt = getattr(book_optimizer, name)(**settings)
    ref_opt, ref_state = dict(settings), {}
    state_ids = None
    for step in range(steps):
        if between is not None:
            between(step, opt, ref_opt, ref_state)
        grads = make_grads(rng, start, step)
        opt.update(ours, [laid_out(g, layout, rng) for g in grads])
        RULES[name](ref_opt, reference, grads, ref_state)
        for k, (a, b) in enumerate(zip(ours, reference)):
            assert_bits_equal(a, b, f"{name} {dtype.__name__} {layout} step {step} params[{k}]")
        for state_name in STATE_NAMES[name]:
            for k, (a, b) in enumerate(zip(getattr(opt, state_name), ref_state[state_name])):
                assert_bits_equal(a, b, f"{name} step {step} {state_name}[{k}]")
        ids = [id(a) for state_name in STATE_NAMES[name] for a in getattr(opt, state_name)]
        if state_ids is None:
            state_ids = ids
        assert ids == state_ids, "the state arrays must be created once and reused"
    return opt, ours


# ---- the rules, to the bit -----------------------------------------------------

@pytest.mark.parametrize("layout", ["contiguous", "strided", "fortran"])
@pytest.mark.parametrize("name", NAMES)
def test_each_step_matches_the_book_to_the_bit(name, dtype, layout):
    run_both(name, BOOK_DEFAULTS[name], dtype, layout)


@pytest.mark.parametrize("name", NAMES)
def test_other_hyperparameters_match_the_book_to_the_bit(name, dtype):
    run_both(name, OTHER_SETTINGS[name], dtype, "contiguous", steps=3, seed=1)


@pytest.mark.parametrize("name", NAMES)
def test_a_list_mixing_layouts_and_dtypes(name):
    # Contiguous float32, a strided float32 view, float64, float32 again: the
    # update switches between the compiled pass and the NumPy path in order.
    rng = np.random.default_rng(2)
    dtypes = [np.float32, np.float32, np.float64, np.float32]
    start = [make_params(rng, [s], d)[0] for s, d in zip([(9, 4), (6, 5), (7,), (3, 3)], dtypes)]
    ours = [p.copy() for p in start]
    ours[1] = laid_out(start[1], "strided", rng)
    reference = [p.copy() for p in start]
    opt, ref_state = getattr(book_optimizer, name)(**OTHER_SETTINGS[name]), {}
    for step in range(3):
        grads = make_grads(rng, start, step)
        opt.update(ours, grads)
        RULES[name](OTHER_SETTINGS[name], reference, grads, ref_state)
        for k, (a, b) in enumerate(zip(ours, reference)):
            assert_bits_equal(a, b, f"{name} step {step} params[{k}]")


def repeated_updates(name, dtype, steps=None, seconds=None):
    """Updates of a few arrays (the largest 15 chunks of the C pass) with the
    same grads: `steps` of them, or, within `seconds`, until a worker thread
    took part in one. Returns (params, steps done, whether a worker took part)."""
    rng = np.random.default_rng(8)
    params = make_params(rng, [(300, 400), (7,), (40, 100)], dtype)
    grads = make_grads(rng, params, 0)
    opt = getattr(book_optimizer, name)()
    before = _kernels.jobs_shared()
    deadline = time.monotonic() + (seconds or 0)
    done = 0
    while (done < steps) if steps is not None else (
            _kernels.jobs_shared() == before and time.monotonic() < deadline):
        opt.update(params, grads)
        done += 1
    return params, done, _kernels.jobs_shared() > before


@pytest.mark.parametrize("name", ["Nesterov", "Adam"])
def test_threads_give_the_same_bits(name, dtype):
    _kernels.set_num_threads(2)
    _kernels.set_all_threads(True)
    try:
        two_threads, steps, shared = repeated_updates(name, dtype, seconds=10)
    finally:
        _kernels.set_num_threads(0)
        _kernels.set_all_threads(False)
    assert shared, "no update ran on two threads in 10 s"
    _kernels.set_num_threads(1)
    try:
        one_thread, _, shared = repeated_updates(name, dtype, steps=steps)
    finally:
        _kernels.set_num_threads(0)
    assert not shared
    for k, (a, b) in enumerate(zip(two_threads, one_thread)):
        assert_bits_equal(a, b, f"{name} after {steps} steps on two threads and one, [{k}]")


# ---- the book's behaviour that scripts rely on ---------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_lr_reassigned_between_updates_takes_effect(name, dtype):
    def divide_lr(step, opt, ref_opt, ref_state):
        if step in (2, 4):
            opt.lr /= 4.0                  # the book's schedules do this
            ref_opt["lr"] /= 4.0
    opt, _ = run_both(name, BOOK_DEFAULTS[name], dtype, "contiguous", between=divide_lr)
    assert opt.lr == BOOK_DEFAULTS[name]["lr"] / 16


def test_adam_iter_set_by_hand_sets_the_bias_correction(dtype):
    def resume(step, opt, ref_opt, ref_state):
        if step == 2:
            opt.iter = ref_state["iter"] = 100
    opt, _ = run_both("Adam", BOOK_DEFAULTS["Adam"], dtype, "contiguous", between=resume)
    assert opt.iter == 103


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam"])
def test_an_array_listed_twice_is_updated_twice_in_order(name, dtype):
    # As the book's loop: the second entry sees the first entry's update.
    rng = np.random.default_rng(3)
    (W,) = make_params(rng, [(20, 30)], dtype)
    ours, reference = W.copy(), W.copy()
    opt, ref_state = getattr(book_optimizer, name)(), {}
    for step in range(3):
        g1, g2 = make_grads(rng, [W, W], step)
        opt.update([ours, ours], [g1, g2])
        RULES[name](BOOK_DEFAULTS[name], [reference, reference], [g1, g2], ref_state)
        assert_bits_equal(ours, reference, f"{name} step {step}")


@pytest.mark.parametrize("name", ["SGD", "Nesterov", "AdaGrad", "Adam"])
def test_a_param_that_is_its_own_grad(name, dtype):
    # Overlapping param and grad take the NumPy path: the book's temporaries.
    rng = np.random.default_rng(4)
    (ours,) = make_params(rng, [(8, 9)], dtype)
    reference = ours.copy()
    opt, ref_state = getattr(book_optimizer, name)(), {}
    for step in range(3):
        opt.update([ours], [ours])
        RULES[name](BOOK_DEFAULTS[name], [reference], [reference], ref_state)
        assert_bits_equal(ours, reference, f"{name} step {step}")


@pytest.mark.parametrize("name", NAMES)
def test_params_are_updated_in_place(name):
    rng = np.random.default_rng(5)
    params = [rng.standard_normal((4, 6)).astype(np.float32)]
    view = params[0].T                  # a tied weight's transpose sees the update
    before = params[0].copy()
    opt = getattr(book_optimizer, name)()
    opt.update(params, make_grads(rng, params, 0))
    assert not np.array_equal(params[0], before)
    assert np.shares_memory(view, params[0]) and np.array_equal(view.T, params[0])


def test_adam_counts_its_steps():
    opt, _ = run_both("Adam", BOOK_DEFAULTS["Adam"], np.float32, "contiguous", steps=3)
    assert opt.iter == 3


def test_an_empty_list_counts_an_adam_step():
    opt = book_optimizer.Adam()
    opt.update([], [])
    assert opt.iter == 1 and opt.m == [] and opt.v == []


def test_no_temporaries_of_the_params_size():
    # After the first update (which creates the state), an update of a 4 MB
    # param allocates nothing near its size.
    rng = np.random.default_rng(6)
    params = [rng.standard_normal((1000, 1000)).astype(np.float32)]
    grads = make_grads(rng, params, 0)
    for name in ("Adam", "RMSprop", "Nesterov"):
        opt = getattr(book_optimizer, name)()
        opt.update(params, grads)
        tracemalloc.start()
        try:
            opt.update(params, grads)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 100_000, f"{name}: {peak} bytes allocated during an update"


def test_names_signatures_and_attributes():
    assert book_optimizer.__all__ == NAMES
    for name, defaults in BOOK_DEFAULTS.items():
        cls = getattr(book_optimizer, name)
        parameters = inspect.signature(cls).parameters
        assert {k: p.default for k, p in parameters.items()} == defaults, name
        opt = cls()
        for attribute, value in defaults.items():
            assert getattr(opt, attribute) == value, f"{name}.{attribute}"
        for state_name in STATE_NAMES[name]:
            assert getattr(opt, state_name) is None, f"{name}.{state_name} before any update"
    assert book_optimizer.Adam().iter == 0
    opt = book_optimizer.SGD()
    opt.lr = 0.5                         # a plain attribute
    assert opt.lr == 0.5 and "lr" in vars(opt)


# ---- bad input changes nothing -------------------------------------------------

def fresh_problem(dtype=np.float32):
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s).astype(dtype) for s in [(6, 5), (4,), (3, 2)]]
    grads = make_grads(rng, params, 0)
    return params, grads


def snapshot(opt, params):
    state = {name: [a.copy() for a in getattr(opt, name)] if getattr(opt, name) is not None
             else None for name in STATE_NAMES[type(opt).__name__]}
    return [p.copy() for p in params], state, getattr(opt, "iter", None)


def assert_unchanged(opt, params, saved):
    saved_params, saved_state, saved_iter = saved
    for k, (p, q) in enumerate(zip(params, saved_params)):
        assert_bits_equal(p, q, f"params[{k}] after a failed update")
    for name, arrays in saved_state.items():
        if arrays is None:
            assert getattr(opt, name) is None, f"{name} created by a failed update"
        else:
            for a, b in zip(getattr(opt, name), arrays):
                assert_bits_equal(a, b, f"{name} after a failed update")
    assert getattr(opt, "iter", None) == saved_iter


def spoil_length(params, grads):
    return params, grads[:-1]


def spoil_dtype(params, grads):
    return params, grads[:-1] + [grads[-1].astype(np.float64)]


def spoil_shape(params, grads):
    return params, grads[:-1] + [grads[-1].reshape(-1)]


def spoil_grad_type(params, grads):
    return params, grads[:-1] + [grads[-1].tolist()]


def spoil_param_dtype(params, grads):
    return params[:-1] + [params[-1].astype(np.int64)], grads


def spoil_read_only(params, grads):
    frozen = params[-1].copy()
    frozen.flags.writeable = False
    return params[:-1] + [frozen], grads


def spoil_container(params, grads):
    return params[0], grads[0]


SPOILERS = {
    spoil_length: ValueError, spoil_dtype: TypeError, spoil_shape: ValueError,
    spoil_grad_type: TypeError, spoil_param_dtype: TypeError, spoil_read_only: ValueError,
    spoil_container: TypeError,
}


@pytest.mark.parametrize("first", [True, False], ids=["first update", "later update"])
@pytest.mark.parametrize("spoil", list(SPOILERS), ids=lambda f: f.__name__[6:])
@pytest.mark.parametrize("name", NAMES)
def test_bad_lists_raise_and_change_nothing(name, spoil, first):
    params, grads = fresh_problem()
    opt = getattr(book_optimizer, name)()
    if not first:
        opt.update(params, grads)
    saved = snapshot(opt, params)
    bad_params, bad_grads = spoil(params, grads)
    with pytest.raises(SPOILERS[spoil]) as error:
        opt.update(bad_params, bad_grads)
    assert "params" in str(error.value) or "grads" in str(error.value)
    assert_unchanged(opt, params, saved)


BAD_SETTINGS = [
    ("SGD", "lr", float("nan"), ValueError), ("SGD", "lr", "0.1", TypeError),
    ("SGD", "lr", True, TypeError), ("Momentum", "momentum", float("inf"), ValueError),
    ("Nesterov", "lr", None, TypeError), ("RMSprop", "decay_rate", [0.9], TypeError),
    ("AdaGrad", "lr", 10 ** 400, ValueError), ("Adam", "beta1", 1.0, ValueError),
    ("Adam", "beta2", -0.1, ValueError), ("Adam", "iter", -1, ValueError),
    ("Adam", "iter", 1.5, ValueError),
]


@pytest.mark.parametrize("name, attribute, value, error", BAD_SETTINGS)
def test_bad_hyperparameters_raise_and_change_nothing(name, attribute, value, error):
    params, grads = fresh_problem()
    opt = getattr(book_optimizer, name)()
    opt.update(params, grads)
    setattr(opt, attribute, value)
    saved = snapshot(opt, params)
    with pytest.raises(error, match=attribute):
        opt.update(params, grads)
    assert_unchanged(opt, params, saved)
    if attribute != "iter":
        with pytest.raises(error, match=attribute):
            getattr(book_optimizer, name)(**{attribute: value})


@pytest.mark.parametrize("name", ["Momentum", "Adam"])
def test_state_that_does_not_fit_the_params_raises(name):
    params, grads = fresh_problem()
    opt = getattr(book_optimizer, name)()
    opt.update(params, grads)
    saved = snapshot(opt, params)
    longer = params + [np.zeros(3, np.float32)]
    with pytest.raises(ValueError, match="new optimizer"):
        opt.update(longer, grads + [np.zeros(3, np.float32)])
    reshaped = [p.reshape(-1) for p in params]
    with pytest.raises(ValueError, match=r"v\[0\]|m\[0\]"):
        opt.update(reshaped, [g.reshape(-1) for g in grads])
    assert_unchanged(opt, params, saved)
    # Setting the state to None starts afresh, as in the book.
    for state_name in STATE_NAMES[name]:
        setattr(opt, state_name, None)
    opt.update(longer, grads + [np.zeros(3, np.float32)])
    assert len(opt.v) == 4


def test_a_hyperparameter_beyond_float32_as_numpy_casts_it():
    # lr = 1e39 is inf in float32: NumPy warns and the update gives +-inf (or
    # NaN where g is 0); float32 arrays then take the NumPy path, which does the same.
    rng = np.random.default_rng(9)
    (start,) = make_params(rng, [(4, 5)], np.float32)
    grads = make_grads(rng, [start], 0)
    ours, reference = start.copy(), start.copy()
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        book_optimizer.SGD(lr=1e39).update([ours], grads)
    with warnings.catch_warnings(record=True) as reference_warned:
        warnings.simplefilter("always")
        sgd_rule({"lr": 1e39}, [reference], grads, {})
    assert_bits_equal(ours, reference, "SGD with lr beyond float32")
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in reference_warned]
    assert any("overflow" in str(w.message) for w in ours_warned)
