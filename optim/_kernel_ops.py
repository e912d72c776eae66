"""Kernel products, the memory budget, dense solves and the cost model of NystromKernelRidge."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
from scipy.linalg import LinAlgWarning

from rnla import _backend
from rnla._validation import check_positive
from rnla.krylov import SolveResult
from rnla.nystrom import ADAPTIVE_TOL, DEFAULT_INITIAL_RANK, DEFAULT_MAX_RANK
from rnla.operators import Operator

#: Kernel entries per block (2**24 float64 entries = 128 MiB) when the kernel is not held.
BLOCK_ENTRIES = 2**24
#: Share of the machine's memory that ``max_memory=None`` allows for held kernel matrices.
MEMORY_SHARE = 0.25
#: Budget when the machine's memory cannot be read (4 GiB).
FALLBACK_MEMORY = 4 * 2**30
#: How many more seconds a matrix-vector flop costs than a factorization/GEMM flop: products
#: with one vector stream the matrix from memory (about 5 GFLOP/s on 2 cores, measured), while
#: Cholesky and blocked products run at the BLAS-3 rate (about 85 GFLOP/s).
GEMV_PENALTY = 16.0
#: 'auto' takes PCG only when its predicted cost is below the Cholesky's divided by this: the
#: prediction is rough (the adaptive sketch's stopping rule, iteration counts), Cholesky's exact
#: and as fast as KernelRidge's, so a wrong 'pcg' would cost far more than a wrong 'direct'.
PCG_MARGIN = 2.0
#: Points of the subsample whose kernel eigenvalues predict the Nyström rank PCG will need.
PROBE_SIZE = 400


def default_max_memory() -> int:
    """``MEMORY_SHARE`` of the physical memory (``os.sysconf``), or ``FALLBACK_MEMORY``.

    Examples
    --------
    >>> default_max_memory() > 0
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY
    return int(MEMORY_SHARE * total) if total > 0 else FALLBACK_MEMORY


def check_max_memory(value) -> int:
    """``max_memory`` in bytes: ``None`` gives :func:`default_max_memory`, else a real ``> 0``.

    Examples
    --------
    >>> check_max_memory(2e9)
    2000000000
    """
    if value is None:
        return default_max_memory()
    return max(1, int(check_positive(value, "max_memory")))


class KernelOperator(Operator):
    """``V ↦ S½ K S½ V`` with ``K = k(X, X)`` held whole (``hold``) or computed ``block`` rows at a time.

    ``hold=None`` holds the kernel when it fits one block (``block >= n``).
    A held kernel is computed once; otherwise every product recomputes the row blocks, so memory
    stays at one ``block × n`` slab. ``blocks`` counts the blocks computed by products.
    """

    def __init__(self, kernel, X, sqrt_sw, block, xp, device, *, hold=None):
        n = X.shape[0]
        hold = block >= n if hold is None else hold
        self.kernel, self.X, self.sqrt_sw, self.block = kernel, X, sqrt_sw, block
        self.K = form_rows(kernel, X, X, block, xp) if hold else None
        self.blocks = 0
        super().__init__((n, n), self._apply, matvec=self._apply, dtype=X.dtype, xp=xp, device=device)

    def _apply(self, V):
        xp, s = self.xp, self.sqrt_sw
        if s is not None:
            V = V * (s if V.ndim == 1 else s[:, None])
        if self.K is not None:
            out = self.K @ V
        else:
            n = self.shape[0]
            parts = []
            for start in range(0, n, self.block):
                parts.append(self.kernel(self.X[start:min(start + self.block, n), ...], self.X) @ V)
                self.blocks += 1
            out = xp.concat(parts, axis=0)
        if s is not None:
            out = out * (s if out.ndim == 1 else s[:, None])
        return out


