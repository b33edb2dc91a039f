"""The end-to-end part of `python -m gatedrnn bench`: the chapter's language
models as a training program runs them.

- One training iteration (forward, backward, clip_grads at 0.25, SGD) and one
  evaluation batch of ``Rnnlm`` and ``BetterRnnlm``, ours against the same
  model in torch (``gatedrnn.interop.to_torch``: embedding, LSTM, dropout,
  tied linear; torch's cross-entropy, ``clip_grad_norm_`` and ``optim.SGD``).
- Our LSTM's time inside the training iteration against the same calls made
  alone, back to back.
- The output layer's products on our engine against SciPy's sgemm, at the
  models' shapes: the measurements behind lm/_products.py's rule.

Timing as in timing.compare(): blocks of calls with a pause before each block.
"""
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _kernels
from .._typing import IntArray
from ..clip import clip_grads
from ..interop import to_torch
from ..lm import BetterRnnlm, Rnnlm, SGD, _products
from .timing import Row, TorchModule, compare

VOCAB = 10000
MODELS: dict[str, tuple[type[Rnnlm] | type[BetterRnnlm], int]] = {
    "Rnnlm": (Rnnlm, 100),            # wordvec_size = hidden_size
    "BetterRnnlm": (BetterRnnlm, 650),
}
TRAIN_BATCH = (20, 35)  # the chapter's batch_size, time_size
EVAL_BATCH = (10, 35)   # eval_perplexity's
MAX_NORM = 0.25
LR = 20.0

# ours / torch, and the LSTM inside the model / alone.
TARGETS = {("Rnnlm", "train"): 0.6, ("BetterRnnlm", "train"): 0.8,
           ("Rnnlm", "eval"): 0.85, ("BetterRnnlm", "eval"): 0.85}
INSIDE_TARGET = 1.1
# The large model, where the layers are the work; Rnnlm's LSTM (1.7 ms) is
# printed too, but follows 28 MB of scores through the caches.
INSIDE_TARGET_MODELS = ("BetterRnnlm",)


def _word_ids(rng: np.random.Generator, shape: tuple[int, int]) -> IntArray:
    return rng.integers(0, VOCAB, size=shape)


def _build(name: str) -> Rnnlm | BetterRnnlm:
    cls, size = MODELS[name]
    return cls(VOCAB, size, size, seed=0, dtype=np.float32)


class OursModel:
    """A gatedrnn language model, its optimizer, and fixed batches."""

    def __init__(self, name: str) -> None:
        rng = np.random.default_rng(1)
        self.model = _build(name)
        self.eval_model = _build(name)
        self.optimizer = SGD(LR)
        self.xs, self.ts = _word_ids(rng, TRAIN_BATCH), _word_ids(rng, TRAIN_BATCH)
        self.exs, self.ets = _word_ids(rng, EVAL_BATCH), _word_ids(rng, EVAL_BATCH)
        self.lstms = list(getattr(self.model, "lstm_layers", None)
                          or [getattr(self.model, "lstm_layer")])
        self.lstm_seconds = 0.0

    def train_step(self) -> None:
        m = self.model
        m.forward(self.xs, self.ts)
        m.backward()
        clip_grads(m.grads, MAX_NORM)
        self.optimizer.update(m.params, m.grads)

    def eval_batch(self) -> None:
        self.eval_model.forward(self.exs, self.ets, train_flg=False)

    def time_lstms_inside(self) -> Callable[[], float]:
        """A training step that returns the seconds its LSTM calls took."""
        recorded: list[tuple[Any, Any]] = []
        for layer in self.lstms:
            for method in ("forward", "backward"):
                original = getattr(layer, method)

                def timed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                    start = time.perf_counter()
                    out = _original(*args, **kwargs)
                    self.lstm_seconds += time.perf_counter() - start
                    return out
                setattr(layer, method, timed)
                recorded.append((layer, method))

        def step() -> float:
            self.lstm_seconds = 0.0
            self.train_step()
            return self.lstm_seconds
        self._restore = recorded
        return step

    def untime(self) -> None:
        for layer, method in getattr(self, "_restore", []):
            delattr(layer, method)  # the instance attribute hid the class's method
        self._restore = []

    def lstm_calls_alone(self) -> Callable[[], None]:
        """The LSTM layers' forward and backward of one training step, on the
        inputs and output gradients they saw inside the model, back to back."""
        rng = np.random.default_rng(2)
        inputs, douts = [], []
        for layer in self.lstms:
            D, H = layer.params[0].shape[0], layer.params[1].shape[0]
            inputs.append(rng.standard_normal((*TRAIN_BATCH, D), dtype=np.float32))
            douts.append(rng.standard_normal((*TRAIN_BATCH, H), dtype=np.float32) * 1e-3)

        def run() -> None:
            for layer, x in zip(self.lstms, inputs):
                layer.forward(x)
            for layer, d in zip(reversed(self.lstms), reversed(douts)):
                layer.backward(d)
        return run


