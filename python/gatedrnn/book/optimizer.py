"""The book's optimizers (``common/optimizer.py``) on fused compiled updates.

``SGD``, ``Momentum``, ``Nesterov``, ``AdaGrad``, ``RMSprop`` and ``Adam`` take
the book's constructor arguments and keep its attributes: ``lr`` is a plain
attribute that a training script may reassign (``optimizer.lr /= 4.0``),
``momentum``, ``decay_rate``, ``beta1``, ``beta2`` and Adam's ``iter`` too; the
state lives in ``v`` (Momentum, Nesterov), ``h`` (AdaGrad, RMSprop), ``m`` and
``v`` (Adam), lists of arrays created at the first update and reused after.

``update(params, grads)`` changes every param array in place with one pass per
array (src/lm/book_updates.c): a C loop reads p, g and the state and writes p and
the state, without temporaries, the GIL released, split among the kernels'
threads when the arrays are large (the same results for any thread count).
Arrays that are not contiguous (any strided view), or whose param, grad and
state overlap, take a NumPy path with the same arithmetic instead.

The results are bit-identical to the book's expressions evaluated by NumPy,
for float32 and float64 params. Each NumPy operation of the book's statements
rounds once, in the dtype NumPy gives it; the C code rounds at the same
places. The dtypes follow the installed NumPy's promotion rules:

- NumPy 2 (NEP 50): a Python float hyperparameter takes the array's dtype, so
  ``lr * g`` is float32 for float32 params; but Adam's ``lr_t`` is a NumPy
  float64 (``np.sqrt`` of a Python float), so ``lr_t * m / (np.sqrt(v) +
  1e-7)`` is computed in float64 and ``p -= ...`` rounds ``p - q`` once into
  float32.
- NumPy 1 (value-based casting): that float64 scalar takes float32 too, and
  Adam's step is float32 throughout. The rule is chosen from the installed
  NumPy's major version.

Hyperparameters are read as Python numbers. A NumPy scalar (``np.float64(0.1)``)
is taken as the equal Python float: under NEP 50 the book's code would promote
float32 arithmetic to float64 for it. Integers beyond 2**53 round once more
than in NumPy. Hyperparameters are checked at each update: real and finite,
Adam's betas in [0, 1).

Departures from the book, on input it would mishandle: params and grads of
different dtypes or shapes, lists of different lengths, state that does not
match the params (a new params list given to a used optimizer), read-only
params, non-float arrays: each raises ``TypeError`` or ``ValueError`` before
anything changes. The book's Momentum replaces its ``v`` arrays at each step;
here they are updated in place, with the same values.
"""
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _kernels
from .._typing import FloatArray

# The hyperparameters of a rule, as include/gatedrnn.h lists them.
_Hyper = tuple[float, ...]
# Entries (param, grad, state arrays) for one C pass.
_Run = list[tuple[FloatArray, FloatArray, tuple[FloatArray, ...]]]

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

_FLOAT_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))

# NumPy 1's value-based casting rounds Adam's float32 step in float32.
_NUMPY1 = int(np.__version__.split(".")[0]) < 2

# The book's epsilon in sqrt(h) + 1e-7, a Python float as in the book.
_EPS = 1e-7