def form_rows(kernel, A, B, block, xp):
    """``k(A, B)`` computed ``block`` rows at a time into one array (NumPy: no concatenated copy)."""
    m = A.shape[0]
    if block >= m:
        return kernel(A, B)
    first = kernel(A[:block, ...], B)
    if isinstance(first, np.ndarray):
        out = np.empty((m, first.shape[1]), dtype=first.dtype)
        out[:block] = first
        del first
        for start in range(block, m, block):
            out[start:min(start + block, m)] = kernel(A[start:min(start + block, m), ...], B)
        return out
    parts = [first] + [kernel(A[s:min(s + block, m), ...], B) for s in range(block, m, block)]
    return xp.concat(parts, axis=0)


def scale_symmetric(K, s, *, copy):
    """``S½ K S½`` (``s`` the square roots of the weights, or None), in place unless ``copy``."""
    if s is None:
        return K + 0.0 if copy else K
    if copy or not isinstance(K, np.ndarray):
        return K * (s[:, None] * s[None, :])
    K *= s[:, None]
    K *= s[None, :]
    return K


def _add_diagonal(xp, K, a):
    n = K.shape[0]
    if isinstance(K, np.ndarray):
        K.flat[:: n + 1] += a
        return K
    return K + a * xp.eye(n, dtype=K.dtype, device=_backend.device_of(K))


def _cholesky_solve(xp, A, B):
    """``A⁻¹ B`` for symmetric positive definite ``A`` by Cholesky (``A`` overwritten on NumPy)."""
    if isinstance(A, np.ndarray):
        import scipy.linalg

        factor = scipy.linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
        return scipy.linalg.cho_solve(factor, B, check_finite=False)
    L = _backend.cholesky(xp, A)
    W = _backend.solve_triangular(xp, L, B, lower=True)
    return _backend.solve_triangular(xp, xp.permute_dims(L, (1, 0)), W, lower=False)


def _general_solve(xp, A, B):
    """``A⁻¹ B`` by LU, or the least-squares solution when ``A`` is exactly singular."""
    if isinstance(A, np.ndarray):
        import scipy.linalg

        try:
            return scipy.linalg.solve(A, B, check_finite=False)
        except np.linalg.LinAlgError:
            return scipy.linalg.lstsq(A, B, check_finite=False)[0]
    return xp.linalg.solve(A, B)


def direct_solve(xp, form, op, B, alphas):
    """Columns ``(K_s + alphas[j] I)⁻¹ B[:, j]`` by Cholesky, as ``KernelRidge`` solves them.

    ``form()`` returns a fresh (weighted) kernel ``K_s`` that may be overwritten: each distinct
    ``alpha`` factors one in place, and columns sharing an ``alpha`` share the factorization. A
    matrix ``K_s + alpha I`` that is not numerically positive definite (an indefinite kernel)
    is solved by LU, or least squares when exactly singular (``KernelRidge``'s fallback gives
    the same solution), with a :class:`scipy.linalg.LinAlgWarning`. ``op`` (``V ↦ K_s V``,
    held or by blocks) gives the true residual ``‖b − (K_s + alpha I) z‖`` recorded per column.
    Returns the solutions as columns, per column a :class:`rnla.SolveResult` (one "iteration",
    the factorization solve, or none for the fallback) and ``info = 0``.
    """
    groups: dict[float, list[int]] = {}
    for j, a in enumerate(alphas):
        groups.setdefault(a, []).append(j)
    out, done = [None] * len(alphas), [1] * len(alphas)
    for a, cols in groups.items():
        rhs = xp.stack([B[:, j] for j in cols], axis=1)
        try:
            Z = _cholesky_solve(xp, _add_diagonal(xp, form(), a), rhs)
        except np.linalg.LinAlgError:
            warnings.warn(f"the kernel matrix is not positive semidefinite (K + alpha I has no Cholesky "
                          f"factor for alpha={a:g}): solved by LU (least squares if singular) instead",
                          LinAlgWarning, stacklevel=4)
            Z = _general_solve(xp, _add_diagonal(xp, form(), a), rhs)
            for j in cols:
                done[j] = 0
        for i, j in enumerate(cols):
            out[j] = Z[:, i]
    Z = xp.stack(out, axis=1)
    R = B - (op @ Z) - Z * xp.asarray(alphas, dtype=Z.dtype, device=_backend.device_of(Z))[None, :]
    results = []
    for j in range(len(alphas)):
        norms = [_backend.to_float(xp.linalg.vector_norm(B[:, j])),
                 _backend.to_float(xp.linalg.vector_norm(R[:, j]))]
        results.append(SolveResult(info=0, message="direct solve", iterations=done[j], matvecs=1,
                                   residual_norms=norms[:1 + done[j]], rank=0))
    return Z, results, [0] * len(alphas)


