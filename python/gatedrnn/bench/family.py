"""The family part of `python -m gatedrnn bench`: TimeGRU (both variants),
TimeRNN (tanh and relu) and TimeBiLSTM against the NumPy spec and, when torch is importable,
nn.GRU, nn.RNN and nn.LSTM(bidirectional=True) holding the same weights
(gatedrnn.interop converts them). The book's GRU (reset before) has no PyTorch
equivalent: it is timed against nn.GRU of the same sizes, which does less
(one product a step, not two dependent ones).

Timing as in bench/timing.py: one process, one thread count, contenders in blocks
with a pause before each, medians; float32.
"""

import numpy as np

import gatedrnn

from .. import spec
from ..interop import to_torch
from ..problems import Layer, Problem, make_problem, time_layer
from .lstm import Torch
from .timing import Row, Size, TorchModule, compare, fmt_ms, fmt_ratio, ratio

SIZES = [(20, 35, 100, 100), (20, 35, 650, 650)]
KINDS = {  # kind: (our layer, its PyTorch counterpart)
    "gru_reset_after": ("TimeGRU(reset_after=True)", "nn.GRU"),
    "gru": ("TimeGRU, the book's", "nn.GRU (reset after)"),
    "rnn": ("TimeRNN", "nn.RNN"),
    "rnn_relu": ("TimeRNN, relu", "nn.RNN relu"),
    "bilstm": ("TimeBiLSTM", "nn.LSTM bidirectional"),
}
# (gate blocks, directions) of each kind, for the FLOP counts.
GATES = {"gru_reset_after": (3, 1), "gru": (3, 1), "rnn": (1, 1), "rnn_relu": (1, 1),
         "bilstm": (4, 2)}
# ours / torch, forward+backward, at most; and spec / ours at least, at the small size.
TARGETS = {("gru_reset_after", (20, 35, 100, 100)): 0.8,
           ("gru_reset_after", (20, 35, 650, 650)): 0.9,
           ("rnn", (20, 35, 650, 650)): 0.9,
           ("bilstm", (20, 35, 650, 650)): 0.9}
SPEC_SPEED_UP = ((20, 35, 100, 100), 5.0)


class Contender:
    """forward+backward and forward-only calls of one layer on one problem."""

    def __init__(self, layer: Layer, p: Problem, train_flag: bool = True) -> None:
        self.layer, self.p, self.train_flag = layer, p, train_flag

    def forward_backward(self) -> None:
        self.layer.forward(self.p["xs"])
        self.layer.backward(self.p["dhs"])

    def forward(self) -> None:
        if self.train_flag:
            self.layer.forward(self.p["xs"], train=False)
        else:  # the spec keeps its cache always
            self.layer.forward(self.p["xs"])


def run_kind(kind: str, size: Size, torch: TorchModule | None, budget: float,
             with_spec: bool) -> Row:
    """One row: ours against torch (and the spec, last: NumPy work leaves this
    process in a state where torch runs slower)."""
    N, T, D, H = size
    p = make_problem(kind, N, T, D, H, np.float32)
    ours = Contender(time_layer(kind, gatedrnn, p["weights"]), p)
    row: Row = {"kind": kind, "size": size}
    contenders = {"ours_fb": ours.forward_backward}
    forwards = {"ours_fwd": ours.forward}
    if torch is not None:
        equivalent = kind != "gru"
        twin = ours.layer if equivalent else time_layer(
            "gru_reset_after", gatedrnn, make_problem("gru_reset_after", N, T, D, H, np.float32)["weights"])
        module = to_torch(twin)
        tw = Torch(torch, p, module)
        if equivalent:
            hs = ours.layer.forward(p["xs"], train=False)
            ref = tw.hs()
            row["torch_error"] = float(np.max(np.abs(hs - ref)) / max(np.max(np.abs(ref)), 1e-30))
        contenders["torch_fb"] = tw.forward_backward
        forwards["torch_fwd"] = tw.forward_no_grad
    row.update(compare(contenders, budget))
    row.update(compare(forwards, budget))
    if with_spec:
        sp = Contender(time_layer(kind, spec, p["weights"]), p, train_flag=False)
        spec_budget = budget / 2 if size[3] > 300 else budget
        row.update(compare({"spec_fb": sp.forward_backward}, spec_budget))
    return row


