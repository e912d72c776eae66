"""Randomized Nyström approximation of PSD operators and the Nyström preconditioner.

The approximation follows the numerically stable shifted algorithm of Tropp, Yurtsever,
Udell and Cevher (arXiv:1706.05736, Alg. 3); the preconditioner is the one of Frangella,
Tropp and Udell (arXiv:2110.02820, eq. 5.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _backend
from ._validation import check_nonnegative, check_positive_int
from .operators import Operator, as_operator
from .sketch import orthonormal_sketch

__all__ = ["NotPositiveSemidefiniteError", "NystromApprox", "NystromPreconditioner", "nystrom"]


class NotPositiveSemidefiniteError(ValueError):
    """A sketch showed that an operator assumed positive semidefinite clearly is not.

    A ``ValueError``, so existing handlers keep working; callers that can do without a
    preconditioner (Newton-CG on a non-convex function) catch this class alone.
    """


@dataclass(repr=False)
class NystromApprox:
    """A low-rank PSD approximation ``Â = U diag(eigvals) Uᵀ`` of an ``n × n`` operator.

    Attributes
    ----------
    U : (n, r) array
        Orthonormal columns (the approximate eigenvectors).
    eigvals : (r,) array
        Approximate eigenvalues, descending and ``>= 0``.
    sketch_size : int
        Number of columns of the test matrix (matrix-vector products spent).
    shift : float
        The stabilising shift ``ν`` used in the construction.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([3.0, 2.0, 1.0, 0.0])
    >>> approx = nystrom(A, 3, random_state=0)
    >>> approx.rank, np.round(approx.eigvals, 8).tolist()
    (3, [3.0, 2.0, 1.0])
    >>> np.allclose(approx.to_dense(), A)
    True
    """

    U: object
    eigvals: object
    sketch_size: int
    shift: float = 0.0

    @property
    def rank(self) -> int:
        """Number of retained eigenpairs."""
        return int(self.eigvals.shape[0])

    @property
    def shape(self):
        n = self.U.shape[0]
        return (n, n)

    @property
    def dtype(self):
        return self.U.dtype

    def matmat(self, V):
        """``Â V`` for a block ``V`` of shape ``(n, k)``."""
        return self.U @ (self.eigvals[:, None] * (self.U.T @ V))

    def matvec(self, v):
        """``Â v`` for a vector ``v`` of shape ``(n,)``."""
        return self.U @ (self.eigvals * (self.U.T @ v))

    def __matmul__(self, V):
        return self.matvec(V) if V.ndim == 1 else self.matmat(V)

    def to_dense(self):
        """The ``n × n`` matrix ``U diag(eigvals) Uᵀ`` (small problems and tests only)."""
        return (self.U * self.eigvals) @ self.U.T

    def __repr__(self):
        return f"NystromApprox(n={self.shape[0]}, rank={self.rank}, sketch_size={self.sketch_size})"


def _nystrom_factor(Omega, Y, xp, name="A"):
    """Stable Nyström factor ``B`` with ``Â_ν = B Bᵀ``, from orthonormal ``Omega`` and ``Y = A Omega``.

    Returns ``(B, shift)``; ``B`` has no columns when ``Y = 0``.
    """
    n, ell = Omega.shape
    eps = xp.finfo(Y.dtype).eps
    ynorm = _backend.to_float(xp.linalg.matrix_norm(Y))
    if not math.isfinite(ynorm):
        raise ValueError(f"{name} produced NaN or infinity in its products")
    if ynorm == 0.0:
        return xp.zeros((n, 0), dtype=Y.dtype, device=_backend.device_of(Y)), 0.0
    nu = math.sqrt(n) * eps * ynorm
    core = Omega.T @ Y
    asym = _backend.to_float(xp.linalg.matrix_norm(core - core.T))
    if asym > math.sqrt(eps) * _backend.to_float(xp.linalg.matrix_norm(core)):
        raise ValueError(f"{name} is not symmetric (Ωᵀ{name}Ω is not symmetric for a random Ω)")
    Y_nu = Y + nu * Omega
    # Ωᵀ(Y + νΩ) = ΩᵀY + νI because Ω has orthonormal columns: no second product needed.
    C = (core + core.T) * 0.5 + nu * xp.eye(ell, dtype=Y.dtype, device=_backend.device_of(Y))
    try:
        L = _backend.cholesky(xp, C)
        B = _backend.solve_triangular(xp, L, Y_nu.T, lower=True).T
    except np.linalg.LinAlgError:
        B = _eigh_factor(xp, C, Y_nu, name)
    return B, nu


def _eigenpairs(xp, B, nu, vectors=True):
    """``(U, Λ̂)``: eigenpairs of ``B Bᵀ`` less the shift ``ν``, clipped at 0 (``U = None`` if not
    ``vectors``)."""
    if B.shape[1] == 0:
        return B, xp.zeros((0,), dtype=B.dtype, device=_backend.device_of(B))
    if vectors:
        U, S, _ = xp.linalg.svd(B, full_matrices=False)
    else:
        U, S = None, xp.linalg.svdvals(B)
    lam = S * S - nu
    return U, xp.where(lam > 0, lam, xp.zeros_like(lam))


def _eigh_factor(xp, C, Y_nu, name):
    """Fallback of the Cholesky step: ``B = Y_ν W diag(s)^{-1/2}`` over the positive part of C."""
    s, W = _backend.eigh(xp, C)
    smax = _backend.to_float(s[-1])
    smin = _backend.to_float(s[0])
    eps = xp.finfo(C.dtype).eps
    if smin < -math.sqrt(eps) * max(smax, 0.0) or smax <= 0:
        raise NotPositiveSemidefiniteError(
            f"{name} is not positive semidefinite (ΩᵀAΩ has eigenvalue {smin:.3g})")
    # Eigenvalues ascend: keep the trailing ones above the rounding level (a slice, not a mask).
    first = s.shape[0] - _count(xp, s > (s.shape[0] * eps * smax))
    return (Y_nu @ W[:, first:]) / xp.sqrt(s[first:])


def _count(xp, mask) -> int:
    return int(_backend.to_float(xp.sum(xp.astype(mask, xp.int64))))


def _resolve(op: Operator, like=None):
    """Namespace, dtype and device for sketching ``op`` (callables take them from ``like``)."""
    if like is not None:
        xp = _backend.array_namespace(like)
        dtype = _backend.float_dtype(xp, op.dtype, like.dtype)
        return xp, dtype, _backend.device_of(like)
    if op.xp is None:
        xp = _backend.array_namespace()
        return xp, xp.float64, None
    return op.xp, _backend.float_dtype(op.xp, op.dtype), op.device


def _sketch(op, ell, xp, dtype, device, rng, Omega=None, Y=None):
    """Extend the sketch ``(Omega, Y)`` by ``ell`` new orthonormal columns (one block product)."""
    n = op.shape[0]
    new = orthonormal_sketch(n, ell, xp=xp, dtype=dtype, device=device, random_state=rng, against=Omega)
    Ynew = op.matmat(new)
    if Ynew.dtype != dtype:
        Ynew = xp.astype(Ynew, dtype)
    if Omega is None:
        return new, Ynew
    return xp.concat([Omega, new], axis=1), xp.concat([Y, Ynew], axis=1)


def nystrom(A, rank, *, oversample=10, random_state=None, like=None):
    """Randomized Nyström approximation of a symmetric positive semidefinite operator.

    Draws an orthonormal Gaussian test matrix ``Ω`` with ``ℓ = min(rank + oversample, n)``
    columns, applies ``A`` to it in one block product and forms the stable shifted Nyström
    approximation (Tropp et al. 2017, Alg. 3): with ``ν = √n·eps·‖AΩ‖_F``, ``C = chol(Ωᵀ(A+νI)Ω)``,
    ``B = (A+νI)Ω C⁻ᵀ = U Σ Vᵀ`` and ``Λ̂ = max(Σ² − ν, 0)``, truncated to the top ``rank``.
    Then ``Â = U Λ̂ Uᵀ ⪯ A`` (up to ``ν``), and in expectation the trace-norm error is within
    ``1 + rank/(ℓ − rank − 1)`` of the best rank-``rank`` error. If the Cholesky step fails
    (as it can in float32), an eigendecomposition of the core matrix replaces it.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric positive semidefinite ``n × n`` operator.
    rank : int
        Rank of the returned approximation, ``1 <= rank <= n``.
    oversample : int, default 10
        Extra sketch columns beyond ``rank`` (discarded by the truncation).
    random_state : None, int or numpy.random.Generator
        Seed of the test matrix.
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to sketch in
        (NumPy float64 otherwise).

    Returns
    -------
    NystromApprox

    Raises
    ------
    ValueError
        If ``rank`` is out of range, ``A`` is not square, clearly not symmetric or clearly
        not positive semidefinite, or contains NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((100, 5))
    >>> A = G @ G.T                       # rank 5
    >>> approx = nystrom(A, 5, random_state=0)
    >>> bool(np.linalg.norm(approx.to_dense() - A) < 1e-8 * np.linalg.norm(A))
    True
    """
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    rank = check_positive_int(rank, "rank", upper=n, upper_name="the dimension of A")
    if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or oversample < 0:
        raise ValueError(f"oversample must be a non-negative integer, got {oversample!r}")
    xp, dtype, device = _resolve(op, like)
    rng = _backend.check_random_state(random_state)
    ell = min(rank + int(oversample), n)
    Omega, Y = _sketch(op, ell, xp, dtype, device, rng)
    B, nu = _nystrom_factor(Omega, Y, xp)
    U, lam = _eigenpairs(xp, B, nu)
    rank = min(rank, lam.shape[0])  # fewer columns survive only for (numerically) low-rank A
    return NystromApprox(U[:, :rank], lam[:rank], ell, nu)


#: Defaults of the adaptive rank rule; see :func:`rnla.nystrom_pcg`.
ADAPTIVE_TOL = 10.0
DEFAULT_INITIAL_RANK = 32
DEFAULT_MAX_RANK = 1024


def adaptive_nystrom(op, mu, *, xp, dtype, device, random_state=None, initial_rank=None,
                     max_rank=None, tol=None):
    """Nyström sketch grown by doubling until ``λ̂_ℓ ≤ tol · μ`` or ``ℓ = max_rank``.

    Earlier columns of the test matrix and their products are reused: each doubling costs
    only the new columns. With ``mu = 0`` the reference scale is ``sqrt(eps)·λ̂_1`` instead,
    so the sketch grows until the spectrum has dropped to rounding level or the cap.

    Returns the :class:`NystromApprox` (all ``ℓ`` columns kept).
    """
    n = op.shape[0]
    tol = ADAPTIVE_TOL if tol is None else tol
    if max_rank is None:
        max_rank = min(n, DEFAULT_MAX_RANK)
    ell = min(initial_rank or DEFAULT_INITIAL_RANK, max_rank)
    rng = _backend.check_random_state(random_state)
    eps = xp.finfo(dtype).eps
    Omega, Y = _sketch(op, ell, xp, dtype, device, rng)
    B, nu = _nystrom_factor(Omega, Y, xp)
    while ell < max_rank:
        # Only the eigenvalues decide whether to grow; the vectors are computed once, last.
        _, lam = _eigenpairs(xp, B, nu, vectors=False)
        if lam.shape[0] == 0:
            break
        scale = mu if mu > 0 else math.sqrt(eps) * _backend.to_float(lam[0])
        if _backend.to_float(lam[-1]) <= tol * scale:
            break
        Omega, Y = _sketch(op, min(ell, max_rank - ell), xp, dtype, device, rng, Omega, Y)
        ell = Omega.shape[1]
        B, nu = _nystrom_factor(Omega, Y, xp)
    U, lam = _eigenpairs(xp, B, nu)
    return NystromApprox(U, lam, ell, nu)


class NystromPreconditioner:
    """Nyström preconditioner for ``A + μI`` (Frangella, Tropp and Udell 2021).

    From ``Â = U Λ̂ Uᵀ`` it applies, in ``O(nℓ)`` per vector,

    ``P⁻¹ v = (λ̂_ℓ + μ) U (Λ̂ + μI)⁻¹ Uᵀ v + (v − U Uᵀ v)``,

    with ``λ̂_ℓ`` the smallest retained eigenvalue. Use it as ``M`` in :func:`rnla.pcg` or,
    through :meth:`as_linear_operator`, in :func:`scipy.sparse.linalg.cg`.

    Parameters
    ----------
    approx : NystromApprox
        Approximation of ``A``.
    mu : float
        Regularisation ``μ >= 0``. With ``μ = 0`` eigenpairs with ``λ̂ = 0`` are dropped.

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as spla
    >>> rng = np.random.default_rng(0)
    >>> Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    >>> A = (Q * (1.0 / np.arange(1, 201) ** 2)) @ Q.T
    >>> P = NystromPreconditioner(nystrom(A, 40, random_state=0), mu=1e-4)
    >>> b = rng.standard_normal(200)
    >>> x, info = spla.cg(A + 1e-4 * np.eye(200), b, rtol=1e-10, M=P.as_linear_operator())
    >>> info, bool(np.allclose((A + 1e-4 * np.eye(200)) @ x, b, atol=1e-7))
    (0, True)
    """

    def __init__(self, approx: NystromApprox, mu: float):
        if not isinstance(approx, NystromApprox):
            raise TypeError(f"approx must be a NystromApprox, got {type(approx).__name__}")
        mu = check_nonnegative(mu, "mu")
        U, lam = approx.U, approx.eigvals
        xp = _backend.array_namespace(U)
        if mu == 0 and lam.shape[0]:
            k = _count(xp, lam > 0)  # eigenvalues descend: the positive ones lead
            U, lam = U[:, :k], lam[:k]
        self.U = U
        self.eigvals = lam
        self.mu = mu
        self.xp = xp
        self.shape = approx.shape
        self.dtype = U.dtype
        if lam.shape[0]:
            self._scale_minus_one = (lam[-1] + mu) / (lam + mu) - 1.0
        else:
            self._scale_minus_one = lam

    @property
    def rank(self) -> int:
        return int(self.eigvals.shape[0])

    def matmat(self, V):
        """``P⁻¹ V`` for a block ``V`` of shape ``(n, k)``."""
        return V + self.U @ (self._scale_minus_one[:, None] * (self.U.T @ V))

    def matvec(self, v):
        """``P⁻¹ v`` for a vector ``v`` of shape ``(n,)``."""
        return v + self.U @ (self._scale_minus_one * (self.U.T @ v))

    def __matmul__(self, V):
        return self.matvec(V) if V.ndim == 1 else self.matmat(V)

    def as_operator(self) -> Operator:
        """This preconditioner as an :class:`rnla.Operator`."""
        return Operator(self.shape, self.matmat, matvec=self.matvec, dtype=self.dtype, xp=self.xp,
                        device=_backend.device_of(self.U))

    def as_linear_operator(self):
        """A SciPy (or, for CuPy data, ``cupyx``) ``LinearOperator`` applying ``P⁻¹``."""
        if _backend.is_cupy_namespace(self.xp):
            from cupyx.scipy.sparse.linalg import LinearOperator
        else:
            from scipy.sparse.linalg import LinearOperator
        return LinearOperator(self.shape, matvec=self.matvec, matmat=self.matmat, dtype=self.dtype)

    def __repr__(self):
        return f"NystromPreconditioner(n={self.shape[0]}, rank={self.rank}, mu={self.mu:g})"
