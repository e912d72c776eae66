"""Exact ``log det(A + μI)`` and ``tr((A + μI)⁻¹)`` by Cholesky (``method='exact'`` of
:mod:`rnla.matrix_functions`).

- Dense NumPy: :func:`scipy.linalg.cho_factor` (LAPACK ``potrf``), and ``potri`` for the
  inverse's diagonal; float32 stays float32 (``spotrf``/``spotri``).
- Other dense backends (CuPy, any array-API namespace): their ``cholesky`` and a triangular
  solve, ``tr(A⁻¹) = ‖L⁻¹‖_F²``.
- SciPy sparse: :func:`scipy.sparse.linalg.splu` with a symmetric ordering and no row
  pivoting (``diag_pivot_thresh=0``, ``SymmetricMode``), i.e. ``PAPᵀ = L D Lᵀ``: ``A`` is
  positive definite iff every pivot ``d_i > 0`` and no row pivoting happened;
  ``log det = Σ log d_i``; ``tr(A⁻¹)`` by ``n`` solves in blocks.
- Operators given by products (LinearOperator, callables): formed from ``n`` products in blocks,
  symmetrised, then as dense. A :class:`~rnla.GramOperator` is formed from its data directly.
"""

from __future__ import annotations

import math

import numpy as np

from . import _backend
from .nystrom import _resolve
from .operators import GramOperator

#: Columns per block when forming an operator or solving with the identity.
BLOCK = 512


def _not_pd(detail):
    from .matrix_functions import NotPositiveDefiniteError

    return NotPositiveDefiniteError(f"A + mu I is not positive definite ({detail})")


def exact_sum(kind, A, op, mu, like):
    """``(value, products used)`` of the exact spectral sum of ``A + μI``."""
    n = op.shape[0]
    if _backend.is_sparse(A):
        import scipy.sparse as sp

        if not sp.issparse(A):
            raise NotImplementedError("method='exact' on CuPy sparse matrices is not implemented: "
                                      "use method='slq' or pass a dense matrix")
        return _sparse(kind, A, mu), 0
    _backend.check_fits(n, "A", per=n, what=f"dense {n} × {n} copy of A")
    xp, dtype, device = _resolve(op, like)
    used = 0
    if isinstance(op, GramOperator):
        M = _gram_matrix(op)
    elif op.xp is not None and _is_dense(A):
        M = xp.astype(A, dtype, copy=True)
    else:
        M, used = _form(op, xp, dtype, device), n
    M = M + mu * xp.eye(n, dtype=dtype, device=device) if mu else M
    return _dense(kind, M, xp), used


def _is_dense(A):
    import array_api_compat

    return array_api_compat.is_array_api_obj(A)


def _gram_matrix(op):
    xp, X, w = op.xp, op.X, op.weights
    if _backend.is_sparse(X):
        WX = X if w is None else X.multiply(xp.reshape(w, (-1, 1))).tocsr()
        G = X.T @ WX
        G = xp.asarray(G.toarray())
    else:
        WX = X if w is None else X * xp.reshape(w, (-1, 1))
        G = xp.matmul(xp.matrix_transpose(X), WX)
    G = G * (1.0 / op.n_samples)
    if op.mu:
        G = G + op.mu * xp.eye(G.shape[0], dtype=G.dtype, device=_backend.device_of(G))
    return xp.astype(G, op.dtype)


def _form(op, xp, dtype, device):
    n = op.shape[0]
    cols = []
    for j in range(0, n, BLOCK):
        k = min(BLOCK, n - j)
        out = op.matmat(xp.eye(n, k, k=-j, dtype=dtype, device=device))  # columns j … j+k−1 of I
        cols.append(out if out.dtype == dtype else xp.astype(out, dtype))
    M = xp.concat(cols, axis=1)
    if not bool(xp.all(xp.isfinite(M))):
        raise ValueError("A produced NaN or infinity in a product (check the operator A)")
    return (M + xp.matrix_transpose(M)) / 2


def _dense(kind, M, xp):
    import array_api_compat

    if array_api_compat.is_numpy_namespace(xp):
        import scipy.linalg

        try:
            c, _ = scipy.linalg.cho_factor(M, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise _not_pd(f"Cholesky failed: {exc}") from exc
        d = np.diagonal(c).astype(np.float64)
        if kind == "logdet":
            return _logdet_of_diag(d, squared=True)
        (potri,) = scipy.linalg.get_lapack_funcs(("potri",), (c,))
        inv, info = potri(c, lower=True, overwrite_c=True)
        if info != 0:
            raise _not_pd(f"potri returned info={info}")
        return _finite(float(np.sum(np.diagonal(inv), dtype=np.float64)), kind)
    try:
        L = _backend.cholesky(xp, M)
    except np.linalg.LinAlgError as exc:
        raise _not_pd(f"Cholesky failed: {exc}") from exc
    d = _backend.to_numpy(xp.linalg.diagonal(L)).astype(np.float64)
    if kind == "logdet":
        return _logdet_of_diag(d, squared=True)
    n = M.shape[0]
    total = 0.0
    for j in range(0, n, BLOCK):
        k = min(BLOCK, n - j)
        E = xp.eye(n, k, k=-j, dtype=M.dtype, device=_backend.device_of(M))
        Y = _backend.solve_triangular(xp, L, E, lower=True)
        total += _backend.to_float(xp.sum(Y * Y))
    return _finite(total, kind)


def _logdet_of_diag(d, squared):
    if not np.all(d > 0) or not np.all(np.isfinite(d)):
        raise _not_pd("a non-positive pivot")
    return _finite((2.0 if squared else 1.0) * float(np.sum(np.log(d))), "logdet")


def _finite(value, kind):
    if not math.isfinite(value):
        raise _not_pd(f"the {kind} is not finite: numerically singular")
    return value


def _sparse(kind, A, mu):
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    A = sp.csc_matrix(A)
    dtype = _backend.float_dtype(np, A.dtype)
    A = A.astype(dtype)
    n = A.shape[0]
    if mu:
        A = (A + mu * sp.eye(n, dtype=dtype, format="csc")).tocsc()
    try:
        lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
    except RuntimeError as exc:  # "Factor is exactly singular"
        raise _not_pd(f"splu failed: {exc}") from exc
    d = lu.U.diagonal().astype(np.float64)
    if not np.array_equal(lu.perm_r, lu.perm_c) or not np.all(d > 0):
        raise _not_pd("a non-positive pivot in its LDLᵀ factorisation")
    if kind == "logdet":
        return _logdet_of_diag(d, squared=False)
    total = 0.0
    for j in range(0, n, BLOCK):
        k = min(BLOCK, n - j)
        E = np.zeros((n, k), dtype=dtype)
        E[j:j + k, :] = np.eye(k, dtype=dtype)
        total += float(np.sum(np.diagonal(lu.solve(E)[j:j + k, :]), dtype=np.float64))
    return _finite(total, kind)
