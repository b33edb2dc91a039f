"""A small forward/backward of every layer, for valgrind memcheck (tools/sanitize.sh).

Every output is compared with the spec, and the comparison branches on every
value, so memcheck reports any output element the kernels left uninitialised
("Conditional jump or move depends on uninitialised value(s)") as well as any
invalid read or write. Shapes are tiny: memcheck runs ~50x slower than native.
"""
import sys

import numpy as np

import gatedrnn
from gatedrnn import LSTM, TimeLSTM, clip_grads, problems, spec
from gatedrnn.demo import make_problem, run_layer
from gatedrnn.gradcheck import relative_error

TOL = {np.float32: 1e-5, np.float64: 1e-12}
SHAPES = [(2, 3, 4, 5), (1, 1, 1, 1), (3, 5, 2, 7), (0, 3, 4, 5), (2, 0, 4, 5), (2, 3, 0, 5),
          (2, 3, 4, 0)]


def check(name, ours, ref, dtype):
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, name
    err = relative_error(ours, ref)
    assert err <= TOL[dtype], f"{name}: relative error {err:.2e}"
    # Branch on every element (relative_error reduces first).
    assert np.all(np.isfinite(ours)), name
    return err


def main():
    worst = 0.0
    checked = 0
    for dtype in (np.float32, np.float64):
        for shape in SHAPES:
            p = make_problem(*shape, dtype, seed=sum(shape))
            ours, ref = run_layer(TimeLSTM, p), run_layer(spec.TimeLSTM, p)
            for name in ref:
                worst = max(worst, check(f"{name} {shape}", ours[name], ref[name], dtype))
                checked += 1
            # The single-step cell.
            n, t, d, h = shape
            x = p["xs"][:, 0] if t else np.zeros((n, d), dtype)
            outs = []
            for cls in (LSTM, spec.LSTM):
                cell = cls(p["Wx"], p["Wh"], p["b"])
                h1, c1 = cell.forward(x, p["h0"], p["c0"])
                outs.append([h1, c1, *cell.backward(p["h0"], p["c0"]), *cell.grads])
            for k, (a, b) in enumerate(zip(*outs)):
                worst = max(worst, check(f"cell output {k} {shape}", a, b, dtype))
                checked += 1
        # A stateful session with non-contiguous inputs and an inference call.
        p = make_problem(3, 6, 4, 5, dtype, seed=1)
        ours = TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
        ref = spec.TimeLSTM(p["Wx"], p["Wh"], p["b"], stateful=True)
        for a, b in [(0, 2), (2, 6)]:
            xs = np.asfortranarray(p["xs"][:, a:b])
            dhs = p["dhs"][:, a:b][..., ::-1].copy()[..., ::-1]
            worst = max(worst, check("session hs", ours.forward(xs), ref.forward(xs), dtype))
            worst = max(worst, check("session dxs", ours.backward(dhs), ref.backward(dhs), dtype))
            checked += 2
        check("inference hs", ours.forward(p["xs"], train=False), ref.forward(p["xs"]), dtype)
        norm = clip_grads(ours.grads, 1e-3)
        assert np.isfinite(norm) and all(np.all(np.isfinite(g)) for g in ours.grads)
        checked += 1
    # The rest of the family: every kind, both dtypes, a few shapes (empty ones too).
    for kind in ("gru", "gru_reset_after", "rnn", "bilstm"):
        for dtype in (np.float32, np.float64):
            for shape in [(2, 3, 4, 5), (1, 1, 1, 1), (0, 3, 4, 5), (2, 3, 4, 0)]:
                p = problems.make_problem(kind, *shape, dtype, seed=sum(shape))
                ours, ref = problems.run(kind, gatedrnn, p), problems.run(kind, spec, p)
                for name in ref:
                    worst = max(worst, check(f"{kind} {name} {shape}", ours[name], ref[name],
                                             dtype))
                    checked += 1
    print(f"memcheck workload: {checked} outputs checked against the spec, "
          f"worst relative error {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
