"""Preconditioned conjugate gradients and Nyström PCG, on any backend.

Call shapes, stopping rule and ``(x, info)`` returns follow :func:`scipy.sparse.linalg.cg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _backend
from ._cg_probe import CGProbe, sketch_price
from ._nystrom_adaptive import ZERO_MU_INITIAL_RANK
from ._sketch_ops import check_sketch
from ._validation import (
    check_auto_or,
    check_bool,
    check_callable,
    check_finite_array,
    check_nonnegative,
    check_positive_int,
    check_real_operator,
    check_real_product,
    check_vector,
)
from .nystrom import DEFAULT_INITIAL_RANK, NystromApprox, NystromPreconditioner, adaptive_nystrom, nystrom
from .operators import Operator, as_operator

__all__ = ["BlockSolveResult", "SolveResult", "nystrom_pcg", "pcg"]

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
        Products with ``A`` in total: one per iteration, one for ``x0``, one per true-residual
        check (at least one when the iteration converged), and the sketch columns for
        Nyström PCG.
    residual_norms : list of float
        ``‖b − A x_k‖`` at each iteration start, plus the final one: the recursively updated
        residual (as SciPy), except where the true residual was recomputed (a convergence
        check, and so the last entry whenever ``info == 0``).
    rank : int or None
        Rank of the Nyström preconditioner (``None`` for plain PCG).
    sketch_matvecs : int
        Products with ``A`` spent on the sketch.
    preconditioner : NystromPreconditioner or None
        The preconditioner built by :func:`nystrom_pcg`, reusable as ``M`` for more
        right-hand sides (the identity, of rank 0 and ``sketch_size`` 0, when plain CG
        solved the system before a sketch was worth taking).
    stagnated : bool
        ``info > 0`` because the true residual stopped decreasing at the rounding level of the
        dtype (two failed convergence checks in a row without halving it) before ``maxiter``:
        the tolerance is below the attainable accuracy.
    probe_iterations : int
        Plain-CG iterations :func:`nystrom_pcg` ran before it sketched (``rank='auto'``;
        included in ``iterations``).
    """

    info: int
    message: str
    iterations: int
    matvecs: int
    residual_norms: list = field(default_factory=list)
    rank: int | None = None
    sketch_matvecs: int = 0
    preconditioner: NystromPreconditioner | None = None
    stagnated: bool = False
    probe_iterations: int = 0

    @property
    def converged(self) -> bool:
        return self.info == 0


def _check_real_dtype(A, name):
    """``ValueError`` naming ``name`` if ``A`` is empty or declares a complex (or other non-real) dtype."""
    shape = getattr(A, "shape", None)
    if isinstance(shape, tuple) and 0 in shape:
        raise ValueError(f"{name} must not be empty, got shape {shape}")
    check_real_operator(A, name)


