"""Sampling text from the chapter's language models (``Rnnlm.generate``,
``BetterRnnlm.generate``), as the book's chapter 7 does with ``RnnlmGen``.

A prompt (one start id, or several) goes through the LSTMs in one call over
its whole length; then each token runs the inference path for the rows in
flight (one sample, or a batch of them: N rows through the same calls):

- the first LSTM's input projection ``E[id] @ Wx`` comes from a memo of the
  rows of the (V, 4H) table ``E @ Wx``, each row computed the first time its
  id is fed, when Wx is too large to stay in cache (BetterRnnlm's 6.8 MB):
  a step then reads Wh alone. The memo is kept on the model between calls and
  dropped when ``E`` or ``Wx`` changed, which a fingerprint of their bytes
  (``_kernels.lm_fingerprint``, one pass per call) tells;
- one step of each LSTM (``_kernels.forward``, no cache);
- the output layer's scores from its weight as (V, H) rows, read once (the
  tied embedding itself, or a transposed copy kept like the memo);
- the softmax, once, in place in one (N, V) buffer, and one id per row drawn
  by its inverse distribution function (``_kernels.lm_sample``).

The random numbers are the caller's: one uniform per row and token (and one
more per redraw), from a `numpy.random.Generator`, a seed, or the book's
global ``np.random``, with which the ids equal those of the book's
``RnnlmGen.generate`` (``np.random.choice(len(p), size=1, p=p)`` draws one
``random_sample()`` per call and searches the cumulative sum the same way).
"""
import numbers
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _kernels
from .._typing import FloatArray, IntArray
from . import _products

if TYPE_CHECKING:
    from .models import BetterRnnlm, Rnnlm

# A source of uniforms: what `rng` may be, or one of them per row.
RandomSource = Union[None, int, np.integer, np.random.Generator, np.random.RandomState, Any]

_LSTM = _kernels.CELLS["lstm"]
# Below this many bytes of the first LSTM's Wx its product stays in cache from
# one token to the next and costs about what a row of the memo does.
_MEMO_MIN_BYTES = 1 << 20
# Redraws of a banned id per row and token before the draw is made from the
# other ids' weights alone (the same distribution; only the random numbers
# consumed differ): a temperature near 0 can leave the banned ids nearly all
# the weight, where redrawing would take forever.
_MAX_REDRAWS = 1000


def _is_int(value: object) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_))


def _ids(value: ArrayLike, name: str, V: int) -> NDArray[np.int64]:
    """value as int64 ids in [0, V); TypeError or ValueError naming `name`."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be word ids (integers); got {value!r}")
    array = np.asarray(value)
    if array.size == 0:
        return array.astype(np.int64)
    if array.dtype == object or array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be word ids (integers); got "
                        f"{array.dtype if array.dtype != object else type(value).__name__}")
    bad = array[(array < 0) | (array >= V)]
    if bad.size:
        shown = ", ".join(str(int(i)) for i in np.unique(bad)[:10])
        raise ValueError(f"{name} must lie in [0, V) with V = {V} (the model's vocabulary "
                         f"size); got {shown}")
    return array.astype(np.int64)


class _Uniforms:
    """Uniform numbers in [0, 1) for N rows: from one source, or one per row.

    A source is a `numpy.random.Generator`, a seed (int), None (a Generator
    from fresh entropy), a `numpy.random.RandomState`, or the module
    ``numpy.random`` itself (its global RandomState, as the book uses it).
    """

    def __init__(self, rng: RandomSource | Sequence[RandomSource], rows: int) -> None:
        if isinstance(rng, (list, tuple)):
            if len(rng) != rows:
                raise ValueError(f"rng must be one random source, or one per sample ({rows}); "
                                 f"got a sequence of {len(rng)}")
            self.per_row: list[Any] | None = [self._source(r, f"rng[{k}]")
                                               for k, r in enumerate(rng)]
            self.shared: Any = None
        else:
            self.per_row = None
            self.shared = self._source(rng, "rng")
        self.rows = rows

    @staticmethod
    def _source(rng: RandomSource, name: str) -> Any:
        if rng is np.random:
            return np.random.mtrand._rand  # the global RandomState of np.random.seed
        if rng is None:
            return np.random.default_rng()
        if _is_int(rng):
            seed = operator.index(cast(int, rng))
            if seed < 0:
                raise ValueError(f"{name} must be a non-negative seed; got {rng}")
            return np.random.default_rng(seed)
        if isinstance(rng, (np.random.Generator, np.random.RandomState)):
            return rng
        raise TypeError(f"{name} must be a numpy.random.Generator, a RandomState, the module "
                        f"numpy.random (the book's global generator), an int seed or None; "
                        f"got {type(rng).__name__}")

    @staticmethod
    def _draw(source: Any, n: int) -> NDArray[np.float64]:
        if isinstance(source, np.random.Generator):
            return source.random(n)
        return np.asarray(source.random_sample(n), dtype=np.float64)

    def step(self) -> NDArray[np.float64]:
        """One uniform per row."""
        if self.per_row is None:
            return self._draw(self.shared, self.rows)
        return np.array([self._draw(s, 1)[0] for s in self.per_row])

    def again(self, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """One more uniform for each of these rows, in order."""
        if self.per_row is None:
            return self._draw(self.shared, len(rows))
        return np.array([self._draw(self.per_row[r], 1)[0] for r in rows])


class _Derived:
    """An array derived from weights, kept while their fingerprints stay."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.value: Any = None

    def get(self, sources: Sequence[FloatArray]) -> Any:
        """The value, or None if the sources changed since it was made (then
        `value` is to be set anew)."""
        key = tuple((a.shape, a.dtype.str, _kernels.lm_fingerprint(np.ascontiguousarray(a)))
                    for a in sources)
        if key != self.key:
            self.key, self.value = key, None
        return self.value