def _hyperparameter(owner: str, name: str, value: float) -> float:
    """`value` as a finite real: Python numbers as they are, NumPy ones as Python floats."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}.{name} must be a real number; got {value!r} "
                        f"({type(value).__name__})")
    if isinstance(value, np.generic) or type(value) not in (int, float):
        value = float(value)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        finite = False
    if not finite:
        raise ValueError(f"{owner}.{name} must be finite; got {value!r}")
    return value


def _check_params_and_grads(params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
    for name, arrays in (("params", params), ("grads", grads)):
        if not isinstance(arrays, (list, tuple)):
            raise TypeError(f"{name} must be a list or tuple of numpy arrays; got "
                            f"{type(arrays).__name__}")
    if len(params) != len(grads):
        raise ValueError(f"params and grads must have the same length; got {len(params)} "
                         f"params and {len(grads)} grads")
    for k, (p, g) in enumerate(zip(params, grads)):
        if not isinstance(p, np.ndarray):
            raise TypeError(f"params[{k}] must be a numpy.ndarray; got {type(p).__name__}")
        if p.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"params[{k}] must have dtype float32 or float64 (native byte "
                            f"order); got {p.dtype}")
        if not p.flags.writeable:
            raise ValueError(f"params[{k}] is read-only, but update() changes params in place")
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k}] must be a numpy.ndarray; got {type(g).__name__}")
        if g.dtype != p.dtype:
            raise TypeError(f"grads[{k}] must have the dtype of params[{k}], {p.dtype}; "
                            f"got {g.dtype}")
        if g.shape != p.shape:
            raise ValueError(f"grads[{k}] must have the shape of params[{k}], {p.shape}; "
                             f"got {g.shape}")


# float32's largest finite value: a larger hyperparameter becomes inf in NumPy's
# cast, with a warning; the NumPy path keeps that warning.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _BookOptimizer:
    """What the six optimizers share: checks, state, and the choice between
    the C pass and the NumPy path for each array."""

    _rule = ""            # a key of _kernels.BOOK_RULES
    _state_names: tuple[str, ...] = ()  # the attributes holding the state lists

    def update(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        """Update each array of ``params`` in place from ``grads``, with the book's rule.

        Each array is updated in one fused C pass that rounds as NumPy
        evaluates the book's expressions: the results are the book's, bit for bit.

        Parameters
        ----------
        params, grads : list of ndarray of float32 or float64
            Pairwise of one shape and dtype; the same list at every call
            (the state is kept per position).

        Raises
        ------
        TypeError, ValueError
            For lists of other lengths, shapes or dtypes, or a bad
            hyperparameter, before anything changes.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book.optimizer import SGD
        >>> params = [np.ones(2, np.float32), np.ones((2, 2))]        # any mix of dtypes
        >>> grads = [np.full(2, 0.5, np.float32), np.full((2, 2), 2.0)]
        >>> SGD(lr=0.1).update(params, grads)
        >>> params[0], params[1][0]
        (array([0.95, 0.95], dtype=float32), array([0.8, 0.8]))
        """
        _check_params_and_grads(params, grads)
        hyper = self._hyperparameters()
        states = self._states(params)
        # A hyperparameter beyond float32's range: float32 arrays take the NumPy path.
        float32_ok = all(abs(float(x)) <= _FLOAT32_MAX for x in hyper)
        per_entry = list(zip(*states)) if states else [()] * len(params)
        run: _Run = []
        run_dtype = None  # consecutive entries for one C call, of one dtype
        for p, g, state in zip(params, grads, per_entry):
            # The C pass takes contiguous arrays laid out alike, not overlapping.
            if _kernels.book_fits(p, g, state) and (float32_ok or p.dtype != np.float32):
                if run and p.dtype != run_dtype:
                    self._run_kernel(run, hyper)
                    run = []
                run.append((p, g, state))
                run_dtype = p.dtype
            else:
                # Arrays are updated in order, as in the book's loop.
                self._run_kernel(run, hyper)
                run = []
                self._numpy_step(p, g, state, hyper)
        self._run_kernel(run, hyper)
        self._keep(states)

    def _run_kernel(self, run: _Run, hyper: _Hyper) -> None:
        if run:
            _kernels.book_update(self._rule, [e[0] for e in run], [e[1] for e in run],
                                 [e[2] for e in run], hyper, _NUMPY1)

    def _states(self, params: Sequence[FloatArray]) -> list[list[FloatArray]]:
        """The state lists, one per name: the existing ones, checked against
        params, or new zero arrays (kept only once the update has run)."""
        owner = type(self).__name__
        existing = [getattr(self, name) for name in self._state_names]
        if all(s is None for s in existing):
            return [[np.zeros_like(p) for p in params] for _ in self._state_names]
        for name, state in zip(self._state_names, existing):
            if not isinstance(state, list) or len(state) != len(params):
                got = (f"a list of {len(state)}" if isinstance(state, list)
                       else type(state).__name__)
                raise ValueError(
                    f"{owner}.{name} must be None or a list of {len(params)} state arrays, one "
                    f"per param; got {got}: use a new optimizer for a new params list (or "
                    f"set {', '.join(self._state_names)} to None)")
            for k, (s, p) in enumerate(zip(state, params)):
                if not isinstance(s, np.ndarray) or s.shape != p.shape or s.dtype != p.dtype \
                        or not s.flags.writeable:
                    got = (f"a {'read-only ' if not s.flags.writeable else ''}{s.dtype} array "
                           f"of shape {s.shape}" if isinstance(s, np.ndarray)
                           else type(s).__name__)
                    raise ValueError(
                        f"{owner}.{name}[{k}] must be a writeable {p.dtype} array of the "
                        f"shape of params[{k}], {p.shape}; got {got}: use a new optimizer "
                        f"for a new params list")
        return existing

    def _keep(self, states: list[list[FloatArray]]) -> None:
        for name, state in zip(self._state_names, states):
            setattr(self, name, state)

    def _hyperparameters(self) -> _Hyper:
        """The hyperparameters of include/gatedrnn.h's rule, checked."""
        raise NotImplementedError

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        """The book's statements for one array, in NumPy with out= buffers."""
        raise NotImplementedError

    def _checked(self, name: str) -> float:
        return _hyperparameter(type(self).__name__, name, getattr(self, name))


