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
from ._dense_kernels import right_solve_lower_t, tall_svd
from ._sketch_ops import TestMatrix, check_sketch
from ._validation import (
    check_array,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_product_input,
    check_real_product,
)
from .operators import Operator, as_operator

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
        Number of columns of the test matrix (matrix-vector products spent); 0 for the empty
        approximation (no sketch taken: :func:`nystrom_pcg` when plain CG sufficed).
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

    def __post_init__(self):
        # A public constructor: check what the preconditioner relies on (ValueError names it).
        self.U = check_array(self.U, "U", ndim=2, allow_empty=True)
        xp = _backend.array_namespace(self.U)
        r = self.U.shape[1]
        if self.U.shape[0] < 1:
            raise ValueError(f"U must have at least one row, got shape {tuple(self.U.shape)}")
        self.eigvals = check_array(self.eigvals, "eigvals", xp=xp, ndim=1, allow_empty=True)
        if self.eigvals.shape[0] != r:
            raise ValueError(f"eigvals must have one entry per column of U ({r}), "
                             f"got {self.eigvals.shape[0]}")
        if self.eigvals.dtype != self.U.dtype:
            self.eigvals = xp.astype(self.eigvals, self.U.dtype)
        if r:
            if bool(xp.any(self.eigvals < 0)):
                raise ValueError("eigvals must be non-negative")
            if r > 1 and bool(xp.any(self.eigvals[1:] > self.eigvals[:-1])):
                raise ValueError("eigvals must be in descending order")
        # At least one sketch column per retained eigenpair (0: no sketch, the empty approximation).
        self.sketch_size = check_nonnegative_int(self.sketch_size, "sketch_size")
        if self.sketch_size < r:
            raise ValueError(f"sketch_size must be at least the rank (the {r} columns of U), "
                             f"got {self.sketch_size}")
        self.shift = check_nonnegative(self.shift, "shift")

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
        """``Â V`` for a block ``V`` of shape ``(n, k)`` (checked as :meth:`Operator.matvec` does)."""
        V = check_product_input(V, "V", self.U.shape[0], shape="block", lists=True)
        return self.U @ (self.eigvals[:, None] * (self.U.T @ V))

    def matvec(self, v):
        """``Â v`` for a vector ``v`` of shape ``(n,)`` (checked as :meth:`Operator.matvec` does)."""
        v = check_product_input(v, "v", self.U.shape[0], lists=True)
        return self.U @ (self.eigvals * (self.U.T @ v))

    def __matmul__(self, V):
        return self.matvec(V) if getattr(V, "ndim", 1) == 1 else self.matmat(V)

    def to_dense(self):
        """The ``n × n`` matrix ``U diag(eigvals) Uᵀ`` (small problems and tests only)."""
        return (self.U * self.eigvals) @ self.U.T

    def __repr__(self):
        return f"NystromApprox(n={self.shape[0]}, rank={self.rank}, sketch_size={self.sketch_size})"


def _power_of_two(m: float) -> float:
    """The power of two nearest above ``m > 0`` (dividing by it is exact)."""
    return math.ldexp(1.0, math.frexp(m)[1])