class _Memo:
    """Rows of the table E @ Wx (the first LSTM's input projection of every
    word), computed the first time their id is fed. The table is allocated
    whole but its pages are touched only where rows are written."""

    def __init__(self, E: FloatArray, Wx: FloatArray) -> None:
        self.table = np.empty((E.shape[0], Wx.shape[1]), E.dtype)
        self.have = np.zeros(E.shape[0], bool)
        self.scratch = _kernels.MatmulScratch()

    def rows(self, E: FloatArray, Wx: FloatArray, ids: NDArray[np.int64],
             out: FloatArray) -> FloatArray:
        """out[r] = (E @ Wx)[ids[r]]."""
        missing = ids[~self.have[ids]]
        if missing.size:
            missing = np.unique(missing)
            fresh = np.empty((missing.size, Wx.shape[1]), E.dtype)
            _products.matmul_into(fresh, E[missing], Wx, scratch=self.scratch)
            self.table[missing] = fresh
            self.have[missing] = True
        np.take(self.table, ids, axis=0, out=out)
        return out


class _Inference:
    """A model's per-token path: its LSTMs' weights, the output layer's weight
    as (V, H) rows, and the memo; the derived arrays live on across calls."""

    def __init__(self) -> None:
        self.memo = _Derived()
        self.out_rows = _Derived()
        self.workspaces: list[_kernels.Workspace] = []

    def refresh(self, model: "Rnnlm | BetterRnnlm") -> None:
        """Take the model's current weights; drop what was derived from changed ones."""
        lstms = _lstm_layers(model)
        self.lstm_weights = [[np.ascontiguousarray(p) for p in layer.params]
                             for layer in lstms]
        dtype = self.lstm_weights[0][0].dtype
        E = np.ascontiguousarray(model.embed.params[0])
        W, b = model.affine.params
        self.E = E
        self.bias = np.ascontiguousarray(b)
        if W.T.flags.c_contiguous:   # the tied weight: E itself
            self.W_rows = W.T
        else:
            rows = self.out_rows.get([W])
            if rows is None:
                rows = self.out_rows.value = np.ascontiguousarray(W.T)
            self.W_rows = rows
        Wx = self.lstm_weights[0][0]
        if Wx.nbytes >= _MEMO_MIN_BYTES:
            memo = self.memo.get([E, Wx])
            if memo is None:
                memo = self.memo.value = _Memo(E, Wx)
            self.use_memo: _Memo | None = memo
        else:
            self.use_memo = None
        while len(self.workspaces) < len(lstms):
            self.workspaces.append(_kernels.Workspace())
        self.dtype = dtype


def _lstm_layers(model: "Rnnlm | BetterRnnlm") -> list[Any]:
    return model._lstms()