def _scaled_quotient(p: FloatArray, g: FloatArray, h: FloatArray, lr: float) -> None:
    """p -= lr * g / (np.sqrt(h) + 1e-7), the book's AdaGrad and RMSprop step."""
    step = np.multiply(lr, g)
    denominator = np.sqrt(h)
    np.add(denominator, _EPS, out=denominator)
    np.divide(step, denominator, out=step)
    np.subtract(p, step, out=p)


class SGD(_BookOptimizer):
    """Stochastic gradient descent: ``p -= lr * g``, as the book's ``SGD``.

    Parameters
    ----------
    lr : float, default 0.01

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import SGD
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = SGD(lr=0.1)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([0.8, 1.2, 0.9], dtype=float32)
    """

    _rule = "sgd"

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self._hyperparameters()

    def _hyperparameters(self) -> _Hyper:
        return (self._checked("lr"),)

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        (lr,) = hyper
        step = np.multiply(lr, g)
        np.subtract(p, step, out=p)


class Momentum(_BookOptimizer):
    """Momentum SGD: ``v = momentum * v - lr * g; p += v``, as the book's.

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float, default 0.9

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import Momentum
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = Momentum(lr=0.1, momentum=0.9)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([0.71 , 1.29 , 0.855], dtype=float32)
    """

    _rule = "momentum"
    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: list[FloatArray] | None = None
        self._hyperparameters()

    def _hyperparameters(self) -> _Hyper:
        return (self._checked("momentum"), self._checked("lr"))

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        momentum, lr = hyper
        (v,) = state
        kept = np.multiply(momentum, v)
        step = np.multiply(lr, g)
        np.subtract(kept, step, out=v)
        np.add(p, v, out=p)


class Nesterov(_BookOptimizer):
    """Nesterov's accelerated gradient, in the book's form.

    ``v *= momentum; v -= lr * g; p += momentum * momentum * v;
    p -= (1 + momentum) * lr * g`` (the products of hyperparameters in Python).

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float, default 0.9

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import Nesterov
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = Nesterov(lr=0.1, momentum=0.9)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([0.3851, 1.6149, 0.6926], dtype=float32)
    """

    _rule = "nesterov"
    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: list[FloatArray] | None = None
        self._hyperparameters()

    def _hyperparameters(self) -> _Hyper:
        momentum, lr = self._checked("momentum"), self._checked("lr")
        return (momentum, lr, momentum * momentum, (1 + momentum) * lr)

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        momentum, lr, momentum2, lr_g = hyper
        (v,) = state
        np.multiply(v, momentum, out=v)
        buffer = np.multiply(lr, g)
        np.subtract(v, buffer, out=v)
        np.multiply(momentum2, v, out=buffer)
        np.add(p, buffer, out=p)
        np.multiply(lr_g, g, out=buffer)
        np.subtract(p, buffer, out=p)


class AdaGrad(_BookOptimizer):
    """AdaGrad: ``h += g * g; p -= lr * g / (sqrt(h) + 1e-7)``, as the book's.

    Parameters
    ----------
    lr : float, default 0.01

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import AdaGrad
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = AdaGrad(lr=0.1)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([0.8293, 1.1707, 0.8293], dtype=float32)
    """

    _rule = "adagrad"
    _state_names = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: list[FloatArray] | None = None
        self._hyperparameters()

    def _hyperparameters(self) -> _Hyper:
        return (self._checked("lr"),)

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        (lr,) = hyper
        (h,) = state
        np.add(h, np.multiply(g, g), out=h)
        _scaled_quotient(p, g, h, lr)