class TorchModel:
    """The same model in torch, with our initial weights; the state carried
    across iterations as the book's stateful LSTM does."""

    def __init__(self, torch: TorchModule, ours: OursModel) -> None:
        self.torch = torch
        self.module = to_torch(ours.model)
        self.eval_module = to_torch(ours.eval_model)
        self.eval_module.eval()
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=LR)
        self.xs, self.ts = torch.from_numpy(ours.xs), torch.from_numpy(ours.ts).reshape(-1)
        self.exs, self.ets = torch.from_numpy(ours.exs), torch.from_numpy(ours.ets).reshape(-1)
        self.state: Any = None
        self.eval_state: Any = None

    def train_step(self) -> None:
        torch = self.torch
        scores, state = self.module(self.xs, self.state)
        self.state = tuple(s.detach() for s in state)
        loss = torch.nn.functional.cross_entropy(scores.reshape(-1, VOCAB), self.ts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.module.parameters(), MAX_NORM)
        self.optimizer.step()

    def eval_batch(self) -> None:
        with self.torch.no_grad():
            scores, self.eval_state = self.eval_module(self.exs, self.eval_state)
            self.torch.nn.functional.cross_entropy(scores.reshape(-1, VOCAB), self.ets)


def _median_of(fn: Callable[[], float], budget: float, pause: float, min_calls: int) -> float:
    """Median of the values fn() returns, in blocks with a pause, as compare()."""
    fn()
    values: list[float] = []
    spent = 0.0
    while spent < budget or len(values) < min_calls:
        time.sleep(pause)
        start = time.perf_counter()
        for _ in range(3):
            values.append(fn())
        spent += time.perf_counter() - start
    return statistics.median(values)


def run_models(torch: TorchModule | None, budget: float, min_calls: int = 5) -> list[Row]:
    """One row per model: training iteration and evaluation batch, ours and
    torch's; our LSTM's time inside the iteration and alone. A BetterRnnlm
    iteration takes about 0.3 s: --quick asks for fewer calls (`min_calls`)."""
    rows: list[Row] = []
    for name in MODELS:
        ours = OursModel(name)
        tm = TorchModel(torch, ours) if torch is not None else None
        row: Row = {"model": name}
        for what in ("train", "eval"):
            contenders: dict[str, Callable[[], object]] = {
                "ours": ours.train_step if what == "train" else ours.eval_batch}
            if tm is not None:
                contenders["torch"] = tm.train_step if what == "train" else tm.eval_batch
            times = compare(contenders, budget, min_calls=min_calls)
            row[what] = times
        step = ours.time_lstms_inside()
        row["lstm_inside"] = _median_of(step, budget, 0.03, min_calls)
        ours.untime()
        row["lstm_alone"] = compare({"alone": ours.lstm_calls_alone()}, budget,
                                    min_calls=min_calls)["alone"]
        rows.append(row)
        print(f"  timed {name}")
    return rows


def _ms(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:.2f}"


