"""First-order optimizers as optax-style ``init`` / ``update`` pairs over explicit state.

Each optimizer is a :class:`GradientTransformation`: ``state = opt.init(params)`` and
``step, state = opt.update(grad, state, params)``, with the new parameters ``params + step``
(the step is already negated and scaled, as in optax). States are immutable named tuples of
arrays on the parameters' backend (NumPy or CuPy), so ``update`` never mutates its input and
never moves data to the host. A learning rate is a positive number or a schedule
``learning_rate(count) -> float`` of the number of updates done so far.
:func:`optim.run` is the loop that owns stopping, callbacks and the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from rnla import _backend
from rnla._validation import (
    check_callable,
    check_nonnegative,
    check_nonnegative_int,
    check_positive,
    check_real,
)

__all__ = ["AdamState", "GradientTransformation", "HeavyBallState", "SGDState", "adam", "heavy_ball", "sgd"]


class _GradientTransformationFields(NamedTuple):
    init: Callable
    update: Callable
    name: str = ""


class GradientTransformation(_GradientTransformationFields):
    """An optimizer as a pair of pure functions, as in optax.

    Attributes
    ----------
    init : callable
        ``init(params) -> state``.
    update : callable
        ``update(grad, state, params=None, **extra) -> (step, new_state)``; apply the step as
        ``params + step``.
    name : str
        Short name of the method (FOSI reads it to choose its learning-rate scaling).

    A non-callable ``init`` or ``update`` or a non-string ``name`` is a ``TypeError`` naming it.

    Examples
    --------
    >>> import numpy as np
    >>> halve = GradientTransformation(lambda params: None,
    ...                                lambda grad, state, params=None: (-0.5 * grad, state), "halve")
    >>> step, _ = halve.update(np.array([2.0, -4.0]), halve.init(np.zeros(2)))
    >>> step.tolist(), halve.name
    ([-1.0, 2.0], 'halve')
    """

    __slots__ = ()

    def __new__(cls, init, update, name=""):
        check_callable(init, "init", optional=False)
        check_callable(update, "update", optional=False)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__} {name!r}"[:200])
        return super().__new__(cls, init, update, name)


class SGDState(NamedTuple):
    """State of :func:`sgd`: the number of updates done."""

    count: int


class HeavyBallState(NamedTuple):
    """State of :func:`heavy_ball`: update count and velocity ``v``."""

    count: int
    velocity: Any


class AdamState(NamedTuple):
    """State of :func:`adam`: update count and first and second moment estimates."""

    count: int
    mu: Any
    nu: Any


def _check_learning_rate(learning_rate, name="learning_rate"):
    """A schedule callable as is, else a finite number > 0 (the policy's TypeError/ValueError)."""
    if callable(learning_rate):
        return learning_rate
    return check_positive(learning_rate, name)


def _check_fraction(value, name):
    """``value`` as a float in ``[0, 1)``."""
    return check_real(value, name, low=0.0, high=1.0, high_open=True)


def _check_nonnegative_int(value, name, *, none_ok=False):
    """``value`` as an int ``>= 0`` (or None when ``none_ok``): TypeError for a non-integer."""
    return None if value is None and none_ok else check_nonnegative_int(value, name)


def _rate(learning_rate, count):
    """The learning rate of update number ``count`` (schedules are called and checked)."""
    if not callable(learning_rate):
        return learning_rate
    value = learning_rate(count)
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"the learning_rate schedule returned {value!r} at count {count}, "
                        "not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"the learning_rate schedule returned {value} at count {count}; "
                         "it must be finite and >= 0")
    return value


def _check_params(params, name="params"):
    if getattr(params, "ndim", None) is None:
        raise TypeError(f"{name} must be an array, got {type(params).__name__}")
    if params.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {getattr(params, 'shape', None)}")
    xp = _backend.array_namespace(params)
    if not xp.isdtype(params.dtype, "real floating"):
        raise ValueError(f"{name} must have a real floating dtype, got {params.dtype}")
    return xp


def _check_grad(grad, like, name="grad"):
    """``grad`` has the shape of the state's vectors ``like``."""
    if getattr(grad, "shape", None) != like.shape:
        raise ValueError(f"{name} must have shape {tuple(like.shape)}, got {getattr(grad, 'shape', None)}")


