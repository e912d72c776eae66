"""The loop around an init/update optimizer: batches, stopping, callbacks and the result."""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import OptimizeResult

from rnla import _backend
from rnla._validation import check_callable, check_nonnegative, check_positive_int

from ._common import accepts_keyword, callback_stops, check_start, copy_array, diverged
from ._finite_sum import _FiniteSum
from .objective import _as_scalar

__all__ = ["run"]

STATUS_MESSAGES = {
    0: "converged: gradient norm below gtol",
    1: "maximum number of steps reached",
    2: "diverged",
    3: "stopped by the callback",
}


def _evaluator(objective):
    """``evaluate(x, idx) -> (value, grad)`` and the number of samples (None: not a finite sum)."""
    if isinstance(objective, _FiniteSum):
        full = objective.batch(None)

        def evaluate(x, idx):
            return (full if idx is None else objective.batch(idx)).value_and_grad(x)

        return evaluate, objective.n_samples
    if callable(objective):
        def evaluate(x, idx):
            out = objective(copy_array(x))  # a copy: the callable may overwrite its argument
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ValueError("objective must return a (value, gradient) pair, got "
                                 f"{type(out).__name__}")
            return out

        return evaluate, None
    raise TypeError("objective must be an optim problem (LeastSquares, Logistic, Multinomial, Objective) "
                    f"or a callable returning (value, gradient), got {type(objective).__name__}")


def _checked(evaluate, x, idx, xp, where):
    """Value (float), gradient and gradient norm at ``x``, with the gradient's shape checked."""
    f, g = evaluate(x, idx)
    if getattr(g, "shape", None) != x.shape:
        raise ValueError(f"the objective's gradient has shape {getattr(g, 'shape', None)} at {where}; "
                         f"expected {tuple(x.shape)} like the parameters")
    try:
        f = _as_scalar(f, "objective")
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (the value at {where})") from None
    return f, g, _backend.to_float(xp.linalg.vector_norm(g))