def _prepare(A, b, x0, name_b="b"):
    """Validate and convert ``A``, ``b``, ``x0``: returns ``op, b, x0, xp, dtype``.

    ``x0`` comes back as a fresh array, ``None`` or the keyword ``'Mb'``.
    """
    _check_real_dtype(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    x0_keyword = None
    if isinstance(x0, str):
        if x0 != "Mb":
            raise ValueError(f"x0 must be an array, None or 'Mb', got {x0!r}")
        x0_keyword = x0
    for value, name in ((b, name_b), (x0, "x0")):
        if value is not None and value is not x0_keyword and getattr(value, "ndim", None) is None:
            raise TypeError(f"{name} must be an array, got {type(value).__name__}")
    xp = _backend.array_namespace(b)
    if op.xp is not None and op.xp is not xp:
        raise TypeError(f"{name_b} is a {xp.__name__} array but A is a {op.xp.__name__} operator: "
                        "put both on the same backend")
    for value, name in ((b, name_b), (x0, "x0")):
        if getattr(value, "ndim", None) in (1, 2) and value.shape[0] != n:
            raise ValueError(f"{name} must have shape ({n},) to match A of shape {op.shape}, "
                             f"got {tuple(value.shape)}")
    b = check_vector(xp, b, n, name_b)
    dtype = _backend.float_dtype(xp, op.dtype, b.dtype)
    b = xp.astype(b, dtype)
    check_finite_array(xp, b, name_b)
    if x0 is not None and not isinstance(x0, str):
        x0 = xp.astype(check_vector(xp, x0, n, "x0"), dtype, copy=True)
        check_finite_array(xp, x0, "x0")
    return op, b, x0, xp, dtype


def _check_tolerances(rtol, atol, maxiter, n, callback):
    rtol = check_nonnegative(rtol, "rtol", allow_inf=True)
    atol = check_nonnegative(atol, "atol", allow_inf=True)
    maxiter = 10 * n if maxiter is None else check_positive_int(maxiter, "maxiter")
    check_callable(callback, "callback")
    return rtol, atol, maxiter


def pcg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None, full_output=False):
    """Solve ``A x = b`` for symmetric positive definite ``A`` by preconditioned CG.

    Same call, stopping rule and return as :func:`scipy.sparse.linalg.cg`, on NumPy, CuPy
    or any array-API backend: iterate until ``‖b − A x‖ < max(rtol·‖b‖, atol)`` or
    ``maxiter`` iterations. Unlike SciPy:

    - ``info == 0`` means the **true** residual ``‖b − A x‖`` of the returned ``x`` meets the
      rule. When the recursively updated residual meets it, the true one is recomputed (one
      more product with ``A``); if it does not meet it (the recursion drifts on ill-conditioned
      systems), CG restarts from the true residual and goes on within ``maxiter``;
    - norms and inner products are scaled before squaring whenever the plain sum would under-
      or overflow (as LAPACK's ``nrm2``), ``b`` far from unit size is rescaled by a power of two
      and the search direction is kept at the size of ``M``: results do not depend on the scale
      of ``b``, ``A`` or ``M`` anywhere in the floating range of the dtype (``A x = s b`` gives
      ``s x`` with the same iterations) as long as ``x`` itself is representable;
    - the residual is also tested after the last iteration;
    - breakdowns and NaN are reported in ``info`` instead of returning NaN, and a product of
      ``A`` or ``M`` of the wrong shape or kind raises a ``ValueError``.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric positive definite ``n × n`` operator, real. Its products must map an
        ``(n,)`` vector to an ``(n,)`` real vector.
    b : (n,) or (n, k) array
        Right-hand side (an ``(n, 1)`` column is a vector, as in SciPy), real. With ``k >= 2``
        columns (SciPy's ``cg`` takes vectors only) every column is solved in one blocked
        iteration: one block product ``A @ P`` and one application of ``M`` to a block per
        iteration, each column with its own CG scalars, stopping rule, true-residual check
        and iteration count; finished columns leave the block. Column ``j`` follows the
        same recursion as a 1-D solve of ``b[:, j]`` (iteration counts agree up to rounding).
    x0 : (n,) or (n, k) array, None or 'Mb', optional
        Starting guess: zero by default; ``'Mb'`` starts from ``M @ b`` (``b`` without ``M``),
        as in SciPy.
    rtol, atol : float
        Relative and absolute tolerances on the residual norm, ``>= 0`` (``inf`` allowed: then
        ``x0`` is returned at once).
    maxiter : int, optional
        Iteration cap, ``10 n`` by default.
    M : operator, optional
        Preconditioner approximating ``A⁻¹`` (for example a :class:`NystromPreconditioner`),
        in any form ``A`` accepts.
    callback : callable, optional
        Called as ``callback(xk)`` after each iteration (with a 2-D ``b``: after each block
        iteration, with the ``(n, k)`` current iterates).
    full_output : bool
        Also return a :class:`SolveResult` (a :class:`BlockSolveResult` for a 2-D ``b``).

    Returns
    -------
    x : (n,) or (n, k) array
        The solution, with ``b``'s dtype promoted with ``A``'s, on ``b``'s device.
    info : int, or (k,) int ndarray for a 2-D ``b``
        0 converged (the true residual meets the rule); ``> 0`` the iterations used without
        converging: ``maxiter``, or fewer when the true residual stagnated at the rounding
        level (``result.stagnated``); ``< 0`` breakdown (see :class:`SolveResult`). For a
        2-D ``b``, one code per column (a host array, whatever the backend).
    result : SolveResult or BlockSolveResult
        Only with ``full_output=True``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> x, info = pcg(A, np.array([1.0, 2.0]), rtol=1e-12)
    >>> info, np.allclose(A @ x, [1.0, 2.0])
    (0, True)
    >>> x, info = pcg(A, np.array([1e-300, 2e-300]), rtol=1e-12)   # scale-invariant
    >>> info, np.allclose(A @ x * 1e300, [1.0, 2.0])
    (0, True)
    >>> X, info = pcg(A, np.array([[1.0, 0.0], [2.0, 1.0]]), rtol=1e-12)   # two right-hand sides
    >>> info.tolist(), np.allclose(A @ X, [[1.0, 0.0], [2.0, 1.0]])
    ([0, 0], True)
    """
    if _is_block(b):
        return _block_pcg(A, b, x0, rtol, atol, maxiter, M, callback, full_output)
    op, b, x0, xp, dtype = _prepare(A, b, x0)
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, op.shape[0], callback)
    full_output = check_bool(full_output, "full_output")
    Mop = None if M is None else _as_preconditioner(M, op.shape)
    x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, Mop, callback)
    return (x, info, result) if full_output else (x, info)


