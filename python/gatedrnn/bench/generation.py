"""The generation part of `python -m gatedrnn bench`: sampling text a token
at a time, ``Rnnlm`` and ``BetterRnnlm`` (V = 10000, float32), one sample and
20 at once, against the same model in torch.

- Ours: ``model.generate(start, L, samples=S)``, the whole call (its checks,
  the fingerprint of the weights, the prompt) divided by L.
- torch: ``interop.to_torch(model)`` in eval mode, a loop of single steps
  ``module(ids (S, 1), state)`` under ``torch.no_grad()``, ``torch.softmax``
  and ``torch.multinomial``.
- Bytes read per token: the weights a step reads (ours: BetterRnnlm's first
  LSTM reads a row of its memo of input projections instead of Wx), and the
  rate reached, beside the machine's read bandwidth (machine.read_bandwidth,
  an array 4 times the L3): one sample reads every weight once per token,
  so memory bounds it. With 20 samples the weights are read once per step
  for all of them.

Timing as in timing.compare(): blocks of calls with a pause before each.
"""
from collections.abc import Callable
from typing import Any

import numpy as np

from ..interop import to_torch
from ..lm import BetterRnnlm, Rnnlm
from ..lm import generate as generation
from .timing import Row, TorchModule, compare

VOCAB = 10000
MODELS: dict[str, tuple[type[Rnnlm] | type[BetterRnnlm], int]] = {
    "Rnnlm": (Rnnlm, 100),
    "BetterRnnlm": (BetterRnnlm, 650),
}
SAMPLES = (1, 20)
# Tokens per timed call (a third with --quick: a call also checks its arguments,
# fingerprints the weights and feeds the prompt).
TOKENS = {"Rnnlm": 100, "BetterRnnlm": 30}
# ours / torch per token; BetterRnnlm's one sample also against the bandwidth bound.
TARGETS = {("Rnnlm", 1): 0.3, ("BetterRnnlm", 1): 0.9, ("Rnnlm", 20): 0.6,
           ("BetterRnnlm", 20): 0.6}
BOUND_TARGET = 1.3   # BetterRnnlm, one sample: time per token / (bytes / bandwidth)
START = 42


def _build(name: str, models: dict[str, tuple[Any, int]], vocab: int) -> Rnnlm | BetterRnnlm:
    cls, size = models[name]
    model: Rnnlm | BetterRnnlm = cls(vocab, size, size, seed=0, dtype=np.float32)
    if isinstance(model, BetterRnnlm):   # scores spread as a trained model's
        model.params[0][...] *= 30
    return model


def bytes_per_step(model: Rnnlm | BetterRnnlm, ours: bool) -> int:
    """The bytes of weights one step (a token of every sample) reads: per LSTM
    Wx, Wh and the bias (torch: two biases), the first LSTM's input an
    embedding row (ours, with the memo: a row of E @ Wx in place of Wx and
    the row), and the output weight and bias."""
    total = 0
    for k, layer in enumerate(model._lstms()):
        Wx, Wh, b = layer.params
        if ours and k == 0 and Wx.nbytes >= generation._MEMO_MIN_BYTES:
            total += b.nbytes + Wh.nbytes + b.nbytes       # the memo's row, Wh, b
            continue
        total += Wx.nbytes + Wh.nbytes + b.nbytes * (1 if ours else 2)
        if k == 0:
            total += Wx.shape[0] * Wx.itemsize              # the embedding row
    W, bias = model.affine.params
    return total + W.nbytes + bias.nbytes


def _torch_loop(torch: TorchModule, module: Any, samples: int, tokens: int, start: int
                ) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            x = torch.full((samples, 1), start, dtype=torch.long)
            state = None
            for _ in range(tokens):
                scores, state = module(x, state)
                p = torch.softmax(scores[:, -1], dim=-1)
                x = torch.multinomial(p, 1)
    return run


