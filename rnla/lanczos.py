"""The Lanczos process, run on many start vectors at once, for quadrature and tridiagonals.

:func:`lanczos` tridiagonalises a symmetric operator from products only. Many start vectors
(the probes of stochastic Lanczos quadrature) run as independent processes side by side, so
each step costs one block product ``A @ Q`` rather than a Python loop of matvecs. Restarted
eigen-solving lives in :mod:`rnla.eigen`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _backend
from ._validation import check_array, check_bool, check_positive_int, check_real_operator, check_real_product
from .nystrom import _resolve
from .operators import as_operator

__all__ = ["LanczosResult", "lanczos"]


@dataclass
class LanczosResult:
    """Output of :func:`lanczos`.

    For a single start vector the arrays are 1-D over steps; for ``p`` start vectors
    (``v0`` of shape ``(n, p)``) they gain a leading probe axis.

    Attributes
    ----------
    alpha : array, shape ``(m,)`` or ``(p, m)``
        Diagonal of the tridiagonal matrix ``T``.
    beta : array, shape ``(m,)`` or ``(p, m)``
        ``beta[..., j]`` couples ``q_j`` and ``q_{j+1}``: the off-diagonal of ``T`` is
        ``beta[..., :m-1]`` and ``beta[..., m-1]`` is the norm of the final residual.
        It is exactly zero from the step at which the process broke down.
    num_steps : int or ndarray of int
        Steps taken before breakdown (``m`` when there was none), per start vector.
    basis : array or None
        The Lanczos vectors, ``(n, m)`` or ``(p, n, m)``, if requested.
    """

    alpha: object
    beta: object
    num_steps: object
    basis: object = None

    def tridiagonal(self):
        """The tridiagonal matrices ``T`` as dense NumPy arrays, ``(m, m)`` or ``(p, m, m)``.

        Steps after a breakdown give zero rows and columns decoupled from the rest.
        """
        alpha = _backend.to_numpy(self.alpha).astype(np.float64)
        beta = _backend.to_numpy(self.beta).astype(np.float64)
        m = alpha.shape[-1]
        T = alpha[..., :, None] * np.eye(m)
        off = beta[..., : m - 1]
        idx = np.arange(m - 1)
        T[..., idx, idx + 1] = off
        T[..., idx + 1, idx] = off
        return T

    def quadrature(self):
        """Gauss quadrature nodes and weights of each start vector's spectral measure.

        Returns
        -------
        nodes, weights : ndarray, shape ``(m,)`` or ``(p, m)``
            Ritz values ``θ_k`` and squared first components ``τ_k`` of the eigenvectors of
            ``T``; for a unit start vector ``q``, ``qᵀ f(A) q ≈ Σ_k τ_k f(θ_k)`` and the
            weights of each start vector sum to one. Padding after a breakdown gets weight 0.
        """
        T = self.tridiagonal()
        nodes, S = np.linalg.eigh(T)
        weights = S[..., 0, :] ** 2
        steps = np.asarray(self.num_steps)
        if np.any(steps < T.shape[-1]):
            # Padded rows are decoupled and carry no weight; zero any rounding residue.
            weights = np.where(np.abs(weights) > np.finfo(np.float64).eps, weights, 0.0)
        return nodes, weights


def _safe_norm(xp, W, axis=None):
    """Euclidean norm(s) of ``W`` without overflow or underflow, as LAPACK's ``nrm2``.

    Each vector is divided by its largest absolute entry before squaring, so the norm of
    a vector with entries near ``1e+160`` (or ``1e-160``) is exact where ``sqrt(Σ w²)``
    gives infinity (or zero). A vector holding infinity or NaN gets a non-finite norm.
    """
    m = xp.max(xp.abs(W), axis=axis)
    safe = xp.where((m > 0) & (m < math.inf), m, xp.ones_like(m))
    scaled = W / (safe if axis is None else xp.expand_dims(safe, axis=axis))
    return safe * xp.linalg.vector_norm(scaled, axis=axis)


def _nonfinite_error(name="A"):
    return ValueError(f"{name} produced NaN or infinity in a product with a Lanczos vector "
                      f"(check the operator {name}: its entries or its matvec)")


def _breakdown_tol(n, dtype, xp):
    """Relative size below which a Lanczos residual counts as zero (invariant subspace)."""
    return 10.0 * math.sqrt(n) * float(xp.finfo(dtype).eps)


def _start_block(op, v0, random_state, name="v0"):
    """Namespace, dtype, device and the unit-norm ``(n, p)`` start block; also whether 1-D."""
    n = op.shape[0]
    if v0 is None:
        xp, dtype, device = _resolve(op)
        rng = _backend.check_random_state(random_state)
        V = _backend.random_normal(xp, (n, 1), dtype=dtype, device=device, random_state=rng)
        single = True
    else:
        v0 = check_array(v0, name, ndim=(1, 2))
        if v0.shape[0] != n:
            raise ValueError(f"{name} must have {n} rows to match A, got shape {tuple(v0.shape)}")
        xp, dtype, device = _resolve(op, like=v0)
        if op.xp is not None and op.xp is not xp:
            raise TypeError(f"{name} is a {xp.__name__} array but A is a {op.xp.__name__} operator: "
                            "put both on the same backend")
        single = v0.ndim == 1
        V = xp.astype(xp.reshape(v0, (n, -1)), dtype, copy=True)
    norms = _safe_norm(xp, V, axis=0)
    if not bool(xp.all(norms > 0)):
        raise ValueError(f"{name} has a zero column")
    return xp, dtype, device, V / norms, single


def lanczos(A, num_steps, *, v0=None, reorthogonalize=True, return_basis=False, random_state=None):
    """Lanczos tridiagonalisation of a symmetric operator, on one or many start vectors.

    From a unit start vector ``q_0`` the process builds orthonormal ``q_0, …, q_{m-1}`` and
    the tridiagonal ``T = QᵀAQ`` with ``α_j = q_jᵀ A q_j`` and ``β_j = ‖r_j‖``, where
    ``r_j = A q_j − α_j q_j − β_{j-1} q_{j-1}``. ``p`` start vectors (columns of ``v0``) run
    as ``p`` independent processes sharing one block product ``A @ [q_j^(1) … q_j^(p)]``
    per step, which is what stochastic Lanczos quadrature needs.

    Breakdown (``β_j`` at rounding level: the Krylov space is invariant) is handled per
    start vector without host synchronisation: that process stops, its remaining
    coefficients are exactly zero and ``num_steps`` records where it stopped.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric ``n × n`` operator.
    num_steps : int
        Number of steps ``m``, ``1 <= m <= n``.
    v0 : array, shape ``(n,)`` or ``(n, p)``, optional
        Start vector(s), normalised internally. Default: one Gaussian vector.
    reorthogonalize : bool, default True
        Full reorthogonalisation of each new vector against all earlier ones of its own
        process (classical Gram-Schmidt, twice). Needed for eigenvectors; quadrature
        (SLQ) is accurate without it and then costs ``O(n p)`` memory instead of
        ``O(n p m)``.
    return_basis : bool, default False
        Also return the Lanczos vectors.
    random_state : None, int or numpy.random.Generator
        Seed of the default start vector.

    Returns
    -------
    LanczosResult

    Raises
    ------
    ValueError
        For a bad ``num_steps`` or ``v0``, a complex, non-symmetric or non-square matrix,
        or an operator ``A`` whose products hold NaN or infinity (checked once, at the end,
        so the loop never waits on the device).

    Notes
    -----
    Norms are scaled before squaring (as LAPACK's ``nrm2``) and the breakdown test is
    relative, so ``lanczos(s * A)`` gives ``s`` times the coefficients of ``lanczos(A)`` over
    the whole floating range.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> res = lanczos(A, 10, random_state=0)
    >>> bool(np.allclose(np.linalg.eigvalsh(res.tridiagonal()), np.arange(1.0, 11.0)))
    True
    """
    check_real_operator(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    m = check_positive_int(num_steps, "num_steps", upper=n, upper_name="the dimension of A")
    reorthogonalize = check_bool(reorthogonalize, "reorthogonalize")
    return_basis = check_bool(return_basis, "return_basis")
    xp, dtype, device, Q, single = _start_block(op, v0, random_state)
    p = Q.shape[1]
    keep = reorthogonalize or return_basis
    basis = xp.zeros((p, m, n), dtype=dtype, device=device) if keep else None
    tol = _breakdown_tol(n, dtype, xp)
    zero = xp.zeros((p,), dtype=dtype, device=device)
    Q_prev, beta_prev, scale = xp.zeros_like(Q), zero, zero
    finite = xp.ones((p,), dtype=xp.bool, device=device)  # no NaN or inf seen, per process
    alphas, betas = [], []
    # An operator yielding NaN or inf is reported below (``finite``); NumPy's warnings on
    # the way there would only precede that error.
    with np.errstate(invalid="ignore", over="ignore"):
        for j in range(m):
            if keep:
                basis[:, j, :] = xp.matrix_transpose(Q)
            W = op.matmat(Q)
            if W.dtype != dtype:
                check_real_product(xp, W, "A")
                W = xp.astype(W, dtype)
            alpha = xp.sum(Q * W, axis=0)
            W = W - Q * alpha - Q_prev * beta_prev
            if reorthogonalize:
                Qj = basis[:, : j + 1, :]  # (p, j+1, n)
                for _ in range(2):
                    coef = xp.matmul(Qj, xp.matrix_transpose(W)[:, :, None])  # (p, j+1, 1)
                    W = W - xp.matrix_transpose(xp.matmul(xp.matrix_transpose(Qj), coef)[:, :, 0])
            beta = _safe_norm(xp, W, axis=0)
            finite = finite & xp.isfinite(alpha) & xp.isfinite(beta)
            scale = xp.maximum(scale, xp.abs(alpha) + beta + beta_prev)
            ok = beta > tol * scale
            beta = xp.where(ok, beta, zero)
            Q_prev, Q = Q, xp.where(ok, W / xp.where(ok, beta, zero + 1), xp.zeros_like(W))
            alphas.append(alpha)
            betas.append(beta)
            beta_prev = beta
    if not bool(xp.all(finite)):
        raise _nonfinite_error()
    alpha = xp.stack(alphas, axis=1)
    beta = xp.stack(betas, axis=1)
    broken = _backend.to_numpy(beta) == 0
    steps = np.where(broken.any(axis=1), broken.argmax(axis=1) + 1, m)
    basis = xp.permute_dims(basis, (0, 2, 1)) if return_basis else None  # (p, n, m)
    if single:
        return LanczosResult(alpha[0, :], beta[0, :], int(steps[0]), None if basis is None else basis[0, ...])
    return LanczosResult(alpha, beta, steps, basis)
