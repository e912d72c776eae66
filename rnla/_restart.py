"""The state and steps of a thick-restart Lanczos run, for :func:`rnla.eigsh`.

The Lanczos vectors are the rows of one device array; each step costs one product, the
three-term recurrence and one classical Gram-Schmidt pass against the basis (a second one
where Kahan and Parlett's test asks for it). The coefficients come to the host once per
cycle, or every few steps once the basis is past its first-cycle size.
"""

from __future__ import annotations

import numpy as np

from . import _backend
from ._validation import check_real_product
from .lanczos import _breakdown_tol, _nonfinite_error, _safe_norm

__all__ = ["ThickRestart"]


class ThickRestart:
    """State of a thick-restart Lanczos run: the basis (rows), Lanczos coefficients, counters."""

    def __init__(self, op, xp, dtype, device, ncv, rng):
        n = op.shape[0]
        self.op, self.xp, self.dtype, self.device, self.ncv, self.rng = op, xp, dtype, device, ncv, rng
        self.basis = xp.zeros((ncv + 1, n), dtype=dtype, device=device)  # Lanczos vectors as rows
        self.alphas = xp.zeros((ncv,), dtype=dtype, device=device)
        self.theta_kept = np.zeros(0)  # Ritz values of the kept vectors (host)
        self.betas = xp.zeros((ncv,), dtype=dtype, device=device)
        self.cancelled = xp.zeros((ncv,), dtype=dtype, device=device)  # 1 where one pass did not do
        self.full_reorth = False  # two Gram-Schmidt passes at every step from now on
        self.kept = 0  # Ritz vectors at the head of the basis
        self.coupling = np.zeros(0)  # their coupling to the next vector: β·(last row of S)
        self.saw_breakdown = False  # whether any Krylov space so far became invariant
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

    def _grow(self, start, stop):
        """Lanczos steps ``start..stop-1`` on the device; no host synchronisation.

        The first step after a (re)start is orthogonalised against the whole basis twice
        (its couplings to the kept Ritz vectors are not tridiagonal). Every later step
        subtracts its two tridiagonal neighbours first and then makes one classical
        Gram-Schmidt pass against the basis: what that pass removes is rounding, so by
        Kahan and Parlett's "twice is enough" one pass suffices unless it removes more than
        what remains (``‖c‖ > β``, cancellation). That test costs no host synchronisation:
        its outcome comes to the host with the coefficients at the end of the cycle, and a
        cycle that failed it is redone from the failing step with two passes per step.
        Two passes per step instead of four halve the reorthogonalisation's memory traffic.
        """
        xp = self.xp
        one = xp.ones((), dtype=self.dtype, device=self.device)
        for i in range(start, stop):
            q = self.basis[i, :]
            w = self.op.matvec(q)
            if w.dtype != self.dtype:
                check_real_product(xp, w, "A")
                w = xp.astype(w, self.dtype)
            if i == start or self.full_reorth:
                w, coef = self._orthogonalize(w, i + 1)
                alpha = coef[i]
                removed = None
            else:
                w = w - self.betas[i - 1] * self.basis[i - 1, :]
                alpha = xp.vecdot(q, w)
                w = w - alpha * q
                Qi = self.basis[: i + 1, :]
                coef = xp.matmul(Qi, w)
                w = w - xp.matmul(xp.matrix_transpose(Qi), coef)
                alpha = alpha + coef[i]
                removed = _safe_norm(xp, coef)
            self.alphas[i] = alpha
            beta = _safe_norm(xp, w)
            self.betas[i] = beta
            self.cancelled[i] = 0.0 if removed is None else xp.astype(removed > beta, self.dtype)
            self.basis[i + 1, :] = w / xp.where(beta > 0, beta, one)
        self.matvecs += stop - start

    def expand(self, done=None, chunk=10):
        """Grow the basis towards ``ncv`` vectors; return Ritz values, vectors (host) and residuals.

        Past the first cycle's size (SciPy's ``ncv``), the coefficients come to the host every
        ``chunk`` steps and the cycle ends early once ``done(theta, residuals)`` holds: the
        Krylov relation holds at every basis size, so the last cycle stops when the wanted
        pairs have converged rather than at ``ncv`` (one transfer per ``chunk`` products).

        A breakdown (zero residual: the basis spans an invariant subspace) is found when the
        coefficients come to the host; the cycle then continues from a random vector
        orthogonal to the basis, with coupling zero, as ARPACK does. The products made after
        the breakdown are repeated, which only costs in that rare case.
        """
        p = self.kept
        start = verified = p  # betas below `verified` are known not to be breakdowns

        def checkpoint(after):
            if self.ncv <= self.first_size or done is None:
                return self.ncv
            return min(self.ncv, max(after + chunk, self.first_size))

        stop = checkpoint(p)
        while True:
            with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf is reported just below
                self._grow(start, stop)
            coefficients = self.xp.stack([self.alphas[:stop], self.betas[:stop], self.cancelled[:stop]])
            alphas, betas, cancelled = _backend.to_numpy(coefficients).astype(np.float64)
            if not (np.all(np.isfinite(alphas)) and np.all(np.isfinite(betas))):
                raise _nonfinite_error()
            bad = np.flatnonzero(cancelled[start:] > 0)
            if bad.size:
                # One Gram-Schmidt pass was not enough: redo from that step with two per step.
                self.full_reorth = True
                start += int(bad[0])
                continue
            H = self._projected(alphas, betas)
            self.anorm = max(self.anorm, float(np.max(np.sum(np.abs(H), axis=0))), float(betas[-1]))
            small = np.flatnonzero(betas[verified: stop - 1] <= self.bd_tol * self.anorm)
            if small.size:
                i = verified + int(small[0])
                self.betas[i] = 0.0  # no coupling to the random vector that follows
                self.basis[i + 1, :] = self._random_orthogonal(i + 1)
                self.saw_breakdown = True
                start = verified = i + 1
                continue
            verified = stop - 1
            theta, S = np.linalg.eigh(H)
            beta_last = betas[-1]
            broken = beta_last <= self.bd_tol * self.anorm
            resid = np.abs((0.0 if broken else beta_last) * S[-1, :])
            if stop == self.ncv or broken or done(theta, resid):
                break
            start, stop = stop, checkpoint(stop)
        self.beta_last = 0.0 if broken else beta_last
        self.broken = broken
        self.saw_breakdown = self.saw_breakdown or broken
        return theta, S, resid

    def _projected(self, alphas, betas):
        """``H = VᵀAV`` in thick-restart form: the kept Ritz values with their arrow coupling
        to vector ``p``, then the tridiagonal of the Lanczos steps since.

        The entries this structure says are zero are set to zero, not taken from the
        Gram-Schmidt coefficients (which are zero only up to rounding); the coupling is the
        one known from the last cycle, since recomputed it would stall convergence at
        rounding level (``eps·‖A‖``).
        """
        p, m = self.kept, alphas.shape[0]
        H = np.zeros((m, m))
        idx = np.arange(m)
        H[idx[:p], idx[:p]] = self.theta_kept
        H[idx[p:], idx[p:]] = alphas[p:]
        off = betas[p: m - 1]
        H[idx[p: m - 1], idx[p + 1:]] = off
        H[idx[p + 1:], idx[p: m - 1]] = off
        H[:p, p] = H[p, :p] = self.coupling
        return H

    def restart(self, theta, S, keep, random=False):
        """Restart from the Ritz vectors ``keep`` plus the residual, or a fresh random vector.

        The random vector replaces the residual after a breakdown (the residual is zero), or
        on request (``random``) to probe the complement of the kept vectors.
        """
        xp = self.xp
        p = len(keep)
        Sk = _backend.from_numpy(xp, S[:, keep], dtype=self.dtype, device=self.device)
        m = S.shape[0]  # the basis size of the cycle just finished
        ritz = xp.matmul(xp.matrix_transpose(Sk), self.basis[:m, :])  # (p, n)
        residual = self.basis[m, :]
        self.basis[:p, :] = ritz
        fresh = self.broken or random
        self.basis[p, :] = self._random_orthogonal(p) if fresh else residual
        self.coupling = np.zeros(p) if fresh else self.beta_last * S[-1, keep]
        self.theta_kept = theta[keep]
        self.kept = p