def fb_flops(kind: str, size: Size) -> float:
    """The products' FLOPs of a forward+backward: three times the forward's
    2*N*T*(D+H)*G*H per direction (the gates are not counted)."""
    N, T, D, H = size
    gates, directions = GATES[kind]
    return 3 * 2.0 * N * T * (D + H) * gates * H * directions


def print_family(rows: list[Row], torch: TorchModule | None, peak: float | None) -> None:
    tname = "torch" if torch is not None else "torch (not installed)"
    print(f"\nthe family, float32, median ms ({tname}; ratio < 1: gatedrnn faster; "
          "GFLOP/s and of peak: forward+backward, of the FMA peak)")
    print(f"  {'layer':26s} {'(N,T,D,H)':18s} {'fwd+bwd':>8s} {'torch':>8s} {'ours/':>6s} "
          f"{'forward':>8s} {'torch':>8s} {'ours/':>6s} {'spec':>8s} {'spec/':>6s} "
          f"{'GFLOP/s':>8s} {'of peak':>7s}  torch layer")
    print(f"  {'':26s} {'':18s} {'ours':>8s} {'fwd+bwd':>8s} {'torch':>6s} "
          f"{'ours':>8s} {'no_grad':>8s} {'torch':>6s} {'fwd+bwd':>8s} {'ours':>6s}")
    for r in rows:
        name, counterpart = KINDS[r["kind"]]
        gflops = fb_flops(r["kind"], r["size"]) / r["ours_fb"] / 1e9
        print(f"  {name:26s} {str(r['size']):18s} {fmt_ms(r['ours_fb']):>8s} "
              f"{fmt_ms(r.get('torch_fb')):>8s} "
              f"{fmt_ratio(ratio(r['ours_fb'], r.get('torch_fb'))):>6s} "
              f"{fmt_ms(r['ours_fwd']):>8s} {fmt_ms(r.get('torch_fwd')):>8s} "
              f"{fmt_ratio(ratio(r['ours_fwd'], r.get('torch_fwd'))):>6s} "
              f"{fmt_ms(r.get('spec_fb')):>8s} {fmt_ratio(ratio(r.get('spec_fb'), r['ours_fb'])):>6s}"
              f" {gflops:8.1f} {'-' if peak is None else f'{gflops / peak:.2f}':>7s}"
              f"  {counterpart if torch is not None else '-'}")
    errors = [f"{KINDS[r['kind']][0]} {r['size']}: {r['torch_error']:.1e}"
              for r in rows if "torch_error" in r]
    if errors:
        print(f"  |hs - torch hs| / max|torch hs|: {'; '.join(errors)}")


def print_family_targets(rows: list[Row]) -> None:
    print("\nfamily targets (one run; forward+backward float32)")
    by = {(r["kind"], r["size"]): r for r in rows}
    for (kind, size), target in TARGETS.items():
        r = by.get((kind, size))
        q = None if r is None else ratio(r["ours_fb"], r.get("torch_fb"))
        verdict = "n/a" if q is None else "met" if q <= target else "NOT MET"
        print(f"  {KINDS[kind][0]:26s} {str(size):18s} ours/torch {fmt_ratio(q)} <= {target:.1f}"
              f"  {verdict}")
    size, speed_up = SPEC_SPEED_UP
    for kind in KINDS:
        r = by.get((kind, size))
        q = None if r is None else ratio(r.get("spec_fb"), r["ours_fb"])
        verdict = "n/a" if q is None else "met" if q >= speed_up else "NOT MET"
        print(f"  {KINDS[kind][0]:26s} {str(size):18s} spec/ours {fmt_ratio(q)} >= {speed_up:.0f}"
              f"  {verdict}")