def probe_spectrum(kernel, X, sqrt_sw, n, rng, precomputed):
    """Eigenvalues of ``K`` predicted from a uniform subsample of ``PROBE_SIZE`` points.

    The kernel of ``m`` points sampled uniformly, scaled by ``n / m``, has about the leading
    eigenvalues of the ``n × n`` kernel (the Nyström / integral-operator approximation); it costs
    ``m²`` kernel entries and an ``m × m`` eigendecomposition. Returned in decreasing order as
    a NumPy array (host).
    """
    m = min(n, PROBE_SIZE)
    idx = np.sort(rng.choice(n, m, replace=False))
    xp = _backend.array_namespace(X)
    rows = _backend.take_rows(xp, X, _backend.from_numpy(xp, idx, device=_backend.device_of(X)))
    if precomputed:
        rows = rows.toarray() if _backend.is_sparse(rows) else _backend.to_numpy(rows)
        Kp = np.asarray(rows)[:, idx]
    else:
        Kp = _backend.to_numpy(kernel(rows, rows))
    Kp = np.asarray(Kp, dtype=np.float64)
    if sqrt_sw is not None:
        s = np.asarray(_backend.to_numpy(sqrt_sw), dtype=np.float64)[idx]
        Kp = Kp * np.outer(s, s)
    evals = np.linalg.eigvalsh(0.5 * (Kp + Kp.T))[::-1]
    return evals * (n / m)