def _is_block(b) -> bool:
    """A right-hand side of shape ``(n, k)``, ``k != 1`` (an ``(n, 1)`` column is a vector, as in SciPy)."""
    shape = getattr(b, "shape", None)
    return isinstance(shape, tuple) and len(shape) == 2 and shape[1] != 1 and getattr(b, "ndim", None) == 2


def _block_pcg(A, b, x0, rtol, atol, maxiter, M, callback, full_output):
    from ._block_pcg import BlockSolveResult, block_pcg, prepare_block

    op, B, x0, xp, dtype = prepare_block(A, b, x0)
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, op.shape[0], callback)
    full_output = check_bool(full_output, "full_output")
    Mop = None if M is None else _as_preconditioner(M, op.shape)
    X, info, columns, products = block_pcg(op, B, x0, xp, dtype, rtol, atol, maxiter, callback, M=Mop)
    result = BlockSolveResult(info, columns, products, sum(c.matvecs for c in columns))
    return (X, info, result) if full_output else (X, info)


def _as_preconditioner(M, shape):
    if isinstance(M, NystromPreconditioner):
        return M.as_operator()
    _check_real_dtype(M, "M")
    Mop = as_operator(M, shape=shape, name="M")
    if Mop.shape != shape:
        raise ValueError(f"M must have shape {shape} like A, got {Mop.shape}")
    return Mop


def _host(xp, *values):
    """0-d device arrays as Python floats, in one transfer."""
    if len(values) == 1:
        return (_backend.to_float(values[0]),)
    return tuple(float(v) for v in _backend.to_numpy(xp.stack(values)))


def _scale(xp, v):
    """``(m, v / m)`` with ``m = max|v|`` on the device (``v`` itself when ``m = 0``)."""
    m = xp.max(xp.abs(v))
    return m, v / xp.where(m > 0, m, xp.ones_like(m))


