"""Sequences of different lengths in `python -m gatedrnn bench`: TimeLSTM with
``lengths=`` against the same batch without them (the padding run through, as
before lengths existed) and against torch's nn.LSTM on the batch packed
(``pack_padded_sequence(enforce_sorted=False)``, unpacked after with
``pad_packed_sequence``), forward+backward, float32, timed as everything else
(timing.compare). Lengths are drawn uniformly from 1..T with a fixed seed.
"""
from typing import Any

import numpy as np

from .. import TimeLSTM
from ..interop import to_torch
from .timing import Row, Size, TorchModule, compare, fmt_ms, fmt_ratio, ratio

SIZES: list[Size] = [(20, 35, 100, 100), (20, 35, 650, 650), (20, 200, 256, 256)]
TORCH_TARGET = 0.35   # ours with lengths / torch packed, at most
PADDED_TARGET = 0.7   # ours with lengths / ours without, at most


class Batch:
    """One batch: weights as the book's, inputs, upstream gradients, lengths."""

    def __init__(self, size: Size, seed: int = 0) -> None:
        N, T, D, H = size
        rng = np.random.default_rng(seed)
        self.Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(np.float32)
        self.Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
        self.b = np.zeros(4 * H, np.float32)
        self.xs = rng.standard_normal((N, T, D)).astype(np.float32)
        self.dhs = rng.standard_normal((N, T, H)).astype(np.float32)
        self.lengths = rng.integers(1, T + 1, N)
        self.layer = TimeLSTM(self.Wx, self.Wh, self.b)

    def with_lengths(self) -> None:
        self.layer.forward(self.xs, lengths=self.lengths)
        self.layer.backward(self.dhs)

    def padded(self) -> None:
        self.layer.forward(self.xs)
        self.layer.backward(self.dhs)


class TorchPacked:
    """The same LSTM in torch (gatedrnn.interop.to_torch), on the packed batch."""

    def __init__(self, torch: TorchModule, batch: Batch) -> None:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        self.torch, self.pack, self.unpack = torch, pack_padded_sequence, pad_packed_sequence
        self.module = to_torch(TimeLSTM(batch.Wx, batch.Wh, batch.b))
        self.x = torch.from_numpy(batch.xs.copy()).requires_grad_(True)
        self.dhs = torch.from_numpy(batch.dhs.copy())
        self.lengths = torch.from_numpy(batch.lengths)
        self.T = batch.xs.shape[1]

    def hs(self) -> Any:
        with self.torch.no_grad():
            return self._hs().numpy()

    def _hs(self) -> Any:
        packed = self.pack(self.x, self.lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.module(packed)
        return self.unpack(out, batch_first=True, total_length=self.T)[0]

    def forward_backward(self) -> None:
        self.module.zero_grad(set_to_none=True)
        self.x.grad = None
        self._hs().backward(self.dhs)


def run_lengths(torch: TorchModule | None, budget: float,
                sizes: list[Size] | None = None) -> list[Row]:
    rows: list[Row] = []
    for size in sizes or SIZES:
        batch = Batch(size)
        row: Row = {"size": size, "fill": float(batch.lengths.sum()) / (size[0] * size[1])}
        contenders = {"lengths": batch.with_lengths, "padded": batch.padded}
        if torch is not None:
            packed = TorchPacked(torch, batch)
            ours = batch.layer.forward(batch.xs, lengths=batch.lengths, train=False)
            ref = packed.hs()
            row["torch_error"] = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
            contenders["torch_packed"] = packed.forward_backward
        row.update(compare(contenders, budget))
        rows.append(row)
        print(f"  timed lengths {size}")
    return rows


def print_lengths(rows: list[Row]) -> None:
    print("\nsequences of different lengths (uniform in 1..T), TimeLSTM forward+backward, "
          "float32, median ms")
    print(f"  {'(N,T,D,H)':18s} {'sum/NT':>6s} {'lengths':>8s} {'padded':>8s} {'torch':>8s} "
          f"{'lengths/':>8s} {'lengths/':>8s}")
    print(f"  {'':18s} {'':>6s} {'':>8s} {'':>8s} {'packed':>8s} {'padded':>8s} "
          f"{'torch':>8s}")
    for r in rows:
        print(f"  {str(r['size']):18s} {r['fill']:6.2f} {fmt_ms(r['lengths']):>8s} "
              f"{fmt_ms(r['padded']):>8s} {fmt_ms(r.get('torch_packed')):>8s} "
              f"{fmt_ratio(ratio(r['lengths'], r['padded'])):>8s} "
              f"{fmt_ratio(ratio(r['lengths'], r.get('torch_packed'))):>8s}")
    errors = [f"{r['size']}: {r['torch_error']:.1e}" for r in rows if "torch_error" in r]
    if errors:
        print(f"  |hs - torch hs| / max|torch hs|: {'; '.join(errors)}")
    print("  padded: the same batch without lengths (the padding runs through); torch packed: "
          "nn.LSTM on\n  pack_padded_sequence(enforce_sorted=False), unpacked after")


def lengths_targets(rows: list[Row]) -> list[tuple[str, bool | None]]:
    out: list[tuple[str, bool | None]] = []
    for r in rows:
        q = ratio(r["lengths"], r.get("torch_packed"))
        out.append((f"{str(r['size']):18s} lengths: ours/torch packed {fmt_ratio(q)} <= "
                    f"{TORCH_TARGET}", None if q is None else q <= TORCH_TARGET))
        q = ratio(r["lengths"], r["padded"])
        out.append((f"{str(r['size']):18s} lengths: ours/ours padded {fmt_ratio(q)} <= "
                    f"{PADDED_TARGET}", None if q is None else q <= PADDED_TARGET))
    return out