def print_models(rows: list[Row]) -> None:
    print("\nthe language models end to end, float32, vocabulary 10000: one training iteration "
          f"(batch {TRAIN_BATCH}: forward,\nbackward, clip_grads {MAX_NORM}, SGD) and one "
          f"evaluation batch {EVAL_BATCH} (train_flg=False), median ms")
    print(f"  {'model':12s} {'':6s} {'gatedrnn':>9s} {'torch':>9s} {'ours/torch':>11s}")
    for r in rows:
        for what in ("train", "eval"):
            t = r[what]
            ratio = t["ours"] / t["torch"] if "torch" in t else None
            print(f"  {r['model']:12s} {what:6s} {_ms(t['ours']):>9s} {_ms(t.get('torch')):>9s} "
                  f"{'-' if ratio is None else f'{ratio:.2f}':>11s}")
    print("\nour LSTM layers inside the training iteration against the same calls alone, "
          "median ms")
    for r in rows:
        print(f"  {r['model']:12s} inside {_ms(r['lstm_inside'])}, alone {_ms(r['lstm_alone'])}"
              f", inside/alone {r['lstm_inside'] / r['lstm_alone']:.2f}")


def model_targets(rows: list[Row]) -> list[tuple[str, bool | None]]:
    """(text, met) for the end-to-end targets (met None: no torch to compare)."""
    lines: list[tuple[str, bool | None]] = []
    for r in rows:
        for what in ("train", "eval"):
            goal = TARGETS[(r["model"], what)]
            t = r[what]
            if "torch" not in t:
                lines.append((f"{r['model']} {what}: ours/torch <= {goal} (no torch)", None))
                continue
            ratio = t["ours"] / t["torch"]
            lines.append((f"{r['model']} {what}, ours/torch {ratio:.2f} <= {goal}",
                          ratio <= goal))
        if r["model"] in INSIDE_TARGET_MODELS:
            inside = r["lstm_inside"] / r["lstm_alone"]
            lines.append((f"{r['model']}: LSTM inside/alone {inside:.2f} <= {INSIDE_TARGET}",
                          inside <= INSIDE_TARGET))
    return lines


def _product_cases(rng: np.random.Generator) -> list[tuple[str, Any, Any, Any]]:
    """(name, out, a, b) for the output layer's products, as TimeAffine
    passes them (the tied weight is the embedding's transpose)."""
    cases = []
    for model, H, tied in (("Rnnlm", 100, False), ("BetterRnnlm", 650, True)):
        W = (rng.standard_normal((VOCAB, H), dtype=np.float32).T if tied
             else rng.standard_normal((H, VOCAB), dtype=np.float32))
        dW = np.empty((VOCAB, H), np.float32).T if tied else np.empty((H, VOCAB), np.float32)
        for rows, what in ((TRAIN_BATCH[0] * TRAIN_BATCH[1], "train"),
                           (EVAL_BATCH[0] * EVAL_BATCH[1], "eval")):
            x = rng.standard_normal((rows, H), dtype=np.float32)
            dout = rng.standard_normal((rows, VOCAB), dtype=np.float32)
            cases.append((f"{model} {what} forward x @ W", np.empty((rows, VOCAB), np.float32),
                          x, W))
            if what == "train":
                cases.append((f"{model} train dW = x.T @ dout", dW, x.T, dout))
                cases.append((f"{model} train dx = dout @ W.T", np.empty((rows, H), np.float32),
                              dout, W.T))
    return cases


def _on_engine(engine: str | None, fn: Callable[[], object]) -> Callable[[], None]:
    """fn() with the product engine set to `engine` (None: the default rule)."""
    def run() -> None:
        previous = _kernels.set_product_engine(engine)
        try:
            fn()
        finally:
            _kernels.set_product_engine(previous)
    return run