def _inference(model: "Rnnlm | BetterRnnlm") -> _Inference:
    inference = model.__dict__.get("_inference")
    if inference is None:
        inference = model.__dict__["_inference"] = _Inference()
    inference.refresh(model)
    return inference


def _start_states(model: "Rnnlm | BetterRnnlm", N: int, dtype: np.dtype[Any]
                  ) -> list[list[FloatArray]]:
    """[h, c] per LSTM for N rows: the model's stored state (repeated if it has
    one row), or zeros."""
    states = []
    for k, layer in enumerate(_lstm_layers(model)):
        H = layer.params[1].shape[0]
        pair = []
        for name in ("h", "c"):
            value = getattr(layer, name)
            if value is None:
                pair.append(np.zeros((N, H), dtype))
                continue
            value = np.asarray(value)
            if value.ndim != 2 or value.shape[1] != H or value.shape[0] not in (1, N):
                raise ValueError(
                    f"the model's stored LSTM state ({name} of LSTM {k + 1}) has shape "
                    f"{value.shape}, which fits neither one row nor the {N} rows asked for "
                    f"(a state left by training or evaluation?): call model.reset_state() to "
                    f"start from zeros")
            pair.append(np.ascontiguousarray(np.broadcast_to(value, (N, H)), dtype=dtype))
        states.append(pair)
    return states


def _check_arguments(V: int, length: object, temperature: object, top_k: object,
                     skip_ids: ArrayLike | None
                     ) -> tuple[int, float, int, NDArray[np.uint8] | None, int]:
    """(length, 1/temperature or 0 for greedy, top_k or 0, banned mask or None,
    number of ids not banned)."""
    if not _is_int(length):
        raise TypeError(f"length must be an integer (the number of ids to sample); got "
                        f"{length!r}")
    if int(length) < 1:  # type: ignore[call-overload]
        raise ValueError(f"length must be at least 1; got {length}")
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(
            temperature, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"temperature must be a real number; got {temperature!r}")
    t = float(temperature)
    if not (t >= 0) or not np.isfinite(t):
        raise ValueError(f"temperature must be finite and >= 0 (0: always the most likely id); "
                         f"got {temperature}")
    inv_t = 0.0 if t == 0 else 1.0 / t
    if t != 0 and not np.isfinite(inv_t):
        raise ValueError(f"temperature must be 0 or at least {1 / np.finfo(float).max:g}; "
                         f"got {temperature}")
    k = 0
    if top_k is not None:
        if not _is_int(top_k):
            raise TypeError(f"top_k must be an integer or None; got {top_k!r}")
        k = int(top_k)  # type: ignore[call-overload]
        if not 1 <= k <= V:
            raise ValueError(f"top_k must lie in [1, V] with V = {V}; got {top_k}")
    banned = None
    allowed = V
    if skip_ids is not None:
        skip = _ids(list(skip_ids) if isinstance(skip_ids, (set, frozenset)) else skip_ids,
                    "skip_ids", V).reshape(-1)
        banned = np.zeros(V, np.uint8)
        banned[skip] = 1
        allowed = V - int(banned.sum())
        if allowed == 0:
            raise ValueError(f"skip_ids cover the whole vocabulary (V = {V}): there is no id "
                             f"left to sample")
    return int(length), inv_t, k, banned, allowed  # type: ignore[call-overload]