def _nystrom_factor(T, Y, xp, name="A", *, mu=0.0, noise=None):
    """Stable Nyström factor from the test matrix ``T`` (a :class:`TestMatrix`) and ``Y = A Ω``.

    Returns ``(B, shift, scale)`` with ``Â_ν = scale · B Bᵀ``: ``Y`` is divided by a power of
    two ``scale`` near ``max|Y|`` first (exact), so nothing below over- or underflows and the
    result scales exactly with ``A`` over the whole floating range; ``shift`` is ``ν / scale``.
    ``B`` has no columns when ``A`` is numerically zero: ``Y = 0``, or ``‖Y‖`` within the
    operator's rounding level ``noise`` (then its asymmetry is rounding noise too). The
    symmetry and PSD tests are relative to ``‖ΩᵀAΩ‖``, ``mu`` (the shift the approximation
    serves: directions far below it do not matter) and ``noise``. ``Ω`` need not be
    orthonormal: the core is ``Ωᵀ(A + νI)Ω = ΩᵀY + ν ΩᵀΩ`` (the Gram term only when
    ``T.orthonormal`` is false), and ``Y_ν C⁻¹ Y_νᵀ`` is the Nyström approximation of
    ``A + νI`` for any ``Ω`` of full column rank.
    """
    Omega = T.Omega
    n, ell = Omega.shape
    eps = float(xp.finfo(Y.dtype).eps)
    empty = xp.zeros((n, 0), dtype=Y.dtype, device=_backend.device_of(Y)), 0.0, 1.0
    ymax = _backend.to_float(xp.max(xp.abs(Y)))
    if not math.isfinite(ymax):
        raise ValueError(f"{name} produced NaN or infinity in its products")
    if ymax == 0.0:
        return empty
    scale = _power_of_two(ymax)
    Y = Y * (1.0 / scale)
    mu_s = mu / scale
    noise_s = 0.0 if noise is None or not math.isfinite(noise) else noise / scale
    ynorm = _backend.to_float(xp.linalg.matrix_norm(Y))
    if ynorm <= math.sqrt(ell) * noise_s:
        return empty  # numerically zero: all products are rounding noise
    nu = math.sqrt(n) * eps * ynorm
    core = T.project(Y)
    asym = _backend.to_float(xp.linalg.matrix_norm(core - core.T))
    core_norm = _backend.to_float(xp.linalg.matrix_norm(core))
    if asym > math.sqrt(eps) * (core_norm + math.sqrt(ell) * mu_s) + 2.0 * math.sqrt(ell) * noise_s:
        raise ValueError(f"{name} is not symmetric (Ωᵀ{name}Ω is not symmetric for a random Ω)")
    Y_nu = Y + nu * Omega
    # Ωᵀ(Y + νΩ) = ΩᵀY + ν ΩᵀΩ (= ΩᵀY + νI for orthonormal Ω): no second product needed.
    G = T.gram()
    if G is None:
        G = xp.eye(ell, dtype=Y.dtype, device=_backend.device_of(Y))
    C = (core + core.T) * 0.5 + nu * G
    try:
        L = _backend.cholesky(xp, C)
        B = right_solve_lower_t(xp, Y_nu, L)
    except np.linalg.LinAlgError:
        B = _eigh_factor(xp, C, Y_nu, name, slack=math.sqrt(eps) * mu_s + 2.0 * noise_s)
        if B is None:
            return empty
    return B, nu, scale


def _eigenpairs(xp, B, nu, scale=1.0, vectors=True):
    """``(U, Λ̂)``: eigenpairs of ``scale · (B Bᵀ − ν)`` (``U = None`` if not ``vectors``).

    Eigenvalues at or below the rounding level ``ν`` of the shifted construction are set to 0:
    they are not resolved (the numerical rank of the sketch is the count of the others), and
    a spurious tiny ``λ̂`` would wreck the preconditioner's ``λ̂_ℓ`` scaling.
    """
    if B.shape[1] == 0:
        return B, xp.zeros((0,), dtype=B.dtype, device=_backend.device_of(B))
    U, S = tall_svd(xp, B, vectors)
    lam = S * S - nu
    lam = xp.where(lam > nu, lam, xp.zeros_like(lam))
    return U, lam * scale


def _eigh_factor(xp, C, Y_nu, name, slack=0.0):
    """Fallback of the Cholesky step: ``B = Y_ν W diag(s)^{-1/2}`` over the positive part of C.

    ``None`` when ``C`` has no eigenvalue above the rounding level (a numerically zero
    operator); eigenvalues down to ``-(sqrt(eps)·max(s) + slack)`` count as rounding noise.
    """
    s, W = _backend.eigh(xp, C)
    smax = _backend.to_float(s[-1])
    smin = _backend.to_float(s[0])
    eps = xp.finfo(C.dtype).eps
    if smin < -(math.sqrt(eps) * max(smax, 0.0) + slack):
        raise NotPositiveSemidefiniteError(
            f"{name} is not positive semidefinite (ΩᵀAΩ has eigenvalue {smin:.3g})")
    if smax <= 0:
        return None
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


def _sketch(op, ell, T, Y=None):
    """Extend the test matrix ``T`` by ``ell`` new columns and ``Y = AΩ`` (one block product)."""
    new = T.extend(ell)
    Ynew = op.matmat(new)
    if Ynew.dtype != T.dtype:
        check_real_product(T.xp, Ynew, "A")
        Ynew = T.xp.astype(Ynew, T.dtype)
    return Ynew if Y is None else T.xp.concat([Y, Ynew], axis=1)