class RMSprop(_BookOptimizer):
    """RMSprop, as the book's.

    ``h *= decay_rate; h += (1 - decay_rate) * g * g;
    p -= lr * g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
    decay_rate : float, default 0.99

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import RMSprop
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = RMSprop(lr=0.1, decay_rate=0.99)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([-0.7089,  2.7089, -0.7089], dtype=float32)
    """

    _rule = "rmsprop"
    _state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: list[FloatArray] | None = None
        self._hyperparameters()

    def _hyperparameters(self) -> _Hyper:
        decay_rate = self._checked("decay_rate")
        return (decay_rate, 1 - decay_rate, self._checked("lr"))

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        decay_rate, keep, lr = hyper
        (h,) = state
        np.multiply(h, decay_rate, out=h)
        added = np.multiply(keep, g)
        np.multiply(added, g, out=added)
        np.add(h, added, out=h)
        _scaled_quotient(p, g, h, lr)


class Adam(_BookOptimizer):
    """Adam (Kingma and Ba), in the book's form.

    At step ``iter`` (counted from 1),
    ``lr_t = lr * np.sqrt(1 - beta2**iter) / (1 - beta1**iter)``;
    ``m += (1 - beta1) * (g - m); v += (1 - beta2) * (g**2 - v);
    p -= lr_t * m / (np.sqrt(v) + 1e-7)``. ``lr_t`` is a NumPy float64, so with
    NumPy 2 the last step is computed in float64 and rounded once into float32
    params (see the module's notes).

    Parameters
    ----------
    lr : float, default 0.001
    beta1, beta2 : float, default 0.9 and 0.999
        In [0, 1).

    Raises
    ------
    TypeError, ValueError
        For a hyperparameter that is not a finite number in range (checked
        here and at every update).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedrnn.book.optimizer import Adam
    >>> p, g = np.ones(3, np.float32), np.array([1.0, -1.0, 0.5], np.float32)
    >>> opt = Adam(lr=0.1)
    >>> opt.update([p], [g]); opt.update([p], [g])
    >>> p.round(4)
    array([0.8, 1.2, 0.8], dtype=float32)
    """

    _rule = "adam"
    _state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: list[FloatArray] | None = None
        self.v: list[FloatArray] | None = None
        self._hyperparameters()

    def update(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        """Update each array of ``params`` in place from ``grads``, and count the step.

        Parameters
        ----------
        params, grads : list of ndarray of float32 or float64
            Pairwise of one shape and dtype; the same list at every call.

        Raises
        ------
        TypeError, ValueError
            For lists of other lengths, shapes or dtypes, or a bad
            hyperparameter, before anything changes.

        Examples
        --------
        >>> import numpy as np
        >>> from gatedrnn.book.optimizer import Adam
        >>> p, opt = np.zeros(1, np.float32), Adam(lr=0.1)
        >>> opt.update([p], [np.ones(1, np.float32)])
        >>> opt.iter, p.round(4)
        (1, array([-0.1], dtype=float32))
        """
        super().update(params, grads)
        self.iter += 1

    def _hyperparameters(self) -> _Hyper:
        lr = self._checked("lr")
        betas = [self._checked(name) for name in ("beta1", "beta2")]
        for name, beta in zip(("beta1", "beta2"), betas):
            if not 0 <= beta < 1:
                raise ValueError(f"Adam.{name} must be in [0, 1); got {beta!r}")
        beta1, beta2 = betas
        if isinstance(self.iter, (bool, np.bool_)) or not isinstance(self.iter, numbers.Integral) \
                or self.iter < 0:
            raise ValueError(f"Adam.iter must be a non-negative integer (the updates so far); "
                             f"got {self.iter!r}")
        step = int(self.iter) + 1  # this update's
        lr_t = lr * np.sqrt(1.0 - beta2 ** step) / (1.0 - beta1 ** step)
        return (1 - beta1, 1 - beta2, lr_t)

    def _numpy_step(self, p: FloatArray, g: FloatArray, state: tuple[FloatArray, ...],
                    hyper: _Hyper) -> None:
        one_minus_beta1, one_minus_beta2, lr_t = hyper
        m, v = state
        buffer = np.subtract(g, m)
        np.multiply(one_minus_beta1, buffer, out=buffer)
        np.add(m, buffer, out=m)
        np.multiply(g, g, out=buffer)
        np.subtract(buffer, v, out=buffer)
        np.multiply(one_minus_beta2, buffer, out=buffer)
        np.add(v, buffer, out=v)
        step = np.multiply(lr_t, m)          # float64 under NEP 50, like the book's
        np.sqrt(v, out=buffer)
        np.add(buffer, _EPS, out=buffer)
        np.divide(step, buffer, out=step)
        np.subtract(p, step, out=p)