def generate(model: "Rnnlm | BetterRnnlm", start: ArrayLike, length: int = 100, *,
             skip_ids: ArrayLike | None = None, temperature: float = 1.0,
             top_k: int | None = None, samples: int | None = None,
             rng: RandomSource | Sequence[RandomSource] = None,
             keep_state: bool = False) -> IntArray:
    """Sample word ids from a language model: see `Rnnlm.generate`."""
    V = model.vocab_size
    # Everything is checked before the model or the random source is used.
    length, inv_t, k, banned, allowed = _check_arguments(V, length, temperature, top_k,
                                                         skip_ids)
    if isinstance(start, (bool, np.bool_)) or (
            not _is_int(start) and not isinstance(start, (list, tuple, np.ndarray))):
        raise TypeError(f"start must be a word id, or a sequence or array of ids; got "
                        f"{type(start).__name__}")
    prompt = _ids(start, "start", V)
    if prompt.ndim > 2 or prompt.size == 0:
        raise ValueError(f"start must be one id, a prompt of ids (P,) or one prompt per "
                         f"sample (N, P), with P >= 1; got shape {prompt.shape}")
    if samples is not None:
        if not _is_int(samples) or int(samples) < 1:
            raise ValueError(f"samples must be a positive integer or None; got {samples!r}")
        if prompt.ndim == 2:
            raise ValueError("samples goes with one prompt (an id or a 1-D prompt); a 2-D "
                             "start already has one prompt per sample")
        rows = np.broadcast_to(prompt.reshape(1, -1), (int(samples), prompt.size))
    else:
        rows = prompt if prompt.ndim == 2 else prompt.reshape(1, -1)
    single = samples is None and prompt.ndim < 2
    if not isinstance(keep_state, (bool, np.bool_)):
        raise TypeError(f"keep_state must be True or False; got {keep_state!r}")
    N = rows.shape[0]
    uniforms = _Uniforms(rng, N)
    inference = _inference(model)
    states = _start_states(model, N, inference.dtype)

    ids = _sample(inference, np.ascontiguousarray(rows), length, inv_t, k, banned, allowed,
                  uniforms, states)
    if keep_state:
        for layer, (h, c) in zip(_lstm_layers(model), states):
            layer.set_state(h, c)
    return ids[0] if single else ids


def _sample(inf: _Inference, prompt: NDArray[np.int64], length: int, inv_t: float, top_k: int,
            banned: NDArray[np.uint8] | None, allowed: int, uniforms: _Uniforms,
            states: list[list[FloatArray]]) -> NDArray[np.int64]:
    """The prompt through the LSTMs, then `length` ids per row; `states`
    ends, row by row, as the state before its last id would be fed.

    A drawn id in `banned` (when sampling without top_k) follows the book's
    RnnlmGen: it is dropped, the row's last input is fed again, and the row
    draws anew. Rows then run apart (some have more ids than others): each
    continues until it has `length`, and its state is kept from then on.
    """
    N, P = prompt.shape
    dtype = inf.dtype
    weights, workspaces = inf.lstm_weights, inf.workspaces

    # The prompt: each LSTM over its whole length in one call.
    x = np.take(inf.E, prompt, axis=0)
    for (Wx, Wh, b), state, ws in zip(weights, states, workspaces):
        [(hs, c, _, h)] = _kernels.forward(_LSTM, [(x, Wx, Wh, b, state[0], state[1])], False,
                                           ws)
        state[0], state[1] = h, cast(FloatArray, c)
        x = hs

    out = np.empty((N, length), np.int64)
    scores = np.empty((N, inf.E.shape[0]), dtype)        # the one (N, V) buffer
    totals = np.empty(N, np.float64)
    drawn = np.empty(N, np.int64)
    fed = prompt[:, -1].copy()          # each row's last input
    memo = inf.use_memo
    if memo is not None:
        one_hot = np.eye(N, dtype=dtype).reshape(N, 1, N)
        projected = np.empty((N, weights[0][0].shape[1]), dtype)
    last = states[-1]
    refeed = banned is not None and inv_t != 0 and top_k == 0
    # Rows in step (the usual case: t ids each), until a row's draw is dropped.
    t = 0
    ragged: _Ragged | None = None
    while True:
        _kernels.lm_scores(scores, last[0], inf.W_rows, inf.bias)
        u = None
        if inv_t:
            u = uniforms.step() if ragged is None else ragged.uniforms(uniforms)
        _kernels.lm_sample(scores, totals, drawn, u, inv_t, top_k, allowed, banned)
        if ragged is None and refeed and banned[drawn].any():  # type: ignore[index]
            ragged = _Ragged(N, length, t)
        if ragged is None:
            if (drawn < 0).any():
                raise _not_finite()
            out[:, t] = drawn
            fed[:] = drawn
            t += 1
            if t == length:
                break
        else:
            if ragged.take(drawn, out, fed, banned, scores, totals, uniforms, inf, last[0],  # type: ignore[arg-type]
                           states):
                break
        x_in: FloatArray
        args: tuple[FloatArray, ...]
        for layer, ((Wx, Wh, b), state, ws) in enumerate(zip(weights, states, workspaces)):
            if layer == 0:
                if memo is not None:   # x @ Wx as a row of the memo, picked by a one-hot x
                    memo.rows(inf.E, Wx, fed, projected)
                    args = (one_hot, projected, Wh, b, state[0], state[1])
                else:
                    args = (np.take(inf.E, fed, axis=0).reshape(N, 1, -1), Wx, Wh, b,
                            state[0], state[1])
            else:
                args = (x_in, Wx, Wh, b, state[0], state[1])
            [(hs, c, _, _)] = _kernels.forward(_LSTM, [args], False, ws)
            x_in = hs
            state[0], state[1] = hs.reshape(N, -1), cast(FloatArray, c)
    if ragged is not None:
        ragged.final_states(states)
    return out