def nystrom(A, rank, *, oversample=10, random_state=None, like=None, sketch="gaussian"):
    """Randomized Nyström approximation of a symmetric positive semidefinite operator.

    Draws an orthonormal Gaussian test matrix ``Ω`` with ``ℓ = min(rank + oversample, n)``
    columns, applies ``A`` to it in one block product and forms the stable shifted Nyström
    approximation (Tropp et al. 2017, Alg. 3): with ``ν = √n·eps·‖AΩ‖_F``, ``C = chol(Ωᵀ(A+νI)Ω)``,
    ``B = (A+νI)Ω C⁻ᵀ = U Σ Vᵀ`` and ``Λ̂ = max(Σ² − ν, 0)``, truncated to the top ``rank``.
    Then ``Â = U Λ̂ Uᵀ ⪯ A`` (up to ``ν``), and in expectation the trace-norm error is within
    ``1 + rank/(ℓ − rank − 1)`` of the best rank-``rank`` error. If the Cholesky step fails
    (as it can in float32), an eigendecomposition of the core matrix replaces it.

    The computation is scale-free: ``AΩ`` is divided by a power of two near its largest
    entry before any norm or factorisation, so ``nystrom(s * A)`` has ``s`` times the
    eigenvalues of ``nystrom(A)`` (same seed) for any ``s`` that keeps ``s * A`` finite and
    normal, float32 included. Eigenvalues at or below the rounding level ``ν`` are returned
    as 0 (beyond the numerical rank they are noise). An operator whose products are within
    its :attr:`Operator.noise_level` (a centred Gram operator of constant features) is
    numerically zero: it is accepted as symmetric PSD and gives zero eigenvalues.

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
    oversample = check_nonnegative_int(oversample, "oversample")
    if like is not None:
        like = check_array(like, "like", allow_empty=True, finite=False)
    xp, dtype, device = _resolve(op, like)
    sketch = check_sketch(sketch)
    rng = _backend.check_random_state(random_state)
    ell = min(rank + oversample, n)
    T = TestMatrix(sketch, n, xp=xp, dtype=dtype, device=device, rng=rng)
    Y = _sketch(op, ell, T)
    B, nu, scale = _nystrom_factor(T, Y, xp, noise=op.noise_level)
    U, lam = _eigenpairs(xp, B, nu, scale)
    rank = min(rank, lam.shape[0])  # fewer columns survive only for (numerically) low-rank A
    return NystromApprox(U[:, :rank], lam[:rank], ell, nu * scale)


#: Defaults of the adaptive rank rule; see :func:`rnla.nystrom_pcg`.
ADAPTIVE_TOL = 10.0
DEFAULT_INITIAL_RANK = 32
DEFAULT_MAX_RANK = 1024


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
        Regularisation ``μ >= 0``. With ``μ = 0`` eigenpairs with ``λ̂ <= r·eps·λ̂_1`` (below
        the numerical rank) are dropped, so a consistent singular system stays solvable.

    Raises
    ------
    TypeError
        If ``approx`` is not a :class:`NystromApprox`.
    ValueError
        If ``mu`` is negative or not finite (``NystromApprox`` itself rejects eigenvalues
        that are negative, NaN, unsorted or not one per column of ``U``).

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
            # Keep the numerical rank only: P⁻¹ scales U's span by λ̂_ℓ/λ̂_i, so one spurious
            # λ̂_ℓ ≈ 0 (a sketch larger than the rank of a singular A) would collapse it.
            # Eigenvalues descend: the kept ones lead.
            floor = lam.shape[0] * float(xp.finfo(lam.dtype).eps) * _backend.to_float(lam[0])
            k = _count(xp, lam > floor)
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
        """``P⁻¹ V`` for a block ``V`` of shape ``(n, k)``.

        Only ``V``'s kind, dtype and shape are checked, in ``O(1)`` (as :meth:`Operator.matvec`):
        ``TypeError`` for a non-array, ``ValueError`` for complex, string or object content or
        the wrong shape. NaN in ``V`` is the caller's concern.
        """
        V = check_product_input(V, "V", self.shape[0], shape="block", lists=True)
        return V + self.U @ (self._scale_minus_one[:, None] * (self.U.T @ V))

    def matvec(self, v):
        """``P⁻¹ v`` for a vector ``v`` of shape ``(n,)`` (checked as :meth:`matmat`)."""
        v = check_product_input(v, "v", self.shape[0], lists=True)
        return v + self.U @ (self._scale_minus_one * (self.U.T @ v))

    def __matmul__(self, V):
        return self.matvec(V) if getattr(V, "ndim", 1) == 1 else self.matmat(V)

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


# The adaptive (doubling) sketch builds on this module's factorisation: imported last.
from ._nystrom_adaptive import ZERO_MU_INITIAL_RANK, adaptive_nystrom  # noqa: E402, F401
