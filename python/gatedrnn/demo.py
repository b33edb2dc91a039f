"""`python -m gatedrnn demo`: prove the compiled layer right, then time it.

1. Central finite differences (float64) against the compiled layer and the spec.
2. The compiled layer against the spec at the book's Rnnlm size, both dtypes.
3. A timing table, compiled against spec, forward+backward: the median of
   several rounds, with the lowest and highest round beside it.
"""
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from . import TimeLSTM, spec
from ._timing import speedup_in_rounds
from ._timing import Speedup
from ._typing import FloatArray
from .gradcheck import numerical_gradient, relative_error

# An LSTM problem: weights, inputs, states and upstream gradients, by name.
Problem = dict[str, FloatArray]
# TimeLSTM or spec.TimeLSTM.
LayerClass = type[TimeLSTM] | type[spec.TimeLSTM]

GRAD_NAMES = ("dWx", "dWh", "db")


def make_problem(N: int, T: int, D: int, H: int, dtype: DTypeLike, seed: int = 0,
                 weight_scale: float = 1.0) -> Problem:
    """Weights as the book initialises them (randn / sqrt(fan-in)), times
    weight_scale (large values saturate the gates); random inputs, non-zero
    initial state and random upstream gradients."""
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 1.0) -> FloatArray:
        return (scale * rng.standard_normal(shape)).astype(dtype)

    return dict(Wx=r(D, 4 * H, scale=weight_scale / np.sqrt(max(D, 1))),
                Wh=r(H, 4 * H, scale=weight_scale / np.sqrt(max(H, 1))),
                b=r(4 * H, scale=0.1 * weight_scale), xs=r(N, T, D),
                h0=r(N, H, scale=0.5), c0=r(N, H, scale=0.5),
                dhs=r(N, T, H), dc_T=r(N, H))


def run_layer(cls: LayerClass, p: Problem, stateful_start: bool = True) -> dict[str, Any]:
    """One forward and backward from (h0, c0); returns every output and gradient."""
    layer = cls(p["Wx"], p["Wh"], p["b"], stateful=stateful_start)
    layer.set_state(p["h0"], p["c0"])
    hs = layer.forward(p["xs"])
    c_T = cast(FloatArray, layer.c).copy()  # set by the forward
    dxs = layer.backward(p["dhs"], dc_next=p["dc_T"])
    out = dict(hs=hs, c_T=c_T, dxs=dxs, dh0=layer.dh, dc0=layer.dc)
    out.update(zip(GRAD_NAMES, (g.copy() for g in layer.grads)))
    return out


def finite_difference_errors(cls: LayerClass, p: Problem, eps: float = 1e-6) -> dict[str, float]:
    """Relative error of each analytic gradient of
    L = sum(hs * dhs) + sum(c_T * dc_T) against central differences."""
    def loss() -> float:
        layer = cls(p["Wx"], p["Wh"], p["b"], stateful=True)
        layer.set_state(p["h0"], p["c0"])
        hs = layer.forward(p["xs"])
        return float(np.sum(hs * p["dhs"]) + np.sum(cast(FloatArray, layer.c) * p["dc_T"]))

    analytic = run_layer(cls, p)
    pairs = dict(dWx="Wx", dWh="Wh", db="b", dxs="xs", dh0="h0", dc0="c0")
    return {g: relative_error(analytic[g], numerical_gradient(loss, p[x], eps))
            for g, x in pairs.items()}


def max_error_against_spec(N: int, T: int, D: int, H: int, dtype: DTypeLike) -> float:
    p = make_problem(N, T, D, H, dtype)
    ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
    return max(relative_error(ours[k], ref[k]) for k in ref)


def forward_backward(cls: LayerClass, p: Problem) -> Callable[[], None]:
    """A function running one forward and backward of a fresh cls layer."""
    layer = cls(p["Wx"], p["Wh"], p["b"])

    def step() -> None:
        layer.forward(p["xs"])
        layer.backward(p["dhs"])

    return step


def _speedup_columns(s: Speedup) -> str:
    return (f"{s.slow_seconds * 1e3:9.2f} {s.fast_seconds * 1e3:9.2f} {s.ratio:8.1f}x "
            f"{f'{s.low:.1f}-{s.high:.1f}':>11s}")


