"""Preconditioned conjugate gradients and Nyström PCG, on any backend.

Call shapes, stopping rule and ``(x, info)`` returns follow :func:`scipy.sparse.linalg.cg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import _backend
from ._validation import check_finite_array, check_nonnegative, check_positive_int, check_vector
from .nystrom import NystromPreconditioner, adaptive_nystrom, nystrom
from .operators import Operator, as_operator

__all__ = ["SolveResult", "nystrom_pcg", "pcg"]

_MESSAGES = {
    0: "converged",
    -1: "the operator is not positive definite along a search direction (pᵀAp <= 0)",
    -2: "the preconditioner is not positive definite (rᵀMr <= 0)",
    -3: "NaN or infinity appeared in an operator product",
}


@dataclass
class SolveResult:
    """Details of a (preconditioned) CG solve, returned third with ``full_output=True``.

    Attributes
    ----------
    info : int
        0 converged; ``> 0`` the iterations used without converging (``maxiter``);
        ``< 0`` breakdown: -1 operator not positive definite, -2 preconditioner not
        positive definite, -3 NaN/inf in a product. The returned ``x`` is then the last
        finite iterate.
    message : str
        ``info`` in words.
    iterations : int
        CG iterations performed.
    matvecs : int
        Products with ``A`` in total (sketch columns included for Nyström PCG).
    residual_norms : list of float
        ``‖b − A x_k‖`` (recursively updated residual, as SciPy) at each iteration start,
        plus the final one.
    rank : int or None
        Rank of the Nyström preconditioner (``None`` for plain PCG).
    sketch_matvecs : int
        Products with ``A`` spent on the sketch.
    preconditioner : NystromPreconditioner or None
        The preconditioner built by :func:`nystrom_pcg`, reusable as ``M`` for more
        right-hand sides.
    """

    info: int
    message: str
    iterations: int
    matvecs: int
    residual_norms: list = field(default_factory=list)
    rank: int | None = None
    sketch_matvecs: int = 0
    preconditioner: NystromPreconditioner | None = None

    @property
    def converged(self) -> bool:
        return self.info == 0


def _prepare(A, b, x0, name_b="b"):
    """Validate and convert ``A``, ``b``, ``x0``: returns ``op, b, x0, xp, dtype``."""
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    for value, name in ((b, name_b), (x0, "x0")):
        if value is not None and getattr(value, "ndim", None) is None:
            raise TypeError(f"{name} must be an array, got {type(value).__name__}")
    xp = _backend.array_namespace(b)
    if op.xp is not None and op.xp is not xp:
        raise TypeError(f"{name_b} is a {xp.__name__} array but A is a {op.xp.__name__} operator: "
                        "put both on the same backend")
    b = check_vector(xp, b, n, name_b)
    dtype = _backend.float_dtype(xp, op.dtype, b.dtype)
    b = xp.astype(b, dtype)
    check_finite_array(xp, b, name_b)
    if x0 is not None:
        x0 = xp.astype(check_vector(xp, x0, n, "x0"), dtype, copy=True)
        check_finite_array(xp, x0, "x0")
    return op, b, x0, xp, dtype


def _check_tolerances(rtol, atol, maxiter, n):
    rtol = check_nonnegative(rtol, "rtol")
    atol = check_nonnegative(atol, "atol")
    maxiter = 10 * n if maxiter is None else check_positive_int(maxiter, "maxiter")
    return rtol, atol, maxiter


def pcg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None, full_output=False):
    """Solve ``A x = b`` for symmetric positive definite ``A`` by preconditioned CG.

    Same call, stopping rule and return as :func:`scipy.sparse.linalg.cg`, on NumPy, CuPy
    or any array-API backend: iterate until ``‖b − A x‖ < max(rtol·‖b‖, atol)`` or
    ``maxiter`` iterations. Unlike SciPy, the residual is also tested after the last
    iteration, and breakdowns are reported in ``info`` instead of returning NaN.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric positive definite ``n × n`` operator.
    b : (n,) array
        Right-hand side (an ``(n, 1)`` column is accepted).
    x0 : (n,) array, optional
        Starting guess (zero by default).
    rtol, atol : float
        Relative and absolute tolerances on the residual norm.
    maxiter : int, optional
        Iteration cap, ``10 n`` by default.
    M : operator, optional
        Preconditioner approximating ``A⁻¹`` (for example a :class:`NystromPreconditioner`),
        in any form ``A`` accepts.
    callback : callable, optional
        Called as ``callback(xk)`` after each iteration.
    full_output : bool
        Also return a :class:`SolveResult`.

    Returns
    -------
    x : (n,) array
        The solution, with ``b``'s dtype promoted with ``A``'s, on ``b``'s device.
    info : int
        0 converged; ``> 0`` iterations used without converging; ``< 0`` breakdown.
    result : SolveResult
        Only with ``full_output=True``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> x, info = pcg(A, np.array([1.0, 2.0]), rtol=1e-12)
    >>> info, np.allclose(A @ x, [1.0, 2.0])
    (0, True)
    """
    op, b, x0, xp, dtype = _prepare(A, b, x0)
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, op.shape[0])
    Mop = None if M is None else _as_preconditioner(M, op.shape)
    x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, Mop, callback)
    return (x, info, result) if full_output else (x, info)


def _as_preconditioner(M, shape):
    if isinstance(M, NystromPreconditioner):
        Mop = M.as_operator()
    else:
        Mop = as_operator(M, shape=shape, name="M")
    if Mop.shape != shape:
        raise ValueError(f"M must have shape {shape} like A, got {Mop.shape}")
    return Mop


def _pcg(op: Operator, b, x0, xp, dtype, rtol, atol, maxiter, M, callback, shift=0.0):
    """The CG iteration on validated inputs; ``shift`` adds ``shift·I`` to ``op``."""

    def apply(v):
        out = op.matvec(v)
        if out.dtype != dtype:
            out = xp.astype(out, dtype)
        return out + shift * v if shift else out

    bnorm = _backend.to_float(xp.linalg.vector_norm(b))
    tol = max(atol, rtol * bnorm)
    history = []
    matvecs = 0
    if bnorm == 0.0:
        x = xp.zeros_like(b)
        return x, 0, SolveResult(0, _MESSAGES[0], 0, 0, [0.0])
    if x0 is None:
        x = xp.zeros_like(b)
        r = b
    else:
        x = x0
        r = b - apply(x)
        matvecs += 1
    info = maxiter
    iterations = 0
    rho_prev = None
    p = None
    while True:
        rnorm = _backend.to_float(xp.linalg.vector_norm(r))
        history.append(rnorm)
        if not math.isfinite(rnorm):
            info = -3
            break
        if rnorm < tol:
            info = 0
            break
        if iterations >= maxiter:
            break
        z = r if M is None else M.matvec(r)
        rho = xp.sum(r * z)
        p = z if p is None else z + (rho / rho_prev) * p
        q = apply(p)
        matvecs += 1
        pq = xp.sum(p * q)
        rho_h, pq_h = (_backend.to_float(v) for v in (rho, pq))
        if not (math.isfinite(rho_h) and math.isfinite(pq_h)):
            info = -3
            break
        if rho_h <= 0:
            info = -2
            break
        if pq_h <= 0:
            info = -1
            break
        alpha = rho / pq
        x = x + alpha * p
        r = r - alpha * q
        rho_prev = rho
        iterations += 1
        if callback is not None:
            callback(x)
    message = _MESSAGES.get(info, f"not converged within maxiter={maxiter} iterations")
    return x, info, SolveResult(info, message, iterations, matvecs, history)


def nystrom_pcg(A, b, mu=0.0, *, rank="auto", x0=None, rtol=1e-5, atol=0.0, maxiter=None,
                callback=None, random_state=None, full_output=False, max_rank=None):
    """Solve ``(A + mu I) x = b`` by CG with a randomized Nyström preconditioner.

    Sketches ``A`` (one block product with an orthonormal Gaussian test matrix), builds the
    Nyström preconditioner of Frangella, Tropp and Udell (arXiv:2110.02820) and runs
    :func:`pcg` with SciPy's stopping rule. On operators whose spectrum decays, a
    preconditioner of rank a small multiple of the effective dimension
    ``d_eff(μ) = tr(A(A+μI)⁻¹)`` makes the condition number a small constant, so CG needs
    ``O(log 1/rtol)`` iterations. No gain is to be expected on flat spectra.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric positive semidefinite ``n × n`` operator (a :class:`GramOperator` for
        ridge regression). Give callables a ``matmat``: the sketch is one block product.
    b : (n,) array
        Right-hand side.
    mu : float, default 0
        Regularisation ``μ >= 0``.
    rank : 'auto' or int, default 'auto'
        Sketch size ``ℓ``. ``'auto'`` starts at 32 columns and doubles, reusing earlier
        columns, until the smallest sketched eigenvalue ``λ̂_ℓ <= 10 μ`` (so the
        preconditioned condition number is about 10 or less) or ``ℓ`` reaches
        ``max_rank``. An integer fixes ``ℓ`` (``1 <= rank <= n``).
    x0, rtol, atol, maxiter, callback
        As in :func:`pcg`.
    random_state : None, int or numpy.random.Generator
        Seed of the sketch.
    full_output : bool
        Also return a :class:`SolveResult` with the rank, sketch and total matvec counts,
        iterations, residual history and the preconditioner.
    max_rank : int, optional
        Cap of the adaptive sketch, ``min(n, 1024)`` by default.

    Returns
    -------
    x, info[, result]
        As in :func:`pcg`.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla import GramOperator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 100)) / np.arange(1, 101)   # decaying spectrum
    >>> y = rng.standard_normal(500)
    >>> H = GramOperator(X)
    >>> w, info, res = nystrom_pcg(H, X.T @ y / 500, mu=1e-6, rtol=1e-10, random_state=0,
    ...                            full_output=True)
    >>> info, bool(np.allclose(X.T @ X / 500 @ w + 1e-6 * w, X.T @ y / 500))
    (0, True)
    """
    op, b, x0, xp, dtype = _prepare(A, b, x0)
    n = op.shape[0]
    mu = check_nonnegative(mu, "mu")
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, n)
    if max_rank is not None:
        max_rank = check_positive_int(max_rank, "max_rank", upper=n, upper_name="the dimension of A")
    device = _backend.device_of(b)
    if isinstance(rank, str):
        if rank != "auto":
            raise ValueError(f"rank must be 'auto' or an integer, got {rank!r}")
        approx = adaptive_nystrom(op, mu, xp=xp, dtype=dtype, device=device, random_state=random_state,
                                  max_rank=max_rank)
    else:
        rank = check_positive_int(rank, "rank", upper=n, upper_name="the dimension of A")
        approx = nystrom(op, rank, oversample=0, random_state=random_state, like=b)
    P = NystromPreconditioner(approx, mu)
    x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, P.as_operator(), callback, shift=mu)
    result.rank = approx.rank
    result.sketch_matvecs = approx.sketch_size
    result.matvecs += approx.sketch_size
    result.preconditioner = P
    return (x, info, result) if full_output else (x, info)
