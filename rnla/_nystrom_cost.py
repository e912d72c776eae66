"""Cost model of the adaptive Nyström preconditioner (``adaptive_nystrom(..., stop='cost')``).

Two decisions, both from the sketched spectrum ``λ̂_1 ≥ … ≥ λ̂_k > 0``:

- growing (deterministic, spectrum only): a doubling is refused when it is predicted to cut
  CG's iterations by less than ``MIN_GAIN``: the decay between ``λ̂_{k/2}`` and ``λ̂_k``
  gives a power law ``λ_i ∝ i^{-p}``, so ``λ̂_{2k} ≈ 2^{-p} λ̂_k`` and the iterations scale
  by ``√((λ̂_{2k} + μ)/(λ̂_k + μ))``. A flat spectrum (a 2-D Poisson matrix, ``p ≈ 0``)
  stops at the first sketch whatever ``μ``; a decaying one (ridge, ``p ≈ 2``) grows as the
  ``λ̂_ℓ ≤ tol·μ`` rule says.
- keeping the preconditioner at all (measured costs): with it CG needs about
  ``r = √((λ̂_k + μ)/(λ̂_1 + μ))`` times the iterations of plain CG, each dearer by one
  ``O(nk)`` application. It is dropped (rank 0: plain CG) when ``r > MAX_RATIO`` or
  ``r · (t_iter + t_apply) ≥ t_iter``, with ``t_iter`` one CG iteration (one column of the
  measured block product, the vector operations and :data:`CG_OVERHEAD`) and ``t_apply`` one
  timed application of an ``n × k`` projector. Only borderline spectra (``r`` near
  ``t_iter/(t_iter + t_apply)``) can decide differently from run to run.
"""

from __future__ import annotations

import math
import time

from . import _backend

#: Python overhead of one rnla.pcg iteration beyond its products and vector operations
#: (seconds; measured about 20 µs per iteration on small problems).
CG_OVERHEAD = 20e-6

#: The preconditioner is kept only if it is predicted to cut the iterations at least by this
#: factor (``λ̂_1/λ̂_k ≥ 4``): on a flat spectrum the sketched ``λ̂_k`` falls far below ``λ_k``,
#: so a smaller predicted gain is mostly that underestimate.
MAX_RATIO = 0.5

#: A doubling must be predicted to cut the iterations by at least this fraction.
MIN_GAIN = 0.1


class CostModel:
    """Measured costs of one adaptive sketch (seconds) and the two decisions."""

    def __init__(self, mu: float):
        self.mu = mu
        self.t_column = None  # one column of a block product
        self.t_apply = None  # one application of the rank-k preconditioner
        self.t_base = None  # the vector operations and overhead of one CG iteration

    def products(self, op, block):
        """``A @ block`` (one block product), timing the cost per column."""
        t0 = time.perf_counter()
        out = op.matmat(block)
        _synchronize(out)
        self.t_column = (time.perf_counter() - t0) / block.shape[1]
        return out

    def projector(self, Omega):
        """Time ``v + Ω (Ωᵀ v)``, one preconditioner application's work (best of 3)."""
        xp = _backend.array_namespace(Omega)
        v = Omega[:, 0]
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            w = v + Omega @ (Omega.T @ v)
            _synchronize(w)
            best = min(best, time.perf_counter() - t0)
        self.t_apply = best
        if self.t_base is None:
            # What pcg does per iteration besides the products: 3 updates, 2 dot products.
            best = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                x = v + 0.5 * w
                r = w - 0.5 * v
                p = r + 0.5 * x
                _backend.to_float(xp.vecdot(r, r)) + _backend.to_float(xp.vecdot(p, w))
                best = min(best, time.perf_counter() - t0)
            self.t_base = best + CG_OVERHEAD

    def keep(self, lam) -> bool:
        """Whether the preconditioner from ``lam`` (positive, descending) beats plain CG."""
        k = lam.shape[0]
        if k == 0:
            return False
        first, last = _backend.to_float(lam[0]), _backend.to_float(lam[k - 1])
        ratio = math.sqrt((last + self.mu) / (first + self.mu))
        if ratio > MAX_RATIO:
            return False  # λ̂_k is a poor (low) estimate on flat spectra: demand a clear gain
        plain = self.t_column + self.t_base
        return ratio * (plain + self.t_apply) < plain


def _synchronize(x):
    """Wait for the GPU (CuPy) so the timings are the work's, not its launch's."""
    if _backend.is_cupy_namespace(_backend.array_namespace(x)):
        import cupy

        cupy.cuda.get_current_stream().synchronize()


def doubling_gains(lam, mu: float) -> bool:
    """Whether doubling the sketch of spectrum ``lam`` (positive, descending) is predicted to
    cut CG's iterations by at least :data:`MIN_GAIN` (``True`` with fewer than 4 values)."""
    k = lam.shape[0]
    if k < 4:
        return True
    last = _backend.to_float(lam[k - 1])
    high = _backend.to_float(lam[k // 2 - 1])
    p = math.log2(high / last) / math.log2(k / (k // 2))
    factor = math.sqrt((last * 2.0 ** (-p) + mu) / (last + mu))
    return factor <= 1.0 - MIN_GAIN