def run(optimizer, objective, x0, *, steps, batches=None, callback=None, gtol=0.0, random_state=None):
    """Minimise ``objective`` with an init/update optimizer from ``x0``.

    Each step evaluates the value and gradient (on a minibatch if ``batches`` is given),
    calls ``optimizer.update(grad, state, params, value=value)`` (``value`` only if
    ``update`` accepts it) and applies ``params + step``. The loop stops after ``steps``
    steps, when the full-batch gradient norm drops to ``gtol``, when the callback asks, or
    when the run diverges (a NaN or infinite value or gradient, or a value ``1e4 (|f(x0)| + 1)``
    above the first).

    Parameters
    ----------
    optimizer : GradientTransformation
        Any object with ``init(params)`` and ``update(grad, state, params, **extra)``: the
        bases of :mod:`optim.first_order`, :func:`optim.fosi`, :func:`optim.qlr`,
        :func:`optim.osgm`.
    objective : problem or callable
        An :mod:`optim` problem (``LeastSquares``, ``Logistic``, ``Multinomial``, ``Objective``),
        or a callable ``objective(x) -> (value, gradient)``.
    x0 : (dim,) array
        Starting point (NumPy or CuPy; its dtype is kept).
    steps : int
        Maximum number of updates.
    batches : int, optional
        Minibatch size: each epoch visits the samples of a finite-sum problem in a fresh
        random order, ``⌈n / batches⌉`` steps. Full batch by default.
    callback : callable, optional
        ``callback(intermediate_result)`` after each step with an ``OptimizeResult`` holding
        the new ``x``, ``nit`` and ``state``, and full batch its ``fun``, ``jac`` and
        ``grad_norm``; with minibatches instead ``batch_fun`` and ``batch_grad_norm``, the
        minibatch value and gradient norm at the point the step started from. Returning
        ``True`` or raising ``StopIteration`` stops the run.
    gtol : float, default 0
        Full batch only: stop once ``‖∇f(x)‖ <= gtol``.
    random_state : None, int or numpy.random.Generator
        Seed of the minibatch order.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac``, ``grad_norm``, ``nit`` (steps taken), ``success``, ``status``
        (0 gtol, 1 step limit, 2 diverged, 3 callback), ``message``, ``state`` (the final
        optimizer state) and ``history``. Full batch: arrays ``fun``, ``grad_norm`` and ``time``
        (seconds since the call), entry 0 at ``x0`` and entry ``k`` after step ``k``; ``x`` is the
        point that met ``gtol``, or else the iterate with the lowest value seen (the last one
        for monotone methods). Minibatches: arrays ``batch_fun``, ``batch_grad_norm`` and
        ``time``, entry ``k − 1`` for step ``k`` (at the point it started from); ``x`` is the
        last iterate and ``fun``/``jac`` are computed on all samples. After a divergence the
        last finite iterate is returned with ``status=2``.

    Raises
    ------
    ValueError
        If the value or gradient is not finite at ``x0``, or the gradient has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from optim import heavy_ball, run
    >>> A = np.diag([1.0, 10.0])
    >>> res = run(heavy_ball(0.05, momentum=0.5), lambda x: (0.5 * x @ A @ x, A @ x),
    ...           np.ones(2), steps=500, gtol=1e-10)
    >>> res.status, bool(np.allclose(res.x, 0.0, atol=1e-9))
    (0, True)
    """
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must have init and update, got {type(optimizer).__name__}")
    evaluate, n_samples = _evaluator(objective)
    steps = check_positive_int(steps, "steps")
    gtol = check_nonnegative(gtol, "gtol")
    check_callable(callback, "callback")
    if batches is not None:
        if n_samples is None:
            raise ValueError("batches needs a finite-sum objective (an optim problem with n_samples)")
        batches = min(check_positive_int(batches, "batches"), n_samples)
    x, xp = check_start(x0)
    dim = getattr(objective, "dim", None) if isinstance(objective, _FiniteSum) else None
    if isinstance(dim, int) and x.shape[0] != dim:
        raise ValueError(f"x0 must have shape ({dim},) to match the objective, got {tuple(x.shape)}")
    rng = _backend.check_random_state(random_state)
    pass_value = accepts_keyword(optimizer.update, "value")

    def shown(a):  # what the callback sees: a copy it may overwrite without changing the run
        return copy_array(a) if callback is not None else a

    start = time.perf_counter()
    f, g, gnorm = _checked(evaluate, x, None, xp, "x0")
    if not (math.isfinite(f) and math.isfinite(gnorm)):
        raise ValueError("the objective's value or gradient is not finite at x0")
    f0 = f
    best = (x, f, g, gnorm)
    state = optimizer.init(x)
    if batches is None:
        history = {"fun": [f], "grad_norm": [gnorm], "time": [time.perf_counter() - start]}
    else:
        history = {"batch_fun": [], "batch_grad_norm": [], "time": []}
    order, pos, x_prev = None, 0, x
    status, message, nit = 1, None, 0
    if batches is None and gnorm <= gtol:
        status = 0
    while status == 1 and nit < steps:
        idx = None
        if batches is not None:
            if order is None or pos >= n_samples:
                order = _backend.permutation(xp, n_samples, device=_backend.device_of(x), random_state=rng)
                pos = 0
            idx, pos = order[pos:pos + batches], pos + batches
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                f, g, gnorm = _checked(evaluate, x, idx, xp, f"step {nit + 1}")
            if not (math.isfinite(f) and math.isfinite(gnorm)) or diverged(f0, f):
                x, status, message = x_prev, 2, _diverged_message(nit)
                break
        extra = {"value": f} if pass_value else {}
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            step, state = optimizer.update(g, state, x, **extra)
            if getattr(step, "shape", None) != x.shape:
                raise ValueError(f"optimizer.update returned a step of shape {getattr(step, 'shape', None)}; "
                                 f"expected {tuple(x.shape)}")
            x_new = x + step
            if batches is None:
                f_new, g_new, gnorm_new = _checked(evaluate, x_new, None, xp, f"step {nit + 1}")
        nit += 1
        if batches is not None:
            history["batch_fun"].append(f)
            history["batch_grad_norm"].append(gnorm)
            history["time"].append(time.perf_counter() - start)
            x_prev, x = x, x_new
            # The batch values belong to the point the step started from, not to the new x.
            info = OptimizeResult(x=shown(x), nit=nit, state=state, batch_fun=f, batch_grad_norm=gnorm)
        else:
            if not (math.isfinite(f_new) and math.isfinite(gnorm_new)) or diverged(f0, f_new):
                status, message = 2, _diverged_message(nit)
                break
            x, f, g, gnorm = x_new, f_new, g_new, gnorm_new
            if f <= best[1]:
                best = (x, f, g, gnorm)
            if gnorm <= gtol:
                status, best = 0, (x, f, g, gnorm)  # the point that met gtol is the answer
            history["fun"].append(f)
            history["grad_norm"].append(gnorm)
            history["time"].append(time.perf_counter() - start)
            info = OptimizeResult(x=shown(x), fun=f, jac=shown(g), grad_norm=gnorm, nit=nit, state=state)
        if callback_stops(callback, info) and status == 1:
            status = 3
    if batches is None:
        x, f, g, gnorm = best
    else:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            f, g, gnorm = _checked(evaluate, x, None, xp, "the final iterate")
        if status != 2 and (not (math.isfinite(f) and math.isfinite(gnorm)) or diverged(f0, f)):
            # The last step blew up: no later batch showed it, the full evaluation does.
            x, status, message = x_prev, 2, _diverged_message(nit)
            f, g, gnorm = _checked(evaluate, x, None, xp, "the last finite iterate")
    return OptimizeResult(x=x, fun=f, jac=g, grad_norm=gnorm, nit=nit, success=status == 0, status=status,
                          message=message or STATUS_MESSAGES[status], state=state,
                          history={k: np.asarray(v, dtype=float) for k, v in history.items()})


def _diverged_message(step):
    return (f"diverged at step {step}: the objective or its gradient became NaN or infinite, or grew "
            "by more than 1e4·(|f(x0)| + 1); the last finite iterate is returned. "
            "Use a smaller learning rate.")
