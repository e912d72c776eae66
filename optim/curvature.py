"""Curvature-aware step sizes around first-order directions: AdamQLR's rule and OSGM.

:func:`qlr` (Clarke and Hernández-Lobato, arXiv:2310.14963) picks the step along any base
direction by minimising a damped quadratic model with one Hessian product, and adapts the
damping like Levenberg-Marquardt. :func:`osgm` (online scaled gradient method, arXiv:2411.01803)
learns a diagonal step-size matrix online by AdaGrad on a hypergradient and only accepts
steps that lower the objective. Both are init/update pairs that need the objective's value at
``params`` (``update(grad, state, params, value=f)``; :func:`optim.run` passes it).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from rnla import _backend
from rnla._validation import check_callable, check_positive, check_real

from .first_order import GradientTransformation, _check_learning_rate, _check_params

__all__ = ["OSGMState", "QLRState", "osgm", "qlr"]

#: Thresholds of the damping update on the reduction ratio ρ (Levenberg-Marquardt / K-FAC).
RHO_GOOD = 0.75
RHO_POOR = 0.25
MIN_DAMPING = 1e-8


class QLRState(NamedTuple):
    """State of :func:`qlr`.

    Attributes
    ----------
    count : int
        Updates done.
    direction_state
        The direction optimizer's state.
    damping : float
        The current damping ``λ``.
    value : float or None
        ``f`` where the last step started.
    model_change : float or None
        The change of ``f`` the quadratic model predicted for the last step (negative).
    rho : float or None
        The last reduction ratio ``ρ`` (actual over predicted change).
    """

    count: int
    direction_state: Any
    damping: float
    value: Any
    model_change: Any
    rho: Any


def _damping_update(damping, rho, dec, inc):
    """Levenberg-Marquardt: ``λ·dec`` if ``ρ > 3/4``, ``λ·inc`` if ``ρ < 1/4`` (or NaN); ``λ >= 1e-8``."""
    if rho > RHO_GOOD:
        damping *= dec
    elif not rho >= RHO_POOR:  # also NaN: the step made things worse in an unmeasurable way
        damping *= inc
    return max(damping, MIN_DAMPING)


def _require_value(value, who):
    if value is None:
        raise ValueError(f"{who}'s update needs value=f(params); optim.run passes it")
    try:
        return _backend.to_float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: value must be a scalar, got {value!r}") from None


def qlr(direction_optimizer, hvp, *, damping=1e-3, dec=0.5, inc=2.0):
    """AdamQLR's quadratic-model learning rate and Levenberg-Marquardt damping around any direction.

    The direction optimizer (Adam in AdamQLR; any init/update pair) proposes a step ``u``. With
    one Hessian product ``C u``, the step actually taken is ``τ u`` with

    ``τ = −gᵀu / (uᵀ C u + λ uᵀu)``,

    the minimiser of the damped model ``f + τ gᵀu + ½ τ² uᵀ(C + λI)u``; so the direction's own
    learning rate does not matter. After the step the ratio ``ρ`` of the actual change of ``f``
    to the change predicted by the undamped model ``τ gᵀu + ½ τ² uᵀCu`` adjusts the damping:
    ``λ ← dec·λ`` if ``ρ > 3/4``, ``λ ← inc·λ`` if ``ρ < 1/4``, and ``λ >= 1e-8``. Where
    ``uᵀCu + λuᵀu <= 0`` (negative curvature along ``u``), ``|uᵀCu|`` is used. On a convex
    quadratic with the exact Hessian every step lowers ``f``.

    Parameters
    ----------
    direction_optimizer : GradientTransformation
        Any init/update pair, e.g. :func:`optim.adam` (AdamQLR) or :func:`optim.sgd`.
    hvp : callable
        ``hvp(params, v)``: the Hessian (or a Gauss-Newton matrix) at ``params`` times ``v``.
    damping : float, default 1e-3
        Initial damping ``λ₀ > 0``.
    dec, inc : float
        Damping factors, ``0 < dec < 1 < inc`` (0.5 and 2, AdamQLR's untuned values).

    Returns
    -------
    GradientTransformation
        ``update(grad, state, params, *, value, **extra)`` needs ``params`` and ``value = f(params)``.

    Examples
    --------
    >>> import numpy as np
    >>> from optim import adam, qlr, run
    >>> A = np.diag([1.0, 100.0])
    >>> res = run(qlr(adam(), lambda x, v: A @ v), lambda x: (0.5 * x @ A @ x, A @ x),
    ...           np.ones(2), steps=20)
    >>> bool(res.fun < 1e-12), bool(np.all(np.diff(res.history["fun"][:3]) < 0))
    (True, True)
    """
    if not (hasattr(direction_optimizer, "init") and hasattr(direction_optimizer, "update")):
        raise TypeError("direction_optimizer must have init and update, got "
                        f"{type(direction_optimizer).__name__}")
    check_callable(hvp, "hvp", optional=False)
    damping = check_positive(damping, "damping")
    dec = check_real(dec, "dec", low=0.0, high=1.0, low_open=True, high_open=True)
    inc = check_real(inc, "inc", low=1.0, low_open=True)

    def init(params):
        _check_params(params)
        return QLRState(count=0, direction_state=direction_optimizer.init(params), damping=damping,
                        value=None, model_change=None, rho=None)

    def update(grad, state, params=None, *, value=None, **extra):
        if params is None:
            raise ValueError("qlr's update needs params (the point where the Hessian is taken)")
        f = _require_value(value, "qlr")
        xp = _backend.array_namespace(grad)
        lam, rho = state.damping, None
        if state.model_change is not None and state.model_change < 0:
            rho = (f - state.value) / state.model_change
            lam = _damping_update(lam, rho, dec, inc)
        u, direction_state = direction_optimizer.update(grad, state.direction_state, params, **extra)
        Cu = hvp(params, u)
        if getattr(Cu, "shape", None) != u.shape:
            raise ValueError(f"hvp must return an array of shape {tuple(u.shape)}, "
                             f"got {getattr(Cu, 'shape', None)}")
        # One host transfer for the three scalars the step needs.
        curv, sq, slope = (float(v) for v in _backend.to_numpy(
            xp.stack([xp.sum(u * Cu), xp.sum(u * u), xp.sum(grad * u)])))
        if not all(map(math.isfinite, (curv, sq, slope))):
            raise ValueError("qlr: the direction, gradient or Hessian product is not finite")
        denom = curv + lam * sq
        if denom <= 0:
            denom = abs(curv) + lam * sq
        tau = -slope / denom if denom > 0 else 0.0
        change = tau * slope + 0.5 * tau * tau * curv
        new = QLRState(count=state.count + 1, direction_state=direction_state, damping=lam, value=f,
                       model_change=change, rho=rho)
        return tau * u, new

    return GradientTransformation(init, update, f"qlr({getattr(direction_optimizer, 'name', '')})")


class OSGMState(NamedTuple):
    """State of :func:`osgm`.

    Attributes
    ----------
    count : int
        Updates done.
    scaling : array or None
        The diagonal step-size matrix ``P`` (None until the first step).
    accum : array or None
        AdaGrad's sum of squared hypergradients.
    x, value, grad
        The last accepted point, its objective value and gradient (``value`` decreases strictly).
    learning_rate : float or None
        AdaGrad's rate ``η``.
    probe : bool
        Whether the point being evaluated is the initial probe that estimates ``η``.
    accepted, rejected : int
        Counts of accepted and rejected trial steps.
    """

    count: int
    scaling: Any
    accum: Any
    x: Any
    value: Any
    grad: Any
    learning_rate: Any
    probe: bool
    accepted: int
    rejected: int


#: The probe step's length relative to ``max(‖x₀‖, 1)``.
PROBE = 1e-4


def osgm(learning_rate=None):
    """Online scaled gradient method: a diagonal step size learned by hypergradient descent.

    Steps ``x⁺ = x − P ∇f(x)`` with a diagonal ``P`` that AdaGrad updates on the hypergradient
    of ``h(P) = (f(x⁺) − f(x)) / ‖∇f(x)‖²``, namely ``−∇f(x⁺) ⊙ ∇f(x) / ‖∇f(x)‖²``, from
    ``P₀ = 0``. A trial point is accepted only if it lowers ``f``; otherwise the next trial
    starts again from the last accepted point with the updated ``P``. So the accepted values
    decrease monotonically (:func:`optim.run` returns the best point). Each update costs the
    one value and gradient the driver computes.

    Parameters
    ----------
    learning_rate : float, optional
        AdaGrad's rate ``η``, the scale of ``P``'s entries (about ``1/L``). By default it is
        ``1/L̂`` with ``L̂ = ‖∇f(x₁) − ∇f(x₀)‖ / ‖x₁ − x₀‖`` from a short probe step
        ``x₁ = x₀ − 1e-4 · max(‖x₀‖, 1) ∇f(x₀)/‖∇f(x₀)‖`` (one extra update).

    Returns
    -------
    GradientTransformation
        ``update(grad, state, params, *, value)`` needs ``params`` and ``value = f(params)``.

    Examples
    --------
    >>> import numpy as np
    >>> from optim import osgm, run
    >>> A = np.diag([1.0, 10.0, 100.0])
    >>> res = run(osgm(), lambda x: (0.5 * x @ A @ x, A @ x), np.ones(3), steps=200, gtol=1e-8)
    >>> res.status, res.state.accepted > 0
    (0, True)
    """
    if learning_rate is not None:
        learning_rate = _check_learning_rate(learning_rate)
        if callable(learning_rate):
            raise TypeError("learning_rate of osgm must be a number or None, not a schedule")

    def init(params):
        _check_params(params)
        return OSGMState(count=0, scaling=None, accum=None, x=None, value=None, grad=None,
                         learning_rate=learning_rate, probe=False, accepted=0, rejected=0)

    def first_scaling(g, eta, xp):
        # From P₀ = 0 the trial is x itself, so the first hypergradient is −g⊙g/‖g‖² with no
        # evaluation, and AdaGrad's first step sets P = η wherever g ≠ 0.
        q = -(g * g) / xp.sum(g * g)
        return xp.where(q != 0, eta * xp.ones_like(q), xp.zeros_like(q)), q * q

    def update(grad, state, params=None, *, value=None, **extra):
        if params is None:
            raise ValueError("osgm's update needs params")
        f = _require_value(value, "osgm")
        xp = _backend.array_namespace(grad)
        count = state.count + 1
        if state.x is None:  # the first call: x₀ is the accepted point
            gg = _backend.to_float(xp.sum(grad * grad))
            if gg == 0:  # a stationary point: stay, and start afresh if a later gradient is not 0
                return xp.zeros_like(grad), state._replace(count=count)
            if state.learning_rate is None:
                xnorm = _backend.to_float(xp.linalg.vector_norm(params))
                t0 = PROBE * max(xnorm, 1.0) / math.sqrt(gg)
                return -t0 * grad, state._replace(count=count, x=params, value=f, grad=grad, probe=True)
            P, G = first_scaling(grad, state.learning_rate, xp)
            return -P * grad, state._replace(count=count, scaling=P, accum=G, x=params, value=f, grad=grad)
        x, fx, gx = state.x, state.value, state.grad
        accepted, rejected = state.accepted, state.rejected
        if state.probe:
            dx = _backend.to_float(xp.linalg.vector_norm(params - x))
            dg = _backend.to_float(xp.linalg.vector_norm(grad - gx))
            curvature = dg / dx if dx > 0 else 0.0
            eta = 1.0 / curvature if math.isfinite(curvature) and curvature > 0 else 1.0 / PROBE
            if math.isfinite(f) and f < fx:
                x, fx, gx, accepted = params, f, grad, accepted + 1
            P, G = first_scaling(gx, eta, xp)
            new = state._replace(count=count, scaling=P, accum=G, x=x, value=fx, grad=gx, learning_rate=eta,
                                 probe=False, accepted=accepted)
            return (x - P * gx) - params, new
        eta = state.learning_rate
        q = -(grad * gx) / xp.sum(gx * gx)
        G = state.accum + q * q
        safe = xp.where(G > 0, G, xp.ones_like(G))
        P = state.scaling - eta * xp.where(G > 0, q / xp.sqrt(safe), xp.zeros_like(q))
        if math.isfinite(f) and f < fx:
            x, fx, gx, accepted = params, f, grad, accepted + 1
        else:
            rejected += 1
        new = state._replace(count=count, scaling=P, accum=G, x=x, value=fx, grad=gx, accepted=accepted,
                             rejected=rejected)
        return (x - P * gx) - params, new

    return GradientTransformation(init, update, "osgm")