def extrapolated(evals):
    """``i ↦ λ_i`` from the probe's eigenvalues: read off in the leading quarter, which a probe of
    ``m`` points resolves, and beyond it a power law ``λ_i ≈ c i^(−p)`` fitted to that quarter
    (kernel spectra decay at least polynomially; the probe's own tail is biased low)."""
    evals = np.asarray(evals, dtype=np.float64)
    resolved = max(8, len(evals) // 4)
    if len(evals) <= resolved:
        resolved = len(evals)
    i = np.arange(max(1, resolved // 10), resolved)
    keep = evals[i] > 0
    fit = None
    if np.count_nonzero(keep) >= 2:
        slope, intercept = np.polyfit(np.log(i[keep] + 1.0), np.log(evals[i][keep]), 1)
        fit = (min(slope, 0.0), intercept)

    def lam(k: int) -> float:
        if k < resolved:
            return max(float(evals[k]), 0.0)
        if fit is None:
            return 0.0
        return float(np.exp(fit[1] + fit[0] * np.log(k + 1.0)))

    return lam


def pcg_estimate(evals, alpha, tol):
    """(Nyström rank, CG iterations) that adaptive Nyström PCG is predicted to need for ``alpha``.

    The adaptive sketch doubles from ``DEFAULT_INITIAL_RANK`` until its smallest eigenvalue is
    below ``ADAPTIVE_TOL · alpha`` (at most ``DEFAULT_MAX_RANK``); the preconditioned condition
    number is then about ``(λ_ℓ + alpha) / alpha`` and CG needs about
    ``½ √κ ln(2 / tol)`` iterations. ``λ_ℓ`` comes from :func:`extrapolated`.
    """
    lam = extrapolated(evals)
    rank = DEFAULT_INITIAL_RANK
    while rank < DEFAULT_MAX_RANK and lam(rank) > ADAPTIVE_TOL * alpha:
        rank *= 2
    rank = min(rank, DEFAULT_MAX_RANK)
    kappa = (lam(rank) + alpha) / alpha
    iterations = math.ceil(0.5 * math.sqrt(kappa) * math.log(2.0 / tol)) + 1
    return rank, iterations


def direct_cost(n, alphas):
    """Flops of the Cholesky route: ``n³/3`` per distinct ``alpha``, two triangular solves per target."""
    distinct = len(set(alphas))
    return distinct * n**3 / 3 + GEMV_PENALTY * 2 * n**2 * len(alphas)


def pcg_cost(n, rank, iterations, n_targets):
    """Flops of held-kernel Nyström PCG: the sketch (``ℓ`` products, blocked), its factorization
    (``≈ 6 n ℓ²``) and ``iterations`` products with one vector per target."""
    return 2 * n**2 * rank + 6 * n * rank**2 + GEMV_PENALTY * 2 * n**2 * iterations * n_targets


def solve_unregularized(op, b, tol, maxiter, callback):
    """``alpha = 0``: the minimum-norm least-squares solution ``z = K⁺ b``, as ``KernelRidge`` gives.

    ``K z = b`` is singular and in general inconsistent (``b`` outside the range of ``K``), so
    neither PCG nor a Cholesky factorization applies. A held kernel is solved densely (its
    eigendecomposition, eigenvalues below ``n·eps·λ_max`` dropped, as ``lstsq`` does); a blocked
    one by CG on the consistent normal equations ``K² z = K b`` from zero, which converge to
    ``K⁺ b``.
    """
    from rnla.krylov import pcg

    xp, n, s = op.xp, op.shape[0], op.sqrt_sw
    if op.K is not None:
        K = op.K if s is None else op.K * (s[:, None] * s[None, :])
        K = 0.5 * (K + xp.permute_dims(K, (1, 0)))
        evals, V = xp.linalg.eigh(K)
        cutoff = n * float(xp.finfo(K.dtype).eps) * _backend.to_float(xp.max(xp.abs(evals)))
        inv = xp.where(xp.abs(evals) > cutoff, 1.0 / xp.where(evals == 0, 1.0, evals), 0.0)
        z = V @ (inv * (xp.permute_dims(V, (1, 0)) @ b))
        return z, SolveResult(info=0, message="dense minimum-norm solve", iterations=0, matvecs=0,
                              rank=0), 0
    normal = Operator((n, n), lambda V: op @ (op @ V), dtype=b.dtype, xp=xp, device=op.device)
    z, info, res = pcg(normal, op @ b, None, rtol=tol, maxiter=maxiter, callback=callback,
                       full_output=True)
    res.rank, res.sketch_matvecs = 0, 0
    return z, res, info


def dense_fallback(op, B, alphas, exc):
    """Direct solves when the (held) kernel matrix is indefinite, as ``KernelRidge`` would do."""
    warnings.warn(f"the kernel matrix is not positive semidefinite ({exc}), so CG does not apply: "
                  "solved by a dense factorization instead", LinAlgWarning, stacklevel=4)
    xp, n, s = op.xp, op.shape[0], op.sqrt_sw
    K = op.K if s is None else op.K * (s[:, None] * s[None, :])  # S½ K S½ from the held kernel
    eye = xp.eye(n, dtype=B.dtype, device=_backend.device_of(B))
    columns = [xp.linalg.solve(K + a * eye, B[:, j]) for j, a in enumerate(alphas)]
    results = [SolveResult(info=0, message="dense solve", iterations=0, matvecs=0, rank=0)
               for _ in alphas]
    return xp.stack(columns, axis=1), results, [0] * len(alphas)