def main(quick: bool = False) -> int:
    print("gatedrnn demo: gradient checks, then timings; the LSTM (gate order f, g, i, o), "
          "then the rest of the family\n")

    p = make_problem(2, 3, 4, 5, np.float64, seed=1)
    print("1. Central finite differences, float64, (N,T,D,H) = (2,3,4,5), non-zero h0/c0")
    print(f"   {'':8s}" + "".join(f"{k:>10s}" for k in ("dWx", "dWh", "db", "dxs", "dh0", "dc0")))
    worst = 0.0
    for name, cls in (("compiled", TimeLSTM), ("spec", spec.TimeLSTM)):
        errs = finite_difference_errors(cls, p)
        worst = max(worst, *errs.values())
        print(f"   {name:8s}" + "".join(f"{e:10.1e}" for e in errs.values()))

    print("\n2. Compiled vs spec, every output and gradient, max relative error")
    limits = {np.float32: 1e-5, np.float64: 1e-12}
    ok = worst <= 1e-6
    for dtype, limit in limits.items():
        err = max_error_against_spec(20, 35, 100, 100, dtype)
        ok &= err <= limit
        print(f"   (20,35,100,100) {np.dtype(dtype).name:8s} {err:9.2e}  (limit {limit:.0e})")

    from . import _kernels
    rounds = 3 if quick else 5
    print(f"\n3. Forward+backward time (ms), median of {rounds} rounds, and the speed-up's "
          f"lowest-highest round;\n   gatedrnn on its {_kernels.get_path()} kernels, "
          f"{_kernels.get_num_threads()} threads")
    sizes = [((20, 35, 100, 100), np.float32), ((20, 35, 100, 100), np.float64),
             ((20, 35, 650, 650), np.float32)]
    if quick:
        sizes = sizes[:2]
    print(f"   {'(N,T,D,H)':18s} {'dtype':8s} {'spec':>9s} {'gatedrnn':>9s} {'speed-up':>9s} "
          f"{'range':>11s}")
    for (N, T, D, H), dtype in sizes:
        p = make_problem(N, T, D, H, dtype)
        big = H > 300
        s = speedup_in_rounds(forward_backward(TimeLSTM, p), forward_backward(spec.TimeLSTM, p),
                              rounds, fast_repeat=3 if big else 9, slow_repeat=1 if big else 3)
        print(f"   {str((N, T, D, H)):18s} {np.dtype(dtype).name:8s} {_speedup_columns(s)}")

    ok &= family(quick)
    print("\nall checks passed" if ok else "\nA CHECK FAILED")
    return 0 if ok else 1


FAMILY = {"gru": "TimeGRU, the book's", "gru_reset_after": "TimeGRU(reset_after=True)",
          "rnn": "TimeRNN", "rnn_relu": "TimeRNN, relu", "bilstm": "TimeBiLSTM"}


def family(quick: bool) -> bool:
    """The rest of the family, a line each: the gradients against central finite
    differences (float64, (2,3,4,3), compiled and spec), the compiled layer
    against the spec at (20,35,100,100), and forward+backward times."""
    import gatedrnn
    from . import problems
    from .gradcheck import numerical_gradient

    print("\n4. The rest of the family, (20,35,100,100) unless said: worst relative error of "
          "the gradients against\n   central finite differences (float64, (2,3,4,3)), "
          "compiled vs spec, and forward+backward ms (float32)")
    print(f"   {'':26s} {'FD compiled':>11s} {'FD spec':>9s} {'vs spec f32':>11s} "
          f"{'vs spec f64':>11s} {'spec':>9s} {'gatedrnn':>9s} {'speed-up':>9s} {'range':>11s}")
    ok = True
    for kind, name in FAMILY.items():
        p = problems.make_problem(kind, 2, 3, 4, 3, np.float64, seed=1)
        fd: list[float] = []
        for module in (gatedrnn, spec):
            loss, analytic, values = problems.loss_and_gradients(kind, module, p)
            fd.append(max(relative_error(analytic[k], numerical_gradient(loss, v))
                          for k, v in values.items()))
        errors: list[float] = []
        for dtype in (np.float32, np.float64):
            q = problems.make_problem(kind, 20, 35, 100, 100, dtype)
            ours, ref = problems.run(kind, gatedrnn, q), problems.run(kind, spec, q)
            errors.append(max(relative_error(ours[k], ref[k]) for k in ref))
        ok &= max(fd) <= 1e-6 and errors[0] <= 1e-5 and errors[1] <= 1e-12
        q = problems.make_problem(kind, 20, 35, 100, 100, np.float32)

        def step(module: Any) -> Callable[[], None]:
            layer = problems.time_layer(kind, module, q["weights"])

            def run() -> None:
                layer.forward(q["xs"])
                layer.backward(q["dhs"])

            return run

        s = speedup_in_rounds(step(gatedrnn), step(spec), 3 if quick else 5,
                              fast_repeat=9, slow_repeat=3)
        print(f"   {name:26s} {fd[0]:11.1e} {fd[1]:9.1e} {errors[0]:11.1e} {errors[1]:11.1e} "
              f"{_speedup_columns(s)}")
    return ok