def _dot(xp, u, v, safe_min):
    """``uᵀv`` as ``(d, m_u, m_v)`` with ``uᵀv = d · m_u · m_v``, never under/overflowing.

    The plain sum first (one reduction): if it is finite and at least ``safe_min`` in size, no
    term overflowed and the terms that underflowed are negligible, so it is used as is
    (``m_u = m_v = 1``). Otherwise (tiny or huge vectors, NaN, inf) ``u`` and ``v`` are divided
    by their largest magnitudes before the products, as LAPACK's ``nrm2`` scales before
    squaring; NaN or inf then show in ``m_u``, ``m_v`` or ``d``.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # judged below (NumPy only)
        return _dot_parts(xp, u, v, safe_min)


def _dot_parts(xp, u, v, safe_min):
    (d,) = _host(xp, xp.sum(u * v))
    if math.isfinite(d) and abs(d) >= safe_min:
        return d, 1.0, 1.0
    if u is v:
        m, w = _scale(xp, u)
        d, m = _host(xp, xp.sum(w * w), m)
        return d, m, m
    m_u, w_u = _scale(xp, u)
    m_v, w_v = _scale(xp, v)
    d, m_u, m_v = _host(xp, xp.sum(w_u * w_v), m_u, m_v)
    return d, m_u, m_v


def _finite(*values):
    return all(math.isfinite(v) for v in values)


def _check_product(out, name, n, xp, dtype):
    """The first product of an operator: shape ``(n,)`` and real content, else ``ValueError``."""
    shape = tuple(getattr(out, "shape", ()) or ())
    if getattr(out, "shape", None) is None or shape != (n,):
        raise ValueError(f"{name} returned an array of shape {shape} for a vector of shape ({n},): "
                         f"its products must have shape ({n},)")
    check_real_product(xp, out, name)


def _pcg(op: Operator, b, x0, xp, dtype, rtol, atol, maxiter, M, callback, shift=0.0, probe=None):
    """The CG iteration on validated inputs; ``shift`` adds ``shift·I`` to ``op``.

    ``probe`` (a :class:`rnla._cg_probe.CGProbe`, with ``M = None``) is fed CG's coefficients;
    when it says so, the iteration goes on with the preconditioner ``probe.switch`` builds.

    Scale-free, so that nothing under- or overflows that the exact values would not:

    - every inner product goes through :func:`_dot`, and CG's scalars are formed as products
      of ratios of its parts;
    - a right-hand side far from unit size is divided by a power of two near ``‖b‖`` (exact),
      the system solved for ``x / σ`` and the result scaled back;
    - the search direction is kept as ``d = p / ‖r‖``, so ``A d`` does not shrink with the
      residual (``p`` alone makes ``A p`` underflow on a tiny ``A`` near convergence).
    """
    n = b.shape[0]
    finfo = xp.finfo(dtype)
    safe_min = float(finfo.smallest_normal) / float(finfo.eps)
    checked = {"A": False, "M": False}

    def product(name, f, v):
        out = f(v)
        if not checked[name]:
            _check_product(out, name, n, xp, dtype)
            checked[name] = True
        if out.dtype != dtype:
            out = xp.astype(out, dtype)
        return out

    def apply(v):
        out = product("A", op.matvec, v)
        return out + shift * v if shift else out

    def norm(parts):
        d, m, _ = parts
        return math.sqrt(d) * m if d >= 0 else math.nan

    bnorm = norm(_dot(xp, b, b, safe_min))
    history = []
    matvecs = 0
    if bnorm == 0.0:
        x = xp.zeros_like(b)
        return x, 0, SolveResult(0, _MESSAGES[0], 0, 0, [0.0])
    tol = max(atol, rtol * bnorm)
    # Scale b to about unit norm when it is far from it (a power of two: exact).
    exponent = math.frexp(bnorm)[1]
    sigma = 1.0
    if abs(exponent) > math.frexp(float(finfo.max))[1] // 4:  # 256 for float64, 32 for float32
        sigma = math.ldexp(1.0, exponent)
        b = b / sigma
        tol = tol / sigma
        if x0 is not None and not isinstance(x0, str):
            x0 = x0 / sigma

    def unscaled(v):
        return v if sigma == 1.0 else v * sigma

    if x0 is None:
        x = xp.zeros_like(b)
        r = b
    else:
        if isinstance(x0, str):  # 'Mb'
            x = xp.asarray(b if M is None else product("M", M.matvec, b), copy=True)
        else:
            x = x0
        r = b - apply(x)
        matvecs += 1
    info = maxiter
    iterations = 0
    r_exact = True  # r is b - A x computed directly, not by the recursion
    prev = None  # (rᵀz as (d, m_r, m_z), ‖r‖) of the previous iteration
    d = None  # the search direction p / ‖r‖
    failed_check = math.inf  # the true residual at the last convergence check that failed
    stagnated = False
    while True:
        rr = _dot(xp, r, r, safe_min)
        rnorm = norm(rr)
        history.append(rnorm * sigma)
        if not _finite(rnorm, *rr):
            info = -3
            break
        if (rnorm < tol or rnorm == 0.0) and not r_exact:
            # The recursion says converged: check the true residual (one more product).
            r = b - apply(x)
            matvecs += 1
            r_exact = True
            d, prev = None, None  # if it fails, restart the directions from the true residual
            rr = _dot(xp, r, r, safe_min)
            rnorm = norm(rr)
            history[-1] = rnorm * sigma
            if not _finite(rnorm, *rr):
                info = -3
                break
            if not (rnorm < tol or rnorm == 0.0):
                if probe is not None:
                    probe.reset()  # the restart breaks the Lanczos relation of what it recorded
                # A second failed check that did not halve the true residual: the iterate is at
                # the accuracy the dtype allows, and more iterations would only repeat this.
                if rnorm > 0.5 * failed_check:
                    stagnated = True
                    info = max(iterations, 1)
                    break
                failed_check = rnorm
        if rnorm < tol or rnorm == 0.0:
            info = 0
            break
        if iterations >= maxiter:
            break
        if probe is not None and probe.stop(iterations, rnorm, tol):
            # The sketch pays: go on from x with its preconditioner (directions restarted
            # from the current residual), or without one if the sketch says it would not.
            M = probe.switch(iterations)
            probe = None
            if M is not None:
                d, prev = None, None
        if M is None:
            z, rz = r, rr
        else:
            z = product("M", M.matvec, r)
            rz = _dot(xp, r, z, safe_min)
            if not _finite(*rz):
                info = -3
                break
        if rz[0] <= 0 or rz[2] == 0:
            info = -2
            break
        # p = z + β p₋ with β = rᵀz / r₋ᵀz₋, kept as d = p / ‖r‖.
        if d is None:
            d = z / rnorm
        else:
            (rz_prev, rnorm_prev) = prev
            gamma = (rz[0] / rz_prev[0]) * (rz[1] / rz_prev[1]) * (rz[2] / rz_prev[2]) * (rnorm_prev / rnorm)
            d = z / rnorm + gamma * d
        q = apply(d)
        matvecs += 1
        dq = _dot(xp, d, q, safe_min)
        if not _finite(*dq):
            info = -3
            break
        if dq[0] <= 0 or dq[1] == 0 or dq[2] == 0:
            info = -1
            break
        # α p = (rᵀz / pᵀA p) p = (rᵀz / (‖r‖ dᵀA d)) d
        alpha = (rz[0] / dq[0]) * (rz[1] / dq[1]) * (rz[2] / dq[2]) / rnorm
        if not math.isfinite(alpha):
            info = -3
            break
        x = x + alpha * d
        r = r - alpha * q
        if probe is not None:
            probe.step(rnorm / alpha, rnorm)
        r_exact = False
        prev = (rz, rnorm)
        iterations += 1
        if callback is not None:
            callback(unscaled(x))
    if stagnated:
        message = (f"stagnated after {iterations} iterations: the true residual "
                   f"{rnorm / bnorm * sigma:.2g}·‖b‖ is at the rounding level of {dtype} and cannot "
                   "reach the tolerance; loosen rtol")
    else:
        message = _MESSAGES.get(info, f"not converged within maxiter={maxiter} iterations")
    return unscaled(x), info, SolveResult(info, message, iterations, matvecs, history, stagnated=stagnated)


def nystrom_pcg(A, b, mu=0.0, *, rank="auto", x0=None, rtol=1e-5, atol=0.0, maxiter=None,
                callback=None, random_state=None, full_output=False, max_rank=None, sketch="gaussian"):
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
    b : (n,) or (n, k) array
        Right-hand side; ``k >= 2`` columns are solved in one blocked iteration (see
        :func:`pcg`) sharing one sketch.
    mu : float or (k,) array, default 0
        Regularisation ``μ >= 0``; with a 2-D ``b``, a number or one shift per column (a
        regularization path). The sketch is taken once, for the smallest positive shift
        when ``rank='auto'``, and turned into one preconditioner per distinct shift (same
        eigenpairs). Columns with ``μ_j = 0`` next to positive shifts run plain CG (the
        identity preconditioner: on a consistent singular system CG from 0 then gives the
        minimum-norm solution); when every shift is 0, every column is preconditioned as in
        the 1-D case.
    rank : 'auto' or int, default 'auto'
        Sketch size ``ℓ``. ``'auto'`` (1-D ``b``) first runs plain CG, which stops for a
        sketch only when its own coefficients predict (the Lanczos Ritz values and CG's
        bound) at least three times as many iterations still to go as the sketch would cost
        (a cost model in ``rnla._cg_probe``, from the operator's ``flops``): a problem plain
        CG solves cheaply is solved exactly as :func:`pcg` solves it, with no sketch
        (``result.rank == 0``, ``sketch_matvecs == 0``). Otherwise the sketch starts at 32
        columns (16 for ``mu = 0``) and doubles, reusing earlier columns, until the smallest
        sketched eigenvalue ``λ̂_ℓ <= 10 μ`` (so the preconditioned condition number is
        about 10 or less), ``ℓ`` reaches ``max_rank``, or a doubling is no longer predicted
        (from the decay of the sketched spectrum) to cut CG's iterations by at least 10 %.
        The preconditioner is then kept only if it is predicted to at least halve the
        iterations (else ``result.rank`` is 0), and CG goes on from its iterate with it
        (``result.probe_iterations`` counts the plain ones before). An integer
        ``1 <= rank <= n`` fixes ``ℓ`` and sketches first, as ``x0='Mb'`` does.
    x0, rtol, atol, maxiter, callback
        As in :func:`pcg` (``x0='Mb'`` starts from the Nyström preconditioner applied to
        ``b``). ``info == 0`` means the true residual ``‖b − (A + μI) x‖`` meets SciPy's rule.
    random_state : None, int or numpy.random.Generator
        Seed of the sketch.
    full_output : bool
        Also return a :class:`SolveResult` with the rank, sketch and total matvec counts,
        iterations, residual history and the preconditioner.
    max_rank : int, optional
        Cap of the adaptive sketch, ``min(n, 1024)`` by default.
    sketch : {'gaussian', 'sparse_sign', 'srtt'} or callable, default 'gaussian'
        Test matrix of the sketch, passed to :func:`rnla.nystrom` / the adaptive sketch.

    Returns
    -------
    x, info[, result]
        As in :func:`pcg`. For a 2-D ``b`` the :class:`BlockSolveResult` has per-column
        results (each with its rank, preconditioner and its products, the shared sketch
        included) and the totals: block products, products with ``A``, sketch products.

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
    >>> Y = rng.standard_normal((500, 3))                      # three targets, three penalties
    >>> W, info = nystrom_pcg(H, X.T @ Y / 500, mu=[1e-2, 1e-4, 1e-6], rtol=1e-10, random_state=0)
    >>> info.tolist(), W.shape
    ([0, 0, 0], (100, 3))
    """
    if _is_block(b):
        from ._block_pcg import nystrom_pcg_block

        return nystrom_pcg_block(A, b, mu, rank=rank, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
                                 callback=callback, random_state=random_state, full_output=full_output,
                                 max_rank=max_rank, sketch=sketch)
    op, b, x0, xp, dtype = _prepare(A, b, x0)
    mu = check_nonnegative(mu, "mu")
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, op.shape[0], callback)
    full_output = check_bool(full_output, "full_output")
    n = op.shape[0]
    # Checked up front: plain CG may finish before anything is sketched.
    if max_rank is not None:
        max_rank = check_positive_int(max_rank, "max_rank", upper=n, upper_name="the dimension of A")
    rank = check_auto_or(rank, "rank", check_positive_int, upper=n, upper_name="the dimension of A")
    check_sketch(sketch)
    _backend.check_random_state(random_state)
    if rank != "auto" or isinstance(x0, str):
        approx = _sketch_for(op, mu, rank, max_rank, xp, dtype, b, random_state, sketch)
        P = NystromPreconditioner(approx, mu)
        # A dropped preconditioner (rank 0) is the identity: CG without one saves its application.
        M = P.as_operator() if approx.rank > 0 else None
        x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, M, callback, shift=mu)
        _record(result, approx, P)
        return (x, info, result) if full_output else (x, info)
    # Plain CG first; it sketches only where a sketch is predicted to pay, and goes on from
    # its iterate with the preconditioner (or without, if the sketch says it would not pay).
    built = []

    def sketch_now():
        approx = _sketch_for(op, mu, rank, max_rank, xp, dtype, b, random_state, sketch)
        built.append((approx, NystromPreconditioner(approx, mu)))
        return built[0][1].as_operator() if approx.rank > 0 else None

    initial = DEFAULT_INITIAL_RANK if mu > 0 else ZERO_MU_INITIAL_RANK
    probe = CGProbe(sketch_price(op, n, min(initial, n)), sketch_now)
    x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, None, callback, shift=mu,
                           probe=probe)
    if built:
        _record(result, *built[0])
        result.probe_iterations = probe.switched_at
    else:  # solved before a sketch was worth taking: the identity preconditioner
        empty = NystromApprox(xp.zeros((n, 0), dtype=dtype, device=_backend.device_of(b)),
                              xp.zeros((0,), dtype=dtype, device=_backend.device_of(b)), 0)
        result.rank = 0
        result.preconditioner = NystromPreconditioner(empty, mu)
    return (x, info, result) if full_output else (x, info)


def _record(result, approx, P):
    result.rank = approx.rank
    result.sketch_matvecs = approx.sketch_size
    result.matvecs += approx.sketch_size
    result.preconditioner = P


def _sketch_for(op, mu, rank, max_rank, xp, dtype, like, random_state, sketch):
    """The Nyström approximation :func:`nystrom_pcg` preconditions with (``rank`` checked here)."""
    n = op.shape[0]
    if max_rank is not None:
        max_rank = check_positive_int(max_rank, "max_rank", upper=n, upper_name="the dimension of A")
    rank = check_auto_or(rank, "rank", check_positive_int, upper=n, upper_name="the dimension of A")
    if rank == "auto":
        return adaptive_nystrom(op, mu, xp=xp, dtype=dtype, device=_backend.device_of(like),
                                random_state=random_state, max_rank=max_rank, stop="cost", sketch=sketch)
    return nystrom(op, rank, oversample=0, random_state=random_state, like=like, sketch=sketch)



# The blocked solver (a 2-D b) builds on this module's SolveResult and checks: imported last.
from ._block_pcg import BlockSolveResult  # noqa: E402