def sgd(learning_rate):
    """Plain (stochastic) gradient descent: ``step = −η g``.

    Parameters
    ----------
    learning_rate : float or callable
        Step size ``η > 0``, or a schedule ``learning_rate(count)``.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> opt = sgd(0.1)
    >>> state = opt.init(np.zeros(2))
    >>> step, state = opt.update(np.array([1.0, -2.0]), state)
    >>> step.tolist(), state.count
    ([-0.1, 0.2], 1)
    """
    learning_rate = _check_learning_rate(learning_rate)

    def init(params):
        _check_params(params)
        return SGDState(count=0)

    def update(grad, state, params=None, **extra):
        if params is not None:
            _check_grad(grad, params)
        return -_rate(learning_rate, state.count) * grad, SGDState(count=state.count + 1)

    return GradientTransformation(init, update, "sgd")


def heavy_ball(learning_rate, momentum=0.9):
    """Polyak's heavy-ball method: ``v ← βv + g``, ``step = −η v``.

    With a constant ``η`` this is ``x⁺ = x − η g + β (x − x₋)``.

    Parameters
    ----------
    learning_rate : float or callable
        Step size ``η > 0``, or a schedule ``learning_rate(count)``.
    momentum : float, default 0.9
        ``β`` in ``[0, 1)``; 0 gives :func:`sgd`.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> opt = heavy_ball(0.1, momentum=0.5)
    >>> state = opt.init(np.zeros(1))
    >>> step, state = opt.update(np.array([1.0]), state)
    >>> step, state = opt.update(np.array([1.0]), state)
    >>> step.tolist()                     # −0.1 · (0.5 · 1 + 1)
    [-0.15000000000000002]
    """
    learning_rate = _check_learning_rate(learning_rate)
    beta = _check_fraction(momentum, "momentum")

    def init(params):
        xp = _check_params(params)
        return HeavyBallState(count=0, velocity=xp.zeros_like(params))

    def update(grad, state, params=None, **extra):
        _check_grad(grad, state.velocity)
        velocity = beta * state.velocity + grad if beta else grad
        step = -_rate(learning_rate, state.count) * velocity
        return step, HeavyBallState(count=state.count + 1, velocity=velocity)

    return GradientTransformation(init, update, "heavy_ball")


def adam(learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba 2015) with bias correction, as optax's ``adam``.

    ``m ← b1 m + (1 − b1) g``, ``v ← b2 v + (1 − b2) g²``, ``step = −η m̂ / (√v̂ + ε)`` with
    ``m̂ = m / (1 − b1ᵗ)`` and ``v̂ = v / (1 − b2ᵗ)``.

    Parameters
    ----------
    learning_rate : float or callable, default 1e-3
        Step size ``η > 0``, or a schedule ``learning_rate(count)``.
    b1, b2 : float
        Decay rates of the moment estimates, in ``[0, 1)``.
    eps : float, default 1e-8
        Added to ``√v̂``; ``>= 0``.

    Returns
    -------
    GradientTransformation

    Examples
    --------
    >>> import numpy as np
    >>> opt = adam(0.1)
    >>> state = opt.init(np.zeros(2))
    >>> step, state = opt.update(np.array([3.0, -0.5]), state)
    >>> np.round(step, 6).tolist()        # the first step is ±η in every coordinate
    [-0.1, 0.1]
    """
    learning_rate = _check_learning_rate(learning_rate)
    b1 = _check_fraction(b1, "b1")
    b2 = _check_fraction(b2, "b2")
    eps = check_nonnegative(eps, "eps")

    def init(params):
        xp = _check_params(params)
        return AdamState(count=0, mu=xp.zeros_like(params), nu=xp.zeros_like(params))

    def update(grad, state, params=None, **extra):
        _check_grad(grad, state.mu)
        xp = _backend.array_namespace(grad)
        count = state.count + 1
        mu = b1 * state.mu + (1.0 - b1) * grad
        nu = b2 * state.nu + (1.0 - b2) * (grad * grad)
        mu_hat = mu * (1.0 / (1.0 - b1**count))
        nu_hat = nu * (1.0 / (1.0 - b2**count))
        step = (-_rate(learning_rate, state.count)) * mu_hat / (xp.sqrt(nu_hat) + eps)
        return step, AdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update, "adam")
