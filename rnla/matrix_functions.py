"""Log-determinants and traces of inverses of positive definite operators.

:func:`logdet` estimates ``log det(A + μI)`` and :func:`trace_inv` estimates ``tr((A + μI)⁻¹)``,
the two spectral sums of Gaussian-process likelihoods, ridge model selection and
uncertainty quantification. Both choose between

- ``'exact'``: a Cholesky factorisation (dense: LAPACK ``potrf``/``potri`` through
  :func:`scipy.linalg.cho_factor`, any other dense backend its own ``cholesky``; sparse:
  :func:`scipy.sparse.linalg.splu` with symmetric pivoting, an ``LDLᵀ`` factorisation;
  operators given only by products are formed first, at ``n`` products);
- ``'slq'``: stochastic Lanczos quadrature with Rademacher probes, adding probes until the
  standard error meets the tolerance, and Lanczos steps until the quadrature error does;

and ``'auto'`` compares their flop counts (see :func:`logdet`).

A general ``tr f(A)`` stays with :func:`rnla.slq` (fixed probes and steps, any ``f``): the two
named functions exist because for them the domain (positive definite), the shift, the exact
reference and the adaptive stopping rule are known, which a generic ``f`` does not provide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _backend
from ._validation import (
    check_auto_or,
    check_bool,
    check_nonnegative,
    check_option,
    check_positive_int,
    check_real_operator,
)
from .operators import GramOperator, as_operator

__all__ = ["NotPositiveDefiniteError", "SpectralSumResult", "logdet", "trace_inv"]

METHODS = ("auto", "exact", "slq")
#: Probes of the first SLQ batch when ``num_probes='auto'`` (enough for a usable standard error).
MIN_PROBES = 10
#: Lanczos steps of the first SLQ batch when ``num_steps='auto'`` (more if its rules disagree).
FIRST_STEPS = 20
#: Most Lanczos steps ``num_steps='auto'`` takes.
MAX_STEPS = 480
#: Products an SLQ run is assumed to need when ``method='auto'`` compares costs. Measured with the
#: defaults (benchmarks/logdet.py): logdet 200-1000, trace_inv 660-2700 (``1/t`` needs longer
#: Gauss rules than ``log t``, as CG needs more iterations than a log-determinant).
SLQ_PRODUCTS = {"logdet": 400, "trace_inv": 1200}
#: How many factorisation flops one flop of a thin block product is worth, in the cost model.
THIN_BLOCK_COST = 2.5
#: The same for a GramOperator, whose block products pass over X twice per Lanczos step (measured
#: 8-22 against forming XᵀX, benchmarks/logdet.py problem G).
GRAM_BLOCK_COST = 8.0
#: Largest n ``method='auto'`` factorises densely (the n × n copy: 512 MB in float64).
DENSE_EXACT_MAX = 8000
#: Largest sparse matrix ``method='auto'`` factorises (fill-in cannot be predicted cheaply).
SPARSE_EXACT_MAX = 2000
#: Columns per block when an operator is formed for ``'exact'``.
_FORM_BLOCK = 512


class NotPositiveDefiniteError(ValueError):
    """``A + μI`` is not (numerically) positive definite, so its log-determinant is undefined.

    A ``ValueError``: raised when its Cholesky factorisation fails, or when a Lanczos Ritz value
    of ``A + μI`` (which lies in its numerical range) is at or below the rounding level.
    """


@dataclass
class SpectralSumResult:
    """Details of a :func:`logdet` or :func:`trace_inv` estimate.

    Attributes
    ----------
    estimate : float
    error_estimate : float
        ``std_error + quadrature_error`` (0 for ``'exact'``), a one-standard-error scale: over
        seeds the error exceeds twice this in about 5-10 % of runs (more with the minimum of
        10 probes, whose standard error is itself a rough estimate).
    std_error : float
        Standard error of the mean over the probes.
    quadrature_error : float
        Estimated bias of the ``num_steps``-point Gauss rules, from the rules of fewer steps
        of the same Lanczos runs (geometric extrapolation of their differences); 0 when
        ``num_steps = n``, where the rules are exact (these runs are reorthogonalised).
    num_matvecs : int
        Products with ``A`` (all batches, discarded ones included; ``n`` when ``'exact'``
        formed the matrix from an operator, 0 when it factorised a matrix).
    num_probes, num_steps : int
        Probes and Lanczos steps per probe of the estimate (0 for ``'exact'``).
    method : str
        ``'exact'`` or ``'slq'`` (what ``'auto'`` chose).
    converged : bool
        Whether ``error_estimate <= max(rtol·|estimate|, atol)``.
    """

    estimate: float
    error_estimate: float
    std_error: float
    quadrature_error: float
    num_matvecs: int
    num_probes: int
    num_steps: int
    method: str
    converged: bool


_KINDS = {
    "logdet": lambda t: np.log(t),
    "trace_inv": lambda t: 1.0 / t,
}


def logdet(A, *, mu=0.0, method="auto", rtol=1e-2, atol=0.0, num_probes="auto", num_steps="auto",
           max_probes=500, random_state=None, full_output=False, like=None):
    """Log-determinant ``log det(A + μI)`` of a symmetric positive definite operator.

    ``'slq'`` estimates ``tr log(A + μI) ≈ (n / n_v) Σ_l Σ_k τ_lk log(θ_lk + μ)`` over ``n_v``
    Rademacher probes (one block Lanczos run, ``n_v · m`` products); Lanczos is
    shift-invariant, so ``μ`` costs nothing. Rademacher probes see no variance from the
    identity part of ``log(A + μI)``, so the relative standard error falls like
    ``1/√(n · n_v)`` on flat spectra: for large ``n`` the minimum of 10 probes is usually enough.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator, GramOperator or (shape, matvec[, matmat])
        Symmetric positive definite ``n × n`` operator (semidefinite if ``mu > 0``).
    mu : float, default 0
        Shift ``μ >= 0``: the result is for ``A + μI`` (no copy of ``A`` is made).
    method : {'auto', 'exact', 'slq'}
        ``'exact'``: Cholesky (dense ``A``: ``n³/3`` flops; sparse: ``splu`` in ``LDLᵀ`` form,
        ``log det = Σ log d_i``; any other operator is first formed from ``n`` products).
        ``'slq'``: stochastic Lanczos quadrature. ``'auto'`` takes ``'exact'`` when its flop
        count is below 2.5 times that of 400 products (thin block products run at about
        40 % of a factorisation's speed): dense ``n`` up to about 6000, sparse ``n`` up
        to 2000, a Gram operator of ``N × d`` data (``N ≫ d``; its products weigh 8×: two
        passes over the data per step) up to about ``d = 6000``; ``'slq'`` otherwise.
    rtol, atol : float, default 1e-2, 0
        SLQ stops adding probes (``num_probes='auto'``) once ``error_estimate <=
        max(rtol·|estimate|, atol)``, and adds Lanczos steps (``num_steps='auto'``) while
        the quadrature error exceeds a quarter of that. The default matches imate's.
    num_probes : 'auto' or int
        ``'auto'``: batches of Rademacher probes from 10, each sized from the
        standard error so far (at most doubling), up to ``max_probes``; an int: exactly that many.
    num_steps : 'auto' or int
        ``'auto'``: 20 Lanczos steps; while the quadrature error exceeds a quarter of the
        target, the first batch is rerun with the steps its convergence rate predicts (at most
        ×4 per rerun, up to 480); an int: that many (at most ``n``).
    max_probes : int, default 500
    random_state : None, int or numpy.random.Generator
    full_output : bool, default False
        Also return a :class:`SpectralSumResult`.
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    estimate : float
    result : SpectralSumResult
        Only if ``full_output``.

    Raises
    ------
    NotPositiveDefiniteError
        If ``A + μI`` is not numerically positive definite (a ``ValueError``).
    ValueError, TypeError
        For bad arguments, naming them.

    Warns
    -----
    UserWarning
        When ``num_probes='auto'`` did not meet the tolerance within ``max_probes`` probes
        (or the quadrature error alone exceeds it), without ``full_output``; with it, and with
        a fixed ``num_probes``, ``result.converged`` says whether the tolerance was met.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 3000))
    >>> A = X @ X.T / 3000                                       # 500 × 500, SPD
    >>> exact = np.linalg.slogdet(A + np.eye(500))[1]
    >>> bool(np.isclose(logdet(A, mu=1.0), exact))              # small: exact Cholesky
    True
    >>> est, info = logdet(A, mu=1.0, method="slq", random_state=0, full_output=True)
    >>> info.num_probes, info.num_steps, info.converged          # 1 % standard error in 200 products
    (10, 20, True)
    >>> bool(abs(est - exact) < 3 * info.error_estimate)
    True
    """
    return _spectral_sum("logdet", A, mu, method, rtol, atol, num_probes, num_steps, max_probes,
                         random_state, full_output, like)


def trace_inv(A, *, mu=0.0, method="auto", rtol=1e-2, atol=0.0, num_probes="auto", num_steps="auto",
              max_probes=500, random_state=None, full_output=False, like=None):
    """Trace of the inverse ``tr((A + μI)⁻¹)`` of a symmetric positive definite operator.

    ``'slq'`` estimates ``tr (A + μI)⁻¹ ≈ (n / n_v) Σ_l Σ_k τ_lk / (θ_lk + μ)`` over ``n_v``
    Rademacher probes (one block Lanczos run: no linear solves). The Gauss rule converges
    like CG on ``A + μI``, so ill-conditioned problems need more steps (``num_steps='auto'``
    finds them).

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator, GramOperator or (shape, matvec[, matmat])
        Symmetric positive definite ``n × n`` operator (semidefinite if ``mu > 0``).
    mu : float, default 0
        Shift ``μ >= 0``: the result is for ``A + μI`` (no copy of ``A`` is made).
    method : {'auto', 'exact', 'slq'}
        ``'exact'``: Cholesky (dense ``A``: ``n³/3`` flops plus ``2n³/3`` for the inverse's
        diagonal by ``potri``; sparse: ``splu`` in ``LDLᵀ`` form and ``n`` solves, so keep
        ``n`` small; any other operator is first formed from ``n`` products).
        ``'slq'``: stochastic Lanczos quadrature. ``'auto'`` takes ``'exact'`` when its flop
        count is below 2.5 times that of 1200 products (thin block products run at about
        40 % of a factorisation's speed; SLQ for ``1/t`` needs 700-2700 products on the
        benchmarks): dense ``n`` up to about 6000, sparse ``n`` up to 2000, a Gram operator
        of ``N × d`` data (``N ≫ d``; its products weigh 8×: two passes over the data per
        step) up to ``d = 8000``, the largest dense copy it makes; ``'slq'`` otherwise.
    rtol, atol : float, default 1e-2, 0
        SLQ stops adding probes (``num_probes='auto'``) once ``error_estimate <=
        max(rtol·|estimate|, atol)``, and adds Lanczos steps (``num_steps='auto'``) while
        the quadrature error exceeds a quarter of that. The default matches imate's.
    num_probes : 'auto' or int
        ``'auto'``: batches of Rademacher probes from 10, each sized from the
        standard error so far (at most doubling), up to ``max_probes``; an int: exactly that many.
    num_steps : 'auto' or int
        ``'auto'``: 20 Lanczos steps; while the quadrature error exceeds a quarter of the
        target, the first batch is rerun with the steps its convergence rate predicts (at most
        ×4 per rerun, up to 480); an int: that many (at most ``n``).
    max_probes : int, default 500
    random_state : None, int or numpy.random.Generator
    full_output : bool, default False
        Also return a :class:`SpectralSumResult`.
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    estimate : float
    result : SpectralSumResult
        Only if ``full_output``.

    Raises
    ------
    NotPositiveDefiniteError
        If ``A + μI`` is not numerically positive definite (a ``ValueError``).
    ValueError, TypeError
        For bad arguments, naming them.

    Warns
    -----
    UserWarning
        When ``num_probes='auto'`` did not meet the tolerance within ``max_probes`` probes
        (or the quadrature error alone exceeds it), without ``full_output``; with it, and with
        a fixed ``num_probes``, ``result.converged`` says whether the tolerance was met.

    Examples
    --------
    >>> import numpy as np
    >>> lam = np.linspace(1.0, 4.0, 3000)
    >>> est = trace_inv(np.diag(lam), method="slq", random_state=0)
    >>> bool(abs(est - np.sum(1 / lam)) < 0.01 * np.sum(1 / lam))
    True
    >>> round(trace_inv(np.diag([1.0, 2.0, 4.0]), mu=1.0), 12)   # small: exact, 1/2 + 1/3 + 1/5
    1.033333333333
    """
    return _spectral_sum("trace_inv", A, mu, method, rtol, atol, num_probes, num_steps, max_probes,
                         random_state, full_output, like)


def _spectral_sum(kind, A, mu, method, rtol, atol, num_probes, num_steps, max_probes, random_state,
                  full_output, like):
    mu = check_nonnegative(mu, "mu")
    method = check_option(method, "method", METHODS)
    rtol = check_nonnegative(rtol, "rtol")
    atol = check_nonnegative(atol, "atol")
    num_probes = check_auto_or(num_probes, "num_probes", check_positive_int)
    num_steps = check_auto_or(num_steps, "num_steps", check_positive_int)
    max_probes = check_positive_int(max_probes, "max_probes")
    full_output = check_bool(full_output, "full_output")
    check_real_operator(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    if num_probes != "auto":
        _backend.check_fits(num_probes, "num_probes", per=n, what=f"{n} × num_probes probe block")
    rng = _backend.check_random_state(random_state)
    if method == "auto":
        method = _choose(kind, A, op)
    if method == "exact":
        from ._factor_sums import exact_sum

        value, used = exact_sum(kind, A, op, mu, like)
        result = SpectralSumResult(value, 0.0, 0.0, 0.0, used, 0, 0, "exact", True)
    else:
        from ._slq_sums import adaptive_slq

        result = adaptive_slq(kind, op, mu, rtol, atol, num_probes, num_steps, max_probes, rng, like)
    if not full_output:
        if not result.converged and num_probes == "auto":
            import warnings

            warnings.warn(f"{kind}: the error estimate {result.error_estimate:.3g} did not reach "
                          f"max(rtol·|estimate|, atol) = {max(rtol * abs(result.estimate), atol):.3g} "
                          f"within {result.num_probes} probes of {result.num_steps} steps "
                          "(raise max_probes, or loosen rtol)", UserWarning, stacklevel=3)
        return result.estimate
    return result.estimate, result


def _product_flops(A, op):
    """Flops of one product with ``A`` (dense: ``2n²``; sparse: ``2 nnz``; Gram: ``4 nnz(X)``)."""
    n = op.shape[0]
    if isinstance(op, GramOperator):
        X = op.X
        return 4.0 * (X.nnz if _backend.is_sparse(X) else X.shape[0] * X.shape[1])
    if _backend.is_sparse(A):
        return 2.0 * A.nnz
    return 2.0 * n * n


def _choose(kind, A, op):
    """``'exact'`` when the factorisation costs less than :data:`SLQ_PRODUCTS` products of ``kind``.

    Flops of the products count :data:`THIN_BLOCK_COST` (:data:`GRAM_BLOCK_COST` for a Gram
    operator) times those of a factorisation: thin block products are memory-bound where
    Cholesky and forming a Gram matrix run at BLAS-3 speed (measured on 2 cores: 19-22 GFlop/s
    against 36-51 GFlop/s). Nothing above :data:`DENSE_EXACT_MAX` is factorised densely.
    """
    n = op.shape[0]
    weight = GRAM_BLOCK_COST if isinstance(op, GramOperator) else THIN_BLOCK_COST
    slq_cost = weight * SLQ_PRODUCTS[kind] * _product_flops(A, op)
    factor = n**3 / 3 + (2 * n**3 / 3 if kind == "trace_inv" else 0.0)
    if _backend.is_sparse(A):
        return "exact" if n <= SPARSE_EXACT_MAX and _is_scipy_sparse(A) else "slq"
    if n > DENSE_EXACT_MAX:
        return "slq"
    if isinstance(op, GramOperator):
        X = op.X
        form = 2.0 * (X.nnz if _backend.is_sparse(X) else X.shape[0] * X.shape[1]) * n
        return "exact" if form + factor <= slq_cost else "slq"
    if _is_dense_matrix(A):
        return "exact" if factor <= slq_cost else "slq"
    return "exact" if n * _product_flops(A, op) + factor <= slq_cost else "slq"


def _is_scipy_sparse(A):
    import scipy.sparse as sp

    return sp.issparse(A)


def _is_dense_matrix(A):
    import array_api_compat

    return array_api_compat.is_array_api_obj(A) and not _backend.is_sparse(A)
