"""NNCG: Newton-CG with a randomized Nyström preconditioner (Rathore et al., arXiv:2402.01868)."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning

from rnla import _backend
from rnla._validation import (
    check_auto_or,
    check_bool,
    check_callable,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)
from rnla.krylov import pcg
from rnla.nystrom import NotPositiveSemidefiniteError, NystromPreconditioner, nystrom
from rnla.operators import as_operator

from ._common import callback_stops, check_start, copy_array, scipy_callback
from .objective import Objective

__all__ = ["nncg"]

#: Armijo sufficient-decrease constant and backtracking factor (ALGORITHMS.md).
ARMIJO_C = 0.1
ARMIJO_SHRINK = 0.5
MAX_BACKTRACKS = 50
#: A direction making a smaller cosine with the gradient is not trusted as a descent direction.
MIN_COSINE = 1e-8
#: Below this many ulps of f, a sufficient-decrease test is rounding noise.
NOISE_FACTOR = 100.0
#: The 'auto' damping is this multiple of the sketched top Hessian eigenvalue, scaled by the
#: relative gradient norm (so it vanishes at a minimum and Newton's fast local rate returns).
MU_RELATIVE = 1e-3
DEFAULT_RANK = 30
DEFAULT_GTOL = 1e-5

STATUS_MESSAGES = {
    0: "Optimization terminated successfully: gradient norm below gtol.",
    1: "Maximum number of iterations has been exceeded.",
    2: "The line search could not decrease the objective (precision loss or a wrong gradient).",
    3: "NaN or infinity encountered in the gradient or a Hessian product.",
    99: "`callback` raised `StopIteration`.",
}

#: SciPy's names for finite-difference Hessians; nncg's own finite-difference products serve them.
FD_HESSIANS = ("2-point", "3-point", "cs")


def _check_mu(mu):
    return check_auto_or(mu, "mu", check_nonnegative)


def _check_cg_rtol(cg_rtol):
    return check_auto_or(cg_rtol, "cg_rtol", check_real, low=0.0, high=1.0, low_open=True, high_open=True)


def _check_maxiter(maxiter):
    """``maxiter`` as an int >= 0 (0 evaluates ``x0`` only, as SciPy's Newton-CG does)."""
    return check_nonnegative_int(maxiter, "maxiter")


def _copying(func, n_arrays):
    """``func`` called on copies of its first ``n_arrays`` arguments (SciPy passes copies, gh-13740):
    a user function that overwrites ``x`` (or ``p``) cannot corrupt the iterate."""
    def call(*a):
        return func(*(copy_array(v) for v in a[:n_arrays]), *a[n_arrays:])

    call.__name__ = getattr(func, "__name__", "user_function")
    return call


def _problem(fun, jac, hess, hessp, args):
    """The callables as an :class:`optim.Objective` (central-difference HVPs if none is given).

    Every user function gets copies of the arrays it is given.
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    if jac is True:
        cache = {}
        fun_and_grad = _copying(fun, 1)

        def value(x, *a):
            f, g = fun_and_grad(x, *a)
            cache["x"], cache["g"] = x, g
            return f

        def gradient(x, *a):
            if cache.get("x") is not x:
                value(x, *a)
            return cache["g"]

        fun_, jac_ = value, gradient
    elif callable(jac):
        fun_, jac_ = _copying(fun, 1), _copying(jac, 1)
    else:
        raise ValueError("jac is required: nncg needs the gradient; pass jac as a callable (or jac=True if "
                         f"fun returns (value, gradient)), got jac={jac!r}")
    check_callable(hessp, "hessp")
    return Objective(fun_, jac_, None if hessp is None else _copying(hessp, 2), args=args)


def _check_hess(hess):
    """``hess`` as a callable (called on copies) or None; SciPy's finite-difference names mean None.

    A quasi-Newton ``scipy.optimize.HessianUpdateStrategy`` (``BFGS()``) is not callable: a
    ``TypeError``, since nncg is a Newton method.
    """
    if isinstance(hess, str) and hess in FD_HESSIANS:
        return None
    if hess is not None and not callable(hess):
        raise TypeError(f"hess must be callable, None or one of {', '.join(map(repr, FD_HESSIANS))}, "
                        f"got {type(hess).__name__}")
    return None if hess is None else _copying(hess, 1)


class _CallableError(ValueError):
    """A user callable misbehaved (wrong shape, failed): raised, never reported as a status."""


class _Hessian:
    """Hessian products at the current point, counted; dense ``hess`` is evaluated once per point."""

    def __init__(self, problem, hess, hessp_blocks, args):
        self.batch = problem.batch(None)
        self.problem = problem
        self.hess = hess
        self.blocks = hessp_blocks
        self.args = args
        self.products = 0

    def operator(self, x):
        n = x.shape[0]
        if self.hess is not None:
            H = self.hess(x, *self.args)
            if getattr(H, "shape", None) != (n, n):
                raise ValueError(f"hess must return an array of shape {(n, n)}, "
                                 f"got {getattr(H, 'shape', None)}")
            base = as_operator(H, name="hess")
        elif self.blocks:
            hessp = self.problem.hvp_fun

            def matmat(V):
                out = hessp(x, V, *self.args)
                if getattr(out, "shape", None) != V.shape:
                    raise ValueError(f"hessp must return an array of shape {tuple(V.shape)}, got "
                                     f"{getattr(out, 'shape', None)}")
                return out

            base = as_operator(((n, n), matmat, matmat), name="hessp")
        else:
            base = self.batch.hessian_operator(x)

        def counted(V):
            self.products += 1 if V.ndim == 1 else V.shape[1]
            try:
                return base @ V
            except _CallableError:
                raise
            except ValueError as err:  # shape checks of the callables: the caller's bug
                raise _CallableError(str(err)) from None

        return as_operator(((n, n), counted, counted), name="the Hessian")


def nncg(fun, x0, args=(), jac=None, hess=None, hessp=None, bounds=None, constraints=None, callback=None, *,
         rank=None, mu="auto", precond_every=20, cg_rtol="auto", cg_maxiter=None, maxiter=1000, gtol=None,
         tol=None, hessp_blocks=False, random_state=None, disp=False, **unknown_options):
    """Minimise a smooth function by Nyström-preconditioned Newton-CG (NNCG).

    Each iteration solves the damped Newton system ``(H + μI) d = ∇f(x)`` by preconditioned CG
    (:func:`rnla.pcg`), warm-started at the previous direction and stopped at a relative
    residual ``cg_rtol``, then moves ``x ← x − t d`` with Armijo backtracking from ``t = 1``
    (``f(x − t d) <= f(x) − 0.1 t dᵀ∇f``, halving ``t``). Every ``precond_every`` iterations a
    rank-``rank`` randomized Nyström approximation of the Hessian is sketched from ``rank``
    Hessian-vector products and turned into the Nyström preconditioner of ``H + μI``. On a
    non-convex function CG stops at the first direction of negative curvature and keeps the
    descent direction built so far; a direction with ``dᵀ∇f <= 0`` is replaced by the scaled
    gradient ``∇f / (λ̂₁ + μ)``. A Hessian that the sketch shows to be indefinite gets no
    preconditioner until the next refresh.

    Follows SciPy's custom-method protocol: ``scipy.optimize.minimize(fun, x0, jac=..., hessp=...,
    method=nncg, options={...})`` works (``minimize`` converts ``x0`` to NumPy); called directly
    it also runs on CuPy arrays, keeping the dtype of ``x0``.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float`` (``(float, gradient)`` with ``jac=True``); a size-1 array
        is accepted, as SciPy does.
    x0 : (n,) array
        Starting point.
    args : tuple
        Extra arguments of ``fun``, ``jac``, ``hess`` and ``hessp``.
    jac : callable or True
        Gradient ``jac(x, *args)``; required.
    hess : callable or {'2-point', '3-point', 'cs'}, optional
        Dense (or sparse) Hessian ``hess(x, *args)``, used as an operator (evaluated once per
        iterate). SciPy's finite-difference names mean what leaving it out means: central
        differences of ``jac``. A quasi-Newton ``HessianUpdateStrategy`` is a ``TypeError``.
    hessp : callable, optional
        ``hessp(x, p, *args)``, the Hessian at ``x`` times ``p``. Without ``hess`` and ``hessp``,
        central differences of ``jac`` (two gradients per product). Every user function gets
        copies of ``x`` (and ``p``), as in SciPy, so it may overwrite them.
    bounds, constraints
        Not supported; must be None.
    callback : callable, optional
        Called after each iteration, in SciPy's two styles: ``callback(intermediate_result)``
        (an ``OptimizeResult`` with ``x``, ``fun``, ``jac``, ``nit``) if its only parameter is
        named ``intermediate_result``, else ``callback(xk)`` with a copy of the iterate.
        Raising ``StopIteration`` (or returning ``True``) stops the run.
    rank : int, optional
        Rank of the Nyström preconditioner, ``min(30, n)`` by default (10 to 60 is typical).
        0 runs damped Newton-CG without a preconditioner (what pays on well-conditioned
        Hessians, where CG needs a handful of steps anyway); ``λ̂₁`` for ``mu='auto'`` is then
        ``‖H u‖`` for a random unit ``u``, from one product per refresh.
    mu : 'auto' or float, default 'auto'
        Damping ``μ``. A number fixes it (as in the NNCG paper). ``'auto'`` uses
        ``μ_k = 1e-3 · λ̂₁ · min(1, ‖∇f(x_k)‖ / ‖∇f(x_0)‖)`` with ``λ̂₁`` the largest sketched
        Hessian eigenvalue: relative to the Hessian's scale, and vanishing as the gradient does,
        which keeps the local convergence superlinear.
    precond_every : int, default 20
        Iterations between preconditioner refreshes.
    cg_rtol : 'auto' or float, default 'auto'
        Relative CG tolerance; ``'auto'`` is the forcing term
        ``min(0.5, √(‖∇f(x_k)‖ / ‖∇f(x_0)‖))`` of inexact Newton methods.
    cg_maxiter : int, optional
        CG iterations per Newton step, ``min(n, 200)`` by default.
    maxiter : int, default 1000
        Newton iterations (0 evaluates ``x0`` only and returns status 1).
    gtol : float, optional
        Stop when ``‖∇f(x)‖₂ <= gtol``; 1e-5 by default.
    tol : float, optional
        ``minimize``'s ``tol``: sets ``gtol`` unless ``gtol`` itself is given.
    hessp_blocks : bool, default False
        ``hessp`` accepts a block ``p`` of shape ``(n, k)``: the sketch is then one block product
        instead of ``k`` calls.
    random_state : None, int or numpy.random.Generator
        Seed of the sketches.
    disp : bool, default False
        Print the final message and counts.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``njev``, ``nhev`` (Hessian-vector products,
        sketches included), ``status`` (0 gtol, 1 maxiter, 2 line search failure, 3 NaN or
        infinity, at ``x0`` included, 99 callback), ``success``, ``message``, ``cg_iterations`` (total),
        ``preconditioner`` (the last :class:`rnla.NystromPreconditioner`, or None) and
        ``history`` (arrays ``fun``, ``grad_norm``, ``time``, ``nhev`` per iteration, entry 0 at
        ``x0``). The returned ``x`` is always finite.

    Raises
    ------
    TypeError
        For an argument of the wrong kind (a non-callable ``fun``/``jac``/``hess``/``hessp``/
        ``callback``, a string or float where an integer option is needed, a user function
        returning something that is not a number).
    ValueError
        For a missing gradient, bounds or constraints, bad option values, ``x0`` that is not a
        1-D finite real array (complex is never cast), or a gradient of the wrong shape. A value
        or gradient that is not finite at ``x0`` is not an error: the result has
        ``success=False``, ``status=3``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize, rosen, rosen_der, rosen_hess_prod
    >>> res = minimize(rosen, np.full(50, 0.5), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
    ...                options={"gtol": 1e-8, "random_state": 0})
    >>> res.success, bool(np.allclose(res.x, 1.0))
    (True, True)
    """
    start = time.perf_counter()
    if unknown_options:
        warnings.warn(f"Unknown solver options: {', '.join(sorted(unknown_options))}", OptimizeWarning,
                      stacklevel=2)
    if bounds is not None or constraints not in (None, (), []):
        raise ValueError("nncg is an unconstrained method: bounds and constraints must be None")
    if not isinstance(args, tuple):  # minimize's rule: a lone extra argument
        args = (args,)
    problem = _problem(fun, jac, hess, hessp, args)
    hess = _check_hess(hess)
    hessp_blocks = check_bool(hessp_blocks, "hessp_blocks")
    disp = check_bool(disp, "disp")
    hessian = _Hessian(problem, hess, hessp_blocks, args)
    if hessp_blocks and (hess is not None or hessp is None):
        raise ValueError("hessp_blocks=True needs a hessp callable (and no hess)")
    x, xp = check_start(x0)
    n = x.shape[0]
    if rank is None:
        rank = min(DEFAULT_RANK, n)
    else:
        rank = check_nonnegative_int(rank, "rank")
        if rank > n:
            raise ValueError(f"rank must be <= the dimension of x0 ({n}), got {rank}")
    mu = _check_mu(mu)
    cg_rtol = _check_cg_rtol(cg_rtol)
    precond_every = check_positive_int(precond_every, "precond_every")
    cg_maxiter = min(n, 200) if cg_maxiter is None else check_positive_int(cg_maxiter, "cg_maxiter")
    maxiter = _check_maxiter(maxiter)
    if gtol is not None:  # an explicit gtol wins over minimize's tol, as in SciPy's methods
        gtol = check_nonnegative(gtol, "gtol")
    else:
        gtol = DEFAULT_GTOL if tol is None else check_nonnegative(tol, "tol")
    user_callback = check_callable(callback, "callback")
    callback = scipy_callback(user_callback)
    rng = _backend.check_random_state(random_state)
    batch = hessian.batch

    f, g = batch.value_and_grad(x)
    nfev, njev = 1, 1
    gnorm = _backend.to_float(xp.linalg.vector_norm(g))
    if not (math.isfinite(f) and math.isfinite(gnorm)):
        # A failed run, not bad input (SciPy's Newton-CG reports NaN as status 3 too).
        which = "the objective" if not math.isfinite(f) else "the gradient"
        return OptimizeResult(x=x, fun=f, jac=g, nit=0, nfev=nfev, njev=njev, nhev=0, status=3,
                              success=False, message=f"{which[0].upper()}{which[1:]} is not finite at x0 "
                              f"(fun={f!r}, |jac|={gnorm!r}); nothing was done.", cg_iterations=0,
                              preconditioner=None,
                              history={"fun": np.asarray([f]), "grad_norm": np.asarray([gnorm]),
                                       "time": np.asarray([time.perf_counter() - start]),
                                       "nhev": np.asarray([0])})
    gnorm0 = gnorm
    history = {"fun": [f], "grad_norm": [gnorm], "time": [time.perf_counter() - start], "nhev": [0]}
    d = None
    approx, lam1 = None, None
    precond = None
    cg_total, nit, status = 0, 0, 1
    message = None
    if gnorm <= gtol:
        status = 0
    while status == 1 and nit < maxiter:
        H = hessian.operator(x)
        if nit % precond_every == 0 and rank == 0:
            lam1 = _hessian_scale(H, x, xp, rng)  # the scale of the damping: one product
        elif nit % precond_every == 0:
            try:
                approx = nystrom(H, rank, oversample=0, random_state=rng, like=x)
                lam1 = _backend.to_float(approx.eigvals[0]) if approx.rank else 0.0
            except _CallableError:
                raise
            except NotPositiveSemidefiniteError:
                approx = None  # an indefinite Hessian: plain CG until the next refresh
                if lam1 is None:
                    lam1 = _hessian_scale(H, x, xp, rng)
            except ValueError as err:
                status, message = 3, f"the Hessian products failed: {err}"
                break
        ratio = min(1.0, gnorm / gnorm0)
        mu_k = MU_RELATIVE * lam1 * ratio if mu == "auto" else mu
        mu_k = max(mu_k, _tiny(xp, x) * lam1)
        precond = NystromPreconditioner(approx, mu_k) if approx is not None and (mu_k > 0 or approx.rank) \
            else None
        rtol = min(0.5, math.sqrt(ratio)) if cg_rtol == "auto" else cg_rtol
        shifted = as_operator(((n, n), lambda v, H=H, s=mu_k: H @ v + s * v), name="H + mu I")
        warm = _warm_start(shifted, d, g, xp)
        if warm is None:
            d_new, info, solve = pcg(shifted, g, rtol=rtol, maxiter=cg_maxiter, M=precond, full_output=True)
        else:
            # CG from x0 = s is CG from zero on the residual g − A s, which the warm start's own
            # product gives: one product per Newton step fewer than pcg(x0=s), same iterates and
            # the same stopping rule ‖g − A d‖ <= rtol ‖g‖.
            s_d, As = warm
            e, info, solve = pcg(shifted, g - As, rtol=0.0, atol=rtol * gnorm, maxiter=cg_maxiter, M=precond,
                                 full_output=True)
            d_new = s_d + e
        cg_total += solve.iterations
        if info == -1 and warm is not None:
            # Negative curvature met from the warm start: its iterate need not be a useful descent
            # direction, while CG from zero always builds one (or none: the fallback below).
            d_new, info, solve = pcg(shifted, g, rtol=rtol, maxiter=cg_maxiter, M=precond, full_output=True)
            cg_total += solve.iterations
        if info == -3:
            status, message = 3, "NaN or infinity appeared in a Hessian-vector product"
            break
        slope = _backend.to_float(xp.sum(d_new * g))
        dnorm = _backend.to_float(xp.linalg.vector_norm(d_new))
        if not (math.isfinite(slope) and slope > MIN_COSINE * dnorm * gnorm):
            d_new = g * (1.0 / (lam1 + mu_k)) if lam1 + mu_k > 0 else g
            slope = _backend.to_float(xp.sum(d_new * g))
        d = d_new
        found = _line_search(batch, x, f, gnorm, d, slope, xp)
        nfev += found.nfev
        njev += found.njev
        if found.t is None:
            status = 2
            break
        t, x_try, f_try, g_try, gnorm_try = found.t, found.x, found.f, found.g, found.gnorm
        if not math.isfinite(gnorm_try):
            status = 3
            message = "jac returned NaN or infinity at an accepted point; the previous iterate is returned"
            break
        x, f, g, gnorm = x_try, f_try, g_try, gnorm_try
        if t < 1.0:
            d = t * d  # warm-start the next solve from the step actually taken
        nit += 1
        history["fun"].append(f)
        history["grad_norm"].append(gnorm)
        history["time"].append(time.perf_counter() - start)
        history["nhev"].append(hessian.products)
        if gnorm <= gtol:
            status = 0
        if callback_stops(callback, OptimizeResult(x=x, fun=f, jac=g, nit=nit)) and status == 1:
            status = 99
    message = message or STATUS_MESSAGES[status]
    if disp:  # as SciPy's methods: a failure is an OptimizeWarning, a success is printed
        if status != 0:
            warnings.warn(message, OptimizeWarning, stacklevel=2)
        print(f"{message}\n         Current function value: {f:.6g}\n         Iterations: {nit}\n"
              f"         Function evaluations: {nfev}\n         Gradient evaluations: {njev}\n"
              f"         Hessian-vector products: {hessian.products}")
    if hess is None and hessp is None:
        njev += 2 * hessian.products  # each finite-difference product costs two gradients
    return OptimizeResult(x=x, fun=f, jac=g, nit=nit, nfev=nfev, njev=njev, nhev=hessian.products,
                          status=status, success=status == 0, message=message, cg_iterations=cg_total,
                          preconditioner=precond, history={k: np.asarray(v) for k, v in history.items()})


@dataclass
class _Step:
    """Outcome of :func:`_line_search`: the step ``t`` (None on failure) and the accepted point."""

    t: float | None
    x: object = None
    f: float = math.nan
    g: object = None
    gnorm: float = math.nan
    nfev: int = 0
    njev: int = 0


def _line_search(batch, x, f, gnorm, d, slope, xp):
    """Armijo backtracking along ``−d`` from ``t = 1``; the gradient at the accepted point comes too.

    Where the decrease asked for is within rounding of ``f``, a step is accepted if it still
    lowers ``f`` or if it lowers the gradient norm, which rounding does not hide (near a minimum
    ``f`` cannot show progress; near a saddle the gradient grows while ``f`` falls).
    """
    eps = float(xp.finfo(x.dtype).eps)
    out = _Step(t=None)
    t = 1.0
    for _ in range(MAX_BACKTRACKS):
        x_try = x - t * d
        with np.errstate(over="ignore", invalid="ignore"):
            f_try = batch.value(x_try)
        out.nfev += 1
        needed = ARMIJO_C * t * slope
        finite = math.isfinite(f_try)
        noisy = finite and needed <= NOISE_FACTOR * eps * max(abs(f), abs(f_try))
        if finite and (f_try <= f - needed or (noisy and f_try < f)):
            break
        if noisy:
            g_try = batch.grad(x_try)
            out.njev += 1
            gnorm_try = _backend.to_float(xp.linalg.vector_norm(g_try))
            if gnorm_try < gnorm:
                out.t, out.x, out.f, out.g, out.gnorm = t, x_try, f_try, g_try, gnorm_try
                return out
        t *= ARMIJO_SHRINK
    else:
        return out
    g_try = batch.grad(x_try)
    out.njev += 1
    out.t, out.x, out.f, out.g = t, x_try, f_try, g_try
    out.gnorm = _backend.to_float(xp.linalg.vector_norm(g_try))
    return out


def _warm_start(A, d, g, xp):
    """The previous direction scaled to minimise the Newton model along it, and ``A`` times it:
    ``(α d, α A d)``, or None if ``α`` would be 0 or the curvature along ``d`` is not positive.

    Raw warm starts hurt once the gradient has shrunk by orders of magnitude; the best multiple
    ``α = dᵀg / dᵀAd`` never starts CG worse than zero. Costs one product.
    """
    if d is None:
        return None
    Ad = A @ d
    curv = _backend.to_float(xp.sum(d * Ad))
    slope = _backend.to_float(xp.sum(d * g))
    if not (math.isfinite(curv) and curv > 0 and slope > 0):
        return None
    alpha = slope / curv
    return d * alpha, Ad * alpha


def _tiny(xp, x):
    return math.sqrt(float(xp.finfo(x.dtype).eps)) * 1e-3


def _hessian_scale(H, x, xp, rng):
    """``‖H u‖`` for a random unit ``u``: a scale for μ when the sketch failed (one product)."""
    u = _backend.random_normal(xp, (x.shape[0],), dtype=x.dtype, device=_backend.device_of(x),
                               random_state=rng)
    u = u / xp.linalg.vector_norm(u)
    return _backend.to_float(xp.linalg.vector_norm(H @ u))
