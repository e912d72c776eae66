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
from ._dense_kernels import tall_svd
from ._nystrom_cost import doubling_gains, keeps_preconditioner
from ._sketch_ops import TestMatrix, check_sketch
from ._validation import (
    check_array,
    check_nonnegative,
    check_nonnegative_int,
    check_option,
    check_positive,
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
        # The sketch had at least one column, and at least one per retained eigenpair.
        self.sketch_size = check_positive_int(self.sketch_size, "sketch_size")
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
        B = _backend.solve_triangular(xp, L, Y_nu.T, lower=True).T
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


#: First sketch size with ``mu = 0`` and ``stop='cost'`` (doubling reuses columns, so
#: starting small costs nothing).
ZERO_MU_INITIAL_RANK = 16


def _doubling_pays(lam, ell: int, n: int, cost: int) -> bool:
    """With ``mu = 0``: whether growing the sketch by ``cost`` columns should save more CG
    products than it costs, predicted from the sketched spectrum ``lam`` (descending, ``> 0``).

    The decay between ``λ̂_{k/2}`` and ``λ̂_k`` gives a power law ``λ_i ∝ i^{-p}``; extrapolated
    to ``i = n`` it predicts ``κ ≈ (n/ℓ)^p`` and about ``√κ`` iterations (at most ``n − ℓ``),
    of which a doubling saves the fraction ``1 − 2^{-p/2}``.
    """
    k = lam.shape[0]
    if k < 4:
        return True
    low, high = _backend.to_float(lam[k - 1]), _backend.to_float(lam[k // 2 - 1])
    if not low > 0:
        return False
    p = math.log2(high / low) / math.log2(k / (k // 2))
    log_iters = 0.5 * p * math.log(n / ell)
    iters = (n - ell) if log_iters >= math.log(max(n - ell, 1)) else math.exp(log_iters)
    return iters * (1.0 - 2.0 ** (-0.5 * p)) > cost


def adaptive_nystrom(op, mu, *, xp, dtype, device, random_state=None, initial_rank=None,
                     max_rank=None, tol=None, stop="rank", sketch="gaussian"):
    """Nyström sketch grown by doubling until it is good enough or ``ℓ = max_rank``.

    Earlier columns of the test matrix and their products are reused: each doubling costs
    only the new columns. With ``mu > 0`` the sketch grows until ``λ̂_ℓ ≤ tol · μ`` (the
    preconditioned condition number is then about ``tol``). With ``mu = 0`` that rule can
    never hold; the sketch stops growing when the spectrum is captured:
    ``λ̂_ℓ ≤ tol · sqrt(eps) · λ̂_1``, or ``λ̂_ℓ`` is at rounding level (a low-rank or
    singular ``A``: the numerical rank is revealed). ``stop='rank'`` (the default) uses these
    rules alone, as :func:`rnla.effective_dimension` needs.

    ``stop='cost'`` is for a preconditioner (see ``rnla._nystrom_cost``), with any ``mu``:

    - a doubling must be predicted, from the decay of the sketched spectrum, to cut CG's
      iterations by 10% or more: a flat spectrum (a 2-D Poisson matrix, with a tiny ``mu``
      too) stops at the first sketch instead of growing to ``max_rank``;
    - with ``mu = 0`` also, it must save more CG products than it costs (``_doubling_pays``),
      and the first sketch has ``ZERO_MU_INITIAL_RANK`` columns unless ``initial_rank`` is given;
    - the preconditioner is dropped (rank 0 is returned, so PCG runs as plain CG) unless it
      is predicted to at least halve the iterations (``λ̂_1/λ̂_ℓ ≥ 4`` with ``μ`` added): it
      costs an ``O(nℓ)`` application in each of them.

    ``sketch`` picks the test matrix (see :func:`rnla.nystrom`).

    Returns the :class:`NystromApprox` (all ``ℓ`` columns kept, or none: see above).
    """
    n = op.shape[0]
    mu = check_nonnegative(mu, "mu")
    tol = ADAPTIVE_TOL if tol is None else check_positive(tol, "tol")
    max_rank = min(n, DEFAULT_MAX_RANK) if max_rank is None else check_positive_int(
        max_rank, "max_rank", upper=n, upper_name="the dimension of A")
    cost = check_option(stop, "stop", ("rank", "cost")) == "cost"
    sketch = check_sketch(sketch)
    if initial_rank is None:
        initial_rank = ZERO_MU_INITIAL_RANK if cost and mu == 0 else DEFAULT_INITIAL_RANK
    ell = min(check_positive_int(initial_rank, "initial_rank"), max_rank)
    rng = _backend.check_random_state(random_state)
    eps = float(xp.finfo(dtype).eps)
    noise = op.noise_level
    T = TestMatrix(sketch, n, xp=xp, dtype=dtype, device=device, rng=rng)
    Y = _sketch(op, ell, T)
    B, nu, scale = _nystrom_factor(T, Y, xp, mu=mu, noise=noise)
    lam = None
    while True:
        # Only the eigenvalues decide whether to grow; the vectors are computed once, last.
        if cost or ell < max_rank:
            _, lam = _eigenpairs(xp, B, nu, scale, vectors=False)
        if ell >= max_rank or lam.shape[0] == 0:
            break
        last = _backend.to_float(lam[-1])
        if mu > 0:
            if last <= tol * mu:
                break
        else:
            first = _backend.to_float(lam[0])
            if last <= tol * math.sqrt(eps) * first:
                break  # captured, or rounding level (numerical rank reached)
        new = min(ell, max_rank - ell)
        if cost:
            positive = _positive(xp, lam)
            if not doubling_gains(positive, mu):
                break  # flat: a bigger sketch would barely cut the iterations
            if mu == 0 and not _doubling_pays(positive, ell, n, new):
                break  # a bigger sketch would cost more products than CG would save
        Y = _sketch(op, new, T, Y)
        ell = T.ell
        B, nu, scale = _nystrom_factor(T, Y, xp, mu=mu, noise=noise)
    if cost and not keeps_preconditioner(_positive(xp, lam), mu):
        # Preconditioning would not pay: plain CG (rank 0) costs less than PCG.
        empty = xp.zeros((n, 0), dtype=dtype, device=device)
        return NystromApprox(empty, xp.zeros((0,), dtype=dtype, device=device), ell, nu * scale)
    U, lam = _eigenpairs(xp, B, nu, scale)
    return NystromApprox(U, lam, ell, nu * scale)


def _positive(xp, lam):
    """The leading positive eigenvalues (those above the rounding level)."""
    return lam[:_count(xp, lam > 0)]


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