def _not_finite() -> ValueError:
    return ValueError("the model's scores are not finite (NaN or infinite): its parameters "
                      "hold NaN or inf, or its scores overflow")


class _Ragged:
    """Rows that run apart, after a dropped draw: each row's count of ids, its
    dropped draws in a row, and the state of each finished row."""

    def __init__(self, N: int, length: int, t: int) -> None:
        self.count = np.full(N, t, np.int64)
        self.dropped = np.zeros(N, np.int64)
        self.active: NDArray[np.int64] = np.arange(N, dtype=np.int64)
        self.length = length
        self.finished: list[tuple[NDArray[np.int64], list[list[FloatArray]]]] = []
        self.u = np.zeros(N)

    def uniforms(self, uniforms: _Uniforms) -> NDArray[np.float64]:
        self.u[self.active] = uniforms.again(self.active)
        return self.u

    def take(self, drawn: NDArray[np.int64], out: NDArray[np.int64], fed: NDArray[np.int64],
             banned: NDArray[np.uint8], scores: FloatArray, totals: NDArray[np.float64],
             uniforms: _Uniforms, inf: _Inference, h: FloatArray,
             states: list[list[FloatArray]]) -> bool:
        """Take the active rows' draws; True when every row has its ids."""
        rows = self.active
        ids = drawn[rows]
        if (ids < 0).any():
            raise _not_finite()
        hit = banned[ids] != 0
        self.dropped[rows[hit]] += 1
        self.dropped[rows[~hit]] = 0
        stuck = rows[hit][self.dropped[rows[hit]] > _MAX_REDRAWS]
        if stuck.size:
            _draw_without(stuck, drawn, banned, scores, totals, uniforms, inf, h)
            self.dropped[stuck] = 0
            hit[np.isin(rows, stuck)] = False
        take = rows[~hit]
        out[take, self.count[take]] = drawn[take]
        fed[take] = drawn[take]
        self.count[take] += 1
        done = take[self.count[take] == self.length]
        if done.size:
            self.finished.append((done, [[a[done].copy() for a in pair] for pair in states]))
            self.active = rows[self.count[rows] < self.length]
        return self.active.size == 0

    def final_states(self, states: list[list[FloatArray]]) -> None:
        for done, saved in self.finished:
            for pair, kept in zip(states, saved):
                for a, value in zip(pair, kept):
                    a[done] = value


def _draw_without(rows: NDArray[np.int64], drawn: NDArray[np.int64],
                  banned: NDArray[np.uint8], scores: FloatArray, totals: NDArray[np.float64],
                  uniforms: _Uniforms, inf: _Inference, h: FloatArray) -> None:
    """Draw for these rows from the ids not banned alone: the distribution the
    book's rule approaches, for rows whose draws were dropped too many times in
    a row (the banned ids hold nearly all the weight)."""
    scores[np.ix_(rows, np.flatnonzero(banned))] = 0
    totals[rows] = scores[rows].sum(axis=1, dtype=np.float64)
    _kernels.lm_redraw(scores, totals, drawn, uniforms.again(rows), rows)
    lost = rows[totals[rows] == 0]   # every other id's weight underflowed: the likeliest
    if lost.size:
        sub = np.empty((lost.size, scores.shape[1]), scores.dtype)
        _kernels.lm_scores(sub, np.ascontiguousarray(h[lost]), inf.W_rows, inf.bias)
        ids = np.empty(lost.size, np.int64)
        _kernels.lm_sample(sub, np.empty(lost.size), ids, None, 0.0, 0,
                           int((banned == 0).sum()), banned)
        drawn[lost] = ids
