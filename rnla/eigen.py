"""Extreme eigenpairs of a symmetric operator from products: thick-restart Lanczos.

:func:`eigsh` mirrors :func:`scipy.sparse.linalg.eigsh` for symmetric operators on any
backend. The Lanczos basis and the projected matrix stay on the device during a restart
cycle; once per cycle the small projected matrix comes to the host for its eigensolve.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence

from . import _backend
from ._validation import check_nonnegative, check_positive_int
from .lanczos import _breakdown_tol, _start_block
from .operators import as_operator

__all__ = ["EigshNoConvergence", "eigsh"]

WHICH = ("LA", "SA", "LM", "BE")


class EigshNoConvergence(ArpackNoConvergence):
    """Raised by :func:`eigsh` when ``maxiter`` restarts do not converge.

    A subclass of SciPy's :class:`~scipy.sparse.linalg.ArpackNoConvergence`, so code written
    for SciPy catches it; ``eigenvalues`` and ``eigenvectors`` hold the pairs that converged.
    """


def _wanted_counts(k, which, num_small):
    """How many eigenvalues come from the low and the high end of the spectrum."""
    if which == "BE":
        low = k // 2 if num_small is None else num_small
        return low, k - low
    if num_small is not None:
        raise ValueError("num_small is only used with which='BE'")
    return (k, 0) if which == "SA" else (0, k)


def _ranking(theta, which, low, high):
    """Indices of the Ritz values ``theta`` (ascending) from most to least wanted."""
    m = theta.shape[0]
    if which == "LM":
        return np.argsort(-np.abs(theta), kind="stable")
    if which == "LA":
        return np.arange(m)[::-1]
    if which == "SA":
        return np.arange(m)
    # Both ends: the wanted ones first, then the rest alternately from the top and bottom.
    low = min(low, m)
    high = min(high, m - low)
    order = list(range(m - 1, m - 1 - high, -1)) + list(range(low))
    lo, hi = low, m - 1 - high
    take_high = True
    while lo <= hi:
        if take_high:
            order.append(hi)
            hi -= 1
        else:
            order.append(lo)
            lo += 1
        take_high = not take_high
    return np.asarray(order)


def eigsh(A, k=6, *, which="LA", v0=None, ncv=None, maxiter=None, tol=0.0, return_eigenvectors=True,
          num_small=None, random_state=None):
    """Find ``k`` extreme eigenvalues and eigenvectors of a symmetric operator.

    Thick-restart Lanczos (Wu and Simon 2000, equivalent to ARPACK's implicit restarts)
    with full reorthogonalisation by classical Gram-Schmidt run twice. Each cycle grows the
    basis to ``ncv`` vectors, solves the projected eigenproblem, and restarts from the
    most wanted Ritz vectors plus the residual. A Ritz pair ``(θ, y)`` has converged when
    its residual ``‖A y − θ y‖`` (read off the projected problem) is at most
    ``tol · max(|θ|, eps^(2/3)·‖A‖)`` (ARPACK's rule, made scale-free) or at most
    ``eps·‖A‖``, the attainable accuracy of any eigensolver in floating point. If the Krylov space becomes
    invariant, the process restarts from a random vector orthogonal to the kept ones, so
    missing copies of repeated eigenvalues are still found.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric ``n × n`` operator.
    k : int, default 6
        Number of eigenpairs, ``1 <= k < n``.
    which : {'LA', 'SA', 'LM', 'BE'}, default 'LA'
        Largest algebraic, smallest algebraic, largest magnitude, or both ends: ``num_small``
        from the bottom and the rest from the top (SciPy's 'BE' split, ``k // 2`` from the
        bottom, by default).
    v0 : array, shape ``(n,)``, optional
        Start vector (random Gaussian by default). Its namespace and device decide where a
        callable operator is applied.
    ncv : int, optional
        Basis size, ``k < ncv <= n``; default ``min(n, max(2k + 1, 20))`` as SciPy.
    maxiter : int, optional
        Maximum number of restart cycles, default ``10 n``.
    tol : float, default 0
        Relative residual tolerance; 0 means machine precision.
    return_eigenvectors : bool, default True
        Also return the eigenvectors.
    num_small : int, optional
        With ``which='BE'``: how many of the ``k`` come from the small end.
    random_state : None, int or numpy.random.Generator
        Seed of the default start vector and of restart vectors.

    Returns
    -------
    w : array, shape ``(k,)``
        Eigenvalues in ascending order, on the operator's backend, in its precision.
    V : array, shape ``(n, k)``
        Orthonormal eigenvectors, column ``i`` for ``w[i]`` (if ``return_eigenvectors``).

    Raises
    ------
    EigshNoConvergence
        If ``maxiter`` cycles do not converge (a subclass of SciPy's ``ArpackNoConvergence``
        carrying the converged pairs).
    ValueError
        For ``k >= n``, a bad ``ncv``, an unknown ``which``, a non-symmetric matrix or NaN.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(np.arange(1.0, 101.0))
    >>> w, V = eigsh(A, k=3, random_state=0)
    >>> np.round(w, 10)
    array([ 98.,  99., 100.])
    >>> w = eigsh(A, k=4, which="BE", return_eigenvectors=False, random_state=0)
    >>> np.round(w, 10)
    array([  1.,   2.,  99., 100.])
    """
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    if n < 2:
        raise ValueError("A must be at least 2 × 2 (eigsh needs k < n)")
    k = check_positive_int(k, "k")
    if k >= n:
        raise ValueError(f"k must be smaller than the dimension of A ({n}), got k={k}")
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    if num_small is not None:
        num_small = int(num_small)
        if not 0 <= num_small <= k:
            raise ValueError(f"num_small must be between 0 and k={k}, got {num_small}")
    low, high = _wanted_counts(k, which, num_small)
    if ncv is None:
        ncv = min(n, max(2 * k + 1, 20))
    ncv = check_positive_int(ncv, "ncv", upper=n, upper_name="the dimension of A")
    if ncv <= k:
        raise ValueError(f"ncv must be larger than k={k}, got ncv={ncv}")
    maxiter = 10 * n if maxiter is None else check_positive_int(maxiter, "maxiter")
    tol = check_nonnegative(tol, "tol")
    rng = _backend.check_random_state(random_state)
    if v0 is not None and getattr(v0, "ndim", None) != 1:
        raise ValueError(f"v0 must be a 1-D array of length {n}")
    xp, dtype, device, q0, _ = _start_block(op, v0, rng)

    solver = _ThickRestart(op, xp, dtype, device, ncv, rng)
    eps = float(xp.finfo(dtype).eps)
    tol = tol if tol > 0 else eps
    solver.start(q0[:, 0])
    for cycle in range(maxiter):
        theta, S, resid = solver.expand()
        order = _ranking(theta, which, low, high)
        wanted = order[:k]
        floor = eps ** (2.0 / 3.0) * solver.anorm
        bound = np.maximum(tol * np.maximum(np.abs(theta[wanted]), floor), eps * solver.anorm)
        converged = resid[wanted] <= bound
        if bool(np.all(converged)) and _complement_checked(solver, theta, which, low, high, eps):
            return _finish(solver, theta, S, wanted, return_eigenvectors)
        if cycle == maxiter - 1:
            break
        solver.restart(theta, S, order[: _keep_count(k, ncv, theta.shape[0], int(converged.sum()))])
    good = wanted[converged]
    w, V = _finish(solver, theta, S, good, True)
    raise EigshNoConvergence(
        f"eigsh: {good.size} of {k} eigenpairs converged in {maxiter} restarts "
        f"({solver.matvecs} products); raise maxiter or ncv, or loosen tol", w, V)


def _complement_checked(solver, theta, which, low, high, eps):
    """After random restarts, whether the last one found nothing better than the wanted set.

    A random start after a breakdown explores the orthogonal complement of the invariant
    subspace found so far; run to its own breakdown, its Ritz values are exact eigenvalues
    of that complement. If one of them still beats the worst wanted value, further copies
    of wanted eigenvalues (or new ones) may remain, and the run must go on.
    """
    if not solver.random_starts:
        return True
    vals = solver.probe_eigenvalues
    if vals is None:  # the last random start has not run to a breakdown yet
        return False
    slack = 1e3 * eps * solver.anorm
    if which == "LM":  # theta is ascending; the wanted are the k = high largest |θ|
        return float(np.max(np.abs(vals))) <= float(np.sort(np.abs(theta))[-high]) + slack
    top_ok = high == 0 or float(np.max(vals)) <= float(theta[-high]) + slack
    bottom_ok = low == 0 or float(np.min(vals)) >= float(theta[low - 1]) - slack
    return top_ok and bottom_ok


def _keep_count(k, ncv, m, nconv):
    """Ritz vectors kept at a restart: the wanted ``k`` plus a buffer, as ARPACK adjusts it."""
    # ARPACK's k + min(nconv, (ncv - k) / 2) plus a small buffer of unwanted Ritz vectors,
    # which saved products on the sparse and dense test spectra of benchmarks/spectrum.py.
    keep = k + min(nconv, (ncv - k) // 2) + (ncv - k) // 6
    return max(1, min(keep, m, ncv - 1))


def _finish(solver, theta, S, idx, vectors):
    idx = np.asarray(idx)[np.argsort(theta[idx], kind="stable")]
    xp = solver.xp
    w = _backend.from_numpy(xp, theta[idx], dtype=solver.dtype, device=solver.device)
    if not vectors:
        return w
    m = S.shape[0]
    Sk = _backend.from_numpy(xp, S[:, idx], dtype=solver.dtype, device=solver.device)
    V = xp.matmul(xp.matrix_transpose(solver.basis[:m, :]), Sk)
    return w, V


class _ThickRestart:
    """State of a thick-restart Lanczos run: the basis (rows), projected matrix, counters."""

    def __init__(self, op, xp, dtype, device, ncv, rng):
        n = op.shape[0]
        self.op, self.xp, self.dtype, self.device, self.ncv, self.rng = op, xp, dtype, device, ncv, rng
        self.basis = xp.zeros((ncv + 1, n), dtype=dtype, device=device)  # Lanczos vectors as rows
        self.H = xp.zeros((ncv, ncv), dtype=dtype, device=device)
        self.betas = xp.zeros((ncv,), dtype=dtype, device=device)
        self.kept = 0  # Ritz vectors at the head of the basis
        self.coupling = np.zeros(0)  # their coupling to the next vector: β·(last row of S)
        self.restarted_randomly = False  # whether the vector after the kept ones is random
        self.random_starts, self.probe_eigenvalues = [], None
        self.anorm = 0.0
        self.matvecs = 0
        self.bd_tol = _breakdown_tol(n, dtype, xp)

    def start(self, q):
        self.basis[0, :] = q
        self.kept = 0

    def _orthogonalize(self, w, j):
        """Project ``w`` off basis rows ``0..j-1`` twice; return ``w`` and the coefficients."""
        xp = self.xp
        Qj = self.basis[:j, :]
        coef = xp.matmul(Qj, w)
        w = w - xp.matmul(xp.matrix_transpose(Qj), coef)
        coef2 = xp.matmul(Qj, w)
        return w - xp.matmul(xp.matrix_transpose(Qj), coef2), coef + coef2

    def _random_orthogonal(self, j):
        """A random unit vector orthogonal to basis rows ``0..j-1``."""
        xp = self.xp
        g = _backend.random_normal(xp, (self.op.shape[0],), dtype=self.dtype, device=self.device,
                                   random_state=self.rng)
        g, _ = self._orthogonalize(g, j)
        return g / xp.linalg.vector_norm(g)

    def _grow(self, start):
        """Lanczos steps ``start..ncv-1`` on the device; no host synchronisation."""
        xp = self.xp
        one = xp.ones((), dtype=self.dtype, device=self.device)
        for i in range(start, self.ncv):
            w = self.op.matvec(self.basis[i, :])
            if w.dtype != self.dtype:
                w = xp.astype(w, self.dtype)
            w, coef = self._orthogonalize(w, i + 1)
            self.H[: i + 1, i] = coef
            beta = xp.linalg.vector_norm(w)
            self.betas[i] = beta
            self.basis[i + 1, :] = w / xp.where(beta > 0, beta, one)
        self.matvecs += self.ncv - start

    def expand(self):
        """Grow the basis to ``ncv`` vectors; return Ritz values, vectors (host) and residuals.

        A breakdown (zero residual: the basis spans an invariant subspace) is found when the
        coefficients come to the host at the end of the cycle; the cycle then continues from
        a random vector orthogonal to the basis, with coupling zero, as ARPACK does. The
        products made after the breakdown are repeated, which only costs in that rare case.
        """
        p = self.kept
        start, breaks = p, []
        starts = [p] if self.restarted_randomly else []
        while True:
            self._grow(start)
            # One transfer per cycle: the small projected matrix and the residual norms.
            H = _backend.to_numpy(self.H).astype(np.float64)
            betas = _backend.to_numpy(self.betas).astype(np.float64)
            self.anorm = max(self.anorm, float(np.max(np.sum(np.abs(H), axis=0))), float(betas.max()))
            small = np.flatnonzero(betas[start: self.ncv - 1] <= self.bd_tol * self.anorm)
            if small.size == 0:
                break
            i = start + int(small[0])
            breaks.append(i)
            self.betas[i] = 0.0
            self.basis[i + 1, :] = self._random_orthogonal(i + 1)
            start = i + 1
        for i in breaks:  # the new vector is orthogonal to an invariant subspace: no coupling
            H[: i + 1, i + 1] = 0.0
        if p:
            # The arrow coupling of the kept Ritz vectors is known exactly from the last cycle;
            # recomputed by inner products it would stall at rounding level (eps·‖A‖).
            H[:p, p] = self.coupling
        H = np.triu(H) + np.triu(H, 1).T
        theta, S = np.linalg.eigh(H)
        self.beta_last = betas[-1]
        self.broken = self.beta_last <= self.bd_tol * self.anorm
        if self.broken:
            self.beta_last = 0.0
        # Blocks that began at a random vector and ended in a breakdown are decoupled from
        # the rest of H; the eigenvalues of the last one describe the unexplored complement.
        starts += [i + 1 for i in breaks]
        ends = [*breaks, self.ncv - 1] if self.broken else breaks
        self.random_starts = starts
        self.probe_eigenvalues = None
        for s in reversed(starts):
            e = next((e for e in ends if e >= s), None)
            if e is not None:
                self.probe_eigenvalues = np.linalg.eigvalsh(H[s: e + 1, s: e + 1])
                break
        return theta, S, np.abs(self.beta_last * S[-1, :])

    def restart(self, theta, S, keep):
        """Restart from the Ritz vectors ``keep`` plus the residual (or a fresh random vector)."""
        xp = self.xp
        p = len(keep)
        Sk = _backend.from_numpy(xp, S[:, keep], dtype=self.dtype, device=self.device)
        ritz = xp.matmul(xp.matrix_transpose(Sk), self.basis[: self.ncv, :])  # (p, n)
        residual = self.basis[self.ncv, :]
        self.basis[:p, :] = ritz
        self.basis[p, :] = self._random_orthogonal(p) if self.broken else residual
        self.restarted_randomly = self.broken
        self.coupling = self.beta_last * S[-1, keep]
        H = np.zeros((self.ncv, self.ncv))
        H[np.arange(p), np.arange(p)] = theta[keep]
        self.H = _backend.from_numpy(xp, H, dtype=self.dtype, device=self.device)
        self.kept = p