def run_products(budget: float, quick: bool = False,
                 torch: TorchModule | None = None) -> list[Row]:
    """The output layer's products on the Goto engine, the first one (panels),
    SciPy's sgemm and, with torch, torch.mm (MKL on x86: the best vendor
    product this machine has, a measured ceiling beside the FMA peak), side by
    side in one run (blocks with pauses, taking turns), and the evaluation's
    fused loss on both engines (--quick: the training forward of each model
    only, no fused loss)."""
    rng = np.random.default_rng(3)
    scratch = _kernels.MatmulScratch()
    rows: list[Row] = []
    cases = _product_cases(rng)
    if quick:
        cases = [c for c in cases if c[0].endswith("train forward x @ W")]
    for name, out, a, b in cases:
        def ours(out: Any = out, a: Any = a, b: Any = b) -> None:
            with _products.engine_limit(float("inf")):
                _products.matmul_into(out, a, b, scratch=scratch)

        def blas(out: Any = out, a: Any = a, b: Any = b) -> None:
            with _products.engine_limit(0.0):
                _products.matmul_into(out, a, b)
        contenders = {"goto": _on_engine("goto", ours), "panels": _on_engine("panels", ours),
                      "engine": ours, "sgemm": blas}
        if torch is not None:
            def mm(ta: Any = torch.from_numpy(a), tb: Any = torch.from_numpy(b),
                   tout: Any = torch.empty(out.shape)) -> None:
                torch.mm(ta, tb, out=tout)
            contenders["torch"] = mm
        # OpenBLAS spins for about 0.1 s after its block: a longer pause.
        times = compare(contenders, budget, pause=0.3)
        flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
        rows.append({"name": name, "shape": (a.shape, b.shape), "flops": flops, **times})
    for model, H, tied in () if quick else (("Rnnlm", 100, False), ("BetterRnnlm", 650, True)):
        rows_ = EVAL_BATCH[0] * EVAL_BATCH[1]
        x = rng.standard_normal((rows_, H), dtype=np.float32)
        W = (rng.standard_normal((VOCAB, H), dtype=np.float32).T if tied
             else rng.standard_normal((H, VOCAB), dtype=np.float32))
        bias = rng.standard_normal(VOCAB, dtype=np.float32)
        target = rng.integers(0, VOCAB, rows_)

        def loss(x: Any = x, W: Any = W, bias: Any = bias, target: Any = target) -> None:
            _kernels.affine_xent(x, W, bias, target, scratch)
        times = compare({"goto": _on_engine("goto", loss), "panels": _on_engine("panels", loss),
                         "engine": loss}, budget, pause=0.03)
        rows.append({"name": f"{model} eval loss (fused)", "shape": (x.shape, W.shape),
                     "flops": 2.0 * rows_ * H * VOCAB, **times})
    return rows


def print_products(rows: list[Row], peak: float | None) -> None:
    print("\nthe output layer's products (float32), median ms: the Goto engine, the first one "
          "(panels), the\ndefault (each shape on the engine measured faster), SciPy's sgemm, "
          "torch.mm; GFLOP/s and of peak (of the FMA peak):\nthe default's, and torch.mm's "
          "of peak")
    print(f"  {'product':34s} {'(M, K) @ (K, N)':26s} {'goto':>7s} {'panels':>7s} "
          f"{'goto/':>7s} {'default':>7s} {'GFLOP/s':>8s} {'of peak':>7s} {'sgemm':>7s} "
          f"{'default/':>8s} {'torch':>7s} {'torch':>7s} {'default/':>8s}")
    print(f"  {'':34s} {'':26s} {'':>7s} {'':>7s} {'panels':>7s} {'':>7s} {'':>8s} {'':>7s} "
          f"{'':>7s} {'sgemm':>8s} {'mm':>7s} {'of peak':>7s} {'torch':>8s}")

    def share(value: float | None, of: float | None) -> str:
        return "-" if value is None or of is None else f"{value / of:.2f}"
    for r in rows:
        (M, K), (_, N) = r["shape"]
        rate = r["flops"] / r["engine"] / 1e9
        mm = r.get("torch")
        mm_rate = None if mm is None else r["flops"] / mm / 1e9
        print(f"  {r['name']:34s} {f'({M}, {K}) @ ({K}, {N})':26s} {_ms(r['goto']):>7s} "
              f"{_ms(r['panels']):>7s} {r['goto'] / r['panels']:7.2f} {_ms(r['engine']):>7s} "
              f"{rate:8.0f} {share(rate, peak):>7s} {_ms(r.get('sgemm')):>7s} "
              f"{share(r['engine'], r.get('sgemm')):>8s} {_ms(mm):>7s} "
              f"{share(mm_rate, peak):>7s} {share(r['engine'], mm):>8s}")