def run_generation(torch: TorchModule | None, budget: float, quick: bool,
                   models: dict[str, tuple[Any, int]] | None = None,
                   vocab: int = VOCAB, pause: float = 0.3) -> list[Row]:
    """Rows of per-token times (ours, torch) with the bytes per step, for each
    model and sample count (`models`, `vocab`, `pause`: smaller, for tests).
    The pause before each block lets torch's and OpenBLAS's spinning threads
    go idle."""
    models = models or dict(MODELS)
    rows: list[Row] = []
    for name in models:
        model = _build(name, models, vocab)
        module = to_torch(model).eval() if torch is not None else None
        tokens = max(TOKENS[name] // (3 if quick else 1), 5)
        for samples in SAMPLES:
            rng = np.random.default_rng(0)
            kwargs: dict[str, Any] = {"samples": samples} if samples > 1 else {}

            def ours(kwargs: dict[str, Any] = kwargs,
                     model: Rnnlm | BetterRnnlm = model) -> None:
                model.generate(START % vocab, tokens, rng=rng, **kwargs)
            contenders: dict[str, Callable[[], object]] = {"ours": ours}
            if module is not None:
                contenders["torch"] = _torch_loop(torch, module, samples, tokens, START % vocab)
            times = compare(contenders, budget, pause=pause)
            rows.append({"model": name, "samples": samples, "tokens": tokens,
                         **{k: v / tokens for k, v in times.items()},
                         "bytes": bytes_per_step(model, True),
                         "torch_bytes": bytes_per_step(model, False)})
            print(f"  timed generation: {name}, {samples} sample(s)", flush=True)
    return rows


def _ms(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:.3f}"


def print_generation(rows: list[Row], bandwidth: float, array_bytes: int) -> None:
    print(f"\ntext generation, float32, vocabulary 10000, a token at a time: ms per step (one "
          f"token of each sample),\ntokens per second, and the weights read per step; the "
          f"machine reads {bandwidth / 1e9:.1f} GB/s (NumPy sum over\n{array_bytes >> 20} MB, "
          f"4 times the L3)")
    print(f"  {'model':12s} {'samples':>7s} {'ours ms':>8s} {'torch ms':>9s} {'ours/torch':>10s}"
          f" {'ours tok/s':>10s} {'torch tok/s':>11s} {'MB/step':>8s} {'ours GB/s':>9s} "
          f"{'torch GB/s':>10s} {'ours/bound':>10s}")
    for r in rows:
        t, tt, samples = r["ours"], r.get("torch"), r["samples"]
        bound = r["bytes"] / bandwidth
        vs = "-" if tt is None else f"{t / tt:.2f}"
        torch_rate = "-" if tt is None else f"{samples / tt:.0f}"
        torch_gbs = "-" if tt is None else f"{r['torch_bytes'] / tt / 1e9:.1f}"
        print(f"  {r['model']:12s} {samples:7d} {_ms(t):>8s} {_ms(tt):>9s} {vs:>10s} "
              f"{samples / t:10.0f} {torch_rate:>11s} {r['bytes'] / 1e6:8.1f} "
              f"{r['bytes'] / t / 1e9:9.1f} {torch_gbs:>10s} {t / bound:10.2f}")


def generation_targets(rows: list[Row], bandwidth: float) -> list[tuple[str, bool | None]]:
    lines: list[tuple[str, bool | None]] = []
    for r in rows:
        goal = TARGETS[(r["model"], r["samples"])]
        what = f"{r['model']} generation, {r['samples']} sample(s)"
        if "torch" not in r:
            lines.append((f"{what}: ours/torch <= {goal} (no torch)", None))
        else:
            ratio = r["ours"] / r["torch"]
            lines.append((f"{what}, ours/torch {ratio:.2f} <= {goal}", ratio <= goal))
        if r["model"] == "BetterRnnlm" and r["samples"] == 1:
            to_bound = r["ours"] / (r["bytes"] / bandwidth)
            lines.append((f"{what}, time / bandwidth bound {to_bound:.2f} <= {BOUND_TARGET}",
                          to_bound <= BOUND_TARGET))
    return lines
