"""The PROMISE family: SketchySGD, SketchySVRG, SketchySAGA and SketchyKatyusha.

Preconditioned stochastic gradient methods for finite sums (Frangella, Rathore, Zhao, Udell;
arXiv:2211.08597 and arXiv:2309.02014). Each applies ``P⁻¹`` from
:func:`optim.hessian_preconditioner` to a stochastic gradient, with a step size from the
preconditioned smoothness constant :func:`optim.preconditioned_smoothness`, refreshed lazily.
All four share one driver: epochs of ``⌈n / b⌉`` minibatch steps over a fresh random
permutation, then one full evaluation for the history and the stopping tests. On sparse data
SGD, SVRG and SAGA keep the iterate as ``v + U c`` (``U`` the preconditioner's basis) so that a step
never streams the dense basis; the iterates are those of the plain steps up to rounding.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import OptimizeResult

from rnla import _backend
from rnla._validation import (
    check_array,
    check_auto_or,
    check_bool,
    check_callable,
    check_nonnegative,
    check_positive,
    check_positive_int,
)

from ._common import Progress, callback_stops, check_start, copy_array, diverged
from ._finite_sum import _FiniteSum
from ._sketchy_split import split_epoch, uses_split
from .glm import _GLM, LeastSquares
from .preconditioners import (
    DEFAULT_RANK,
    SketchyPreconditioner,
    _check_rho,
    hessian_preconditioner,
    preconditioned_smoothness,
)

__all__ = ["sketchy_katyusha", "sketchy_saga", "sketchy_sgd", "sketchy_svrg"]

DEFAULT_BATCH_SIZE = 256

STATUS_MESSAGES = {
    0: "converged: gradient norm below tol * ||grad f(x0)||",
    1: "maximum number of epochs reached",
    2: "diverged",
    3: "stopped by the callback",
    4: "converged: relative objective decrease below ftol",
}


class _Context:
    """Everything an epoch needs: the problem, the preconditioner, the step, the random source."""

    def __init__(self, problem, xp, device, rng, batch_size):
        self.problem = problem
        self.xp = xp
        self.device = device
        self.rng = rng
        self.batch_size = batch_size
        self.n = problem.n_samples
        self.precond = None
        self.smoothness = None
        self.lr = None
        self.split = uses_split(problem, xp, batch_size)
        self.name = None  # the method's name, set by the driver
        self.residuals = None  # per-sample residuals at the last evaluated point (split SVRG's snapshot)

    def batches(self):
        """Index arrays of one epoch: a fresh permutation cut into ``⌈n/b⌉`` batches."""
        perm = _backend.permutation(self.xp, self.n, device=self.device, random_state=self.rng)
        b = self.batch_size
        return [perm[k: min(k + b, self.n)] for k in range(0, self.n, b)]


# --- the four methods: init(ctx, w, g) -> state; epoch(ctx, w, g, state) -> w ------------------------


def _sgd_lr(L, reg, n):
    return 1.0 / (2.0 * L)


def _vr_lr(L, reg, n):
    return max(1.0 / (2.0 * (reg * n + L)), 1.0 / (3.0 * L))


def _sgd_epoch(ctx, w, g, state):
    if ctx.split:
        return split_epoch(ctx, w)[0]
    P, lr, problem = ctx.precond, ctx.lr, ctx.problem
    for idx in ctx.batches():
        w = w - lr * P.apply_inverse(problem.batch(idx).grad(w))
    return w


def _svrg_epoch(ctx, w, g, state):
    # The full gradient g at the epoch's start is the snapshot gradient.
    if ctx.split:
        full = ctx.problem.batch(None)
        u = g - ctx.problem.reg * full._penalty(w) if ctx.problem.reg else g  # g without reg·w_snap
        return split_epoch(ctx, w, u=u, r_ref=ctx.residuals)[0]
    P, lr, problem = ctx.precond, ctx.lr, ctx.problem
    w_snap = w
    for idx in ctx.batches():
        w = w - lr * P.apply_inverse(problem.batch(idx).grad_diff(w, w_snap) + g)
    return w


def _saga_init(ctx, w, g):
    full = ctx.problem.batch(None)
    table = full.residuals(w)
    return {"table": table, "mean": full.rmatvec(table) * (1.0 / ctx.n)}


def _saga_epoch(ctx, w, g, state):
    if ctx.split:  # the mean is updated in place (it is the state's own array)
        w, state["table"] = split_epoch(ctx, w, u=state["mean"], table=state["table"])
        return w
    P, lr, problem, xp = ctx.precond, ctx.lr, ctx.problem, ctx.xp
    table, mean = state["table"], state["mean"]
    reg, inv_n = problem.reg, 1.0 / ctx.n
    for idx in ctx.batches():
        B = problem.batch(idx)
        new = B.residuals(w)
        aux = B.rmatvec(new - xp.take(table, idx, axis=0))
        direction = mean + aux * (1.0 / B.size)
        if reg:
            direction = direction + reg * B._penalty(w)
        mean = mean + aux * inv_n
        table = _backend.set_items(xp, table, idx, new)
        w = w - lr * P.apply_inverse(direction)
    state["table"], state["mean"] = table, mean
    return w


def _katyusha_init(ctx, w, g):
    return {"y": w, "z": w, "grad_y": g}


def _katyusha_epoch(ctx, w, g, state):
    P, L, problem = ctx.precond, ctx.smoothness, ctx.problem
    sigma = problem.reg / L
    theta2 = 0.5
    theta1 = min(math.sqrt(2.0 * ctx.n * sigma / 3.0), 0.5)
    eta = theta2 / ((1.0 + theta2) * theta1)
    p = ctx.batch_size / ctx.n
    y, z, grad_y = state["y"], state["z"], state["grad_y"]
    batches = ctx.batches()
    coins = ctx.rng.random(len(batches)) < p  # drawn on the host, once per epoch
    full = problem.batch(None)
    for idx, coin in zip(batches, coins, strict=True):
        x = theta1 * z + theta2 * y + (1.0 - theta1 - theta2) * w
        gt = problem.batch(idx).grad_diff(x, y) + grad_y
        z_new = (eta * sigma * x + z - (eta / L) * P.apply_inverse(gt)) * (1.0 / (1.0 + eta * sigma))
        w = x + theta1 * (z_new - z)
        z = z_new
        if coin:
            y = w
            grad_y = full.grad(y)
    state.update(y=y, z=z, grad_y=grad_y)
    ctx.lr = eta / L
    return w


_METHODS = {
    "sketchy_sgd": (None, _sgd_epoch, _sgd_lr),
    "sketchy_svrg": (None, _svrg_epoch, _vr_lr),
    "sketchy_saga": (_saga_init, _saga_epoch, _vr_lr),
    "sketchy_katyusha": (_katyusha_init, _katyusha_epoch, None),
}


# --- the shared driver --------------------------------------------------------------------------------


def _evaluate(ctx, full, w):
    """``f(w), ∇f(w)`` from one pass over the data; the split SVRG epoch also keeps the per-sample
    residuals (its snapshot's), which saves it a second pass."""
    if not (ctx.split and ctx.name == "sketchy_svrg"):
        return full.value_and_grad(w)
    z = full.margins(w)
    ctx.residuals = full.weighted(ctx.problem.dloss(z, full.y), full.sw)
    return full._value_from_margins(w, z), full._grad_from_residuals(ctx.residuals, w)


def _check_x0(problem, x0):
    """``x0`` as a real 1-D array of the problem's dimension, dtype and namespace (zeros if None).

    Complex or non-numeric content, a wrong shape, NaN or infinity raise ``ValueError`` naming
    ``x0``; nothing is cast from complex to real.
    """
    if isinstance(problem, _GLM):
        xp, dtype, device, dim = problem.xp, problem.dtype, problem.device, problem.dim
        if x0 is None:
            return xp.zeros(dim, dtype=dtype, device=device)
        x0 = check_array(x0, "x0", xp=xp, dtype=dtype)
        if x0.shape != (dim,):
            raise ValueError(f"x0 must have shape ({dim},), got {tuple(x0.shape)}")
        return x0
    if x0 is None:
        raise ValueError("x0 is required for an Objective given by callables")
    return check_start(x0)[0]


def _check_update_freq(update_freq, problem):
    update_freq = check_auto_or(update_freq, "update_freq", check_positive_int, keywords=("auto", "once"))
    if update_freq == "auto":
        # A quadratic's Hessian never changes: one sketch is enough.
        return None if isinstance(problem, LeastSquares) else 1
    return None if update_freq == "once" else update_freq


def _check_options(problem, opts):
    if not isinstance(problem, _FiniteSum):
        raise TypeError("problem must be an optim.LeastSquares, Logistic or Objective, "
                        f"got {type(problem).__name__}")
    if problem.n_samples is None:
        raise ValueError("the stochastic solvers need a finite sum: give the Objective n_samples")
    out = dict(opts)
    out["epochs"] = check_positive_int(opts["epochs"], "epochs")
    bs = opts["batch_size"]
    out["batch_size"] = min(check_positive_int(bs, "batch_size"), problem.n_samples)
    if opts["rank"] is not None:
        out["rank"] = check_positive_int(opts["rank"], "rank")
    if opts["hessian_batch_size"] is not None:
        out["hessian_batch_size"] = check_positive_int(opts["hessian_batch_size"], "hessian_batch_size",
                                                       upper=problem.n_samples, upper_name="n_samples")
    out["rho"] = _check_rho(opts["rho"])
    out["update_freq"] = _check_update_freq(opts["update_freq"], problem)
    if opts["learning_rate"] is not None:
        out["learning_rate"] = check_positive(opts["learning_rate"], "learning_rate")
    out["tol"] = check_nonnegative(opts["tol"], "tol")
    out["ftol"] = check_nonnegative(opts["ftol"], "ftol")
    check_callable(opts["callback"], "callback")
    out["verbose"] = check_bool(opts["verbose"], "verbose")
    return out


def _refresh(ctx, w, opts, precondition, rng):
    """New preconditioner, smoothness estimate and step size at ``w``."""
    problem, xp = ctx.problem, ctx.xp
    if precondition:
        ctx.precond = hessian_preconditioner(problem, w, rank=opts["rank"],
                                             batch_size=opts["hessian_batch_size"], rho=opts["rho"],
                                             random_state=rng)
    else:
        ctx.precond = SketchyPreconditioner.identity(w.shape[0], xp=xp, dtype=w.dtype, device=ctx.device)
    if opts["learning_rate"] is not None and opts["name"] != "sketchy_katyusha":
        ctx.lr = opts["learning_rate"]
        return
    if opts["learning_rate"] is not None:
        L = 1.0 / opts["learning_rate"]
    else:
        L = preconditioned_smoothness(problem, w, ctx.precond, batch_size=opts["hessian_batch_size"],
                                      random_state=rng)
    if L <= 0:  # a batch with zero curvature: fall back to the penalty alone
        L = problem.reg if problem.reg > 0 else 1.0
    ctx.smoothness = L
    rule = _METHODS[opts["name"]][2]
    ctx.lr = rule(L, problem.reg, ctx.n) if rule is not None else None


def _solve(name, problem, x0, precondition, opts):
    start = time.perf_counter()
    opts = _check_options(problem, opts)
    precondition = check_bool(precondition, "precondition")
    opts["name"] = name
    init, epoch_fn, _ = _METHODS[name]
    if name == "sketchy_saga" and not isinstance(problem, _GLM):
        raise TypeError("sketchy_saga keeps one scalar per sample and needs a LeastSquares or Logistic "
                        "problem; use sketchy_svrg for an Objective given by callables")
    if name == "sketchy_katyusha" and problem.reg <= 0:
        raise ValueError("sketchy_katyusha needs a strongly convex problem: reg must be > 0")
    w = _check_x0(problem, x0)
    dim = w.shape[0]
    if opts["rank"] is None:
        opts["rank"] = min(DEFAULT_RANK, dim)  # the published default, capped on tiny problems
    elif opts["rank"] > dim:
        raise ValueError(f"rank={opts['rank']} exceeds the number of parameters ({dim})")
    xp = _backend.array_namespace(w)
    rng = _backend.check_random_state(opts["random_state"])
    ctx = _Context(problem, xp, _backend.device_of(w), rng, opts["batch_size"])
    ctx.name = name
    full = problem.batch(None)
    f, g = _evaluate(ctx, full, w)
    gnorm = _backend.to_float(xp.linalg.vector_norm(g))
    if not (math.isfinite(f) and math.isfinite(gnorm)):
        raise ValueError("the objective or its gradient is not finite at x0")
    f0, gnorm0 = f, gnorm
    history = {"epoch": [0], "time": [time.perf_counter() - start], "fun": [f], "grad_norm": [gnorm],
               "learning_rate": [0.0]}  # the rate chosen at x0 once the first epoch sets it
    state = init(ctx, w, g) if init is not None else None
    progress = Progress(name, opts["epochs"], opts["verbose"], unit="epoch")
    status, epoch, message = 1, 0, None
    if gnorm <= opts["tol"] * gnorm0 or gnorm == 0.0:
        status = 0
    try:
        while status == 1 and epoch < opts["epochs"]:
            epoch += 1
            freq = opts["update_freq"]
            if epoch == 1 or (freq is not None and (epoch - 1) % freq == 0):
                _refresh(ctx, w, opts, precondition, rng)
            w_prev, f_prev, g_prev, gnorm_prev = w, f, g, gnorm
            # Overflow in a diverging epoch is detected below and reported, not warned about.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                w = epoch_fn(ctx, w, g, state)
                f, g = _evaluate(ctx, full, w)
                gnorm = _backend.to_float(xp.linalg.vector_norm(g))
            if not (math.isfinite(f) and math.isfinite(gnorm)) or diverged(f0, f):
                what = "became NaN or infinite" if not math.isfinite(f) or not math.isfinite(gnorm) else \
                    f"grew from {f0:.6g} to {f:.6g}"
                message = (f"diverged in epoch {epoch}: the objective {what} with learning rate "
                           f"{ctx.lr:.3g}; the last finite iterate (epoch {epoch - 1}) is returned. Pass a "
                           "smaller learning_rate, or a larger rank or hessian_batch_size.")
                w, f, g, gnorm, epoch = w_prev, f_prev, g_prev, gnorm_prev, epoch - 1
                status = 2
                break
            if epoch == 1:  # the rate chosen at x0 (Katyusha's is set by its first epoch)
                history["learning_rate"][0] = ctx.lr
            history["epoch"].append(epoch)
            history["time"].append(time.perf_counter() - start)
            history["fun"].append(f)
            history["grad_norm"].append(gnorm)
            history["learning_rate"].append(ctx.lr)
            progress.update(fun=f, grad_norm=gnorm)
            if gnorm <= opts["tol"] * gnorm0:
                status = 0
            elif opts["ftol"] and 0 <= f_prev - f <= opts["ftol"] * max(abs(f), np.finfo(float).tiny):
                status = 4
            if opts["callback"] is not None:
                info = OptimizeResult(x=copy_array(w), fun=f, jac=copy_array(g), grad_norm=gnorm, nit=epoch,
                                      learning_rate=ctx.lr)  # copies: the callback may overwrite them
                if callback_stops(opts["callback"], info) and status == 1:
                    status = 3
    finally:
        progress.close()
    if message is None:
        message = STATUS_MESSAGES[status]
    return OptimizeResult(
        x=w, fun=f, jac=g, grad_norm=gnorm, nit=epoch, success=status in (0, 4), status=status,
        message=message, history={k: np.asarray(v, dtype=float) if k != "epoch" else np.asarray(v)
                                  for k, v in history.items()},
        learning_rate=ctx.lr, smoothness=ctx.smoothness, preconditioner=ctx.precond,
    )


_PARAMS_DOC = """
    Parameters
    ----------
    problem : LeastSquares, Logistic or Objective
        The finite-sum objective (an :class:`~optim.Objective` needs ``n_samples``).
    x0 : (dim,) array, optional
        Starting point; zeros by default (required for an :class:`~optim.Objective`).
    epochs : int, default 100
        Maximum number of epochs (one epoch is ``⌈n / batch_size⌉`` steps).
    batch_size : int, default 256
        Gradient batch size ``b_g`` (capped at ``n``).
    rank : int, optional
        Rank of the Nyström preconditioner, at most the number of parameters; by default 10
        (the published default), or the number of parameters if that is smaller.
    hessian_batch_size : int, optional
        Batch size ``b_H`` of the sketched Hessian and of the step-size estimate; ``⌊√n⌋``.
    rho : 'auto' or float, default 'auto'
        Preconditioner regularisation; see :func:`optim.hessian_preconditioner`.
    update_freq : 'auto', 'once' or int, default 'auto'
        Epochs between preconditioner refreshes; ``'auto'`` sketches a least-squares Hessian
        once and any other Hessian every epoch.
    learning_rate : float, optional
        Fixed step size instead of the automatic rule.
    precondition : bool, default True
        ``False`` runs the same method with ``P = I`` (plain SGD/SVRG/SAGA/Katyusha with the
        same step-size rule).
    tol : float, default 1e-6
        Stop when ``‖∇f(w)‖ <= tol · ‖∇f(x0)‖`` (checked once per epoch).
    ftol : float, default 0
        Also stop when an epoch lowers the objective by less than ``ftol · |f|``.
    random_state : None, int or numpy.random.Generator
        Seed of the batches, sketches and step-size estimates.
    callback : callable, optional
        ``callback(intermediate_result)`` after each epoch with an ``OptimizeResult`` holding
        ``x``, ``fun``, ``jac``, ``grad_norm``, ``nit`` and ``learning_rate``; returning
        ``True`` or raising ``StopIteration`` stops the run.
    verbose : bool, default False
        Show a progress bar (tqdm) with the objective and gradient norm.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac`` (full gradient), ``grad_norm``, ``nit`` (epochs), ``success``,
        ``status`` (0 gradient tolerance, 1 epoch limit, 2 diverged, 3 callback, 4 ftol),
        ``message``, ``learning_rate``, ``smoothness`` (``L_P``), ``preconditioner`` and
        ``history``: a dict of arrays ``epoch``, ``time`` (seconds since the call, all work
        included), ``fun``, ``grad_norm`` and ``learning_rate``, entry 0 at ``x0`` (for
        ``learning_rate``: the rate chosen at ``x0`` for epoch 1, or 0 if no epoch ran; never NaN).
        On divergence (NaN, infinity, or an objective ``1e4 (|f(x0)| + 1)`` above ``f(x0)``)
        the last finite iterate is returned with ``success=False`` and ``status=2``.
"""


def _signature(name):
    def solver(problem, x0=None, *, epochs=100, batch_size=DEFAULT_BATCH_SIZE, rank=None,
               hessian_batch_size=None, rho="auto", update_freq="auto", learning_rate=None,
               precondition=True, tol=1e-6, ftol=0.0, random_state=None, callback=None, verbose=False):
        opts = dict(epochs=epochs, batch_size=batch_size, rank=rank, hessian_batch_size=hessian_batch_size,
                    rho=rho, update_freq=update_freq, learning_rate=learning_rate, tol=tol, ftol=ftol,
                    random_state=random_state, callback=callback, verbose=verbose)
        return _solve(name, problem, x0, precondition, opts)

    solver.__name__ = solver.__qualname__ = name
    return solver


sketchy_sgd = _signature("sketchy_sgd")
sketchy_sgd.__doc__ = """SketchySGD: ``w ← w − η P⁻¹ ∇f_B(w)`` with ``η = 1 / (2 L_P)``.

    Converges to a neighbourhood of the optimum whose size shrinks with ``learning_rate`` and
    ``batch_size``; the variance-reduced methods converge to the optimum itself.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from optim import Logistic, sketchy_sgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 20))
    >>> y = (X @ rng.standard_normal(20) > 0).astype(int)
    >>> res = sketchy_sgd(Logistic(X, y, reg=1e-2), epochs=10, random_state=0)
    >>> res.nit, bool(res.fun < 0.4)
    (10, True)
"""

sketchy_svrg = _signature("sketchy_svrg")
sketchy_svrg.__doc__ = """SketchySVRG: preconditioned SVRG with a snapshot and full gradient every epoch.

    Each epoch takes the snapshot ``w̃ = w`` with full gradient ``ḡ`` and steps
    ``w ← w − η P⁻¹(∇f_B(w) − ∇f_B(w̃) + ḡ)``, ``η = max(1/(2(reg·n + L_P)), 1/(3 L_P))``.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from optim import LeastSquares, sketchy_svrg
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5000, 30)) / np.arange(1, 31) ** 2   # Hessian eigenvalues ~ j^-4
    >>> y = X @ rng.standard_normal(30) + 0.1 * rng.standard_normal(5000)
    >>> res = sketchy_svrg(LeastSquares(X, y, reg=1e-4), tol=1e-10, random_state=0)
    >>> w_ref = Ridge(alpha=1e-4 * 5000, fit_intercept=False).fit(X, y).coef_
    >>> res.success, bool(np.linalg.norm(res.x - w_ref) < 1e-6 * np.linalg.norm(w_ref))
    (True, True)
"""

sketchy_saga = _signature("sketchy_saga")
sketchy_saga.__doc__ = """SketchySAGA: preconditioned b-nice SAGA with one scalar per sample.

    The table holds ``α_i = s_i ℓ'(a_iᵀw)`` from the last visit of sample ``i`` and ``u`` is the
    mean of ``α_i a_i``; a step with batch ``B`` uses ``aux = A_Bᵀ(α_new − α_old)``,
    ``g = u + aux/|B|``, ``u ← u + aux/n`` and ``w ← w − η P⁻¹(reg·w + g)``, with the step size
    of :func:`sketchy_svrg`. Memory is ``O(n + d)``; it needs a :class:`~optim.LeastSquares` or
    :class:`~optim.Logistic` problem.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from optim import Logistic, sketchy_saga
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 10))
    >>> y = (X @ rng.standard_normal(10) + rng.standard_normal(2000) > 0).astype(int)
    >>> res = sketchy_saga(Logistic(X, y, reg=1e-3), tol=1e-8, random_state=0)
    >>> ref = LogisticRegression(C=1 / (1e-3 * 2000), fit_intercept=False, tol=1e-12).fit(X, y)
    >>> res.success, bool(np.abs(res.x - ref.coef_.ravel()).max() < 1e-5)
    (True, True)
"""

sketchy_katyusha = _signature("sketchy_katyusha")
sketchy_katyusha.__doc__ = """SketchyKatyusha: accelerated, preconditioned loopless Katyusha (reg > 0).

    With ``σ = reg / L_P``, ``θ₂ = 1/2``, ``θ₁ = min(√(2nσ/3), 1/2)``, ``η = θ₂/((1 + θ₂)θ₁)`` and
    snapshot probability ``p = b/n``, each step forms ``x = θ₁z + θ₂y + (1 − θ₁ − θ₂)w``,
    ``g̃ = ∇f_B(x) − ∇f_B(y) + ∇f(y)``, ``z⁺ = (ησx + z − (η/L_P)P⁻¹g̃)/(1 + ησ)``,
    ``w⁺ = x + θ₁(z⁺ − z)`` and, with probability ``p``, moves the snapshot ``y`` to ``w⁺``.
    A given ``learning_rate`` replaces ``1/L_P``.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from optim import LeastSquares, sketchy_katyusha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5000, 30)) / np.arange(1, 31) ** 2
    >>> y = X @ rng.standard_normal(30)
    >>> prob = LeastSquares(X, y, reg=1e-4)
    >>> res = sketchy_katyusha(prob, tol=1e-8, random_state=0)
    >>> res.success, bool(res.grad_norm <= 1e-8 * np.linalg.norm(prob.grad(np.zeros(30))))
    (True, True)
"""


